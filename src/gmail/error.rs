//! When Gmail says no: the Gmail API's error
//! (`{"error":{"code","message","errors":[{"reason","domain"}],"status"}}`) diagnosed with a
//! status and a remedy that names where to fix it. The `reason` goes into the error document's
//! `graphCode`, where Graph's code goes, so hosts read one shape. (Google's token endpoint's
//! errors are `crate::google_error`.)

use serde::Deserialize;

use crate::credential::ServiceAccount;
use crate::error::{Error, Outcome, Status};
pub(crate) use crate::google_error::delegation_remedy;
use crate::http::{Budget, HttpResponse};

#[derive(Deserialize, Default)]
struct ApiErrorBody {
    error: Option<ApiError>,
}

#[derive(Deserialize, Default)]
struct ApiError {
    message: Option<String>,
    status: Option<String>,
    errors: Option<Vec<ApiErrorItem>>,
}

#[derive(Deserialize, Default)]
struct ApiErrorItem {
    reason: Option<String>,
}

/// A Gmail API error's reason (`errors[0].reason`, else `status`) and message.
pub(crate) fn api_reason(response: &HttpResponse) -> (String, String) {
    let body: ApiErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let inner = body.error.unwrap_or_default();
    let reason = inner
        .errors
        .unwrap_or_default()
        .into_iter()
        .find_map(|e| e.reason)
        .or(inner.status)
        .unwrap_or_default();
    (reason, inner.message.unwrap_or_default())
}

/// Whether an answer is one of Gmail's rate limits (the request was refused, nothing sent).
pub(crate) fn is_rate_limit(response: &HttpResponse) -> bool {
    matches!(response.status, 403 | 429)
        && matches!(
            api_reason(response).0.as_str(),
            "rateLimitExceeded" | "userRateLimitExceeded"
        )
}

/// Seconds until the time in Gmail's "User-rate limit exceeded.  Retry after <RFC 3339>".
fn retry_after_in_message(message: &str) -> Option<u64> {
    let at = message.find("Retry after ")? + "Retry after ".len();
    let stamp = message[at..].split_whitespace().next()?;
    let when =
        time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).ok()?;
    let left = when.unix_timestamp() - time::OffsetDateTime::now_utc().unix_timestamp();
    Some(left.max(0) as u64)
}

