//! When Google's token endpoint says no: its OAuth error body (`{"error","error_description"}`)
//! diagnosed with a status and a remedy that names where to fix it (the Admin console page, the
//! client id and scope to enter, the Cloud console page of the key). The sibling of
//! `entra_error.rs`; the OAuth `error` goes into the error document's `entraError` field.

use serde::Deserialize;

use crate::config::GMAIL_SEND_SCOPE;
use crate::credential::ServiceAccount;
use crate::error::{Error, Status};
use crate::http::HttpResponse;

/// Where domain-wide delegation is granted.
pub(crate) const DELEGATION_PLACE: &str = "Google Admin console > Security > Access and data control > API controls > Domain-wide delegation";

/// The remedy for delegation that is missing for this client and scope.
pub(crate) fn delegation_remedy(account: &ServiceAccount) -> String {
    let client = account.client_id.as_deref().map_or_else(
        || {
            format!(
                "the numeric client ID of {} (not its email)",
                account.client_email
            )
        },
        |id| format!("{id} (the service account's numeric client ID, not its email)"),
    );
    format!(
        "A super administrator of the Workspace domain grants domain-wide delegation: {DELEGATION_PLACE} > Add new (or edit the entry), Client ID {client}, OAuth scopes {GMAIL_SEND_SCOPE}. A new grant can take from a few minutes up to 24 hours to apply; test again with forceRefresh."
    )
}

#[derive(Deserialize, Default)]
struct OAuthErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

