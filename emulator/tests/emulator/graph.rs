use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn send_mail_recorded_byte_exact() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let bin: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let body = json!({
        "message": {
            "subject": "Überprüfung – 報告 ✓",
            "body": {"contentType": "HTML", "content": "<p>Grüße, <b>Jürgen</b> 😀</p>"},
            "toRecipients": [{"emailAddress": {"address": "ann@example.com", "name": "Ann Ødegård"}}],
            "ccRecipients": [{"emailAddress": {"address": "cc@example.com"}}],
            "bccRecipients": [{"emailAddress": {"address": "bcc@example.com"}}],
            "replyTo": [{"emailAddress": {"address": "reply@example.com"}}],
            "from": {"emailAddress": {"address": MAILBOX, "name": "Alerts"}},
            "importance": "High",
            "internetMessageHeaders": [{"name": "x-run-id", "value": "42"}],
            "attachments": [
                {"@odata.type": "#microsoft.graph.fileAttachment", "name": "Bericht-ä.bin",
                 "contentType": "application/octet-stream", "contentBytes": b64(&bin)},
                {"@odata.type": "#microsoft.graph.fileAttachment", "name": "logo.png", "contentType": "image/png",
                 "contentBytes": b64(b"PNG"), "isInline": true, "contentId": "logo"}
            ]
        },
        "saveToSentItems": "false"
    });
    let r = client(&emu)
        .post(graph_url(&emu, &format!("users/{MAILBOX}/sendMail")))
        .bearer_auth(&tok)
        .header("client-request-id", "cr-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["client-request-id"], "cr-1");
    assert!(r.headers().contains_key("request-id"));
    assert!(r.headers().contains_key("x-ms-ags-diagnostic"));
    assert!(r.headers().contains_key("date"));
    let request_id = r.headers()["request-id"].to_str().unwrap().to_string();
    assert!(r.bytes().await.unwrap().is_empty());

    let msgs = emu.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.via, "sendMail");
    assert_eq!(m.mailbox, MAILBOX);
    assert_eq!(m.app_id, SENDER);
    assert_eq!(m.subject, "Überprüfung – 報告 ✓");
    assert_eq!(m.body_content_type, "html");
    assert_eq!(m.body, "<p>Grüße, <b>Jürgen</b> 😀</p>");
    assert_eq!(m.to[0].name.as_deref(), Some("Ann Ødegård"));
    assert_eq!(m.cc[0].address, "cc@example.com");
    assert_eq!(m.bcc[0].address, "bcc@example.com");
    assert_eq!(m.reply_to[0].address, "reply@example.com");
    assert_eq!(m.importance, "high");
    assert!(!m.save_to_sent_items);
    assert_eq!(m.headers[0].name, "x-run-id");
    assert_eq!(m.attachments[0].name, "Bericht-ä.bin");
    assert_eq!(m.attachments[0].size, 70_000);
    assert_eq!(m.attachments[0].content_base64, b64(&bin));
    assert_eq!(
        m.attachments[0].sha256,
        hex(&<sha2::Sha256 as sha2::Digest>::digest(&bin))
    );
    assert!(m.attachments[1].is_inline);
    assert_eq!(m.attachments[1].content_id.as_deref(), Some("logo"));
    assert_eq!(m.client_request_id, "cr-1");
    assert_eq!(m.request_id, request_id);
    // By object id too; control API shows the same records.
    let r = send_mail_as(
        &client(&emu),
        &emu,
        "aaaaaaaa-0000-0000-0000-000000000001",
        &tok,
        &simple_message("b@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let c = emu.counters();
    assert_eq!((c.send_mail_requests, c.messages_accepted), (2, 2));
    let listed: Vec<pmp_graph_emulator::RecordedMessage> =
        get_json(&client(&emu), control_url(&emu, "messages")).await;
    assert_eq!(listed, emu.messages());
    let html = client(&emu)
        .get(format!("{}/_emulator/", emu.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The page is static: message content reaches it only as JSON (put in as text) and in the
    // sandboxed body document (tests/emulator/inbox.rs), never in its markup.
    assert!(html.contains("pmp-graph-emulator inbox"));
    assert!(!html.contains("Grüße"));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn mime_send() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let mime = "From: Alerts <alerts@contoso.onmicrosoft.com>\r\nTo: Bob <bob@example.com>\r\nSubject: =?UTF-8?B?w5xiZXI=?=\r\nX-Run-Id: 7\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello MIME\r\n";
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, mime);
    let c = client(&emu);
    let url = graph_url(&emu, &format!("users/{MAILBOX}/sendMail"));
    let r = c
        .post(&url)
        .bearer_auth(&tok)
        .header("content-type", "text/plain")
        .body(b64)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let m = &emu.messages()[0];
    assert_eq!(m.subject, "Über");
    assert_eq!(m.to[0].address, "bob@example.com");
    assert_eq!(m.body.trim(), "Hello MIME");
    assert_eq!(m.headers[0].value, "7");
    let r = c
        .post(&url)
        .bearer_auth(&tok)
        .header("content-type", "text/plain")
        .body("@@not base64@@")
        .send()
        .await
        .unwrap();
    let v = assert_graph_error(r, 400, "ErrorMimeContentInvalidBase64String").await;
    assert!(v["error"].get("innerError").is_none());
}

#[tokio::test]
async fn graph_errors() {
    let emu = start();
    let c = client(&emu);
    let tok = secret_token(&emu, SENDER).await;
    let url = graph_url(&emu, &format!("users/{MAILBOX}/sendMail"));
    let send = |body: serde_json::Value| c.post(&url).bearer_auth(&tok).json(&body).send();

    // 401s.
    let r = c
        .post(&url)
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let v = assert_graph_error(r, 401, "InvalidAuthenticationToken").await;
    assert_eq!(v["error"]["message"], "Access token is empty.");
    let inner = &v["error"]["innerError"];
    assert!(inner["request-id"].is_string() && inner["client-request-id"].is_string());
    let date = inner["date"].as_str().unwrap();
    assert_eq!(date.len(), 19, "{date}");
    assert!(!date.ends_with('Z'));
    let r = c
        .post(&url)
        .bearer_auth("abc")
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 401, "InvalidAuthenticationToken").await;
    let mut forged: Vec<String> = tok.split('.').map(str::to_string).collect();
    let mut claims = decode_claims(&tok);
    claims["roles"] = json!(["Mail.Send", "Directory.ReadWrite.All"]);
    forged[1] = b64url(claims.to_string().as_bytes());
    let r = c
        .post(&url)
        .bearer_auth(forged.join("."))
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 401, "InvalidAuthenticationToken").await;
    // Token for another audience (the emulator's own resource is accepted, Gov Graph is not for this tenant).
    let (_, v) = token_form(
        &emu,
        OTHER_TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SENDER),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.us/.default"),
        ],
    )
    .await;
    let gov = v["access_token"].as_str().unwrap().to_string();
    let r = c
        .post(&url)
        .bearer_auth(&gov)
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 404, "ErrorInvalidUser").await; // valid token of another tenant: mailbox unknown there

    // Body validation.
    let r = c
        .post(&url)
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 400, "BadRequest").await;
    let r = send(json!({"message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": "a@b.c"}}], "colour": "red"}})).await.unwrap();
    let v = assert_graph_error(r, 400, "RequestBodyRead").await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The property 'colour' does not exist on type 'microsoft.graph.message'")
    );
    let r = send(json!({"message": {"subject": "x"}, "bogus": 1}))
        .await
        .unwrap();
    assert_graph_error(r, 400, "RequestBodyRead").await;
    let r = send(json!({"saveToSentItems": true})).await.unwrap();
    assert_graph_error(r, 400, "ErrorInvalidParameter").await;
    let r = send(json!({"message": {"subject": "no recipients"}}))
        .await
        .unwrap();
    let v = assert_graph_error(r, 400, "ErrorInvalidRecipients").await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contains no recipients")
    );
    let r = send(json!({"message": {"toRecipients": [{"emailAddress": {"address": "bad"}}]}}))
        .await
        .unwrap();
    assert_graph_error(r, 400, "ErrorInvalidRecipients").await;
    let headers: Vec<_> = (0..6)
        .map(|i| json!({"name": format!("x-h{i}"), "value": "v"}))
        .collect();
    let mut m = simple_message("a@b.c");
    m["message"]["internetMessageHeaders"] = json!(headers);
    assert_graph_error(
        send(m).await.unwrap(),
        400,
        "InvalidInternetMessageHeaderCollection",
    )
    .await;
    let mut m = simple_message("a@b.c");
    m["message"]["internetMessageHeaders"] = json!([{"name": "In-Reply-To", "value": "<x@y>"}]);
    assert_graph_error(send(m).await.unwrap(), 400, "InvalidInternetMessageHeader").await;
    let mut m = simple_message("a@b.c");
    m["message"]["attachments"] = json!([{"name": "a.txt", "contentBytes": "QQ=="}]);
    assert_graph_error(send(m).await.unwrap(), 400, "RequestBodyRead").await;
    let mut m = simple_message("a@b.c");
    m["message"]["from"] = json!({"emailAddress": {"address": "ceo@contoso.onmicrosoft.com"}});
    assert_graph_error(send(m).await.unwrap(), 403, "ErrorSendAsDenied").await;

    // /me, permissions, mailbox states.
    let r = c
        .post(graph_url(&emu, "me/sendMail"))
        .bearer_auth(&tok)
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    let v = assert_graph_error(r, 400, "BadRequest").await;
    assert_eq!(
        v["error"]["message"],
        "/me request is only valid with delegated authentication flow."
    );
    let noroles = secret_token(&emu, NOROLES).await;
    let r = c
        .post(&url)
        .bearer_auth(&noroles)
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    let v = assert_graph_error(r, 403, "ErrorAccessDenied").await;
    assert_eq!(
        v["error"]["message"],
        "Access is denied. Check credentials and try again."
    );
    for (user, status, code) in [
        ("nobody@contoso.onmicrosoft.com", 404, "ErrorInvalidUser"),
        ("gone@contoso.onmicrosoft.com", 404, "ErrorInvalidUser"),
        (
            "onprem@contoso.onmicrosoft.com",
            404,
            "MailboxNotEnabledForRESTAPI",
        ),
        (
            "restricted@contoso.onmicrosoft.com",
            403,
            "ErrorAccessDenied",
        ),
    ] {
        let r = send_mail_as(&c, &emu, user, &tok, &simple_message("a@b.c"))
            .await
            .unwrap();
        let v = assert_graph_error(r, status, code).await;
        if user.starts_with("restricted") {
            assert_eq!(v["error"]["message"], "Access to OData is disabled.");
        }
    }
    let sendonly = secret_token(&emu, SENDONLY).await;
    let r = send_mail_as(
        &c,
        &emu,
        "restricted@contoso.onmicrosoft.com",
        &sendonly,
        &simple_message("a@b.c"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(emu.messages().len(), 1);
}

#[tokio::test]
async fn request_too_large() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let mut m = simple_message("a@b.c");
    m["message"]["body"]["content"] = json!("x".repeat(4 * 1024 * 1024 + 10));
    let r = send_mail_as(&client(&emu), &emu, MAILBOX, &tok, &m)
        .await
        .unwrap();
    let v = assert_graph_error(r, 413, "RequestEntityTooLarge").await;
    assert_eq!(
        v["error"]["message"],
        "The maximum request length supported is 4MB."
    );
    assert!(emu.messages().is_empty());
}

#[tokio::test]
async fn http2_negotiated() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let r = send_mail_as(&client(&emu), &emu, MAILBOX, &tok, &simple_message("a@b.c"))
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 202);
    // And HTTP/1.1 still works.
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let h1 = reqwest::Client::builder()
        .tls_certs_only([ca])
        .http1_only()
        .build()
        .unwrap();
    let r = h1
        .get(format!("{}/_emulator/api/counters", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    // localhost is a SAN too.
    let url = format!(
        "{}/_emulator/api/counters",
        emu.base_url().replace("127.0.0.1", "localhost")
    );
    assert_eq!(client(&emu).get(url).send().await.unwrap().status(), 200);
}
