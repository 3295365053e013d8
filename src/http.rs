//! One reqwest client per handle (TLS, proxy, timeouts, connection reuse, HTTP/2 via ALPN) and
//! the retry policy every request goes through.
//!
//! Retry rules (see docs/contracts.md and reference/performance-reliability.md §4):
//! - 429: always retried, honouring Retry-After, within `maxAttempts` and `maxTotalWaitSeconds`.
//! - 503/504 with Retry-After: retried. Without Retry-After: retried only for idempotent
//!   requests; for a send it is an unknown outcome (the server may have queued the mail).
//! - Connect/DNS/TLS failures before the request was sent: retried (nothing reached the server).
//! - A timeout or dropped connection after the request was sent: retried only for idempotent
//!   requests, or with `retryUnknownOutcome`; otherwise reported as an unknown outcome.
//!
//! TLS: loading the OS trust store costs milliseconds, so it happens once per process (see
//! [`tls`]); each client gets its own `rustls::ClientConfig` on top of the shared verifier.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

use crate::config::{HttpSettings, RetryPolicy};
use crate::error::{Error, Result, Status};
use crate::logging::OpLog;

/// Whether repeating a request can cause a second effect (a second mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Token requests, GET, DELETE, upload-chunk PUT: repeating is harmless.
    Idempotent,
    /// POSTs that create or send something.
    NonIdempotent,
}

/// A response that came back (any status), with the ids of the attempt that produced it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub client_request_id: String,
    pub request_id: Option<String>,
    pub attempts: u32,
    pub retry_after: Option<Duration>,
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// No usable response.
#[derive(Debug)]
pub enum HttpFailure {
    /// The request could not be built (e.g. the assertion signer failed).
    Build(Error),
    /// The network or server failed to produce a response.
    Transport(TransportFailure),
}

impl HttpFailure {
    /// The error for a request whose failure means "nothing happened" (token, draft steps).
    pub fn into_error(self, what: &str) -> Error {
        match self {
            HttpFailure::Build(e) => e,
            HttpFailure::Transport(t) => t.into_error(what),
        }
    }
}

#[derive(Debug)]
pub struct TransportFailure {
    /// True when the request may have reached the server (timeout, dropped connection after
    /// sending): its effect is unknown.
    pub maybe_delivered: bool,
    pub message: String,
    pub remedy: Option<String>,
    pub client_request_id: String,
    pub attempts: u32,
}

impl TransportFailure {
    pub fn into_error(self, what: &str) -> Error {
        let mut e = Error::new(Status::Network, format!("{what}: {}", self.message));
        e.remedy = self.remedy.or_else(|| {
            Some(
                "Check network access to the endpoint, the proxy settings and http.timeoutSeconds."
                    .into(),
            )
        });
        e.client_request_id = Some(self.client_request_id);
        e.attempts = Some(self.attempts);
        e
    }
}

/// The HTTP client of one handle.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    retry: RetryPolicy,
    allow_http_loopback: bool,
}

