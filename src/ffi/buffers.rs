//! `pmp_buffer` and `pmp_send_mail_with_buffers`: attachment bytes a host hands over as
//! pointer + length beside the message document, instead of base64 inside it. The buffers are
//! borrowed for the call only; the core copies what the message names before any request.

use std::ffi::c_char;

use super::cancel::{self, pmp_cancel};
use super::client::{client_call, pmp_client};
use super::mail::to_json;
use super::panic::ffi_boundary;
use super::status::pmp_status;
use super::strings;
use crate::client::Client;
use crate::error::{Error, Outcome, Status};
use crate::mail::message::MAX_MESSAGE_BYTES;

/// A borrowed byte buffer: `len` bytes at `data`. `data` may be NULL when `len` is 0 (an empty
/// buffer). The library reads it only during the call it is passed to and never writes or
/// frees it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pmp_buffer {
    pub data: *const u8,
    pub len: usize,
}

/// Borrows the host's buffer list as slices.
///
/// # Safety
/// `buffers` must be NULL with `count` 0, or point to `count` readable `pmp_buffer`s, each
/// of whose `data` is readable for `len` bytes (or NULL with `len` 0), all valid for `'a`.
pub(super) unsafe fn borrow_buffers<'a>(
    buffers: *const pmp_buffer,
    count: usize,
) -> Result<Vec<&'a [u8]>, Error> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if buffers.is_null() {
        return Err(Error::new(
            Status::NullParameter,
            format!("buffers is NULL but buffer_count is {count}"),
        ));
    }
    if count > isize::MAX as usize / std::mem::size_of::<pmp_buffer>() {
        return Err(Error::invalid_argument(format!(
            "buffer_count {count} is larger than any array"
        )));
    }
    // SAFETY: non-NULL, count checked to fit an allocation, and the caller promises `count`
    // readable, aligned entries that outlive 'a.
    let list = unsafe { std::slice::from_raw_parts(buffers, count) };
    list.iter()
        .enumerate()
        .map(|(i, buffer)| {
            if buffer.len == 0 {
                return Ok(&[][..]);
            }
            if buffer.data.is_null() {
                return Err(Error::new(
                    Status::NullParameter,
                    format!("buffers[{i}].data is NULL but its len is {}", buffer.len),
                ));
            }
            if buffer.len > isize::MAX as usize {
                return Err(Error::invalid_argument(format!(
                    "buffers[{i}].len {} is larger than any buffer",
                    buffer.len
                )));
            }
            // SAFETY: non-NULL, and the caller promises `len` readable bytes that outlive 'a.
            Ok(unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) })
        })
        .collect()
}

/// Sends one message (docs/contracts.md section 4) whose attachments may take their bytes from
/// `buffers`: an attachment `{"name": "report.pdf", "buffer": 2}` is the bytes of `buffers[2]`,
/// sent as they are (no base64 in the document). `path` and `contentBase64` attachments work as
/// in `pmp_send_mail`; buffers no attachment names are ignored. An index outside
/// `0..buffer_count` fails with `PMP_STATUS_INVALID_ARGUMENT` before any request.
///
/// The buffers are borrowed for the duration of the call only: the library copies the bytes
/// it needs before the first request and keeps no pointer after returning, so the host may
/// unpin or free them then. `buffers` may be NULL when `buffer_count` is 0; an entry may have
/// NULL `data` when its `len` is 0. `cancel` may be NULL; otherwise as
/// `pmp_send_mail_cancellable`.
///
/// On success `*result_out` receives the result JSON (free with `pmp_string_free`). On failure
/// nothing is written; `pmp_last_error` holds the error document with its `outcome`.
/// Blocks the calling thread; safe to call concurrently on one client (also with the same
/// buffers, which are only read).
///
/// # Safety
/// `client` must be a live handle; `message_json` valid for `message_len` bytes; `buffers` NULL
/// with `buffer_count` 0 or valid for `buffer_count` entries, each `data` readable for `len`
/// bytes (or NULL with `len` 0), unchanged until the call returns; `cancel` NULL or a live
/// handle that stays live until the call returns; `result_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmp_send_mail_with_buffers(
    client: *const pmp_client,
    message_json: *const u8,
    message_len: usize,
    buffers: *const pmp_buffer,
    buffer_count: usize,
    cancel: *const pmp_cancel,
    result_out: *mut *mut c_char,
) -> pmp_status {
    ffi_boundary! {
        // SAFETY: the caller passes a live handle or NULL.
        let token = unsafe { cancel::borrow(cancel) };
        let call = |client: &Client| {
            // SAFETY: the caller guarantees message_len readable bytes at message_json.
            let text = unsafe { strings::input_str(message_json, message_len, "message_json", MAX_MESSAGE_BYTES) }?;
            // SAFETY: the caller guarantees the buffer list and its bytes for the whole call.
            // A bad list is a send that failed before any request (outcome failed).
            let slices = unsafe { borrow_buffers(buffers, buffer_count) }
                .map_err(|e| e.with_outcome(Outcome::Failed))?;
            to_json(&client.send_mail_json_with_buffers(text, &slices, token)?)
        };
        // SAFETY: forwarded contract.
        unsafe { client_call(client, result_out, "result_out", call) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_lists() {
        // SAFETY: each list and its bytes outlive the borrow.
        unsafe {
            assert!(borrow_buffers(std::ptr::null(), 0).unwrap().is_empty());
            let e = borrow_buffers(std::ptr::null(), 2).unwrap_err();
            assert_eq!(e.status, Status::NullParameter);
            let bytes = [7u8, 8, 9];
            let list = [
                pmp_buffer {
                    data: bytes.as_ptr(),
                    len: 3,
                },
                pmp_buffer {
                    data: std::ptr::null(),
                    len: 0,
                },
                pmp_buffer {
                    data: bytes.as_ptr(),
                    len: 1,
                },
            ];
            let slices = borrow_buffers(list.as_ptr(), list.len()).unwrap();
            assert_eq!(slices, [&bytes[..], &[][..], &bytes[..1]]);
            let bad = [
                list[0],
                pmp_buffer {
                    data: std::ptr::null(),
                    len: 5,
                },
            ];
            let e = borrow_buffers(bad.as_ptr(), bad.len()).unwrap_err();
            assert_eq!(e.status, Status::NullParameter);
            assert!(
                e.message.contains("buffers[1].data is NULL"),
                "{}",
                e.message
            );
        }
    }
}
