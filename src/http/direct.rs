//! The HTTP/1.1 transport of sends when no proxy is in the way: hyper's own connection API on
//! pooled connections, one request per connection at a time (see [`super`], "Transport").
//!
//! Why not reqwest here: a send through reqwest parsed its URL twice more (its redirect policy
//! and its response future, even with redirects off), went through tower layers, a pool keyed
//! by URI and a proxy lookup, and handed every request to a connection task and the answer
//! back (a task switch and one more poll of the OS for events per send). Here the send's own
//! future writes the request and reads the answer on its connection. User-space instructions
//! per sequential send fell from 122k to about 80k (callgrind). Everything else stays with
//! reqwest: sends through a proxy (explicit `http.proxy`, or one the system configures for
//! the URL), token requests and idempotent Graph calls (HTTP/2).
//!
//! What reqwest did that is kept: the handle's TLS config (ALPN `http/1.1`), the user agent,
//! `http.connectTimeout` for TCP and TLS, `http.timeoutSeconds` for the whole request and its
//! answer, TCP_NODELAY, idle connections dropped after 90 s or when the server closed them,
//! and a request that a pooled connection gave up before writing any of it sent again at once
//! on a fresh connection.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use reqwest::header::{HOST, HeaderMap, HeaderValue, USER_AGENT};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use url::{Host, Url};

use crate::config::HttpSettings;

/// How long an unused connection is kept (reqwest's `pool_idle_timeout` of the other client).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The transport of one runtime's sends that go to the server directly.
pub(crate) struct DirectSend {
    tls: tokio_rustls::TlsConnector,
    user_agent: HeaderValue,
    timeout: Duration,
    connect_timeout: Duration,
    /// The system's proxy settings (environment, or the OS's on Windows and macOS), the ones
    /// reqwest applies with `useSystemProxy`; `None` when the handle ignores them.
    system_proxy: Option<Matcher>,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for DirectSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectSend")
            .field("idle", &self.idle.lock().len())
            .finish_non_exhaustive()
    }
}

/// Where a connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    tls: bool,
    host: Host<String>,
    port: u16,
}

/// An open connection: the handle requests go in by, and the connection's I/O, which the
/// future of the send using it drives (there is no connection task). `io` is dropped when the
/// connection ends: that hands back a request still waiting in it, unwritten.
struct Conn {
    origin: Origin,
    sender: SendRequest<reqwest::Body>,
    io: Option<Io>,
    idle_since: Instant,
}

type Io = Connection<TokioIo<Stream>, reqwest::Body>;

impl Conn {
    /// Whether the connection can take a request: not expired, and not closed by the server
    /// while it sat idle (polled once, so a close the OS has reported shows now).
    fn usable(&mut self) -> bool {
        if self.idle_since.elapsed() >= IDLE_TIMEOUT || self.sender.is_closed() {
            return false;
        }
        let Some(io) = &mut self.io else {
            return false;
        };
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(io).poll(&mut cx).is_ready() {
            return false;
        }
        !self.sender.is_closed() && self.sender.is_ready()
    }
}

/// TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// The answer: status, headers and the whole body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why no answer came back, in the terms `classify_direct_failure` decides on.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Name resolution, TCP or TLS failed, or took longer than the connect timeout: nothing
    /// was sent.
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// hyper's error for the request (it may have been written, or never started).
    Request(hyper::Error),
    /// A new connection closed before it took the request: nothing was written.
    NotSent,
    /// The answer's body broke off.
    Body(hyper::Error),
    /// `http.timeoutSeconds` passed after the request was handed to the connection.
    Timeout,
    /// The request cannot be put on the wire (a bug: reqwest checked it already).
    Invalid(BoxError),
}

impl DirectSend {
    /// The direct transport for `settings`, or `None` when an explicit proxy is configured
    /// (then every send goes through reqwest, which tunnels through it).
    pub(crate) fn new(settings: &HttpSettings, tls: ClientConfig) -> Option<DirectSend> {
        if settings.proxy.is_some() {
            return None;
        }
        Some(DirectSend {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            user_agent: HeaderValue::from_str(&settings.user_agent).ok()?,
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
            system_proxy: settings.use_system_proxy.then(Matcher::from_system),
            idle: Mutex::default(),
        })
    }