/// Maps a non-success Gmail answer of `step` to an error with a remedy.
pub(crate) fn gmail_error(
    step: &str,
    is_send: bool,
    response: &HttpResponse,
    mailbox: &str,
    account: &ServiceAccount,
) -> Error {
    let (reason, google_message) = api_reason(response);
    let status = response.status;
    let described = if reason.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {reason}: {google_message}")
    };
    let project = account
        .project_id
        .as_deref()
        .unwrap_or("<the service account's project>");
    let (kind, remedy, outcome): (Status, String, Outcome) = match (status, reason.as_str()) {
        (429, _) | (403, "rateLimitExceeded" | "userRateLimitExceeded") => {
            let budget = match response.budget_exhausted {
                Some(Budget::Attempts { max_attempts }) => format!(" All {max_attempts} attempts were throttled: send fewer messages as {mailbox} at once, or raise retry.maxAttempts."),
                Some(Budget::Wait { max_total_wait_seconds }) => format!(" Waiting again would pass the wait budget of {max_total_wait_seconds} s: raise retry.maxTotalWaitSeconds or try later."),
                None => String::new(),
            };
            (
                Status::Throttled,
                format!("Gmail throttled {mailbox} (per user: about 150 sends a minute by API quota, and Workspace's daily sending limit of 2,000 messages; a daily limit lifts within 24 hours).{budget}"),
                Outcome::Failed,
            )
        }
        (401, _) => (
            Status::AuthenticationFailed,
            "Gmail rejected the access token even after a new one: check google.tokenUri and google.gmailRoot belong to the same service.".into(),
            Outcome::Failed,
        ),
        (403, "accessNotConfigured") => (
            Status::PermissionDenied,
            format!("Enable the Gmail API in the service account's Google Cloud project {project}: Google Cloud console > APIs & Services > Library > Gmail API > Enable (https://console.cloud.google.com/apis/library/gmail.googleapis.com?project={project}); it takes a few minutes to apply."),
            Outcome::Failed,
        ),
        (403, "insufficientPermissions") => (
            Status::PermissionDenied,
            format!("The token lacks the gmail.send scope. {}", delegation_remedy(account)),
            Outcome::Failed,
        ),
        (403, "domainPolicy") => (
            Status::PermissionDenied,
            "The Workspace domain's administrator blocks this app's access to Gmail (Admin console > Security > Access and data control > API controls).".into(),
            Outcome::Failed,
        ),
        (403, "dailyLimitExceeded") => (
            Status::Throttled,
            format!("The Cloud project {project} used up its daily Gmail API quota; wait for it to reset (midnight Pacific time) or request more quota."),
            Outcome::Failed,
        ),
        (403, _) => (
            Status::PermissionDenied,
            format!("Gmail refused to send as {mailbox}: the from address must be the impersonated user or one of its verified send-as aliases (Delegation denied), and the user's domain must have delegated gmail.send to this service account."),
            Outcome::Failed,
        ),
        (400, "failedPrecondition") => (
            Status::GraphError,
            format!("The Gmail service is not available for {mailbox}: turn Gmail on for the user's organizational unit (Admin console > Apps > Google Workspace > Gmail > Service status) and check the user has a license with Gmail; a token without a user (no impersonation) gets this too."),
            Outcome::Failed,
        ),
        (400, "invalidArgument") => (
            Status::GraphError,
            "Check the recipient addresses and headers.".into(),
            Outcome::Failed,
        ),
        (404, _) if !is_send => (
            Status::GraphError,
            "The upload session expired or is unknown; nothing was sent. Try again.".into(),
            Outcome::Failed,
        ),
        (413, _) => (
            Status::RequestTooLarge,
            "Gmail (or a proxy on the way) refused the request as too large; Gmail accepts messages up to 35 MiB. Nothing was sent.".into(),
            Outcome::Failed,
        ),
        (500..=599, _) if is_send => (
            Status::OutcomeUnknown,
            "Gmail failed after receiving the message, which may still be sent: check the sender's Sent mail in Gmail before sending again. retry.retryUnknownOutcome: true retries such sends automatically, at the risk of a duplicate.".into(),
            Outcome::Unknown,
        ),
        (500..=599, _) => (
            Status::GraphError,
            "Gmail is having trouble; nothing was sent. Try again later.".into(),
            Outcome::Failed,
        ),
        _ => (
            Status::GraphError,
            "See Gmail's error reason and message.".into(),
            Outcome::Failed,
        ),
    };
    let message = if outcome == Outcome::Unknown {
        format!(
            "Gmail may have accepted the {step} request and sent the message: it answered {described}, which does not say whether it went out. Sending it again can deliver it twice."
        )
    } else {
        format!("Gmail refused the {step} request: {described}")
    };
    let mut e = Error::new(kind, message)
        .with_remedy(remedy)
        .with_outcome(outcome);
    e.http_status = Some(status);
    e.graph_code = (!reason.is_empty()).then_some(reason);
    e.client_request_id = Some(response.client_request_id.clone());
    e.attempts = Some(response.attempts);
    e.retry_after_seconds = response
        .retry_after
        .map(|d| d.as_secs())
        .or_else(|| retry_after_in_message(&google_message));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_errors_get_their_remedies() {
        let body = |code: u16, reason: &str, message: &str| {
            serde_json::json!({"error":{"code":code,"message":message,
                "errors":[{"domain":"global","reason":reason,"message":message}]}})
            .to_string()
        };
        let e = gmail_error(
            "send",
            true,
            &HttpResponse::for_test(
                403,
                &body(
                    403,
                    "accessNotConfigured",
                    "Gmail API has not been used in project 1 before or it is disabled.",
                ),
            ),
            "a@example.com",
            &ServiceAccount::for_test(),
        );
        assert_eq!(e.status, Status::PermissionDenied);
        assert_eq!(e.graph_code.as_deref(), Some("accessNotConfigured"));
        assert!(e.remedy.as_deref().unwrap().contains("project=proj"));
        let e = gmail_error(
            "send",
            true,
            &HttpResponse::for_test(
                400,
                &body(400, "failedPrecondition", "Mail service not enabled"),
            ),
            "a@example.com",
            &ServiceAccount::for_test(),
        );
        assert!(e.remedy.as_deref().unwrap().contains("Service status"));
        assert_eq!(e.outcome, Some(Outcome::Failed));
        let e = gmail_error(
            "send",
            true,
            &HttpResponse::for_test(500, &body(500, "backendError", "Backend Error")),
            "a@example.com",
            &ServiceAccount::for_test(),
        );
        assert_eq!(e.status, Status::OutcomeUnknown);
        assert_eq!(e.outcome, Some(Outcome::Unknown));
        let throttled = HttpResponse::for_test(
            429,
            &body(
                429,
                "rateLimitExceeded",
                "User-rate limit exceeded.  Retry after 2999-01-01T00:00:00.000Z",
            ),
        );
        assert!(is_rate_limit(&throttled));
        let e = gmail_error(
            "send",
            true,
            &throttled,
            "a@example.com",
            &ServiceAccount::for_test(),
        );
        assert_eq!(e.status, Status::Throttled);
        assert!(e.retry_after_seconds.unwrap() > 1_000_000);
    }
}
