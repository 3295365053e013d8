//! The network path: an explicit HTTP CONNECT proxy, `http.noProxy`, `useSystemProxy: false`
//! against `HTTPS_PROXY`, and failures before anything was sent (closed port, untrusted TLS).
//!
//! reqwest 0.13 has no built-in loopback bypass for proxies (hyper-util's matcher only bypasses
//! what NO_PROXY / `noProxy` list), so the emulator on 127.0.0.1 can be reached through a proxy
//! and these tests go over real sockets and real TLS end to end.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::*;
use pmp_mail::{Outcome, PermissionOptions, Status};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A minimal HTTP CONNECT proxy on 127.0.0.1: records every tunnel's target and splices bytes.
struct ConnectProxy {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let targets = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let recorded = targets.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(tunnel(inbound, recorded.clone()));
                }
            });
        });
        ConnectProxy {
            addr: rx.recv().unwrap(),
            targets,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every tunnel opened so far.
    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

async fn tunnel(mut inbound: TcpStream, targets: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = inbound.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut request_line = head.lines().next().unwrap_or_default().split_whitespace();
    let (Some("CONNECT"), Some(target)) = (request_line.next(), request_line.next()) else {
        inbound
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        inbound
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    targets.lock().unwrap().push(target.to_owned());
    inbound
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await?;
    Ok(())
}

/// The emulator under two names: the authority as 127.0.0.1, Graph as localhost (both are in
/// the server certificate), so the proxy log tells token traffic from Graph traffic.
fn two_host_config(emu: &pmp_graph_emulator::Emulator) -> (serde_json::Value, String, String) {
    let mut config = config_json(emu, APP, secret_auth());
    let graph = emu.base_url().replace("127.0.0.1", "localhost");
    config["graphRoot"] = json!(graph);
    let authority_target = emu.base_url().trim_start_matches("https://").to_owned();
    let graph_target = graph.trim_start_matches("https://").to_owned();
    (config, authority_target, graph_target)
}

fn simple_message() -> pmp_mail::Message {
    message(json!({"from": MAILBOX, "to": ["a@contoso.com"], "subject": "via proxy", "body": "x"}))
}

#[test]
fn explicit_proxy_carries_token_and_graph_traffic() {
    let emu = start_emulator();
    let proxy = ConnectProxy::start();
    let (mut config, authority_target, graph_target) = two_host_config(&emu);
    config["http"]["proxy"] = json!(proxy.url());
    let result = client_from(config).send_mail(&simple_message()).unwrap();
    assert_eq!(result.status, "sent");
    let targets = proxy.targets();
    assert!(!targets.is_empty());
    assert!(targets.contains(&authority_target), "{targets:?}");
    assert!(targets.contains(&graph_target), "{targets:?}");
    assert_eq!(emu.counters().tokens_issued, 1);
    assert_eq!(emu.messages().len(), 1);
    assert_eq!(emu.messages()[0].subject, "via proxy");
}

#[test]
fn no_proxy_hosts_bypass_the_explicit_proxy() {
    let emu = start_emulator();
    let proxy = ConnectProxy::start();
    let (mut config, authority_target, _) = two_host_config(&emu);
    config["http"]["proxy"] = json!(proxy.url());
    config["http"]["noProxy"] = json!(["127.0.0.1", "localhost"]);
    // Each client fetches its own token: the second one's token request is what is checked.
    config["tokenCache"] = json!("client");
    client_from(config.clone())
        .send_mail(&simple_message())
        .unwrap();
    assert_eq!(proxy.targets(), Vec::<String>::new());
    assert_eq!(emu.messages().len(), 1);
    // Only Graph's host listed: the token request still goes through the proxy.
    config["http"]["noProxy"] = json!(["localhost"]);
    client_from(config).send_mail(&simple_message()).unwrap();
    assert_eq!(proxy.targets(), vec![authority_target]);
    assert_eq!(emu.messages().len(), 2);
}

const SYSTEM_PROXY_CHILD: &str = "PMP_TEST_SYSTEM_PROXY_CHILD";
/// The child test's name as libtest lists it for `--exact`: its module path without the crate
/// (`network::system_proxy_child` in the `it` test binary).
fn system_proxy_child_test() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, rest)| rest);
    format!("{module}::system_proxy_child")
}

