//! What every Graph endpoint works with: the caller (from a validated bearer token), the
//! request context (mailbox resolution, recording accepted messages), request bodies within
//! Graph's limits, and JSON answers.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::directory::{GRAPH_APP_ID, Mailbox, Tenant};
use crate::errors::{GraphError, RequestIds, json_body};
use crate::records::{ParsedMessage, Recipient, RecordedMessage};
use crate::state::AppState;
use crate::util::{b64url, b64url_decode, new_guid, now, rfc3339, unix_now};

/// Graph's request size limit (protocol.md C4).
pub(crate) const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// A delay chosen by the fault plan, applied inside the throttling slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultDelay(pub u64);

/// Who is calling, from a validated access token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub tenant_id: String,
    pub app_id: String,
    pub roles: Vec<String>,
}

impl Caller {
    fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    pub(crate) fn require(&self, role: &str) -> Result<(), GraphError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }
}

/// One authenticated request to `/users/{user}/…`.
pub(crate) struct Ctx {
    pub st: Arc<AppState>,
    pub ids: RequestIds,
    pub caller: Caller,
    pub user: String,
}

impl Ctx {
    /// Resolves `/users/{user}` to a mailbox the caller may use.
    pub(crate) fn mailbox(&self) -> Result<Mailbox, GraphError> {
        let invalid = || {
            GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorInvalidUser",
                format!("The requested user '{}' is invalid.", self.user),
            )
        };
        let m = self
            .st
            .dir
            .find_mailbox(&self.caller.tenant_id, &self.user)
            .ok_or_else(invalid)?;
        if !m.exists {
            return Err(invalid());
        }
        if !m.rest_enabled {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ));
        }
        if !m.access_policy_allowed_apps.is_empty()
            && !m
                .access_policy_allowed_apps
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&self.caller.app_id))
        {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "ErrorAccessDenied",
                "Access to OData is disabled.",
            ));
        }
        Ok(m.clone())
    }

    /// Accepts a message for delivery: recorded with this request's ids.
    pub(crate) fn record(
        &self,
        mailbox: &Mailbox,
        via: &str,
        m: ParsedMessage,
        save: bool,
    ) -> RecordedMessage {
        let from = m.from.clone().unwrap_or(Recipient {
            address: mailbox.address.clone(),
            name: mailbox.display_name.clone(),
        });
        let rec = RecordedMessage {
            id: new_guid(),
            mailbox: mailbox.address.clone(),
            app_id: self.caller.app_id.clone(),
            via: via.to_string(),
            provider: None,
            from,
            to: m.to,
            cc: m.cc,
            bcc: m.bcc,
            reply_to: m.reply_to,
            subject: m.subject,
            body_content_type: m.body_content_type,
            body: m.body,
            importance: m.importance,
            save_to_sent_items: save,
            headers: m.headers,
            attachments: m.attachments,
            request_id: self.ids.request_id.clone(),
            client_request_id: self.ids.client_request_id.clone(),
            received_at: rfc3339(now()),
        };
        self.st.accept_message(rec.clone());
        rec
    }
}

/// Validates the bearer token the way Graph does, in Graph's order: present, well-formed,
/// signed by this emulator, within its lifetime, for a known tenant, for Graph.
pub(crate) fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let token = bearer_token(headers)?;
    let claims = verified_claims(st, token)?;
    check_lifetime(&claims)?;
    let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("");
    let tenant = st
        .dir
        .find_tenant(tid)
        .ok_or_else(|| GraphError::unauthorized("Access token validation failure."))?;
    check_audience(st, tenant, &claims)?;
    let roles = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Caller {
        tenant_id: tenant.id.clone(),
        app_id: claims
            .get("appid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        roles,
    })
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Result<&str, GraphError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            Ok(t.trim())
        }
        _ => Err(GraphError::unauthorized("Access token is empty.")),
    }
}

/// The claims of a compact JWS this emulator signed.
fn verified_claims(st: &AppState, token: &str) -> Result<Value, GraphError> {
    let malformed =
        || GraphError::unauthorized("CompactToken parsing failed with error code: 80049217");
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed());
    }
    let claims: Value = b64url_decode(parts[1])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let sig = b64url_decode(parts[2]).ok_or_else(malformed)?;
    let input = format!("{}.{}", parts[0], parts[1]);
    if !st.keys.verify(input.as_bytes(), &sig) {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid signature.",
        ));
    }
    Ok(claims)
}

/// `exp` has not passed and `nbf` is at most five minutes ahead.
fn check_lifetime(claims: &Value) -> Result<(), GraphError> {
    let now = unix_now();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if now >= exp || nbf > now + 300 {
        return Err(GraphError::unauthorized(
            "Access token has expired or is not yet valid.",
        ));
    }
    Ok(())
}

/// `aud` is the tenant cloud's Graph (by URL or app id) or the emulator itself.
fn check_audience(st: &AppState, tenant: &Tenant, claims: &Value) -> Result<(), GraphError> {
    // Managed-identity tokens carry the resource as requested, often with a trailing slash.
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    let aud = aud.strip_suffix('/').unwrap_or(aud);
    let aud_ok = aud.eq_ignore_ascii_case(tenant.cloud.graph_resource())
        || aud.eq_ignore_ascii_case(GRAPH_APP_ID)
        || aud.eq_ignore_ascii_case(&st.base_url);
    if !aud_ok {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
    Ok(())
}

/// Reads the body within Graph's 4 MB limit.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<bytes::Bytes, GraphError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

pub(crate) fn too_large() -> GraphError {
    GraphError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        "The maximum request length supported is 4MB.",
    )
}

/// Reads a JSON request body (see [`check_json_content_type`]) within Graph's 4 MB limit.
pub(crate) async fn read_json_body(
    strict: bool,
    content_type: &str,
    body: axum::body::Body,
) -> Result<bytes::Bytes, GraphError> {
    check_json_content_type(strict, content_type)?;
    read_body(body, MAX_REQUEST).await
}

/// Strict mode: a JSON payload must say so. Graph answers a missing `Content-Type` with 400
/// "Unable to read JSON request payload" and a non-JSON one with 415 (protocol.md C1; observed in
/// microsoft-graph-docs-contrib#6337 and #7141).
fn check_json_content_type(strict: bool, content_type: &str) -> Result<(), GraphError> {
    if !strict {
        return Ok(());
    }
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.is_empty() {
        return Err(invalid_json());
    }
    if media_type != "application/json" {
        return Err(GraphError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "RequestBodyRead",
            format!(
                "A supported MIME type could not be found that matches the content type of the request: '{media_type}'."
            ),
        ));
    }
    Ok(())
}

pub(crate) fn invalid_json() -> GraphError {
    GraphError::bad_request(
        "BadRequest",
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
    )
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Value, GraphError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GraphError::bad_request(
            "BadRequest",
            "Empty Payload. JSON content expected.",
        ));
    }
    serde_json::from_slice(body).map_err(|_| invalid_json())
}

/// A JSON answer with the `Content-Type` Graph puts on entities.
pub(crate) fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, json_body(v)).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"));
    r
}

/// A new message, attachment or upload-session id.
pub(crate) fn new_item_id() -> String {
    // Shaped like Exchange ids (AAMkA…), URL-safe.
    let mut bytes = Vec::with_capacity(48);
    for _ in 0..3 {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    format!("AAMkAG{}", b64url(&bytes))
}
