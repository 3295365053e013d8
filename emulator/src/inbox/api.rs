//! The control API calls the inbox page uses (docs/contracts.md section 6): a filtered list,
//! change versions for polling, one message's view without attachment bytes, its body as a
//! sandboxed document, its `.eml`, its attachments, and deleting one message.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::records::{Recipient, RecordedMessage};
use crate::state::AppState;
use crate::util::b64_decode_lenient;

use super::render;

/// Where the message document's `cid:` links go.
fn cid_route(id: &str) -> String {
    format!("/_emulator/api/messages/{id}/cid/")
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "no such message"})),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    /// Case-insensitive substring of an address, a name or the subject.
    #[serde(default)]
    q: Option<String>,
    /// Only this sending mailbox (case-insensitive).
    #[serde(default)]
    mailbox: Option<String>,
}

fn person_matches(r: &Recipient, q: &str) -> bool {
    r.address.to_lowercase().contains(q)
        || r.name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(q))
}

fn matches(m: &RecordedMessage, q: &ListQuery) -> bool {
    let mailbox = q.mailbox.as_deref().filter(|s| !s.is_empty());
    if mailbox.is_some_and(|mb| !m.mailbox.eq_ignore_ascii_case(mb)) {
        return false;
    }
    let Some(needle) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return true;
    };
    let needle = needle.to_lowercase();
    m.subject.to_lowercase().contains(&needle)
        || m.mailbox.to_lowercase().contains(&needle)
        || person_matches(&m.from, &needle)
        || m.to
            .iter()
            .chain(&m.cc)
            .chain(&m.bcc)
            .chain(&m.reply_to)
            .any(|r| person_matches(r, &needle))
}

/// Body and attachment bytes: what the list shows as the size.
fn size(m: &RecordedMessage) -> u64 {
    m.body.len() as u64 + m.attachments.iter().map(|a| a.size).sum::<u64>()
}

/// The service the message came through, as the page labels it.
fn service(m: &RecordedMessage) -> &'static str {
    match m.provider.as_deref() {
        Some("gmail") => "Gmail",
        _ => "Graph",
    }
}

fn summary(m: &RecordedMessage) -> Value {
    json!({
        "id": m.id,
        "mailbox": m.mailbox,
        "via": m.via,
        "service": service(m),
        "from": m.from,
        "to": m.to,
        "cc": m.cc,
        "subject": m.subject,
        "importance": m.importance,
        "receivedAt": m.received_at,
        "size": size(m),
        "attachments": m.attachments.iter().filter(|a| !a.is_inline).count(),
    })
}

/// `GET inbox?q=&mailbox=`: newest first, with the mailboxes there are messages for and the
/// version the list was taken at.
pub(crate) async fn list(State(st): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let version = st.records.messages_version();
    let msgs = st.records.messages();
    let mut mailboxes: Vec<String> = msgs.iter().map(|m| m.mailbox.to_lowercase()).collect();
    mailboxes.sort();
    mailboxes.dedup();
    let listed: Vec<Value> = msgs
        .iter()
        .rev()
        .filter(|m| matches(m, &q))
        .map(summary)
        .collect();
    Json(json!({
        "version": version,
        "total": msgs.len(),
        "mailboxes": mailboxes,
        "messages": listed,
    }))
    .into_response()
}

/// `GET inbox/version`: what the page polls; a number that moved means "fetch again".
pub(crate) async fn version(State(st): State<Arc<AppState>>) -> Response {
    let c = st.records.counters();
    Json(json!({
        "messages": st.records.messages_version(),
        "requests": c.requests,
        "tokens": c.tokens_issued,
    }))
    .into_response()
}

/// `GET messages/{id}/view`: the message without attachment bytes, plus its text and the
/// URLs of its parts.
pub(crate) async fn view(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(m) = st.records.message(&id) else {
        return not_found();
    };
    let base = format!("/_emulator/api/messages/{}", m.id);
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "index": i,
                "name": a.name,
                "contentType": a.content_type,
                "size": a.size,
                "isInline": a.is_inline,
                "contentId": a.content_id,
                "sha256": a.sha256,
                "url": format!("{base}/attachments/{i}"),
            })
        })
        .collect();
    let text = if m.body_content_type == "html" {
        render::html_to_text(&m.body)
    } else {
        m.body.clone()
    };
    Json(json!({
        "id": m.id,
        "mailbox": m.mailbox,
        "appId": m.app_id,
        "via": m.via,
        "service": service(&m),
        "from": m.from,
        "to": m.to,
        "cc": m.cc,
        "bcc": m.bcc,
        "replyTo": m.reply_to,
        "subject": m.subject,
        "bodyContentType": m.body_content_type,
        "importance": m.importance,
        "saveToSentItems": m.save_to_sent_items,
        "headers": m.headers,
        "requestId": m.request_id,
        "clientRequestId": m.client_request_id,
        "receivedAt": m.received_at,
        "size": size(&m),
        "text": text,
        "attachments": attachments,
        "htmlUrl": format!("{base}/html"),
        "emlUrl": format!("{base}/eml"),
    }))
    .into_response()
}

