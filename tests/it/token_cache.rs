//! The token cache: single-flight, when tokens are refreshed (never later than half their
//! lifetime), keep-serving-on-failed-refresh, what a throttled or failing token endpoint is
//! reported as; and the process-wide sharing between clients (same credentials share one token,
//! a token outlives its client, a wrong credential never gets another's token).

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
    // A handle of its own: a token another test's client cached for an earlier emulator on
    // the same (reused) port would otherwise answer the permission test below.
    config["tokenCache"] = json!("client");
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
    config["tokenCache"] = json!("client");
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
            ..Default::default()
        })
        .unwrap_err();
    // Entra answered (HTTP 500): a service error with its answer, not "no answer".
    assert_eq!(e.status, pmp_mail::Status::GraphError, "{e:?}");
    assert_eq!(e.http_status, Some(500));
}

// ---- The process-wide cache: separate handles with the same credentials share one token. ----
// Every test starts its own emulator, on its own port: the token endpoint is part of the key, so
// tests running on other threads of this binary never share a token with these.

fn send_one(client: &pmp_mail::Client, subject: &str) {
    client
        .send_mail(&message(
            json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": subject}),
        ))
        .unwrap();
}

fn report_of(client: &pmp_mail::Client) -> pmp_mail::PermissionReport {
    client
        .test_permissions(&PermissionOptions::default())
        .unwrap()
}

#[test]
fn two_clients_from_the_same_config_make_one_token_request() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth());
    let first = client_from(config.clone());
    let second = client_from(config);
    send_one(&first, "one");
    send_one(&second, "two");
    assert_eq!(emu.counters().token_requests, 1);
    assert_eq!(emu.messages().len(), 2);
    // The second client reports the token it did not fetch as coming from the cache.
    assert_eq!(report_of(&second).token_source.as_deref(), Some("cache"));
}

#[test]
fn a_token_outlives_the_client_that_fetched_it() {
    // The foreach loop of a script: a client per message, each freed before the next.
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth());
    for i in 0..5 {
        let client = client_from(config.clone());
        send_one(&client, &format!("#{i}"));
        drop(client);
    }
    assert_eq!(emu.counters().token_requests, 1);
    assert_eq!(emu.messages().len(), 5);
}

#[test]
fn a_wrong_secret_fails_even_while_the_right_secrets_token_is_cached() {
    let emu = start_emulator();
    let right = client_for(&emu, APP, secret_auth());
    send_one(&right, "right");
    assert_eq!(emu.counters().token_requests, 1);
    let wrong = client_for(
        &emu,
        APP,
        json!({"type": "clientSecret", "secret": "not-the-secret"}),
    );
    let e = wrong
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap_err();
    assert_eq!(e.aadsts, Some(7000215), "{e:?}");
    assert_eq!(e.status, pmp_mail::Status::AuthenticationFailed);
    assert_eq!(
        emu.counters().token_requests,
        2,
        "the wrong secret asked Entra"
    );
    let report = wrong
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert!(!report.authenticated, "{report:?}");
    // The right secret's token is still served.
    send_one(&right, "still right");
    assert_eq!(emu.counters().tokens_issued, 1);
    assert_eq!(emu.messages().len(), 2);
}

#[test]
fn another_client_id_or_tenant_gets_its_own_token() {
    let emu = start_emulator();
    let app = client_for(&emu, APP, secret_auth());
    let send_only = client_for(&emu, APP_SEND_ONLY, secret_auth());
    let mut by_domain = config_json(&emu, APP, secret_auth());
    by_domain["tenant"] = json!(DOMAIN);
    let by_domain = client_from(by_domain);
    for client in [&app, &send_only, &by_domain] {
        assert_eq!(report_of(client).token_source.as_deref(), Some("endpoint"));
    }
    assert_eq!(emu.counters().token_requests, 3);
    let mut other_margin = config_json(&emu, APP, secret_auth());
    other_margin["tokenRefreshMarginSeconds"] = json!(60);
    let other_margin = client_from(other_margin);
    assert_eq!(
        report_of(&other_margin).token_source.as_deref(),
        Some("endpoint")
    );
    assert_eq!(emu.counters().token_requests, 4);
}

#[test]
fn token_cache_client_keeps_a_cache_per_client() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["tokenCache"] = json!("client");
    let first = client_from(config.clone());
    let second = client_from(config.clone());
    assert_eq!(report_of(&first).token_source.as_deref(), Some("endpoint"));
    assert_eq!(report_of(&second).token_source.as_deref(), Some("endpoint"));
    assert_eq!(report_of(&first).token_source.as_deref(), Some("cache"));
    assert_eq!(emu.counters().token_requests, 2);
    // Freed, its token goes with it.
    drop(first);
    let third = client_from(config);
    assert_eq!(report_of(&third).token_source.as_deref(), Some("endpoint"));
    assert_eq!(emu.counters().token_requests, 3);
}