impl Http {
    pub fn new(
        settings: &HttpSettings,
        retry: RetryPolicy,
        allow_http_loopback: bool,
    ) -> Result<Http> {
        let mut builder = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .tls_backend_preconfigured(tls::client_config(&settings.extra_roots)?);
        if let Some(proxy_url) = &settings.proxy {
            let mut proxy = reqwest::Proxy::all(proxy_url.expose())
                .map_err(|_| Error::config("http.proxy is not a usable proxy URL"))?;
            if !settings.no_proxy.is_empty() {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(&settings.no_proxy.join(",")));
            }
            builder = builder.proxy(proxy);
        } else if !settings.use_system_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| {
            Error::config(format!(
                "cannot build the HTTP client ({})",
                error_chain(&e)
            ))
        })?;
        Ok(Http {
            client,
            retry,
            allow_http_loopback,
        })
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Checks a URL the server handed us (upload session): https, or http to loopback when the
    /// config allows it.
    pub fn check_server_url(&self, url: &str) -> Result<()> {
        let parsed = url::Url::parse(url).map_err(|e| {
            Error::new(
                Status::GraphError,
                format!("Graph returned an invalid upload URL ({e})"),
            )
        })?;
        let ok = match parsed.scheme() {
            "https" => true,
            "http" => {
                self.allow_http_loopback
                    && match parsed.host() {
                        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                        None => false,
                    }
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                Status::GraphError,
                "Graph returned an upload URL that is not https; refusing to upload",
            ))
        }
    }

    /// Sends a request built by `build` (called once per attempt), applying the retry policy.
    /// Each attempt carries a fresh `client-request-id`.
    pub async fn execute<F>(
        &self,
        what: &str,
        idempotency: Idempotency,
        log: &mut OpLog,
        build: F,
    ) -> std::result::Result<HttpResponse, HttpFailure>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.execute_async(what, idempotency, log, |client| {
            std::future::ready(Ok(build(&client)))
        })
        .await
    }

    /// Like [`Http::execute`], for requests whose construction is itself async and fallible
    /// (token requests sign a fresh assertion per attempt: Entra rejects a replayed `jti`).
    pub async fn execute_async<F, Fut>(
        &self,
        what: &str,
        idempotency: Idempotency,
        log: &mut OpLog,
        mut build: F,
    ) -> std::result::Result<HttpResponse, HttpFailure>
    where
        F: FnMut(reqwest::Client) -> Fut,
        Fut: std::future::Future<Output = Result<reqwest::RequestBuilder>>,
    {
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let request = build(self.client.clone())
                .await
                .map_err(HttpFailure::Build)?
                .header("client-request-id", &client_request_id)
                .header("return-client-request-id", "true");
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(body) => Ok(HttpResponse {
                            status,
                            request_id: headers
                                .get("request-id")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                            retry_after: parse_retry_after(&headers),
                            headers,
                            body,
                            client_request_id: client_request_id.clone(),
                            attempts: attempt,
                        }),
                        Err(e) => Err(SendFailure {
                            maybe_delivered: true,
                            retryable: true,
                            message: format!("the response body was cut off ({})", error_chain(&e)),
                            remedy: None,
                        }),
                    }
                }
                Err(e) => Err(classify_send_error(&e)),
            };

            let can_retry = attempt < self.retry.max_attempts;
            match outcome {
                Ok(response) => {
                    let status = response.status;
                    let decision = match status {
                        429 => Some(response.retry_after),
                        503 | 504 if response.retry_after.is_some() => Some(response.retry_after),
                        502..=504 if idempotency == Idempotency::Idempotent => Some(None),
                        500..=599
                            if idempotency == Idempotency::NonIdempotent
                                && self.retry.retry_unknown_outcome =>
                        {
                            Some(response.retry_after)
                        }
                        _ => None,
                    };
                    let Some(server_wait) = decision else {
                        return Ok(response);
                    };
                    let wait = server_wait.unwrap_or_else(|| backoff(attempt));
                    if !can_retry || waited + wait > self.retry.max_total_wait {
                        log.info(format!(
                            "{what}: HTTP {status} on attempt {attempt}; not retrying (attempt or wait budget used up)"
                        ));
                        return Ok(response);
                    }
                    log.info(format!(
                        "{what}: HTTP {status} (client-request-id {client_request_id}); retrying in {} ms",
                        wait.as_millis()
                    ));
                    waited += wait;
                    tokio::time::sleep(wait).await;
                }
                Err(SendFailure {
                    maybe_delivered,
                    retryable,
                    message,
                    remedy,
                }) => {
                    let retryable = retryable
                        && match (maybe_delivered, idempotency) {
                            (false, _) | (true, Idempotency::Idempotent) => true,
                            (true, Idempotency::NonIdempotent) => self.retry.retry_unknown_outcome,
                        };
                    let wait = backoff(attempt);
                    if !retryable || !can_retry || waited + wait > self.retry.max_total_wait {
                        log.info(format!(
                            "{what}: {message} (client-request-id {client_request_id}, attempt {attempt}, {} ms)",
                            started.elapsed().as_millis()
                        ));
                        return Err(HttpFailure::Transport(TransportFailure {
                            maybe_delivered,
                            message,
                            remedy,
                            client_request_id,
                            attempts: attempt,
                        }));
                    }
                    log.info(format!(
                        "{what}: {message} (client-request-id {client_request_id}); retrying in {} ms",
                        wait.as_millis()
                    ));
                    waited += wait;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// The TLS settings of every client: the OS trust store (through rustls-platform-verifier) plus
/// `http.extraCaCertificatesPem`, TLS 1.2 or later, hostname verification, ALPN `h2` then
/// `http/1.1`. The same checks reqwest's own rustls setup makes, but the verifier (whose
/// construction reads the OS store) is built once per process for each set of extra roots
/// instead of once per client. The OS store is therefore read when the first client is created;
/// later changes to it apply to processes started afterwards.
pub(crate) mod tls {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock};

    use parking_lot::Mutex;
    use rustls::ClientConfig;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::crypto::CryptoProvider;
    use rustls_pki_types::CertificateDer;
    use rustls_platform_verifier::Verifier;

    use crate::error::{Error, Result};

    /// The protocol versions offered: TLS 1.3 and 1.2 (rustls has nothing older).
    pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];

    /// ALPN in preference order: HTTP/2, then HTTP/1.1.
    pub(crate) const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

    /// Distinct sets of extra roots kept; beyond this the cache starts over (hosts use one or
    /// two, so this only bounds memory for a host that generates them).
    const MAX_CACHED_VERIFIERS: usize = 16;

    /// The crypto provider reqwest would pick: the process default if the host installed one
    /// before the first client, else aws-lc-rs.
    static PROVIDER: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| {
        CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    });

    /// Verifiers by extra roots (the empty key is the OS store alone). A failed build is not
    /// cached, so a later client retries it.
    static VERIFIERS: LazyLock<Mutex<VerifierCache>> = LazyLock::new(Default::default);

    /// Extra roots (DER, in config order) to the verifier built for them.
    type VerifierCache = HashMap<Vec<Vec<u8>>, Arc<Verifier>>;

    /// The verifier for the OS store plus `extra_roots` (DER), built on first use.
    pub(crate) fn verifier(extra_roots: &[Vec<u8>]) -> Result<Arc<Verifier>> {
        // Held while building, so concurrent first clients read the OS store once.
        let mut cache = VERIFIERS.lock();
        if let Some(found) = cache.get(extra_roots) {
            return Ok(found.clone());
        }
        let provider = PROVIDER.clone();
        let built = if extra_roots.is_empty() {
            Verifier::new(provider).map_err(|e| {
                Error::config(format!(
                    "cannot build the HTTP client (cannot load the OS trust store: {e})"
                ))
            })?
        } else {
            let certs = extra_roots
                .iter()
                .map(|der| CertificateDer::from(der.clone()));
            Verifier::new_with_extra_roots(certs, provider).map_err(|e| {
                Error::config(format!(
                    "http.extraCaCertificatesPem: unusable certificate ({e})"
                ))
            })?
        };
        if cache.len() >= MAX_CACHED_VERIFIERS {
            cache.clear();
        }
        let built = Arc::new(built);
        cache.insert(extra_roots.to_vec(), built.clone());
        Ok(built)
    }

    /// A fresh client config (own session cache) on the shared verifier.
    pub(crate) fn client_config(extra_roots: &[Vec<u8>]) -> Result<ClientConfig> {
        let verifier: Arc<dyn ServerCertVerifier> = verifier(extra_roots)?;
        let mut config = ClientConfig::builder_with_provider(PROVIDER.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| Error::config(format!("cannot build the HTTP client ({e})")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// Exponential backoff with jitter: ~0.5 s, 1 s, 2 s, ... capped at 30 s.
fn backoff(attempt: u32) -> Duration {
    let base_ms = 500u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(30_000);
    let jitter = (uuid::Uuid::new_v4().as_u128() % 250) as u64;
    Duration::from_millis(base_ms + jitter)
}

/// Retry-After as seconds (integer or fractional) or an HTTP-date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Why no response came back, and what that means for retrying.
#[derive(Debug)]
struct SendFailure {
    /// The request may have reached the server (its effect is unknown).
    maybe_delivered: bool,
    /// Another attempt could succeed (false for an untrusted certificate or a bug).
    retryable: bool,
    message: String,
    remedy: Option<String>,
}

/// The remedy for a failure before anything was sent: name resolution, connection or TLS
/// handshake.
const CONNECT_REMEDY: &str = "Nothing reached the server, so nothing was sent. Check that the host name resolves (DNS), that a firewall allows outbound HTTPS to it, and the proxy settings (http.proxy, http.noProxy, http.useSystemProxy and the HTTPS_PROXY/NO_PROXY environment variables).";

fn classify_send_error(e: &reqwest::Error) -> SendFailure {
    let chain = error_chain(e);
    // The rustls error can hide behind io::Error wrappers whose source() skips it, so the
    // rendered chain is checked too.
    let bad_certificate = find_rustls_error(e)
        .is_some_and(|tls| matches!(tls, rustls::Error::InvalidCertificate(_)))
        || chain.contains("invalid peer certificate");
    let (maybe_delivered, retryable, message, remedy) = if bad_certificate {
        (
            false,
            false,
            format!("the server's TLS certificate is not trusted ({chain})"),
            Some("Nothing was sent. If a proxy inspects TLS or the endpoint uses a private CA, add its CA certificate to http.extraCaCertificatesPem.".into()),
        )
    } else if e.is_connect() {
        (
            false,
            true,
            format!("could not connect ({chain})"),
            Some(CONNECT_REMEDY.into()),
        )
    } else if e.is_timeout() {
        (
            true,
            true,
            format!("timed out after the request was sent ({chain})"),
            None,
        )
    } else if e.is_builder() {
        (
            false,
            false,
            format!("invalid request ({chain})"),
            Some("This is a bug in pmp-mail; please report it.".into()),
        )
    } else {
        (
            true,
            true,
            format!("the connection failed after the request was sent ({chain})"),
            None,
        )
    };
    SendFailure {
        maybe_delivered,
        retryable,
        message,
        remedy,
    }
}

fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut source: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(tls) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(tls);
        }
        source = err.source();
    }
    None
}

