//! Gmail `users.messages.send` (reference A3): who may send (bearer token → grant, project,
//! scope, `userId`, the user's mail service), the per-user limits, and accepting an RFC 5322
//! message into the same records and `.eml` files as Graph mail. The JSON `raw` endpoint lives
//! here; the media upload endpoints in `upload.rs` end in [`accept`] too.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::GeneralPurposeConfig;
use serde_json::{Value, json};

use super::errors::GoogleError;
use crate::errors::{RequestIds, json_body};
use crate::graph::mime::parse_rfc5322;
use crate::records::{Recipient, RecordedMessage};
use crate::state::AppState;
use crate::util::{now, rfc3339, unix_now};
use crate::workspace::{GoogleGrant, UserLimit, UserPermit};

/// The scopes `messages.send` accepts (discovery).
const SEND_SCOPES: [&str; 5] = [
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.send",
];

/// The JSON endpoint's request limit (observed: "Request payload size exceeds the limit:
/// 1048576 bytes."); bigger messages go through `/upload`.
const MAX_JSON: usize = 1024 * 1024;

/// Properties of the Message resource; anything else is an unknown name.
const MESSAGE_FIELDS: [&str; 9] = [
    "id",
    "threadId",
    "labelIds",
    "snippet",
    "historyId",
    "internalDate",
    "payload",
    "sizeEstimate",
    "raw",
];

/// An authorized sender: the token's grant, its subject's address.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    pub grant: GoogleGrant,
    pub address: String,
}

/// Checks in the order Gmail answers them: credentials, API enabled in the project, scope,
/// `userId`, a subject with a mailbox.
pub(crate) fn authorize(
    st: &AppState,
    headers: &HeaderMap,
    user_id: &str,
) -> Result<Sender, GoogleError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => return Err(GoogleError::login_required()),
    };
    let grant = st
        .google
        .tokens
        .lock()
        .get(token)
        .cloned()
        .filter(|g| g.expires > unix_now())
        .ok_or_else(GoogleError::invalid_credentials)?;
    let google = st
        .dir
        .google
        .as_ref()
        .ok_or_else(GoogleError::invalid_credentials)?;
    if let Some(p) = google.project(&grant.project)
        && !p.gmail_api_enabled
    {
        return Err(access_not_configured(&p.number()));
    }
    if !grant
        .scopes
        .iter()
        .any(|s| SEND_SCOPES.contains(&s.as_str()))
    {
        return Err(insufficient_scopes());
    }
    let Some(subject) = grant.subject.clone() else {
        // The service account itself has no mailbox.
        if user_id != "me" {
            return Err(delegation_denied(user_id));
        }
        return Err(GoogleError::failed_precondition(
            "Precondition check failed.",
        ));
    };
    if user_id != "me" && !user_id.eq_ignore_ascii_case(&subject) {
        return Err(delegation_denied(user_id));
    }
    match google.user(&subject) {
        Some((_, u)) if u.mail_enabled => {}
        _ => return Err(GoogleError::failed_precondition("Mail service not enabled")),
    }
    Ok(Sender {
        grant,
        address: subject,
    })
}

fn access_not_configured(number: &str) -> GoogleError {
    let message = format!(
        "Gmail API has not been used in project {number} before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project={number} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
    );
    let mut e = GoogleError::new(
        StatusCode::FORBIDDEN,
        "usageLimits",
        "accessNotConfigured",
        message,
        Some("PERMISSION_DENIED"),
    );
    e.extra.extended_help = Some("https://console.developers.google.com".to_string());
    e.extra.details = Some(json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
        "metadata": {
            "service": "gmail.googleapis.com",
            "consumer": format!("projects/{number}"),
        },
    }]));
    e
}

