//! Attachment and certificate files as hosts pass them: bounded reads, file types checked before
//! anything is read, size limits decided before the first request (issue 10, items 1 and 2).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::common::*;
use pmp_graph_emulator::Emulator;
use pmp_mail::{Outcome, Status};
use serde_json::{Value, json};

/// Graph's request limit as pmp-mail applies it: a request body must stay below 4 MiB.
const MAX_REQUEST: usize = 4 * 1024 * 1024;
/// The largest attachment pmp-mail accepts (150 MiB).
const MAX_ATTACHMENT: u64 = 150 * 1024 * 1024;

/// Runs `f` on its own thread and fails the test if it has not returned within 20 s (a read that
/// blocks on a FIFO must fail the test, not hang the suite).
fn within_20s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not return within 20 s (blocked on the file?)"))
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A file of `len` bytes that uses no disk (and no memory until someone reads it).
fn sparse_file(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Sends a one-attachment message with `path` and returns the error; the emulator must have seen
/// nothing (no token request, no Graph request).
fn send_attachment_path_fails(path: &str) -> pmp_mail::Error {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let message = message(json!({
        "from": MAILBOX, "to": ["a@contoso.com"], "subject": "file",
        "attachments": [{"path": path}],
    }));
    let e = within_20s("send_mail", move || client.send_mail(&message)).unwrap_err();
    assert_eq!(e.outcome, Some(Outcome::Failed), "{e:?}");
    let document: Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(document["outcome"], "failed");
    assert_nothing_sent(&emu);
    e
}

fn assert_nothing_sent(emu: &Emulator) {
    let counters = emu.counters();
    assert_eq!(counters.token_requests, 0, "no token may be requested");
    assert_eq!(
        counters.requests,
        0,
        "no request may be made: {:?}",
        emu.requests()
    );
    assert!(emu.messages().is_empty());
}

fn client_with_auth(auth: Value) -> Result<pmp_mail::Client, pmp_mail::Error> {
    let emu = start_emulator();
    let config = pmp_mail::Config::from_json(&config_json(&emu, APP, auth).to_string()).unwrap();
    within_20s("Client::new", move || pmp_mail::Client::new(config))
}

#[cfg(unix)]
#[test]
fn dev_zero_as_attachment_fails_at_once_without_reading() {
    let e = send_attachment_path_fails("/dev/zero");
    assert_eq!(e.status, Status::Attachment, "{e:?}");
    assert!(
        e.message.contains("attachments[0]")
            && e.message.contains("'/dev/zero'")
            && e.message.contains("character device, not a regular file"),
        "{}",
        e.message
    );
    assert!(e.remedy.is_some(), "{e:?}");
}

#[cfg(unix)]
#[test]
fn fifo_as_attachment_fails_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.csv");
    mkfifo(&fifo);
    let e = send_attachment_path_fails(fifo.to_str().unwrap());
    assert_eq!(e.status, Status::Attachment, "{e:?}");
    assert!(
        e.message.contains("named pipe (FIFO), not a regular file")
            && e.message.contains("pipe.csv"),
        "{}",
        e.message
    );
}

#[cfg(unix)]
#[test]
fn fifo_as_certificate_or_key_path_fails_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("app.pfx");
    mkfifo(&fifo);
    let cert_file = dir.path().join("app.crt");
    std::fs::write(&cert_file, &app_cert().cert_pem).unwrap();
    let cases = [
        (
            json!({"type": "certificatePfx", "pfxPath": fifo, "password": "x"}),
            "auth.pfxPath",
        ),
        (
            json!({"type": "certificatePem", "certificatePath": fifo, "privateKeyPem": app_cert().key_pem}),
            "auth.certificatePath",
        ),
        (
            json!({"type": "certificatePem", "certificatePath": cert_file, "privateKeyPath": fifo}),
            "auth.privateKeyPath",
        ),
    ];
    for (auth, field) in cases {
        let e = client_with_auth(auth).unwrap_err();
        assert_eq!(e.status, Status::Credential, "{field}: {e:?}");
        assert!(
            e.message.contains(field)
                && e.message.contains("named pipe (FIFO), not a regular file"),
            "{field}: {}",
            e.message
        );
    }
}

