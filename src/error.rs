//! One error type for the whole core: a [`Status`] (stable number + category), a message, a
//! remedy, and the ids a support engineer needs (AADSTS code, Graph code, request ids).
//!
//! Messages and remedies never contain secrets, tokens or assertions: they are built from our
//! own text plus Entra/Graph error codes and descriptions, which never echo credentials.

use schemars::JsonSchema;
use serde::Serialize;

/// The outcome kinds of every operation. The numbers are the C ABI's `pmp_status` values: fixed,
/// never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    NullParameter,
    InvalidArgument,
    InvalidConfig,
    AuthenticationFailed,
    PermissionDenied,
    GraphError,
    Throttled,
    Network,
    OutcomeUnknown,
    Attachment,
    Credential,
    Signer,
    Panic,
    Internal,
    RequestTooLarge,
    Cancelled,
}

impl Status {
    /// Every status, in numeric order.
    pub const ALL: [Status; 17] = [
        Status::Ok,
        Status::NullParameter,
        Status::InvalidArgument,
        Status::InvalidConfig,
        Status::AuthenticationFailed,
        Status::PermissionDenied,
        Status::GraphError,
        Status::Throttled,
        Status::Network,
        Status::OutcomeUnknown,
        Status::Attachment,
        Status::Credential,
        Status::Signer,
        Status::Panic,
        Status::Internal,
        Status::RequestTooLarge,
        Status::Cancelled,
    ];

    /// The stable number (`pmp_status` in C).
    pub fn code(self) -> u32 {
        match self {
            Status::Ok => 0,
            Status::NullParameter => 1,
            Status::InvalidArgument => 2,
            Status::InvalidConfig => 3,
            Status::AuthenticationFailed => 4,
            Status::PermissionDenied => 5,
            Status::GraphError => 6,
            Status::Throttled => 7,
            Status::Network => 8,
            Status::OutcomeUnknown => 9,
            Status::Attachment => 10,
            Status::Credential => 11,
            Status::Signer => 12,
            Status::Panic => 13,
            Status::Internal => 14,
            Status::RequestTooLarge => 15,
            Status::Cancelled => 16,
        }
    }

    pub fn from_code(code: u32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The C constant name, e.g. `PMP_STATUS_THROTTLED`.
    pub fn name(self) -> &'static str {
        // The names are ASCII.
        self.c_name().to_str().unwrap_or("PMP_STATUS_UNKNOWN")
    }

    /// [`Status::name`] NUL-terminated, for `pmp_status_name`.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            Status::Ok => c"PMP_STATUS_OK",
            Status::NullParameter => c"PMP_STATUS_NULL_PARAMETER",
            Status::InvalidArgument => c"PMP_STATUS_INVALID_ARGUMENT",
            Status::InvalidConfig => c"PMP_STATUS_INVALID_CONFIG",
            Status::AuthenticationFailed => c"PMP_STATUS_AUTHENTICATION_FAILED",
            Status::PermissionDenied => c"PMP_STATUS_PERMISSION_DENIED",
            Status::GraphError => c"PMP_STATUS_GRAPH_ERROR",
            Status::Throttled => c"PMP_STATUS_THROTTLED",
            Status::Network => c"PMP_STATUS_NETWORK",
            Status::OutcomeUnknown => c"PMP_STATUS_OUTCOME_UNKNOWN",
            Status::Attachment => c"PMP_STATUS_ATTACHMENT",
            Status::Credential => c"PMP_STATUS_CREDENTIAL",
            Status::Signer => c"PMP_STATUS_SIGNER",
            Status::Panic => c"PMP_STATUS_PANIC",
            Status::Internal => c"PMP_STATUS_INTERNAL",
            Status::RequestTooLarge => c"PMP_STATUS_REQUEST_TOO_LARGE",
            Status::Cancelled => c"PMP_STATUS_CANCELLED",
        }
    }

    /// The error document's `category`.
    pub fn category(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NullParameter | Status::InvalidArgument => "invalidArgument",
            Status::InvalidConfig => "config",
            Status::AuthenticationFailed => "authentication",
            Status::PermissionDenied => "permission",
            Status::GraphError => "graph",
            Status::Throttled => "throttled",
            Status::Network => "network",
            Status::OutcomeUnknown => "outcomeUnknown",
            Status::Attachment => "attachment",
            Status::Credential => "credential",
            Status::Signer => "signer",
            Status::Panic | Status::Internal => "internal",
            Status::RequestTooLarge => "requestTooLarge",
            Status::Cancelled => "cancelled",
        }
    }
}

/// Whether a failed send may nevertheless have been delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Nothing was sent.
    Failed,
    /// The request reached the server and its answer was lost: the mail may have been sent.
    Unknown,
}

