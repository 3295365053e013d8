//! The token endpoint client and the per-handle token cache.
//!
//! - A cached token is reused until `tokenRefreshMarginSeconds` before expiry (or Entra's
//!   `refresh_in`, when given).
//! - Single-flight: however many callers find the cache cold or expiring, one request goes
//!   out; the rest wait on the same async mutex and take its result.
//! - A failed refresh while the old token is still valid keeps serving the old token (and
//!   waits a little before trying again, so a broken endpoint is not hammered).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::config::AssertionAlgorithm;
use crate::credential::Credential;
use crate::entra_error::token_error;
use crate::error::{Error, Result, Status};
use crate::http::{Http, Idempotency};
use crate::logging::OpLog;
use crate::secret::Secret;
use crate::time::{format_time, unix_now};

/// A token must stay valid at least this long to be handed out.
const MIN_REMAINING_VALIDITY: Duration = Duration::from_secs(30);
/// After a failed refresh with a usable old token, wait this long before trying again.
const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(30);

/// An access token and its timing. Debug never shows the token.
#[derive(Debug)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: SystemTime,
    pub refresh_at: SystemTime,
    /// Increments with every token fetched by this handle.
    pub generation: u64,
}

impl AccessToken {
    fn usable_at(&self, now: SystemTime) -> bool {
        now + MIN_REMAINING_VALIDITY < self.expires_at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Endpoint,
    Cache,
}

impl TokenSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Endpoint => "endpoint",
            TokenSource::Cache => "cache",
        }
    }
}

#[derive(Default)]
struct CacheState {
    token: Option<Arc<AccessToken>>,
    /// Set after a failed refresh; until then the old token is served without retrying.
    refresh_suppressed_until: Option<SystemTime>,
}

