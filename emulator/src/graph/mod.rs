//! Microsoft Graph `/v1.0` mail surface: bearer validation, throttling, dispatch.

mod drafts;
pub(crate) mod message;
mod mime;

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::directory::Mailbox;
use crate::errors::{GraphError, RequestIds};
use crate::records::{Recipient, RecordedMessage};
use crate::server::AppState;
use crate::throttle::Limit;
use crate::util::{b64url_decode, rfc3339, unix_now};

pub(crate) use drafts::{Draft, UploadSession, upload};

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

    pub(crate) fn record(
        &self,
        mailbox: &Mailbox,
        via: &str,
        m: message::ParsedMessage,
        save: bool,
    ) -> RecordedMessage {
        let from = m.from.clone().unwrap_or(Recipient {
            address: mailbox.address.clone(),
            name: mailbox.display_name.clone(),
        });
        let rec = RecordedMessage {
            id: crate::util::new_guid(),
            mailbox: mailbox.address.clone(),
            app_id: self.caller.app_id.clone(),
            via: via.to_string(),
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
            received_at: rfc3339(crate::util::now()),
        };
        self.st.records.add_message(rec.clone());
        rec
    }
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

fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => return Err(GraphError::unauthorized("Access token is empty.")),
    };
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
    let now = unix_now();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if now >= exp || nbf > now + 300 {
        return Err(GraphError::unauthorized(
            "Access token has expired or is not yet valid.",
        ));
    }
    let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("");
    let tenant = st
        .dir
        .find_tenant(tid)
        .ok_or_else(|| GraphError::unauthorized("Access token validation failure."))?;
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    let aud_ok = aud.eq_ignore_ascii_case(tenant.cloud.graph_resource())
        || aud.eq_ignore_ascii_case(crate::token::GRAPH_APP_ID)
        || aud.eq_ignore_ascii_case(&st.base_url);
    if !aud_ok {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
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

/// `ANY /v1.0/{*rest}`.
pub(crate) async fn entry(
    State(st): State<Arc<AppState>>,
    Extension(ids): Extension<RequestIds>,
    delay: Option<Extension<FaultDelay>>,
    req: Request,
) -> Response {
    // A request Graph has received runs to completion even when the client goes away (it timed
    // out, or its connection broke): a send may still be accepted, which is what makes its
    // outcome unknown to the client. So the work runs on its own task, not in the connection's.
    let work = tokio::spawn(run(st, ids.clone(), delay.map(|d| d.0), req));
    match work.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.render(&ids),
        Err(_) => GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The emulator failed while handling the request.",
        )
        .render(&ids),
    }
}