/// Environment variables are process-wide, so the client runs in a child process (this test
/// binary again, running only `network::system_proxy_child`) with `HTTPS_PROXY` pointing at our
/// proxy.
#[test]
fn use_system_proxy_false_ignores_https_proxy() {
    let proxy = ConnectProxy::start();
    // useSystemProxy true is the control: it shows the child really sees HTTPS_PROXY.
    for (use_system_proxy, expect_tunnel) in [(false, false), (true, true)] {
        let before = proxy.targets().len();
        let mut child = Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--exact",
                &system_proxy_child_test(),
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SYSTEM_PROXY_CHILD, use_system_proxy.to_string())
            .env("HTTPS_PROXY", proxy.url())
            .env("https_proxy", proxy.url());
        for var in [
            "NO_PROXY",
            "no_proxy",
            "ALL_PROXY",
            "all_proxy",
            "REQUEST_METHOD",
        ] {
            child.env_remove(var);
        }
        let out = child.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("1 passed"),
            "the child ran no test: {stdout}"
        );
        assert!(
            stdout.contains(&format!("child sent (useSystemProxy {use_system_proxy})")),
            "{stdout}"
        );
        // With the system proxy: one tunnel for the token request, one for the send (the
        // send's own HTTP/1.1 transport must not go around the proxy).
        let tunnels = proxy.targets().len() - before;
        assert_eq!(
            tunnels,
            if expect_tunnel { 2 } else { 0 },
            "useSystemProxy {use_system_proxy}: {tunnels} tunnels"
        );
    }
}

#[test]
#[ignore = "runs in a child process started by use_system_proxy_false_ignores_https_proxy"]
fn system_proxy_child() {
    let Ok(flag) = std::env::var(SYSTEM_PROXY_CHILD) else {
        return;
    };
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["http"]["useSystemProxy"] = json!(flag == "true");
    client_from(config).send_mail(&simple_message()).unwrap();
    assert_eq!(emu.messages().len(), 1);
    println!("child sent (useSystemProxy {flag})");
}

/// A loopback port that is bound but never listens: connections are refused, and no other
/// socket (an emulator of a parallel test) can take the port while this value lives.
struct ClosedPort(tokio::net::TcpSocket);

impl ClosedPort {
    fn new() -> ClosedPort {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        ClosedPort(socket)
    }

    fn url(&self) -> String {
        format!("https://{}", self.0.local_addr().unwrap())
    }
}

fn assert_connect_failure(e: &pmp_mail::Error, attempts: u32) {
    assert_eq!(e.status, Status::Network, "{e:?}");
    assert_eq!(e.attempts, Some(attempts), "{e:?}");
    let remedy = e.remedy.clone().unwrap_or_default();
    for hint in ["proxy", "firewall", "DNS"] {
        assert!(remedy.contains(hint), "remedy lacks {hint}: {remedy}");
    }
    let retries = e.log.iter().filter(|l| l.contains("retrying in")).count();
    assert_eq!(retries as u32, attempts - 1, "{:?}", e.log);
    let doc: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(doc["attempts"], attempts);
    assert_eq!(doc["category"], "network");
}

#[test]
fn closed_authority_port_is_retried_then_a_network_failure() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    let closed = ClosedPort::new();
    config["authorityHost"] = json!(closed.url());
    config["retry"]["maxAttempts"] = json!(3);
    let client = client_from(config);
    let e = client
        .test_permissions(&PermissionOptions::default())
        .unwrap_err();
    assert_connect_failure(&e, 3);
    assert_eq!(e.outcome, None, "not a send");
    let e = client.send_mail(&simple_message()).unwrap_err();
    assert_connect_failure(&e, 3);
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert_eq!(emu.counters().requests, 0);
}