    /// Whether a request to `url` goes straight to its server: http(s), and no system proxy
    /// claims it.
    pub(crate) fn serves(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return false;
        }
        match &self.system_proxy {
            None => true,
            Some(matcher) => {
                let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
                match http::Uri::try_from(format!("{}://{authority}/", url.scheme())) {
                    Ok(uri) => matcher.intercept(&uri).is_none(),
                    Err(_) => false,
                }
            }
        }
    }

    /// Sends `request` (a URL [`DirectSend::serves`]) and reads its whole answer.
    pub(crate) async fn send(&self, request: reqwest::Request) -> Result<Answer, Failure> {
        let origin = origin(request.url())
            .ok_or_else(|| Failure::Invalid("the URL has no host and port to connect to".into()))?;
        let mut request =
            to_hyper(request, &self.user_agent).map_err(|e| Failure::Invalid(e.into()))?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let (mut conn, reused) = match self.checkout(&origin) {
                Some(conn) => (conn, true),
                // Boxed: connecting (TLS state included) is a large future, and a send over a
                // pooled connection should not carry (and copy) it.
                None => (
                    tokio::time::timeout_at(deadline, Box::pin(self.connect(origin.clone())))
                        .await
                        .map_err(|_| Failure::Connect("connect timed out".into()))??,
                    false,
                ),
            };
            let exchange = async {
                let response = conn.sender.try_send_request(request).await?;
                let (parts, body) = response.into_parts();
                Ok((
                    parts,
                    body.collect().await.map_err(Failure::Body)?.to_bytes(),
                ))
            };
            let answered = tokio::time::timeout_at(deadline, driving(&mut conn.io, exchange))
                .await
                .map_err(|_| Failure::Timeout)?;
            match answered {
                Ok((parts, body)) => {
                    if conn.io.is_some() {
                        conn.idle_since = Instant::now();
                        self.idle.lock().push(conn);
                    }
                    return Ok(Answer {
                        status: parts.status.as_u16(),
                        headers: parts.headers,
                        body,
                    });
                }
                // A pooled connection the server closed meanwhile hands the request back
                // unwritten: it goes again on a fresh connection (reqwest's pool did the same).
                Err(Refused::Unsent(unsent)) if reused => request = *unsent,
                Err(Refused::Unsent(_)) => return Err(Failure::NotSent),
                Err(Refused::Failed(failure)) => return Err(failure),
            }
        }
    }

    /// The most recently used idle connection to `origin` that can take a request; closed and
    /// expired ones are dropped on the way.
    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock();
        idle.retain_mut(Conn::usable);
        let found = idle.iter().rposition(|c| c.origin == *origin)?;
        Some(idle.swap_remove(found))
    }

    /// A new connection to `origin`, within the connect timeout.
    async fn connect(&self, origin: Origin) -> Result<Conn, Failure> {
        let opened = tokio::time::timeout(self.connect_timeout, async {
            let tcp = tcp_connect(&origin).await?;
            let stream = if origin.tls {
                let name = match &origin.host {
                    Host::Domain(domain) => ServerName::try_from(domain.clone())?,
                    Host::Ipv4(ip) => ServerName::from(IpAddr::from(*ip)),
                    Host::Ipv6(ip) => ServerName::from(IpAddr::from(*ip)),
                };
                Stream::Tls(Box::new(self.tls.connect(name, tcp).await?))
            } else {
                Stream::Plain(tcp)
            };
            let (sender, io) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            Ok::<_, BoxError>((sender, io))
        })
        .await;
        match opened {
            Ok(Ok((sender, io))) => Ok(Conn {
                origin,
                sender,
                io: Some(io),
                idle_since: Instant::now(),
            }),
            Ok(Err(e)) => Err(Failure::Connect(e)),
            Err(_) => Err(Failure::Connect(
                format!(
                    "no connection within the connect timeout ({} s)",
                    self.connect_timeout.as_secs()
                )
                .into(),
            )),
        }
    }
}

