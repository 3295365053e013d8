//! Gmail's media upload endpoint for `messages.send` (reference A3.3–A3.5):
//! `POST /upload/gmail/v1/users/{userId}/messages/send?uploadType=media|multipart|resumable`
//! (also `/resumable/upload/…`), and the resumable session URI (`…&upload_id=…`) that takes
//! the bytes by `PUT` (or `POST`), in one piece or in `Content-Range` chunks answered with
//! 308 Resume Incomplete. 35 MiB at most.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::GoogleError;
use super::gmail::{Sender, accept, authorize, message_fields, ok_json, throttle};
use crate::errors::RequestIds;
use crate::state::AppState;
use crate::util::{b64_decode_lenient, b64url};
use crate::workspace::{MAX_UPLOAD, ResumableSession};

/// Room for a multipart body's metadata part and boundaries on top of the media.
const MULTIPART_SLACK: usize = 256 * 1024;

fn too_large() -> GoogleError {
    // Google's wording for a media upload over `maxSize` is not pinned by a source; the
    // status and the limit are (discovery maxSize).
    GoogleError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "global",
        "uploadTooLarge",
        format!("Media larger than: {MAX_UPLOAD}"),
        None,
    )
}

fn media_type_refused(ct: &str) -> GoogleError {
    GoogleError::bad_request(
        "badContent",
        format!("Media type '{ct}' is not supported. Valid media types: [message/*]"),
    )
}

fn is_message_type(ct: &str) -> bool {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .starts_with("message/")
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `/upload/gmail/v1/users/{userId}/messages/send`, and
/// `/resumable/upload/gmail/v1/users/{userId}/messages/send` (discovery's resumable path) —
/// any method (sessions take PUT too).
pub(crate) async fn entry(
    State(st): State<Arc<AppState>>,
    Extension(ids): Extension<RequestIds>,
    Path(user_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, headers) = (parts.method, parts.headers);
    let resumable_path = parts.uri.path().starts_with("/resumable/");
    // A request Gmail received runs to completion even when the client goes away.
    let work = tokio::spawn(async move {
        if let Some(id) = q.get("upload_id") {
            return session(&st, &ids, id, &method, &headers, body).await;
        }
        if method != Method::POST {
            return Err(not_found());
        }
        let kind = match (q.get("uploadType").map(String::as_str), resumable_path) {
            (Some("resumable"), _) | (None, true) => "resumable",
            (Some("media"), false) => "media",
            (Some("multipart"), false) => "multipart",
            (None, false) => {
                let ct = header(&headers, "content-type").unwrap_or("");
                if ct.to_ascii_lowercase().starts_with("multipart/") {
                    "multipart"
                } else {
                    "media"
                }
            }
            (Some(other), _) => {
                return Err(GoogleError::bad_request(
                    "invalid",
                    format!("Invalid value for uploadType: {other}"),
                ));
            }
        };
        let sender = authorize(&st, &headers, &user_id)?;
        match kind {
            "resumable" => initiate(&st, sender, &user_id, &headers, body).await,
            "media" => media(&st, &ids, sender, &headers, body).await,
            _ => multipart(&st, &ids, sender, &headers, body).await,
        }
    });
    match work.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.render(),
        Err(_) => super::errors::injected(500, None).render(),
    }
}

fn not_found() -> GoogleError {
    GoogleError::new(
        StatusCode::NOT_FOUND,
        "global",
        "notFound",
        "Not Found",
        Some("NOT_FOUND"),
    )
}

