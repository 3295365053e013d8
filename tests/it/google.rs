//! Google Workspace end to end against the emulator's Google token endpoint and Gmail API: a
//! service account key (file or inline), delegation missing and its remedy, messages byte-exact
//! on every send path (JSON raw, multipart, resumable), non-ASCII, throttling, a drop after the
//! message was accepted, one token per impersonated user, and the key never in any output.

use std::sync::Arc;

use pmp_graph_emulator::{Directory, Emulator, EmulatorOptions, FaultPlan};
use pmp_mail::{Client, Outcome, PermissionOptions, Status};
use serde_json::{Value, json};

use crate::common::*;

const SA: &str = "sender@pmp-tests.iam.gserviceaccount.com";
const SA_ID: &str = "111111111111111111111";
/// No domain delegated anything to it.
const NODWD: &str = "nodwd@pmp-tests.iam.gserviceaccount.com";
const NODWD_ID: &str = "222222222222222222222";
/// Its project has the Gmail API off.
const OFF_SA: &str = "off@pmp-off.iam.gserviceaccount.com";
const USER: &str = "alerts@example.com";
const USER_B: &str = "reports@example.com";
const NOMAIL: &str = "nomail@example.com";
const SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";

fn start() -> Emulator {
    let mut dir = directory_json(None);
    dir["google"] = json!({
        "projects": [
            {"id": "pmp-tests", "number": "123456789012"},
            {"id": "pmp-off", "number": "999999999999", "gmailApiEnabled": false},
        ],
        "serviceAccounts": [
            {"project": "pmp-tests", "clientEmail": SA, "clientId": SA_ID},
            {"project": "pmp-tests", "clientEmail": NODWD, "clientId": NODWD_ID},
            {"project": "pmp-off", "clientEmail": OFF_SA, "clientId": "555555555555555555555"},
        ],
        "domains": [{
            "name": "example.com",
            "users": [{"address": USER}, {"address": USER_B}, {"address": NOMAIL, "mailEnabled": false}],
            "delegations": [
                {"clientId": SA_ID, "scopes": [SCOPE]},
                {"clientId": "555555555555555555555", "scopes": [SCOPE]},
            ],
        }],
    });
    let directory = Directory::from_json_str(&dir.to_string()).unwrap();
    let mut options = EmulatorOptions::new(directory);
    options.strict = true;
    start_on_a_new_port(options)
}

/// A new key file (JSON text) for `client_email`, registered with the emulator.
fn key_json(emu: &Emulator, client_email: &str) -> String {
    emu.new_service_account_key(client_email)
        .unwrap()
        .to_json(&emu.google_token_url())
}

fn google_config(emu: &Emulator, auth: Value) -> Value {
    json!({
        "provider": "googleWorkspace",
        "auth": auth,
        "google": {"tokenUri": emu.google_token_url(), "gmailRoot": emu.gmail_root()},
        "http": {"extraCaCertificatesPem": emu.ca_pem(), "useSystemProxy": false, "timeoutSeconds": 60},
        "retry": {"maxAttempts": 4, "maxTotalWaitSeconds": 20},
    })
}

fn client_with_key(emu: &Emulator, client_email: &str) -> Client {
    client_from(google_config(
        emu,
        json!({"type": "serviceAccountKey", "keyJson": key_json(emu, client_email)}),
    ))
}

fn faults(value: Value) -> FaultPlan {
    serde_json::from_value(value).unwrap()
}

fn gmail_sends(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.path.contains("/messages/send"))
        .count()
}

