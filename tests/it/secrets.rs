//! Secrets never show: not in Debug output, error documents, reports or logs.

use crate::common::*;
use pmp_mail::{Client, Config, PermissionOptions};
use serde_json::json;

#[test]
fn debug_of_configs_and_clients_redacts_secrets() {
    let emu = start_emulator();
    let pfx = app_cert().pfx("pfx-password-123");
    let pfx_b64 = b64(&pfx);
    let configs = [
        config_json(&emu, APP, secret_auth()),
        config_json(
            &emu,
            APP,
            json!({"type": "certificatePfx", "pfxBase64": pfx_b64, "password": "pfx-password-123"}),
        ),
        config_json(
            &emu,
            APP,
            json!({"type": "certificatePem", "certificatePem": app_cert().cert_pem, "privateKeyPem": app_cert().key_pem}),
        ),
    ];
    let key_body = app_cert().key_pem.lines().nth(1).unwrap().to_owned();
    for config in configs {
        let parsed = Config::from_json(&config.to_string()).unwrap();
        let debug = format!("{parsed:?} {:?}", parsed.validate().unwrap());
        let client = Client::new(parsed).unwrap();
        let debug = format!("{debug} {client:?}");
        for secret in [SECRET, "pfx-password-123", &pfx_b64[..40], &key_body] {
            assert!(!debug.contains(secret), "Debug shows a secret: {debug}");
        }
        assert!(debug.contains("<redacted>"));
    }
}

#[test]
fn error_documents_for_a_wrong_secret_do_not_contain_it() {
    let emu = start_emulator();
    let wrong = "Wr0ng~Secret.Value_42";
    let client = client_for(&emu, APP, json!({"type": "clientSecret", "secret": wrong}));
    let report = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert!(!report.authenticated);
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("7000215"));
    assert!(!text.contains(wrong), "{text}");
    let e = client
        .send_mail(&message(json!({"from": MAILBOX, "to": ["a@contoso.com"]})))
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::AuthenticationFailed);
    assert!(!e.to_json().contains(wrong));
    assert!(!format!("{e:?} {e}").contains(wrong));
}

#[test]
fn a_secret_in_the_wrong_field_is_not_echoed() {
    let text = format!(
        r#"{{"tenant":"{TENANT}","clientId":"{APP}","auth":{{"type":"clientSecret","secret":"x"}},"retry":{{"maxAttempts":"{SECRET}"}}}}"#
    );
    let e = Config::from_json(&text).unwrap_err();
    assert!(!e.to_json().contains(SECRET), "{}", e.to_json());
}