/// The body within `limit`, refusing a declared `Content-Length` over it before reading.
async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, GoogleError> {
    let declared = header(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// `uploadType=media`: the body is the message.
async fn media(
    st: &AppState,
    ids: &RequestIds,
    sender: Sender,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GoogleError> {
    let ct = header(headers, "content-type").unwrap_or("");
    if !is_message_type(ct) {
        return Err(media_type_refused(ct));
    }
    let _permit = throttle(st, &sender)?;
    let raw = read_limited(headers, body, MAX_UPLOAD).await?;
    let answer = accept(st, ids, &sender, &raw, None, "gmail:media")?;
    Ok(ok_json(&answer))
}

/// `uploadType=multipart`: `multipart/related` with the JSON metadata, then the message.
async fn multipart(
    st: &AppState,
    ids: &RequestIds,
    sender: Sender,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GoogleError> {
    let ct = header(headers, "content-type").unwrap_or("");
    let boundary = boundary(ct).ok_or_else(|| {
        GoogleError::bad_request(
            "badContent",
            "Multipart upload needs Content-Type: multipart/related with a boundary.",
        )
    })?;
    let _permit = throttle(st, &sender)?;
    let bytes = read_limited(headers, body, MAX_UPLOAD + MULTIPART_SLACK).await?;
    let parts = split_multipart(&bytes, &boundary)
        .ok_or_else(|| GoogleError::bad_request("badContent", "Malformed multipart body."))?;
    let [meta, media]: [Part; 2] = parts.try_into().map_err(|_| {
        GoogleError::bad_request(
            "badContent",
            "Multipart upload needs two parts: the metadata, then the media.",
        )
    })?;
    let meta_json: Value = if meta.body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&meta.body).map_err(|e| {
            GoogleError::bad_request("parseError", format!("Invalid JSON payload received. {e}"))
        })?
    };
    let (_, thread_id) = message_fields(&meta_json)?;
    let media_ct = media.header("content-type").unwrap_or("");
    if !is_message_type(media_ct) {
        return Err(media_type_refused(media_ct));
    }
    let raw = if media
        .header("content-transfer-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"))
    {
        let text = String::from_utf8_lossy(&media.body);
        b64_decode_lenient(&text)
            .ok_or_else(|| GoogleError::bad_request("badContent", "Invalid base64 media part."))?
    } else {
        media.body
    };
    if raw.len() > MAX_UPLOAD {
        return Err(too_large());
    }
    let answer = accept(st, ids, &sender, &raw, thread_id, "gmail:multipart")?;
    Ok(ok_json(&answer))
}

fn boundary(content_type: &str) -> Option<String> {
    let mut it = content_type.split(';');
    let media = it.next()?.trim().to_ascii_lowercase();
    if !media.starts_with("multipart/") {
        return None;
    }
    it.filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
}

struct Part {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The parts between `--boundary` delimiters (RFC 2046), CRLF or bare LF line ends.
fn split_multipart(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delim = format!("--{boundary}");
    let mut pos = find(body, delim.as_bytes(), 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        // Skip the rest of the delimiter line.
        let line_end = find(body, b"\n", pos)? + 1;
        let next = find(body, delim.as_bytes(), line_end)?;
        let mut end = next;
        if end > line_end && body[end - 1] == b'\n' {
            end -= 1;
            if end > line_end && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        parts.push(parse_part(&body[line_end..end])?);
        pos = next + delim.len();
    }
}

fn parse_part(p: &[u8]) -> Option<Part> {
    let (head_end, body_start) = match find(p, b"\r\n\r\n", 0) {
        Some(i) => (i, i + 4),
        None => {
            let i = find(p, b"\n\n", 0)?;
            (i, i + 2)
        }
    };
    let head = String::from_utf8_lossy(&p[..head_end]);
    let headers = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Part {
        headers,
        body: p[body_start..].to_vec(),
    })
}

/// Step 1 of a resumable upload: metadata (optional), `X-Upload-Content-Type`/`-Length`;
/// answers 200 with the session URI in `Location`.
async fn initiate(
    st: &AppState,
    sender: Sender,
    user_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GoogleError> {
    if let Some(ct) = header(headers, "x-upload-content-type")
        && !is_message_type(ct)
    {
        return Err(media_type_refused(ct));
    }
    let total = match header(headers, "x-upload-content-length") {
        None => None,
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            GoogleError::bad_request("invalid", "Invalid X-Upload-Content-Length header.")
        })?),
    };
    if total.is_some_and(|n| n > MAX_UPLOAD as u64) {
        return Err(too_large());
    }
    let meta = read_limited(headers, body, 64 * 1024).await?;
    let thread_id = if meta.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: Value = serde_json::from_slice(&meta).map_err(|e| {
            GoogleError::bad_request("parseError", format!("Invalid JSON payload received. {e}"))
        })?;
        message_fields(&v)?.1
    };
    let id = format!("AHVrFx{}", b64url(uuid::Uuid::new_v4().as_bytes()));
    st.google.sessions.lock().insert(
        id.clone(),
        ResumableSession {
            grant: sender.grant,
            user_id: sender.address,
            thread_id,
            total,
            data: Vec::new(),
            done: None,
        },
    );
    let user = percent_encoding::utf8_percent_encode(user_id, percent_encoding::NON_ALPHANUMERIC);
    let location = format!(
        "{}/upload/gmail/v1/users/{user}/messages/send?uploadType=resumable&upload_id={id}",
        st.base_url
    );
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert("location", v);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-guploader-uploadid", v);
    }
    Ok(r)
}

/// `Content-Range` of a session request.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// No header: the body is the whole media.
    Whole,
    /// `bytes */N` or `bytes */*`: where are we?
    Query(Option<u64>),
    /// `bytes a-b/N` or `bytes a-b/*`.
    Chunk {
        first: u64,
        last: u64,
        total: Option<u64>,
    },
}

fn parse_range(v: Option<&str>) -> Option<Range> {
    let Some(v) = v else {
        return Some(Range::Whole);
    };
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    if span.trim() == "*" {
        return Some(Range::Query(total));
    }
    let (a, b) = span.trim().split_once('-')?;
    let (first, last) = (a.parse().ok()?, b.parse().ok()?);
    if last < first {
        return None;
    }
    Some(Range::Chunk { first, last, total })
}