#[test]
fn a_key_file_sends_a_message_that_arrives_intact() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("sa.json");
    std::fs::write(&key_path, key_json(&emu, SA)).unwrap();
    let client = client_from(google_config(
        &emu,
        json!({"type": "serviceAccountKey", "keyPath": key_path}),
    ));
    let logo = b"\x89PNG\r\n\x1a\nlogo bytes".to_vec();
    let report = pseudo_random_bytes(40_000, 7);
    let result = client
        .send_mail(&message(json!({
            "from": format!("Jörg Müller <{USER}>"),
            "to": ["Ann Ärger <ann@example.net>", {"address": "b@example.net", "name": "Bö, Björn"}],
            "cc": ["c@example.net"], "bcc": ["hidden@example.net"], "replyTo": ["r@example.net"],
            "subject": "Größenbericht – 漢字 ✓",
            "body": "<p>Grüße – <img src=\"cid:logo\"></p>", "bodyAsHtml": true,
            "importance": "high",
            "headers": [{"name": "X-Run-Id", "value": "42 ü"}],
            "attachments": [
                {"name": "bericht ä.bin", "contentBase64": b64(&report)},
                {"name": "logo.png", "contentBase64": b64(&logo), "contentId": "logo"},
            ],
        })))
        .unwrap();
    assert_eq!(result.status, "sent");
    assert!(!result.upload_session);
    let messages = emu.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.provider.as_deref(), Some("gmail"));
    assert_eq!(m.via, "gmail:raw");
    assert_eq!(m.mailbox, USER);
    assert_eq!(m.app_id, SA);
    assert_eq!(m.subject, "Größenbericht – 漢字 ✓");
    assert_eq!(m.from.name.as_deref(), Some("Jörg Müller"));
    assert_eq!(m.to[0].name.as_deref(), Some("Ann Ärger"));
    assert_eq!(m.to[1].name.as_deref(), Some("Bö, Björn"));
    assert_eq!(m.bcc[0].address, "hidden@example.net");
    assert_eq!(m.reply_to[0].address, "r@example.net");
    assert_eq!(m.importance, "high");
    assert!(m.body.contains("Grüße"), "{}", m.body);
    // The record keeps the header as written (RFC 2047 for non-ASCII): decode it.
    let run_id = m
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("x-run-id"))
        .unwrap();
    let header_text = format!("X-Run-Id: {}\r\n\r\n", run_id.value);
    // (With an empty header map mail-parser reads unknown headers raw: name it.)
    let decoded = mail_parser::MessageParser::new()
        .header_text(mail_parser::HeaderName::Other("X-Run-Id".into()))
        .parse(header_text.as_bytes())
        .unwrap();
    assert_eq!(
        decoded.header("X-Run-Id").and_then(|h| h.as_text()),
        Some("42 ü")
    );
    let by_name = |name: &str| m.attachments.iter().find(|a| a.name == name).unwrap();
    assert_eq!(by_name("bericht ä.bin").sha256, sha256_hex(&report));
    let inline = by_name("logo.png");
    assert_eq!(inline.sha256, sha256_hex(&logo));
    assert!(inline.is_inline);
    assert_eq!(inline.content_id.as_deref(), Some("logo"));
    // The token acted as the From user, with the gmail.send scope only.
    let counts = emu.google_token_counts();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!((counts[0].subject.as_str(), counts[0].issued), (USER, 1));
}

#[test]
fn large_messages_go_through_the_upload_endpoint_byte_exact() {
    let emu = start();
    let client = client_with_key(&emu, SA);
    for (size, via, upload_session) in [
        (2 * 1024 * 1024, "gmail:multipart", false),
        (9 * 1024 * 1024 + 7, "gmail:resumable", true),
    ] {
        let bytes = pseudo_random_bytes(size, size as u64);
        let result = client
            .send_mail_with_buffers(
                &message(json!({
                    "from": USER, "to": ["a@example.net"], "subject": via,
                    "attachments": [{"name": "big.bin", "buffer": 0}],
                })),
                &[&bytes],
                None,
            )
            .unwrap();
        assert_eq!(result.upload_session, upload_session, "{via}");
        let m = emu
            .messages()
            .into_iter()
            .find(|m| m.subject == via)
            .unwrap();
        assert_eq!(m.via, via);
        assert_eq!(m.attachments[0].size, size as u64);
        assert_eq!(m.attachments[0].sha256, sha256_hex(&bytes), "{via}");
    }
}

