//! The inbox page and the control API calls it uses: list + search, the message view, the body
//! document (cid: rewritten, CSP), downloads, delete, the request log's fault/throttled fields.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::Digest;

use crate::common::*;

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
];
const EVIL_SUBJECT: &str = "<img src=x onerror=alert(1)> report";

fn html_message(to: &str, csv: &[u8]) -> Value {
    json!({
        "message": {
            "subject": EVIL_SUBJECT,
            "importance": "high",
            "body": {"contentType": "HTML", "content": "<h1>Patch report</h1><img src=\"cid:logo\"><script>document.title='ran'</script>"},
            "toRecipients": [{"emailAddress": {"address": to, "name": "Ops Team"}}],
            "ccRecipients": [{"emailAddress": {"address": "zoe@contoso.onmicrosoft.com"}}],
            "replyTo": [{"emailAddress": {"address": "noreply@contoso.onmicrosoft.com"}}],
            "internetMessageHeaders": [{"name": "X-Report-Run", "value": "42"}],
            "attachments": [
                {"@odata.type": "#microsoft.graph.fileAttachment", "name": "logo.png", "contentType": "image/png",
                 "isInline": true, "contentId": "logo", "contentBytes": STANDARD.encode(PNG)},
                {"@odata.type": "#microsoft.graph.fileAttachment", "name": "Bericht Über.csv", "contentType": "text/html",
                 "contentBytes": STANDARD.encode(csv)}
            ]
        },
        "saveToSentItems": false
    })
}

