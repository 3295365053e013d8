//! The optional process-wide log callback: `pmp_set_log_callback`.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use super::call::run;
use super::panic::ffi_boundary;
use super::status::pmp_status;
use crate::error::Error;
use crate::logging::{self, Level};

pub const PMP_LOG_LEVEL_ERROR: u32 = 1;
pub const PMP_LOG_LEVEL_WARN: u32 = 2;
pub const PMP_LOG_LEVEL_INFO: u32 = 3;
pub const PMP_LOG_LEVEL_DEBUG: u32 = 4;

/// One log message. Valid only during the callback.
#[repr(C)]
pub struct pmp_log_params {
    /// `PMP_LOG_LEVEL_*`.
    pub level: u32,
    /// UTF-8, NUL-terminated; `message_len` excludes the NUL.
    pub message: *const c_char,
    pub message_len: usize,
}

/// Receives log messages. Called on any thread, possibly concurrently; never receives secrets.
pub type pmp_log_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, params: *const pmp_log_params)>;

fn level_from(value: u32) -> Option<Level> {
    match value {
        PMP_LOG_LEVEL_ERROR => Some(Level::Error),
        PMP_LOG_LEVEL_WARN => Some(Level::Warn),
        PMP_LOG_LEVEL_INFO => Some(Level::Info),
        PMP_LOG_LEVEL_DEBUG => Some(Level::Debug),
        _ => None,
    }
}

/// A `pmp_log_callback` that is not NULL.
/// cbindgen:ignore
type pmp_log_fn = <pmp_log_callback as super::call::NullableFn>::Fn;

struct LogTarget {
    callback: pmp_log_fn,
    userdata: *mut c_void,
}

// SAFETY: pmp_set_log_callback's contract requires the callback and userdata to be usable from
// any thread, concurrently, until the callback is replaced or removed.
unsafe impl Send for LogTarget {}
// SAFETY: as above.
unsafe impl Sync for LogTarget {}

thread_local! {
    /// True on a thread while it runs the host's log callback.
    static IN_LOG_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside the host's log callback. The library holds no lock while the
/// callback runs (the sink is cloned out of its lock first), so the non-blocking exports work
/// from inside it; the blocking ones (`pmp_send_mail`, `pmp_test_permissions`) check this and
/// refuse, because the call that logged is still running on this thread and may hold what the
/// new call needs (the token cache's single flight): waiting for it would never end.
pub(super) fn inside_log_callback() -> bool {
    IN_LOG_CALLBACK.with(Cell::get)
}

/// Marks this thread as inside the callback until dropped (restoring the previous state, so a
/// callback that logs again inside itself keeps the mark).
struct InCallback(bool);

impl InCallback {
    fn enter() -> InCallback {
        InCallback(IN_LOG_CALLBACK.with(|flag| flag.replace(true)))
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        IN_LOG_CALLBACK.with(|flag| flag.set(self.0));
    }
}

impl LogTarget {
    fn emit(&self, level: Level, message: &str) {
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        let params = pmp_log_params {
            level: level as u32,
            message: text.as_ptr(),
            message_len: text.as_bytes().len(),
        };
        let _in_callback = InCallback::enter();
        // SAFETY: `params` and the string it points to live until the call returns.
        unsafe { (self.callback)(self.userdata, &params) };
    }
}

fn install(callback: pmp_log_callback, userdata: *mut c_void, max_level: Level) {
    match callback {
        None => logging::set_sink(None, max_level),
        Some(callback) => {
            let target = Arc::new(LogTarget { callback, userdata });
            logging::set_sink(
                Some(Arc::new(move |level, message: &str| {
                    target.emit(level, message)
                })),
                max_level,
            );
        }
    }
}

/// Installs a process-wide log callback (NULL removes it). Messages up to `max_level`
/// (`PMP_LOG_LEVEL_ERROR` 1 .. `PMP_LOG_LEVEL_DEBUG` 4) are delivered, on any library thread,
/// possibly concurrently. Messages never contain secrets, tokens or assertions. `userdata`
/// must stay valid until the callback is replaced or removed.
///
/// The callback may call `pmp_version`, `pmp_status_name`, `pmp_last_error`,
/// `pmp_string_free`, `pmp_set_log_callback`, `pmp_client_new*` and `pmp_client_free` (of a
/// client no call is using); no lock is held while it runs. It must not send or test
/// permissions: `pmp_send_mail` and `pmp_test_permissions` called from inside it return
/// `PMP_STATUS_INVALID_ARGUMENT` (the call that logged is still running and may hold what
/// they need), and it must not wait for another thread making those calls.
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
            let level = level_from(max_level).ok_or_else(|| {
                Error::invalid_argument(format!("max_level {max_level} is not a log level (1 error .. 4 debug)"))
            })?;
            install(cb, userdata, level);
            Ok(())
        })
    }
}
