//! The token endpoint client and the token cache's rules. The cache itself is a
//! [`SharedCache`]: shared by every handle with the same credentials in the process, or a
//! handle's own (host signer, host assertion callback, `"tokenCache": "client"`); see
//! [`crate::token_cache`].
//!
//! - A cached token is reused until `tokenRefreshMarginSeconds` before expiry (or Entra's
//!   `refresh_in`, when earlier). The effective margin never exceeds half the token's lifetime,
//!   so a short-lived token (lifetime at or below the margin) still serves the first half of
//!   its life instead of being fetched again for every call. See [`timing`].
//! - Single-flight: however many callers (of however many handles sharing the cache) find the
//!   cache cold or expiring, one request goes out; the rest wait on the same async mutex and
//!   take its result.
//! - A failed refresh while the old token is still valid keeps serving the old token (and
//!   waits a little before trying again, so a broken endpoint is not hammered). A token is
//!   handed out until 30 s before expiry, or half the effective margin when that is smaller,
//!   so any margin above zero leaves a window in which the old token covers a failed refresh.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::config::AssertionAlgorithm;
use crate::credential::{AssertionRequest, Credential};
use crate::entra_error::token_error;
use crate::error::{Error, Result, Status};
use crate::http::{Http, Idempotency};
use crate::logging::OpLog;
use crate::managed_identity::Issued;
use crate::secret::Secret;
use crate::time::{format_time, unix_now};
use crate::token_cache::SharedCache;

/// A token must stay valid at least this long to be handed out (less when the effective margin
/// is under twice this: see [`timing`]).
const MIN_REMAINING_VALIDITY: Duration = Duration::from_secs(30);
/// After a failed refresh with a usable old token, wait this long before trying again.
const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(30);

/// An access token and its timing. Debug never shows the token.
#[derive(Debug)]
pub struct AccessToken {
    pub token: Secret,
    /// `Bearer {token}`, made once per token rather than per request, marked sensitive (Debug
    /// shows `Sensitive`; HTTP/2 never indexes it). None when the token cannot be a header
    /// value: the request then fails as an invalid request, as it did before.
    pub bearer: Option<HeaderValue>,
    pub expires_at: SystemTime,
    pub refresh_at: SystemTime,
    /// Handed out (from the cache, or in place of a failed refresh) only before this.
    pub usable_until: SystemTime,
    /// Increments with every token fetched into its cache.
    pub generation: u64,
}

/// The Authorization value for `token` (see [`AccessToken::bearer`]).
pub(crate) fn bearer_header(token: &Secret) -> Option<HeaderValue> {
    // The header value shares one buffer with every request that uses it (no copy), and that
    // buffer is wiped when the token and its last request are gone.
    let text = zeroize::Zeroizing::new(format!("Bearer {}", token.expose()).into_bytes());
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl AccessToken {
    fn usable_at(&self, now: SystemTime) -> bool {
        now < self.usable_until
    }
}

/// When a token fetched now should be refreshed and until when it may be handed out, both as
/// offsets from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timing {
    refresh_after: Duration,
    usable_for: Duration,
}