#[test]
fn directory_as_attachment_says_it_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("reports");
    std::fs::create_dir(&folder).unwrap();
    let e = send_attachment_path_fails(folder.to_str().unwrap());
    assert_eq!(e.status, Status::Attachment, "{e:?}");
    assert!(
        e.message.contains("reports") && e.message.contains("is a directory, not a file"),
        "{}",
        e.message
    );
    assert!(
        e.remedy.as_deref().unwrap_or("").contains("each file"),
        "{e:?}"
    );
}

#[test]
fn directory_as_certificate_path_says_it_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e =
        client_with_auth(json!({"type": "certificatePfx", "pfxPath": dir.path(), "password": "x"}))
            .unwrap_err();
    assert_eq!(e.status, Status::Credential, "{e:?}");
    assert!(
        e.message.contains("auth.pfxPath") && e.message.contains("is a directory, not a file"),
        "{}",
        e.message
    );
}

#[test]
fn unexpanded_wildcards_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report1.csv"), "a").unwrap();
    for pattern in ["*.csv", "report?.csv"] {
        let path = dir.path().join(pattern);
        let e = send_attachment_path_fails(path.to_str().unwrap());
        assert_eq!(e.status, Status::Attachment, "{e:?}");
        assert!(
            e.message.contains(pattern)
                && e.message
                    .contains("wildcards are not expanded: pass each file")
                && !e.message.contains("does not exist"),
            "{}",
            e.message
        );
    }
    // A missing file without wildcards is still "does not exist".
    let e = send_attachment_path_fails(dir.path().join("gone.csv").to_str().unwrap());
    assert!(e.message.contains("does not exist"), "{}", e.message);
}

/// VmHWM (peak resident set) of this process in KiB, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn sparse_two_gib_attachment_is_rejected_with_its_size_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.iso");
    let len = 2u64 * 1024 * 1024 * 1024;
    sparse_file(&big, len);
    let before = peak_rss_kib();
    let e = send_attachment_path_fails(big.to_str().unwrap());
    let after = peak_rss_kib();
    // The number the issue asks for (other tests run in parallel in this process, so it is
    // printed, not asserted; `--test-threads=1` measures it alone).
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "peak RSS (VmHWM) for a 2 GiB attachment path: before {before} KiB, after {after} KiB, growth {} KiB",
            after.saturating_sub(before)
        );
    }
    assert_eq!(e.status, Status::Attachment, "{e:?}");
    assert!(
        e.message.contains(&len.to_string())
            && e.message.contains(&MAX_ATTACHMENT.to_string())
            && e.message.contains("150 MiB")
            && e.message.contains("big.iso"),
        "{}",
        e.message
    );
}

#[test]
fn sparse_two_gib_certificate_file_is_rejected_with_its_size_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("huge.pfx");
    let len = 2u64 * 1024 * 1024 * 1024;
    sparse_file(&big, len);
    let e = client_with_auth(json!({"type": "certificatePfx", "pfxPath": big, "password": "x"}))
        .unwrap_err();
    assert_eq!(e.status, Status::Credential, "{e:?}");
    assert!(
        e.message.contains(&len.to_string())
            && e.message.contains("1 MiB")
            && e.message.contains("auth.pfxPath"),
        "{}",
        e.message
    );
}

#[test]
fn attachment_files_up_to_the_limit_still_load() {
    // The bounded read must not cut or refuse ordinary files (a small one through sendMail).
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    let bytes = pseudo_random_bytes(100_000, 5);
    std::fs::write(&path, &bytes).unwrap();
    let result = client
        .send_mail(&message(json!({
            "from": MAILBOX, "to": ["a@contoso.com"], "attachments": [{"path": path}],
        })))
        .unwrap();
    assert!(!result.upload_session);
    assert_eq!(emu.messages()[0].attachments[0].sha256, sha256_hex(&bytes));
}

/// A message whose body is `len` ASCII characters (no JSON escaping).
fn with_body(len: usize) -> pmp_mail::Message {
    message(json!({
        "from": MAILBOX, "to": ["a@contoso.com"], "subject": "big body",
        "body": "a".repeat(len),
    }))
}

