//! The C ABI: pointers, UTF-8, panics and status codes. No business logic lives here.
#![allow(non_camel_case_types)]

use std::ffi::c_char;

/// The library version as a static NUL-terminated string, e.g. "0.1.0".
///
/// The string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn pmp_version() -> *const c_char {
    // concat! appends the NUL inside the binary's read-only data.
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