/// `DELETE messages/{id}`.
pub(crate) async fn delete(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    if st.records.delete_message(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found()
    }
}

/// Headers for anything made of message content: never sniffed, never scripted, never framed
/// by another site; `csp` says what it may load.
fn content_response(body: impl Into<axum::body::Body>, content_type: &str, csp: &str) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Downloads: a file name browsers accept (ASCII fallback plus the RFC 5987 UTF-8 form).
fn attachment_disposition(r: &mut Response, name: &str) {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    let value = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
}

/// No scripts, no plugins, no forms, no remote loads: images only from the message's own
/// `cid:` route or `data:`; inline styles allowed so the mail looks as sent. `sandbox` too, so
/// the document is inert even when opened outside the page's sandboxed iframe.
pub(crate) fn body_csp(st: &AppState, id: &str) -> String {
    let cid_sources: Vec<String> = st
        .base_aliases()
        .iter()
        .map(|b| format!("{b}{}", cid_route(id)))
        .collect();
    format!(
        "default-src 'none'; img-src data: {}; style-src 'unsafe-inline'; font-src data:; \
form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox",
        cid_sources.join(" ")
    )
}

/// `GET messages/{id}/html`: the body as the recipient's mail client would show it.
pub(crate) async fn html(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(m) = st.records.message(&id) else {
        return not_found();
    };
    let doc = if m.body_content_type == "html" {
        render::rewrite_cid(&m.body, &cid_route(&m.id))
    } else {
        render::text_document(&m.body)
    };
    content_response(doc, "text/html; charset=utf-8", &body_csp(&st, &m.id))
}

const INERT: &str = "default-src 'none'; sandbox";

/// `GET messages/{id}/eml`: the message as MIME, downloaded as `<id>.eml`.
pub(crate) async fn eml(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(m) = st.records.message(&id) else {
        return not_found();
    };
    match crate::eml::to_eml(&m) {
        Ok(bytes) => {
            let mut r = content_response(bytes, "message/rfc822", INERT);
            attachment_disposition(&mut r, &format!("{}.eml", m.id));
            r
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": format!("cannot build the .eml: {e}")})),
        )
            .into_response(),
    }
}

/// `GET messages/{id}/attachments/{index}`: the bytes as sent, always as a download.
pub(crate) async fn attachment(
    State(st): State<Arc<AppState>>,
    Path((id, index)): Path<(String, usize)>,
) -> Response {
    let Some(a) = st
        .records
        .message(&id)
        .and_then(|m| m.attachments.get(index).cloned())
    else {
        return not_found();
    };
    let bytes = b64_decode_lenient(&a.content_base64).unwrap_or_default();
    let mut r = content_response(bytes, &a.content_type, INERT);
    attachment_disposition(&mut r, &a.name);
    r
}

/// `GET messages/{id}/cid/{contentId}`: an inline attachment for the body's `<img>`; only
/// image types keep their type (anything else is served as bytes a browser will not render).
pub(crate) async fn cid(
    State(st): State<Arc<AppState>>,
    Path((id, content_id)): Path<(String, String)>,
) -> Response {
    let wanted = content_id.trim_start_matches('<').trim_end_matches('>');
    let Some(a) = st.records.message(&id).and_then(|m| {
        m.attachments.into_iter().find(|a| {
            a.content_id
                .as_deref()
                .map(|c| c.trim_start_matches('<').trim_end_matches('>'))
                .is_some_and(|c| c.eq_ignore_ascii_case(wanted))
        })
    }) else {
        return not_found();
    };
    let bytes = b64_decode_lenient(&a.content_base64).unwrap_or_default();
    // An SVG opened on its own cannot script either: INERT sandboxes it.
    let content_type = if a.content_type.to_ascii_lowercase().starts_with("image/") {
        a.content_type.as_str()
    } else {
        "application/octet-stream"
    };
    content_response(bytes, content_type, INERT)
}