/// The request size an error reports ("... a 4194305-byte request ...").
fn reported_request_bytes(e: &pmp_mail::Error) -> usize {
    let before = e
        .message
        .split("-byte request")
        .next()
        .expect("the error names the request size");
    before
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no request size in: {}", e.message))
}

#[test]
fn body_over_four_mib_fails_before_any_request() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let body_len = MAX_REQUEST + 1;
    let e = client.send_mail(&with_body(body_len)).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e:?}");
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert!(
        e.message.contains(&body_len.to_string())
            && e.message.contains("4 MiB")
            && e.message.contains(&MAX_REQUEST.to_string()),
        "{}",
        e.message
    );
    assert!(
        e.remedy.as_deref().unwrap_or("").contains("attachment"),
        "{e:?}"
    );
    assert_nothing_sent(&emu);
}

/// The largest body that passes, found from the size the refusal reports for `probe`; then
/// the request it makes on the wire must be exactly 4 MiB - 1 bytes, and one more character is
/// refused before any request, reporting exactly 4 MiB.
fn body_limit_is_exact(
    emu: &Emulator,
    client: &pmp_mail::Client,
    make: impl Fn(usize) -> pmp_mail::Message,
    request: impl Fn(&pmp_graph_emulator::RequestRecord) -> bool,
) {
    let probe = MAX_REQUEST;
    let before = emu.counters().requests;
    let e = client.send_mail(&make(probe)).unwrap_err();
    assert_eq!(
        emu.counters().requests,
        before,
        "refused before any request"
    );
    let envelope = reported_request_bytes(&e) - probe;

    let fits = MAX_REQUEST - 1 - envelope;
    client.send_mail(&make(fits)).unwrap();
    let requests = emu.requests();
    let sent = requests
        .iter()
        .rev()
        .find(|r| request(r))
        .expect("the request that carries the body");
    assert_eq!(
        sent.header("content-length"),
        Some((MAX_REQUEST - 1).to_string().as_str()),
        "the request must be exactly as large as the local check computed: {} {}",
        sent.method,
        sent.path
    );

    let before = emu.counters().requests;
    let e = client.send_mail(&make(fits + 1)).unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument, "{e:?}");
    assert_eq!(reported_request_bytes(&e), MAX_REQUEST, "{}", e.message);
    assert_eq!(
        emu.counters().requests,
        before,
        "refused before any request"
    );
}

#[test]
fn body_size_limit_matches_the_request_graph_gets_to_the_byte() {
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    // Without attachments the smallest request is sendMail.
    body_limit_is_exact(&emu, &client, with_body, |r| {
        r.method == "POST" && r.path.ends_with("/sendMail")
    });
    // With an attachment that makes sendMail too large, it is the draft's POST /messages
    // (with its send marker; the attachment then goes in a request of its own).
    let with_body_and_attachment = |len: usize| {
        message(json!({
            "from": MAILBOX, "to": ["a@contoso.com"], "subject": "big body",
            "body": "a".repeat(len),
            "attachments": [{"name": "tiny.txt", "contentBase64": "aGk="}],
        }))
    };
    body_limit_is_exact(&emu, &client, with_body_and_attachment, |r| {
        r.method == "POST" && r.path.ends_with("/messages")
    });
    assert_eq!(emu.messages().len(), 2);
}

fn with_attachment_of(size: usize, seed: u64) -> pmp_mail::Message {
    message(json!({
        "from": MAILBOX, "to": ["a@contoso.com"], "subject": format!("{size} bytes"),
        "attachments": [{"name": "data.bin", "contentBase64": b64(&pseudo_random_bytes(size, seed))}],
    }))
}

