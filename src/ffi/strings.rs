//! UTF-8 in (pointer + length), NUL-terminated UTF-8 out (`pmp_string_free`), and the checks
//! on output pointers.

use std::ffi::{CString, c_char};

use super::panic::ffi_boundary;
use crate::error::{Error, Status};

/// Borrows `len` bytes at `ptr` as UTF-8 text no longer than `limit`.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes for the lifetime `'a`.
pub(crate) unsafe fn input_str<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
    limit: usize,
) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::new(Status::NullParameter, format!("{what} is NULL")));
    }
    if len > limit {
        return Err(Error::invalid_argument(format!(
            "{what} is {len} bytes; the limit is {limit}"
        )));
    }
    // SAFETY: non-NULL, and the caller promises `len` readable bytes that outlive 'a.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid_argument(format!(
            "{what} is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

/// Like [`input_str`], but `(NULL, 0)` and `(ptr, 0)` mean "not given".
///
/// # Safety
/// As for [`input_str`].
pub(crate) unsafe fn optional_input_str<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
    limit: usize,
) -> Result<Option<&'a str>, Error> {
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { input_str(ptr, len, what, limit) }.map(Some)
}

/// Checks an output pointer before any work is done.
pub(crate) fn require_out<T>(out: *mut T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        Err(Error::new(Status::NullParameter, format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// Writes `text` to `*out` as a string the caller frees with `pmp_string_free`.
///
/// # Safety
/// `out` must be a valid, writable pointer (checked non-NULL by `require_out`).
pub(crate) unsafe fn write_string(out: *mut *mut c_char, text: String) {
    // SAFETY: the caller checked `out` and promises it is writable.
    unsafe { *out = to_c_string(text) };
}

/// Hands `text` to C as a NUL-terminated string the caller frees with `pmp_string_free`.
fn to_c_string(text: String) -> *mut c_char {
    // JSON escapes NUL as \u0000, so an interior NUL only comes from a bug; drop it then.
    let c = CString::new(text).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|b| *b != 0);
        CString::new(bytes).unwrap_or_default()
    });
    c.into_raw()
}

/// Frees a string returned by a `pmp_` function. Calling with NULL is fine. Must not be called
/// twice with the same value.
///
/// # Safety
/// `s` must be NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_string_free(s: *mut c_char) {
    ffi_boundary! {
        if !s.is_null() {
            // SAFETY: `s` came from CString::into_raw in `to_c_string` and is freed only once
            // (the caller's contract).
            drop(unsafe { CString::from_raw(s) });
        }
    }
}