/// Step 2: bytes to the session URI. Incomplete: 308 with `Range` (or 200 with
/// `X-HTTP-Status-Code-Override: 308` when the client sent `X-GUploader-No-308: yes`).
/// Complete: the message is sent and the answer kept for later status queries.
async fn session(
    st: &AppState,
    ids: &RequestIds,
    id: &str,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GoogleError> {
    if *method != Method::PUT && *method != Method::POST {
        return Err(not_found());
    }
    if !st.google.sessions.lock().contains_key(id) {
        return Err(not_found());
    }
    let range = parse_range(header(headers, "content-range")).ok_or_else(|| {
        GoogleError::bad_request("badContent", "Failed to parse Content-Range header.")
    })?;
    let chunk = read_limited(headers, body, MAX_UPLOAD).await?;
    let no_308 =
        header(headers, "x-guploader-no-308").is_some_and(|v| v.eq_ignore_ascii_case("yes"));

    // Append under the lock; send (parse, record) after it.
    let ready = {
        let mut sessions = st.google.sessions.lock();
        let s = sessions.get_mut(id).ok_or_else(not_found)?;
        if let Some(done) = &s.done {
            return Ok(ok_json(done));
        }
        match range {
            Range::Whole => {
                s.data = chunk.to_vec();
                s.total = Some(s.data.len() as u64);
            }
            Range::Query(total) => {
                if total.is_some() {
                    s.total = total;
                }
            }
            Range::Chunk { first, last, total } => {
                if last - first + 1 != chunk.len() as u64 {
                    return Err(GoogleError::bad_request(
                        "badContent",
                        "Content-Range does not match the request body's length.",
                    ));
                }
                let have = s.data.len() as u64;
                if first > have {
                    return Err(GoogleError::bad_request(
                        "badContent",
                        format!(
                            "Invalid request. According to the Content-Range header, the upload offset is {first} byte(s), which exceeds already uploaded size of {have} byte(s)."
                        ),
                    ));
                }
                // Bytes already held (a resent chunk) are skipped.
                let skip = (have - first) as usize;
                if skip < chunk.len() {
                    s.data.extend_from_slice(&chunk[skip..]);
                }
                if total.is_some() {
                    s.total = total;
                }
            }
        }
        if s.data.len() > MAX_UPLOAD || s.total.is_some_and(|t| t > MAX_UPLOAD as u64) {
            sessions.remove(id);
            return Err(too_large());
        }
        match s.total {
            Some(t) if s.data.len() as u64 == t => Some((
                Sender {
                    grant: s.grant.clone(),
                    address: s.user_id.clone(),
                },
                s.data.clone(),
                s.thread_id.clone(),
            )),
            _ => None,
        }
    };
    let Some((sender, raw, thread_id)) = ready else {
        let held = st
            .google
            .sessions
            .lock()
            .get(id)
            .map(|s| s.data.len())
            .unwrap_or(0);
        return Ok(resume_incomplete(held, no_308));
    };
    // Throttled: the bytes stay, so resending the last chunk (or a status query) completes it.
    let _permit = throttle(st, &sender)?;
    match accept(st, ids, &sender, &raw, thread_id, "gmail:resumable") {
        Ok(answer) => {
            if let Some(s) = st.google.sessions.lock().get_mut(id) {
                s.done = Some(answer.clone());
                s.data = Vec::new();
            }
            Ok(ok_json(&answer))
        }
        Err(e) => {
            st.google.sessions.lock().remove(id);
            Err(e)
        }
    }
}

fn resume_incomplete(held: usize, no_308: bool) -> Response {
    let status = if no_308 {
        StatusCode::OK
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let mut r = status.into_response();
    let h = r.headers_mut();
    if held > 0
        && let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", held - 1))
    {
        h.insert("range", v);
    }
    if no_308 {
        h.insert(
            "x-http-status-code-override",
            HeaderValue::from_static("308"),
        );
    }
    h.insert("content-length", HeaderValue::from_static("0"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None), Some(Range::Whole));
        assert_eq!(
            parse_range(Some("bytes */100")),
            Some(Range::Query(Some(100)))
        );
        assert_eq!(parse_range(Some("bytes */*")), Some(Range::Query(None)));
        assert_eq!(
            parse_range(Some("bytes 0-262143/*")),
            Some(Range::Chunk {
                first: 0,
                last: 262_143,
                total: None
            })
        );
        assert_eq!(parse_range(Some("bytes 5-4/10")), None);
        assert_eq!(parse_range(Some("items 0-1/2")), None);
    }

    #[test]
    fn multipart_parts() {
        let body = b"--xx\r\nContent-Type: application/json\r\n\r\n{}\r\n--xx\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b\r\n\r\nhi\r\n--xx--\r\n";
        let parts = split_multipart(body, "xx").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"{}");
        assert_eq!(parts[1].header("content-type"), Some("message/rfc822"));
        assert_eq!(parts[1].body, b"From: a@b\r\n\r\nhi");
        assert_eq!(
            boundary("multipart/related; boundary=\"xx\""),
            Some("xx".into())
        );
    }
}
