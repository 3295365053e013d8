//! The per-client token cache: single-flight and keep-serving-on-failed-refresh.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use pmp_graph_emulator::FaultPlan;
use pmp_mail::PermissionOptions;
use serde_json::json;

fn faults(value: serde_json::Value) -> FaultPlan {
    serde_json::from_value(value).unwrap()
}

/// Runs `test_permissions` on `threads` threads released at the same instant.
fn concurrent_reports(
    client: &pmp_mail::Client,
    threads: usize,
) -> Vec<pmp_mail::PermissionReport> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let client = client.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                client
                    .test_permissions(&PermissionOptions::default())
                    .unwrap()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn sixty_four_threads_on_a_cold_cache_make_one_token_request() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let reports = concurrent_reports(&client, 64);
    assert!(reports.iter().all(|r| r.authenticated));
    assert_eq!(emu.counters().token_requests, 1);
    let from_endpoint = reports
        .iter()
        .filter(|r| r.token_source.as_deref() == Some("endpoint"))
        .count();
    assert_eq!(from_endpoint, 1);
}

#[test]
fn sixty_four_threads_on_an_expiring_cache_make_one_refresh() {
    // Lifetime 302 s with the default 300 s margin: the token wants a refresh after 2 s.
    let emu = start_emulator_with(Some(302));
    let client = client_for(&emu, APP, secret_auth());
    client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    std::thread::sleep(Duration::from_millis(2200));
    concurrent_reports(&client, 64);
    assert_eq!(emu.counters().token_requests, 2);
}

#[test]
fn failed_refresh_keeps_serving_the_valid_token() {
    let emu = start_emulator_with(Some(302));
    let client = client_for(&emu, APP, secret_auth());
    let first = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert_eq!(first.token_source.as_deref(), Some("endpoint"));
    std::thread::sleep(Duration::from_millis(2200));
    emu.set_faults(faults(
        json!({"rules": [{"path": "token", "action": "status", "status": 500, "count": 100}]}),
    ));
    let second = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert!(second.authenticated);
    assert_eq!(second.token_source.as_deref(), Some("cache"));
    assert_eq!(second.token_expires_on, first.token_expires_on);
    assert!(
        second
            .log
            .iter()
            .any(|l| l.contains("token refresh failed")),
        "{:?}",
        second.log
    );
    // Sending works with the old token too.
    client
        .send_mail(&message(
            json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": "still fine"}),
        ))
        .unwrap();
    assert_eq!(emu.counters().tokens_issued, 1);
    // A forced refresh reports the failure instead of hiding it.
    let e = client
        .test_permissions(&PermissionOptions {
            force_refresh: true,
        })
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::Network);
}
