//! Google Workspace: sending through the Gmail API as a service account with domain-wide
//! delegation, behind the same [`crate::Client`] calls as Graph.
//!
//! - [`GmailSession`]: the handle's HTTP client, a token cache per impersonated user (Gmail
//!   tokens act as one user, unlike Graph's app-wide token), the Gmail root and the send gates.
//! - [`mime`]: the RFC 5322 message from the prepared message document.
//! - [`send`]: the size policy (JSON `raw`, multipart upload, resumable upload) and the calls.
//! - [`error`]: Google's OAuth and Gmail errors with remedies.
//! - [`permission`]: the delegation test.
//!
//! The outcome rules are Graph's: a lost answer, or a 5xx without Retry-After, on the request
//! that sends is an unknown outcome and is not repeated (unless `retry.retryUnknownOutcome`).

pub(crate) mod error;
pub(crate) mod mime;
pub(crate) mod permission;
pub(crate) mod send;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use crate::config::{AssertionAlgorithm, GMAIL_SEND_SCOPE, RetryPolicy, SendingLimits};
use crate::credential::{Credential, ServiceAccount};
use crate::error::{Error, Outcome, Result, Status};
use crate::http::{Http, HttpFailure, HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::mail::gate::SendGates;
use crate::token::{TokenProvider, TokenSettings};
use crate::token_cache::{self, CacheKey, KeyParts, SharedCache};

/// Per-user token providers a client keeps before it forgets the idle ones.
const PRUNE_AT: usize = 1024;

/// Everything a Gmail request needs, for one client handle.
pub(crate) struct GmailSession {
    http: Http,
    credential: Credential,
    account: Arc<ServiceAccount>,
    token_url: String,
    gmail_root: String,
    impersonate: Option<String>,
    margin: Duration,
    /// Share tokens through the process-wide registry (false: `tokenCache: client`, or a host
    /// signer).
    process_cache: bool,
    /// One token provider per impersonated user (lower case).
    providers: parking_lot::Mutex<HashMap<String, Arc<TokenProvider>>>,
    gates: SendGates,
}

impl std::fmt::Debug for GmailSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailSession")
            .field("credential", &self.credential)
            .field("token_url", &self.token_url)
            .field("gmail_root", &self.gmail_root)
            .field("impersonate", &self.impersonate)
            .finish_non_exhaustive()
    }
}

/// What a [`GmailSession`] is made of.
pub(crate) struct GmailSettings {
    pub token_url: String,
    pub gmail_root: String,
    pub impersonate: Option<String>,
    pub margin: Duration,
    pub process_cache: bool,
    pub sending: SendingLimits,
}

/// What came of a Gmail request whose answer may be lost.
pub(crate) enum Answer {
    Response(HttpResponse),
    /// The request may have reached Gmail and no answer came back; the error reports it.
    Lost(Error),
}

/// What a Gmail request sends (the authorization is added by [`GmailSession::call`]).
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: &'a [(&'static str, String)],
    pub body: Option<bytes::Bytes>,
}

/// One Gmail request: its name in logs and errors, whether it sends the message, how to
/// retry it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub name: &'static str,
    pub sends: bool,
    pub idempotency: Idempotency,
}

impl GmailSession {
    pub(crate) fn new(http: Http, credential: Credential, settings: GmailSettings) -> Result<Self> {
        let Credential::GoogleServiceAccount { account, .. } = &credential else {
            return Err(Error::internal(
                "a Gmail session needs a Google service account",
            ));
        };
        Ok(GmailSession {
            account: account.clone(),
            http,
            credential,
            token_url: settings.token_url,
            gmail_root: settings.gmail_root,
            impersonate: settings.impersonate,
            margin: settings.margin,
            process_cache: settings.process_cache,
            providers: parking_lot::Mutex::new(HashMap::new()),
            gates: SendGates::new(settings.sending),
        })
    }

    pub(crate) fn gates(&self) -> &SendGates {
        &self.gates
    }

