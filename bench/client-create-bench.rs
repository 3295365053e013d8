//! Prints how long creating a client takes (no network I/O): the first client of the process,
//! then the median and mean of N more, without and with `http.extraCaCertificatesPem`. For
//! comparison it also times a reqwest client built with reqwest's own rustls setup, which reads
//! the OS trust store for every client (what `Client::new` did before the shared verifier).
//!
//!     cargo run --release --example client-create-bench [-- N]

use std::time::{Duration, Instant};

use pmp_mail::{Client, Config};

fn config(extra_ca_pem: Option<&str>) -> Config {
    let mut http = serde_json::json!({"useSystemProxy": false});
    if let Some(pem) = extra_ca_pem {
        http["extraCaCertificatesPem"] = pem.into();
    }
    let doc = serde_json::json!({
        "tenant": "contoso.onmicrosoft.com",
        "clientId": "00000000-0000-0000-0000-000000000001",
        "auth": {"type": "clientSecret", "secret": "not-a-real-secret"},
        "http": http,
    });
    Config::from_json(&doc.to_string()).expect("config")
}

fn time_one(extra_ca_pem: Option<&str>) -> Duration {
    let config = config(extra_ca_pem);
    let started = Instant::now();
    let client = Client::new(config).expect("client");
    let took = started.elapsed();
    drop(client);
    took
}

/// Times `n` runs of `time_one` and prints median, mean, min and max.
fn report(label: &str, n: usize, mut time_one: impl FnMut() -> Duration) {
    let mut times: Vec<Duration> = (0..n).map(|_| time_one()).collect();
    times.sort();
    let total: Duration = times.iter().sum();
    println!(
        "{label:<28} n={n:<4} median {:>9.3} ms  mean {:>9.3} ms  min {:>9.3} ms  max {:>9.3} ms",
        ms(times[n / 2]),
        ms(total / n as u32),
        ms(times[0]),
        ms(times[n - 1]),
    );
}

/// reqwest's own rustls setup: a platform verifier (OS store read) per client.
fn time_reqwest_default(extra_root: Option<&reqwest::Certificate>) -> Duration {
    let started = Instant::now();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .tls_version_min(reqwest::tls::Version::TLS_1_2);
    if let Some(cert) = extra_root {
        builder = builder.tls_certs_merge([cert.clone()]);
    }
    let client = builder.build().expect("reqwest client");
    let took = started.elapsed();
    drop(client);
    took
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50)
        .max(1);
    let ca = rcgen::generate_simple_self_signed(vec!["bench.invalid".to_string()])
        .expect("self-signed CA")
        .cert
        .pem();
    println!(
        "profile: {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "{:<28} {:>9.3} ms",
        "first client (cold)",
        ms(time_one(None))
    );
    report("Client::new", n, || time_one(None));
    report("Client::new + extra CA", n, || time_one(Some(&ca)));
    let cert = reqwest::Certificate::from_pem(ca.as_bytes()).expect("CA");
    report("reqwest default TLS (old)", n, || {
        time_reqwest_default(None)
    });
    report("  + extra CA (old)", n, || {
        time_reqwest_default(Some(&cert))
    });
}
