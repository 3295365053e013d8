//! The per-client token cache: single-flight, when tokens are refreshed (never later than half
//! their lifetime), keep-serving-on-failed-refresh, and what a throttled or failing token
//! endpoint is reported as.

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
    // A 10 s token: the default 300 s margin is cut to half the lifetime, so the token wants a
    // refresh after 5 s, and so does its replacement, which leaves the 64 threads 5 s to all
    // pass the cache.
    let emu = start_emulator_with(Some(10));
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
    // A 10 s token with a 2 s margin is reused for 8 s, then refreshed. The default margin
    // (300 s, cut to half the lifetime) would refresh it after 5 s.
    let emu = start_emulator_with(Some(10));
    let mut config = config_json(&emu, APP, secret_auth());
    config["tokenRefreshMarginSeconds"] = json!(2);
    let client = client_from(config);
    assert_eq!(token_requests_after(&emu, &client, 3), 1);
    std::thread::sleep(Duration::from_millis(5500));
    assert_eq!(token_requests_after(&emu, &client, 2), 1);
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(token_requests_after(&emu, &client, 2), 2);
}

/// Token requests made for `sends` messages sent one after the other.
fn token_requests_for_sends(
    emu: &pmp_graph_emulator::Emulator,
    client: &pmp_mail::Client,
    sends: usize,
) -> u64 {
    for i in 0..sends {
        client
            .send_mail(&message(
                json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": format!("#{i}")}),
            ))
            .unwrap();
    }
    emu.counters().token_requests
}

#[test]
fn a_token_living_no_longer_than_the_margin_is_reused_for_half_its_lifetime() {
    // Lifetimes at and below the default margin (300 s): the effective margin is at most half
    // the lifetime, so one token serves every send of the next minutes.
    for lifetime in [300, 120] {
        let emu = start_emulator_with(Some(lifetime));
        let client = client_for(&emu, APP, secret_auth());
        let requests = token_requests_for_sends(&emu, &client, 20);
        println!("token lifetime {lifetime} s: {requests} token request(s) for 20 sends");
        assert_eq!(requests, 1, "token lifetime {lifetime} s");
        assert_eq!(emu.messages().len(), 20);
    }
}

#[test]
fn a_margin_under_thirty_seconds_keeps_serving_the_old_token_when_a_refresh_fails() {
    // A 12 s token with a 4 s margin: refreshed after 8 s; until then, and for a while after,
    // it is still valid, so a failed refresh at 8.3 s must keep serving it.
    let emu = start_emulator_with(Some(12));
    let mut config = config_json(&emu, APP, secret_auth());
    config["tokenRefreshMarginSeconds"] = json!(4);
    let client = client_from(config);
    let first = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert_eq!(first.token_source.as_deref(), Some("endpoint"));
    let second = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert_eq!(second.token_source.as_deref(), Some("cache"));
    std::thread::sleep(Duration::from_millis(8300));
    emu.set_faults(faults(
        json!({"rules": [{"path": "token", "action": "status", "status": 500, "count": 100}]}),
    ));
    let third = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert!(third.authenticated, "{third:?}");
    assert_eq!(third.token_source.as_deref(), Some("cache"));
    assert_eq!(third.token_expires_on, first.token_expires_on);
    assert!(
        third.log.iter().any(|l| l.contains("token refresh failed")),
        "{:?}",
        third.log
    );
    client
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap();
    assert_eq!(emu.counters().tokens_issued, 1);
    assert_eq!(emu.counters().token_requests, 2);
}

#[test]
fn a_token_endpoint_still_throttling_after_the_retries_is_reported_as_throttled() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["retry"] = json!({"maxAttempts": 2, "maxTotalWaitSeconds": 10});
    let client = client_from(config);
    emu.set_faults(faults(json!({"rules": [
        {"path": "token", "action": "status", "status": 429, "retryAfterSeconds": 1, "count": 100}
    ]})));
    let e = client
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::Throttled, "{e:?}");
    assert_eq!(e.outcome, Some(pmp_mail::Outcome::Failed));
    assert_eq!(e.http_status, Some(429));
    assert_eq!(e.aadsts, Some(90033), "the AAD answer is kept: {e:?}");
    assert_eq!(e.retry_after_seconds, Some(1));
    assert_eq!(e.attempts, Some(2));
    assert!(e.message.contains("AADSTS90033"), "{}", e.message);
    assert_eq!(emu.counters().token_requests, 2);
    assert!(emu.messages().is_empty());
    // The permission test reports it the same way (not as "authenticated: false").
    let e = client
        .test_permissions(&PermissionOptions::default())
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::Throttled, "{e:?}");
}

#[test]
fn a_token_endpoint_still_unavailable_after_the_retries_is_a_service_error_not_no_answer() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["retry"] = json!({"maxAttempts": 2, "maxTotalWaitSeconds": 10});
    let client = client_from(config);
    emu.set_faults(faults(json!({"rules": [
        {"path": "token", "action": "status", "status": 503, "retryAfterSeconds": 1, "count": 100}
    ]})));
    let e = client
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap_err();
    assert_ne!(e.status, pmp_mail::Status::Network, "Entra answered: {e:?}");
    assert_eq!(e.status, pmp_mail::Status::GraphError, "{e:?}");
    assert_eq!(e.http_status, Some(503));
    assert_eq!(e.aadsts, Some(90033));
    assert_eq!(e.entra_error.as_deref(), Some("temporarily_unavailable"));
    assert_eq!(e.retry_after_seconds, Some(1));
    assert_eq!(e.attempts, Some(2));
    assert!(
        e.message.contains("Entra ID") && e.message.contains("AADSTS90033"),
        "{}",
        e.message
    );
    assert!(
        e.remedy.as_deref().unwrap_or_default().contains("later"),
        "{e:?}"
    );
    assert_eq!(emu.counters().token_requests, 2);
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
    // A one-hour token that Entra asks to refresh after 2 s.
    let emu = start_configured(|o| o.token_refresh_in_seconds = Some(2));
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
    // Entra answered (HTTP 500): a service error with its answer, not "no answer".
    assert_eq!(e.status, pmp_mail::Status::GraphError, "{e:?}");
    assert_eq!(e.http_status, Some(500));
}
