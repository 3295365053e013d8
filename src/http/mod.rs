//! The HTTP clients of one handle (TLS, proxy, timeouts, connection reuse) and the retry policy
//! every request goes through.
//!
//! Transport: a network failure kills a TCP connection and every request on it, and a request
//! whose body was fully written may have been accepted, so a lost answer to a send is an
//! unknown outcome. On one shared HTTP/2 connection one drop made every send in flight unknown
//! (8 per drop at 16 threads in `bench/send-fault-soak.rs`). So requests that are not
//! idempotent ([`Idempotency::NonIdempotent`]: sendMail, draft create and `send`, attachment
//! and upload-session POSTs) go over a second client that speaks HTTP/1.1 only (ALPN
//! `http/1.1`): one request per connection at a time, connections pooled and reused, so a
//! drop costs the one send it carried. Sends that go to the server directly use hyper's
//! connections without reqwest's layers ([`direct`]); sends through a proxy use reqwest.
//! Token requests and idempotent Graph calls (GET, PUT, DELETE) keep HTTP/2 on one
//! connection; a drop there is retried. HTTP/2's own signals cannot
//! do this: an abrupt drop has no GOAWAY, and after a GOAWAY hyper hands the streams below its
//! last-stream-id the same error as those above it.
//!
//! Retry rules (see docs/contracts.md and reference/performance-reliability.md §4), decided in
//! one place, [`retry::decide`]:
//! - 429: always retried, honouring Retry-After, within `maxAttempts` and `maxTotalWaitSeconds`.
//! - 503/504 with Retry-After: retried. Without Retry-After (and 502): retried only for
//!   idempotent requests; for a send it is an unknown outcome (the server may have queued the
//!   mail), retried only with `retryUnknownOutcome`, like any other 5xx on a send.
//! - Connect/DNS/TLS failures before the request was sent, and a request hyper gave up before
//!   writing any of it (its pooled connection closed first): retried (nothing reached the server).
//! - A timeout or dropped connection after the request was sent: retried only for idempotent
//!   requests, or with `retryUnknownOutcome`; otherwise reported as an unknown outcome.
//! - An untrusted server certificate or a request that cannot be built: never retried.
//! - The wait is the server's Retry-After, else backoff (~0.5 s doubling up to 30 s, plus up to
//!   250 ms jitter); a wait that would pass `maxTotalWaitSeconds` ends the retries.
//!
//! TLS: loading the OS trust store costs milliseconds, so it happens once per process (see
//! [`tls`]); each client gets its own `rustls::ClientConfig` on top of the shared verifier.

mod direct;
mod retry;
mod tls;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{HttpSettings, RetryPolicy};
use crate::error::{Error, Result, Status};
use crate::runtime::Place;

/// Whether repeating a request can cause a second effect (a second mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Token requests, GET, DELETE, upload-chunk PUT: repeating is harmless.
    Idempotent,
    /// POSTs that create or send something.
    NonIdempotent,
    /// Upload ranges: sending one again after its answer was lost, or after a 5xx, can meet a
    /// range the server already holds (416). So only Graph's explicit "try again later" (429,
    /// or 503 with Retry-After) and failures that sent nothing are retried here; everything
    /// else goes back to the caller, which asks the upload session where to resume.
    ResumeFirst,
    /// A managed-identity token request (IMDS, App Service, Arc): repeating is harmless, and
    /// the platform's retry guidance applies: 404 (endpoint updating), 408, 410 (IMDS
    /// restarting), 429 and every 5xx are retried. A refused connection is not: there is no
    /// endpoint on this machine, and waiting will not make one appear.
    ManagedIdentity,
}

/// A response that came back (any status), with the ids of the attempt that produced it.
///
/// Debug shows the body's length, not the body: an answer can carry credentials (the upload
/// URL of `createUploadSession`, with its `authtoken`; a token response).
pub struct HttpResponse {
    pub status: u16,
    pub body: bytes::Bytes,
    pub client_request_id: String,
    pub request_id: Option<String>,
    pub attempts: u32,
    pub retry_after: Option<Duration>,
    /// The `WWW-Authenticate` header (Azure Arc's key-file challenge).
    pub www_authenticate: Option<String>,
    /// The `Location` header (a Gmail resumable upload's session URI: a credential, never
    /// logged whole).
    pub location: Option<String>,
    /// True when this request was sent again after an attempt that may have reached the server
    /// (a lost answer, or a 5xx on a send, retried under `retry.retryUnknownOutcome`): what it
    /// did may have happened twice.
    pub repeated_after_unknown_outcome: bool,
    /// Set when the answer would have been retried but a retry budget was used up: which one.
    pub budget_exhausted: Option<Budget>,
}

