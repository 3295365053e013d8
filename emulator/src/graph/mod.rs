//! Microsoft Graph `/v1.0` mail surface: the request pipeline (size limit, bearer token,
//! throttling slot) and the path routing. Each endpoint lives in its own file: `send_mail`,
//! `drafts`, `upload` (upload sessions); `ctx` holds what they share.

mod ctx;
mod drafts;
mod message;
pub(crate) mod mime;
mod send_mail;
pub(crate) mod upload;

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use crate::errors::{GraphError, RequestIds};
use crate::latency::Endpoint;
use crate::state::AppState;
use crate::throttle::{Limit, Permit};
use ctx::{Caller, Ctx, MAX_REQUEST, authenticate, read_body, read_json_body, too_large};

pub(crate) use ctx::FaultDelay;

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

/// One Graph request, checked in Graph's order: declared size, bearer token, resource path,
/// throttling slot (where an injected delay and the configured latency are spent); then the
/// endpoint.
async fn run(
    st: Arc<AppState>,
    ids: RequestIds,
    delay: Option<FaultDelay>,
    req: Request,
) -> Result<Response, GraphError> {
    let (parts, body) = req.into_parts();
    check_declared_length(&parts.headers)?;
    let segs = path_segments(parts.uri.path());
    let caller = authenticate(&st, &parts.headers)?;
    let user = user_segment(&segs)?;
    let action = action_segments(&segs[2..]);
    let action: Vec<&str> = action.iter().map(String::as_str).collect();
    let _permit = throttle_slot(&st, &caller, &user)?;
    if let Some(FaultDelay(ms)) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(d) = latency_endpoint(&action, &parts.method).and_then(|e| st.latency.delay(e)) {
        tokio::time::sleep(d).await;
    }
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ctx = Ctx {
        st,
        ids,
        caller,
        user,
    };
    let query = parts.uri.query().unwrap_or("");
    route(
        &ctx,
        &action,
        &segs,
        &parts.method,
        &content_type,
        query,
        body,
    )
    .await
}

/// A `Content-Length` over Graph's limit is refused before the body is read.
fn check_declared_length(headers: &HeaderMap) -> Result<(), GraphError> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST as u64) {
        return Err(too_large());
    }
    Ok(())
}

/// The percent-decoded segments after `/v1.0`.
fn path_segments(path: &str) -> Vec<String> {
    let rest = path.strip_prefix("/v1.0").unwrap_or(path);
    rest.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// `{user}` of `/users/{user}/…`, the only root served (`/me` needs a delegated token).
fn user_segment(segs: &[String]) -> Result<String, GraphError> {
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
    Ok(segs[1].clone())
}

/// The segments after `/users/{user}`, as routed: segments are case-insensitive in Graph, and
/// actions may carry the `microsoft.graph.` prefix.
fn action_segments(segs: &[String]) -> Vec<String> {
    segs.iter()
        .map(|s| {
            let l = s.to_ascii_lowercase();
            l.strip_prefix("microsoft.graph.")
                .map(str::to_string)
                .unwrap_or(l)
        })
        .collect()
}

/// Throttling is keyed by app + mailbox; a mailbox named by id or address is one mailbox.
fn throttle_slot(st: &AppState, caller: &Caller, user: &str) -> Result<Permit, GraphError> {
    let mailbox_key = st
        .dir
        .find_mailbox(&caller.tenant_id, user)
        .map(|m| m.address.to_ascii_lowercase())
        .unwrap_or_else(|| user.to_ascii_lowercase());
    st.throttle
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
        })
}

/// Which `[latency]` entry a Graph request spends, if any.
fn latency_endpoint(action: &[&str], method: &Method) -> Option<Endpoint> {
    if *method == Method::DELETE {
        return matches!(action, ["messages", _]).then_some(Endpoint::DeleteDraft);
    }
    if *method != Method::POST {
        return None;
    }
    match action {
        ["sendmail"] => Some(Endpoint::SendMail),
        ["messages"] => Some(Endpoint::CreateDraft),
        ["messages", _, "attachments"] => Some(Endpoint::AddAttachment),
        ["messages", _, "attachments", "createuploadsession"] => {
            Some(Endpoint::CreateUploadSession)
        }
        ["messages", _, "send"] => Some(Endpoint::SendDraft),
        _ => None,
    }
}

/// The endpoint for `action` (lower-cased segments after `/users/{user}`) and the method;
/// `segs` keeps the original spelling of ids.
async fn route(
    ctx: &Ctx,
    action: &[&str],
    segs: &[String],
    method: &Method,
    content_type: &str,
    query: &str,
    body: Body,
) -> Result<Response, GraphError> {
    let json_body = |body| read_json_body(ctx.st.strict, content_type, body);
    let id = segs.get(3).map(String::as_str).unwrap_or("");
    match (action, method) {
        (["sendmail"], &Method::POST) if content_type.starts_with("text/plain") => {
            let body = read_body(body, MAX_REQUEST).await?;
            send_mail::send_mail(ctx, content_type, &body)
        }
        (["sendmail"], &Method::POST) => {
            let body = json_body(body).await?;
            send_mail::send_mail(ctx, content_type, &body)
        }
        (["messages"], &Method::POST) => {
            let body = json_body(body).await?;
            drafts::create(ctx, &body)
        }
        (["messages"], &Method::GET) => drafts::list(ctx, query),
        (["messages", _], &Method::GET) => drafts::get(ctx, id),
        (["messages", _, "attachments"], &Method::GET) => drafts::list_attachments(ctx, id, query),
        (["messages", _], &Method::DELETE) => drafts::delete(ctx, id),
        (["messages", _, "attachments"], &Method::POST) => {
            let body = json_body(body).await?;
            drafts::add_attachment(ctx, id, &body)
        }
        (["messages", _, "attachments", "createuploadsession"], &Method::POST) => {
            let body = json_body(body).await?;
            upload::create_session(ctx, id, &body)
        }
        (["messages", _, "send"], &Method::POST) => drafts::send(ctx, id),
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
