//! The C ABI called directly from Rust: NULLs, bad UTF-8, malformed and oversized JSON,
//! unknown fields, outputs untouched on failure, the signer and log callbacks.

use std::ffi::{CStr, c_char, c_void};
use std::ptr;
use std::sync::Mutex;

use crate::common::*;
use pmp_mail::ffi::*;
use serde_json::{Value, json};

fn last_error() -> Value {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: `out` is a valid local; the string is freed once below.
    unsafe {
        assert_eq!(pmp_last_error(&mut out), pmp_status::Ok);
        let text = CStr::from_ptr(out).to_str().unwrap().to_owned();
        pmp_string_free(out);
        serde_json::from_str(&text).unwrap()
    }
}

fn new_client(config: &str) -> (pmp_status, *mut pmp_client) {
    let mut client: *mut pmp_client = ptr::null_mut();
    // SAFETY: the slice outlives the call; `client` is a valid local.
    let status = unsafe { pmp_client_new(config.as_ptr(), config.len(), &mut client) };
    (status, client)
}

/// `pmp_client_new_with_signer` with the test certificate.
///
/// # Safety
/// `userdata` must satisfy `sign`'s expectations and outlive the client.
unsafe fn new_signer_client(
    config: &str,
    sign: pmp_sign_callback,
    userdata: *mut c_void,
) -> (pmp_status, *mut pmp_client) {
    let cert = &app_cert().cert_der;
    let mut client: *mut pmp_client = ptr::null_mut();
    // SAFETY: the buffers outlive the call; `client` is a valid local; the rest is the caller's.
    let status = unsafe {
        pmp_client_new_with_signer(
            config.as_ptr(),
            config.len(),
            cert.as_ptr(),
            cert.len(),
            sign,
            userdata,
            &mut client,
        )
    };
    (status, client)
}

fn take_string(s: *mut c_char) -> Value {
    // SAFETY: `s` was returned by the library and is freed once.
    unsafe {
        let text = CStr::from_ptr(s).to_str().unwrap().to_owned();
        pmp_string_free(s);
        serde_json::from_str(&text).unwrap()
    }
}

