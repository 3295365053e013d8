//! The status enum every fallible C function returns.

use crate::error::Status;

/// Result of every fallible `pmp_` function. The numbers are fixed and never reused.
///
/// On failure, `pmp_last_error` on the same thread returns the error document.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pmp_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// An argument was malformed: invalid UTF-8, bad JSON, unknown field, too large.
    InvalidArgument = 2,
    /// The config document is well-formed but wrong (tenant, clientId, endpoints, options).
    InvalidConfig = 3,
    /// Entra ID rejected the credentials, or Graph rejected the token.
    AuthenticationFailed = 4,
    /// Graph answered 403: a permission or mailbox scope is missing.
    PermissionDenied = 5,
    /// Graph refused the request for another reason (see graphCode), or Entra ID's token
    /// endpoint answered with a server error (5xx; see httpStatus, aadsts, retryAfterSeconds).
    GraphError = 6,
    /// Still throttled (429) by Graph or Entra ID after the allowed retries.
    Throttled = 7,
    /// No answer: DNS, connect, TLS, proxy, timeout (nothing was sent).
    Network = 8,
    /// The request reached the server but its answer was lost: the mail may have been sent.
    OutcomeUnknown = 9,
    /// An attachment could not be read, is too large, or its upload failed.
    Attachment = 10,
    /// The credential (secret, PFX, PEM, certificate) could not be loaded.
    Credential = 11,
    /// The host signer callback failed.
    Signer = 12,
    /// A bug: a panic was caught at the boundary.
    Panic = 13,
    /// A bug or an unexpected internal condition.
    Internal = 14,
    /// Graph, or a proxy or gateway on the way, refused a request as too large (HTTP 413).
    /// Nothing was sent.
    RequestTooLarge = 15,
    /// The caller cancelled the operation (`pmp_cancel_request`) while it was waiting to retry;
    /// no request was abandoned in flight. See `outcome`: `failed` unless an earlier attempt of
    /// a send may have been delivered (`unknown`).
    Cancelled = 16,
}

impl From<Status> for pmp_status {
    fn from(status: Status) -> pmp_status {
        match status {
            Status::Ok => pmp_status::Ok,
            Status::NullParameter => pmp_status::NullParameter,
            Status::InvalidArgument => pmp_status::InvalidArgument,
            Status::InvalidConfig => pmp_status::InvalidConfig,
            Status::AuthenticationFailed => pmp_status::AuthenticationFailed,
            Status::PermissionDenied => pmp_status::PermissionDenied,
            Status::GraphError => pmp_status::GraphError,
            Status::Throttled => pmp_status::Throttled,
            Status::Network => pmp_status::Network,
            Status::OutcomeUnknown => pmp_status::OutcomeUnknown,
            Status::Attachment => pmp_status::Attachment,
            Status::Credential => pmp_status::Credential,
            Status::Signer => pmp_status::Signer,
            Status::Panic => pmp_status::Panic,
            Status::Internal => pmp_status::Internal,
            Status::RequestTooLarge => pmp_status::RequestTooLarge,
            Status::Cancelled => pmp_status::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_core() {
        for status in Status::ALL {
            assert_eq!(pmp_status::from(status) as u32, status.code());
        }
    }
}
