//! Error bodies shaped exactly like Entra ID (token endpoint) and Microsoft Graph answer them.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::util::{entra_timestamp, graph_date, new_guid};

/// An Entra ID (AADSTS) error, rendered per protocol.md A5.
#[derive(Debug, Clone)]
pub(crate) struct EntraError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

impl EntraError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> Self {
        EntraError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    pub fn invalid_client(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    }

    pub fn invalid_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
    }

    pub fn missing_param(name: &str) -> Self {
        Self::invalid_request(
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// Renders the body; `correlation_id` is the client's `client-request-id` when given,
    /// as Entra does.
    pub fn render(&self, correlation_id: &str) -> Response {
        let trace_id = new_guid();
        let ts = entra_timestamp();
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.code, self.message, trace_id, correlation_id, ts
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut resp = (self.status, json_body(&body)).into_response();
        sts_headers(resp.headers_mut(), &trace_id);
        resp
    }
}

/// Headers Entra puts on every token-endpoint answer (protocol.md A4).
pub(crate) fn sts_headers(h: &mut HeaderMap, trace_id: &str) {
    let pairs: [(&str, &str); 7] = [
        ("content-type", "application/json; charset=utf-8"),
        ("cache-control", "no-store, no-cache"),
        ("pragma", "no-cache"),
        ("expires", "-1"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("p3p", "CP=\"DSP CUR OTPi IND OTRi ONL FIN\""),
    ];
    for (k, v) in pairs {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        h.insert(HeaderName::from_static("x-ms-request-id"), v);
    }
    h.insert(
        HeaderName::from_static("x-ms-ests-server"),
        HeaderValue::from_static("2.1.emulator"),
    );
}

/// A Microsoft Graph error (protocol.md C3).
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Exchange errors such as ApplicationThrottled come without `innerError`.
    pub inner: bool,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
}

impl GraphError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            inner: true,
            retry_after: None,
            www_authenticate: false,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        );
        e.www_authenticate = true;
        e
    }

    pub fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        )
    }

    pub fn item_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        )
    }

    pub fn without_inner(mut self) -> Self {
        self.inner = false;
        self
    }

    pub fn with_retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after = secs;
        self
    }

    pub fn render(&self, ids: &RequestIds) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if self.inner {
            error["innerError"] = json!({
                "date": graph_date(),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            });
        }
        let mut resp = (self.status, json_body(&json!({ "error": error }))).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        if let Some(s) = self.retry_after {
            h.insert("retry-after", HeaderValue::from(s));
        }
        if self.www_authenticate {
            h.insert(
                "www-authenticate",
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        resp
    }
}

/// The ids every Graph answer carries; put into request extensions by the server layer.
#[derive(Debug, Clone)]
pub(crate) struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

pub(crate) fn json_body(v: &serde_json::Value) -> String {
    // Serializing a Value cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string())
}