/// The retry budget that ended a request's retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// `retry.maxAttempts` attempts were made.
    Attempts { max_attempts: u32 },
    /// The next wait would have passed `retry.maxTotalWaitSeconds`.
    Wait { max_total_wait_seconds: u64 },
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("client_request_id", &self.client_request_id)
            .field("request_id", &self.request_id)
            .field("attempts", &self.attempts)
            .field("retry_after", &self.retry_after)
            .field(
                "repeated_after_unknown_outcome",
                &self.repeated_after_unknown_outcome,
            )
            .finish()
    }
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A first-attempt answer with `status` and `body`, for unit tests of answer handling.
    #[cfg(test)]
    pub(crate) fn for_test(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            body: bytes::Bytes::from(body.to_owned()),
            client_request_id: "c".into(),
            request_id: None,
            attempts: 1,
            retry_after: None,
            www_authenticate: None,
            location: None,
            repeated_after_unknown_outcome: false,
            budget_exhausted: None,
        }
    }
}

/// No usable response.
#[derive(Debug)]
pub enum HttpFailure {
    /// The request could not be built (e.g. the assertion signer failed).
    Build(Error),
    /// The network or server failed to produce a response.
    Transport(TransportFailure),
    /// The caller cancelled the operation while this request waited to be retried. Nothing was
    /// abandoned in flight.
    Cancelled {
        /// True when an earlier attempt of a non-idempotent request may have been delivered
        /// (its answer was lost and it was repeated under `retryUnknownOutcome`).
        after_unknown_outcome: bool,
        client_request_id: String,
        attempts: u32,
    },
}

