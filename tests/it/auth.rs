//! Authentication modes, permission reports and AADSTS diagnosis, against the emulator.

use std::sync::Arc;

use crate::common::*;
use pmp_mail::permission::PermissionState;
use pmp_mail::{Client, Config, PermissionOptions, SignatureAlgorithm, Status};
use serde_json::json;

fn report(client: &Client) -> pmp_mail::PermissionReport {
    client
        .test_permissions(&PermissionOptions::default())
        .unwrap()
}

fn assert_granted(report: &pmp_mail::PermissionReport) {
    assert!(report.authenticated, "{report:?}");
    assert!(report.roles_readable);
    assert_eq!(report.tenant_id.as_deref(), Some(TENANT));
    assert_eq!(report.app_id.as_deref(), Some(APP));
    assert_eq!(
        report.app_display_name.as_deref(),
        Some("Patch notifications")
    );
    assert_eq!(report.permissions[0].name, "Mail.Send");
    assert_eq!(report.permissions[0].status, PermissionState::Granted);
    assert_eq!(report.permissions[1].status, PermissionState::Granted);
    assert!(report.token_expires_on.is_some());
}

#[test]
fn client_secret_authenticates_and_reports_permissions() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let first = report(&client);
    assert_granted(&first);
    assert_eq!(first.token_source.as_deref(), Some("endpoint"));
    assert!(first.warnings.iter().any(|w| w.contains("ANY mailbox")));
    assert!(first.warnings.iter().any(|w| w.contains("additive")));
    assert!(first.warnings.iter().any(|w| w.contains("RBAC")));
    let second = report(&client);
    assert_eq!(second.token_source.as_deref(), Some("cache"));
    let forced = client
        .test_permissions(&PermissionOptions {
            force_refresh: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(forced.token_source.as_deref(), Some("endpoint"));
    assert_eq!(emu.counters().tokens_issued, 2);
}

#[test]
fn tenant_as_domain_and_authority_url() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["tenant"] = json!(DOMAIN);
    assert_granted(&report(&client_from(config.clone())));
    config["tenant"] = json!(format!("{}/{DOMAIN}", emu.base_url()));
    config.as_object_mut().unwrap().remove("authorityHost");
    assert_granted(&report(&client_from(config)));
}

#[test]
fn pfx_from_base64_and_from_path() {
    let emu = start_emulator();
    let pfx = app_cert().pfx("pfx-pass");
    let client = client_for(
        &emu,
        APP,
        json!({"type": "certificatePfx", "pfxBase64": b64(&pfx), "password": "pfx-pass"}),
    );
    assert_granted(&report(&client));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pfx");
    std::fs::write(&path, &pfx).unwrap();
    let client = client_for(
        &emu,
        APP,
        json!({"type": "certificatePfx", "pfxPath": path, "password": "pfx-pass"}),
    );
    assert_granted(&report(&client));
    let tokens = emu.tokens();
    assert!(
        tokens.iter().all(|t| t.credential == "certificate"),
        "{tokens:?}"
    );
}

#[test]
fn pfx_with_wrong_password_is_a_credential_error() {
    let emu = start_emulator();
    let pfx = app_cert().pfx("right");
    let config = config_json(
        &emu,
        APP,
        json!({"type": "certificatePfx", "pfxBase64": b64(&pfx), "password": "wrong"}),
    );
    let e = Client::new(Config::from_json(&config.to_string()).unwrap()).unwrap_err();
    assert_eq!(e.status, Status::Credential);
    assert!(!e.to_json().contains("wrong\""), "{}", e.to_json());
}

#[test]
fn pem_certificate_ps256_and_rs256() {
    let emu = start_emulator();
    for algorithm in ["PS256", "RS256"] {
        let mut config = config_json(
            &emu,
            APP,
            json!({"type": "certificatePem", "certificatePem": app_cert().cert_pem, "privateKeyPem": app_cert().key_pem}),
        );
        config["assertionAlgorithm"] = json!(algorithm);
        assert_granted(&report(&client_from(config)));
    }
}

#[test]
fn pem_from_files() {
    let emu = start_emulator();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.crt"), &app_cert().cert_pem).unwrap();
    std::fs::write(dir.path().join("app.key"), &app_cert().key_pem).unwrap();
    let client = client_for(
        &emu,
        APP,
        json!({"type": "certificatePem", "certificatePath": dir.path().join("app.crt"), "privateKeyPath": dir.path().join("app.key")}),
    );
    assert_granted(&report(&client));
}