#[test]
fn closed_graph_port_is_retried_and_the_outcome_is_failed() {
    let emu = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    let closed = ClosedPort::new();
    config["graphRoot"] = json!(closed.url());
    config["retry"]["maxAttempts"] = json!(3);
    let e = client_from(config)
        .send_mail(&simple_message())
        .unwrap_err();
    assert_connect_failure(&e, 3);
    assert_eq!(e.outcome, Some(Outcome::Failed), "{e:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&e.to_json()).unwrap()["outcome"],
        "failed"
    );
    assert_eq!(emu.counters().tokens_issued, 1);
    assert!(emu.messages().is_empty());
}

#[test]
fn untrusted_graph_certificate_is_failed_not_unknown() {
    let emu = start_emulator();
    // A second emulator with its own CA, which the client does not trust.
    let untrusted = start_emulator();
    let mut config = config_json(&emu, APP, secret_auth());
    config["graphRoot"] = json!(untrusted.base_url());
    let e = client_from(config)
        .send_mail(&simple_message())
        .unwrap_err();
    assert_eq!(e.status, Status::Network, "{e:?}");
    assert_eq!(e.outcome, Some(Outcome::Failed), "{e:?}");
    assert_eq!(e.attempts, Some(1), "certificate failures are not retried");
    assert!(e.message.contains("not trusted"), "{}", e.message);
    assert!(
        e.remedy
            .clone()
            .unwrap_or_default()
            .contains("extraCaCertificatesPem")
    );
    assert_eq!(untrusted.counters().requests, 0);
    assert!(emu.messages().is_empty() && untrusted.messages().is_empty());
}

/// A network drop kills a TCP connection and every request on it. Sends each go over their own
/// HTTP/1.1 connection, so a drop while N sends are in flight costs at most the one send it
/// carried: that one is `unknown` (recorded once when the drop came after acceptance, not at
/// all before), the others are `sent` and recorded exactly once. On one shared HTTP/2
/// connection every send in flight became `unknown`.
#[test]
fn one_dropped_connection_makes_at_most_one_send_unknown() {
    const N: usize = 8;
    let emu = start_configured(|options| {
        let mut dir = directory_json(None);
        dir["throttling"] = json!({"maxConcurrent": 16});
        options.directory = pmp_graph_emulator::Directory::from_json_str(&dir.to_string()).unwrap();
    });
    let mut config = config_json(&emu, APP, secret_auth());
    config["sending"] = json!({"maxConcurrentPerMailbox": N});
    let client = client_from(config);
    let send = |subject: String| {
        client.send_mail(&message(json!({
            "from": MAILBOX, "to": ["a@contoso.com"], "subject": subject,
        })))
    };
    for (round, drop) in ["dropAfterAccept", "dropBeforeAccept"]
        .into_iter()
        .enumerate()
    {
        // The token and a first connection exist, so the N sends below start together.
        send(format!("warm-up {round}")).unwrap();
        emu.reset();
        // The first N-1 sends are held for a while; the N-th arrives while they are in
        // flight and its connection is dropped.
        let plan = json!({"rules": [
            {"path": "sendMail", "action": drop, "count": 1, "skip": N - 1},
            {"path": "sendMail", "action": "delay", "delayMs": 1500},
        ]});
        emu.set_faults(serde_json::from_value(plan).unwrap());
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let subject = format!("{drop} {i}");
                    scope.spawn(move || (subject.clone(), send(subject)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let recorded: Vec<String> = emu.messages().into_iter().map(|m| m.subject).collect();
        let times = |subject: &str| recorded.iter().filter(|s| *s == subject).count();
        let mut unknown = 0;
        for (subject, result) in &results {
            match result {
                Ok(_) => assert_eq!(times(subject), 1, "{drop}: sent {subject}"),
                Err(e) if e.outcome == Some(Outcome::Unknown) => {
                    unknown += 1;
                    assert!(times(subject) <= 1, "{drop}: unknown {subject} went twice");
                }
                Err(e) => panic!("{drop}: {subject} failed: {e:?}"),
            }
        }
        assert_eq!(
            unknown, 1,
            "{drop}: one dropped connection made {unknown} of {N} sends unknown"
        );
        assert_eq!(
            recorded.len(),
            N - usize::from(drop == "dropBeforeAccept"),
            "{drop}"
        );
    }
}
