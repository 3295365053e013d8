//! `pmp_send_batch`: many messages in one call, with a progress callback and a cancel handle.

use std::cell::Cell;
use std::ffi::{c_char, c_void};

use super::buffers::{borrow_buffers, pmp_buffer};
use super::cancel::{self, pmp_cancel};
use super::client::{client_call, pmp_client};
use super::mail::to_json;
use super::panic::ffi_boundary;
use super::status::pmp_status;
use super::strings;
use crate::batch::BatchProgress;
use crate::client::Client;
use crate::config::MAX_CONFIG_BYTES;
use crate::mail::message::MAX_MESSAGE_BYTES;

/// Where a batch stands, passed to a `pmp_batch_progress_callback`.
#[repr(C)]
pub struct pmp_batch_progress {
    /// Messages in the batch.
    pub total: usize,
    /// Messages with a final status (`sent + failed + unknown + cancelled`).
    pub done: usize,
    pub sent: usize,
    pub failed: usize,
    pub unknown: usize,
    pub cancelled: usize,
    /// Messages not done whose sending mailbox is paused because Graph throttled it.
    pub waiting_for_throttle: usize,
    /// How long the longest such pause still lasts, in milliseconds (0: none).
    pub throttled_for_ms: u64,
}

/// Called by `pmp_send_batch` on the thread that called it, one call at a time: once before
/// any result (sends may already be under way), after every finished message, and every 250 ms while a mailbox is
/// throttled. `progress` is valid only during the call. The callback may call
/// `pmp_cancel_request`; it must not make calls on a client (they fail with
/// `PMP_STATUS_INVALID_ARGUMENT`) and should return quickly: results are not collected while it
/// runs.
pub type pmp_batch_progress_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, progress: *const pmp_batch_progress)>;

thread_local! {
    /// True on a thread while it runs a host's progress callback.
    static IN_PROGRESS_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a batch's progress callback: the batch that called it is
/// still running on this thread, so a blocking call would have to wait inside it.
pub(super) fn inside_progress_callback() -> bool {
    IN_PROGRESS_CALLBACK.with(Cell::get)
}

/// Sends a batch: `messages_json` is a JSON array of message documents (docs/contracts.md
/// section 4b; UTF-8, at most 256 MiB, at most 100,000 messages), `options_json` a batch options
/// document (NULL with 0 for defaults: the client's `sending` limits).
///
/// Messages go out concurrently, at most `maxConcurrentPerMailbox` per sending mailbox and
/// `maxConcurrent` in all; a mailbox Graph throttles waits out its Retry-After while the others
/// keep going. `PMP_STATUS_OK` means the batch ran: `*results_out` receives the batch result
/// JSON (free with `pmp_string_free`) with one item per message in input order, each `sent`,
/// `failed`, `unknown` (may have been sent; never sent again) or `cancelled` (never sent). A
/// message document that does not parse is that message's `failed` item. A non-OK status means
/// the batch did not run (not a JSON array, bad options, a NULL argument); nothing was sent.
///
/// `progress` may be NULL. `cancel` may be NULL; `pmp_cancel_request` on it (from any thread,
/// or from the progress callback) stops the batch within about a second: messages not yet sent
/// are `cancelled`, a request in flight runs to its answer, an incomplete draft is deleted.
/// Blocks the calling thread; safe to call concurrently on one client (batches share the
/// client's send slots).
///
/// # Safety
/// `client` must be a live handle; `messages_json` valid for `messages_len` bytes;
/// `options_json` valid for `options_len` bytes (or NULL with 0); `cancel` NULL or a live
/// handle until the call returns; `progress` NULL or a function safe to call with `userdata`
/// from this thread; `results_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_send_batch(
    client: *const pmp_client,
    messages_json: *const u8,
    messages_len: usize,
    options_json: *const u8,
    options_len: usize,
    progress: pmp_batch_progress_callback,
    userdata: *mut c_void,
    cancel: *const pmp_cancel,
    results_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        // SAFETY: forwarded contract; no buffers (NULL with 0).
        unsafe {
            send_batch(client, messages_json, messages_len, std::ptr::null(), 0, options_json, options_len, progress, userdata, cancel, results_out)
        }
    }
}

