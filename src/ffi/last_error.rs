//! This thread's last error document: set by a failed call, cleared by every fallible call,
//! read by `pmp_last_error`. Kept apart from the exports so the panic boundary can record into
//! it without depending on them.

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
