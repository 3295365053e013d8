//! Attachments whose bytes come as host buffers (`"buffer": n`), through the safe API and the C
//! ABI (`pmp_send_mail_with_buffers`): byte-exact in what the emulator accepted, on the sendMail
//! path and through upload sessions; bad indexes and bad buffer lists refused before any request.

use std::ffi::{CStr, c_char};
use std::ptr;

use crate::common::*;
use pmp_mail::ffi::*;
use pmp_mail::{Outcome, Status};
use serde_json::{Value, json};

fn take_string(s: *mut c_char) -> Value {
    // SAFETY: `s` was returned by the library and is freed once.
    unsafe {
        let text = CStr::from_ptr(s).to_str().unwrap().to_owned();
        pmp_string_free(s);
        serde_json::from_str(&text).unwrap()
    }
}

fn last_error() -> Value {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: `out` is a valid local.
    assert_eq!(unsafe { pmp_last_error(&mut out) }, pmp_status::Ok);
    take_string(out)
}

fn as_buffers(list: &[&[u8]]) -> Vec<pmp_buffer> {
    list.iter()
        .map(|b| pmp_buffer {
            data: b.as_ptr(),
            len: b.len(),
        })
        .collect()
}

/// `pmp_send_mail_with_buffers` on a new ABI client: the status and, on success, the result
/// document; on failure the error document, with `result_out` checked untouched.
fn send_through_abi(
    emu: &pmp_graph_emulator::Emulator,
    message: &Value,
    buffers: *const pmp_buffer,
    count: usize,
) -> (pmp_status, Value) {
    let config = config_json(emu, APP, secret_auth()).to_string();
    let message = message.to_string();
    let mut client: *mut pmp_client = ptr::null_mut();
    // SAFETY: the config, the message and (per the callers) the buffers outlive the calls;
    // `client` and `out` are valid locals; the client is freed once.
    unsafe {
        assert_eq!(
            pmp_client_new(config.as_ptr(), config.len(), &mut client),
            pmp_status::Ok
        );
        let mut out = std::ptr::dangling_mut::<c_char>();
        let status = pmp_send_mail_with_buffers(
            client,
            message.as_ptr(),
            message.len(),
            buffers,
            count,
            ptr::null(),
            &mut out,
        );
        pmp_client_free(client);
        if status == pmp_status::Ok {
            (status, take_string(out))
        } else {
            assert_eq!(
                out,
                std::ptr::dangling_mut::<c_char>(),
                "untouched on failure"
            );
            (status, last_error())
        }
    }
}

#[test]
fn small_buffers_go_in_one_send_mail_byte_exact() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let report = pseudo_random_bytes(100_000, 21);
    let logo = pseudo_random_bytes(3000, 22);
    let unused = pseudo_random_bytes(10, 23);
    let message = message(json!({
        "from": MAILBOX, "to": ["a@contoso.com"], "subject": "buffers", "bodyAsHtml": true,
        "body": "<img src=\"cid:logo\">",
        "attachments": [
            {"name": "report.bin", "buffer": 2},
            {"name": "logo.png", "buffer": 0, "contentId": "logo"},
            {"name": "again.bin", "buffer": 2, "contentType": "application/x-test"},
            {"name": "inline.txt", "contentBase64": b64(b"base64 still works")},
        ],
    }));
    let result = client
        .send_mail_with_buffers(&message, &[&logo, &unused, &report], None)
        .unwrap();
    assert!(!result.upload_session);
    let messages = emu.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.via, "sendMail");
    let by_name = |n: &str| m.attachments.iter().find(|a| a.name == n).unwrap();
    assert_eq!(by_name("report.bin").sha256, sha256_hex(&report));
    assert_eq!(by_name("report.bin").size, report.len() as u64);
    assert_eq!(by_name("again.bin").sha256, sha256_hex(&report));
    assert_eq!(by_name("again.bin").content_type, "application/x-test");
    let logo_rec = by_name("logo.png");
    assert_eq!(logo_rec.sha256, sha256_hex(&logo));
    assert!(logo_rec.is_inline);
    assert_eq!(logo_rec.content_type, "image/png");
    assert_eq!(
        by_name("inline.txt").sha256,
        sha256_hex(b"base64 still works")
    );
    assert_eq!(m.attachments.len(), 4);
}