/// Turns a non-2xx answer of Google's token endpoint into a diagnosed error.
pub(crate) fn token_error(
    response: &HttpResponse,
    account: &ServiceAccount,
    subject: &str,
) -> Error {
    let body: OAuthErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = body.error.clone().unwrap_or_default();
    let description = body.error_description.clone().unwrap_or_default();
    let lower = description.to_ascii_lowercase();
    let email = &account.client_email;
    let (status, summary, remedy): (Status, String, String) = match (response.status, code.as_str())
    {
        (429, _) => (
            Status::Throttled,
            "Google throttled the token request.".into(),
            "Wait and try again; fewer clients fetching tokens at once help (tokens are cached per user for up to an hour).".into(),
        ),
        (500..=599, _) => (
            Status::GraphError,
            format!("Google's token endpoint failed (HTTP {}).", response.status),
            "Google's token service is having trouble; nothing was sent. Try again later.".into(),
        ),
        (_, "unauthorized_client") => (
            Status::PermissionDenied,
            format!("The service account {email} may not act as {subject} with the gmail.send scope: domain-wide delegation is not granted for its client ID and this scope (or the entry names its email instead of its numeric client ID, or {subject} is a group)."),
            delegation_remedy(account),
        ),
        (_, "access_denied") => (
            Status::PermissionDenied,
            format!("Google denied the gmail.send scope for {subject}: the domain-wide delegation entry does not list it, or the user's services are restricted."),
            delegation_remedy(account),
        ),
        (_, "admin_policy_enforced") => (
            Status::PermissionDenied,
            format!("A Workspace admin policy blocks the gmail.send scope for {subject}."),
            "Ask the Workspace administrator to allow the service account's access to Gmail (Admin console > Security > Access and data control > API controls > App access control).".into(),
        ),
        (_, "org_internal") => (
            Status::PermissionDenied,
            format!("The service account's client is restricted to its own organization and {subject} is outside it."),
            "Impersonate a user of the organization that owns the Cloud project, or change the OAuth consent screen's user type.".into(),
        ),
        (_, "invalid_grant")
            if lower.contains("email") || lower.contains("user id") || lower.contains("user") && lower.contains("invalid") =>
        (
            Status::AuthenticationFailed,
            format!("{subject} is not a user Google knows (a user of the Workspace domain is needed, not a group or alias)."),
            "Check google.impersonate, or the message's from address when it is the user impersonated: it must be an existing, active user of the domain where the delegation was granted.".into(),
        ),
        (_, "invalid_grant") if lower.contains("short-lived") || lower.contains("iat") || lower.contains("exp") || lower.contains("timeframe") => (
            Status::AuthenticationFailed,
            "Google refused the assertion's time (iat/exp): this machine's clock is off.".into(),
            "Synchronise the system clock (NTP); the assertion is valid for one hour from the local time.".into(),
        ),
        (_, "invalid_grant") if lower.contains("signature") => (
            Status::AuthenticationFailed,
            format!("Google refused the assertion's signature: the key (id {}) was deleted, disabled or expired, or is not {email}'s.", account.private_key_id.as_deref().unwrap_or("unknown")),
            format!("In the Google Cloud console (IAM & Admin > Service accounts > {email} > Keys) check that a key with this id is listed and active (with a host signer: that its certificate was uploaded there and the key id given is the one the console shows); create a new key if it is not."),
        ),
        (_, "invalid_grant") if lower.contains("account not found") || lower.contains("disabled") => (
            Status::AuthenticationFailed,
            format!("The service account {email} is deleted or disabled."),
            format!("Enable {email} in the Google Cloud console (IAM & Admin > Service accounts), or use the key of an active service account."),
        ),
        (_, "invalid_client" | "deleted_client" | "disabled_client") => (
            Status::AuthenticationFailed,
            format!("Google does not accept the service account {email} (its client is invalid, deleted or disabled)."),
            format!("Check {email} and its key in the Google Cloud console (IAM & Admin > Service accounts)."),
        ),
        (_, "invalid_scope") => (
            Status::AuthenticationFailed,
            "Google refused the gmail.send scope.".into(),
            "Check google.tokenUri: the endpoint must be Google's OAuth 2.0 token endpoint.".into(),
        ),
        _ => (
            Status::AuthenticationFailed,
            format!("Google refused the token for {email} acting as {subject}."),
            "See Google's error and description.".into(),
        ),
    };
    let detail = match (code.is_empty(), description.is_empty()) {
        (true, _) => format!("HTTP {}", response.status),
        (false, true) => format!("HTTP {} {code}", response.status),
        (false, false) => format!("HTTP {} {code}: {description}", response.status),
    };
    let mut e = Error::new(status, format!("{summary} Google answered {detail}"));
    e.remedy = Some(remedy);
    e.http_status = Some(response.status);
    e.entra_error = (!code.is_empty()).then_some(code);
    e.client_request_id = Some(response.client_request_id.clone());
    e.attempts = Some(response.attempts);
    e.retry_after_seconds = response.retry_after.map(|d| d.as_secs());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_delegation_names_the_admin_console_the_client_id_and_the_scope() {
        let e = token_error(
            &HttpResponse::for_test(
                401,
                r#"{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}"#,
            ),
            &ServiceAccount::for_test(),
            "alerts@example.com",
        );
        assert_eq!(e.status, Status::PermissionDenied);
        assert_eq!(e.entra_error.as_deref(), Some("unauthorized_client"));
        let remedy = e.remedy.as_deref().unwrap();
        for part in [DELEGATION_PLACE, "109876543210", GMAIL_SEND_SCOPE] {
            assert!(remedy.contains(part), "{remedy}");
        }
        assert!(e.message.contains("alerts@example.com"), "{}", e.message);
    }

    #[test]
    fn invalid_grant_is_told_apart_by_its_description() {
        let cases = [
            ("Invalid email or User ID", "not a user"),
            ("Not a valid email.", "not a user"),
            (
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
                "clock",
            ),
            ("Invalid JWT Signature.", "signature"),
            ("Robot is disabled.", "deleted or disabled"),
            ("Invalid grant: account not found", "deleted or disabled"),
        ];
        for (description, expected) in cases {
            let body = serde_json::json!({"error":"invalid_grant","error_description":description});
            let e = token_error(
                &HttpResponse::for_test(400, &body.to_string()),
                &ServiceAccount::for_test(),
                "u@example.com",
            );
            assert_eq!(e.status, Status::AuthenticationFailed, "{description}");
            assert!(e.message.contains(expected), "{description}: {}", e.message);
            assert!(e.message.contains(description), "{}", e.message);
        }
    }
}
