//! The C ABI: pointers, UTF-8, panics and status codes. No business logic lives here.
//!
//! Conventions (rustls-ffi): every fallible function returns `pmp_status`; outputs are written
//! only on success; inputs are UTF-8 pointer + length; output strings are NUL-terminated UTF-8
//! freed with `pmp_string_free`; no panic crosses the boundary. After a failure,
//! `pmp_last_error` on the same thread returns a JSON error document; every fallible call
//! clears it first.
//!
//! One file per concept, as rustls-ffi does: `client` (the handle, its constructors and free),
//! `mail` (the calls on a client: send, test permissions), `buffers` (attachment bytes passed
//! beside the message: `pmp_buffer`, `pmp_send_mail_with_buffers`), `batch` (many sends in one
//! call), `error` (the last-error document, status names), `log` (the log callback), `signer` (the host signer callback), `assertion` (the host's
//! client-assertion callback), `strings`
//! (UTF-8 in and out), `version`; `panic`, `call`, `last_error` and `status` are the boundary's
//! plumbing. This file only declares and re-exports.
#![allow(non_camel_case_types)]

mod assertion;
mod batch;
mod buffers;
mod call;
mod cancel;
mod client;
mod error;
mod last_error;
mod log;
mod mail;
mod panic;
mod signer;
mod status;
mod strings;
mod version;

pub use assertion::{pmp_assertion_callback, pmp_assertion_params};
pub use batch::{
    pmp_batch_progress, pmp_batch_progress_callback, pmp_send_batch, pmp_send_batch_with_buffers,
};
pub use buffers::{pmp_buffer, pmp_send_mail_with_buffers};
pub use cancel::{pmp_cancel, pmp_cancel_free, pmp_cancel_new, pmp_cancel_request};
pub use client::{
    pmp_client, pmp_client_free, pmp_client_new, pmp_client_new_with_assertion_callback,
    pmp_client_new_with_signer,
};
pub use error::{pmp_last_error, pmp_status_name};
pub use log::{
    PMP_LOG_LEVEL_DEBUG, PMP_LOG_LEVEL_ERROR, PMP_LOG_LEVEL_INFO, PMP_LOG_LEVEL_WARN,
    pmp_log_callback, pmp_log_params, pmp_set_log_callback,
};
pub use mail::{
    pmp_send_mail, pmp_send_mail_cancellable, pmp_test_permissions,
    pmp_test_permissions_cancellable,
};
pub use signer::{
    PMP_SIGN_ALGORITHM_PS256, PMP_SIGN_ALGORITHM_RS256, pmp_sign_callback, pmp_sign_params,
};
pub use status::pmp_status;
pub use strings::pmp_string_free;
pub use version::pmp_version;