#[test]
fn a_message_over_35_mib_is_refused_before_any_request() {
    let emu = start();
    let client = client_with_key(&emu, SA);
    // Under 35 MiB of attachment, over it once base64-encoded.
    let bytes = vec![0u8; 30 * 1024 * 1024];
    let e = client
        .send_mail_with_buffers(
            &message(json!({
                "from": USER, "to": ["a@example.net"],
                "attachments": [{"name": "big.bin", "buffer": 0}],
            })),
            &[&bytes],
            None,
        )
        .unwrap_err();
    assert_eq!(e.status, Status::Attachment);
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert!(e.message.contains("35 MiB"), "{}", e.message);
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
}

#[test]
fn missing_delegation_is_missing_with_the_admin_console_remedy() {
    let emu = start();
    let client = client_with_key(&emu, NODWD);
    let report = client
        .test_permissions(&PermissionOptions {
            mailbox: Some(USER.into()),
            ..Default::default()
        })
        .unwrap();
    assert!(!report.authenticated);
    let doc = serde_json::to_value(&report).unwrap();
    assert_eq!(doc["permissions"][0]["name"], "gmail.send");
    assert_eq!(doc["permissions"][0]["status"], "Missing");
    let error = &doc["error"];
    assert_eq!(error["entraError"], "unauthorized_client");
    assert_eq!(error["httpStatus"], 401);
    let remedy = error["remedy"].as_str().unwrap();
    for part in [
        "Admin console > Security > Access and data control > API controls > Domain-wide delegation",
        NODWD_ID,
        SCOPE,
    ] {
        assert!(remedy.contains(part), "{remedy}");
    }
    assert!(report.warnings.iter().any(|w| w.contains(NODWD_ID)));
    // A send fails the same way, before anything reached Gmail.
    let e = client
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap_err();
    assert_eq!(e.status, Status::PermissionDenied);
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert!(e.remedy.as_deref().unwrap().contains(NODWD_ID));
    assert_eq!(gmail_sends(&emu), 0);
    assert!(emu.messages().is_empty());
}

#[test]
fn the_permission_test_checks_the_delegation_the_api_and_the_mailbox() {
    let emu = start();
    let status = |report: &pmp_mail::PermissionReport, name: &str| {
        serde_json::to_value(report).unwrap()["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let options = |mailbox: &str| PermissionOptions {
        mailbox: Some(mailbox.into()),
        ..Default::default()
    };
    let client = client_with_key(&emu, SA);
    let report = client.test_permissions(&options(USER)).unwrap();
    assert!(report.authenticated, "{report:?}");
    assert_eq!(status(&report, "gmail.send"), "Granted");
    assert_eq!(status(&report, "Gmail API"), "Granted");
    assert_eq!(report.app_id.as_deref(), Some(SA_ID));
    assert_eq!(report.token_source.as_deref(), Some("endpoint"));
    // The user's Gmail is off.
    let report = client.test_permissions(&options(NOMAIL)).unwrap();
    assert_eq!(status(&report, "gmail.send"), "Granted");
    assert_eq!(status(&report, "Gmail API"), "Missing");
    assert!(
        report.warnings.iter().any(|w| w.contains("Service status")),
        "{:?}",
        report.warnings
    );
    // The project's Gmail API is off.
    let off = client_with_key(&emu, OFF_SA);
    let report = off.test_permissions(&options(USER)).unwrap();
    assert_eq!(status(&report, "Gmail API"), "Missing");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("project=pmp-off")),
        "{:?}",
        report.warnings
    );
    let e = off
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap_err();
    assert_eq!(e.status, Status::PermissionDenied);
    assert_eq!(e.graph_code.as_deref(), Some("accessNotConfigured"));
    // A user the domain does not have.
    let report = client
        .test_permissions(&options("ghost@example.com"))
        .unwrap();
    assert!(!report.authenticated);
    assert_eq!(status(&report, "gmail.send"), "Unknown");
    assert_eq!(
        report.error.as_ref().unwrap().entra_error.as_deref(),
        Some("invalid_grant")
    );
    // Without a user to test there is nothing to ask Google.
    let e = client
        .test_permissions(&PermissionOptions::default())
        .unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(emu.messages().is_empty(), "a probe never sends");
}

