//! "Can this service account send as this user?": a token for the user with the gmail.send
//! scope proves the domain-wide delegation; an empty `messages.send` (which Gmail refuses with
//! 400 before anything could be sent) proves the Gmail API is enabled and the user has Gmail.

use std::time::Instant;

use reqwest::Method;

use super::error::{api_reason, delegation_remedy, gmail_error};
use super::{Answer, GmailSession, Request, Step, step};
use crate::config::GMAIL_SEND_SCOPE;
use crate::error::{Error, Result, Status};
use crate::http::Idempotency;
use crate::logging::OpLog;
use crate::permission::{PermissionOptions, PermissionReport, PermissionState, PermissionStatus};
use crate::time::format_time;

/// The delegated scope's name in the report.
pub(crate) const GMAIL_SEND: &str = "gmail.send";
/// The Gmail API's name in the report.
pub(crate) const GMAIL_API: &str = "Gmail API";

const PROBE: Step = step(
    "messages.send probe (an empty request: nothing to send)",
    false,
    Idempotency::Idempotent,
);

fn verdicts(
    scope: PermissionState,
    api: PermissionState,
    subject: &str,
    project: &str,
) -> Vec<PermissionStatus> {
    vec![
        PermissionStatus {
            name: GMAIL_SEND.into(),
            status: scope,
            required: true,
            needed_for: format!(
                "sending mail as {subject}: domain-wide delegation of {GMAIL_SEND_SCOPE}"
            ),
        },
        PermissionStatus {
            name: GMAIL_API.into(),
            status: api,
            required: true,
            needed_for: format!(
                "every Gmail request: the API enabled in the Cloud project {project}, and Gmail on for {subject}"
            ),
        },
    ]
}

/// The report for `options` (the user: `options.mailbox`, else `google.impersonate`).
pub(crate) async fn report(
    session: &GmailSession,
    options: &PermissionOptions,
    mut log: OpLog,
    started: Instant,
) -> Result<PermissionReport> {
    let subject = match options.mailbox.as_deref().or(session.impersonate()) {
        Some(text) => {
            crate::mail::prepare::parse_mailbox(text)
                .map_err(|why| Error::invalid_argument(format!("mailbox: {why}")))?
                .address
        }
        None => {
            return Err(Error::invalid_argument(
                "a Google Workspace permission test needs the user to act as",
            )
            .with_remedy("Give the options document's mailbox (the user whose delegation to test), or google.impersonate in the config."));
        }
    };
    let account = session.account();
    let project = account
        .project_id
        .clone()
        .unwrap_or_else(|| "of the service account".to_owned());
    let app_id = account
        .client_id
        .clone()
        .or_else(|| Some(account.client_email.clone()));
    let tokens = session.tokens_for(&subject);
    let (token, source) = match tokens.get(options.force_refresh, &mut log).await {
        Ok(found) => found,
        Err(mut e)
            if matches!(
                e.status,
                Status::AuthenticationFailed | Status::PermissionDenied
            ) =>
        {
            e.duration_ms
                .get_or_insert(started.elapsed().as_millis() as u64);
            log.info(format!("no token for {subject}: {}", e.message));
            e.log = log.lines().to_vec();
            // PermissionDenied is Google saying the delegation is missing: the scope is known
            // to be Missing. Other refusals (a bad key, an unknown user) say nothing about it.
            let scope = if e.status == Status::PermissionDenied {
                PermissionState::Missing
            } else {
                PermissionState::Unknown
            };
            let warnings = e.remedy.iter().cloned().collect();
            return Ok(PermissionReport {
                authenticated: false,
                tenant_id: None,
                app_id,
                app_display_name: Some(account.client_email.clone()),
                token_expires_on: None,
                token_source: None,
                roles_readable: false,
                roles: Vec::new(),
                permissions: verdicts(scope, PermissionState::Unknown, &subject, &project),
                warnings,
                error: Some(e.to_document()),
                log: log.into_lines(),
            });
        }
        Err(mut e) => {
            e.log = log.into_lines();
            e.duration_ms
                .get_or_insert(started.elapsed().as_millis() as u64);
            return Err(e);
        }
    };
    if source == crate::token::TokenSource::Cache {
        log.info("token from cache");
    }
    let expires_at = token.expires_at;
    drop(token);
    let mut warnings = vec![format!(
        "Domain-wide delegation of {GMAIL_SEND_SCOPE} lets {} send as ANY user of the domain: keep its key as safe as an administrator's password (or keep it in a key store and use a host signer).",
        account.client_email
    )];
    let api = probe(session, &subject, &mut log, &mut warnings).await;
    Ok(PermissionReport {
        authenticated: true,
        tenant_id: None,
        app_id,
        app_display_name: Some(account.client_email.clone()),
        token_expires_on: Some(format_time(expires_at)),
        token_source: Some(source.as_str().to_owned()),
        roles_readable: true,
        roles: vec![GMAIL_SEND_SCOPE.to_owned()],
        permissions: verdicts(PermissionState::Granted, api, &subject, &project),
        warnings,
        error: None,
        log: log.into_lines(),
    })
}

/// The empty `messages.send`: Gmail refuses it with 400 (no message) when the API is enabled
/// and the user has Gmail, and says which of the two is missing otherwise.
async fn probe(
    session: &GmailSession,
    subject: &str,
    log: &mut OpLog,
    warnings: &mut Vec<String>,
) -> PermissionState {
    let answer = session
        .call(
            PROBE,
            subject,
            log,
            Request {
                method: Method::POST,
                url: (&session.url("/gmail/v1/users/me/messages/send")).into(),
                headers: &[("content-type", "application/json")],
                body: Some(bytes::Bytes::from_static(b"{}")),
            },
        )
        .await;
    let response = match answer {
        Ok(Answer::Response(response)) => response,
        Ok(Answer::Lost(e)) | Err(e) => {
            warnings.push(format!(
                "Could not check the Gmail API ({}); send a test message to verify.",
                e.message
            ));
            return PermissionState::Unknown;
        }
    };
    let (reason, _) = api_reason(&response);
    log.info(format!(
        "Gmail answered the empty probe with HTTP {}{}",
        response.status,
        if reason.is_empty() {
            String::new()
        } else {
            format!(" {reason}")
        }
    ));
    match (response.status, reason.as_str()) {
        (400, "failedPrecondition") | (403, _) => {
            let e = gmail_error(PROBE.name, false, &response, subject, session.account());
            let remedy = if reason == "insufficientPermissions" {
                delegation_remedy(session.account())
            } else {
                e.remedy.clone().unwrap_or_default()
            };
            warnings.push(format!("{} {remedy}", e.message));
            PermissionState::Missing
        }
        (400, _) => PermissionState::Granted,
        _ => {
            warnings.push(format!(
                "The Gmail API answered the probe with HTTP {}; send a test message to verify.",
                response.status
            ));
            PermissionState::Unknown
        }
    }
}