#[test]
fn threads_on_several_cold_clients_make_one_token_request() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth());
    let clients: Vec<_> = (0..8).map(|_| client_from(config.clone())).collect();
    let threads_per_client = 6;
    let barrier = Arc::new(Barrier::new(clients.len() * threads_per_client));
    let handles: Vec<_> = clients
        .iter()
        .flat_map(|client| (0..threads_per_client).map(move |_| client.clone()))
        .map(|client| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                report_of(&client)
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(reports.iter().all(|r| r.authenticated));
    assert_eq!(emu.counters().token_requests, 1);
    let from_endpoint = reports
        .iter()
        .filter(|r| r.token_source.as_deref() == Some("endpoint"))
        .count();
    assert_eq!(from_endpoint, 1);
}

#[test]
fn a_forced_refresh_on_one_client_is_the_token_of_all() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth());
    let (first, second) = (client_from(config.clone()), client_from(config));
    let before = report_of(&first);
    // Later by more than a second, so the refreshed token's expiry differs from the first's.
    std::thread::sleep(Duration::from_millis(1100));
    let refreshed = second
        .test_permissions(&PermissionOptions {
            force_refresh: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(refreshed.token_source.as_deref(), Some("endpoint"));
    assert_eq!(emu.counters().token_requests, 2);
    assert_ne!(refreshed.token_expires_on, before.token_expires_on);
    let after = report_of(&first);
    assert_eq!(after.token_source.as_deref(), Some("cache"));
    assert_eq!(after.token_expires_on, refreshed.token_expires_on);
    send_one(&first, "after the refresh");
    assert_eq!(emu.counters().token_requests, 2);
    assert_eq!(emu.counters().tokens_issued, 2);
}

#[test]
fn a_token_replaced_after_graphs_401_is_the_token_of_all() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, secret_auth());
    let (first, second) = (client_from(config.clone()), client_from(config));
    send_one(&first, "warm");
    emu.set_faults(faults(json!({"rules": [{"path": "sendMail", "action": "status", "status": 401, "graphCode": "InvalidAuthenticationToken", "count": 1}]})));
    let replaced = second
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap();
    assert_eq!(replaced.attempts, 2);
    assert_eq!(emu.counters().tokens_issued, 2);
    let after = first
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap();
    assert_eq!(after.attempts, 1);
    assert_eq!(
        emu.counters().tokens_issued,
        2,
        "the first client took the replacement"
    );
}

#[test]
fn host_signer_clients_do_not_share() {
    use pmp_mail::{Client, Config, SignatureAlgorithm};
    let emu = start_emulator();
    let config = config_json(&emu, APP, json!({"type": "signer"}));
    let signer = Arc::new(|alg: SignatureAlgorithm, data: &[u8]| Ok(app_cert().sign(alg, data)));
    let make = || {
        Client::with_signer(
            Config::from_json(&config.to_string()).unwrap(),
            &app_cert().cert_der,
            signer.clone(),
        )
        .unwrap()
    };
    let (first, second) = (make(), make());
    assert_eq!(report_of(&first).token_source.as_deref(), Some("endpoint"));
    assert_eq!(report_of(&second).token_source.as_deref(), Some("endpoint"));
    assert_eq!(emu.counters().token_requests, 2);
    // A client secret for the same app does not take a host signer's token either.
    let secret = client_for(&emu, APP, secret_auth());
    assert_eq!(report_of(&secret).token_source.as_deref(), Some("endpoint"));
    assert_eq!(emu.counters().token_requests, 3);
}

#[test]
fn certificate_clients_share_only_with_the_same_private_key() {
    let emu = start_emulator();
    let pem = |cert: &TestCert| json!({"type": "certificatePem", "certificatePem": cert.cert_pem, "privateKeyPem": cert.key_pem});
    let first = client_for(&emu, APP, pem(app_cert()));
    let second = client_for(&emu, APP, pem(app_cert()));
    // The same key from a PFX: the same credential.
    let pfx = client_for(
        &emu,
        APP,
        json!({"type": "certificatePfx", "pfxBase64": b64(&app_cert().pfx("pw")), "password": "pw"}),
    );
    for client in [&first, &second, &pfx] {
        report_of(client);
    }
    assert_eq!(emu.counters().token_requests, 1);
    // An unregistered certificate for the same app fails on its own.
    let stranger = client_for(&emu, APP, pem(stranger_cert()));
    assert!(!report_of(&stranger).authenticated);
    assert_eq!(emu.counters().token_requests, 2);
}

#[test]
fn managed_identity_clients_share_one_token() {
    use crate::managed_identity::{app_service, imds, mi_config, start};
    let emu = start();
    let config = mi_config(&emu, json!({"type": "managedIdentity"}), app_service(&emu));
    for i in 0..3 {
        let client = client_from(config.clone());
        client
            .send_mail(&message(
                json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": format!("#{i}")}),
            ))
            .unwrap();
    }
    assert_eq!(emu.counters().token_requests, 1);
    // Another source (IMDS), or another identity, is another token.
    let imds_client = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity"}),
        imds(&emu),
    ));
    report_of(&imds_client);
    assert_eq!(emu.counters().token_requests, 2);
    let user = client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity", "clientId": crate::managed_identity::MI_USER}),
        app_service(&emu),
    ));
    report_of(&user);
    report_of(&client_from(mi_config(
        &emu,
        json!({"type": "managedIdentity", "clientId": crate::managed_identity::MI_USER}),
        app_service(&emu),
    )));
    assert_eq!(emu.counters().token_requests, 3);
}