#[test]
fn version_and_status_names() {
    // SAFETY: static strings.
    unsafe {
        assert_eq!(
            CStr::from_ptr(pmp_version()).to_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(
            CStr::from_ptr(pmp_status_name(9)).to_str().unwrap(),
            "PMP_STATUS_OUTCOME_UNKNOWN"
        );
        assert_eq!(
            CStr::from_ptr(pmp_status_name(13)).to_str().unwrap(),
            "PMP_STATUS_PANIC"
        );
    }
}

#[test]
fn bad_input_is_rejected_with_a_named_problem() {
    let mut client: *mut pmp_client = ptr::null_mut();
    // SAFETY: NULL input with length 0 is allowed to be passed; outputs are valid locals.
    unsafe {
        assert_eq!(
            pmp_client_new(ptr::null(), 0, &mut client),
            pmp_status::NullParameter
        );
        assert!(client.is_null());
        assert_eq!(last_error()["statusName"], "PMP_STATUS_NULL_PARAMETER");
        let cfg = b"{}";
        assert_eq!(
            pmp_client_new(cfg.as_ptr(), cfg.len(), ptr::null_mut()),
            pmp_status::NullParameter
        );
        assert!(
            last_error()["message"]
                .as_str()
                .unwrap()
                .contains("client_out")
        );
    }
    let (status, client) = new_client("\u{0}");
    assert_eq!(status, pmp_status::InvalidArgument);
    assert!(client.is_null());
    let invalid_utf8 = [b'{', 0xff, 0xfe, b'}'];
    let mut out: *mut pmp_client = ptr::null_mut();
    // SAFETY: valid local buffers.
    let status = unsafe { pmp_client_new(invalid_utf8.as_ptr(), invalid_utf8.len(), &mut out) };
    assert_eq!(status, pmp_status::InvalidArgument);
    assert!(last_error()["message"].as_str().unwrap().contains("UTF-8"));
    let (status, _) = new_client("{\"tenant\": ");
    assert_eq!(status, pmp_status::InvalidArgument);
    let (status, _) = new_client(&format!(
        r#"{{"tenant":"{TENANT}","clientId":"{APP}","auth":{{"type":"clientSecret","secret":"x"}},"tenantt":1}}"#
    ));
    assert_eq!(status, pmp_status::InvalidArgument);
    let doc = last_error();
    assert!(
        doc["message"].as_str().unwrap().contains("tenantt"),
        "{doc}"
    );
    assert_eq!(doc["category"], "invalidArgument");
    let oversized = format!("{{\"tenant\":\"{}\"}}", "a".repeat(1024 * 1024));
    let (status, _) = new_client(&oversized);
    assert_eq!(status, pmp_status::InvalidArgument);
    assert!(last_error()["message"].as_str().unwrap().contains("limit"));
    let (status, _) = new_client(&format!(
        r#"{{"tenant":"common","clientId":"{APP}","auth":{{"type":"clientSecret","secret":"x"}}}}"#
    ));
    assert_eq!(status, pmp_status::InvalidConfig);
    assert_eq!(last_error()["category"], "config");
    // SAFETY: NULL is explicitly allowed.
    unsafe {
        pmp_client_free(ptr::null_mut());
        pmp_string_free(ptr::null_mut());
    }
}

#[test]
fn permissions_and_send_through_the_abi() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth()).to_string();
    let (status, client) = new_client(&config);
    assert_eq!(status, pmp_status::Ok);
    assert_eq!(last_error(), Value::Null);
    let mut report: *mut c_char = ptr::null_mut();
    // SAFETY: live client, valid locals.
    unsafe {
        assert_eq!(
            pmp_test_permissions(client, ptr::null(), 0, &mut report),
            pmp_status::Ok
        );
        let doc = take_string(report);
        assert_eq!(doc["authenticated"], true);
        assert_eq!(doc["permissions"][0]["status"], "Granted");
        let options = br#"{"forceRefresh":true,"bogus":1}"#;
        let mut untouched = std::ptr::dangling_mut::<c_char>();
        assert_eq!(
            pmp_test_permissions(client, options.as_ptr(), options.len(), &mut untouched),
            pmp_status::InvalidArgument
        );
        assert_eq!(
            untouched,
            std::ptr::dangling_mut::<c_char>(),
            "outputs are written only on success"
        );
        assert!(last_error()["message"].as_str().unwrap().contains("bogus"));

        let message = json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": "über die ABI"})
            .to_string();
        let mut result: *mut c_char = ptr::null_mut();
        assert_eq!(
            pmp_send_mail(client, message.as_ptr(), message.len(), &mut result),
            pmp_status::Ok
        );
        let doc = take_string(result);
        assert_eq!(doc["status"], "sent");
        assert_eq!(doc["uploadSession"], false);

        let bad = json!({"from": MAILBOX, "to": ["nope"]}).to_string();
        let mut untouched = std::ptr::dangling_mut::<c_char>();
        assert_eq!(
            pmp_send_mail(client, bad.as_ptr(), bad.len(), &mut untouched),
            pmp_status::InvalidArgument
        );
        assert_eq!(untouched, std::ptr::dangling_mut::<c_char>());
        let doc = last_error();
        assert!(doc["message"].as_str().unwrap().contains("to[0]"));
        assert_eq!(doc["outcome"], "failed", "a send that failed says so");
        let unreadable = br#"{"from": "#;
        assert_eq!(
            pmp_send_mail(
                client,
                unreadable.as_ptr(),
                unreadable.len(),
                &mut untouched
            ),
            pmp_status::InvalidArgument
        );
        assert_eq!(last_error()["outcome"], "failed");
        assert_eq!(
            pmp_send_mail(ptr::null(), bad.as_ptr(), bad.len(), &mut untouched),
            pmp_status::NullParameter
        );
        assert_eq!(
            pmp_send_mail(client, bad.as_ptr(), bad.len(), ptr::null_mut()),
            pmp_status::NullParameter
        );

        emu.set_faults(
            serde_json::from_value(
                json!({"rules": [{"path": "sendMail", "action": "dropAfterAccept", "count": 1}]}),
            )
            .unwrap(),
        );
        assert_eq!(
            pmp_send_mail(client, message.as_ptr(), message.len(), &mut result),
            pmp_status::OutcomeUnknown
        );
        let doc = last_error();
        assert_eq!(doc["outcome"], "unknown");
        assert_eq!(doc["status"], 9);
        pmp_client_free(client);
    }
    assert_eq!(emu.messages().len(), 2);
}

