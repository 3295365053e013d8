//! The HTTPS listener: TLS (ALPN h2/http1.1), one hyper connection per socket with a handle
//! that lets a fault close it mid-request, and the front layer every request passes
//! (request ids, fault plan, request log, Graph headers, panic catcher).

use std::collections::HashMap;
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
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::directory::{CertInfo, Directory};
use crate::errors::{EntraError, GraphError, RequestIds};
use crate::faults::{FaultAction, FaultEngine, FaultPlan};
use crate::graph::{self, Draft, FaultDelay, UploadSession};
use crate::records::{AtomicCounters, Records, RequestRecord};
use crate::throttle::Throttle;
use crate::token::keys::SigningKey;
use crate::util::{new_guid, rfc3339};

pub(crate) struct AppState {
    pub dir: Directory,
    /// Registered certificates by lower-case client id.
    pub certs: HashMap<String, Vec<CertInfo>>,
    pub keys: SigningKey,
    pub base_url: String,
    pub token_lifetime: u64,
    /// `refresh_in` sent with every token, when set.
    pub token_refresh_in: Option<u64>,
    pub clock_skew: i64,
    /// See `EmulatorOptions::strict`.
    pub strict: bool,
    pub records: Records,
    pub faults: Mutex<FaultEngine>,
    pub throttle: Arc<Throttle>,
    pub jti_seen: Mutex<HashMap<String, i64>>,
    pub drafts: Mutex<HashMap<String, Draft>>,
    pub uploads: Mutex<HashMap<String, UploadSession>>,
}

impl AppState {
    /// `127.0.0.1:port`, the authority host MSAL sees.
    pub fn host(&self) -> String {
        self.base_url.trim_start_matches("https://").to_string()
    }

    /// The base URL and its `localhost` spelling: clients may use either name for the
    /// emulator in assertion audiences and scopes.
    pub fn base_aliases(&self) -> Vec<String> {
        let mut v = vec![self.base_url.clone()];
        for ip in ["127.0.0.1", "[::1]"] {
            if self.base_url.contains(ip) {
                v.push(self.base_url.replacen(ip, "localhost", 1));
            }
        }
        v
    }

    pub fn set_faults(&self, plan: FaultPlan) {
        *self.faults.lock() = FaultEngine::new(plan);
    }

    pub fn reset(&self) {
        self.records.reset();
        self.set_faults(FaultPlan::default());
        self.throttle.reset();
        self.drafts.lock().clear();
        self.uploads.lock().clear();
        self.jti_seen.lock().clear();
    }
}

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
        .route("/v1.0", any(graph::entry))
        .route("/v1.0/{*rest}", any(graph::entry))
        .route("/_upload/{session}", any(graph::upload))
        .nest("/_emulator/api", crate::control::router())
        .route("/_emulator", get(crate::inbox::page))
        .route("/_emulator/", get(crate::inbox::page))
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
    l.contains("/oauth2/") && l.ends_with("/token")
}

/// Every request: ids → fault plan → handler → log + headers.
async fn front(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().to_string();
    let control = path.starts_with("/_emulator");
    let headers = if control {
        Vec::new()
    } else {
        RequestRecord::redacted_headers(req.headers())
    };
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
    let conn = req.extensions().get::<ConnHandle>().cloned();
    if !control {
        AtomicCounters::bump(&st.records.counters.requests);
        if is_token_path(&path) {
            AtomicCounters::bump(&st.records.counters.token_requests);
        } else if path.to_ascii_lowercase().ends_with("/sendmail") {
            AtomicCounters::bump(&st.records.counters.send_mail_requests);
        }
    }

    let action = if control {
        None
    } else {
        st.faults.lock().decide(&path)
    };
    let mut drop_after = false;
    let resp = match action {
        Some(FaultAction::Status {
            status,
            retry_after,
            graph_code,
        }) => {
            // Read the body first, as a real front end does: answering while the client is still
            // writing (an upload slice of MiBs) and then closing shows up in HttpClient as a broken
            // pipe, not as the injected status the client's retry logic should see.
            let _ = axum::body::to_bytes(std::mem::take(req.body_mut()), 200 * 1024 * 1024).await;
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = if is_token_path(&path) {
                EntraError::new(
                    code,
                    "temporarily_unavailable",
                    90033,
                    "A transient error has occurred. Please try again.",
                )
                .render(&ids.client_request_id)
            } else {
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
                GraphError::new(code, graph_code.as_deref().unwrap_or(default_code), msg)
                    .render(&ids)
            };
            if let Some(retry_after) = retry_after {
                r.headers_mut()
                    .insert("retry-after", retry_after.header_value());
            }
            r
        }
        Some(FaultAction::DropBefore) => return drop_connection(conn).await,
        Some(FaultAction::Delay(ms)) => {
            if path.starts_with("/v1.0") {
                // Graph applies it inside the throttling slot, so delays hold concurrency.
                req.extensions_mut().insert(FaultDelay(ms));
            } else {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            next.run(req).await
        }
        Some(FaultAction::DropAfter) => {
            drop_after = true;
            next.run(req).await
        }
        None => next.run(req).await,
    };
    if drop_after {
        return drop_connection(conn).await;
    }
    let mut resp = resp;
    if !control {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&ids.client_request_id) {
            h.insert("client-request-id", v);
        }
        if !is_token_path(&path) {
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
        st.records.add_request(RequestRecord {
            method,
            path,
            status: resp.status().as_u16(),
            request_id: ids.request_id.clone(),
            client_request_id: ids.client_request_id.clone(),
            at: rfc3339(crate::util::now()),
            headers,
        });
    }
    resp
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