/// `pmp_send_batch` whose messages may take attachment bytes from `buffers`: an attachment
/// `{"name": "report.pdf", "buffer": 2}` of any message is the bytes of `buffers[2]` (several
/// messages may name the same buffer). An index outside `0..buffer_count` fails that message
/// only (`failed`, nothing sent for it).
///
/// The library copies every buffer once when the call starts (the messages go out on its own
/// threads) and keeps no pointer after returning: the host may unpin or free them then. The
/// copies live until the call returns, so the buffers cost their size once more in native
/// memory for the batch's duration. `buffers` may be NULL when `buffer_count` is 0; an entry
/// may have NULL `data` when its `len` is 0. Everything else is as `pmp_send_batch`.
///
/// # Safety
/// As `pmp_send_batch`; `buffers` NULL with `buffer_count` 0 or valid for `buffer_count`
/// entries, each `data` readable for `len` bytes (or NULL with `len` 0) while the call starts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_send_batch_with_buffers(
    client: *const pmp_client,
    messages_json: *const u8,
    messages_len: usize,
    buffers: *const pmp_buffer,
    buffer_count: usize,
    options_json: *const u8,
    options_len: usize,
    progress: pmp_batch_progress_callback,
    userdata: *mut c_void,
    cancel: *const pmp_cancel,
    results_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        // SAFETY: forwarded contract.
        unsafe {
            send_batch(client, messages_json, messages_len, buffers, buffer_count, options_json, options_len, progress, userdata, cancel, results_out)
        }
    }
}

/// The body of both batch calls.
///
/// # Safety
/// The contract of `pmp_send_batch_with_buffers`.
#[allow(clippy::too_many_arguments)]
unsafe fn send_batch(
    client: *const pmp_client,
    messages_json: *const u8,
    messages_len: usize,
    buffers: *const pmp_buffer,
    buffer_count: usize,
    options_json: *const u8,
    options_len: usize,
    progress: pmp_batch_progress_callback,
    userdata: *mut c_void,
    cancel: *const pmp_cancel,
    results_out: *mut *mut c_char,
) -> pmp_status {
    // SAFETY: the caller passes a live handle or NULL.
    let token = unsafe { cancel::borrow(cancel) };
    let call = |client: &Client| {
        // SAFETY: the caller guarantees messages_len readable bytes at messages_json.
        let messages = unsafe {
            strings::input_str(
                messages_json,
                messages_len,
                "messages_json",
                MAX_MESSAGE_BYTES,
            )
        }?;
        // SAFETY: the caller guarantees options_len readable bytes (or a zero length).
        let options = unsafe {
            strings::optional_input_str(options_json, options_len, "options_json", MAX_CONFIG_BYTES)
        }?;
        // SAFETY: the caller guarantees the buffer list and its bytes while the call starts;
        // they are copied here, because the batch's messages go out on the library's threads.
        let owned: Vec<bytes::Bytes> = unsafe { borrow_buffers(buffers, buffer_count) }?
            .into_iter()
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        let mut report = |p: &BatchProgress| {
            let Some(callback) = progress else { return };
            let view = pmp_batch_progress {
                total: p.total,
                done: p.done,
                sent: p.sent,
                failed: p.failed,
                unknown: p.unknown,
                cancelled: p.cancelled,
                waiting_for_throttle: p.waiting_for_throttle,
                throttled_for_ms: p.throttled_for_ms,
            };
            let previous = IN_PROGRESS_CALLBACK.with(|flag| flag.replace(true));
            // SAFETY: the host's callback with its own userdata, on the calling thread as
            // documented; `view` outlives the call.
            unsafe { callback(userdata, &view) };
            IN_PROGRESS_CALLBACK.with(|flag| flag.set(previous));
        };
        to_json(&client.send_batch_json(messages, owned, options, token, &mut report)?)
    };
    // SAFETY: forwarded contract.
    unsafe { client_call(client, results_out, "results_out", call) }
}
