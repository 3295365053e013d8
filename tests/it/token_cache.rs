//! The per-client token cache: single-flight and keep-serving-on-failed-refresh.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::common::*;
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
    // Lifetime 305 s with the default 300 s margin: the token wants a refresh after 5 s, and so
    // does its replacement, which leaves the 64 threads 5 s to all pass the cache.
    let emu = start_emulator_with(Some(305));
    let client = client_for(&emu, APP, secret_auth());
    client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    std::thread::sleep(Duration::from_millis(5200));
    concurrent_reports(&client, 64);
    assert_eq!(emu.counters().token_requests, 2);
}

/// Token requests made after `calls` reports, one after the other.
fn token_requests_after(
    emu: &pmp_graph_emulator::Emulator,
    client: &pmp_mail::Client,
    calls: usize,
) -> u64 {
    for _ in 0..calls {
        client
            .test_permissions(&PermissionOptions::default())
            .unwrap();
    }
    emu.counters().token_requests
}

#[test]
fn token_refresh_margin_from_the_config_is_honoured() {
    // A 40 s token with a 36 s margin is reused for 4 s, then refreshed. The default margin
    // (300 s) would refresh it on every call.
    let emu = start_emulator_with(Some(40));
    let mut config = config_json(&emu, APP, secret_auth());
    config["tokenRefreshMarginSeconds"] = json!(36);
    let client = client_from(config);
    assert_eq!(token_requests_after(&emu, &client, 3), 1);
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(token_requests_after(&emu, &client, 2), 2);
}

#[test]
fn entra_refresh_in_brings_the_refresh_forward() {
    // A one-hour token whose response says refresh_in 3: refreshed after 3 s, not after 55 min.
    let emu = start_configured(|o| o.token_refresh_in_seconds = Some(3));
    let client = client_for(&emu, APP, secret_auth());
    assert_eq!(token_requests_after(&emu, &client, 3), 1);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(token_requests_after(&emu, &client, 2), 2);
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
    // After the failed refresh the cache backs off: the report and the send above asked the
    // broken endpoint once, not once each.
    assert_eq!(emu.counters().token_requests, 2);
    // A forced refresh reports the failure instead of hiding it.
    let e = client
        .test_permissions(&PermissionOptions {
            force_refresh: true,
        })
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::Network);
}
