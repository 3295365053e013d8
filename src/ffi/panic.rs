//! The panic boundary: no panic unwinds into the host. Every export runs inside
//! [`ffi_boundary!`], which turns a panic into `PMP_STATUS_PANIC` (or a harmless default for
//! functions without a status) and records an error document.

use std::any::Any;
use std::ffi::c_char;

use super::status::pmp_status;
use crate::error::{Error, Status};

/// The value an export returns when its body panicked.
pub(crate) trait PanicDefault {
    fn on_panic() -> Self;
}

impl PanicDefault for pmp_status {
    fn on_panic() -> Self {
        pmp_status::Panic
    }
}

impl PanicDefault for () {
    fn on_panic() -> Self {}
}

impl PanicDefault for *const c_char {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

/// Records a caught panic as this thread's last error.
pub(crate) fn record(payload: Box<dyn Any + Send>) {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    let error = Error::new(
        Status::Panic,
        format!("internal panic caught at the C boundary: {text}"),
    )
    .with_remedy("This is a bug in pmp-mail; please report it with the log.");
    super::last_error::set(&error);
}

/// Runs the body, catching panics. The body's value must implement `PanicDefault`.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::panic::record(payload);
                $crate::ffi::panic::PanicDefault::on_panic()
            }
        }
    }};
}

pub(crate) use ffi_boundary;

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

    #[test]
    fn panic_becomes_status() {
        assert_eq!(pmp_test_panic(), pmp_status::Panic);
        let doc = crate::ffi::error::tests::last_error_json();
        assert_eq!(doc["status"], 13);
        assert!(doc["message"].as_str().unwrap().contains("deliberate"));
    }
}