#[test]
fn throttling_is_waited_out_and_the_message_sent_once() {
    let emu = start();
    let client = client_with_key(&emu, SA);
    emu.set_faults(faults(
        json!({"rules": [{"path": "gmailSend", "action": "status", "status": 429,
        "retryAfterSeconds": 1, "graphCode": "rateLimitExceeded", "count": 1}]}),
    ));
    let result = client
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap();
    assert_eq!(result.attempts, 2);
    assert!(result.waited_ms >= 1000, "{result:?}");
    assert_eq!(emu.messages().len(), 1);
    // 403 userRateLimitExceeded is Gmail's other "slow down": also waited out.
    emu.set_faults(faults(
        json!({"rules": [{"path": "gmailSend", "action": "status", "status": 403,
        "graphCode": "userRateLimitExceeded", "count": 1}]}),
    ));
    let result = client
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap();
    assert_eq!(result.attempts, 2);
    assert_eq!(emu.messages().len(), 2);
}

#[test]
fn a_drop_after_accept_is_unknown_and_never_resent() {
    let emu = start();
    let client = client_with_key(&emu, SA);
    for (size, path) in [(100, "gmail:raw"), (2 * 1024 * 1024, "gmail:multipart")] {
        emu.reset();
        emu.set_faults(faults(
            json!({"rules": [{"path": "gmailSend", "method": "POST", "action": "dropAfterAccept", "count": 1}]}),
        ));
        let bytes = pseudo_random_bytes(size, 1);
        let e = client
            .send_mail_with_buffers(
                &message(
                    json!({"from": USER, "to": ["a@example.net"], "subject": path,
                    "attachments": [{"name": "a.bin", "buffer": 0}]}),
                ),
                &[&bytes],
                None,
            )
            .unwrap_err();
        assert_eq!(e.status, Status::OutcomeUnknown, "{path}: {e:?}");
        assert_eq!(e.outcome, Some(Outcome::Unknown));
        assert!(e.remedy.as_deref().unwrap().contains("Sent mail"));
        assert_eq!(emu.messages().len(), 1, "{path}: delivered once");
        // The dropped request is not in the request log; a resend would be.
        assert_eq!(emu.counters().dropped_after_accept, 1, "{path}");
        assert_eq!(gmail_sends(&emu), 0, "{path}: never sent again");
    }
    // A 5xx without Retry-After on a send is unknown too, and not repeated.
    emu.reset();
    emu.set_faults(faults(
        json!({"rules": [{"path": "gmailSend", "action": "status", "status": 500,
        "graphCode": "backendError", "count": 1}]}),
    ));
    let e = client
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap_err();
    assert_eq!(e.status, Status::OutcomeUnknown);
    assert_eq!(e.graph_code.as_deref(), Some("backendError"));
    assert_eq!(gmail_sends(&emu), 1);
}

#[test]
fn a_lost_answer_of_a_resumable_upload_is_asked_about() {
    let emu = start();
    let client = client_with_key(&emu, SA);
    // The message goes out, the answer is lost; the session says it finished: sent.
    emu.set_faults(faults(
        json!({"rules": [{"path": "gmailSend", "method": "PUT", "action": "dropAfterAccept", "count": 1}]}),
    ));
    let bytes = pseudo_random_bytes(6 * 1024 * 1024, 2);
    let result = client
        .send_mail_with_buffers(
            &message(json!({"from": USER, "to": ["a@example.net"],
                "attachments": [{"name": "a.bin", "buffer": 0}]})),
            &[&bytes],
            None,
        )
        .unwrap();
    assert!(result.upload_session);
    assert!(
        result.log.iter().any(|l| l.contains("says it finished")),
        "{:?}",
        result.log
    );
    assert_eq!(emu.messages().len(), 1);
}