/// Host signer over the C callback: signs with the test certificate's key.
unsafe extern "C" fn test_signer(
    userdata: *mut c_void,
    params: *const pmp_sign_params,
    signature_out: *mut u8,
    capacity: usize,
    signature_len_out: *mut usize,
) -> u32 {
    // SAFETY: the library passes valid params for the duration of the call and a buffer of
    // `capacity` bytes; userdata is the &TestCert given at creation.
    unsafe {
        let cert = &*(userdata as *const TestCert);
        let params = &*params;
        let data = std::slice::from_raw_parts(params.data, params.data_len);
        let algorithm = match params.algorithm {
            PMP_SIGN_ALGORITHM_RS256 => pmp_mail::SignatureAlgorithm::Rs256,
            PMP_SIGN_ALGORITHM_PS256 => pmp_mail::SignatureAlgorithm::Ps256,
            _ => return 1,
        };
        let sig = cert.sign(algorithm, data);
        if sig.len() > capacity {
            return 2;
        }
        ptr::copy_nonoverlapping(sig.as_ptr(), signature_out, sig.len());
        *signature_len_out = sig.len();
    }
    0
}

unsafe extern "C" fn failing_signer(
    _: *mut c_void,
    _: *const pmp_sign_params,
    _: *mut u8,
    _: usize,
    _: *mut usize,
) -> u32 {
    42
}

#[test]
fn signer_callback_authenticates() {
    let emu = start_emulator();
    let cert: &'static TestCert = app_cert();
    for algorithm in ["PS256", "RS256"] {
        let mut config = config_json(&emu, APP, json!({"type": "signer"}));
        config["assertionAlgorithm"] = json!(algorithm);
        let config = config.to_string();
        let mut report: *mut c_char = ptr::null_mut();
        // SAFETY: buffers outlive the calls; the userdata (&'static TestCert) outlives the client.
        unsafe {
            let (status, client) = new_signer_client(
                &config,
                Some(test_signer),
                cert as *const TestCert as *mut c_void,
            );
            assert_eq!(status, pmp_status::Ok);
            assert_eq!(
                pmp_test_permissions(client, ptr::null(), 0, &mut report),
                pmp_status::Ok
            );
            assert_eq!(take_string(report)["authenticated"], true);
            pmp_client_free(client);
        }
    }
    let config = config_json(&emu, APP, json!({"type": "signer"})).to_string();
    let mut report: *mut c_char = ptr::null_mut();
    // SAFETY: as above.
    unsafe {
        let (status, client) = new_signer_client(&config, None, ptr::null_mut());
        assert_eq!(status, pmp_status::NullParameter);
        assert!(client.is_null());
        let (status, client) = new_signer_client(&config, Some(failing_signer), ptr::null_mut());
        assert_eq!(status, pmp_status::Ok);
        assert_eq!(
            pmp_test_permissions(client, ptr::null(), 0, &mut report),
            pmp_status::Signer
        );
        assert!(last_error()["message"].as_str().unwrap().contains("42"));
        pmp_client_free(client);
    }
}

static LOG_LINES: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());

/// The log callback is process-wide: tests that install one take turns.
static LOG_CALLBACK_TURN: Mutex<()> = Mutex::new(());

