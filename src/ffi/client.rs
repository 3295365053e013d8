//! `pmp_client`: the opaque handle over [`crate::Client`].

use std::ffi::c_char;

use crate::client::Client;
use crate::error::{Error, Status};

/// A client for one app registration in one tenant: its credential, token cache and HTTP
/// connection pool.
///
/// Thread-safe: any number of threads may use one `pmp_client` concurrently (it is an
/// `Arc`-backed immutable handle; the token cache is internally synchronised). Create with
/// `pmp_client_new` or `pmp_client_new_with_signer`, release with `pmp_client_free` after all
/// calls using it have returned.
pub struct pmp_client {
    _private: [u8; 0],
}

pub(crate) fn into_handle(client: Client) -> *mut pmp_client {
    Box::into_raw(Box::new(client)).cast()
}

/// # Safety
/// `handle` must be NULL or a live pointer from `into_handle`.
pub(crate) unsafe fn borrow<'a>(handle: *const pmp_client) -> Result<&'a Client, Error> {
    if handle.is_null() {
        return Err(Error::new(Status::NullParameter, "client is NULL"));
    }
    // SAFETY: non-NULL handles come from into_handle (a Box<Client>) and stay valid until
    // pmp_client_free, which the caller must not call concurrently with this use.
    Ok(unsafe { &*handle.cast::<Client>() })
}

/// # Safety
/// `handle` must be NULL or a pointer from `into_handle` that is not used afterwards.
pub(crate) unsafe fn free(handle: *mut pmp_client) {
    if !handle.is_null() {
        // SAFETY: the pointer came from Box::into_raw in into_handle and is freed once.
        drop(unsafe { Box::from_raw(handle.cast::<Client>()) });
    }
}

/// Checks an output pointer before any work is done.
pub(crate) fn require_out<T>(out: *mut T, name: &str) -> Result<(), Error> {
    if out.is_null() {
        Err(Error::new(Status::NullParameter, format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// # Safety
/// `out` must be a valid, writable pointer (checked non-NULL by `require_out`).
pub(crate) unsafe fn write_string(out: *mut *mut c_char, text: String) {
    // SAFETY: the caller checked `out` and promises it is writable.
    unsafe { *out = super::strings::to_c_string(text) };
}
