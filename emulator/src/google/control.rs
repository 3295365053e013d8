//! The control API's Google part, under `/_emulator/api/google`: service-account key files for
//! tests, and tokens issued per (service account, subject).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/keys", post(new_key))
        .route("/tokens", get(tokens))
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// `POST keys` `{"clientEmail"}`: a new key for that declared service account, registered now;
/// the answer is the JSON key file itself (`token_uri` = this emulator's `/token`).
async fn new_key(State(st): State<Arc<AppState>>, body: Body) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Req {
        client_email: String,
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return problem(StatusCode::BAD_REQUEST, "body too large");
    };
    let req: Req = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("invalid request: {e}")),
    };
    match super::register_new_key(&st, &req.client_email) {
        Ok(key) => {
            let mut r = (
                StatusCode::OK,
                key.to_json(&format!("{}/token", st.base_url)),
            )
                .into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        Err(e) => problem(StatusCode::NOT_FOUND, &e),
    }
}

/// `GET tokens`: `[{"serviceAccount","subject","issued"}]`.
async fn tokens(State(st): State<Arc<AppState>>) -> Response {
    Json(st.google.token_counts()).into_response()
}