#[test]
fn one_token_per_user_under_concurrency() {
    let emu = start();
    let key = key_json(&emu, SA);
    // Two handles with the same key share the process cache; 16 sends at once per user.
    let clients: Vec<Client> = (0..2)
        .map(|_| {
            client_from(google_config(
                &emu,
                json!({"type": "serviceAccountKey", "keyJson": key}),
            ))
        })
        .collect();
    let clients = Arc::new(clients);
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let clients = clients.clone();
            std::thread::spawn(move || {
                let from = if i % 2 == 0 { USER } else { USER_B };
                clients[(i / 2) % 2]
                    .send_mail(&message(json!({"from": from, "to": ["a@example.net"]})))
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut counts: Vec<(String, u64)> = emu
        .google_token_counts()
        .into_iter()
        .map(|c| (c.subject, c.issued))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![(USER.to_owned(), 1), (USER_B.to_owned(), 1)],
        "one token per user"
    );
    assert_eq!(emu.messages().len(), 16);
}

#[test]
fn impersonate_sends_every_message_as_one_user() {
    let emu = start();
    let mut config = google_config(
        &emu,
        json!({"type": "serviceAccountKey", "keyJson": key_json(&emu, SA)}),
    );
    config["google"]["impersonate"] = json!(USER);
    let client = client_from(config);
    let result = client
        .send_mail(&message(
            json!({"from": "noreply@example.com", "to": ["a@example.net"]}),
        ))
        .unwrap();
    assert!(result.log.iter().any(|l| l.contains("google.impersonate")));
    assert_eq!(emu.messages()[0].mailbox, USER);
    let counts = emu.google_token_counts();
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].subject, USER);
    // The permission test uses it too.
    let report = client
        .test_permissions(&PermissionOptions::default())
        .unwrap();
    assert!(report.authenticated);
}

#[test]
fn a_host_signer_signs_the_assertion() {
    let emu = start();
    let key = emu.new_service_account_key(SA).unwrap();
    let der = pem::parse(&key.private_key_pem).unwrap().into_contents();
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let signer = move |algorithm: pmp_mail::SignatureAlgorithm, data: &[u8]| {
        assert_eq!(algorithm, pmp_mail::SignatureAlgorithm::Rs256);
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            data,
            &mut sig,
        )
        .unwrap();
        Ok(sig)
    };
    let mut config = google_config(&emu, json!({"type": "signer"}));
    config["google"]["serviceAccountEmail"] = json!(SA);
    config["google"]["privateKeyId"] = json!(key.private_key_id);
    config["google"]["clientId"] = json!(SA_ID);
    let client = Client::with_signer(
        pmp_mail::Config::from_json(&config.to_string()).unwrap(),
        &[],
        Arc::new(signer),
    )
    .unwrap();
    client
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(emu.messages().len(), 1);
}