/// Declares the fields an [`Error`] and its [`ErrorDocument`] share once: `ErrorDetails`
/// (behind `Error`) gets them after its `Status`, the document after `status`, `statusName` and
/// `category`, and [`Error::new`] / [`Error::to_document`] are generated from the same list.
macro_rules! error_fields {
    ($($(#[$attr:meta])* $field:ident: $ty:ty,)*) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct ErrorDetails {
            pub status: Status,
            $(pub $field: $ty,)*
        }

        /// The error document returned by `pmp_last_error` and embedded in a failed permission report.
        /// Fields that do not apply are `null`.
        #[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
        #[serde(rename_all = "camelCase")]
        #[schemars(title = "pmp-mail error document")]
        pub struct ErrorDocument {
            /// The numeric `pmp_status`.
            pub status: u32,
            /// The C name of the status, e.g. `PMP_STATUS_PERMISSION_DENIED`.
            pub status_name: String,
            /// invalidArgument | config | credential | authentication | permission | graph | throttled |
            /// network | outcomeUnknown | attachment | signer | internal | requestTooLarge | cancelled
            pub category: String,
            $($(#[$attr])* pub $field: $ty,)*
        }

        impl ErrorDetails {
            fn new(status: Status, message: String) -> ErrorDetails {
                let mut details = ErrorDetails {
                    status,
                    $($field: Default::default(),)*
                };
                details.message = message;
                details
            }

            fn to_document(&self) -> ErrorDocument {
                ErrorDocument {
                    status: self.status.code(),
                    status_name: self.status.name().to_owned(),
                    category: self.status.category().to_owned(),
                    $($field: self.$field.clone(),)*
                }
            }
        }
    };
}

error_fields! {
    message: String,
    /// What to do about it.
    remedy: Option<String>,
    /// For sends: `failed` (nothing was sent) or `unknown` (it may have been sent).
    outcome: Option<Outcome>,
    http_status: Option<u16>,
    /// The Entra ID AADSTS error number.
    aadsts: Option<u32>,
    /// The OAuth `error` value from the token endpoint: Entra ID's (e.g. `invalid_client`), or
    /// Google's with provider googleWorkspace (e.g. `unauthorized_client`).
    entra_error: Option<String>,
    /// Graph's `error.code` (e.g. `ErrorAccessDenied`), or with provider googleWorkspace the
    /// Gmail API's `errors[0].reason` (e.g. `accessNotConfigured`).
    graph_code: Option<String>,
    /// Graph's `request-id` response header.
    request_id: Option<String>,
    /// The `client-request-id` we sent with the failing request.
    client_request_id: Option<String>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
    attempts: Option<u32>,
    duration_ms: Option<u64>,
    retry_after_seconds: Option<u64>,
    log: Vec<String>,
}

/// A failure with everything needed to explain and fix it. The details are boxed so that
/// `Result<T, Error>` stays small; fields are reached through `Deref`.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    details: Box<ErrorDetails>,
}

impl std::ops::Deref for Error {
    type Target = ErrorDetails;

    fn deref(&self) -> &ErrorDetails {
        &self.details
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.details
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            details: Box::new(ErrorDetails::new(status, message.into())),
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    pub fn config(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidConfig, message)
    }

    pub fn credential(message: impl Into<String>) -> Error {
        Error::new(Status::Credential, message)
    }

    pub fn attachment(message: impl Into<String>) -> Error {
        Error::new(Status::Attachment, message)
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Status::Internal, message)
    }

    /// `what` was cancelled by its caller while it waited (to retry, or for a token).
    pub fn cancelled(what: &str) -> Error {
        Error::new(
            Status::Cancelled,
            format!("{what}: cancelled by the caller while waiting"),
        )
        .with_remedy("Nothing more was sent after the cancel; run it again when you want it done.")
    }

    pub fn with_remedy(mut self, remedy: impl Into<String>) -> Error {
        self.remedy = Some(remedy.into());
        self
    }

    pub fn with_outcome(mut self, outcome: Outcome) -> Error {
        self.outcome = Some(outcome);
        self
    }

    /// The JSON error document (contract section 5).
    pub fn to_document(&self) -> ErrorDocument {
        self.details.to_document()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_document()).unwrap_or_else(|_| {
            r#"{"status":14,"message":"error document serialisation failed"}"#.into()
        })
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)?;
        if let Some(remedy) = &self.remedy {
            write!(f, " Remedy: {remedy}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_numbers_are_fixed() {
        for (expected, status) in Status::ALL.iter().enumerate() {
            assert_eq!(status.code(), expected as u32);
            assert_eq!(Status::from_code(expected as u32), Some(*status));
        }
        assert_eq!(Status::from_code(17), None);
        assert_eq!(Status::Cancelled.code(), 16);
        assert_eq!(Status::OutcomeUnknown.name(), "PMP_STATUS_OUTCOME_UNKNOWN");
    }

    #[test]
    fn document_has_nulls_for_missing_fields() {
        let json = Error::config("bad").to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["status"], 3);
        assert_eq!(v["category"], "config");
        assert!(v["remedy"].is_null());
        assert!(v["outcome"].is_null());
    }
}
