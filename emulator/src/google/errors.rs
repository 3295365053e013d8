//! Google's two error shapes: OAuth 2.0 (`{"error","error_description"}`, token endpoint) and
//! the Google API error model (`{"error":{"code","message","errors":[…],"status"}}`, Gmail).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::json_body;

/// A token endpoint error (reference A2.5).
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn render(&self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut r = (self.status, json_body(&body)).into_response();
        oauth_headers(&mut r);
        r
    }
}

/// What Google's token endpoint puts on its answers.
pub(crate) fn oauth_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        "cache-control",
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    h.insert("pragma", HeaderValue::from_static("no-cache"));
}

/// A Google API error (reference A4.1): one `errors[]` item, the canonical `status`.
#[derive(Debug, Clone)]
pub(crate) struct GoogleError {
    pub status: StatusCode,
    pub message: String,
    pub domain: &'static str,
    pub reason: String,
    /// `status` (`INVALID_ARGUMENT`, …); omitted when none.
    pub rpc_status: Option<&'static str>,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
    /// The rarer parts, boxed to keep `Result<_, GoogleError>` small.
    pub extra: Box<Extra>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// `errors[0].message` when it differs from `message`.
    pub item_message: Option<String>,
    /// `errors[0].location` / `locationType` (`Authorization` / `header` on 401).
    pub location: Option<(&'static str, &'static str)>,
    pub extended_help: Option<String>,
    pub details: Option<Value>,
}

impl GoogleError {
    pub fn new(
        status: StatusCode,
        domain: &'static str,
        reason: &str,
        message: impl Into<String>,
        rpc_status: Option<&'static str>,
    ) -> Self {
        GoogleError {
            status,
            message: message.into(),
            domain,
            reason: reason.to_string(),
            rpc_status,
            retry_after: None,
            www_authenticate: false,
            extra: Box::default(),
        }
    }

    pub fn bad_request(reason: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "global",
            reason,
            message,
            Some("INVALID_ARGUMENT"),
        )
    }

    pub fn failed_precondition(message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "global",
            "failedPrecondition",
            message,
            Some("FAILED_PRECONDITION"),
        )
    }

    /// No `Authorization: Bearer`.
    pub fn login_required() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "global",
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            Some("UNAUTHENTICATED"),
        );
        e.extra.item_message = Some("Login Required.".to_string());
        e.extra.location = Some(("Authorization", "header"));
        e.www_authenticate = true;
        e
    }

    /// A token this emulator did not issue, or one that expired.
    pub fn invalid_credentials() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "global",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            Some("UNAUTHENTICATED"),
        );
        e.extra.item_message = Some("Invalid Credentials".to_string());
        e.extra.location = Some(("Authorization", "header"));
        e.www_authenticate = true;
        e
    }

    pub fn with_item_message(mut self, m: &str) -> Self {
        self.extra.item_message = Some(m.to_string());
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn render(&self) -> Response {
        let mut item = json!({
            "message": self.extra.item_message.as_deref().unwrap_or(&self.message),
            "domain": self.domain,
            "reason": self.reason,
        });
        if let Some((location, kind)) = self.extra.location {
            item["location"] = json!(location);
            item["locationType"] = json!(kind);
        }
        if let Some(h) = &self.extra.extended_help {
            item["extendedHelp"] = json!(h);
        }
        let mut error = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "errors": [item],
        });
        if let Some(s) = self.rpc_status {
            error["status"] = json!(s);
        }
        if let Some(d) = &self.extra.details {
            error["details"] = d.clone();
        }
        let mut r = (self.status, json_body(&json!({ "error": error }))).into_response();
        let h = r.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        h.insert(
            "vary",
            HeaderValue::from_static("Origin, X-Origin, Referer"),
        );
        if let Some(s) = self.retry_after {
            h.insert("retry-after", HeaderValue::from(s));
        }
        if self.www_authenticate {
            let v = if self.reason == "required" {
                "Bearer realm=\"https://accounts.google.com/\""
            } else {
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""
            };
            h.insert("www-authenticate", HeaderValue::from_static(v));
        }
        r
    }
}

/// An injected fault status on a Gmail path, in Google's shape: `reason` from the rule's
/// `graphCode` when given, else the usual one for the status.
pub(crate) fn injected(status: u16, reason: Option<&str>) -> GoogleError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let (default_reason, message, rpc) = match status {
        429 => (
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            "RESOURCE_EXHAUSTED",
        ),
        403 => (
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
            "PERMISSION_DENIED",
        ),
        500 => ("backendError", "Backend Error", "INTERNAL"),
        502..=504 => ("backendError", "Backend Error", "UNAVAILABLE"),
        s if s >= 500 => ("backendError", "Backend Error", "INTERNAL"),
        _ => ("badRequest", "An injected fault.", "INVALID_ARGUMENT"),
    };
    let reason = reason.unwrap_or(default_reason);
    let domain = match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" | "dailyLimitExceeded" => "usageLimits",
        _ => "global",
    };
    GoogleError::new(code, domain, reason, message, Some(rpc))
}

/// An injected fault status on the token endpoint: what google-auth retries on 5xx
/// (`internal_failure`), `invalid_request` otherwise.
pub(crate) fn injected_oauth(status: u16) -> OAuthError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if status >= 500 || status == 429 {
        OAuthError::new(code, "internal_failure", "Backend Error")
    } else {
        OAuthError::new(code, "invalid_request", "An injected fault.")
    }
}
