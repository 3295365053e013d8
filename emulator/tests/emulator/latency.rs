//! The `[latency]` model and the per app + mailbox throttling statistics. Timings are checked
//! loosely: at least the configured time, and not absurdly more (no tight bounds).

use std::time::{Duration, Instant};

use pmp_graph_emulator::{
    Directory, EndpointLatency, Latency, MAX_LATENCY_MS, Mailbox, ThrottleStats, Throttling,
};
use serde_json::{Value, json};

use crate::common::*;

const OPS: &str = "ops@contoso.onmicrosoft.com";
/// Far above any latency the tests set: only a missing delay or a hang is caught, not a slow host.
const SLACK: Duration = Duration::from_secs(5);

fn ms(fixed_ms: u64, jitter_ms: u64) -> Option<EndpointLatency> {
    Some(EndpointLatency {
        fixed_ms,
        jitter_ms,
    })
}

async fn timed_send(
    emu: &pmp_graph_emulator::Emulator,
    c: &reqwest::Client,
    user: &str,
    tok: &str,
) -> (u16, Duration) {
    let t = Instant::now();
    let r = send_mail_as(c, emu, user, tok, &simple_message("a@b.c"))
        .await
        .unwrap();
    (r.status().as_u16(), t.elapsed())
}

#[tokio::test]
async fn send_mail_and_token_latency_are_observed() {
    let emu = start_with(|o| {
        o.directory.latency = Some(Latency {
            send_mail: ms(200, 0),
            token: ms(200, 0),
            ..Latency::default()
        });
    });
    let c = client(&emu);
    // Warm the connection on a call without latency, so the handshake is not what is measured.
    let _: Value = get_json(&c, control_url(&emu, "counters")).await;
    let t = Instant::now();
    let r = c
        .post(emu.token_url(TENANT))
        .form(&secret_form(SENDER, SECRET, GRAPH_SCOPE))
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(200) + SLACK,
        "token took {took:?}"
    );
    let tok: Value = r.json().await.unwrap();
    let tok = tok["access_token"].as_str().unwrap();
    let (status, took) = timed_send(&emu, &c, MAILBOX, tok).await;
    assert_eq!(status, 202);
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(200) + SLACK,
        "sendMail took {took:?}"
    );
    assert_eq!(emu.messages().len(), 1);
}

#[tokio::test]
async fn jitter_keeps_each_delay_within_fixed_plus_minus_jitter() {
    let emu = start_with(|o| {
        o.directory.latency = Some(Latency {
            send_mail: ms(300, 100),
            ..Latency::default()
        });
    });
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    for _ in 0..6 {
        let (status, took) = timed_send(&emu, &c, MAILBOX, &tok).await;
        assert_eq!(status, 202);
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(400) + SLACK,
            "sendMail took {took:?}"
        );
    }
}

