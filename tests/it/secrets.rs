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

/// The upload tokens (`authtoken=<value>`) in `text`: each is a credential for the upload
/// session, whatever else surrounds it.
fn upload_tokens(text: &str) -> Vec<String> {
    text.match_indices("authtoken=")
        .map(|(at, key)| {
            text[at + key.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.~%+/=".contains(*c))
                .collect::<String>()
        })
        .filter(|value| !value.is_empty())
        .collect()
}

#[test]
fn upload_urls_lose_their_query_in_logs_and_errors_when_a_chunk_upload_fails_on_the_network() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    // Two attempts per chunk: one retry line and one final line in the log.
    config["retry"] = json!({"maxAttempts": 2, "maxTotalWaitSeconds": 5});
    let client = client_from(config);
    emu.set_faults(
        serde_json::from_value(
            json!({"rules": [{"path": "upload", "action": "dropBeforeAccept", "count": 100}]}),
        )
        .unwrap(),
    );
    let big = pseudo_random_bytes(3 * 1024 * 1024 + 5, 21);
    let e = client
        .send_mail(&message(json!({
            "from": MAILBOX, "to": ["a@contoso.com"],
            "attachments": [{"name": "big.bin", "contentBase64": b64(&big)}],
        })))
        .unwrap_err();
    assert_eq!(e.status, pmp_mail::Status::Attachment, "{e:?}");
    assert!(emu.messages().is_empty());
    // The failure went through the upload URL (so its text had a chance to carry the URL):
    // each attempt logged a line.
    let upload_lines = e.log.iter().filter(|l| l.contains("upload chunk")).count();
    assert!(upload_lines >= 1, "{:?}", e.log);

    let log = e.log.join("\n");
    let document = e.to_json();
    let everything = format!("{log}\n{document}\n{e}\n{e:?}");
    let in_log = upload_tokens(&log);
    let in_all = upload_tokens(&everything);
    println!(
        "upload-token occurrences: {} in the log lines, {} in log + error document + Display + Debug",
        in_log.len(),
        in_all.len()
    );
    assert!(
        in_all.is_empty(),
        "upload tokens leaked: {in_all:?}\n{everything}"
    );
    assert!(!everything.contains("authtoken"), "{everything}");
    // What is left of the URL still says where the request went, and that a query was removed.
    assert!(
        e.message.contains("/_upload/") && e.message.contains("?<redacted>"),
        "{}",
        e.message
    );
}