impl HttpFailure {
    /// The error for a request whose failure means "nothing happened" (token, draft steps).
    pub fn into_error(self, what: &str) -> Error {
        match self {
            HttpFailure::Build(e) => e,
            HttpFailure::Transport(t) => t.into_error(what),
            HttpFailure::Cancelled {
                client_request_id,
                attempts,
                ..
            } => {
                let mut e = Error::cancelled(what);
                e.client_request_id = Some(client_request_id);
                e.attempts = Some(attempts);
                e
            }
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

/// The HTTP clients of one handle (see the module doc, "Transport"): one pair per runtime the
/// handle is used on (see [`crate::runtime`]), because a pooled connection is driven by the
/// runtime that opened it.
#[derive(Debug, Clone)]
pub struct Http {
    /// Blocking single operations (the current-thread runtime).
    caller: Clients,
    /// Batches (the worker runtime); made on first use.
    workers: Arc<OnceLock<Clients>>,
    /// `_async` calls on the caller's own runtime; made on first use.
    foreign: Arc<OnceLock<Clients>>,
    settings: HttpSettings,
    retry: RetryPolicy,
    allow_http_loopback: bool,
}

/// The clients of one runtime.
#[derive(Debug, Clone)]
struct Clients {
    /// HTTP/2 when the server offers it: token requests and idempotent Graph calls share one
    /// connection.
    client: reqwest::Client,
    /// HTTP/1.1 only: every request whose lost answer is an unknown outcome has a connection of
    /// its own while it is in flight. Used for sends through a proxy.
    send_client: reqwest::Client,
    /// The same for sends that go to the server directly (most): hyper without reqwest's
    /// layers. `None` when `http.proxy` is set.
    direct: Option<Arc<direct::DirectSend>>,
}

impl Clients {
    fn new(settings: &HttpSettings) -> Result<Clients> {
        Ok(Clients {
            client: build_client(settings, tls::ALPN)?,
            send_client: build_client(settings, tls::ALPN_HTTP1)?,
            direct: direct::DirectSend::new(
                settings,
                tls::client_config(&settings.extra_roots, tls::ALPN_HTTP1)?,
            )
            .map(Arc::new),
        })
    }
}

/// The transport of one attempt: the reqwest client its request is built with and, for a
/// send, the direct transport that carries it when no proxy is in the way.
pub(crate) struct Transport {
    pub client: reqwest::Client,
    direct: Option<Arc<direct::DirectSend>>,
}

impl Http {
    pub fn new(
        settings: &HttpSettings,
        retry: RetryPolicy,
        allow_http_loopback: bool,
    ) -> Result<Http> {
        Ok(Http {
            caller: Clients::new(settings)?,
            workers: Arc::default(),
            foreign: Arc::default(),
            settings: settings.clone(),
            retry,
            allow_http_loopback,
        })
    }

    /// The transport for a request: a dropped connection costs every request on it, so
    /// requests that must not be repeated blindly never share one.
    pub(crate) fn transport_for(&self, idempotency: Idempotency) -> Result<Transport> {
        let clients = match crate::runtime::place() {
            Place::Caller => &self.caller,
            Place::Workers => self.lazy(&self.workers)?,
            Place::Foreign => self.lazy(&self.foreign)?,
        };
        Ok(match idempotency {
            Idempotency::NonIdempotent => Transport {
                client: clients.send_client.clone(),
                direct: clients.direct.clone(),
            },
            Idempotency::Idempotent | Idempotency::ResumeFirst | Idempotency::ManagedIdentity => {
                Transport {
                    client: clients.client.clone(),
                    direct: None,
                }
            }
        })
    }

    /// The clients in `cell`, made with the settings that already made [`Http::caller`].
    fn lazy<'a>(&self, cell: &'a OnceLock<Clients>) -> Result<&'a Clients> {
        if let Some(clients) = cell.get() {
            return Ok(clients);
        }
        let made = Clients::new(&self.settings)?;
        Ok(cell.get_or_init(|| made))
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Whether `allowHttpLoopback` lets URLs the server hands us be http:// to loopback.
    pub fn allows_http_loopback(&self) -> bool {
        self.allow_http_loopback
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
        if crate::config::check_transport(&parsed, self.allow_http_loopback).is_err() {
            return Err(Error::new(
                Status::GraphError,
                "Graph returned an upload URL that is not https; refusing to upload",
            ));
        }
        Ok(())
    }
}

/// One reqwest client with the handle's settings, offering `alpn` (HTTP/1.1 only when that is
/// all it offers).
fn build_client(settings: &HttpSettings, alpn: &[&[u8]]) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(settings.user_agent.clone())
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(90))
        .tls_backend_preconfigured(tls::client_config(&settings.extra_roots, alpn)?);
    if !alpn.contains(&b"h2".as_slice()) {
        // reqwest's own retries re-send only HTTP/2 refusals (REFUSED_STREAM, a graceful
        // GOAWAY), which HTTP/1.1 never gives; with them on, it still copies every request
        // in case one comes.
        builder = builder
            .http1_only()
            .retry(reqwest::retry::never().max_retries_per_request(0));
    }
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
    builder.build().map_err(|e| {
        Error::config(format!(
            "cannot build the HTTP client ({})",
            error_chain(&e)
        ))
    })
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

/// Why an attempt got no answer, whichever transport carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The server's certificate is not trusted: nothing was sent, and trying again will not
    /// change that.
    BadCertificate,
    /// Name resolution, connection or TLS handshake failed: nothing was sent.
    Connect,
    /// The connection closed before any of the request was written.
    NeverStarted,
    /// No answer within the timeout after the request was handed over.
    Timeout,
    /// The request could not be built (a bug).
    Invalid,
    /// The connection broke after the request was (maybe) written.
    AfterSend,
    /// The answer began and its body broke off.
    BodyCutOff,
}

