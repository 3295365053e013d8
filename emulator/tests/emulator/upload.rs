use serde_json::{Value, json};

use crate::common::*;

fn b64(b: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)
}

async fn draft(emu: &pmp_graph_emulator::Emulator, tok: &str) -> String {
    let r = client(emu)
        .post(graph_url(emu, &format!("users/{MAILBOX}/messages")))
        .bearer_auth(tok)
        .json(&json!({"subject": "Big one ✓", "body": {"contentType": "Text", "content": "see attached"},
                      "toRecipients": [{"emailAddress": {"address": "ann@example.com", "name": "Ann"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["isDraft"], true);
    v["id"].as_str().unwrap().to_string()
}

/// An authenticated request without a body to the draft `id` (`suffix` e.g. "/send").
async fn on_draft(
    emu: &pmp_graph_emulator::Emulator,
    tok: &str,
    method: reqwest::Method,
    id: &str,
    suffix: &str,
) -> reqwest::Response {
    client(emu)
        .request(
            method,
            graph_url(emu, &format!("users/{MAILBOX}/messages/{id}{suffix}")),
        )
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
}

/// PUTs one byte to an upload URL with the given `content-range`.
async fn put_one_byte(c: &reqwest::Client, url: &str, range: &str) -> reqwest::Response {
    c.put(url)
        .header("content-range", range)
        .body(vec![0u8])
        .send()
        .await
        .unwrap()
}

async fn session(
    emu: &pmp_graph_emulator::Emulator,
    tok: &str,
    id: &str,
    size: usize,
) -> reqwest::Response {
    client(emu)
        .post(graph_url(emu, &format!("users/{MAILBOX}/messages/{id}/attachments/createUploadSession")))
        .bearer_auth(tok)
        .json(&json!({"AttachmentItem": {"attachmentType": "file", "name": "große-datei.bin", "size": size,
                                          "contentType": "application/octet-stream"}}))
        .send()
        .await
        .unwrap()
}

/// An emulator, a Mail.ReadWrite token, a client and a fresh draft's id.
async fn with_draft() -> (
    pmp_graph_emulator::Emulator,
    String,
    reqwest::Client,
    String,
) {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let id = draft(&emu, &tok).await;
    (emu, tok, c, id)
}

/// Creates an upload session of `size` bytes on draft `id` and returns its URL.
async fn session_url(
    emu: &pmp_graph_emulator::Emulator,
    tok: &str,
    id: &str,
    size: usize,
) -> String {
    let v: Value = session(emu, tok, id, size).await.json().await.unwrap();
    v["uploadUrl"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn upload_session_end_to_end() {
    let (emu, tok, c, id) = with_draft().await;

    // Small attachment through /attachments.
    let r = c.post(graph_url(&emu, &format!("users/{MAILBOX}/messages/{id}/attachments"))).bearer_auth(&tok)
        .json(&json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "small.txt", "contentType": "text/plain", "contentBytes": b64(b"hello")}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);

    let data: Vec<u8> = (0..5 * 1024 * 1024 + 123)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let r = session(&emu, &tok, &id, data.len()).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["nextExpectedRanges"], json!(["0-"]));
    let upload_url = v["uploadUrl"].as_str().unwrap().to_string();
    assert!(upload_url.starts_with(&format!("{}/_upload/", emu.base_url())));

    // Out of order: starting at 100 is refused and changes nothing.
    let r = c
        .put(&upload_url)
        .header("content-range", format!("bytes 100-199/{}", data.len()))
        .body(data[100..200].to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());

    let chunk = 2 * 1024 * 1024;
    let mut start = 0;
    let mut last = None;
    while start < data.len() {
        let end = (start + chunk).min(data.len());
        let r = c
            .put(&upload_url)
            .header(
                "content-range",
                format!("bytes {}-{}/{}", start, end - 1, data.len()),
            )
            .body(data[start..end].to_vec())
            .send()
            .await
            .unwrap();
        if end < data.len() {
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["nextExpectedRanges"], json!([end.to_string()]));
            assert!(v["ExpirationDateTime"].is_string());
        } else {
            assert_eq!(r.status(), 201);
            assert!(r.headers().contains_key("location"));
            last = Some(r.bytes().await.unwrap());
        }
        start = end;
    }
    assert!(last.unwrap().is_empty());

    let r = c
        .post(graph_url(
            &emu,
            &format!("users/{MAILBOX}/messages/{id}/send"),
        ))
        .bearer_auth(&tok)
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let msgs = emu.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.via, "draft");
    assert_eq!(m.subject, "Big one ✓");
    assert_eq!(m.attachments.len(), 2);
    assert_eq!(m.attachments[0].content_base64, b64(b"hello"));
    assert_eq!(m.attachments[1].name, "große-datei.bin");
    assert_eq!(m.attachments[1].size as usize, data.len());
    assert_eq!(m.attachments[1].content_base64, b64(&data));

    // Sending the same draft again: it is gone, nothing new is recorded.
    let r = on_draft(&emu, &tok, reqwest::Method::POST, &id, "/send").await;
    assert_graph_error(r, 404, "ErrorItemNotFound").await;
    assert_eq!(emu.messages().len(), 1);
    // The finished session is gone too.
    let r = put_one_byte(&c, &upload_url, "bytes 0-0/1").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn draft_rules() {
    let (emu, tok, c, id) = with_draft().await;
    let r = session(&emu, &tok, &id, 1024).await;
    assert_graph_error(r, 400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize").await;
    let r = session(&emu, &tok, &id, 200 * 1024 * 1024).await;
    assert_graph_error(r, 400, "ErrorMessageSizeExceeded").await;
    // Cancel a session.
    let url = session_url(&emu, &tok, &id, 4 * 1024 * 1024).await;
    assert_eq!(c.delete(&url).send().await.unwrap().status(), 204);
    // Wrong authtoken.
    let url = session_url(&emu, &tok, &id, 4 * 1024 * 1024).await;
    let bad = format!("{}x", url);
    let r = put_one_byte(&c, &bad, "bytes 0-0/4194304").await;
    assert_eq!(r.status(), 401);
    // GET the draft, then delete it.
    let r = on_draft(&emu, &tok, reqwest::Method::GET, &id, "").await;
    assert_eq!(r.status(), 200);
    let r = on_draft(&emu, &tok, reqwest::Method::DELETE, &id, "").await;
    assert_eq!(r.status(), 204);
    let r = on_draft(&emu, &tok, reqwest::Method::POST, &id, "/send").await;
    assert_graph_error(r, 404, "ErrorItemNotFound").await;
    // Mail.Send alone cannot create drafts.
    let sendonly = secret_token(&emu, SENDONLY).await;
    let r = c
        .post(graph_url(&emu, &format!("users/{MAILBOX}/messages")))
        .bearer_auth(&sendonly)
        .json(&json!({"subject": "x"}))
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 403, "ErrorAccessDenied").await;
    assert!(emu.messages().is_empty());
}

/// Strict mode holds clients to Graph's documented upload wire; the default tolerates what the
/// Graph SDKs send (bearer tokens and 5 MiB slices on upload URLs).
#[tokio::test]
async fn strict_mode_rejects_bearer_tokens_and_oversized_ranges_on_upload_urls() {
    const FOUR_MIB: usize = 4 * 1024 * 1024;
    let size = FOUR_MIB + 2;
    for strict in [false, true] {
        let emu = start_with(|o| o.strict = strict);
        let tok = secret_token(&emu, SENDER).await;
        let c = client(&emu);
        let id = draft(&emu, &tok).await;
        let url = session_url(&emu, &tok, &id, size).await;

        let with_bearer = c
            .put(&url)
            .bearer_auth(&tok)
            .header("content-range", format!("bytes 0-0/{size}"))
            .body(vec![0u8])
            .send()
            .await
            .unwrap();
        if strict {
            assert_graph_error(with_bearer, 401, "InvalidAuthenticationToken").await;
        } else {
            assert_eq!(with_bearer.status(), 200);
        }

        let next = if strict { 0 } else { 1 };
        let over = c
            .put(&url)
            .header(
                "content-range",
                format!("bytes {next}-{}/{size}", next + FOUR_MIB),
            )
            .body(vec![7u8; FOUR_MIB + 1])
            .send()
            .await
            .unwrap();
        if strict {
            assert_graph_error(over, 413, "RequestEntityTooLarge").await;
            // Exactly 4 MiB is within the limit.
            let r = c
                .put(&url)
                .header("content-range", format!("bytes 0-{}/{size}", FOUR_MIB - 1))
                .body(vec![7u8; FOUR_MIB])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        } else {
            assert_eq!(over.status(), 201);
        }

        // The request log keeps header names, and only the scheme of a credential.
        let puts: Vec<_> = emu
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .collect();
        assert_eq!(puts[0].header("authorization"), Some("Bearer <redacted>"));
        assert!(puts[1].header("authorization").is_none());
        assert_eq!(
            puts[1].header("content-length"),
            Some((FOUR_MIB + 1).to_string().as_str())
        );
        assert!(
            emu.requests()
                .iter()
                .flat_map(|r| &r.headers)
                .all(|h| !h.value.contains(&tok)),
            "the request log holds a token"
        );
    }
}

#[tokio::test]
async fn strict_mode_wants_json_content_types() {
    let emu = start_with(|o| o.strict = true);
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let body = simple_message("ann@example.com").to_string();
    let post = |content_type: Option<&'static str>| {
        let mut request = c
            .post(graph_url(&emu, &format!("users/{MAILBOX}/sendMail")))
            .bearer_auth(&tok)
            .body(body.clone());
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        request.send()
    };
    let missing = post(None).await.unwrap();
    let v = assert_graph_error(missing, 400, "BadRequest").await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type"),
        "{v}"
    );
    assert_graph_error(
        post(Some("application/x-www-form-urlencoded"))
            .await
            .unwrap(),
        415,
        "RequestBodyRead",
    )
    .await;
    assert!(emu.messages().is_empty());
    let ok = post(Some("application/json; charset=utf-8")).await.unwrap();
    assert_eq!(ok.status(), 202);
    // A draft's send has no body and needs no content type.
    let id = draft(&emu, &tok).await;
    let sent = on_draft(&emu, &tok, reqwest::Method::POST, &id, "/send").await;
    assert_eq!(sent.status(), 202);
    assert_eq!(emu.messages().len(), 2);
}