/// Every endpoint of the draft path (and managed identity) gets its own latency; each value is
/// different, so an endpoint that spent another's entry, or none, is caught by the lower bound.
#[tokio::test]
async fn every_draft_path_endpoint_has_its_own_latency() {
    let emu = start_with(|o| {
        o.directory.latency = Some(Latency {
            create_draft: ms(200, 0),
            add_attachment: ms(300, 0),
            create_upload_session: ms(400, 0),
            upload_chunk: ms(500, 0),
            send_draft: ms(600, 0),
            delete_draft: ms(700, 0),
            managed_identity: ms(800, 0),
            ..Latency::default()
        });
    });
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let _: Value = get_json(&c, control_url(&emu, "counters")).await;
    let user = |rest: &str| graph_url(&emu, &format!("users/{MAILBOX}/{rest}"));
    let check = |what: &str, took: Duration, fixed: u64| {
        let fixed = Duration::from_millis(fixed);
        assert!(
            took >= fixed && took < fixed + SLACK,
            "{what} took {took:?}"
        );
    };
    let draft_body =
        json!({"subject": "s", "toRecipients": [{"emailAddress": {"address": "a@b.c"}}]});

    let t = Instant::now();
    let r = c
        .post(user("messages"))
        .bearer_auth(&tok)
        .json(&draft_body)
        .send()
        .await
        .unwrap();
    check("createDraft", t.elapsed(), 200);
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let t = Instant::now();
    let r = c
        .post(user(&format!("messages/{id}/attachments")))
        .bearer_auth(&tok)
        .json(
            &json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt",
                      "contentType": "text/plain", "contentBytes": "aGk="}),
        )
        .send()
        .await
        .unwrap();
    check("addAttachment", t.elapsed(), 300);
    assert_eq!(r.status(), 201);

    let size = 3 * 1024 * 1024;
    let t = Instant::now();
    let r = c
        .post(user(&format!(
            "messages/{id}/attachments/createUploadSession"
        )))
        .bearer_auth(&tok)
        .json(
            &json!({"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": size}}),
        )
        .send()
        .await
        .unwrap();
    check("createUploadSession", t.elapsed(), 400);
    assert_eq!(r.status(), 201);
    let url = r.json::<Value>().await.unwrap()["uploadUrl"]
        .as_str()
        .unwrap()
        .to_string();

    let t = Instant::now();
    let r = c
        .put(&url)
        .header("content-range", format!("bytes 0-{}/{size}", size - 1))
        .body(vec![7u8; size])
        .send()
        .await
        .unwrap();
    check("uploadChunk", t.elapsed(), 500);
    assert_eq!(r.status(), 201);

    let t = Instant::now();
    let r = c
        .post(user(&format!("messages/{id}/send")))
        .bearer_auth(&tok)
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    check("sendDraft", t.elapsed(), 600);
    assert_eq!(r.status(), 202);

    let r = c
        .post(user("messages"))
        .bearer_auth(&tok)
        .json(&draft_body)
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Instant::now();
    let r = c
        .delete(user(&format!("messages/{id}")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    check("deleteDraft", t.elapsed(), 700);
    assert_eq!(r.status(), 204);

    let t = Instant::now();
    let r = c
        .get(format!(
            "{}?api-version=2018-02-01&resource=https://graph.microsoft.com",
            emu.imds_token_url()
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    check("managedIdentity", t.elapsed(), 800);
    assert_eq!(r.status(), 200);
    assert_eq!(emu.messages().len(), 1);
}

fn stats_for<'a>(all: &'a [ThrottleStats], mailbox: &str) -> &'a ThrottleStats {
    all.iter()
        .find(|s| s.app_id == SENDER && s.mailbox == mailbox)
        .unwrap_or_else(|| panic!("no entry for {mailbox} in {all:?}"))
}

#[tokio::test]
async fn six_concurrent_sends_on_one_mailbox_meet_the_limit_of_four() {
    let emu = start_with(|o| {
        o.directory.mailboxes.push(Mailbox {
            tenant: TENANT.into(),
            address: OPS.into(),
            id: None,
            display_name: None,
            exists: true,
            rest_enabled: true,
            access_policy_allowed_apps: Vec::new(),
        });
        // Long enough that all six arrive while the first four still hold their slots.
        o.directory.latency = Some(Latency {
            send_mail: ms(3000, 0),
            ..Latency::default()
        });
    });
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let msg = simple_message("a@b.c");
    let burst =
        futures_util::future::join_all((0..6).map(|_| send_mail_as(&c, &emu, MAILBOX, &tok, &msg)));
    // While the first mailbox is full, the same app sends to another one.
    let other = async {
        let give_up = Instant::now() + SLACK;
        while emu.throttling().iter().all(|s| s.in_flight < 4) {
            assert!(
                Instant::now() < give_up,
                "never 4 in flight: {:?}",
                emu.throttling()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        send_mail_as(&c, &emu, OPS, &tok, &simple_message("a@b.c"))
            .await
            .unwrap()
    };
    let (burst, other) = tokio::join!(burst, other);
    assert_eq!(other.status(), 202);
    let mut accepted = 0;
    for r in burst {
        let r = r.unwrap();
        if r.status() == 202 {
            accepted += 1;
            continue;
        }
        assert_eq!(
            r.headers().get("retry-after").map(|v| v.to_str().unwrap()),
            Some("1")
        );
        let v = assert_graph_error(r, 429, "ApplicationThrottled").await;
        assert_eq!(
            v["error"]["message"],
            "Application is over its MailboxConcurrency limit."
        );
    }
    assert_eq!(accepted, 4);
    assert_eq!(emu.messages().len(), 5);

    // The same numbers over the control API.
    let all: Vec<ThrottleStats> = get_json(&c, control_url(&emu, "throttling")).await;
    assert_eq!(all, emu.throttling());
    let full = stats_for(&all, MAILBOX);
    assert_eq!(
        (full.in_flight, full.peak_in_flight, full.requests),
        (0, 4, 4),
        "{full:?}"
    );
    assert_eq!(
        (
            full.throttled,
            full.throttled_concurrency,
            full.throttled_rate
        ),
        (2, 2, 0),
        "{full:?}"
    );
    let ops = stats_for(&all, OPS);
    assert_eq!(
        (ops.peak_in_flight, ops.requests, ops.throttled),
        (1, 1, 0),
        "{ops:?}"
    );

    // DELETE restarts the statistics; reset forgets the idle slots altogether.
    let r = c
        .delete(control_url(&emu, "throttling"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let full = stats_for(&emu.throttling(), MAILBOX).clone();
    assert_eq!(
        (full.peak_in_flight, full.requests, full.throttled),
        (0, 0, 0),
        "{full:?}"
    );
    let r = c.post(control_url(&emu, "reset")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(emu.throttling(), Vec::new());
}

#[tokio::test]
async fn the_request_window_slides() {
    let emu = start_with(|o| {
        o.directory.throttling = Some(Throttling {
            max_concurrent: 4,
            max_requests: 2,
            window_seconds: 2,
        });
    });
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    for _ in 0..2 {
        assert_eq!(timed_send(&emu, &c, MAILBOX, &tok).await.0, 202);
    }
    let r = send_mail_as(&c, &emu, MAILBOX, &tok, &simple_message("a@b.c"))
        .await
        .unwrap();
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let v = assert_graph_error(r, 429, "ApplicationThrottled").await;
    assert_eq!(
        v["error"]["message"],
        "Application is over its RequestRate limit."
    );
    // The refused attempt counted too; once the window has passed it, there is room again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(timed_send(&emu, &c, MAILBOX, &tok).await.0, 202);
    let s = stats_for(&emu.throttling(), MAILBOX).clone();
    assert_eq!(
        (s.requests, s.throttled_rate, s.throttled_concurrency),
        (3, 1, 0),
        "{s:?}"
    );
}

fn dir_with(latency: &str) -> String {
    format!("[[tenants]]\nid = \"{TENANT}\"\n\n[latency]\n{latency}\n")
}

#[test]
fn bad_latency_entries_are_refused_with_the_reason() {
    let err = |toml: &str| {
        Directory::from_toml_str(&dir_with(toml))
            .unwrap_err()
            .to_string()
    };
    let e = err("sendMail = { fixedMs = -5 }");
    assert!(
        e.contains("line 5") && e.contains("-5 is negative") && e.contains("0 or more"),
        "{e}"
    );
    let e = err("sendMail = { fixedMs = 1.5 }");
    assert!(e.contains("whole number of milliseconds"), "{e}");
    let e = err(&format!(
        "sendMail = {{ fixedMs = {MAX_LATENCY_MS}, jitterMs = 1 }}"
    ));
    assert!(
        e.contains("line 4") && e.contains("latency.sendMail") && e.contains("at most 300000 ms"),
        "{e}"
    );
    let e = err("uploadChunk = { fixedMs = 50, jitterMs = 80 }");
    assert!(
        e.contains("latency.uploadChunk: jitterMs (80) must not exceed fixedMs (50)"),
        "{e}"
    );
    // Endpoint names are case-sensitive camelCase; the message lists the valid ones.
    let e = err("sendmail = { fixedMs = 5 }");
    assert!(
        e.contains("unknown field `sendmail`")
            && e.contains("`sendMail`")
            && e.contains("`deleteDraft`"),
        "{e}"
    );
    let e = err("draft = { fixedMs = 5 }");
    assert!(
        e.contains("unknown field `draft`") && e.contains("`createDraft`"),
        "{e}"
    );
    let e = err("sendMail = { delayMs = 5 }");
    assert!(
        e.contains("unknown field `delayMs`") && e.contains("`fixedMs`"),
        "{e}"
    );
    let e = Directory::from_json_str(r#"{"latency": {"token": {"fixedMs": 10, "jitterMs": -1}}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("-1 is negative"), "{e}");
    // Valid: every endpoint, the largest allowed value, and a JSON file of the same shape.
    let all = [
        "token",
        "managedIdentity",
        "sendMail",
        "createDraft",
        "addAttachment",
        "createUploadSession",
        "uploadChunk",
        "sendDraft",
        "deleteDraft",
    ]
    .map(|n| format!("{n} = {{ fixedMs = 10, jitterMs = 10 }}"))
    .join("\n");
    let d = Directory::from_toml_str(&dir_with(&all)).unwrap();
    assert_eq!(d.latency.unwrap().delete_draft, ms(10, 10));
    let d = Directory::from_toml_str(&dir_with(&format!(
        "sendMail = {{ fixedMs = {MAX_LATENCY_MS} }}"
    )))
    .unwrap();
    assert_eq!(d.latency.unwrap().send_mail, ms(MAX_LATENCY_MS, 0));
    let d =
        Directory::from_json_str(r#"{"latency": {"sendMail": {"fixedMs": 150, "jitterMs": 50}}}"#)
            .unwrap();
    assert_eq!(d.latency.unwrap().send_mail, ms(150, 50));
    // The in-process start checks a directory built in code the same way.
    let d = Directory {
        latency: Some(Latency {
            token: ms(1, 2),
            ..Latency::default()
        }),
        ..Directory::default()
    };
    let e = pmp_graph_emulator::Emulator::start(d)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("latency.token: jitterMs (2) must not exceed fixedMs (1)"),
        "{e}"
    );
}