/// The failure for `cause`, `chain` being the error's text ([`error_chain`]).
fn send_failure(cause: Cause, chain: &str) -> SendFailure {
    let (maybe_delivered, retryable, message, remedy) = match cause {
        Cause::BadCertificate => (
            false,
            false,
            format!("the server's TLS certificate is not trusted ({chain})"),
            Some("Nothing was sent. If a proxy inspects TLS or the endpoint uses a private CA, add its CA certificate to http.extraCaCertificatesPem.".into()),
        ),
        Cause::Connect => (
            false,
            true,
            format!("could not connect ({chain})"),
            Some(CONNECT_REMEDY.into()),
        ),
        Cause::NeverStarted => (
            false,
            true,
            format!("the connection closed before the request was sent ({chain})"),
            Some("Nothing reached the server, so nothing was sent; it is tried again on another connection.".into()),
        ),
        Cause::Timeout => (
            true,
            true,
            format!("timed out after the request was sent ({chain})"),
            None,
        ),
        Cause::Invalid => (
            false,
            false,
            format!("invalid request ({chain})"),
            Some("This is a bug in pmp-mail; please report it.".into()),
        ),
        Cause::AfterSend => (
            true,
            true,
            format!("the connection failed after the request was sent ({chain})"),
            None,
        ),
        Cause::BodyCutOff => (
            true,
            true,
            format!("the response body was cut off ({chain})"),
            None,
        ),
    };
    SendFailure {
        maybe_delivered,
        retryable,
        message,
        remedy,
    }
}

/// Whether `e` is (or wraps) rustls refusing the server's certificate. The rustls error can
/// hide behind io::Error wrappers whose source() skips it, so the rendered chain is checked
/// too.
fn bad_certificate(e: &(dyn std::error::Error + 'static), chain: &str) -> bool {
    find_in_chain::<rustls::Error>(e)
        .is_some_and(|tls| matches!(tls, rustls::Error::InvalidCertificate(_)))
        || chain.contains("invalid peer certificate")
}

fn classify_send_error(e: &reqwest::Error) -> SendFailure {
    let chain = error_chain(e);
    let cause = if bad_certificate(e, &chain) {
        Cause::BadCertificate
    } else if e.is_connect() {
        Cause::Connect
    } else if never_started(e) {
        Cause::NeverStarted
    } else if e.is_timeout() {
        Cause::Timeout
    } else if e.is_builder() {
        Cause::Invalid
    } else {
        Cause::AfterSend
    };
    send_failure(cause, &chain)
}

/// [`classify_send_error`] for the direct transport.
fn classify_direct_failure(failure: &direct::Failure) -> SendFailure {
    match failure {
        direct::Failure::Connect(e) => {
            let chain = error_chain(e.as_ref());
            let cause = if bad_certificate(e.as_ref(), &chain) {
                Cause::BadCertificate
            } else {
                Cause::Connect
            };
            send_failure(cause, &chain)
        }
        direct::Failure::Request(e) => {
            let cause = if never_started(e) {
                Cause::NeverStarted
            } else {
                Cause::AfterSend
            };
            send_failure(cause, &error_chain(e))
        }
        direct::Failure::NotSent => send_failure(
            Cause::NeverStarted,
            "the new connection closed before it took the request",
        ),
        direct::Failure::Body(e) => send_failure(Cause::BodyCutOff, &error_chain(e)),
        direct::Failure::Invalid(e) => send_failure(Cause::Invalid, &error_chain(e.as_ref())),
        direct::Failure::Timeout => {
            send_failure(Cause::Timeout, "no answer within http.timeoutSeconds")
        }
    }
}

/// Whether hyper gave the request up before writing any of it (`is_canceled`: the connection
/// closed while the request waited for it): nothing reached the server, so even a send may be
/// tried again.
fn never_started(e: &(dyn std::error::Error + 'static)) -> bool {
    find_in_chain::<hyper::Error>(e).is_some_and(hyper::Error::is_canceled)
}

/// The first error of type `T` in `e`'s source chain, also where an `io::Error` wraps it
/// without exposing it as its `source()`.
fn find_in_chain<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut source: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = inner.downcast_ref::<T>()
        {
            return Some(found);
        }
        source = err.source();
    }
    None
}

/// "outer: inner: innermost" without repeats, every URL in it redacted ([`redact_urls`]):
/// reqwest's errors print the request URL, and an upload URL's query is its credential.
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
    redact_urls(&parts.join(": "))
}

/// What replaces a URL's query (and user info) in text meant for people.
const REDACTED: &str = "<redacted>";