/// A send that got no answer: the request handed back unwritten, or a failure.
enum Refused {
    Unsent(Box<http::Request<reqwest::Body>>),
    Failed(Failure),
}

impl From<hyper::client::conn::TrySendError<http::Request<reqwest::Body>>> for Refused {
    fn from(mut e: hyper::client::conn::TrySendError<http::Request<reqwest::Body>>) -> Refused {
        match e.take_message() {
            Some(unsent) => Refused::Unsent(Box::new(unsent)),
            None => Refused::Failed(Failure::Request(e.into_error())),
        }
    }
}

impl From<Failure> for Refused {
    fn from(failure: Failure) -> Refused {
        Refused::Failed(failure)
    }
}

/// Runs `work` (a request and its answer on one connection) while driving the connection's
/// `io`: writing the request and reading the answer happen on this future, so a send needs no
/// connection task to wake and no wake-up back. When the connection ends (the server closed
/// it, or it broke) `io` is dropped: a request it had not written yet comes back to `work` as
/// unsent (kept, it would wait for an answer until the timeout), and the connection is not
/// reused.
async fn driving<W: Future>(io: &mut Option<Io>, work: W) -> W::Output {
    let mut work = std::pin::pin!(work);
    // `work` before the connection: it hands the request over, and the connection writes it
    // in the same poll; and `work` again after the connection read: the answer is there. In
    // any other order one of the two wakes this very future, and the runtime asks the OS for
    // events once more before polling it again (a system call per send).
    std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        if let Some(connection) = io
            && Pin::new(connection).poll(cx).is_ready()
        {
            *io = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// TCP to `origin`, TCP_NODELAY set. A name with several addresses gets them raced
/// ([`race`]), so an unreachable first address (a broken IPv6 route) does not use up the
/// connect timeout.
async fn tcp_connect(origin: &Origin) -> Result<TcpStream, BoxError> {
    let addresses: Vec<SocketAddr> = match &origin.host {
        Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::from(*ip), origin.port)],
        Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::from(*ip), origin.port)],
        Host::Domain(name) => tokio::net::lookup_host((name.as_str(), origin.port))
            .await
            .map_err(|e| format!("dns error: {e}"))?
            .collect(),
    };
    let tcp = race(interleaved(addresses), ATTEMPT_DELAY, TcpStream::connect)
        .await
        .map_err(|e| format!("tcp connect error: {e}"))?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// How long an attempt has before the next address is tried beside it (RFC 8305's
