//! Attachment upload sessions, the large-attachment flow (protocol.md C4):
//! `POST …/attachments/createUploadSession` opens one on a draft, `PUT /_upload/{session}`
//! appends byte ranges to it, `GET` on the upload URL tells how far it got
//! (`nextExpectedRanges`), and the last range attaches the file to the draft.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::ctx::{Ctx, MAX_REQUEST, invalid_json, json_response, new_item_id, parse_json};
use super::drafts::with_draft;
use super::message::{self, check_props};
use crate::errors::{GraphError, RequestIds};
use crate::records::RecordedAttachment;
use crate::state::{AppState, UploadSession};
use crate::util::{b64, b64url, now, rfc3339_fraction, sha256_hex};

const MIN_UPLOAD: u64 = 3 * 1024 * 1024;
const MAX_UPLOAD: u64 = 150 * 1024 * 1024;
/// Outlook documents "up to 4 MB" per range, but the Graph SDKs' LargeFileUploadTask sends
/// 5 MiB slices by default; accept up to 60 MiB like OneDrive so real clients work (strict mode:
/// 4 MiB).
const MAX_CHUNK: usize = 60 * 1024 * 1024;

/// `POST …/attachments/createUploadSession` body `{"AttachmentItem":{…}}` → 201 uploadSession.
pub(super) fn create_session(ctx: &Ctx, id: &str, body: &[u8]) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.ReadWrite")?;
    let mailbox = ctx.mailbox()?;
    let v = parse_json(body)?;
    let item = attachment_item(&v)?;
    let (name, size) = file_name_and_size(item)?;
    with_draft(ctx, &mailbox.address, id, |_| ())?;
    let session = new_session(item, id, &mailbox.address, name, size)?;
    let session_id = new_item_id();
    let out = json!({
        "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.uploadSession", ctx.st.base_url),
        "uploadUrl": format!("{}/_upload/{session_id}?authtoken={}", ctx.st.base_url, session.token),
        "expirationDateTime": rfc3339_fraction(session.expires),
        "nextExpectedRanges": ["0-"],
    });
    ctx.st.uploads.lock().insert(session_id, session);
    Ok(json_response(StatusCode::CREATED, &out))
}

/// The action's one parameter, `AttachmentItem` (`@odata.*` annotations aside).
fn attachment_item(v: &Value) -> Result<&Map<String, Value>, GraphError> {
    let obj = v.as_object().ok_or_else(invalid_json)?;
    for k in obj.keys() {
        if k != "AttachmentItem" && !k.starts_with("@odata.") {
            return Err(message::body_read(format!(
                "The parameter '{k}' in the request payload is not a valid parameter for the operation 'createUploadSession'."
            )));
        }
    }
    obj.get("AttachmentItem")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidParameter",
                "The value of the parameter 'AttachmentItem' is empty.",
            )
        })
}

/// A file item's name and size, the size within the upload session limits.
fn file_name_and_size(item: &Map<String, Value>) -> Result<(String, u64), GraphError> {
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
    Ok((name, size))
}

/// An empty session for the draft, with a fresh upload token, valid for six hours.
fn new_session(
    item: &Map<String, Value>,
    draft_id: &str,
    mailbox: &str,
    name: String,
    size: u64,
) -> Result<UploadSession, GraphError> {
    let token = b64url(
        &[
            uuid::Uuid::new_v4().as_bytes().as_slice(),
            uuid::Uuid::new_v4().as_bytes(),
        ]
        .concat(),
    );
    Ok(UploadSession {
        token,
        draft_id: draft_id.to_string(),
        mailbox: mailbox.to_string(),
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
        expires: now() + time::Duration::hours(6),
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct UploadQuery {
    authtoken: Option<String>,
}

/// `PUT|GET|DELETE /_upload/{session}?authtoken=…` — no Authorization header, by design.
pub(crate) async fn entry(
    State(st): State<Arc<AppState>>,
    Extension(ids): Extension<RequestIds>,
    Path(session_id): Path<String>,
    Query(q): Query<UploadQuery>,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let authtoken = q.authtoken.as_deref();
    match upload(&st, &session_id, authtoken, &method, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.render(&ids),
    }
}

/// One request to an upload URL: the session and its token, the method, then the range.
async fn upload(
    st: &AppState,
    session_id: &str,
    authtoken: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Response, GraphError> {
    // Read the slice before any verdict, as a real front end does: answering while the client
    // is still writing MiBs makes it see a broken pipe instead of the answer.
    let bytes = axum::body::to_bytes(body, MAX_CHUNK).await.map_err(|_| {
        GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The upload chunk is too large.",
        )
    })?;
    check_session_token(st, session_id, authtoken)?;
    check_no_authorization(st.strict, headers)?;
    match *method {
        Method::DELETE => {
            st.uploads.lock().remove(session_id);
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Method::GET => {
            return Ok(json_response(
                StatusCode::OK,
                &session_status(st, session_id)?,
            ));
        }
        Method::PUT => {}
        _ => {
            return Err(GraphError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "ErrorInvalidRequest",
                "The OData request is not supported.",
            ));
        }
    }
    let range = content_range(headers)?;
    check_range_size(st.strict, bytes.len())?;
    match append_range(st, session_id, range, &bytes)? {
        Appended::More(progress) => Ok(json_response(StatusCode::OK, &progress)),
        Appended::Complete(session) => attach_to_draft(st, session),
    }
}

fn session_gone() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The upload session was not found or has expired.",
    )
}

/// The session exists, has not expired, and `authtoken` is its token.
fn check_session_token(
    st: &AppState,
    session_id: &str,
    authtoken: Option<&str>,
) -> Result<(), GraphError> {
    let uploads = st.uploads.lock();
    let s = uploads.get(session_id).ok_or_else(session_gone)?;
    if authtoken.is_some_and(|t| t == s.token) && s.expires > now() {
        Ok(())
    } else {
        Err(GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The upload session token is invalid or expired.",
        ))
    }
}

