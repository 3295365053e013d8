//! Drafts, attachments and upload sessions: the large-attachment flow (protocol.md C4).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::message::{self, ParsedMessage, check_props};
use super::{Ctx, parse_json};
use crate::errors::{GraphError, RequestIds, json_body};
use crate::records::{Recipient, RecordedAttachment};
use crate::server::AppState;
use crate::util::{b64, b64url, now, rfc3339, rfc3339_fraction, sha256_hex};

const MIN_UPLOAD: u64 = 3 * 1024 * 1024;
const MAX_UPLOAD: u64 = 150 * 1024 * 1024;
/// Outlook documents "up to 4 MB" per range, but the Graph SDKs' LargeFileUploadTask sends
/// 5 MiB slices by default; accept up to 60 MiB like OneDrive so real clients work (strict mode:
/// 4 MiB).
pub(crate) const MAX_CHUNK: usize = 60 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub id: String,
    pub tenant_id: String,
    pub mailbox: String,
    pub msg: ParsedMessage,
    pub attachment_ids: Vec<String>,
    pub created: OffsetDateTime,
}

#[derive(Debug)]
pub(crate) struct UploadSession {
    pub token: String,
    pub draft_id: String,
    pub mailbox: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub data: Vec<u8>,
    pub expires: OffsetDateTime,
}

fn new_item_id() -> String {
    // Shaped like Exchange ids (AAMkA…), URL-safe.
    let mut bytes = Vec::with_capacity(48);
    for _ in 0..3 {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    format!("AAMkAG{}", b64url(&bytes))
}

fn recipients_json(rs: &[Recipient]) -> Value {
    Value::Array(
        rs.iter()
            .map(|r| json!({"emailAddress": {"name": r.name.clone().unwrap_or_else(|| r.address.clone()), "address": r.address}}))
            .collect(),
    )
}

fn message_json(ctx: &Ctx, d: &Draft) -> Value {
    let m = &d.msg;
    let from = m.from.clone().unwrap_or(Recipient {
        address: d.mailbox.clone(),
        name: None,
    });
    let created = rfc3339(d.created);
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/messages/$entity", ctx.st.base_url, d.mailbox),
        "@odata.etag": "W/\"CQAAABYAAAAA\"",
        "id": d.id,
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "changeKey": "CQAAABYAAAAA",
        "categories": [],
        "receivedDateTime": created,
        "sentDateTime": null,
        "hasAttachments": !d.attachment_ids.is_empty(),
        "internetMessageId": format!("<{}@pmp-graph-emulator>", d.id.get(6..30).unwrap_or("x")),
        "subject": m.subject,
        "bodyPreview": m.body.chars().take(255).collect::<String>(),
        "importance": m.importance,
        "parentFolderId": "drafts",
        "conversationId": d.id,
        "isDeliveryReceiptRequested": false,
        "isReadReceiptRequested": false,
        "isRead": true,
        "isDraft": true,
        "webLink": format!("{}/_emulator/", ctx.st.base_url),
        "inferenceClassification": "focused",
        "body": {"contentType": m.body_content_type, "content": m.body},
        "sender": null,
        "from": {"emailAddress": {"name": from.name.clone().unwrap_or_else(|| from.address.clone()), "address": from.address}},
        "toRecipients": recipients_json(&m.to),
        "ccRecipients": recipients_json(&m.cc),
        "bccRecipients": recipients_json(&m.bcc),
        "replyTo": recipients_json(&m.reply_to),
        "flag": {"flagStatus": "notFlagged"},
    })
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, json_body(v)).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"));
    r
}

/// Looks a draft up for this caller + mailbox; anything else is "not found", like Exchange.
fn with_draft<T>(
    ctx: &Ctx,
    mailbox: &str,
    id: &str,
    f: impl FnOnce(&mut Draft) -> T,
) -> Result<T, GraphError> {
    let mut drafts = ctx.st.drafts.lock();
    let d = drafts
        .get_mut(id)
        .filter(|d| d.tenant_id == ctx.caller.tenant_id && d.mailbox.eq_ignore_ascii_case(mailbox))
        .ok_or_else(GraphError::item_not_found)?;
    Ok(f(d))
}

