use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use pmp_graph_emulator::{Directory, FaultKind, FaultPlan, FaultRule};
use serde_json::{Value, json};

use crate::common::*;

async fn send(
    emu: &pmp_graph_emulator::Emulator,
    c: &reqwest::Client,
    tok: &str,
) -> reqwest::Result<reqwest::Response> {
    send_mail_as(c, emu, MAILBOX, tok, &simple_message("a@b.c")).await
}

#[tokio::test]
async fn throttling_concurrency_and_rate() {
    let emu = start_with(|o| {
        o.directory.throttling = Some(pmp_graph_emulator::Throttling {
            max_concurrent: 2,
            max_requests: 5,
            window_seconds: 60,
        });
    });
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let mut r = FaultRule::new("sendMail", FaultKind::Delay);
    r.delay_ms = Some(4000);
    r.count = Some(2);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![r],
    });
    // Two slow requests hold both slots; the third, sent once both have arrived, is refused.
    let (e1, c1, t1) = (&emu, c.clone(), tok.clone());
    let slow = async move { tokio::join!(send(e1, &c1, &t1), send(e1, &c1, &t1)) };
    let third = async {
        // Both holders have reached the emulator (the counter moves as a request enters; the
        // slot is taken right after, without waiting on anything).
        while emu.counters().send_mail_requests < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        send(&emu, &c, &tok).await
    };
    let ((a, b), third) = tokio::join!(slow, third);
    assert_eq!(a.unwrap().status(), 202);
    assert_eq!(b.unwrap().status(), 202);
    let third = third.unwrap();
    assert_eq!(third.status(), 429, "{:?}", third.headers());
    assert_eq!(
        third
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1"),
        "{:?}",
        third.headers()
    );
    let v = assert_graph_error(third, 429, "ApplicationThrottled").await;
    assert_eq!(
        v["error"]["message"],
        "Application is over its MailboxConcurrency limit."
    );
    assert!(v["error"].get("innerError").is_none());
    // Rate: 5 per window; 3 used so far (the refused attempt counts too).
    for _ in 0..2 {
        assert_eq!(send(&emu, &c, &tok).await.unwrap().status(), 202);
    }
    let r = send(&emu, &c, &tok).await.unwrap();
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let v = assert_graph_error(r, 429, "ApplicationThrottled").await;
    assert_eq!(
        v["error"]["message"],
        "Application is over its RequestRate limit."
    );
    // Another app has its own budget.
    let other = secret_token(&emu, SENDONLY).await;
    assert_eq!(send(&emu, &c, &other).await.unwrap().status(), 202);
    assert_eq!(emu.messages().len(), 5);
}

