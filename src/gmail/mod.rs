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

use crate::authorized::{self, Service};
pub(crate) use crate::authorized::{Answer, Request, Step};
use crate::config::{AssertionAlgorithm, GMAIL_SEND_SCOPE, SendingLimits};
use crate::credential::{Credential, ServiceAccount};
use crate::error::{Error, Result};
use crate::http::{Http, HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::mail::gate::SendGates;
use crate::token::{TokenProvider, TokenSettings};
use crate::token_cache::{self, CacheKey, KeyParts, SharedCache};

/// A Gmail request's [`Step`].
pub(crate) const fn step(name: &'static str, sends: bool, idempotency: Idempotency) -> Step {
    Step {
        service: Service::Gmail,
        name,
        sends,
        idempotency,
    }
}

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

    /// An authenticated Gmail request as `subject` ([`authorized::call`]); Gmail's 403 rate
    /// limits (the request was refused) are waited out like a 429.
    pub(crate) async fn call(
        &self,
        step: Step,
        subject: &str,
        log: &mut OpLog,
        request: Request<'_>,
    ) -> Result<Answer> {
        let tokens = self.tokens_for(subject);
        authorized::call(&self.http, &tokens, step, log, request, Some(rate_limit)).await
    }
}

/// Gmail's 403 rate limits: the request was refused, as with a 429.
fn rate_limit(response: &HttpResponse) -> Option<String> {
    (response.status == 403 && error::is_rate_limit(response))
        .then(|| format!("HTTP 403 {}", error::api_reason(response).0))
}
