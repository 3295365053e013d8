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

#[tokio::test]
async fn get_on_the_upload_url_tells_where_to_go_on() {
    let (emu, tok, c, id) = with_draft().await;
    let size = 3 * 1024 * 1024 + 10;
    let url = session_url(&emu, &tok, &id, size).await;
    let status = |c: reqwest::Client, url: String| async move {
        let r = c.get(&url).send().await.unwrap();
        let code = r.status().as_u16();
        (code, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (code, v) = status(c.clone(), url.clone()).await;
    assert_eq!(code, 200);
    assert_eq!(v["nextExpectedRanges"], json!([format!("0-{}", size - 1)]));
    assert!(v["ExpirationDateTime"].is_string());
    let r = c
        .put(&url)
        .header("content-range", format!("bytes 0-999/{size}"))
        .body(vec![1u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = status(c.clone(), url.clone()).await;
    assert_eq!(
        v["nextExpectedRanges"],
        json!([format!("1000-{}", size - 1)])
    );
    // Pre-authenticated: a bearer token is refused in strict mode, a wrong authtoken always.
    let strict = start_with(|o| o.strict = true);
    let stok = secret_token(&strict, SENDER).await;
    let sid = draft(&strict, &stok).await;
    let surl = session_url(&strict, &stok, &sid, size).await;
    let r = client(&strict)
        .get(&surl)
        .bearer_auth(&stok)
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 401, "InvalidAuthenticationToken").await;
    let forged = format!("{}x", url);
    let (code, _) = status(c.clone(), forged).await;
    assert_eq!(code, 401);
    // A finished session is gone.
    let r = c
        .put(&url)
        .header("content-range", format!("bytes 1000-{}/{size}", size - 1))
        .body(vec![2u8; size - 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (code, v) = status(c.clone(), url).await;
    assert_eq!(code, 404);
    assert_eq!(v["error"]["code"], "ErrorItemNotFound");
    // The draft lists its attachment (name and size).
    let r = on_draft(
        &emu,
        &tok,
        reqwest::Method::GET,
        &id,
        "/attachments?$select=name,size",
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["value"][0]["name"], "große-datei.bin");
    assert_eq!(v["value"][0]["size"], size);
    assert!(v["value"][0].get("contentBytes").is_none(), "{v}");
}

#[tokio::test]
async fn drafts_are_found_by_an_extended_property() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let prop = "String {b7a3f0de-5c1e-4d6b-9a51-7f3e2c8d4a10} Name pmpMailSendId";
    let create = |value: &'static str| {
        let (c, emu, tok) = (c.clone(), &emu, tok.clone());
        async move {
            let r = c
                .post(graph_url(emu, &format!("users/{MAILBOX}/messages")))
                .bearer_auth(&tok)
                .json(&json!({"subject": value, "singleValueExtendedProperties": [{"id": prop, "value": value}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let a = create("aaaa-1").await;
    let _b = create("bbbb-2").await;
    let find = |filter: String| {
        let (c, emu, tok) = (c.clone(), &emu, tok.clone());
        async move {
            let filter =
                percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
            let r = c
                .get(graph_url(
                    emu,
                    &format!("users/{MAILBOX}/messages?$filter={filter}&$select=id,isDraft"),
                ))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, v) = find(format!(
        "singleValueExtendedProperties/any(ep: ep/id eq '{prop}' and ep/value eq 'AAAA-1')"
    ))
    .await;
    assert_eq!(code, 200, "{v}");
    let value = v["value"].as_array().unwrap();
    assert_eq!(value.len(), 1, "{v}");
    assert_eq!(value[0]["id"], a);
    assert_eq!(value[0]["isDraft"], true);
    assert!(value[0].get("subject").is_none(), "$select: {v}");
    // The property's name is case-sensitive.
    let (_, v) = find(format!(
        "singleValueExtendedProperties/any(ep: ep/id eq '{}' and ep/value eq 'aaaa-1')",
        prop.replace("pmpMailSendId", "pmpmailsendid")
    ))
    .await;
    assert_eq!(v["value"], json!([]));
    let (code, v) = find("subject eq 'x'".into()).await;
    assert_eq!(code, 400, "{v}");
    // A malformed property id is refused at creation.
    let r = c
        .post(graph_url(&emu, &format!("users/{MAILBOX}/messages")))
        .bearer_auth(&tok)
        .json(&json!({"singleValueExtendedProperties": [{"id": "pmpMailSendId", "value": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_graph_error(r, 400, "ErrorInvalidProperty").await;
    assert_eq!(emu.draft_ids().len(), 2);
}

#[tokio::test]
async fn faults_can_target_a_method_and_the_draft_paths() {
    use pmp_graph_emulator::FaultPlan;
    let (emu, tok, _c, id) = with_draft().await;
    let plan: FaultPlan = serde_json::from_value(json!({"rules": [
        {"path": "draft", "method": "DELETE", "action": "status", "status": 500, "count": 1},
        {"path": "createDraft", "method": "POST", "action": "dropAfterAccept", "count": 1},
    ]}))
    .unwrap();
    emu.set_faults(plan);
    // GET on the draft is not hit; the first DELETE is, the second goes through.
    let r = on_draft(&emu, &tok, reqwest::Method::GET, &id, "").await;
    assert_eq!(r.status(), 200);
    let r = on_draft(&emu, &tok, reqwest::Method::DELETE, &id, "").await;
    assert_eq!(r.status(), 500);
    assert_eq!(emu.draft_ids(), vec![id.clone()]);
    let r = on_draft(&emu, &tok, reqwest::Method::DELETE, &id, "").await;
    assert_eq!(r.status(), 204);
    // The lost create answer: the connection closes, but the draft exists.
    let r = client(&emu)
        .post(graph_url(&emu, &format!("users/{MAILBOX}/messages")))
        .bearer_auth(&tok)
        .json(&json!({"subject": "lost"}))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(emu.draft_ids().len(), 1);
}
