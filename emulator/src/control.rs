//! Control API under `/_emulator/api` (no auth; the listener is loopback-only).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::faults::FaultPlan;
use crate::state::AppState;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/messages", get(messages).delete(clear_messages))
        .route(
            "/messages/{id}",
            get(message).delete(crate::inbox::api::delete),
        )
        .route("/messages/{id}/view", get(crate::inbox::api::view))
        .route("/messages/{id}/html", get(crate::inbox::api::html))
        .route("/messages/{id}/eml", get(crate::inbox::api::eml))
        .route(
            "/messages/{id}/attachments/{index}",
            get(crate::inbox::api::attachment),
        )
        .route(
            "/messages/{id}/cid/{content_id}",
            get(crate::inbox::api::cid),
        )
        .route("/inbox", get(crate::inbox::api::list))
        .route("/inbox/version", get(crate::inbox::api::version))
        .route("/counters", get(counters))
        .route("/tokens", get(tokens))
        .route("/requests", get(requests))
        .route("/drafts", get(drafts))
        .route("/throttling", get(throttling).delete(clear_throttling))
        .route(
            "/faults",
            get(get_faults).put(put_faults).delete(delete_faults),
        )
        .route("/reset", post(reset))
        .route("/federation/token", post(federation_token))
        .route("/federation/jwks", get(federation_jwks))
        .nest("/google", crate::google::control::router())
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "unknown control API path") })
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

async fn messages(State(st): State<Arc<AppState>>) -> Response {
    Json(st.records.messages()).into_response()
}

async fn message(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match st.records.message(&id) {
        Some(m) => Json(m).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such message"),
    }
}

async fn clear_messages(State(st): State<Arc<AppState>>) -> Response {
    st.records.clear_messages();
    StatusCode::NO_CONTENT.into_response()
}

async fn counters(State(st): State<Arc<AppState>>) -> Response {
    Json(st.records.counters()).into_response()
}

async fn tokens(State(st): State<Arc<AppState>>) -> Response {
    Json(st.records.tokens()).into_response()
}

/// The ids of the drafts that exist now (created, neither sent nor deleted).
async fn drafts(State(st): State<Arc<AppState>>) -> Response {
    let mut ids: Vec<String> = st.drafts.lock().keys().cloned().collect();
    ids.sort();
    Json(ids).into_response()
}

/// Per app + mailbox: Graph requests in flight, their peak, and the 429s returned.
async fn throttling(State(st): State<Arc<AppState>>) -> Response {
    Json(st.throttle.stats()).into_response()
}

async fn clear_throttling(State(st): State<Arc<AppState>>) -> Response {
    st.throttle.clear_stats();
    StatusCode::NO_CONTENT.into_response()
}

async fn requests(State(st): State<Arc<AppState>>) -> Response {
    Json(st.records.requests()).into_response()
}

async fn get_faults(State(st): State<Arc<AppState>>) -> Response {
    Json(st.faults.lock().plan().clone()).into_response()
}

async fn put_faults(State(st): State<Arc<AppState>>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return problem(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    let plan: FaultPlan = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("invalid fault plan: {e}")),
    };
    if let Err(e) = plan.validate() {
        return problem(StatusCode::BAD_REQUEST, &format!("invalid fault plan: {e}"));
    }
    st.set_faults(plan);
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_faults(State(st): State<Arc<AppState>>) -> Response {
    st.set_faults(FaultPlan::default());
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(st): State<Arc<AppState>>) -> Response {
    st.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST federation/token` `{"issuer","subject","audience"?,"lifetimeSeconds"?}`: a token of
/// an external issuer the directory's federated credentials name, e.g. the content of
/// `AZURE_FEDERATED_TOKEN_FILE`.
async fn federation_token(State(st): State<Arc<AppState>>, body: Body) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Req {
        issuer: String,
        subject: String,
        #[serde(default)]
        audience: Option<String>,
        #[serde(default)]
        lifetime_seconds: Option<i64>,
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return problem(StatusCode::BAD_REQUEST, "body too large");
    };
    let req: Req = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("invalid request: {e}")),
    };
    let audience = req
        .audience
        .unwrap_or_else(|| crate::directory::TOKEN_EXCHANGE_AUDIENCE.to_string());
    match crate::token::federated::mint(
        &st,
        &req.issuer,
        &req.subject,
        &audience,
        req.lifetime_seconds.unwrap_or(3600),
    ) {
        Ok(token) => Json(json!({ "token": token })).into_response(),
        Err(e) => problem(StatusCode::BAD_REQUEST, &e),
    }
}

/// `GET federation/jwks`: the keys of the external issuers the emulator plays.
async fn federation_jwks(State(st): State<Arc<AppState>>) -> Response {
    Json(crate::token::federated::jwks(&st)).into_response()
}