async fn run(
    st: Arc<AppState>,
    ids: RequestIds,
    delay: Option<FaultDelay>,
    req: Request,
) -> Result<Response, GraphError> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST as u64) {
        return Err(too_large());
    }
    let path = parts.uri.path();
    let rest = path.strip_prefix("/v1.0").unwrap_or(path);
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let caller = authenticate(&st, &parts.headers)?;
    let first = segs
        .first()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    if first == "me" {
        return Err(GraphError::bad_request(
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    if first != "users" || segs.len() < 3 {
        let seg = segs
            .get(if first == "users" { 1 } else { 0 })
            .cloned()
            .unwrap_or_default();
        return Err(GraphError::bad_request(
            "BadRequest",
            format!("Resource not found for the segment '{seg}'."),
        ));
    }
    let user = segs[1].clone();
    // Segments are case-insensitive in Graph; actions may carry the `microsoft.graph.` prefix.
    let lower: Vec<String> = segs[2..]
        .iter()
        .map(|s| {
            let l = s.to_ascii_lowercase();
            l.strip_prefix("microsoft.graph.")
                .map(str::to_string)
                .unwrap_or(l)
        })
        .collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();

    // Throttling is keyed by app + mailbox; a mailbox named by id or address is one mailbox.
    let mailbox_key = st
        .dir
        .find_mailbox(&caller.tenant_id, &user)
        .map(|m| m.address.to_ascii_lowercase())
        .unwrap_or_else(|| user.to_ascii_lowercase());
    let _permit = st
        .throttle
        .acquire(&caller.app_id, &mailbox_key)
        .map_err(|l| {
            let (what, wait) = match l {
                Limit::Concurrency => ("MailboxConcurrency", 1),
                Limit::Rate(s) => ("RequestRate", s),
            };
            GraphError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ApplicationThrottled",
                format!("Application is over its {what} limit."),
            )
            .without_inner()
            .with_retry_after(Some(wait))
        })?;
    if let Some(FaultDelay(ms)) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    let ctx = Ctx {
        st: st.clone(),
        ids,
        caller,
        user,
    };
    let method = parts.method.clone();
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json_body = |body| read_json_body(st.strict, &content_type, body);
    match (lower.as_slice(), &method) {
        (["sendmail"], &Method::POST) if content_type.starts_with("text/plain") => {
            let body = read_body(body, MAX_REQUEST).await?;
            send_mail(&ctx, &content_type, &body)
        }
        (["sendmail"], &Method::POST) => {
            let body = json_body(body).await?;
            send_mail(&ctx, &content_type, &body)
        }
        (["messages"], &Method::POST) => {
            let body = json_body(body).await?;
            drafts::create(&ctx, &body)
        }
        (["messages", _], &Method::GET) => drafts::get(&ctx, &segs[3]),
        (["messages", _], &Method::DELETE) => drafts::delete(&ctx, &segs[3]),
        (["messages", _, "attachments"], &Method::POST) => {
            let body = json_body(body).await?;
            drafts::add_attachment(&ctx, &segs[3], &body)
        }
        (["messages", _, "attachments", "createuploadsession"], &Method::POST) => {
            let body = json_body(body).await?;
            drafts::create_upload_session(&ctx, &segs[3], &body)
        }
        (["messages", _, "send"], &Method::POST) => drafts::send(&ctx, &segs[3]),
        (
            ["sendmail"]
            | ["messages"]
            | ["messages", _]
            | ["messages", _, "attachments"]
            | ["messages", _, "attachments", "createuploadsession"]
            | ["messages", _, "send"],
            _,
        ) => Err(GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "ErrorInvalidRequest",
            "The OData request is not supported.",
        )),
        _ => Err(GraphError::bad_request(
            "BadRequest",
            format!(
                "Resource not found for the segment '{}'.",
                segs.get(2).cloned().unwrap_or_default()
            ),
        )),
    }
}

/// Reads a JSON request body (see [`check_json_content_type`]) within Graph's 4 MB limit.
async fn read_json_body(
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

/// `POST /users/{id}/sendMail` — JSON or MIME.
fn send_mail(ctx: &Ctx, content_type: &str, body: &[u8]) -> Result<Response, GraphError> {
    ctx.caller.require("Mail.Send")?;
    let mailbox = ctx.mailbox()?;
    let (msg, save) = if content_type.starts_with("text/plain") {
        (mime::parse_mime(body)?, true)
    } else {
        let v = parse_json(body)?;
        let obj = v.as_object().ok_or_else(invalid_json)?;
        // OData action parameter names match case-insensitively: the Graph .NET SDK (Kiota)
        // sends `{"Message":…,"SaveToSentItems":…}`, the docs show `message`/`saveToSentItems`.
        let param = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        for k in obj.keys() {
            if !k.eq_ignore_ascii_case("message")
                && !k.eq_ignore_ascii_case("saveToSentItems")
                && !k.starts_with("@odata.")
            {
                return Err(message::body_read(format!(
                    "The parameter '{k}' in the request payload is not a valid parameter for the operation 'sendMail'."
                )));
            }
        }
        let save_param: serde_json::Map<String, Value> = param("saveToSentItems")
            .map(|s| ("saveToSentItems".to_string(), s.clone()))
            .into_iter()
            .collect();
        let save = message::opt_bool(&save_param, "saveToSentItems")?.unwrap_or(true);
        let m = match param("message") {
            Some(m) if m.as_object().is_some_and(|o| !o.is_empty()) => m,
            _ => {
                return Err(GraphError::bad_request(
                    "ErrorInvalidParameter",
                    "The value of the parameter 'Message' is empty.",
                ));
            }
        };
        (message::parse_message(m)?, save)
    };
    validate_for_send(&mailbox, &msg)?;
    ctx.record(&mailbox, "sendMail", msg, save);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Checks every send path applies: headers, recipients, Send As.
pub(crate) fn validate_for_send(
    mailbox: &Mailbox,
    msg: &message::ParsedMessage,
) -> Result<(), GraphError> {
    message::check_headers(&msg.headers)?;
    if let Some(from) = &msg.from
        && !from.address.is_empty()
        && !from.address.eq_ignore_ascii_case(&mailbox.address)
    {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "ErrorSendAsDenied",
            "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
        ));
    }
    message::check_recipients(msg)
}