fn log_callback_turn() -> std::sync::MutexGuard<'static, ()> {
    LOG_CALLBACK_TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

unsafe extern "C" fn collect_log(_: *mut c_void, params: *const pmp_log_params) {
    // SAFETY: params and its message are valid during the callback.
    unsafe {
        let params = &*params;
        let bytes = std::slice::from_raw_parts(params.message.cast::<u8>(), params.message_len);
        LOG_LINES
            .lock()
            .unwrap()
            .push((params.level, String::from_utf8_lossy(bytes).into_owned()));
    }
}

#[test]
fn log_callback_receives_messages_without_secrets() {
    let _turn = log_callback_turn();
    let emu = start_emulator();
    // SAFETY: the callback is a plain function; no userdata.
    unsafe {
        assert_eq!(
            pmp_set_log_callback(Some(collect_log), ptr::null_mut(), 99),
            pmp_status::InvalidArgument
        );
        assert_eq!(
            pmp_set_log_callback(Some(collect_log), ptr::null_mut(), PMP_LOG_LEVEL_DEBUG),
            pmp_status::Ok
        );
    }
    let client = client_for(&emu, APP, secret_auth());
    client
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap();
    let wrong = client_for(
        &emu,
        APP,
        json!({"type": "clientSecret", "secret": "wrong-secret-xyz"}),
    );
    wrong.test_permissions(&Default::default()).unwrap();
    // SAFETY: removing the callback.
    unsafe {
        assert_eq!(
            pmp_set_log_callback(None, ptr::null_mut(), PMP_LOG_LEVEL_DEBUG),
            pmp_status::Ok
        );
    }
    let lines = LOG_LINES.lock().unwrap().clone();
    assert!(
        lines.iter().any(|(_, l)| l.contains("token from endpoint")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|(_, l)| l.contains("sendMail accepted")));
    for (level, line) in &lines {
        assert!((1..=4).contains(level));
        assert!(
            !line.contains(SECRET) && !line.contains("wrong-secret-xyz") && !line.contains("eyJ"),
            "{line}"
        );
    }
}

/// What the re-entrant log callback saw: one entry per message it received.
#[derive(Debug, Clone)]
struct ReentrantCall {
    version: String,
    status_name: String,
    last_error_status: pmp_status,
    last_error: Value,
    set_callback_status: pmp_status,
    test_permissions_status: pmp_status,
    test_permissions_error: Value,
}

static REENTRANT_CALLS: Mutex<Vec<ReentrantCall>> = Mutex::new(Vec::new());

/// A log callback that calls back into the library; `userdata` is a live `pmp_client`.
unsafe extern "C" fn reentrant_log(userdata: *mut c_void, _: *const pmp_log_params) {
    // SAFETY: static strings; `out` and `report` are valid locals whose strings are freed
    // once; `userdata` is the client given at registration, alive until it is removed.
    let call = unsafe {
        let version = CStr::from_ptr(pmp_version()).to_str().unwrap().to_owned();
        let status_name = CStr::from_ptr(pmp_status_name(7))
            .to_str()
            .unwrap()
            .to_owned();
        let mut out: *mut c_char = ptr::null_mut();
        let last_error_status = pmp_last_error(&mut out);
        let last_error_doc = if out.is_null() {
            Value::String("<not written>".into())
        } else {
            take_string(out)
        };
        // Re-registering the same callback from inside it.
        let set_callback_status =
            pmp_set_log_callback(Some(reentrant_log), userdata, PMP_LOG_LEVEL_INFO);
        // A blocking call from inside the callback (which runs inside a library call).
        let mut report: *mut c_char = ptr::null_mut();
        let test_permissions_status =
            pmp_test_permissions(userdata.cast::<pmp_client>(), ptr::null(), 0, &mut report);
        let test_permissions_error = if test_permissions_status == pmp_status::Ok {
            take_string(report);
            Value::Null
        } else {
            last_error()
        };
        ReentrantCall {
            version,
            status_name,
            last_error_status,
            last_error: last_error_doc,
            set_callback_status,
            test_permissions_status,
            test_permissions_error,
        }
    };
    REENTRANT_CALLS.lock().unwrap().push(call);
}