/// "outer: inner: innermost" without repeats.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after", "2.5".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(2500)));
        let future = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(future).parse().unwrap(),
        );
        let d = parse_retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn server_urls_must_be_https_or_allowed_loopback_http() {
        let http = |allow_http_loopback| {
            let settings = crate::config::Config::from_json(
                r#"{"tenant":"contoso.onmicrosoft.com","clientId":"22222222-2222-2222-2222-222222222222"}"#,
            )
            .unwrap()
            .validate()
            .unwrap()
            .http;
            Http::new(&settings, RetryPolicy::default(), allow_http_loopback).unwrap()
        };
        let (strict, loopback) = (http(false), http(true));
        let upload =
            "https://outlook.office.com/api/v2.0/Users('a')/AttachmentSessions('b')?authtoken=x";
        assert!(strict.check_server_url(upload).is_ok());
        assert!(loopback.check_server_url(upload).is_ok());
        for local in [
            "http://127.0.0.1:8080/_upload/1",
            "http://[::1]:8080/_upload/1",
            "http://localhost/_upload/1",
        ] {
            assert!(strict.check_server_url(local).is_err(), "{local}");
            assert!(loopback.check_server_url(local).is_ok(), "{local}");
        }
        for refused in [
            "http://outlook.office.com/upload",
            "http://10.0.0.1/upload",
            "ftp://127.0.0.1/upload",
            "not a url",
        ] {
            for client in [&strict, &loopback] {
                let e = client.check_server_url(refused).unwrap_err();
                assert_eq!(e.status, Status::GraphError, "{refused}");
            }
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) < Duration::from_secs(1));
        assert!(backoff(3) >= Duration::from_secs(2));
        assert!(backoff(30) <= Duration::from_millis(30_250));
    }
    #[test]
    fn tls_config_keeps_the_security_settings() {
        let config = tls::client_config(&[]).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(config.enable_sni);
        let offered: Vec<_> = tls::VERSIONS.iter().map(|v| v.version).collect();
        assert_eq!(
            offered,
            [
                rustls::ProtocolVersion::TLSv1_3,
                rustls::ProtocolVersion::TLSv1_2
            ]
        );
    }

    #[test]
    fn verifier_is_built_once_per_set_of_roots() {
        let ca = rcgen::generate_simple_self_signed(vec!["cache.invalid".to_string()])
            .unwrap()
            .cert
            .der()
            .to_vec();
        let os = tls::verifier(&[]).unwrap();
        assert!(Arc::ptr_eq(&os, &tls::verifier(&[]).unwrap()));
        let extra = tls::verifier(std::slice::from_ref(&ca)).unwrap();
        assert!(Arc::ptr_eq(&extra, &tls::verifier(&[ca]).unwrap()));
        assert!(!Arc::ptr_eq(&os, &extra));
    }
}