/// `POST /users/{id}/messages` → 201 + message (Mail.ReadWrite).
pub(super) fn create(ctx: &Ctx, body: &[u8]) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    let v = parse_json(body)?;
    let msg = message::parse_message(&v)?;
    message::check_headers(&msg.headers)?;
    let d = Draft {
        id: new_item_id(),
        tenant_id: ctx.caller.tenant_id.clone(),
        mailbox: mailbox.address.clone(),
        msg,
        attachment_ids: Vec::new(),
        created: now(),
    };
    let mut d = d;
    d.attachment_ids = d.msg.attachments.iter().map(|_| new_item_id()).collect();
    let out = message_json(ctx, &d);
    ctx.st.drafts.lock().insert(d.id.clone(), d);
    Ok(json_response(StatusCode::CREATED, &out))
}

/// `GET /users/{id}/messages/{msgId}` (drafts only).
pub(super) fn get(ctx: &Ctx, id: &str) -> Result<Response, GraphError> {
    if !ctx.caller.roles.iter().any(|r| {
        ["Mail.ReadWrite", "Mail.Read", "Mail.ReadBasic.All"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(r))
    }) {
        return Err(GraphError::access_denied());
    }
    let mailbox = ctx.mailbox()?;
    let out = with_draft(ctx, &mailbox.address, id, |d| d.clone())?;
    Ok(json_response(StatusCode::OK, &message_json(ctx, &out)))
}