#[tokio::test]
async fn inbox_api_lists_views_serves_and_deletes() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let csv = b"<script>alert(1)</script>a,b\n1,2\n";
    let r = send_mail_as(
        &c,
        &emu,
        MAILBOX,
        &tok,
        &html_message("ops@contoso.onmicrosoft.com", csv),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let r = send_mail_as(
        &c,
        &emu,
        MAILBOX,
        &tok,
        &simple_message("other@fabrikam.com"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);

    // The list: newest first, sizes, attachment counts (inline images not counted), search.
    let all: Value = get_json(&c, control_url(&emu, "inbox")).await;
    assert_eq!(all["total"], 2);
    assert_eq!(all["mailboxes"], json!([MAILBOX]));
    assert_eq!(all["messages"][0]["subject"], "Patch report");
    let html = &all["messages"][1];
    assert_eq!(html["subject"], EVIL_SUBJECT);
    assert_eq!(html["attachments"], 1);
    assert_eq!(html["importance"], "high");
    assert!(html["size"].as_u64().unwrap() > (PNG.len() + csv.len()) as u64);
    let id = html["id"].as_str().unwrap().to_string();
    for (q, n) in [
        ("OPS team", 1),
        ("fabrikam", 1),
        ("onerror", 1),
        ("alerts@", 2),
        ("nobody", 0),
    ] {
        let found: Value = get_json(&c, control_url(&emu, &format!("inbox?q={q}"))).await;
        assert_eq!(found["messages"].as_array().unwrap().len(), n, "q={q}");
        assert_eq!(found["total"], 2);
    }
    let other: Value = get_json(&c, control_url(&emu, "inbox?mailbox=someone@else")).await;
    assert_eq!(other["messages"], json!([]));

    // The view: every recipient, headers, ids, the text of the HTML body, part URLs, no bytes.
    let v: Value = get_json(&c, control_url(&emu, &format!("messages/{id}/view"))).await;
    assert_eq!(v["to"][0]["name"], "Ops Team");
    assert_eq!(v["cc"][0]["address"], "zoe@contoso.onmicrosoft.com");
    assert_eq!(
        v["replyTo"][0]["address"],
        "noreply@contoso.onmicrosoft.com"
    );
    assert_eq!(v["headers"][0]["name"], "X-Report-Run");
    assert_eq!(
        (&v["via"], &v["service"]),
        (&json!("sendMail"), &json!("Graph"))
    );
    assert!(!v["clientRequestId"].as_str().unwrap().is_empty());
    assert_eq!(v["text"], "Patch report");
    assert!(!v.to_string().contains(&STANDARD.encode(csv)));
    let att = &v["attachments"][1];
    assert_eq!(att["sha256"], hex(&sha2::Sha256::digest(csv)));

    // The body document: cid: pointed at the message's own route, locked down by its CSP.
    let r = c
        .get(format!(
            "{}{}",
            emu.base_url(),
            v["htmlUrl"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("sandbox"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(
        csp.contains(&format!(
            "img-src data: {}/_emulator/api/messages/{id}/cid/",
            emu.base_url()
        )),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&format!("src=\"/_emulator/api/messages/{id}/cid/logo\"")),
        "{body}"
    );
    let r = c
        .get(control_url(&emu, &format!("messages/{id}/cid/logo")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(
        c.get(control_url(&emu, &format!("messages/{id}/cid/nope")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // An attachment: byte-exact, always a download, never rendered on the emulator's origin.
    let r = c
        .get(format!(
            "{}{}",
            emu.base_url(),
            att["url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"Bericht _ber.csv\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''Bericht%20%C3%9Cber%2Ecsv"),
        "{disposition}"
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), csv);

    // The .eml.
    let r = c
        .get(control_url(&emu, &format!("messages/{id}/eml")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "message/rfc822");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("{id}.eml"))
    );
    let eml = r.text().await.unwrap();
    assert!(eml.contains("X-Report-Run: 42"), "{eml}");
    assert!(eml.contains("Content-ID: <logo>"), "{eml}");

    // Delete one, then the version moves and the list shrinks.
    let before: Value = get_json(&c, control_url(&emu, "inbox/version")).await;
    assert_eq!(
        c.delete(control_url(&emu, &format!("messages/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.delete(control_url(&emu, &format!("messages/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let after: Value = get_json(&c, control_url(&emu, "inbox/version")).await;
    assert_ne!(before["messages"], after["messages"]);
    assert_eq!(emu.messages().len(), 1);
    assert_eq!(
        c.get(control_url(&emu, &format!("messages/{id}/view")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn page_escapes_and_locks_down() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    send_mail_as(
        &c,
        &emu,
        MAILBOX,
        &tok,
        &html_message("ops@contoso.onmicrosoft.com", b"x"),
    )
    .await
    .unwrap();
    // The page is static: message data reaches it only as JSON, which its script puts in as text
    // (the unit tests check the script has no HTML sinks); its CSP allows no inline script.
    let r = c
        .get(format!("{}/_emulator/", emu.base_url()))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(!page.contains("onerror"));
    assert!(page.contains("<iframe id=\"v-html\" sandbox "));
    let r = c
        .get(format!("{}/_emulator/assets/inbox.js", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        c.get(format!("{}/_emulator/assets/nope.js", emu.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The JSON carries the subject as a string; served as JSON, not sniffed as HTML.
    let r = c.get(control_url(&emu, "inbox")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    // A text body is escaped inside the frame document too.
    let mut m = simple_message("a@b.c");
    m["message"]["body"]["content"] = json!(EVIL_SUBJECT);
    send_mail_as(&c, &emu, MAILBOX, &tok, &m).await.unwrap();
    let id = emu.messages()[1].id.clone();
    let doc = c
        .get(control_url(&emu, &format!("messages/{id}/html")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(doc.contains("&lt;img src=x onerror=alert(1)&gt;"), "{doc}");
    assert!(!doc.contains("<img"), "{doc}");
}

#[tokio::test]
async fn request_log_names_faults_and_throttling() {
    let emu = start_with(|o| {
        o.directory.throttling = Some(pmp_graph_emulator::Throttling {
            max_concurrent: 4,
            max_requests: 1,
            window_seconds: 60,
        });
    });
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let plan =
        json!({"rules": [{"path": "sendMail", "action": "status", "status": 503, "count": 1}]});
    assert_eq!(
        c.put(control_url(&emu, "faults"))
            .json(&plan)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let codes = [
        send_mail_as(&c, &emu, MAILBOX, &tok, &simple_message("a@b.c"))
            .await
            .unwrap()
            .status(),
        send_mail_as(&c, &emu, MAILBOX, &tok, &simple_message("a@b.c"))
            .await
            .unwrap()
            .status(),
        send_mail_as(&c, &emu, MAILBOX, &tok, &simple_message("a@b.c"))
            .await
            .unwrap()
            .status(),
    ];
    assert_eq!(codes.map(|s| s.as_u16()), [503, 202, 429]);
    let reqs: Value = get_json(&c, control_url(&emu, "requests")).await;
    let sends: Vec<&Value> = reqs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("sendMail"))
        .collect();
    assert_eq!(sends[0]["fault"], "status 503");
    assert_eq!(sends[0]["throttled"], false);
    assert_eq!(sends[1]["fault"], Value::Null);
    assert_eq!(sends[1]["throttled"], false);
    assert_eq!(sends[2]["fault"], Value::Null);
    assert_eq!(sends[2]["throttled"], true);
}