#[test]
fn large_buffers_go_through_upload_sessions_byte_exact_through_the_abi() {
    let emu = start_emulator();
    let big = pseudo_random_bytes(5 * 1024 * 1024 + 77, 31);
    let edge = pseudo_random_bytes(3 * 1024 * 1024, 32);
    let small = pseudo_random_bytes(2048, 33);
    let message = json!({
        "from": MAILBOX, "to": ["a@contoso.com"], "subject": "large buffers",
        "attachments": [
            {"name": "big.bin", "buffer": 0},
            {"name": "edge.bin", "buffer": 1},
            {"name": "small.bin", "buffer": 2},
        ],
    });
    let buffers = as_buffers(&[&big, &edge, &small]);
    let (status, result) = send_through_abi(&emu, &message, buffers.as_ptr(), buffers.len());
    assert_eq!(status, pmp_status::Ok, "{result}");
    assert_eq!(result["uploadSession"], true);
    let messages = emu.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.via, "draft");
    for (name, bytes) in [
        ("big.bin", &big),
        ("edge.bin", &edge),
        ("small.bin", &small),
    ] {
        let rec = m.attachments.iter().find(|a| a.name == name).unwrap();
        assert_eq!(rec.size, bytes.len() as u64, "{name}");
        assert_eq!(rec.sha256, sha256_hex(bytes), "{name}");
    }
    // Two upload sessions (big: 2 chunks, edge: 1 chunk at 12 x 320 KiB per chunk).
    let puts = emu
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/_upload/"))
        .count();
    assert_eq!(puts, 3);
}

#[test]
fn empty_buffers_and_null_lists_are_fine() {
    let emu = start_emulator();
    // (NULL, 0) as the list: a message without buffer attachments sends.
    let plain = json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": "no buffers"});
    let (status, result) = send_through_abi(&emu, &plain, ptr::null(), 0);
    assert_eq!(status, pmp_status::Ok, "{result}");
    // An entry (NULL, 0) is an empty buffer; it may go unused.
    let one = pseudo_random_bytes(500, 41);
    let buffers = [
        pmp_buffer {
            data: ptr::null(),
            len: 0,
        },
        pmp_buffer {
            data: one.as_ptr(),
            len: one.len(),
        },
    ];
    let message = json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": "one of two",
        "attachments": [{"name": "one.bin", "buffer": 1}]});
    let (status, result) = send_through_abi(&emu, &message, buffers.as_ptr(), buffers.len());
    assert_eq!(status, pmp_status::Ok, "{result}");
    let messages = emu.messages();
    assert_eq!(messages.len(), 2);
    let sent = messages.iter().find(|m| m.subject == "one of two").unwrap();
    assert_eq!(sent.attachments.len(), 1);
    assert_eq!(sent.attachments[0].sha256, sha256_hex(&one));
}

#[test]
fn bad_buffer_references_fail_before_any_request() {
    let emu = start_emulator();
    let bytes = pseudo_random_bytes(64, 51);
    let one = as_buffers(&[&bytes]);
    let attach = |attachment: Value| json!({"from": MAILBOX, "to": ["a@contoso.com"], "attachments": [{"name": "keep.bin", "buffer": 0}, attachment]});
    let null_data = [pmp_buffer {
        data: ptr::null(),
        len: 8,
    }];
    let cases: [(Value, *const pmp_buffer, usize, pmp_status, &str); 7] = [
        (
            attach(json!({"name": "a", "buffer": 1})),
            one.as_ptr(),
            1,
            pmp_status::InvalidArgument,
            "attachments[1].buffer is 1, but the call has 1 buffer",
        ),
        (
            attach(json!({"name": "a", "buffer": 0})),
            ptr::null(),
            0,
            pmp_status::InvalidArgument,
            "attachments[0].buffer is 0, but the call has 0 buffers",
        ),
        (
            attach(json!({"buffer": 0})),
            one.as_ptr(),
            1,
            pmp_status::InvalidArgument,
            "attachments[1]: name is required with buffer",
        ),
        (
            attach(json!({"name": "a", "buffer": 0, "contentBase64": "AA=="})),
            one.as_ptr(),
            1,
            pmp_status::InvalidArgument,
            "attachments[1]: give exactly one of path, contentBase64 or buffer",
        ),
        (
            attach(json!({"name": "a", "buffer": "0"})),
            one.as_ptr(),
            1,
            pmp_status::InvalidArgument,
            "expected usize",
        ),
        (
            attach(json!({"name": "a", "buffer": 0})),
            ptr::null(),
            3,
            pmp_status::NullParameter,
            "buffers is NULL but buffer_count is 3",
        ),
        (
            attach(json!({"name": "a", "buffer": 0})),
            null_data.as_ptr(),
            1,
            pmp_status::NullParameter,
            "buffers[0].data is NULL but its len is 8",
        ),
    ];
    for (message, buffers, count, expected, named) in cases {
        let (status, error) = send_through_abi(&emu, &message, buffers, count);
        assert_eq!(status, expected, "{message}: {error}");
        let text = error["message"].as_str().unwrap();
        assert!(text.contains(named), "{message}: {text}");
        assert_eq!(error["outcome"], "failed", "{message}");
    }
    // The same refusals through the safe API, with the remedy for a call without buffers.
    let client = client_for(&emu, APP, secret_auth());
    let e = client
        .send_mail_with_buffers(
            &message(attach(json!({"name": "a", "buffer": 0}))),
            &[],
            None,
        )
        .unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert!(
        e.remedy
            .as_deref()
            .is_some_and(|r| r.contains("pmp_send_mail_with_buffers")),
        "{e:?}"
    );
    // pmp_send_mail has no buffers: a buffer attachment there is the same clear error.
    let e = client
        .send_mail(&message(attach(json!({"name": "a", "path": "/x"}))))
        .unwrap_err();
    assert!(
        e.message
            .contains("attachments[0].buffer is 0, but the call has 0 buffers"),
        "{}",
        e.message
    );
    assert_eq!(
        emu.counters().requests,
        0,
        "no request for a refused message"
    );
}