/// `DELETE /users/{id}/messages/{msgId}` → 204.
pub(super) fn delete(ctx: &Ctx, id: &str) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    with_draft(ctx, &mailbox.address, id, |_| ())?;
    ctx.st.drafts.lock().remove(id);
    ctx.st.uploads.lock().retain(|_, s| s.draft_id != id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /users/{id}/messages/{msgId}/attachments` → 201 + fileAttachment.
pub(super) fn add_attachment(ctx: &Ctx, id: &str, body: &[u8]) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    let v = parse_json(body)?;
    let a = message::attachment(&v)?;
    let att_id = new_item_id();
    let (aid, a2) = (att_id.clone(), a.clone());
    with_draft(ctx, &mailbox.address, id, move |d| {
        d.msg.attachments.push(a2);
        d.attachment_ids.push(aid);
    })?;
    let out = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/messages('{id}')/attachments/$entity", ctx.st.base_url, mailbox.address),
        "@odata.type": "#microsoft.graph.fileAttachment",
        "@odata.mediaContentType": a.content_type,
        "id": att_id,
        "lastModifiedDateTime": rfc3339(now()),
        "name": a.name,
        "contentType": a.content_type,
        "size": a.size,
        "isInline": a.is_inline,
        "contentId": a.content_id,
        "contentLocation": null,
        "contentBytes": a.content_base64,
    });
    Ok(json_response(StatusCode::CREATED, &out))
}

/// `POST …/attachments/createUploadSession` body `{"AttachmentItem":{…}}` → 201 uploadSession.
pub(super) fn create_upload_session(
    ctx: &Ctx,
    id: &str,
    body: &[u8],
) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    let v = parse_json(body)?;
    let obj = v.as_object().ok_or_else(super::invalid_json)?;
    for k in obj.keys() {
        if k != "AttachmentItem" && !k.starts_with("@odata.") {
            return Err(message::body_read(format!(
                "The parameter '{k}' in the request payload is not a valid parameter for the operation 'createUploadSession'."
            )));
        }
    }
    let item = obj
        .get("AttachmentItem")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidParameter",
                "The value of the parameter 'AttachmentItem' is empty.",
            )
        })?;
    check_props(
        item,
        &[
            "attachmentType",
            "name",
            "size",
            "contentType",
            "isInline",
            "contentId",
        ],
        "microsoft.graph.attachmentItem",
    )?;
    let kind = item
        .get("attachmentType")
        .and_then(Value::as_str)
        .unwrap_or("file");
    if !kind.eq_ignore_ascii_case("file") {
        return Err(GraphError::bad_request(
            "ErrorInvalidParameter",
            format!("Attachment type '{kind}' is not supported for upload sessions."),
        ));
    }
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return Err(GraphError::bad_request(
            "ErrorInvalidParameter",
            "The attachment name is required.",
        ));
    }
    let size = item
        .get("size")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|x| x.parse().ok()))
        })
        .ok_or_else(|| {
            GraphError::bad_request("ErrorInvalidParameter", "The attachment size is required.")
        })?;
    if size < MIN_UPLOAD {
        return Err(GraphError::bad_request(
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        ));
    }
    if size > MAX_UPLOAD {
        return Err(GraphError::bad_request(
            "ErrorMessageSizeExceeded",
            "The message exceeds the maximum supported size.",
        ));
    }
    with_draft(ctx, &mailbox.address, id, |_| ())?;
    let session_id = new_item_id();
    let token = b64url(
        &[
            uuid::Uuid::new_v4().as_bytes().as_slice(),
            uuid::Uuid::new_v4().as_bytes(),
        ]
        .concat(),
    );
    let expires = now() + time::Duration::hours(6);
    ctx.st.uploads.lock().insert(
        session_id.clone(),
        UploadSession {
            token: token.clone(),
            draft_id: id.to_string(),
            mailbox: mailbox.address.clone(),
            name,
            content_type: item
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream")
                .to_string(),
            size,
            is_inline: message::opt_bool(item, "isInline")?.unwrap_or(false),
            content_id: item
                .get("contentId")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            data: Vec::with_capacity(size.min(MAX_UPLOAD) as usize),
            expires,
        },
    );
    let out = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.uploadSession", ctx.st.base_url),
        "uploadUrl": format!("{}/_upload/{session_id}?authtoken={token}", ctx.st.base_url),
        "expirationDateTime": rfc3339_fraction(expires),
        "nextExpectedRanges": ["0-"],
    });
    Ok(json_response(StatusCode::CREATED, &out))
}

/// `POST /users/{id}/messages/{msgId}/send` → 202; the draft is gone afterwards.
pub(super) fn send(ctx: &Ctx, id: &str) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.Send")?;
    let mailbox = ctx.mailbox()?;
    let draft = with_draft(ctx, &mailbox.address, id, |d| d.clone())?;
    super::validate_for_send(&mailbox, &draft.msg)?;
    // Remove under the lock so two concurrent sends cannot both succeed.
    if ctx.st.drafts.lock().remove(id).is_none() {
        return Err(GraphError::item_not_found());
    }
    ctx.st.uploads.lock().retain(|_, s| s.draft_id != id);
    ctx.record(&mailbox, "draft", draft.msg, true);
    Ok(StatusCode::ACCEPTED.into_response())
}

fn upload_error(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    ids: &RequestIds,
) -> Response {
    GraphError::new(status, code, message).render(ids)
}

#[derive(serde::Deserialize)]
pub(crate) struct UploadQuery {
    authtoken: Option<String>,
}

/// `PUT|DELETE /_upload/{session}?authtoken=…` — no Authorization header, by design.
pub(crate) async fn upload(
    State(st): State<Arc<AppState>>,
    Extension(ids): Extension<RequestIds>,
    Path(session_id): Path<String>,
    Query(q): Query<UploadQuery>,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // Read the slice before any verdict, as a real front end does: answering while the client
    // is still writing MiBs makes it see a broken pipe instead of the answer.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_CHUNK).await else {
        return upload_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The upload chunk is too large.",
            &ids,
        );
    };
    let token_ok = {
        let uploads = st.uploads.lock();
        match uploads.get(&session_id) {
            None => None,
            Some(s) => {
                Some(q.authtoken.as_deref().is_some_and(|t| t == s.token) && s.expires > now())
            }
        }
    };
    match token_ok {
        None => {
            return upload_error(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The upload session was not found or has expired.",
                &ids,
            );
        }
        Some(false) => {
            return upload_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The upload session token is invalid or expired.",
                &ids,
            );
        }
        Some(true) => {}
    }
    if st.strict && headers.contains_key(axum::http::header::AUTHORIZATION) {
        // OneDrive and Outlook document upload URLs as pre-authenticated: "including the
        // Authorization header ... may result in an HTTP 401 Unauthorized response".
        return upload_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The upload URL is pre-authenticated; the request must not carry an Authorization header.",
            &ids,
        );
    }
    if method == Method::DELETE {
        st.uploads.lock().remove(&session_id);
        return StatusCode::NO_CONTENT.into_response();
    }
    if method != Method::PUT {
        return upload_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "ErrorInvalidRequest",
            "The OData request is not supported.",
            &ids,
        );
    }
    let range = headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    let Some((start, end, total)) = range else {
        return upload_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The Content-Range header is missing or malformed; expected 'bytes start-end/total'.",
            &ids,
        );
    };
    // Strict mode holds ranges to Graph's documented "up to 4 MB" per PUT (protocol.md C4).
    if st.strict && bytes.len() > super::MAX_REQUEST {
        return upload_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!(
                "The upload range has {} bytes; the limit per request is {}.",
                bytes.len(),
                super::MAX_REQUEST
            ),
            &ids,
        );
    }
    let mut uploads = st.uploads.lock();
    let Some(s) = uploads.get_mut(&session_id) else {
        return upload_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The upload session was not found or has expired.",
            &ids,
        );
    };
    let next = s.data.len() as u64;
    if total != s.size || start != next || end < start || end >= total {
        return upload_error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "ErrorInvalidContentRange",
            format!(
                "The Content-Range 'bytes {start}-{end}/{total}' does not match the next expected range '{next}-' of a {}-byte attachment.",
                s.size
            ),
            &ids,
        );
    }
    if bytes.len() as u64 != end - start + 1 {
        return upload_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            format!(
                "The body has {} bytes but Content-Range announces {}.",
                bytes.len(),
                end - start + 1
            ),
            &ids,
        );
    }
    s.data.extend_from_slice(&bytes);
    if (s.data.len() as u64) < s.size {
        let out = json!({
            "@odata.context": format!("{}/api/v2.0/$metadata#Users('{}')/Messages('{}')/AttachmentSessions/$entity", st.base_url, s.mailbox, s.draft_id),
            "ExpirationDateTime": rfc3339_fraction(s.expires),
            "nextExpectedRanges": [format!("{}", s.data.len())],
        });
        return json_response(StatusCode::OK, &out);
    }
    // Complete: attach to the draft.
    let Some(s) = uploads.remove(&session_id) else {
        return upload_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The upload session was not found.",
            &ids,
        );
    };
    drop(uploads);
    let att = RecordedAttachment {
        name: s.name,
        content_type: s.content_type,
        size: s.data.len() as u64,
        is_inline: s.is_inline,
        content_id: s.content_id,
        content_base64: b64(&s.data),
        sha256: sha256_hex(&s.data),
    };
    let att_id = new_item_id();
    let mut drafts = st.drafts.lock();
    let Some(d) = drafts.get_mut(&s.draft_id) else {
        return upload_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
            &ids,
        );
    };
    d.msg.attachments.push(att);
    d.attachment_ids.push(att_id.clone());
    drop(drafts);
    let mut r = StatusCode::CREATED.into_response();
    let location = format!(
        "{}/api/v2.0/Users('{}')/Messages('{}')/Attachments('{att_id}')",
        st.base_url, s.mailbox, s.draft_id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert("location", v);
    }
    r
}

fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    Some((
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_range() {
        assert_eq!(
            super::parse_content_range("bytes 0-9/100"),
            Some((0, 9, 100))
        );
        assert_eq!(super::parse_content_range("bytes 0-9"), None);
        assert_eq!(super::parse_content_range("items 0-9/100"), None);
    }
}
