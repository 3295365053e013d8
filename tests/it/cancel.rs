//! Cancellation: a cancel from another thread ends a long wait (a 429's Retry-After) at once,
//! never abandons a request in flight, and says whether anything may have been sent.

use std::time::{Duration, Instant};

use crate::common::*;
use pmp_graph_emulator::FaultPlan;
use pmp_mail::{CancelToken, Outcome, PermissionOptions, Status};
use serde_json::json;

fn faults(value: serde_json::Value) -> FaultPlan {
    serde_json::from_value(value).unwrap()
}

/// A hang guard, not a timing claim: the waits cancelled here are 30 s.
const QUICKLY: Duration = Duration::from_secs(10);

/// Cancels `token` from another thread after ~0.5 s.
fn cancel_soon(token: &CancelToken) -> std::thread::JoinHandle<()> {
    let token = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        token.cancel();
    })
}

/// A client that would honour a 30 s Retry-After (the suite's default wait budget is 20 s).
fn patient_client(emu: &pmp_graph_emulator::Emulator) -> pmp_mail::Client {
    client_from(patient_config(emu))
}

fn patient_config(emu: &pmp_graph_emulator::Emulator) -> serde_json::Value {
    let mut config = config_json(emu, APP, secret_auth());
    config["retry"]["maxTotalWaitSeconds"] = json!(120);
    config
}

fn a_message() -> pmp_mail::Message {
    message(json!({"from": MAILBOX, "to": ["a@contoso.com"]}))
}

#[test]
fn cancel_ends_a_send_mail_retry_after_wait() {
    let emu = start_emulator();
    let client = patient_client(&emu);
    emu.set_faults(faults(json!({"rules": [{"path": "sendMail", "action": "status", "status": 429, "retryAfterSeconds": 30, "count": 10}]})));
    let token = CancelToken::new();
    let canceller = cancel_soon(&token);
    let started = Instant::now();
    let e = client
        .send_mail_cancellable(&a_message(), Some(&token))
        .unwrap_err();
    canceller.join().unwrap();
    assert!(started.elapsed() < QUICKLY, "{:?}", started.elapsed());
    assert_eq!(e.status, Status::Cancelled, "{e:?}");
    assert_eq!(e.to_document().category, "cancelled");
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert_eq!(e.attempts, Some(1));
    assert_eq!(emu.counters().send_mail_requests, 1);
    assert!(emu.messages().is_empty());
    // Nothing goes out afterwards either.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(emu.counters().send_mail_requests, 1);
}

#[test]
fn cancel_ends_a_throttled_token_request_wait() {
    let emu = start_emulator();
    let client = patient_client(&emu);
    emu.set_faults(faults(json!({"rules": [{"path": "token", "action": "status", "status": 429, "retryAfterSeconds": 30, "count": 10}]})));
    let token = CancelToken::new();
    let canceller = cancel_soon(&token);
    let started = Instant::now();
    let e = client
        .send_mail_cancellable(&a_message(), Some(&token))
        .unwrap_err();
    canceller.join().unwrap();
    assert!(started.elapsed() < QUICKLY, "{:?}", started.elapsed());
    assert_eq!(e.status, Status::Cancelled, "{e:?}");
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert_eq!(emu.counters().token_requests, 1);
    assert_eq!(emu.counters().send_mail_requests, 0);
    assert!(emu.messages().is_empty());

    // The permission test is cancellable the same way.
    let token = CancelToken::new();
    let canceller = cancel_soon(&token);
    let started = Instant::now();
    let e = client
        .test_permissions_cancellable(&PermissionOptions::default(), Some(&token))
        .unwrap_err();
    canceller.join().unwrap();
    assert!(started.elapsed() < QUICKLY, "{:?}", started.elapsed());
    assert_eq!(e.status, Status::Cancelled, "{e:?}");
    assert_eq!(emu.counters().token_requests, 2);
}

#[test]
fn cancel_before_the_call_sends_no_request() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let token = CancelToken::new();
    token.cancel();
    let e = client
        .send_mail_cancellable(&a_message(), Some(&token))
        .unwrap_err();
    assert_eq!(e.status, Status::Cancelled, "{e:?}");
    assert_eq!(e.outcome, Some(Outcome::Failed));
    let e = client
        .test_permissions_cancellable(&PermissionOptions::default(), Some(&token))
        .unwrap_err();
    assert_eq!(e.status, Status::Cancelled, "{e:?}");
    let counters = emu.counters();
    assert_eq!(counters.token_requests, 0);
    assert_eq!(counters.send_mail_requests, 0);
    assert!(emu.messages().is_empty());
}

#[test]
fn cancel_after_a_possibly_delivered_attempt_is_an_unknown_outcome() {
    let emu = start_emulator();
    let mut config = patient_config(&emu);
    config["retry"]["retryUnknownOutcome"] = json!(true);
    let client = client_from(config);
    // A 500 on a send may come after acceptance; the retry then meets a long 429.
    emu.set_faults(faults(json!({"rules": [
        {"path": "sendMail", "action": "status", "status": 500, "count": 1},
        {"path": "sendMail", "action": "status", "status": 429, "retryAfterSeconds": 30, "count": 10}
    ]})));
    let token = CancelToken::new();
    let canceller = std::thread::spawn({
        let token = token.clone();
        move || {
            std::thread::sleep(Duration::from_millis(2500));
            token.cancel();
        }
    });
    let started = Instant::now();
    let e = client
        .send_mail_cancellable(&a_message(), Some(&token))
        .unwrap_err();
    canceller.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.status, Status::Cancelled, "{e:?}");
    assert_eq!(e.outcome, Some(Outcome::Unknown), "{e:?}");
    assert_eq!(emu.counters().send_mail_requests, 2);
}

#[test]
fn a_cancel_token_left_alone_changes_nothing() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    emu.set_faults(faults(json!({"rules": [{"path": "sendMail", "action": "status", "status": 429, "retryAfterSeconds": 1, "count": 1}]})));
    let token = CancelToken::new();
    let result = client
        .send_mail_cancellable(&a_message(), Some(&token))
        .unwrap();
    assert_eq!(result.attempts, 2);
    assert_eq!(emu.messages().len(), 1);
}
