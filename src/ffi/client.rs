//! `pmp_client`: the opaque handle over [`crate::Client`], its constructors and its free, and
//! the frame of every call that takes a client and hands back a JSON string.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::assertion::{CallbackAssertion, pmp_assertion_callback};
use super::call::run;
use super::panic::ffi_boundary;
use super::signer::{CallbackSigner, pmp_sign_callback};
use super::status::pmp_status;
use super::strings::{self, require_out, write_string};
use crate::client::Client;
use crate::config::{Config, MAX_CONFIG_BYTES};
use crate::error::{Error, Status};

/// A client for one app registration in one tenant: its credential, token cache and HTTP
/// connection pool.
///
/// Thread-safe: any number of threads may use one `pmp_client` concurrently (it is an
/// `Arc`-backed immutable handle; the token cache is internally synchronised). Create with
/// `pmp_client_new`, `pmp_client_new_with_signer` or
/// `pmp_client_new_with_assertion_callback`, release with `pmp_client_free` after all
/// calls using it have returned.
pub struct pmp_client {
    _private: [u8; 0],
}

fn into_handle(client: Client) -> *mut pmp_client {
    Box::into_raw(Box::new(client)).cast()
}

/// # Safety
/// `handle` must be NULL or a live pointer from `into_handle`.
unsafe fn borrow<'a>(handle: *const pmp_client) -> Result<&'a Client, Error> {
    if handle.is_null() {
        return Err(Error::new(Status::NullParameter, "client is NULL"));
    }
    // SAFETY: non-NULL handles come from into_handle (a Box<Client>) and stay valid until
    // pmp_client_free, which the caller must not call concurrently with this use.
    Ok(unsafe { &*handle.cast::<Client>() })
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
    require_out(client_out, "client_out")?;
    // SAFETY: the caller guarantees config_len readable bytes at config_json.
    let text =
        unsafe { strings::input_str(config_json, config_len, "config_json", MAX_CONFIG_BYTES) }?;
    let client = build(Config::from_json(text)?)?;
    // SAFETY: client_out was checked non-NULL and is writable per the contract.
    unsafe { *client_out = into_handle(client) };
    Ok(())
}

/// The exports that take a client and hand back one JSON string (both block on the network):
/// refuses to run inside the log callback, checks the handle and the output pointer, runs
/// `call`, writes its result.
///
/// # Safety
/// `client` must be NULL or a live handle; `out` NULL or writable.
pub(super) unsafe fn client_call(
    client: *const pmp_client,
    out: *mut *mut c_char,
    out_name: &str,
    call: impl FnOnce(&Client) -> Result<String, Error>,
) -> pmp_status {
    run(|| {
        if super::log::inside_log_callback() {
            return Err(Error::invalid_argument(
                "pmp_send_mail and pmp_test_permissions cannot be called from inside the log callback: the call that logged is still running on this thread and may hold what this one needs",
            )
            .with_remedy(
                "Return from the log callback first; queue the work and make the call after the logging call has returned (without making the callback wait for it).",
            ));
        }
        if super::batch::inside_progress_callback() {
            return Err(Error::invalid_argument(
                "calls on a client cannot be made from inside a batch's progress callback: the batch is still running on this thread",
            )
            .with_remedy(
                "Return from the progress callback first; to stop the batch, call pmp_cancel_request from the callback.",
            ));
        }
        // SAFETY: the caller passes a live handle or NULL (checked).
        let client = unsafe { borrow(client) }?;
        require_out(out, out_name)?;
        let json = call(client)?;
        // SAFETY: out was checked non-NULL.
        unsafe { write_string(out, json) };
        Ok(())
    })
}

/// Creates a client from a config document (UTF-8 JSON, at most 1 MiB; see docs/contracts.md
/// section 2). Validates the config and loads the credential; no network I/O. The config's
/// `provider` decides the service: `microsoft365` (default: Microsoft Graph with an Entra ID
/// app) or `googleWorkspace` (the Gmail API with a service account key,
/// `{"type":"serviceAccountKey","keyPath"|"keyJson"}`); every other function works the same for
/// both.
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
/// With `"provider": "googleWorkspace"` the host signs the service account's JWT-bearer
/// assertion (RS256 only) and there is no certificate: `cert_der` may be NULL with length 0 (it
/// is ignored), and `google.serviceAccountEmail` (plus `google.privateKeyId`) names the account.
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
            require_out(client_out, "client_out")?;
            let sign = sign.ok_or_else(|| Error::new(Status::NullParameter, "sign is NULL"))?;
            let cert: &[u8] = if cert_der.is_null() && cert_der_len == 0 {
                // No certificate: only a googleWorkspace config gets past Client::with_signer.
                &[]
            } else if cert_der.is_null() {
                return Err(Error::new(Status::NullParameter, "cert_der is NULL"));
            } else {
                // SAFETY: non-NULL, and the caller guarantees cert_der_len readable bytes.
                unsafe { std::slice::from_raw_parts(cert_der, cert_der_len) }
            };
            let signer = Arc::new(CallbackSigner::new(sign, userdata));
            // SAFETY: forwarded contract.
            unsafe {
                create_client(config_json, config_len, client_out, |config| {
                    Client::with_signer(config, cert, signer)
                })
            }
        })
    }
}

/// Creates a client whose client assertions the host supplies whole: a federated token from a
/// source the library does not read itself (a CI system's OIDC endpoint, a token broker).
/// `config.auth` must be `{"type":"clientAssertion"}` or omitted; `tenant` and `clientId` are
/// required. No network I/O.
///
/// `assertion` is called for every token request, on library threads, possibly concurrently;
/// `userdata` is passed back to it and must stay valid until the client is freed.
///
/// On success `*client_out` receives a new handle (release with `pmp_client_free`).
///
/// # Safety
/// `config_json` must be valid for reads of `config_len` bytes; `client_out` must be NULL or
/// writable; `assertion` must follow the `pmp_assertion_callback` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_client_new_with_assertion_callback(
    config_json: *const u8,
    config_len: usize,
    assertion: pmp_assertion_callback,
    userdata: *mut c_void,
    client_out: *mut *mut pmp_client,
) -> pmp_status {
    ffi_boundary! {
        run(|| {
            require_out(client_out, "client_out")?;
            let assertion =
                assertion.ok_or_else(|| Error::new(Status::NullParameter, "assertion is NULL"))?;
            let provider = Arc::new(CallbackAssertion::new(assertion, userdata));
            // SAFETY: forwarded contract.
            unsafe {
                create_client(config_json, config_len, client_out, |config| {
                    Client::with_assertion_provider(config, provider)
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
        if !client.is_null() {
            // SAFETY: the pointer came from Box::into_raw in into_handle and, per the contract,
            // is freed once and not used afterwards.
            drop(unsafe { Box::from_raw(client.cast::<Client>()) });
        }
    }
}
