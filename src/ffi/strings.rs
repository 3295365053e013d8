//! UTF-8 in (pointer + length), NUL-terminated UTF-8 out (`pmp_string_free`).

use std::ffi::{CString, c_char};

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

/// Hands `text` to C as a NUL-terminated string the caller frees with `pmp_string_free`.
pub(crate) fn to_c_string(text: String) -> *mut c_char {
    // JSON escapes NUL as \u0000, so an interior NUL only comes from a bug; drop it then.
    let c = CString::new(text).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|b| *b != 0);
        CString::new(bytes).unwrap_or_default()
    });
    c.into_raw()
}

/// Frees a string returned by this library.
///
/// # Safety
/// `s` must be NULL or a pointer returned by a `pmp_` function and not yet freed.
pub(crate) unsafe fn free_c_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from CString::into_raw in `to_c_string` and is freed only once.
        drop(unsafe { CString::from_raw(s) });
    }
}