#[test]
fn batch_buffers_are_shared_by_messages_through_the_abi() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth()).to_string();
    let report = pseudo_random_bytes(200_000, 41);
    // Above the upload-session threshold: that message goes through a draft.
    let big = pseudo_random_bytes(4 * 1024 * 1024, 42);
    let messages = json!([
        {"from": MAILBOX, "to": ["a@contoso.com"], "subject": "batch 0",
         "attachments": [{"name": "report.bin", "buffer": 0}]},
        {"from": MAILBOX_SITE_A, "to": ["a@contoso.com"], "subject": "batch 1",
         "attachments": [{"name": "report.bin", "buffer": 0}, {"name": "big.bin", "buffer": 1}]},
        {"from": MAILBOX, "to": ["a@contoso.com"], "subject": "batch 2",
         "attachments": [{"name": "missing.bin", "buffer": 2}]},
    ])
    .to_string();
    let list = as_buffers(&[&report, &big]);
    // `pmp_send_batch_with_buffers` on a new ABI client: the status and the result pointer.
    let send = |buffers: *const pmp_buffer, count: usize| {
        let mut client: *mut pmp_client = ptr::null_mut();
        let mut out: *mut c_char = ptr::null_mut();
        // SAFETY: the config, the documents and (per the callers) the buffers outlive the
        // calls; `client` and `out` are valid locals; the client is freed once.
        let status = unsafe {
            assert_eq!(
                pmp_client_new(config.as_ptr(), config.len(), &mut client),
                pmp_status::Ok
            );
            let status = pmp_send_batch_with_buffers(
                client,
                messages.as_ptr(),
                messages.len(),
                buffers,
                count,
                ptr::null(),
                0,
                None,
                ptr::null_mut(),
                ptr::null(),
                &mut out,
            );
            pmp_client_free(client);
            status
        };
        (status, out)
    };
    let (status, out) = send(list.as_ptr(), list.len());
    assert_eq!(status, pmp_status::Ok);
    let result = take_string(out);
    let statuses: Vec<&str> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["sent", "sent", "failed"], "{result:#}");
    assert!(
        result["results"][2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("buffer"),
        "{result:#}"
    );
    let arrived = emu.messages();
    assert_eq!(arrived.len(), 2);
    for m in &arrived {
        let by_name = |n: &str| m.attachments.iter().find(|a| a.name == n).unwrap();
        assert_eq!(by_name("report.bin").sha256, sha256_hex(&report));
        if m.subject == "batch 1" {
            assert_eq!(by_name("big.bin").sha256, sha256_hex(&big));
            assert_eq!(m.via, "draft");
        }
    }

    // A NULL list with a count is the call's error: nothing was sent.
    let (status, _) = send(ptr::null(), 2);
    assert_eq!(status, pmp_status::NullParameter);
    assert_eq!(emu.messages().len(), 2);
}