    pub(crate) fn account(&self) -> &ServiceAccount {
        &self.account
    }

    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.http.retry_policy()
    }

    /// `google.impersonate`, if configured.
    pub(crate) fn impersonate(&self) -> Option<&str> {
        self.impersonate.as_deref()
    }

    /// The user a message from `from` is sent as: `google.impersonate`, else `from`.
    pub(crate) fn subject_for<'a>(&'a self, from: &'a str) -> &'a str {
        self.impersonate.as_deref().unwrap_or(from)
    }

    /// `{gmail root}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gmail_root)
    }

    /// The token provider of `subject`: one per user, its cache shared with every handle of
    /// the process that has the same key and token endpoint (the user is part of the cache key).
    pub(crate) fn tokens_for(&self, subject: &str) -> Arc<TokenProvider> {
        let key = subject.to_lowercase();
        let mut providers = self.providers.lock();
        if let Some(found) = providers.get(&key) {
            return found.clone();
        }
        if providers.len() >= PRUNE_AT {
            // Providers nobody is using; their tokens stay in the process registry.
            providers.retain(|_, p| Arc::strong_count(p) > 1);
        }
        let fingerprint = if self.process_cache {
            self.credential
                .cache_fingerprint(AssertionAlgorithm::RS256)
                .map(|f| f.part(b"subject").part(key.as_bytes()))
        } else {
            None
        };
        let cache = match fingerprint {
            Some(fingerprint) => token_cache::shared(CacheKey::new(&KeyParts {
                token_url: &self.token_url,
                scope: GMAIL_SEND_SCOPE,
                client_id: &self.account.client_email,
                margin: self.margin,
                fingerprint: &fingerprint,
            })),
            None => SharedCache::private(),
        };
        let provider = Arc::new(TokenProvider::new(
            self.http.clone(),
            self.credential.clone(),
            TokenSettings {
                client_id: self.account.client_email.clone(),
                token_url: self.token_url.clone(),
                scope: GMAIL_SEND_SCOPE.to_owned(),
                algorithm: AssertionAlgorithm::RS256,
                margin: self.margin,
                subject: Some(key.clone()),
            },
            cache,
        ));
        providers.insert(key, provider.clone());
        provider
    }

    /// An authenticated Gmail request as `subject`. A 401 gets one fresh token and one more
    /// try; Gmail's 403 rate limits (the request was refused) are waited out like a 429. A
    /// transport failure after the request may have arrived is [`Answer::Lost`].
    pub(crate) async fn call(
        &self,
        step: Step,
        subject: &str,
        log: &mut OpLog,
        request: Request<'_>,
    ) -> Result<Answer> {
        let Request {
            method,
            url,
            headers,
            body,
        } = request;
        let tokens = self.tokens_for(subject);
        let (mut token, _) = tokens
            .get(false, log)
            .await
            .map_err(|e| e.with_outcome(Outcome::Failed))?;
        let mut refreshed = false;
        let mut extra_attempts = 0;
        let mut rate_limited: u32 = 0;
        let mut waited = Duration::ZERO;
        loop {
            let bearer = format!("Bearer {}", token.token.expose());
            let result = self
                .http
                .execute(step.name, step.idempotency, log, |client| {
                    let mut request = client
                        .request(method.clone(), url)
                        .header(reqwest::header::AUTHORIZATION, &bearer)
                        .header(reqwest::header::ACCEPT, "application/json");
                    for (name, value) in headers {
                        request = request.header(*name, value);
                    }
                    match &body {
                        Some(b) => request.body(b.clone()),
                        None => request.header(reqwest::header::CONTENT_LENGTH, "0"),
                    }
                })
                .await;
            let mut response = match result {
                Ok(r) => r,
                Err(failure) => {
                    let lost = matches!(&failure, HttpFailure::Transport(t) if t.maybe_delivered);
                    let e = transport_error(step, failure, &self.retry_policy());
                    return if lost { Ok(Answer::Lost(e)) } else { Err(e) };
                }
            };
            response.attempts += extra_attempts;
            if response.status == 401 && !refreshed {
                log.info(format!(
                    "{}: Gmail rejected the token (HTTP 401); fetching a new token and trying once more",
                    step.name
                ));
                refreshed = true;
                extra_attempts = response.attempts;
                token = tokens
                    .replace_rejected(&token, log)
                    .await
                    .map_err(|e| e.with_outcome(Outcome::Failed))?;
                continue;
            }
            // A 429 was retried below us; Gmail's 403 rate limits are the same refusal.
            if response.status == 403 && error::is_rate_limit(&response) {
                let policy = self.retry_policy();
                rate_limited += 1;
                // Google's guidance: 1 s, 2 s, 4 s, ...
                let wait = Duration::from_secs(1 << (rate_limited - 1).min(5))
                    + Duration::from_millis(fastrand::u64(..250));
                if response.attempts < policy.max_attempts && waited + wait <= policy.max_total_wait
                {
                    log.info(format!(
                        "{}: Gmail rate limit (HTTP 403 {}); retrying in {} ms",
                        step.name,
                        error::api_reason(&response).0,
                        wait.as_millis()
                    ));
                    log.server_asked_to_wait(wait);
                    log.add_waited(wait);
                    waited += wait;
                    extra_attempts = response.attempts;
                    if crate::cancel::cancellable_sleep(log.cancel(), wait)
                        .await
                        .is_err()
                    {
                        return Err(Error::cancelled(step.name).with_outcome(Outcome::Failed));
                    }
                    continue;
                }
            }
            return Ok(Answer::Response(response));
        }
    }
}

/// The error of a request that got no answer.
fn transport_error(step: Step, failure: HttpFailure, retry: &RetryPolicy) -> Error {
    match failure {
        HttpFailure::Transport(t) if t.maybe_delivered && step.sends => {
            let mut e = Error::new(
                Status::OutcomeUnknown,
                format!(
                    "Gmail {}: {}; the request reached the server, so the message may or may not have been sent",
                    step.name, t.message
                ),
            )
            .with_outcome(Outcome::Unknown)
            .with_remedy(format!(
                "Check the sender's Sent mail in Gmail before sending again.{}",
                if retry.retry_unknown_outcome {
                    ""
                } else {
                    " retry.retryUnknownOutcome: true retries such sends automatically, at the risk of a duplicate."
                }
            ));
            e.client_request_id = Some(t.client_request_id);
            e.attempts = Some(t.attempts);
            e
        }
        HttpFailure::Cancelled {
            after_unknown_outcome: true,
            client_request_id,
            attempts,
        } if step.sends => {
            let mut e = Error::new(
                Status::Cancelled,
                format!(
                    "Gmail {}: cancelled by the caller while waiting to retry; an earlier attempt reached the server and its answer was lost, so the message may or may not have been sent",
                    step.name
                ),
            )
            .with_outcome(Outcome::Unknown)
            .with_remedy("Check the sender's Sent mail in Gmail before sending again.");
            e.client_request_id = Some(client_request_id);
            e.attempts = Some(attempts);
            e
        }
        other => other
            .into_error(&format!("Gmail {} failed", step.name))
            .with_outcome(Outcome::Failed),
    }
}
