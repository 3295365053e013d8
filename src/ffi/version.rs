//! `pmp_version`.

use std::ffi::c_char;

use super::panic::ffi_boundary;

/// The library version as a static NUL-terminated string, e.g. "0.1.0".
///
/// The string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn pmp_version() -> *const c_char {
    ffi_boundary! {
        // concat! appends the NUL inside the binary's read-only data.
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(pmp_version()) };
        assert_eq!(version.to_str().unwrap(), crate::version());
    }
}