/// The cache's timing for a token of `lifetime` (`expires_in`), the configured `margin` and
/// Entra's `refresh_in`:
/// - the effective margin is the configured one, but at most half the lifetime (a 300 s token
///   with the default 300 s margin is refreshed after 150 s, not on every call);
/// - the refresh is due `margin` before expiry, or after `refresh_in` when that is earlier;
/// - the token is handed out until `MIN_REMAINING_VALIDITY` before expiry, or half the
///   effective margin when that is smaller, so that the time between the refresh and the end of
///   usability (at least half the margin) lets the old token cover a failed refresh.
fn timing(lifetime: Duration, margin: Duration, refresh_in: Option<Duration>) -> Timing {
    let margin = margin.min(lifetime / 2);
    let min_remaining = MIN_REMAINING_VALIDITY.min(margin / 2);
    let mut refresh_after = lifetime - margin;
    if let Some(refresh_in) = refresh_in {
        refresh_after = refresh_after.min(refresh_in);
    }
    Timing {
        refresh_after,
        usable_for: lifetime - min_remaining,
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

pub struct TokenProvider {
    http: Http,
    credential: Credential,
    client_id: String,
    token_url: String,
    scope: String,
    algorithm: AssertionAlgorithm,
    margin: Duration,
    /// The user a Google service account acts as (domain-wide delegation); `None` for Entra.
    subject: Option<String>,
    cache: Arc<SharedCache>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("subject", &self.subject)
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
    /// The user a Google service account's tokens act as (the assertion's `sub`).
    pub subject: Option<String>,
}

impl TokenProvider {
    /// A provider working on `cache` (see [`crate::token_cache::shared`]).
    pub fn new(
        http: Http,
        credential: Credential,
        settings: TokenSettings,
        cache: Arc<SharedCache>,
    ) -> TokenProvider {
        TokenProvider {
            http,
            credential,
            client_id: settings.client_id,
            token_url: settings.token_url,
            scope: settings.scope,
            algorithm: settings.algorithm,
            margin: settings.margin,
            subject: settings.subject,
            cache,
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
        let generation_seen = self.cache.generation.load(Ordering::Acquire);
        if !force_refresh && let Some(token) = self.cached_without_refresh() {
            return Ok((token, TokenSource::Cache));
        }
        let _single_flight = self.queue_for_fetch(log).await?;
        // Someone else fetched while we queued: their token is as fresh as ours would be.
        if self.cache.generation.load(Ordering::Acquire) != generation_seen
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
                let mut state = self.cache.state.lock();
                state.token = Some(token.clone());
                state.refresh_suppressed_until = None;
                Ok((token, TokenSource::Endpoint))
            }
            Err(e) => {
                let now = SystemTime::now();
                let mut state = self.cache.state.lock();
                match &state.token {
                    // A cancelled caller stops here; the next caller refreshes as usual.
                    Some(old)
                        if !force_refresh
                            && old.usable_at(now)
                            && e.status != Status::Cancelled =>
                    {
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
        let _single_flight = self.queue_for_fetch(log).await?;
        if let Some(current) = self.current()
            && current.generation != rejected.generation
            && current.usable_at(SystemTime::now())
        {
            return Ok(current);
        }
        let token = self.fetch(log).await?;
        let mut state = self.cache.state.lock();
        state.token = Some(token.clone());
        state.refresh_suppressed_until = None;
        Ok(token)
    }

    /// Waits for the single-flight lock; a caller that cancels while another caller's fetch
    /// (perhaps waiting out Entra's Retry-After) holds it stops waiting.
    async fn queue_for_fetch(&self, log: &OpLog) -> Result<tokio::sync::MutexGuard<'_, ()>> {
        match log.cancel() {
            Some(cancel) => cancel
                .run(self.cache.refresh_lock.lock())
                .await
                .map_err(|_| Error::cancelled("waiting for the token request of another call")),
            None => Ok(self.cache.refresh_lock.lock().await),
        }
    }

    fn current(&self) -> Option<Arc<AccessToken>> {
        self.cache.state.lock().token.clone()
    }

    fn cached_without_refresh(&self) -> Option<Arc<AccessToken>> {
        let now = SystemTime::now();
        let state = self.cache.state.lock();
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
        let issued = match &self.credential {
            Credential::ManagedIdentity(mi) => mi.fetch(log).await?,
            _ => self.fetch_from_entra(log).await?,
        };
        let now = SystemTime::now();
        let timing = timing(issued.lifetime, self.margin, issued.refresh_in);
        let expires_at = now + issued.lifetime;
        let generation = self.cache.generation.fetch_add(1, Ordering::AcqRel) + 1;
        log.info(format!(
            "token from endpoint (client-request-id {}, {} attempt(s), expires {})",
            issued.client_request_id,
            issued.attempts,
            format_time(expires_at)
        ));
        Ok(Arc::new(AccessToken {
            bearer: bearer_header(&issued.token),
            token: issued.token,
            expires_at,
            refresh_at: now + timing.refresh_after,
            usable_until: now + timing.usable_for,
            generation,
        }))
    }

    async fn fetch_from_entra(&self, log: &mut OpLog) -> Result<Issued> {
        let started = std::time::Instant::now();
        let google = matches!(self.credential, Credential::GoogleServiceAccount { .. });
        let response = self
            .http
            .execute_async("token request", Idempotency::Idempotent, log, |client| {
                let form = self.form();
                async move { Ok(client.post(&self.token_url).form(&form.await?)) }
            })
            .await
            .map_err(|f| {
                let mut e = f.into_error(if google {
                    "token request to Google failed"
                } else {
                    "token request to Entra ID failed"
                });
                e.duration_ms = Some(started.elapsed().as_millis() as u64);
                e
            })?;
        if !response.is_success() {
            let mut e = match &self.credential {
                Credential::GoogleServiceAccount { account, .. } => {
                    crate::google_error::token_error(
                        &response,
                        account,
                        self.subject.as_deref().unwrap_or(""),
                    )
                }
                _ => token_error(&response, &self.credential),
            };
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
        Ok(Issued {
            token: parsed.access_token,
            lifetime: Duration::from_secs(parsed.expires_in.as_u64().unwrap_or(3599)),
            refresh_in: parsed
                .refresh_in
                .as_ref()
                .and_then(NumberOrString::as_u64)
                .map(Duration::from_secs),
            client_request_id: response.client_request_id,
            attempts: response.attempts,
        })
    }

    /// The form body of one token request; a certificate credential gets a fresh assertion.
    async fn form(&self) -> Result<TokenForm> {
        if let Credential::GoogleServiceAccount {
            account, signer, ..
        } = &self.credential
        {
            let subject = self.subject.clone().ok_or_else(|| {
                Error::internal("a Google service account's token needs a subject")
            })?;
            let (account, signer, scope) = (account.clone(), signer.clone(), self.scope.clone());
            let now = unix_now();
            // As for certificates: the signer may be a host callback.
            let assertion = tokio::task::spawn_blocking(move || {
                crate::assertion::build_google(&account, &subject, &scope, signer.as_ref(), now)
            })
            .await
            .map_err(|_| Error::new(Status::Signer, "the assertion signer panicked"))??;
            return Ok(TokenForm(vec![
                (
                    "grant_type",
                    Secret::new("urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ),
                ("assertion", assertion),
            ]));
        }
        let mut form = vec![
            ("grant_type", Secret::new("client_credentials")),
            ("client_id", Secret::new(self.client_id.clone())),
            ("scope", Secret::new(self.scope.clone())),
        ];
        match &self.credential {
            Credential::Secret(secret) => form.push(("client_secret", secret.clone())),
            Credential::FederatedTokenFile(path) => {
                // Re-read for every request: the platform rotates the file.
                let assertion = Credential::read_federated_token(path)?;
                form.push((
                    "client_assertion_type",
                    Secret::new("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ));
                form.push(("client_assertion", assertion));
            }
            Credential::Assertion(provider) => {
                let (provider, client_id, token_url) = (
                    provider.clone(),
                    self.client_id.clone(),
                    self.token_url.clone(),
                );
                // The host may do I/O for it (an OIDC endpoint, a broker): keep it off the async
                // workers, as the signer.
                let assertion = tokio::task::spawn_blocking(move || {
                    let request = AssertionRequest {
                        client_id: &client_id,
                        token_url: &token_url,
                    };
                    Credential::provided_assertion(provider.as_ref(), &request)
                })
                .await
                .map_err(|_| Error::new(Status::Signer, "the assertion callback panicked"))??;
                form.push((
                    "client_assertion_type",
                    Secret::new("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ));
                form.push(("client_assertion", assertion));
            }
            Credential::ManagedIdentity(_) | Credential::GoogleServiceAccount { .. } => {
                return Err(Error::new(
                    Status::Internal,
                    "a managed identity has no token-endpoint form (and a Google service account another one)",
                ));
            }
            Credential::Certificate {
                certificate,
                signer,
                ..
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
pub(crate) enum NumberOrString {
    Number(u64),
    Text(String),
}

impl NumberOrString {
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            NumberOrString::Number(n) => Some(*n),
            NumberOrString::Text(s) => s.trim().parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_made_once_sensitive_and_never_shown() {
        let bearer = bearer_header(&Secret::new("eyJ0.SECRET-TOKEN.sig")).unwrap();
        assert!(bearer.is_sensitive());
        assert_eq!(bearer.to_str().unwrap(), "Bearer eyJ0.SECRET-TOKEN.sig");
        let now = SystemTime::now();
        let token = AccessToken {
            token: Secret::new("eyJ0.SECRET-TOKEN.sig"),
            bearer: Some(bearer),
            expires_at: now,
            refresh_at: now,
            usable_until: now,
            generation: 1,
        };
        let debug = format!("{token:?}");
        assert!(!debug.contains("SECRET-TOKEN"), "{debug}");
        // A token that cannot be a header value gets none (the request fails as invalid).
        assert!(bearer_header(&Secret::new("two\nlines")).is_none());
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// (refresh after, usable for) in seconds.
    fn timing_of(lifetime: u64, margin: u64, refresh_in: Option<u64>) -> (f64, f64) {
        let t = timing(secs(lifetime), secs(margin), refresh_in.map(secs));
        (t.refresh_after.as_secs_f64(), t.usable_for.as_secs_f64())
    }

    #[test]
    fn a_normal_token_is_refreshed_margin_before_expiry() {
        assert_eq!(timing_of(3599, 300, None), (3299.0, 3569.0));
        assert_eq!(timing_of(3599, 300, Some(1800)), (1800.0, 3569.0));
        assert_eq!(timing_of(3599, 300, Some(99_999)), (3299.0, 3569.0));
    }

    #[test]
    fn the_margin_never_exceeds_half_the_lifetime() {
        // At or below the margin: refreshed half-way, not at once.
        assert_eq!(timing_of(300, 300, None), (150.0, 270.0));
        assert_eq!(timing_of(120, 300, None), (60.0, 90.0));
        assert_eq!(timing_of(10, 300, None), (5.0, 7.5));
        assert_eq!(timing_of(600, 3000, None).0, 300.0);
    }

    #[test]
    fn every_margin_leaves_the_old_token_a_window_to_cover_a_failed_refresh() {
        for lifetime in [8, 12, 60, 300, 3599] {
            for margin in [1, 2, 4, 10, 29, 30, 59, 300, 3000] {
                let (refresh_after, usable_for) = timing_of(lifetime, margin, None);
                assert!(
                    refresh_after < usable_for,
                    "lifetime {lifetime} s, margin {margin} s: refresh at {refresh_after} s, usable until {usable_for} s"
                );
                assert!(usable_for <= lifetime as f64);
            }
        }
        // A 10 s margin: refreshed 10 s before expiry, handed out until 5 s before it.
        assert_eq!(timing_of(3600, 10, None), (3590.0, 3595.0));
    }
}
