//! The frame of every fallible export: the last error cleared on entry and set on failure, the
//! failure's status returned; and the helper that names a checked C callback's function type.

use super::last_error;
use super::status::pmp_status;
use crate::error::Error;

/// The function pointer inside a nullable C callback type (`Option<unsafe extern "C" fn ...>`):
/// a callback's signature is written once, in its public type, and the non-NULL pointer the
/// library keeps after checking is named from it.
pub(crate) trait NullableFn {
    type Fn: Copy;
}

impl<F: Copy> NullableFn for Option<F> {
    type Fn = F;
}

/// Records a failure as the last error and returns its status. A success leaves no last error,
/// even when a call made during it on this thread (from the log or signer callback) failed.
pub(crate) fn finish(result: Result<(), Error>) -> pmp_status {
    match result {
        Ok(()) => {
            last_error::clear();
            pmp_status::Ok
        }
        Err(e) => {
            last_error::set(&e);
            e.status.into()
        }
    }
}

/// The body of every fallible export: clears this thread's last error, runs `call`, records
/// its failure.
pub(crate) fn run(call: impl FnOnce() -> Result<(), Error>) -> pmp_status {
    last_error::clear();
    finish(call())
}
