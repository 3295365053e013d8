//! The HTTPS listener: TLS (ALPN h2/http1.1), one hyper connection per socket with a handle
//! that lets a fault close it mid-request, and the front layer every request passes
//! (request ids, fault plan, request log, Graph headers, panic catcher).

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::FutureExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::errors::{EntraError, GraphError, RequestIds};
use crate::faults::FaultAction;
use crate::graph::{self, FaultDelay};
use crate::latency::Endpoint;
use crate::records::{AtomicCounters, Header, RequestRecord};
use crate::state::AppState;
use crate::util::{new_guid, now, rfc3339};

/// Lets a handler close its own connection without answering (drop faults).
#[derive(Clone, Default)]
pub(crate) struct ConnHandle(Arc<Notify>);

impl ConnHandle {
    fn kill(&self) {
        self.0.notify_one();
    }
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(crate::token::token))
        .route("/{tenant}/oauth2/token", post(crate::token::token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(crate::token::openid_configuration),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(crate::token::openid_configuration),
        )
        .route(
            "/{tenant}/discovery/instance",
            get(crate::token::instance_discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(crate::token::jwks))
        .route("/{tenant}/discovery/keys", get(crate::token::jwks))
        .route("/MSI/token", get(crate::token::managed::app_service))
        .route("/msi/token", get(crate::token::managed::app_service))
        .route(
            "/metadata/identity/oauth2/token",
            get(crate::token::managed::imds),
        )
        .route(
            "/arc/metadata/identity/oauth2/token",
            get(crate::token::managed::arc),
        )
        .route("/v1.0", any(graph::entry))
        .route("/v1.0/{*rest}", any(graph::entry))
        .route("/_upload/{session}", any(graph::upload::entry))
        .route("/token", post(crate::google::token::token))
        .route("/o/oauth2/token", post(crate::google::token::token))
        .route(
            "/gmail/v1/users/{user}/messages/send",
            post(crate::google::gmail::send),
        )
        .route(
            "/upload/gmail/v1/users/{user}/messages/send",
            any(crate::google::upload::entry),
        )
        .route(
            "/resumable/upload/gmail/v1/users/{user}/messages/send",
            any(crate::google::upload::entry),
        )
        .nest("/_emulator/api", crate::control::router())
        .route("/_emulator", get(crate::inbox::page))
        .route("/_emulator/", get(crate::inbox::page))
        .route("/_emulator/assets/{file}", get(crate::inbox::asset))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

async fn not_found(axum::Extension(ids): axum::Extension<RequestIds>) -> Response {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested resource does not exist on this emulator.",
    )
    .render(&ids)
}

fn is_token_path(path: &str) -> bool {
    let l = path.to_ascii_lowercase();
    l.contains("/oauth2/") && l.ends_with("/token") && !crate::util::is_managed_identity_path(path)
}

/// Every request: ids → (Entra and Graph requests only) counters → fault plan → handler →
/// response headers → request log. The control API and inbox page get ids and nothing else.
async fn front(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let ids = assign_ids(&mut req);
    let path = req.uri().path().to_string();
    if path.starts_with("/_emulator") {
        return next.run(req).await;
    }
    let arrival = Arrival::of(&req);
    count(&st.records.counters, &path);
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let fault = st.faults.lock().decide(req.method().as_str(), &path);
    match fault {
        Some(FaultAction::DropBefore) => {
            AtomicCounters::bump(&st.records.counters.dropped_before_accept)
        }
        Some(FaultAction::DropAfter) => {
            AtomicCounters::bump(&st.records.counters.dropped_after_accept)
        }
        _ => {}
    }
    let latency = front_latency(req.method(), &path).and_then(|e| st.latency.delay(e));
    let fault_name = fault.as_ref().map(fault_label);
    let mut resp = match handle_with_fault(fault, latency, &path, &ids, req, next).await {
        Handled::Answer(resp) => resp,
        Handled::Drop => return drop_connection(conn).await,
    };
    add_response_headers(&mut resp, &path, &ids);
    let mut record = arrival.record(resp.status(), &ids);
    record.throttled = fault_name.is_none() && resp.status() == StatusCode::TOO_MANY_REQUESTS;
    record.fault = fault_name;
    st.records.add_request(record);
    resp
}

/// The `[latency]` entry of a request that holds no throttling slot: Graph requests spend
/// theirs inside the slot (`graph::run`).
fn front_latency(method: &axum::http::Method, path: &str) -> Option<Endpoint> {
    if is_token_path(path) {
        Some(Endpoint::Token)
    } else if crate::util::is_managed_identity_path(path) {
        Some(Endpoint::ManagedIdentity)
    } else if path.starts_with("/_upload/") && method == axum::http::Method::PUT {
        Some(Endpoint::UploadChunk)
    } else {
        None
    }
}

/// A fresh `request-id`, and the client's `client-request-id` (or a fresh one), put into the
/// request for handlers and error bodies.
fn assign_ids(req: &mut Request) -> RequestIds {
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .unwrap_or_else(new_guid);
    let ids = RequestIds {
        request_id: new_guid(),
        client_request_id,
    };
    req.extensions_mut().insert(ids.clone());
    ids
}

fn count(counters: &AtomicCounters, path: &str) {
    AtomicCounters::bump(&counters.requests);
    if is_token_path(path)
        || crate::util::is_managed_identity_path(path)
        || crate::google::is_token_path(path)
    {
        AtomicCounters::bump(&counters.token_requests);
    } else if path.to_ascii_lowercase().ends_with("/sendmail") {
        AtomicCounters::bump(&counters.send_mail_requests);
    }
}

/// What the request log keeps of a request, taken when it arrives.
struct Arrival {
    method: String,
    path: String,
    headers: Vec<Header>,
}

impl Arrival {
    fn of(req: &Request) -> Arrival {
        Arrival {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            headers: RequestRecord::redacted_headers(req.headers()),
        }
    }

    fn record(self, status: StatusCode, ids: &RequestIds) -> RequestRecord {
        RequestRecord {
            method: self.method,
            path: self.path,
            status: status.as_u16(),
            request_id: ids.request_id.clone(),
            client_request_id: ids.client_request_id.clone(),
            at: rfc3339(now()),
            headers: self.headers,
            fault: None,
            throttled: false,
        }
    }
}

/// The request log's name for a fault (dropped connections are not logged).
fn fault_label(f: &FaultAction) -> String {
    match f {
        FaultAction::Status { status, .. } => format!("status {status}"),
        FaultAction::Delay(ms) => format!("delay {ms} ms"),
        FaultAction::DropBefore => "dropBeforeAccept".to_string(),
        FaultAction::DropAfter => "dropAfterAccept".to_string(),
    }
}

enum Handled {
    Answer(Response),
    /// Close the connection without answering.
    Drop,
}

/// Runs the handler as the fault plan decided: not at all (an injected status, or a dropped
/// connection), after a delay, or before dropping the connection. `latency` (the configured
/// service time of a request outside Graph) is spent whenever the handler runs.
async fn handle_with_fault(
    fault: Option<FaultAction>,
    latency: Option<Duration>,
    path: &str,
    ids: &RequestIds,
    mut req: Request,
    next: Next,
) -> Handled {
    let run = |req: Request| async move {
        if let Some(d) = latency {
            tokio::time::sleep(d).await;
        }
        next.run(req).await
    };
    match fault {
        None => Handled::Answer(run(req).await),
        Some(FaultAction::Status {
            status,
            retry_after,
            graph_code,
        }) => {
            // Read the body first, as a real front end does: answering while the client is still
            // writing (an upload slice of MiBs) and then closing shows up in HttpClient as a broken
            // pipe, not as the injected status the client's retry logic should see.
            let _ = axum::body::to_bytes(std::mem::take(req.body_mut()), 200 * 1024 * 1024).await;
            let mut r = injected_status(path, ids, status, graph_code.as_deref());
            if let Some(retry_after) = retry_after {
                r.headers_mut()
                    .insert("retry-after", retry_after.header_value());
            }
            Handled::Answer(r)
        }
        Some(FaultAction::DropBefore) => Handled::Drop,
        Some(FaultAction::Delay(ms)) => {
            if path.starts_with("/v1.0") {
                // Graph applies it inside the throttling slot, so delays hold concurrency.
                req.extensions_mut().insert(FaultDelay(ms));
            } else {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Handled::Answer(run(req).await)
        }
        Some(FaultAction::DropAfter) => {
            let _handled = run(req).await;
            Handled::Drop
        }
    }
}

/// An injected error status, in Entra's shape on the token endpoint and Graph's elsewhere.
fn injected_status(
    path: &str,
    ids: &RequestIds,
    status: u16,
    graph_code: Option<&str>,
) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if crate::google::is_token_path(path) {
        return crate::google::errors::injected_oauth(status).render();
    }
    if crate::google::is_gmail_path(path) {
        return crate::google::errors::injected(status, graph_code).render();
    }
    if crate::util::is_managed_identity_path(path) {
        return crate::token::managed::injected(code);
    }
    if is_token_path(path) {
        return EntraError::new(
            code,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        )
        .render(&ids.client_request_id);
    }
    let (default_code, msg) = match status {
        429 => ("TooManyRequests", "Please retry again later."),
        503 => (
            "ServiceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        504 => (
            "GatewayTimeout",
            "The gateway did not receive a response in time.",
        ),
        _ => ("UnknownError", "An injected fault."),
    };
    GraphError::new(code, graph_code.unwrap_or(default_code), msg).render(ids)
}

/// `client-request-id` on every answer; Graph's `request-id`, diagnostics and HSTS headers on
/// all but the token endpoint's (which sets its own).
fn add_response_headers(resp: &mut Response, path: &str, ids: &RequestIds) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ids.client_request_id) {
        h.insert("client-request-id", v);
    }
    if is_token_path(path)
        || crate::util::is_managed_identity_path(path)
        || crate::google::is_google_path(path)
    {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&ids.request_id) {
        h.insert("request-id", v);
    }
    h.insert(
        "x-ms-ags-diagnostic",
        HeaderValue::from_static(r#"{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"PMP-EMU"}}"#),
    );
    h.insert(
        "strict-transport-security",
        HeaderValue::from_static("max-age=31536000"),
    );
}

/// Closes the connection (the connection task drops it) and never answers.
async fn drop_connection(conn: Option<ConnHandle>) -> Response {
    match conn {
        Some(c) => {
            c.kill();
            std::future::pending::<()>().await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        // Not served through our listener (e.g. a direct Router call): nothing to close.
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn panic_response() -> Response {
    let ids = RequestIds {
        request_id: new_guid(),
        client_request_id: new_guid(),
    };
    GraphError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "The emulator failed while handling the request.",
    )
    .render(&ids)
}

/// Accepts until `shutdown` flips; each connection runs on its own task.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, _peer)) = accepted else {
            // Out of file descriptors etc.: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    _ => return,
                };
            let handle = ConnHandle::default();
            let h2 = handle.clone();
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(h2.clone());
                    let router = router.clone();
                    async move {
                        let fut = router.oneshot(req.map(axum::body::Body::new));
                        match AssertUnwindSafe(fut).catch_unwind().await {
                            Ok(Ok(resp)) => Ok::<_, Infallible>(resp),
                            Ok(Err(never)) => match never {},
                            Err(_) => Ok(panic_response()),
                        }
                    }
                });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = conn => {}
                _ = handle.0.notified() => {}   // drop fault: dropping `conn` closes the socket
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}
