//! The C ABI: pointers, UTF-8, panics and status codes. No business logic lives here.
//!
//! Conventions (rustls-ffi): every fallible function returns `pmp_status`; outputs are written
//! only on success; inputs are UTF-8 pointer + length; output strings are NUL-terminated UTF-8
//! freed with `pmp_string_free`; no panic crosses the boundary. After a failure,
//! `pmp_last_error` on the same thread returns a JSON error document; every fallible call
//! clears it first.
#![allow(non_camel_case_types)]

mod client;
mod last_error;
mod log;
mod panic;
mod signer;
mod status;
mod strings;

pub use client::pmp_client;
pub use log::{
    PMP_LOG_LEVEL_DEBUG, PMP_LOG_LEVEL_ERROR, PMP_LOG_LEVEL_INFO, PMP_LOG_LEVEL_WARN,
    pmp_log_callback, pmp_log_params,
};
pub use signer::{
    PMP_SIGN_ALGORITHM_PS256, PMP_SIGN_ALGORITHM_RS256, pmp_sign_callback, pmp_sign_params,
};
pub use status::pmp_status;

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use crate::client::Client;
use crate::config::{Config, MAX_CONFIG_BYTES};
use crate::error::{Error, Status};
use crate::mail::model::MAX_MESSAGE_BYTES;
use crate::permission::PermissionOptions;
use panic::ffi_boundary;

/// Records a failure as the last error and returns its status.
fn finish(result: Result<(), Error>) -> pmp_status {
    match result {
        Ok(()) => pmp_status::Ok,
        Err(e) => {
            last_error::set(&e);
            e.status.into()
        }
    }
}

/// The body of every fallible export: clears this thread's last error, runs `call`, records
/// its failure.
fn run(call: impl FnOnce() -> Result<(), Error>) -> pmp_status {
    last_error::clear();
    finish(call())
}

/// `pmp_client_new*`: checks `client_out`, parses the config, lets `build` make the client and
/// hands out the handle.
///
/// # Safety
/// `config_json` must be valid for reads of `config_len` bytes; `client_out` NULL or writable.
unsafe fn create_client(
    config_json: *const u8,
    config_len: usize,
    client_out: *mut *mut pmp_client,
    build: impl FnOnce(Config) -> Result<Client, Error>,
) -> Result<(), Error> {
    client::require_out(client_out, "client_out")?;
    // SAFETY: the caller guarantees config_len readable bytes at config_json.
    let text =
        unsafe { strings::input_str(config_json, config_len, "config_json", MAX_CONFIG_BYTES) }?;
    let client = build(Config::from_json(text)?)?;
    // SAFETY: client_out was checked non-NULL and is writable per the contract.
    unsafe { *client_out = client::into_handle(client) };
    Ok(())
}

/// The exports that take a client and hand back one JSON string: checks the handle and the
/// output pointer, runs `call`, writes its result.
///
/// # Safety
/// `client` must be NULL or a live handle; `out` NULL or writable.
unsafe fn client_call(
    client: *const pmp_client,
    out: *mut *mut c_char,
    out_name: &str,
    call: impl FnOnce(&Client) -> Result<String, Error>,
) -> pmp_status {
    run(|| {
        // SAFETY: the caller passes a live handle or NULL (checked).
        let client = unsafe { client::borrow(client) }?;
        client::require_out(out, out_name)?;
        let json = call(client)?;
        // SAFETY: out was checked non-NULL.
        unsafe { client::write_string(out, json) };
        Ok(())
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("cannot serialise the result ({e})")))
}

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

/// Creates a client from a config document (UTF-8 JSON, at most 1 MiB; see docs/contracts.md
/// section 2). Validates the config and loads the credential; no network I/O.
///
/// On success `*client_out` receives a new handle the caller owns and must release with
/// `pmp_client_free`. On failure `*client_out` is untouched and `pmp_last_error` explains.
///
/// # Safety
/// `config_json` must be valid for reads of `config_len` bytes; `client_out` must be NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_client_new(
    config_json: *const u8,
    config_len: usize,
    client_out: *mut *mut pmp_client,
) -> pmp_status {
    ffi_boundary! {
        // SAFETY: forwarded contract.
        run(|| unsafe { create_client(config_json, config_len, client_out, Client::new) })
    }
}

/// Creates a client whose client assertions the host signs (certificate in the Windows store,
/// non-exportable key, HSM). `config.auth` must be `{"type":"signer"}` or omitted.
///
/// `cert_der` (`cert_der_len` bytes) is the DER certificate registered on the app; it is copied.
/// `sign` is called on library threads, possibly concurrently, whenever a token is needed;
/// `userdata` is passed back to it and must stay valid until the client is freed.
///
/// On success `*client_out` receives a new handle (release with `pmp_client_free`).
///
/// # Safety
/// Pointers must be valid for the given lengths; `client_out` must be NULL or writable;
/// `sign` must follow the `pmp_sign_callback` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_client_new_with_signer(
    config_json: *const u8,
    config_len: usize,
    cert_der: *const u8,
    cert_der_len: usize,
    sign: pmp_sign_callback,
    userdata: *mut c_void,
    client_out: *mut *mut pmp_client,
) -> pmp_status {
    ffi_boundary! {
        run(|| {
            client::require_out(client_out, "client_out")?;
            let sign = sign.ok_or_else(|| Error::new(Status::NullParameter, "sign is NULL"))?;
            if cert_der.is_null() {
                return Err(Error::new(Status::NullParameter, "cert_der is NULL"));
            }
            // SAFETY: non-NULL, and the caller guarantees cert_der_len readable bytes.
            let cert = unsafe { std::slice::from_raw_parts(cert_der, cert_der_len) };
            let signer = Arc::new(signer::CallbackSigner::new(sign, userdata));
            // SAFETY: forwarded contract.
            unsafe {
                create_client(config_json, config_len, client_out, |config| {
                    Client::with_signer(config, cert, signer)
                })
            }
        })
    }
}