#[test]
fn mismatched_key_and_certificate_are_rejected_locally() {
    let emu = start_emulator();
    let config = config_json(
        &emu,
        APP,
        json!({"type": "certificatePem", "certificatePem": app_cert().cert_pem, "privateKeyPem": stranger_cert().key_pem}),
    );
    let e = Client::new(Config::from_json(&config.to_string()).unwrap()).unwrap_err();
    assert_eq!(e.status, Status::Credential);
    assert!(e.message.contains("does not belong"), "{}", e.message);
}

#[test]
fn host_signer_closure_both_algorithms() {
    let emu = start_emulator();
    for (algorithm, expected) in [
        ("PS256", SignatureAlgorithm::Ps256),
        ("RS256", SignatureAlgorithm::Rs256),
    ] {
        let mut config = config_json(&emu, APP, json!({"type": "signer"}));
        config["assertionAlgorithm"] = json!(algorithm);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let signer = move |alg: SignatureAlgorithm, data: &[u8]| {
            assert_eq!(alg, expected);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(app_cert().sign(alg, data))
        };
        let client = Client::with_signer(
            Config::from_json(&config.to_string()).unwrap(),
            &app_cert().cert_der,
            Arc::new(signer),
        )
        .unwrap();
        assert_granted(&report(&client));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}

#[test]
fn failing_signer_is_a_signer_error() {
    let emu = start_emulator();
    let config = config_json(&emu, APP, json!({"type": "signer"}));
    let signer = |_: SignatureAlgorithm, _: &[u8]| -> pmp_mail::error::Result<Vec<u8>> {
        Err(pmp_mail::Error::new(Status::Signer, "smart card removed"))
    };
    let client = Client::with_signer(
        Config::from_json(&config.to_string()).unwrap(),
        &app_cert().cert_der,
        Arc::new(signer),
    )
    .unwrap();
    let e = client
        .test_permissions(&PermissionOptions::default())
        .unwrap_err();
    assert_eq!(e.status, Status::Signer);
}

#[test]
fn missing_mail_send_and_unconsented_read_write() {
    let emu = start_emulator();
    let r = report(&client_for(&emu, APP_NO_ROLES, secret_auth()));
    assert!(r.authenticated && r.roles_readable);
    assert!(r.roles.is_empty());
    assert_eq!(r.permissions[0].status, PermissionState::Missing);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("Mail.Send is not in the token"))
    );
    let r = report(&client_for(&emu, APP_SEND_ONLY, secret_auth()));
    assert_eq!(r.permissions[0].status, PermissionState::Granted);
    assert_eq!(r.permissions[1].status, PermissionState::Missing);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("Mail.ReadWrite is missing"))
    );
}

/// Expects `authenticated: false` with this AADSTS code, category and a remedy mentioning
/// `remedy_hint`.
fn expect_rejection(client: &Client, aadsts: u32, status: Status, remedy_hint: &str) {
    let r = report(client);
    assert!(!r.authenticated, "{r:?}");
    let e = r.error.expect("an error document");
    assert_eq!(e.aadsts, Some(aadsts), "{e:?}");
    assert_eq!(e.status, status.code(), "{e:?}");
    assert_eq!(e.category, status.category());
    let remedy = e.remedy.unwrap_or_default();
    assert!(
        remedy.contains(remedy_hint),
        "remedy for {aadsts}: {remedy}"
    );
    assert!(
        e.trace_id.is_some() && e.correlation_id.is_some(),
        "{:?}",
        e.trace_id
    );
    assert!(e.entra_error.is_some());
    let text = serde_json::to_string(&r.log).unwrap();
    assert!(!text.contains(SECRET));
}

#[test]
fn aadsts_wrong_secret() {
    let emu = start_emulator();
    let client = client_for(
        &emu,
        APP,
        json!({"type": "clientSecret", "secret": "not-the-secret"}),
    );
    expect_rejection(&client, 7000215, Status::AuthenticationFailed, "Secret ID");
    let r = report(&client);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("not-the-secret"), "{json}");
}

