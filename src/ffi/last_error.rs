//! The thread-local last-error document behind `pmp_last_error`.

use std::cell::RefCell;

use crate::error::Error;

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Stores `error`'s document as this thread's last error.
pub(crate) fn set(error: &Error) {
    let json = error.to_json();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(json));
}

/// Forgets the last error (at the start of every fallible call).
pub(crate) fn clear() {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = None);
}

/// The last error document, or `"null"`.
pub(crate) fn get() -> String {
    LAST_ERROR.with(|slot| slot.borrow().clone().unwrap_or_else(|| "null".to_owned()))
}