/// Releases a client. Calling with NULL is fine. Must not be called twice with the same value,
/// nor while another thread is still using the client.
///
/// # Safety
/// `client` must be NULL or a handle from `pmp_client_new*` that is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_client_free(client: *mut pmp_client) {
    ffi_boundary! {
        // SAFETY: forwarded contract: NULL or a live handle freed once.
        unsafe { client::free(client) }
    }
}

/// Authenticates and reports the app's mail permissions (docs/contracts.md section 3).
///
/// `options_json` may be NULL with `options_len` 0 for defaults. Returns `PMP_STATUS_OK` with
/// `"authenticated": false` and an `error` member when Entra ID rejects the credentials; a
/// non-OK status only for bad input, network failures and the like.
///
/// On success `*report_out` receives a JSON string the caller frees with `pmp_string_free`.
/// Blocks the calling thread; safe to call concurrently on one client.
///
/// # Safety
/// `client` must be a live handle; `options_json` valid for `options_len` bytes (or NULL with 0);
/// `report_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_test_permissions(
    client: *const pmp_client,
    options_json: *const u8,
    options_len: usize,
    report_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        let call = |client: &Client| {
            // SAFETY: the caller guarantees options_len readable bytes (or a zero length).
            let text = unsafe { strings::optional_input_str(options_json, options_len, "options_json", MAX_CONFIG_BYTES) }?;
            let options: PermissionOptions = match text {
                None => PermissionOptions::default(),
                Some(t) => serde_json::from_str(t).map_err(|e| {
                    Error::invalid_argument(format!("options document: {}", crate::config::sanitize_serde_error(&e)))
                })?,
            };
            to_json(&client.test_permissions(&options)?)
        };
        // SAFETY: forwarded contract.
        unsafe { client_call(client, report_out, "report_out", call) }
    }
}

/// Sends one message (docs/contracts.md section 4; UTF-8 JSON, at most 256 MiB).
///
/// On success `*result_out` receives the result JSON (free with `pmp_string_free`). On failure
/// nothing is written; `pmp_last_error` holds the error document whose `outcome` says whether
/// the message may nevertheless have been sent (`PMP_STATUS_OUTCOME_UNKNOWN`).
/// Blocks the calling thread; safe to call concurrently on one client.
///
/// # Safety
/// `client` must be a live handle; `message_json` valid for `message_len` bytes; `result_out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_send_mail(
    client: *const pmp_client,
    message_json: *const u8,
    message_len: usize,
    result_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        let call = |client: &Client| {
            // SAFETY: the caller guarantees message_len readable bytes at message_json.
            let text = unsafe { strings::input_str(message_json, message_len, "message_json", MAX_MESSAGE_BYTES) }?;
            to_json(&client.send_mail_json(text)?)
        };
        // SAFETY: forwarded contract.
        unsafe { client_call(client, result_out, "result_out", call) }
    }
}

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
        unsafe { client::write_string(error_out, last_error::get()) };
        pmp_status::Ok
    }
}

/// Frees a string returned by a `pmp_` function. Calling with NULL is fine. Must not be called
/// twice with the same value.
///
/// # Safety
/// `s` must be NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_string_free(s: *mut c_char) {
    ffi_boundary! {
        // SAFETY: forwarded contract.
        unsafe { strings::free_c_string(s) }
    }
}

/// Installs a process-wide log callback (NULL removes it). Messages up to `max_level`
/// (`PMP_LOG_LEVEL_ERROR` 1 .. `PMP_LOG_LEVEL_DEBUG` 4) are delivered, on any library thread,
/// possibly concurrently. Messages never contain secrets, tokens or assertions. `userdata`
/// must stay valid until the callback is replaced or removed.
///
/// # Safety
/// `cb` must follow the `pmp_log_callback` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_set_log_callback(
    cb: pmp_log_callback,
    userdata: *mut c_void,
    max_level: u32,
) -> pmp_status {
    ffi_boundary! {
        run(|| {
            let level = log::level_from(max_level).ok_or_else(|| {
                Error::invalid_argument(format!("max_level {max_level} is not a log level (1 error .. 4 debug)"))
            })?;
            log::install(cb, userdata, level);
            Ok(())
        })
    }
}

/// Test hook: panics inside the boundary so tests can check `PMP_STATUS_PANIC`.
#[cfg(test)]
pub(crate) extern "C" fn pmp_test_panic() -> pmp_status {
    ffi_boundary! {
        if std::hint::black_box(true) {
            panic!("deliberate test panic");
        }
        pmp_status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error_json() -> serde_json::Value {
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: out is a valid local.
        assert_eq!(unsafe { pmp_last_error(&mut out) }, pmp_status::Ok);
        // SAFETY: out was just written by pmp_last_error.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
        // SAFETY: freed once.
        unsafe { pmp_string_free(out) };
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn panic_becomes_status() {
        assert_eq!(pmp_test_panic(), pmp_status::Panic);
        let doc = last_error_json();
        assert_eq!(doc["status"], 13);
        assert!(doc["message"].as_str().unwrap().contains("deliberate"));
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
}