/// "connection attempt delay"; hyper-util waits 300 ms before its fallback family).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The addresses with the families alternating, starting with the resolver's first choice
/// (RFC 8305 §4): IPv6, IPv4, IPv6, ... when the resolver put IPv6 first.
fn interleaved(addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addresses.first() else {
        return addresses;
    };
    let first_is_v6 = first.is_ipv6();
    let (mut preferred, mut other): (Vec<_>, Vec<_>) = addresses
        .into_iter()
        .partition(|a| a.is_ipv6() == first_is_v6);
    let mut out = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to the first of `addresses` that answers: one attempt at a time, the next one
/// started when the last failed or after `delay` without an answer, earlier attempts left
/// running; the first connection wins and the others are dropped.
async fn race<C, F, Fut>(
    addresses: Vec<SocketAddr>,
    delay: Duration,
    connect: F,
) -> std::io::Result<C>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = std::io::Result<C>> + Send + 'static,
    C: Send + 'static,
{
    let mut waiting = addresses.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let mut last = None;
    if let Some(address) = waiting.next() {
        running.spawn(connect(address));
    }
    while !running.is_empty() {
        let more = waiting.len() > 0;
        tokio::select! {
            finished = running.join_next() => {
                match finished {
                    Some(Ok(Ok(connected))) => return Ok(connected),
                    Some(Ok(Err(e))) => last = Some(e),
                    Some(Err(panicked)) => last = Some(std::io::Error::other(panicked)),
                    None => {}
                }
                // A failed attempt hands over to the next address at once.
                if let Some(address) = waiting.next() {
                    running.spawn(connect(address));
                }
            }
            () = tokio::time::sleep(delay), if more => {
                if let Some(address) = waiting.next() {
                    running.spawn(connect(address));
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the name resolved to no address",
        )
    }))
}

fn origin(url: &Url) -> Option<Origin> {
    Some(Origin {
        tls: url.scheme() == "https",
        host: url.host()?.to_owned(),
        port: url.port_or_known_default()?,
    })
}

/// reqwest's request as hyper's: origin-form target, `Host` and `User-Agent` added.
fn to_hyper(
    mut request: reqwest::Request,
    user_agent: &HeaderValue,
) -> Result<http::Request<reqwest::Body>, http::Error> {
    let url = request.url();
    let target = http::Uri::try_from(&url[url::Position::BeforePath..url::Position::AfterQuery])?;
    // `host[:port]` as the URL has it (a default port is not in a parsed URL).
    let host = HeaderValue::try_from(&url[url::Position::BeforeHost..url::Position::AfterPort])?;
    let mut headers = std::mem::take(request.headers_mut());
    headers.insert(HOST, host);
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, user_agent.clone());
    }
    let body = request.body_mut().take().unwrap_or_default();
    let mut built = http::Request::builder()
        .method(request.method().clone())
        .uri(target)
        .body(body)?;
    *built.headers_mut() = headers;
    Ok(built)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(config: &str) -> HttpSettings {
        crate::config::Config::from_json(config)
            .unwrap()
            .validate()
            .unwrap()
            .http
    }

    fn tls() -> ClientConfig {
        super::super::tls::client_config(&[], super::super::tls::ALPN_HTTP1).unwrap()
    }

    const BASE: &str =
        r#""tenant":"contoso.onmicrosoft.com","clientId":"22222222-2222-2222-2222-222222222222""#;

    #[test]
    fn an_explicit_proxy_leaves_every_send_to_reqwest() {
        let proxied = settings(&format!(
            r#"{{{BASE},"http":{{"proxy":"http://proxy.invalid:8080"}}}}"#
        ));
        assert!(DirectSend::new(&proxied, tls()).is_none());
        let direct = settings(&format!(r#"{{{BASE},"http":{{"useSystemProxy":false}}}}"#));
        let direct = DirectSend::new(&direct, tls()).unwrap();
        assert!(
            direct
                .serves(&Url::parse("https://graph.microsoft.com/v1.0/users/a/sendMail").unwrap())
        );
        assert!(direct.serves(&Url::parse("http://127.0.0.1:8080/x").unwrap()));
        assert!(!direct.serves(&Url::parse("ftp://graph.microsoft.com/x").unwrap()));
    }

    #[test]
    fn urls_a_system_proxy_claims_go_to_reqwest() {
        let mut direct = DirectSend::new(&settings(&format!("{{{BASE}}}")), tls()).unwrap();
        direct.system_proxy = Some(
            Matcher::builder()
                .https("http://proxy.invalid:8080")
                .no("localhost, .internal.contoso.com")
                .build(),
        );
        assert!(!direct.serves(&Url::parse("https://graph.microsoft.com/v1.0/x").unwrap()));
        assert!(direct.serves(&Url::parse("https://mail.internal.contoso.com/x").unwrap()));
        assert!(direct.serves(&Url::parse("https://localhost:8443/x").unwrap()));
        // No http proxy configured: http URLs are direct.
        assert!(direct.serves(&Url::parse("http://graph.microsoft.com/x").unwrap()));
    }

    #[test]
    fn requests_go_out_in_origin_form_with_host_and_user_agent() {
        let origin_of = |url: &str| origin(&Url::parse(url).unwrap()).unwrap();
        let agent = HeaderValue::from_static("pmp-mail/test");
        let mut request = reqwest::Request::new(
            reqwest::Method::POST,
            Url::parse("https://graph.microsoft.com/v1.0/users/a%40b.c/sendMail?x=1#frag").unwrap(),
        );
        *request.body_mut() = Some(reqwest::Body::from("{}"));
        let built = to_hyper(request, &agent).unwrap();
        assert_eq!(built.uri(), "/v1.0/users/a%40b.c/sendMail?x=1");
        assert_eq!(built.headers()[HOST], "graph.microsoft.com");
        assert_eq!(built.headers()[USER_AGENT], "pmp-mail/test");
        assert_eq!(built.method(), reqwest::Method::POST);

        let request = reqwest::Request::new(
            reqwest::Method::POST,
            Url::parse("https://[::1]:4443/v1.0/x").unwrap(),
        );
        let origin = origin_of("https://[::1]:4443/");
        assert_eq!((origin.port, origin.tls), (4443, true));
        let built = to_hyper(request, &agent).unwrap();
        assert_eq!(built.headers()[HOST], "[::1]:4443");
        assert_eq!(built.uri(), "/v1.0/x");
        assert_eq!(origin_of("http://127.0.0.1/").port, 80);
    }

    /// A plain HTTP/1.1 server on loopback that reads one request at a time and then does
    /// what `answer` says; counts the connections it accepted.
    struct Server {
        url: String,
        connections: Arc<std::sync::atomic::AtomicUsize>,
    }

    #[derive(Clone, Copy)]
    enum Then {
        /// 202, and the connection stays open.
        Accept,
        /// 202, then the server closes the connection a moment later (an idle timeout).
        AcceptAndClose,
        /// Closes the connection without answering.
        Drop,
        /// Never answers.
        Hang,
    }

    async fn server(then: Then) -> Server {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/v1.0/users/a@b.c/sendMail",
            listener.local_addr().unwrap()
        );
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = socket.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        // Every request here has a body of "{}" after its headers.
                        while let Some(end) = seen.windows(6).position(|w| w == b"\r\n\r\n{}") {
                            seen.drain(..end + 6);
                            match then {
                                Then::Accept | Then::AcceptAndClose => {
                                    let answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nrequest-id: r-1\r\n\r\n";
                                    socket.write_all(answer).await.unwrap();
                                    if matches!(then, Then::AcceptAndClose) {
                                        tokio::time::sleep(Duration::from_millis(30)).await;
                                        return;
                                    }
                                }
                                Then::Drop => return,
                                Then::Hang => std::future::pending::<()>().await,
                            }
                        }
                    }
                });
            }
        });
        Server { url, connections }
    }

    fn client() -> DirectSend {
        let settings = settings(&format!(r#"{{{BASE},"http":{{"useSystemProxy":false}}}}"#));
        DirectSend::new(&settings, tls()).unwrap()
    }

    fn post(url: &str) -> reqwest::Request {
        let mut request = reqwest::Request::new(reqwest::Method::POST, Url::parse(url).unwrap());
        *request.body_mut() = Some(reqwest::Body::from("{}"));
        request
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn connections(server: &Server) -> usize {
        server.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn sends_reuse_one_connection_and_a_closed_one_is_replaced() {
        run(async {
            let direct = client();
            let open = server(Then::Accept).await;
            for _ in 0..3 {
                let answer = direct.send(post(&open.url)).await.unwrap();
                assert_eq!(answer.status, 202);
                assert_eq!(answer.headers["request-id"], "r-1");
            }
            assert_eq!(
                connections(&open),
                1,
                "one connection carries sequential sends"
            );

            let closing = server(Then::AcceptAndClose).await;
            for round in 1..=2 {
                assert_eq!(direct.send(post(&closing.url)).await.unwrap().status, 202);
                // The connection's task sees the close while the runtime runs.
                tokio::time::sleep(Duration::from_millis(100)).await;
                assert_eq!(connections(&closing), round);
            }
            // The first server's connection is still kept.
            direct.send(post(&open.url)).await.unwrap();
            assert_eq!(connections(&open), 1);
        });
    }

    #[test]
    fn failures_say_whether_the_request_went_out() {
        run(async {
            let mut direct = client();
            // A bound port nobody listens on refuses the connection: nothing was sent.
            let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/x", refused.local_addr().unwrap());
            drop(refused);
            let failure = direct.send(post(&url)).await.err().unwrap();
            assert!(matches!(failure, Failure::Connect(_)), "{failure:?}");
            assert!(!super::super::classify_direct_failure(&failure).maybe_delivered);

            // The request was read and the connection dropped: it may have been accepted.
            let dropping = server(Then::Drop).await;
            let failure = direct.send(post(&dropping.url)).await.err().unwrap();
            assert!(
                matches!(&failure, Failure::Request(e) if !e.is_canceled()),
                "{failure:?}"
            );
            assert!(super::super::classify_direct_failure(&failure).maybe_delivered);

            direct.timeout = Duration::from_millis(300);
            let hanging = server(Then::Hang).await;
            let failure = direct.send(post(&hanging.url)).await.err().unwrap();
            assert!(matches!(failure, Failure::Timeout), "{failure:?}");
            assert!(super::super::classify_direct_failure(&failure).maybe_delivered);
        });
    }

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn address_families_alternate_from_the_resolvers_first_choice() {
        let v6a = address("[2001:db8::1]:443");
        let v6b = address("[2001:db8::2]:443");
        let v4a = address("192.0.2.1:443");
        let v4b = address("192.0.2.2:443");
        let v4c = address("192.0.2.3:443");
        assert_eq!(
            interleaved(vec![v6a, v6b, v4a, v4b, v4c]),
            vec![v6a, v4a, v6b, v4b, v4c]
        );
        assert_eq!(interleaved(vec![v4a, v6a, v4b]), vec![v4a, v6a, v4b]);
        assert_eq!(interleaved(vec![]), Vec::<SocketAddr>::new());
    }

    #[test]
    fn an_address_that_never_answers_does_not_hold_up_the_next() {
        let dead = address("[2001:db8::1]:443");
        let refused = address("192.0.2.9:443");
        let good = address("192.0.2.1:443");
        let attempt = move |to: SocketAddr| async move {
            if to == dead {
                std::future::pending::<()>().await;
            }
            if to == refused {
                return Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
            }
            Ok(to)
        };
        run(async {
            let started = tokio::time::Instant::now();
            let won = race(vec![dead, good], Duration::from_millis(50), attempt).await;
            assert_eq!(won.unwrap(), good);
            assert!(started.elapsed() < Duration::from_secs(5));
            // A refused attempt hands over at once, without waiting out the delay.
            let started = tokio::time::Instant::now();
            let won = race(vec![refused, good], Duration::from_secs(30), attempt).await;
            assert_eq!(won.unwrap(), good);
            assert!(started.elapsed() < Duration::from_secs(5));
            let lost = race(vec![refused], Duration::from_secs(30), attempt).await;
            assert_eq!(
                lost.unwrap_err().kind(),
                std::io::ErrorKind::ConnectionRefused
            );
            let none = race(vec![], Duration::from_secs(30), attempt).await;
            assert!(none.is_err());
        });
    }

    /// The race [`Conn::usable`] cannot see: the server closes the connection after it was
    /// checked out. The request must come back unsent at once (to go again on a fresh
    /// connection), not wait for an answer until the timeout.
    #[test]
    fn a_request_on_a_connection_that_closed_comes_back_unsent() {
        run(async {
            let direct = client();
            let closing = server(Then::AcceptAndClose).await;
            let url = Url::parse(&closing.url).unwrap();
            let mut conn = direct.connect(origin(&url).unwrap()).await.unwrap();
            let exchange = |conn: &mut Conn| {
                let request = to_hyper(post(&closing.url), &direct.user_agent).unwrap();
                let sent = conn.sender.try_send_request(request);
                async move { sent.await.map(|r| r.status()).map_err(Refused::from) }
            };
            let first = exchange(&mut conn);
            let status = driving(&mut conn.io, first).await;
            assert!(matches!(status, Ok(s) if s == 202));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let second = exchange(&mut conn);
            let refused =
                tokio::time::timeout(Duration::from_secs(5), driving(&mut conn.io, second))
                    .await
                    .expect("the request waited for an answer on a closed connection");
            assert!(matches!(refused, Err(Refused::Unsent(_))));
            assert!(conn.io.is_none(), "the ended connection is not kept");
        });
    }
}