fn insufficient_scopes() -> GoogleError {
    let mut e = GoogleError::new(
        StatusCode::FORBIDDEN,
        "global",
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        Some("PERMISSION_DENIED"),
    )
    .with_item_message("Insufficient Permission");
    e.extra.details = Some(json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "domain": "googleapis.com",
        "metadata": {"service": "gmail.googleapis.com"},
    }]));
    e
}

fn delegation_denied(user_id: &str) -> GoogleError {
    GoogleError::new(
        StatusCode::FORBIDDEN,
        "global",
        "forbidden",
        format!("Delegation denied for {user_id}"),
        Some("PERMISSION_DENIED"),
    )
}

/// The sender's send slot under the per-user limits, or Gmail's throttling answer.
pub(crate) fn throttle<'a>(
    st: &'a AppState,
    sender: &Sender,
) -> Result<UserPermit<'a>, GoogleError> {
    let google = st.dir.google.as_ref();
    let user = google.and_then(|g| g.user(&sender.address)).map(|(_, u)| u);
    let limits = google.map(|g| g.throttling_for(user)).unwrap_or_default();
    st.google
        .acquire(&sender.address, limits)
        .map_err(|limit| match limit {
            UserLimit::Concurrency => GoogleError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "usageLimits",
                "rateLimitExceeded",
                "Too many concurrent requests for user.",
                Some("RESOURCE_EXHAUSTED"),
            )
            .with_retry_after(1),
            UserLimit::PerMinute(secs) => GoogleError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "usageLimits",
                "userRateLimitExceeded",
                "User Rate Limit Exceeded",
                Some("RESOURCE_EXHAUSTED"),
            )
            .with_retry_after(secs),
            UserLimit::PerDay(secs) => {
                let at = now() + time::Duration::seconds(secs as i64);
                GoogleError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "usageLimits",
                    "rateLimitExceeded",
                    format!(
                        "User-rate limit exceeded.  Retry after {} (Mail sending)",
                        crate::util::rfc3339_millis(at)
                    ),
                    Some("RESOURCE_EXHAUSTED"),
                )
                .with_retry_after(secs)
            }
        })
}

/// `POST /gmail/v1/users/{userId}/messages/send` with `{"raw": base64url}`.
pub(crate) async fn send(
    State(st): State<Arc<AppState>>,
    Extension(ids): Extension<RequestIds>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Like Graph: a request Gmail received runs to completion even when the client goes away.
    let work = tokio::spawn(async move { send_raw(&st, &ids, &user_id, &headers, body).await });
    match work.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.render(),
        Err(_) => super::errors::injected(500, None).render(),
    }
}

async fn send_raw(
    st: &AppState,
    ids: &RequestIds,
    user_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GoogleError> {
    let sender = authorize(st, headers, user_id)?;
    let _permit = throttle(st, &sender)?;
    let too_big = || {
        GoogleError::bad_request(
            "badRequest",
            format!("Request payload size exceeds the limit: {MAX_JSON} bytes."),
        )
    };
    let bytes = axum::body::to_bytes(body, MAX_JSON)
        .await
        .map_err(|_| too_big())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        GoogleError::bad_request("parseError", format!("Invalid JSON payload received. {e}"))
            .with_item_message("Parse Error")
    })?;
    let (raw, thread_id) = message_fields(&v)?;
    let Some(raw) = raw else {
        return Err(GoogleError::bad_request(
            "badRequest",
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        ));
    };
    let bytes = decode_bytes(&raw).ok_or_else(|| {
        GoogleError::bad_request(
            "invalid",
            "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed",
        )
    })?;
    let answer = accept(st, ids, &sender, &bytes, thread_id, "gmail:raw")?;
    Ok(ok_json(&answer))
}

