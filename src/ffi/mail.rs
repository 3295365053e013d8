//! The calls on a client: `pmp_test_permissions` and `pmp_send_mail`. Each takes a JSON
//! document and hands back one; the parsing and the work are the core's.

use std::ffi::c_char;

use super::cancel::{self, pmp_cancel};
use super::client::{client_call, pmp_client};
use super::panic::ffi_boundary;
use super::status::pmp_status;
use super::strings;
use crate::client::Client;
use crate::config::MAX_CONFIG_BYTES;
use crate::error::Error;
use crate::mail::message::MAX_MESSAGE_BYTES;

/// A result document as JSON; every export that hands one back uses it.
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("cannot serialise the result ({e})")))
}

/// Authenticates and reports the app's mail permissions (docs/contracts.md section 3).
///
/// `options_json` may be NULL with `options_len` 0 for defaults. Returns `PMP_STATUS_OK` with
/// `"authenticated": false` and an `error` member when Entra ID rejects the credentials; a
/// non-OK status only for bad input, network failures and the like. With provider
/// googleWorkspace it tests the domain-wide delegation for one user (options `mailbox`, else the
/// config's `google.impersonate`) and reports `gmail.send` and `Gmail API`.
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
            to_json(&client.test_permissions_json(text)?)
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

/// `pmp_test_permissions` that `cancel` can stop (see `pmp_cancel`): when `pmp_cancel_request`
/// is called while the call waits (e.g. out a throttled token request's Retry-After), it fails
/// with `PMP_STATUS_CANCELLED`. `cancel` may be NULL (then it is `pmp_test_permissions`).
///
/// # Safety
/// As `pmp_test_permissions`; `cancel` must be NULL or a live handle that stays live until the
/// call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_test_permissions_cancellable(
    client: *const pmp_client,
    options_json: *const u8,
    options_len: usize,
    cancel: *const pmp_cancel,
    report_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        // SAFETY: the caller passes a live handle or NULL.
        let token = unsafe { cancel::borrow(cancel) };
        let call = |client: &Client| {
            // SAFETY: the caller guarantees options_len readable bytes (or a zero length).
            let text = unsafe { strings::optional_input_str(options_json, options_len, "options_json", MAX_CONFIG_BYTES) }?;
            to_json(&client.test_permissions_json_cancellable(text, token)?)
        };
        // SAFETY: forwarded contract.
        unsafe { client_call(client, report_out, "report_out", call) }
    }
}

/// `pmp_send_mail` that `cancel` can stop (see `pmp_cancel`): when `pmp_cancel_request` is
/// called while the send waits to retry (a 429's Retry-After, a 503, a lost connection), it
/// fails with `PMP_STATUS_CANCELLED`; a request already sent runs to its answer first. The error
/// document's `outcome` is `failed`, or `unknown` when an earlier attempt may have been
/// delivered (with `retry.retryUnknownOutcome`). An incomplete draft is still deleted. `cancel`
/// may be NULL (then it is `pmp_send_mail`); a handle cancelled before the call sends nothing.
///
/// # Safety
/// As `pmp_send_mail`; `cancel` must be NULL or a live handle that stays live until the call
/// returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_send_mail_cancellable(
    client: *const pmp_client,
    message_json: *const u8,
    message_len: usize,
    cancel: *const pmp_cancel,
    result_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        // SAFETY: the caller passes a live handle or NULL.
        let token = unsafe { cancel::borrow(cancel) };
        let call = |client: &Client| {
            // SAFETY: the caller guarantees message_len readable bytes at message_json.
            let text = unsafe { strings::input_str(message_json, message_len, "message_json", MAX_MESSAGE_BYTES) }?;
            to_json(&client.send_mail_json_cancellable(text, token)?)
        };
        // SAFETY: forwarded contract.
        unsafe { client_call(client, result_out, "result_out", call) }
    }
}
