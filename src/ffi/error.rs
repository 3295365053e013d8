//! The error channel's exports: `pmp_last_error` (this thread's last error document, kept in
//! [`super::last_error`]) and `pmp_status_name`.

use std::ffi::c_char;

use super::last_error;
use super::panic::ffi_boundary;
use super::status::pmp_status;
use super::strings;
use crate::error::Status;

/// This thread's last error document (docs/contracts.md section 5), or `null` when the last
/// fallible call on this thread succeeded. The caller frees `*error_out` with `pmp_string_free`.
/// Does not clear the stored error.
///
/// # Safety
/// `error_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_last_error(error_out: *mut *mut c_char) -> pmp_status {
    ffi_boundary! {
        if error_out.is_null() {
            return pmp_status::NullParameter;
        }
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { strings::write_string(error_out, last_error::get()) };
        pmp_status::Ok
    }
}

/// The C name of a status, e.g. "PMP_STATUS_THROTTLED"; "PMP_STATUS_UNKNOWN" for numbers this
/// version does not know.
///
/// The string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn pmp_status_name(status: u32) -> *const c_char {
    ffi_boundary! {
        let name = Status::from_code(status).map_or(c"PMP_STATUS_UNKNOWN", Status::c_name);
        name.as_ptr()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::ffi::CStr;

    /// This thread's last error document, parsed.
    pub(crate) fn last_error_json() -> serde_json::Value {
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: out is a valid local.
        assert_eq!(unsafe { pmp_last_error(&mut out) }, pmp_status::Ok);
        // SAFETY: out was just written by pmp_last_error.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
        // SAFETY: freed once.
        unsafe { strings::pmp_string_free(out) };
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn status_names() {
        // SAFETY: static strings.
        let name = unsafe { CStr::from_ptr(pmp_status_name(7)) };
        assert_eq!(name.to_str().unwrap(), "PMP_STATUS_THROTTLED");
        // SAFETY: static strings.
        let name = unsafe { CStr::from_ptr(pmp_status_name(99)) };
        assert_eq!(name.to_str().unwrap(), "PMP_STATUS_UNKNOWN");
    }

    #[test]
    fn last_error_is_null_after_a_success() {
        last_error::clear();
        assert_eq!(last_error_json(), serde_json::Value::Null);
        last_error::set(&crate::error::Error::config("bad"));
        assert_eq!(last_error_json()["status"], 3);
    }
}