/// `raw` and `threadId` of a Message resource; unknown names are refused as Google's JSON
/// parser does.
pub(crate) fn message_fields(v: &Value) -> Result<(Option<String>, Option<String>), GoogleError> {
    let obj = v.as_object().ok_or_else(|| {
        GoogleError::bad_request(
            "invalid",
            "Invalid JSON payload received. Expected an object.",
        )
    })?;
    for k in obj.keys() {
        if !MESSAGE_FIELDS.contains(&k.as_str()) {
            return Err(GoogleError::bad_request(
                "invalid",
                format!("Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."),
            ));
        }
    }
    let text = |name: &str| obj.get(name).and_then(Value::as_str).map(str::to_string);
    Ok((text("raw").filter(|r| !r.is_empty()), text("threadId")))
}

/// Protobuf JSON `bytes`: base64url or standard alphabet, padded or not.
fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    let t = s.trim().trim_end_matches('=');
    let lenient = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone);
    let url = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient);
    let std = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, lenient);
    url.decode(t).ok().or_else(|| std.decode(t).ok())
}

pub(crate) fn ok_json(v: &Value) -> Response {
    let mut r = (StatusCode::OK, json_body(v)).into_response();
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

/// A 16-hex-digit id, as Gmail's message and thread ids look.
fn gmail_id() -> String {
    let b = uuid::Uuid::new_v4();
    let n = u64::from_be_bytes(b.as_bytes()[..8].try_into().unwrap_or_default());
    format!("{:016x}", (n >> 4) | (1 << 60))
}

/// Parses and records the message; returns Gmail's answer (`id`, `threadId`, `labelIds`).
/// Gmail takes recipients from To/Cc/Bcc, and replaces a From that is neither the user nor a
/// send-as alias with the user's address.
pub(crate) fn accept(
    st: &AppState,
    ids: &RequestIds,
    sender: &Sender,
    raw: &[u8],
    thread_id: Option<String>,
    via: &str,
) -> Result<Value, GoogleError> {
    let invalid = |m: &str| GoogleError::bad_request("invalidArgument", m);
    let msg = parse_rfc5322(raw).ok_or_else(|| invalid("Invalid RFC 822 message"))?;
    if msg.to.is_empty() && msg.cc.is_empty() && msg.bcc.is_empty() {
        return Err(invalid("Recipient address required"));
    }
    if msg.to.iter().any(|r| !r.address.contains('@')) {
        return Err(invalid("Invalid To header"));
    }
    let aliases: Vec<String> = st
        .dir
        .google
        .as_ref()
        .and_then(|g| g.user(&sender.address))
        .map(|(_, u)| u.send_as.clone())
        .unwrap_or_default();
    let from = match &msg.from {
        Some(f)
            if f.address.eq_ignore_ascii_case(&sender.address)
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(&f.address)) =>
        {
            f.clone()
        }
        other => Recipient {
            address: sender.address.clone(),
            name: other.as_ref().and_then(|f| f.name.clone()),
        },
    };
    let to_self = msg
        .to
        .iter()
        .chain(&msg.cc)
        .chain(&msg.bcc)
        .any(|r| r.address.eq_ignore_ascii_case(&sender.address));
    let id = gmail_id();
    let thread = thread_id.unwrap_or_else(|| id.clone());
    let rec = RecordedMessage {
        id: id.clone(),
        mailbox: sender.address.clone(),
        app_id: sender.grant.client_email.clone(),
        via: via.to_string(),
        provider: Some("gmail".to_string()),
        from,
        to: msg.to,
        cc: msg.cc,
        bcc: msg.bcc,
        reply_to: msg.reply_to,
        subject: msg.subject,
        body_content_type: msg.body_content_type,
        body: msg.body,
        importance: msg.importance,
        save_to_sent_items: true,
        headers: msg.headers,
        attachments: msg.attachments,
        request_id: ids.request_id.clone(),
        client_request_id: ids.client_request_id.clone(),
        received_at: rfc3339(now()),
    };
    st.accept_raw_message(rec, raw);
    let labels = if to_self {
        json!(["UNREAD", "SENT", "INBOX"])
    } else {
        json!(["SENT"])
    };
    Ok(json!({"id": id, "threadId": thread, "labelIds": labels}))
}
