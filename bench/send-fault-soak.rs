//! Fault soak: W threads send M mails through one client while the emulator drops the
//! connection of a few percent of the sendMail requests, before or after accepting them (a
//! drop closes the whole TCP connection, as a network failure does). Prints what the client
//! reported (sent, failed, unknown), how many drops the emulator injected, unknowns per drop
//! (the blast radius of one drop; 1.0 is the floor, since a drop's own send is unknown), and
//! what the emulator recorded: every `sent` mail exactly once, every `unknown` at most once,
//! no `failed` one at all. Numbers only; a broken promise prints a `!!! WARNING` line (exit
//! code 1 with PMP_BENCH_STRICT=1).
//!
//!     cargo run --example send-fault-soak [-- --mails 2000 --threads 16 --rate 0.02 --delay-ms 50]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use pmp_graph_emulator::{Directory, Emulator, EmulatorOptions, FaultPlan};
use pmp_mail::{Client, Config, Message, Outcome};
use serde_json::json;

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const APP: &str = "22222222-2222-2222-2222-222222222222";
const SECRET: &str = "soak-secret";
/// Graph allows 4 concurrent requests per app and mailbox, and the client keeps to that, so 16
/// sends in flight need 4 mailboxes.
const MAILBOXES: usize = 4;

struct Options {
    mails: usize,
    threads: usize,
    /// Probability of each kind of drop per sendMail request.
    rate: f64,
    /// Graph's own latency, so that sends overlap as they do against the service.
    delay_ms: u64,
    seed: u64,
}

fn options() -> Options {
    let mut o = Options {
        mails: 2000,
        threads: 16,
        rate: 0.02,
        delay_ms: 50,
        seed: 12,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        fn num<T: std::str::FromStr>(name: &str, value: &str) -> T {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} needs a number, got '{value}'"))
        }
        match pair[0].as_str() {
            "--mails" => o.mails = num(&pair[0], value),
            "--threads" => o.threads = num(&pair[0], value),
            "--rate" => o.rate = num(&pair[0], value),
            "--delay-ms" => o.delay_ms = num(&pair[0], value),
            "--seed" => o.seed = num(&pair[0], value),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn mailbox(i: usize) -> String {
    format!("soak{i}@contoso.onmicrosoft.com")
}

fn start_emulator() -> Emulator {
    let mailboxes: Vec<_> = (0..MAILBOXES)
        .map(|i| json!({"tenant": TENANT, "address": mailbox(i), "exists": true, "restEnabled": true}))
        .collect();
    let directory = json!({
        "tenants": [{"id": TENANT, "domains": ["contoso.onmicrosoft.com"], "cloud": "global"}],
        "apps": [{"tenant": TENANT, "clientId": APP, "displayName": "Soak", "enabled": true,
                  "roles": ["Mail.Send"], "secrets": [{"value": SECRET, "expires": "2099-01-01T00:00:00Z"}]}],
        "mailboxes": mailboxes,
        "throttling": {"maxConcurrent": 4, "maxRequests": 1_000_000, "windowSeconds": 600},
    });
    let mut options =
        EmulatorOptions::new(Directory::from_json_str(&directory.to_string()).expect("directory"));
    options.strict = true;
    Emulator::start_with(options).expect("emulator")
}

fn client(emu: &Emulator) -> Client {
    let config = json!({
        "tenant": TENANT,
        "clientId": APP,
        "auth": {"type": "clientSecret", "secret": SECRET},
        "authorityHost": emu.base_url(),
        "graphRoot": emu.base_url(),
        "http": {"extraCaCertificatesPem": emu.ca_pem(), "useSystemProxy": false, "timeoutSeconds": 30},
        "retry": {"maxAttempts": 4, "maxTotalWaitSeconds": 20},
    });
    Client::new(Config::from_json(&config.to_string()).expect("config")).expect("client")
}

#[derive(Clone, Copy, PartialEq)]
enum Reported {
    Sent,
    Failed,
    Unknown,
}

fn main() {
    let o = options();
    let emu = start_emulator();
    let client = client(&emu);
    println!(
        "profile: {}; {} mails, {} threads, {MAILBOXES} mailboxes, drop rate {} before + {} after accept, Graph delay {} ms",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        o.mails,
        o.threads,
        o.rate,
        o.rate,
        o.delay_ms
    );
    let plan = json!({"seed": o.seed, "rules": [
        {"path": "sendMail", "action": "dropBeforeAccept", "rate": o.rate},
        {"path": "sendMail", "action": "dropAfterAccept", "rate": o.rate},
        {"path": "sendMail", "action": "delay", "delayMs": o.delay_ms},
    ]});
    let plan: FaultPlan = serde_json::from_value(plan).expect("fault plan");
    emu.set_faults(plan);

    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<(String, Reported)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..o.threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= o.mails {
                            return mine;
                        }
                        let subject = format!("soak {i}");
                        let message = Message::from_json(
                            &json!({"from": mailbox(i % MAILBOXES), "to": ["a@contoso.com"],
                                    "subject": subject, "body": "soak"})
                            .to_string(),
                        )
                        .expect("message");
                        let reported = match client.send_mail(&message) {
                            Ok(_) => Reported::Sent,
                            Err(e) if e.outcome == Some(Outcome::Unknown) => Reported::Unknown,
                            Err(_) => Reported::Failed,
                        };
                        mine.push((subject, reported));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    let elapsed = started.elapsed();

    let count = |r: Reported| results.iter().filter(|(_, x)| *x == r).count();
    let (sent, failed, unknown) = (
        count(Reported::Sent),
        count(Reported::Failed),
        count(Reported::Unknown),
    );
    let counters = emu.counters();
    let drops = (counters.dropped_before_accept + counters.dropped_after_accept) as usize;
    let messages = emu.messages();
    let mut recorded: HashMap<&str, usize> = HashMap::new();
    for m in &messages {
        *recorded.entry(m.subject.as_str()).or_default() += 1;
    }
    let times = |subject: &str| recorded.get(subject).copied().unwrap_or(0);
    let lost = results
        .iter()
        .filter(|(s, r)| *r == Reported::Sent && times(s) == 0)
        .count();
    let doubled = recorded.values().filter(|n| **n > 1).count();
    let failed_but_sent = results
        .iter()
        .filter(|(s, r)| *r == Reported::Failed && times(s) > 0)
        .count();
    let unknown_recorded = results
        .iter()
        .filter(|(s, r)| *r == Reported::Unknown && times(s) > 0)
        .count();

    println!(
        "mails {}  sent {sent}  failed {failed}  unknown {unknown}  ({:.1} s, {:.0} mails/s)",
        o.mails,
        elapsed.as_secs_f64(),
        o.mails as f64 / elapsed.as_secs_f64()
    );
    println!(
        "drops injected {drops} ({} before accept, {} after)  unknown / drops {:.3}",
        counters.dropped_before_accept,
        counters.dropped_after_accept,
        if drops == 0 {
            0.0
        } else {
            unknown as f64 / drops as f64
        }
    );
    println!(
        "recorded {}  sent and recorded once {}  unknown and recorded {unknown_recorded}  lost {lost}  duplicated {doubled}  failed but recorded {failed_but_sent}",
        messages.len(),
        sent - lost
    );
    let broken = lost + doubled + failed_but_sent;
    if broken > 0 {
        println!(
            "!!! WARNING: {broken} mails broke \"nothing lost, nothing doubled\" (lost {lost}, duplicated {doubled}, failed but recorded {failed_but_sent})"
        );
        if std::env::var("PMP_BENCH_STRICT").is_ok_and(|v| v == "1") {
            std::process::exit(1);
        }
    }
}