#[test]
fn aadsts_expired_secret() {
    let emu = start_emulator();
    let client = client_for(
        &emu,
        APP_EXPIRED_SECRET,
        json!({"type": "clientSecret", "secret": EXPIRED_SECRET}),
    );
    expect_rejection(
        &client,
        7000222,
        Status::AuthenticationFailed,
        "new client secret",
    );
}

#[test]
fn aadsts_app_not_in_tenant() {
    let emu = start_emulator();
    let client = client_for(&emu, "99999999-9999-9999-9999-999999999999", secret_auth());
    expect_rejection(&client, 700016, Status::AuthenticationFailed, "clientId");
}

#[test]
fn aadsts_tenant_not_found() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["tenant"] = json!("fabrikam.onmicrosoft.com");
    expect_rejection(
        &client_from(config),
        90002,
        Status::AuthenticationFailed,
        "cloud",
    );
}

#[test]
fn aadsts_certificate_not_registered() {
    let emu = start_emulator();
    let client = client_for(
        &emu,
        APP,
        json!({"type": "certificatePem", "certificatePem": stranger_cert().cert_pem, "privateKeyPem": stranger_cert().key_pem}),
    );
    let thumbprint: String = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &stranger_cert().cert_der,
    )
    .as_ref()
    .iter()
    .map(|b| format!("{b:02X}"))
    .collect();
    expect_rejection(&client, 700027, Status::AuthenticationFailed, &thumbprint);
}

#[test]
fn aadsts_disabled_app() {
    let emu = start_emulator();
    expect_rejection(
        &client_for(&emu, APP_DISABLED, secret_auth()),
        7000112,
        Status::AuthenticationFailed,
        "Enable",
    );
}

#[test]
fn aadsts_conditional_access() {
    let emu = start_emulator();
    expect_rejection(
        &client_for(&emu, APP_CA_BLOCKED, secret_auth()),
        53003,
        Status::AuthenticationFailed,
        "Conditional Access",
    );
}

#[test]
fn multi_tenant_aliases_are_rejected_before_any_request() {
    let emu = start_emulator();
    for alias in ["common", "organizations", "consumers"] {
        let mut config = config_json(&emu, APP, secret_auth());
        config["tenant"] = json!(alias);
        let e = Client::new(Config::from_json(&config.to_string()).unwrap()).unwrap_err();
        assert_eq!(e.status, Status::InvalidConfig);
        assert!(e.message.contains("specific tenant"));
        assert!(e.message.contains(&format!("'{alias}'")), "{}", e.message);
        assert!(e.message.contains("multi-tenant alias"), "{}", e.message);
    }
    assert_eq!(emu.counters().token_requests, 0);
}

/// The client checks tenant syntax at least as strictly as Entra (and the emulator), so a
/// malformed tenant never reaches the token endpoint (where it would be AADSTS900023): the
/// local error names the value instead.
#[test]
fn malformed_tenants_are_named_before_any_request() {
    let emu = start_emulator();
    for bad in [
        "not_a_tenant",
        "contoso",
        "contoso..onmicrosoft.com",
        "-x.example.com",
    ] {
        for tenant in [bad.to_owned(), format!("{}/{bad}", emu.base_url())] {
            let mut config = config_json(&emu, APP, secret_auth());
            config["tenant"] = json!(tenant);
            config.as_object_mut().unwrap().remove("authorityHost");
            let e = Client::new(Config::from_json(&config.to_string()).unwrap()).unwrap_err();
            assert_eq!(e.status, Status::InvalidConfig, "{e:?}");
            assert!(
                e.message.contains(&format!(
                    "tenant '{bad}' is neither a GUID nor a domain name"
                )),
                "{}",
                e.message
            );
            assert!(e.remedy.as_deref().unwrap_or_default().contains("GUID"));
        }
    }
    assert_eq!(emu.counters().requests, 0);
}

#[test]
fn untrusted_server_certificate_is_a_network_error_with_remedy() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["http"]
        .as_object_mut()
        .unwrap()
        .remove("extraCaCertificatesPem");
    let e = client_from(config)
        .test_permissions(&PermissionOptions::default())
        .unwrap_err();
    assert_eq!(e.status, Status::Network);
    assert!(
        e.remedy
            .clone()
            .unwrap_or_default()
            .contains("extraCaCertificatesPem"),
        "{e:?}"
    );
    assert_eq!(e.attempts, Some(1), "certificate failures are not retried");
}