#[test]
fn the_log_callback_can_call_the_library() {
    let _turn = log_callback_turn();
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth()).to_string();
    let (status, client) = new_client(&config);
    assert_eq!(status, pmp_status::Ok);
    REENTRANT_CALLS.lock().unwrap().clear();
    let message = json!({"from": MAILBOX, "to": ["a@contoso.com"]}).to_string();
    let mut result: *mut c_char = ptr::null_mut();
    // SAFETY: the callback's userdata is the live client, removed before the client is freed.
    unsafe {
        assert_eq!(
            pmp_set_log_callback(Some(reentrant_log), client.cast(), PMP_LOG_LEVEL_INFO),
            pmp_status::Ok
        );
        let status = pmp_send_mail(client, message.as_ptr(), message.len(), &mut result);
        // The calls made inside the callback (on this thread) leave no trace in this thread's
        // last error: the send succeeded.
        let after_send = last_error();
        assert_eq!(
            pmp_set_log_callback(None, ptr::null_mut(), PMP_LOG_LEVEL_INFO),
            pmp_status::Ok
        );
        assert_eq!(status, pmp_status::Ok, "{after_send}");
        take_string(result);
        assert_eq!(after_send, Value::Null, "the send succeeded");
        pmp_client_free(client);
    }
    let calls = REENTRANT_CALLS.lock().unwrap().clone();
    // The send logged (token, sendMail) on this thread; other tests may add lines too.
    assert!(calls.len() >= 2, "{calls:?}");
    for call in &calls {
        assert_eq!(call.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(call.status_name, "PMP_STATUS_THROTTLED");
        assert_eq!(call.last_error_status, pmp_status::Ok, "{call:?}");
        assert!(
            call.last_error.is_null() || call.last_error.is_object(),
            "{call:?}"
        );
        assert_eq!(call.set_callback_status, pmp_status::Ok, "{call:?}");
        // A blocking call from inside a call would block a library thread on itself: it is
        // refused with a clear error that names the callback, not an INTERNAL "bug".
        assert_ne!(
            call.test_permissions_status,
            pmp_status::Internal,
            "{call:?}"
        );
        assert_eq!(
            call.test_permissions_status,
            pmp_status::InvalidArgument,
            "{call:?}"
        );
        let message = call.test_permissions_error["message"]
            .as_str()
            .unwrap_or("");
        assert!(message.contains("log callback"), "{call:?}");
    }
    assert_eq!(emu.messages().len(), 1);
}

/// Every exported function runs its whole body inside `ffi_boundary!`, so no panic can unwind
/// into a host: checked on the source, because a missing boundary only shows when something
/// panics.
#[test]
fn every_export_runs_inside_the_panic_boundary() {
    let ffi_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut exports = Vec::new();
    for entry in std::fs::read_dir(&ffi_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut functions: Vec<&syn::ItemFn> = Vec::new();
        for item in &file.items {
            if let syn::Item::Fn(f) = item {
                functions.push(f);
            }
        }
        for f in functions {
            let exported = f.attrs.iter().any(|a| {
                let text = quote::ToTokens::to_token_stream(&a.meta).to_string();
                text.contains("no_mangle")
            });
            if !exported {
                continue;
            }
            let name = f.sig.ident.to_string();
            let guarded = match f.block.stmts.as_slice() {
                [syn::Stmt::Macro(m)] => m.mac.path.is_ident("ffi_boundary"),
                [syn::Stmt::Expr(syn::Expr::Macro(m), None)] => m.mac.path.is_ident("ffi_boundary"),
                _ => false,
            };
            assert!(
                guarded,
                "{name} in {} must consist of one ffi_boundary! {{ ... }} block",
                path.display()
            );
            exports.push(name);
        }
    }
    // The scan found every function the header declares (so it cannot pass by finding none).
    let header = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pmp_mail.h"),
    )
    .unwrap();
    // A declaration is a line of code (not a comment or typedef) naming `pmp_...(`.
    let declared: Vec<&str> = header
        .lines()
        .filter(|l| !l.starts_with([' ', '/', '#', '*']) && !l.starts_with("typedef"))
        .filter_map(|l| l.split_once('(').map(|(before, _)| before))
        .filter_map(|before| {
            before
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
        })
        .filter(|name| name.starts_with("pmp_"))
        .collect();
    assert!(declared.len() >= 10, "{declared:?}");
    for name in declared {
        assert!(
            exports.iter().any(|e| e == name),
            "{name} is declared in the header but no export was found: {exports:?}"
        );
    }
}