#[test]
fn seam_attachment_fails_before_any_request_with_a_remedy_that_can_work() {
    // The app lacks Mail.ReadWrite: before the fix the draft request failed with "grant
    // Mail.ReadWrite", which cannot make a 3,145,700-byte attachment fit anywhere.
    let emu = start_emulator();
    let client = client_for(&emu, APP_SEND_ONLY, secret_auth());
    let e = client
        .send_mail(&with_attachment_of(3_145_700, 31))
        .unwrap_err();
    assert_eq!(e.status, Status::Attachment, "{e:?}");
    assert_eq!(e.outcome, Some(Outcome::Failed));
    assert!(
        e.message.contains("attachments[0]")
            && e.message.contains("3145700 bytes")
            && e.message.contains("too small for an upload session")
            && e.message.contains("3 MiB")
            && e.message.contains("4 MiB"),
        "{}",
        e.message
    );
    let remedy = e.remedy.as_deref().unwrap_or("");
    assert!(
        remedy.contains("Compress")
            && remedy.contains("split")
            && !remedy.contains("Mail.ReadWrite"),
        "{remedy}"
    );
    assert_nothing_sent(&emu);
}

#[test]
fn seam_bounds_are_the_ones_the_readme_names() {
    // For an attachment named data.bin (application/octet-stream), README: 3,145,621 to
    // 3,145,727 bytes. One byte below goes out (draft, the attachment in a request of its own
    // of exactly 4 MiB - 1 bytes); the bounds are refused before any request; 3 MiB takes an
    // upload session.
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let result = client
        .send_mail(&with_attachment_of(3_145_620, 32))
        .unwrap();
    assert!(!result.upload_session);
    let added = emu
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/attachments"))
        .expect("the attachment in a request of its own");
    assert_eq!(
        added.header("content-length"),
        Some((MAX_REQUEST - 1).to_string().as_str())
    );

    for seam in [3_145_621, 3_145_727] {
        let before = emu.counters().requests;
        let e = client.send_mail(&with_attachment_of(seam, 33)).unwrap_err();
        assert_eq!(e.status, Status::Attachment, "{seam}: {e:?}");
        assert!(
            e.message.contains("too small for an upload session"),
            "{}",
            e.message
        );
        assert_eq!(
            emu.counters().requests,
            before,
            "{seam}: refused before any request"
        );
    }
    let result = client
        .send_mail(&with_attachment_of(3 * 1024 * 1024, 34))
        .unwrap();
    assert!(result.upload_session);
}

/// The measurement behind the memory number: peak RSS (VmHWM) of this process before and
/// after sending with a sparse 2 GiB attachment path. Run it alone:
/// `cargo test -p pmp-mail --test it measure_peak_rss_for_a_two_gib_attachment_path -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check: run it alone with --ignored --nocapture"]
fn measure_peak_rss_for_a_two_gib_attachment_path() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.iso");
    sparse_file(&big, 2u64 * 1024 * 1024 * 1024);
    let emu = start_emulator();
    let client = client_for(&emu, APP, secret_auth());
    let message = message(json!({
        "from": MAILBOX, "to": ["a@contoso.com"], "attachments": [{"path": big}],
    }));
    let before = peak_rss_kib().expect("Linux /proc");
    let started = std::time::Instant::now();
    let e = client.send_mail(&message).unwrap_err();
    let elapsed = started.elapsed();
    let after = peak_rss_kib().expect("Linux /proc");
    println!(
        "2 GiB attachment path: VmHWM before {before} KiB, after {after} KiB (+{} MiB), rejected in {elapsed:?}: {}",
        after.saturating_sub(before) / 1024,
        e.message
    );
}

/// A regular file that reports size 0 yet holds megabytes (/proc/kallsyms, about 5 MB): only
/// the bounded read stops it, after 1 MiB + 1 byte.
#[cfg(target_os = "linux")]
#[test]
fn a_file_that_lies_about_its_size_is_still_read_only_to_the_limit() {
    let liar = "/proc/kallsyms";
    assert_eq!(std::fs::metadata(liar).unwrap().len(), 0);
    let e = client_with_auth(json!({"type": "certificatePfx", "pfxPath": liar, "password": "x"}))
        .unwrap_err();
    assert_eq!(e.status, Status::Credential, "{e:?}");
    assert!(
        e.message.contains("more than 1048576 bytes")
            && e.message.contains("1 MiB")
            && e.message.contains("auth.pfxPath"),
        "{}",
        e.message
    );
}
