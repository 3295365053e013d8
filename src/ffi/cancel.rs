//! `pmp_cancel`: a handle a host sets from any thread (Ctrl+C, a `CancellationToken`) to stop a
//! `pmp_send_mail_cancellable` / `pmp_test_permissions_cancellable` call at its next wait.

use super::call::run;
use super::panic::ffi_boundary;
use super::status::pmp_status;
use super::strings::require_out;
use crate::cancel::CancelToken;

/// A cancel request for one or more calls.
///
/// Thread-safe: `pmp_cancel_request` may be called from any thread, any number of times, while
/// calls using the handle run. Cancellation takes effect only where a call waits (to retry after
/// a 429 or a 503, after a lost connection, or for a token request of another call): a request
/// already sent runs to its answer. A cancelled call fails with `PMP_STATUS_CANCELLED`.
/// Create with `pmp_cancel_new`, release with `pmp_cancel_free` after every call using it has
/// returned. A handle stays cancelled; use a new one for the next call.
pub struct pmp_cancel {
    _private: [u8; 0],
}

/// # Safety
/// `handle` must be NULL or a live pointer from `pmp_cancel_new`.
pub(super) unsafe fn borrow<'a>(handle: *const pmp_cancel) -> Option<&'a CancelToken> {
    // SAFETY: non-NULL handles come from Box::into_raw in pmp_cancel_new and stay valid until
    // pmp_cancel_free, which the caller must not call while the handle is in use.
    unsafe { handle.cast::<CancelToken>().as_ref() }
}

/// Creates a cancel handle (not cancelled). On success `*cancel_out` receives a handle the
/// caller owns and must release with `pmp_cancel_free`.
///
/// # Safety
/// `cancel_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_cancel_new(cancel_out: *mut *mut pmp_cancel) -> pmp_status {
    ffi_boundary! {
        run(|| {
            require_out(cancel_out, "cancel_out")?;
            let handle = Box::into_raw(Box::new(CancelToken::new())).cast::<pmp_cancel>();
            // SAFETY: cancel_out was checked non-NULL and is writable per the contract.
            unsafe { *cancel_out = handle };
            Ok(())
        })
    }
}

/// Asks every call using `cancel` to stop at its next wait (or now, if it is waiting).
/// Thread-safe and idempotent; never blocks; does nothing with NULL. Does not touch the last
/// error, so it may be called from a signal or console-control handler's thread.
///
/// # Safety
/// `cancel` must be NULL or a live handle from `pmp_cancel_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_cancel_request(cancel: *const pmp_cancel) {
    ffi_boundary! {
        // SAFETY: the caller passes a live handle or NULL.
        if let Some(token) = unsafe { borrow(cancel) } {
            token.cancel();
        }
    }
}

/// Releases a cancel handle. NULL is fine. Must not be called twice with the same value, nor
/// while a call using it is still running.
///
/// # Safety
/// `cancel` must be NULL or a handle from `pmp_cancel_new` that is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_cancel_free(cancel: *mut pmp_cancel) {
    ffi_boundary! {
        if !cancel.is_null() {
            // SAFETY: the pointer came from Box::into_raw in pmp_cancel_new and, per the
            // contract, is freed once and not used afterwards.
            drop(unsafe { Box::from_raw(cancel.cast::<CancelToken>()) });
        }
    }
}