/// A `pmp_cancel` handle, sendable to the thread that cancels.
struct SendCancel(*mut pmp_cancel);
// SAFETY: pmp_cancel_request is thread-safe; the handle outlives the thread (joined before free).
unsafe impl Send for SendCancel {}

#[test]
fn pmp_cancel_request_stops_a_throttled_send_from_another_thread() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["retry"]["maxTotalWaitSeconds"] = json!(120);
    let (status, client) = new_client(&config.to_string());
    assert_eq!(status, pmp_status::Ok);
    emu.set_faults(serde_json::from_value(json!({"rules": [{"path": "sendMail", "action": "status", "status": 429, "retryAfterSeconds": 30, "count": 10}]})).unwrap());
    let message = json!({"from": MAILBOX, "to": ["a@contoso.com"]}).to_string();
    let mut cancel: *mut pmp_cancel = ptr::null_mut();
    // SAFETY: valid locals; the handles are freed once, after the cancelling thread joined.
    unsafe {
        assert_eq!(pmp_cancel_new(ptr::null_mut()), pmp_status::NullParameter);
        assert_eq!(pmp_cancel_new(&mut cancel), pmp_status::Ok);
        pmp_cancel_request(ptr::null());
        pmp_cancel_free(ptr::null_mut());
        let remote = SendCancel(cancel);
        let canceller = std::thread::spawn(move || {
            let remote = remote;
            std::thread::sleep(std::time::Duration::from_millis(500));
            pmp_cancel_request(remote.0);
            pmp_cancel_request(remote.0);
        });
        let started = std::time::Instant::now();
        let mut out = std::ptr::dangling_mut::<c_char>();
        let status =
            pmp_send_mail_cancellable(client, message.as_ptr(), message.len(), cancel, &mut out);
        canceller.join().unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(status, pmp_status::Cancelled);
        assert_eq!(out, std::ptr::dangling_mut::<c_char>());
        let e = last_error();
        assert_eq!(e["status"], 16);
        assert_eq!(e["statusName"], "PMP_STATUS_CANCELLED");
        assert_eq!(e["category"], "cancelled");
        assert_eq!(e["outcome"], "failed");
        assert_eq!(
            CStr::from_ptr(pmp_status_name(16)).to_str().unwrap(),
            "PMP_STATUS_CANCELLED"
        );
        // The handle stays cancelled: the next call sends nothing.
        let mut report: *mut c_char = ptr::null_mut();
        assert_eq!(
            pmp_test_permissions_cancellable(client, ptr::null(), 0, cancel, &mut report),
            pmp_status::Cancelled
        );
        // NULL cancel: an ordinary call.
        emu.set_faults(serde_json::from_value(json!({"rules": []})).unwrap());
        let mut result: *mut c_char = ptr::null_mut();
        assert_eq!(
            pmp_send_mail_cancellable(
                client,
                message.as_ptr(),
                message.len(),
                ptr::null(),
                &mut result
            ),
            pmp_status::Ok
        );
        assert_eq!(take_string(result)["status"], "sent");
        pmp_cancel_free(cancel);
        pmp_client_free(client);
    }
    assert_eq!(emu.counters().send_mail_requests, 2);
    assert_eq!(emu.messages().len(), 1);
}