pub struct TokenProvider {
    http: Http,
    credential: Credential,
    client_id: String,
    token_url: String,
    scope: String,
    algorithm: AssertionAlgorithm,
    margin: Duration,
    state: parking_lot::Mutex<CacheState>,
    refresh_lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

pub struct TokenSettings {
    pub client_id: String,
    pub token_url: String,
    pub scope: String,
    pub algorithm: AssertionAlgorithm,
    pub margin: Duration,
}

impl TokenProvider {
    pub fn new(http: Http, credential: Credential, settings: TokenSettings) -> TokenProvider {
        TokenProvider {
            http,
            credential,
            client_id: settings.client_id,
            token_url: settings.token_url,
            scope: settings.scope,
            algorithm: settings.algorithm,
            margin: settings.margin,
            state: parking_lot::Mutex::new(CacheState::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A token that can be used now, from the cache when possible.
    pub async fn get(
        &self,
        force_refresh: bool,
        log: &mut OpLog,
    ) -> Result<(Arc<AccessToken>, TokenSource)> {
        let generation_seen = self.generation.load(Ordering::Acquire);
        if !force_refresh && let Some(token) = self.cached_without_refresh() {
            return Ok((token, TokenSource::Cache));
        }
        let _single_flight = self.refresh_lock.lock().await;
        // Someone else fetched while we queued: their token is as fresh as ours would be.
        if self.generation.load(Ordering::Acquire) != generation_seen
            && let Some(token) = self.current()
            && token.usable_at(SystemTime::now())
        {
            return Ok((token, TokenSource::Cache));
        }
        if !force_refresh && let Some(token) = self.cached_without_refresh() {
            return Ok((token, TokenSource::Cache));
        }
        match self.fetch(log).await {
            Ok(token) => {
                let mut state = self.state.lock();
                state.token = Some(token.clone());
                state.refresh_suppressed_until = None;
                Ok((token, TokenSource::Endpoint))
            }
            Err(e) => {
                let now = SystemTime::now();
                let mut state = self.state.lock();
                match &state.token {
                    Some(old) if !force_refresh && old.usable_at(now) => {
                        let old = old.clone();
                        state.refresh_suppressed_until = Some(now + REFRESH_RETRY_DELAY);
                        drop(state);
                        log.warn(format!(
                            "token refresh failed ({}); still using the cached token, valid until {}",
                            e.message,
                            format_time(old.expires_at)
                        ));
                        Ok((old, TokenSource::Cache))
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// After Graph rejected `rejected` with 401: a different token, fetching one unless another
    /// caller already did.
    pub async fn replace_rejected(
        &self,
        rejected: &AccessToken,
        log: &mut OpLog,
    ) -> Result<Arc<AccessToken>> {
        let _single_flight = self.refresh_lock.lock().await;
        if let Some(current) = self.current()
            && current.generation != rejected.generation
            && current.usable_at(SystemTime::now())
        {
            return Ok(current);
        }
        let token = self.fetch(log).await?;
        let mut state = self.state.lock();
        state.token = Some(token.clone());
        state.refresh_suppressed_until = None;
        Ok(token)
    }

    fn current(&self) -> Option<Arc<AccessToken>> {
        self.state.lock().token.clone()
    }

    fn cached_without_refresh(&self) -> Option<Arc<AccessToken>> {
        let now = SystemTime::now();
        let state = self.state.lock();
        let token = state.token.as_ref()?;
        if !token.usable_at(now) {
            return None;
        }
        let suppressed = state
            .refresh_suppressed_until
            .is_some_and(|until| now < until);
        (now < token.refresh_at || suppressed).then(|| token.clone())
    }

    async fn fetch(&self, log: &mut OpLog) -> Result<Arc<AccessToken>> {
        let started = std::time::Instant::now();
        let response = self
            .http
            .execute_async("token request", Idempotency::Idempotent, log, |client| {
                let form = self.form();
                async move { Ok(client.post(&self.token_url).form(&form.await?)) }
            })
            .await
            .map_err(|f| {
                let mut e = f.into_error("token request to Entra ID failed");
                e.duration_ms = Some(started.elapsed().as_millis() as u64);
                e
            })?;
        if !response.is_success() {
            let mut e = token_error(&response, &self.credential);
            e.duration_ms = Some(started.elapsed().as_millis() as u64);
            return Err(e);
        }
        let parsed: TokenResponse = serde_json::from_slice(&response.body).map_err(|_| {
            Error::new(
                Status::AuthenticationFailed,
                "the token endpoint answered 2xx without a readable token response",
            )
        })?;
        if parsed.access_token.is_empty() {
            return Err(Error::new(
                Status::AuthenticationFailed,
                "the token endpoint returned an empty access_token",
            ));
        }
        if let Some(kind) = &parsed.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(Error::new(
                Status::AuthenticationFailed,
                format!("the token endpoint returned token_type '{kind}', expected Bearer"),
            ));
        }
        let now = SystemTime::now();
        let lifetime = Duration::from_secs(parsed.expires_in.as_u64().unwrap_or(3599));
        let expires_at = now + lifetime;
        let mut refresh_at = expires_at.checked_sub(self.margin).unwrap_or(now).max(now);
        if let Some(refresh_in) = parsed.refresh_in.as_ref().and_then(NumberOrString::as_u64) {
            refresh_at = refresh_at.min(now + Duration::from_secs(refresh_in));
        }
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        log.info(format!(
            "token from endpoint (client-request-id {}, {} attempt(s), expires {})",
            response.client_request_id,
            response.attempts,
            format_time(expires_at)
        ));
        Ok(Arc::new(AccessToken {
            token: parsed.access_token,
            expires_at,
            refresh_at,
            generation,
        }))
    }

    /// The form body of one token request; a certificate credential gets a fresh assertion.
    async fn form(&self) -> Result<TokenForm> {
        let mut form = vec![
            ("grant_type", Secret::new("client_credentials")),
            ("client_id", Secret::new(self.client_id.clone())),
            ("scope", Secret::new(self.scope.clone())),
        ];
        match &self.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.clone())),
            Credential::Certificate {
                certificate,
                signer,
            } => {
                let (client_id, token_url, certificate, signer, algorithm) = (
                    self.client_id.clone(),
                    self.token_url.clone(),
                    certificate.clone(),
                    signer.clone(),
                    self.algorithm,
                );
                let now = unix_now();
                // The signer may be a host callback (HSM, smart card): keep it off the
                // async workers.
                let assertion = tokio::task::spawn_blocking(move || {
                    crate::assertion::build(
                        &client_id,
                        &token_url,
                        &certificate,
                        signer.as_ref(),
                        algorithm,
                        now,
                    )
                })
                .await
                .map_err(|_| Error::new(Status::Signer, "the assertion signer panicked"))??;
                form.push((
                    "client_assertion_type",
                    Secret::new("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ));
                form.push(("client_assertion", assertion));
            }
        }
        Ok(TokenForm(form))
    }
}

/// The token request's form fields. Serializable only here, so a [`Secret`] cannot end up in a
/// JSON document by accident.
struct TokenForm(Vec<(&'static str, Secret)>);

impl serde::Serialize for TokenForm {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            seq.serialize_element(&(name, value.expose()))?;
        }
        seq.end()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret,
    token_type: Option<String>,
    expires_in: NumberOrString,
    refresh_in: Option<NumberOrString>,
}

/// v2.0 sends integers; v1-like endpoints send strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    Text(String),
}

impl NumberOrString {
    fn as_u64(&self) -> Option<u64> {
        match self {
            NumberOrString::Number(n) => Some(*n),
            NumberOrString::Text(s) => s.trim().parse().ok(),
        }
    }
}