/// `text` with every `http://` or `https://` URL in it stripped of what can carry a
/// credential: the whole query (`?authtoken=…`, `?sig=…`, `?code=…` become `?<redacted>`) and
/// the user info (`user:password@`). Scheme, host, port and path stay, so a message still says
/// where a request went. Every URL that can reach a log line, an error or a Debug print passes
/// through here.
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let url_and_more = &rest[start..];
        // A URL ends at whitespace; punctuation around it is handled by redact_url.
        let end = url_and_more
            .find(char::is_whitespace)
            .unwrap_or(url_and_more.len());
        out.push_str(&redact_url(&url_and_more[..end]));
        rest = &url_and_more[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next `http://` or `https://` (any case) starts.
fn find_url(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

/// One URL (possibly followed by punctuation of the sentence it stands in, such as `):`)
/// without its query and user info.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = String::from(scheme);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(REDACTED);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let Some(query_start) = tail.find('?') else {
        out.push_str(tail);
        return out;
    };
    out.push_str(&tail[..query_start]);
    let query_and_more = &tail[query_start + 1..];
    // The fragment (`#...`) is never sent to a server; sentence punctuation after the URL is
    // kept so the text still reads.
    let query_end = query_and_more.find('#').unwrap_or_else(|| {
        query_and_more
            .trim_end_matches([')', ']', '}', '>', '"', '\'', ',', ';', ':', '.'])
            .len()
    });
    out.push('?');
    if query_end > 0 {
        out.push_str(REDACTED);
    }
    out.push_str(&query_and_more[query_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_text_lose_their_query_and_user_info() {
        let reqwest_text = "error sending request for url (https://127.0.0.1:4443/_upload/AAMk?authtoken=eyJ0.abc-_~): client error";
        assert_eq!(
            redact_urls(reqwest_text),
            "error sending request for url (https://127.0.0.1:4443/_upload/AAMk?<redacted>): client error"
        );
        let graph = "PUT https://outlook.office.com/api/v2.0/Users('a@b.c')/Messages('m')/AttachmentSessions('s')?authtoken=eyJ.x.y failed";
        assert_eq!(
            redact_urls(graph),
            "PUT https://outlook.office.com/api/v2.0/Users('a@b.c')/Messages('m')/AttachmentSessions('s')?<redacted> failed"
        );
        for secret in ["sig=abc%2Bdef", "code=0.AAA", "token=t", "a=1&sig=2"] {
            let text = format!("see HTTPS://blob.example/c/d?{secret}.");
            assert_eq!(
                redact_urls(&text),
                "see HTTPS://blob.example/c/d?<redacted>.",
                "{secret}"
            );
        }
        assert_eq!(
            redact_urls("proxy http://user:p%40ss@proxy:8080/ refused; http://h/p?q#frag"),
            "proxy http://<redacted>@proxy:8080/ refused; http://h/p?<redacted>#frag"
        );
        let plain = "https://graph.microsoft.com/v1.0/users/a@contoso.com/sendMail and https://docs.rs/x/index.html#eof";
        assert_eq!(redact_urls(plain), plain);
        assert_eq!(redact_urls("no url here"), "no url here");
        assert_eq!(
            redact_urls("ends with https://h/p?"),
            "ends with https://h/p?"
        );
    }

    /// An error that wraps another, as reqwest and hyper-util wrap hyper's.
    #[derive(Debug)]
    struct Wrapped(Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn a_request_hyper_never_started_was_not_delivered() {
        let canceled = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let (ours, theirs) = tokio::io::duplex(64);
                let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, String>(
                    hyper_util::rt::TokioIo::new(ours),
                )
                .await
                .unwrap();
                // The connection goes away before the request is written.
                drop(connection);
                drop(theirs);
                sender
                    .send_request(hyper::Request::new(String::new()))
                    .await
                    .unwrap_err()
            });
        assert!(canceled.is_canceled(), "{canceled:?}");
        assert!(never_started(&Wrapped(Box::new(canceled))));
        let broken = Wrapped(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert!(!never_started(&broken));
    }

    #[test]
    fn response_debug_shows_no_body() {
        let response = HttpResponse::for_test(
            201,
            r#"{"uploadUrl":"https://h/_upload/s?authtoken=SECRET-UPLOAD-TOKEN"}"#,
        );
        let debug = format!("{response:?}");
        assert!(!debug.contains("SECRET-UPLOAD-TOKEN"), "{debug}");
        assert!(
            debug.contains("status: 201") && debug.contains("bytes"),
            "{debug}"
        );
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
}