#[test]
fn entra_fields_and_credentials_are_refused_with_googleworkspace() {
    let emu = start();
    let key = key_json(&emu, SA);
    let refused = |patch: Value| {
        let mut config = google_config(&emu, json!({"type": "serviceAccountKey", "keyJson": key}));
        for (k, v) in patch.as_object().unwrap() {
            config[k] = v.clone();
        }
        let config = pmp_mail::Config::from_json(&config.to_string()).unwrap();
        Client::new(config).unwrap_err()
    };
    let e = refused(json!({"auth": {"type": "clientSecret", "secret": "s"}}));
    assert_eq!(e.status, Status::InvalidConfig);
    assert!(e.message.contains("clientSecret"), "{}", e.message);
    assert!(e.remedy.as_deref().unwrap().contains("serviceAccountKey"));
    let e = refused(json!({"tenant": TENANT}));
    assert!(
        e.message
            .contains("tenant applies only to provider microsoft365"),
        "{}",
        e.message
    );
    let e = refused(json!({"clientId": APP}));
    assert!(e.message.contains("clientId"), "{}", e.message);
    let e = refused(json!({"google": {"gmailRoot": "http://127.0.0.1:1"}}));
    assert!(e.message.contains("google.gmailRoot"), "{}", e.message);
    // And the other way round.
    let mut graph = config_json(
        &emu,
        APP,
        json!({"type": "serviceAccountKey", "keyJson": key}),
    );
    graph["tenant"] = json!(TENANT);
    let e = Client::new(pmp_mail::Config::from_json(&graph.to_string()).unwrap()).unwrap_err();
    assert!(e.message.contains("googleWorkspace"), "{}", e.message);
}

#[test]
fn the_private_key_is_in_no_output() {
    let emu = start();
    let key = emu.new_service_account_key(SA).unwrap();
    let key_text = key.to_json(&emu.google_token_url());
    // A line of the PEM body: long enough to be the key, not a header.
    let key_line = key
        .private_key_pem
        .lines()
        .find(|l| l.len() > 40)
        .unwrap()
        .to_owned();
    let config_text = google_config(
        &emu,
        json!({"type": "serviceAccountKey", "keyJson": key_text}),
    )
    .to_string();
    let config = pmp_mail::Config::from_json(&config_text).unwrap();
    let mut outputs = vec![format!("{config:?}")];
    let client = Client::new(config.clone()).unwrap();
    outputs.push(format!("{client:?}"));
    outputs.push(format!("{:?}", client.config()));
    let sent = client
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap();
    outputs.push(serde_json::to_string(&sent).unwrap());
    let nodwd = client_with_key(&emu, NODWD);
    let e = nodwd
        .send_mail(&message(json!({"from": USER, "to": ["a@example.net"]})))
        .unwrap_err();
    outputs.push(e.to_json());
    outputs.push(format!("{e:?}"));
    let report = nodwd
        .test_permissions(&PermissionOptions {
            mailbox: Some(USER.into()),
            ..Default::default()
        })
        .unwrap();
    outputs.push(serde_json::to_string(&report).unwrap());
    // A broken key file: the error says where, never what.
    let broken = key_text.replacen("\"type\"", "\"type\" x", 1);
    let e = Client::new(
        pmp_mail::Config::from_json(
            &google_config(
                &emu,
                json!({"type": "serviceAccountKey", "keyJson": broken}),
            )
            .to_string(),
        )
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.status, Status::Credential);
    outputs.push(e.to_json());
    for output in &outputs {
        assert!(!output.contains(&key_line), "{output}");
        assert!(!output.contains("PRIVATE KEY"), "{output}");
    }
}

#[test]
fn a_batch_sends_as_several_users_through_gmail() {
    let emu = start();
    let client = client_with_key(&emu, SA);
    let messages = json!([
        {"from": USER, "to": ["a@example.net"], "subject": "one"},
        {"from": USER_B, "to": ["a@example.net"], "subject": "two"},
        {"from": "not an address", "to": ["a@example.net"]},
    ]);
    let result = client
        .send_batch_json(&messages.to_string(), Vec::new(), None, None, &mut |_| {})
        .unwrap();
    let doc = serde_json::to_value(&result).unwrap();
    assert_eq!(
        (doc["sent"].as_u64(), doc["failed"].as_u64()),
        (Some(2), Some(1)),
        "{doc}"
    );
    assert_eq!(doc["results"][2]["error"]["category"], "invalidArgument");
    let mut mailboxes: Vec<String> = emu.messages().into_iter().map(|m| m.mailbox).collect();
    mailboxes.sort();
    assert_eq!(mailboxes, vec![USER.to_owned(), USER_B.to_owned()]);
}