#[tokio::test]
async fn fault_status_count_skip_and_control_api() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let plan = json!({"seed": 1, "rules": [{"path": "sendMail", "action": "status", "status": 503, "retryAfterSeconds": 2, "count": 2, "skip": 1}]});
    let r = c
        .put(control_url(&emu, "faults"))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let statuses = [
        send(&emu, &c, &tok).await.unwrap(),
        send(&emu, &c, &tok).await.unwrap(),
        send(&emu, &c, &tok).await.unwrap(),
        send(&emu, &c, &tok).await.unwrap(),
    ];
    let codes: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes, [202, 503, 503, 202]);
    assert_eq!(statuses[1].headers()["retry-after"], "2");
    assert_eq!(emu.messages().len(), 2);
    // Token faults are Entra-shaped.
    let r = c.put(control_url(&emu, "faults"))
        .json(&json!({"rules": [{"path": "token", "action": "status", "status": 429, "retryAfterSeconds": 5, "count": 1}]}))
        .send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (s, v) = token_form(&emu, TENANT, &secret_form(SENDER, SECRET, GRAPH_SCOPE)).await;
    assert_eq!(s, 429);
    assert!(v["error_codes"].is_array());
    // Invalid plan refused.
    let r = c
        .put(control_url(&emu, "faults"))
        .json(&json!({"rules": [{"path": "x", "action": "explode"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let counters: Value = get_json(&c, control_url(&emu, "counters")).await;
    assert_eq!(counters["sendMailRequests"], 4);
    assert_eq!(counters["messagesAccepted"], 2);
    assert_eq!(counters["tokenRequests"], 2);
    assert_eq!(counters["tokensIssued"], 1);
    let reqs: Value = get_json(&c, control_url(&emu, "requests")).await;
    assert_eq!(
        reqs.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == 503)
            .count(),
        2
    );
    let toks: Value = get_json(&c, control_url(&emu, "tokens")).await;
    assert_eq!(toks[0]["claims"]["appid"], SENDER);
    assert!(!toks.to_string().contains(&tok));
    let id = emu.messages()[0].id.clone();
    let one: Value = get_json(&c, control_url(&emu, &format!("messages/{id}"))).await;
    assert_eq!(one["id"], id);
    assert_eq!(
        c.delete(control_url(&emu, "messages"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(emu.messages().is_empty());
    assert_eq!(
        c.post(control_url(&emu, "reset"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(emu.counters(), pmp_graph_emulator::Counters::default());
    assert_eq!(send(&emu, &c, &tok).await.unwrap().status(), 202);
}

#[tokio::test]
async fn fault_rate_is_seeded() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let run = |seed| {
        let mut r = FaultRule::new("sendMail", FaultKind::Status);
        r.status = Some(504);
        r.rate = Some(0.5);
        FaultPlan {
            seed,
            rules: vec![r],
        }
    };
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        emu.set_faults(run(42));
        let mut seq = Vec::new();
        for _ in 0..12 {
            seq.push(send(&emu, &c, &tok).await.unwrap().status().as_u16());
        }
        outcomes.push(seq);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(
        outcomes[0].contains(&504) && outcomes[0].contains(&202),
        "{:?}",
        outcomes[0]
    );
}

#[tokio::test]
async fn drop_before_and_after_accept() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    let mut r = FaultRule::new("sendMail", FaultKind::DropBeforeAccept);
    r.count = Some(1);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![r],
    });
    let e = send(&emu, &c, &tok)
        .await
        .expect_err("connection must be dropped");
    assert!(!e.is_status(), "{e:?}");
    assert!(emu.messages().is_empty());

    let mut r = FaultRule::new("sendMail", FaultKind::DropAfterAccept);
    r.count = Some(1);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![r],
    });
    let c2 = client(&emu); // fresh connection
    let e = send(&emu, &c2, &tok)
        .await
        .expect_err("connection must be dropped");
    assert!(!e.is_status(), "{e:?}");
    assert_eq!(emu.messages().len(), 1, "accepted before the drop");
    // The next request works again.
    assert_eq!(send(&emu, &client(&emu), &tok).await.unwrap().status(), 202);
    assert_eq!(emu.messages().len(), 2);
    let counters = emu.counters();
    assert_eq!(
        (
            counters.dropped_before_accept,
            counters.dropped_after_accept
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn expired_token_refused() {
    let emu = start_with(|o| o.token_lifetime_seconds = Some(1));
    let tok = secret_token(&emu, SENDER).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = send(&emu, &client(&emu), &tok).await.unwrap();
    let v = assert_graph_error(r, 401, "InvalidAuthenticationToken").await;
    assert_eq!(
        v["error"]["message"],
        "Access token has expired or is not yet valid."
    );
}

#[tokio::test]
async fn state_dir_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let emu = start_with(|o| o.state_dir = Some(path.clone()));
    assert_eq!(emu.ca_path(), path.join("ca.pem"));
    assert_eq!(
        std::fs::read_to_string(path.join("ca.pem")).unwrap(),
        emu.ca_pem()
    );
    let tok = secret_token(&emu, SENDER).await;
    assert_eq!(send(&emu, &client(&emu), &tok).await.unwrap().status(), 202);
    let id = &emu.messages()[0].id;
    let eml = std::fs::read_to_string(path.join("messages").join(format!("{id}.eml"))).unwrap();
    assert!(eml.contains("Subject: Patch report"));
    assert!(path.join("messages").join(format!("{id}.json")).exists());
}

#[test]
fn bad_directory_files_name_the_line() {
    let e = Directory::from_toml_str(
        "[[tenants]]\nid = \"11111111-1111-1111-1111-111111111111\"\ncolour = 1\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 3") && e.contains("colour"), "{e}");
    let e = Directory::from_toml_str("[[tenants]]\nid = \n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
    let e = Directory::from_json_str("{\n \"tenants\": [\n {\"id\": 5}\n ]\n}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3"), "{e}");
    let toml = "[[tenants]]\nid = \"11111111-1111-1111-1111-111111111111\"\n\n[[apps]]\ntenant = \"nope.example\"\nclientId = \"22222222-2222-2222-2222-222222222222\"\n";
    let e = Directory::from_toml_str(toml).unwrap_err().to_string();
    assert!(
        e.contains("line 5")
            && e.contains("nope.example")
            && e.contains("22222222-2222-2222-2222-222222222222"),
        "{e}"
    );
    let e = Directory::from_toml_str("[[tenants]]\nid = \"11111111-1111-1111-1111-111111111111\"\n[[apps]]\ntenant = \"11111111-1111-1111-1111-111111111111\"\nclientId = \"22222222-2222-2222-2222-222222222222\"\ncertificates = [{ pem = \"junk\" }]\n").unwrap_err().to_string();
    assert!(e.contains("certificates[0]"), "{e}");
    // JSON with the same shape as TOML.
    let d = Directory::from_json_str(r#"{"tenants":[{"id":"11111111-1111-1111-1111-111111111111","domains":["a.example"],"cloud":"usGovDoD"}]}"#).unwrap();
    assert_eq!(
        d.tenants[0].cloud.graph_resource(),
        "https://dod-graph.microsoft.us"
    );
}

/// Kills the child on drop, so a failing assertion does not leak a server.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve --demo --exit-on-stdin-eof --state-dir <dir> <extra>`, and the line it printed.
fn serve_demo(dir: &std::path::Path, extra: &[&str]) -> (Child, Value) {
    let child = Command::new(env!("CARGO_BIN_EXE_pmp-graph-emulator"))
        .args(["serve", "--demo", "--exit-on-stdin-eof", "--state-dir"])
        .arg(dir)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, serde_json::from_str(&line).unwrap())
}

/// A token for the demo app from the emulator `info` describes, and a client trusting its CA.
async fn demo_token(info: &Value) -> (reqwest::Client, String) {
    let ca = std::fs::read(info["caPath"].as_str().unwrap()).unwrap();
    let c = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let v: Value = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info["baseUrl"].as_str().unwrap(),
            pmp_graph_emulator::DEMO_TENANT_DOMAIN
        ))
        .form(&secret_form(
            pmp_graph_emulator::DEMO_CLIENT_ID,
            pmp_graph_emulator::DEMO_SECRET,
            GRAPH_SCOPE,
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tok = v["access_token"].as_str().expect("token").to_string();
    (c, tok)
}

#[tokio::test]
async fn cli_demo() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, info) = serve_demo(dir.path(), &[]);
    let base = info["baseUrl"].as_str().unwrap();
    assert_eq!(info["graphRoot"], base);
    assert_eq!(info["controlUrl"], format!("{base}/_emulator/api"));
    for f in ["ca.pem", "demo-app.pfx", "demo-app.crt", "demo-app.key"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let (c, tok) = demo_token(&info).await;
    let r = c
        .post(format!(
            "{base}/v1.0/users/{}/sendMail",
            pmp_graph_emulator::DEMO_MAILBOX
        ))
        .bearer_auth(tok)
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Closing stdin stops the server.
    drop(child.0.stdin.take());
    let status = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.0.wait()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn cli_send_mail_latency() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, info) = serve_demo(dir.path(), &["--send-mail-latency-ms", "300"]);
    let (c, tok) = demo_token(&info).await;
    let t = std::time::Instant::now();
    let r = c
        .post(format!(
            "{}/v1.0/users/{}/sendMail",
            info["baseUrl"].as_str().unwrap(),
            pmp_graph_emulator::DEMO_MAILBOX
        ))
        .bearer_auth(&tok)
        .json(&simple_message("a@b.c"))
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(r.status(), 202);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // A jitter over the latency is refused at start, naming the flags.
    let out = Command::new(env!("CARGO_BIN_EXE_pmp-graph-emulator"))
        // Should it start after all, stdin at EOF stops it rather than hanging the test.
        .args(["serve", "--demo", "--exit-on-stdin-eof", "--state-dir"])
        .arg(dir.path())
        .args([
            "--send-mail-latency-ms",
            "10",
            "--send-mail-jitter-ms",
            "20",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--send-mail-latency-ms")
            && stderr.contains("jitterMs (20) must not exceed fixedMs (10)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn fault_retry_after_as_http_date() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = client(&emu);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![FaultRule {
            status: Some(429),
            retry_after_seconds: Some(30),
            retry_after_http_date: true,
            count: Some(1),
            ..FaultRule::new("sendMail", FaultKind::Status)
        }],
    });
    let r = send(&emu, &c, &tok).await.unwrap();
    let value = r.headers()["retry-after"].to_str().unwrap().to_owned();
    assert_graph_error(r, 429, "TooManyRequests").await;
    assert!(value.ends_with(" GMT"), "{value}");
    let when = httpdate::parse_http_date(&value).unwrap();
    let ahead = when
        .duration_since(std::time::SystemTime::now())
        .unwrap()
        .as_secs_f64();
    assert!((29.0..=31.0).contains(&ahead), "{value} is {ahead} s ahead");
    // The plan round-trips through the control API with the flag.
    let plan: Value = get_json(&c, control_url(&emu, "faults")).await;
    assert_eq!(plan["rules"][0]["retryAfterHttpDate"], true, "{plan}");
    assert_eq!(send(&emu, &c, &tok).await.unwrap().status(), 202);
}