/// Strict mode: OneDrive and Outlook document upload URLs as pre-authenticated: "including the
/// Authorization header ... may result in an HTTP 401 Unauthorized response".
fn check_no_authorization(strict: bool, headers: &HeaderMap) -> Result<(), GraphError> {
    if strict && headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Err(GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The upload URL is pre-authenticated; the request must not carry an Authorization header.",
        ));
    }
    Ok(())
}

/// `Content-Range: bytes start-end/total`.
fn content_range(headers: &HeaderMap) -> Result<(u64, u64, u64), GraphError> {
    headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range)
        .ok_or_else(|| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidRequest",
                "The Content-Range header is missing or malformed; expected 'bytes start-end/total'.",
            )
        })
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

/// Strict mode holds ranges to Graph's documented "up to 4 MB" per PUT (protocol.md C4).
fn check_range_size(strict: bool, len: usize) -> Result<(), GraphError> {
    if strict && len > MAX_REQUEST {
        return Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The upload range has {len} bytes; the limit per request is {MAX_REQUEST}."),
        ));
    }
    Ok(())
}

enum Appended {
    /// The answer naming the next expected range.
    More(Value),
    /// The last range arrived; the session is closed.
    Complete(UploadSession),
}

/// Appends the range if it is the next one expected. The last range closes the session under
/// the same lock, so a concurrent request finds it gone.
fn append_range(
    st: &AppState,
    session_id: &str,
    (start, end, total): (u64, u64, u64),
    bytes: &[u8],
) -> Result<Appended, GraphError> {
    let mut uploads = st.uploads.lock();
    let s = uploads.get_mut(session_id).ok_or_else(session_gone)?;
    let next = s.data.len() as u64;
    if total != s.size || start != next || end < start || end >= total {
        return Err(GraphError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "ErrorInvalidContentRange",
            format!(
                "The Content-Range 'bytes {start}-{end}/{total}' does not match the next expected range '{next}-' of a {}-byte attachment.",
                s.size
            ),
        ));
    }
    if bytes.len() as u64 != end - start + 1 {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            format!(
                "The body has {} bytes but Content-Range announces {}.",
                bytes.len(),
                end - start + 1
            ),
        ));
    }
    s.data.extend_from_slice(bytes);
    if (s.data.len() as u64) < s.size {
        return Ok(Appended::More(progress(
            &st.base_url,
            s,
            format!("{}", s.data.len()),
        )));
    }
    uploads
        .remove(session_id)
        .map(Appended::Complete)
        .ok_or_else(|| {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The upload session was not found.",
            )
        })
}

/// The session entity as an intermediate range's answer shows it (protocol.md C4: PascalCase
/// `ExpirationDateTime`, `nextExpectedRanges`).
fn progress(base_url: &str, s: &UploadSession, next: String) -> Value {
    json!({
        "@odata.context": format!("{base_url}/api/v2.0/$metadata#Users('{}')/Messages('{}')/AttachmentSessions/$entity", s.mailbox, s.draft_id),
        "ExpirationDateTime": rfc3339_fraction(s.expires),
        "nextExpectedRanges": [next],
    })
}

/// `GET {uploadUrl}`: the session's status, for a client that lost an answer and must learn
/// where to continue. The Graph SDKs' LargeFileUploadTask asks this way before resuming;
/// OneDrive documents it ("resume an in-progress upload"), Outlook's page does not
/// [UNCONFIRMED for Outlook: shape taken from the intermediate PUT answer, the range in
/// OneDrive's `start-end` form]. A finished session is gone: 404, like any unknown session.
fn session_status(st: &AppState, session_id: &str) -> Result<Value, GraphError> {
    let uploads = st.uploads.lock();
    let s = uploads.get(session_id).ok_or_else(session_gone)?;
    let next = s.data.len() as u64;
    Ok(progress(
        &st.base_url,
        s,
        format!("{next}-{}", s.size.saturating_sub(1)),
    ))
}

/// The finished upload becomes a file attachment of its draft → 201 + `Location`.
fn attach_to_draft(st: &AppState, s: UploadSession) -> Result<Response, GraphError> {
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
    {
        let mut drafts = st.drafts.lock();
        let d = drafts
            .get_mut(&s.draft_id)
            .ok_or_else(GraphError::item_not_found)?;
        d.msg.attachments.push(att);
        d.attachment_ids.push(att_id.clone());
    }
    let mut r = StatusCode::CREATED.into_response();
    let location = format!(
        "{}/api/v2.0/Users('{}')/Messages('{}')/Attachments('{att_id}')",
        st.base_url, s.mailbox, s.draft_id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert("location", v);
    }
    Ok(r)
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
