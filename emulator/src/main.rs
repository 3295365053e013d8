//! `pmp-graph-emulator serve …` — runs the emulator and prints one JSON line describing it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pmp_graph_emulator::{
    DEMO_GOOGLE_KEY_FILE, Directory, Emulator, EmulatorOptions, EndpointLatency, add_demo,
    add_google_demo,
};

#[derive(Parser)]
#[command(
    name = "pmp-graph-emulator",
    version,
    about = "Local Entra ID token endpoint + Microsoft Graph mail emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTPS until killed (or until stdin closes with --exit-on-stdin-eof).
    Serve {
        /// Directory file (TOML, or JSON when it ends in .json). Optional with --demo.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Loopback address; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Where ca.pem, demo credentials and message copies go (default: a new temp folder).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Add the built-in demo tenant, app and mailbox.
        #[arg(long)]
        demo: bool,
        /// Exit when stdin reaches EOF (lets a parent process tie our lifetime to its own).
        #[arg(long)]
        exit_on_stdin_eof: bool,
        /// Strict wire checks: no Authorization on upload URLs, upload ranges up to 4 MiB,
        /// JSON POSTs must carry Content-Type: application/json.
        #[arg(long)]
        strict: bool,
        /// Simulated sendMail service time in ms, held inside the throttling slot (overrides
        /// the directory's latency.sendMail).
        #[arg(long, value_name = "MS")]
        send_mail_latency_ms: Option<u64>,
        /// Spread of that time: uniform within ± this many ms (at most the latency).
        #[arg(long, value_name = "MS", requires = "send_mail_latency_ms")]
        send_mail_jitter_ms: Option<u64>,
    },
}

/// The knobs of `serve` other than where and what to serve.
struct Knobs {
    demo: bool,
    exit_on_stdin_eof: bool,
    strict: bool,
    send_mail_latency: Option<EndpointLatency>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Serve {
        config,
        listen,
        state_dir,
        demo,
        exit_on_stdin_eof,
        strict,
        send_mail_latency_ms,
        send_mail_jitter_ms,
    } = cli.command;
    let knobs = Knobs {
        demo,
        exit_on_stdin_eof,
        strict,
        send_mail_latency: send_mail_latency_ms.map(|fixed_ms| EndpointLatency {
            fixed_ms,
            jitter_ms: send_mail_jitter_ms.unwrap_or(0),
        }),
    };
    match serve(config, listen, state_dir, knobs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pmp-graph-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    config: Option<PathBuf>,
    listen: SocketAddr,
    state_dir: Option<PathBuf>,
    knobs: Knobs,
) -> Result<(), String> {
    let Knobs {
        demo,
        exit_on_stdin_eof,
        strict,
        send_mail_latency,
    } = knobs;
    let mut directory = match &config {
        Some(p) => Directory::load(p).map_err(|e| e.to_string())?,
        None if demo => Directory::default(),
        None => return Err("serve needs --config FILE or --demo".to_string()),
    };
    if let Some(l) = send_mail_latency {
        directory.latency.get_or_insert_default().send_mail = Some(l);
        // Checked here, so the message names the flags rather than the directory entry.
        directory
            .check()
            .map_err(|e| format!("--send-mail-latency-ms/--send-mail-jitter-ms: {e}"))?;
    }
    let state_dir = match state_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("pmp-graph-emulator-{}", std::process::id())),
    };
    std::fs::create_dir_all(&state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    let state_dir = state_dir.canonicalize().unwrap_or(state_dir);
    let google_key = if demo {
        add_demo(&mut directory, &state_dir)?;
        add_google_demo(&mut directory)?
    } else {
        None
    };
    let mut opts = EmulatorOptions::new(directory);
    opts.listen = listen;
    opts.state_dir = Some(state_dir.clone());
    opts.strict = strict;
    let emu = Emulator::start_with(opts).map_err(|e| e.to_string())?;
    let base = emu.base_url().to_string();
    let google_key_path = match google_key {
        Some(key) => {
            let p = state_dir.join(DEMO_GOOGLE_KEY_FILE);
            std::fs::write(&p, key.to_json(&emu.google_token_url()))
                .map_err(|e| format!("{}: {e}", p.display()))?;
            restrict(&p);
            Some(p)
        }
        None => None,
    };
    let mut line = serde_json::json!({
        "baseUrl": base,
        "authorityHost": base,
        "graphRoot": base,
        "controlUrl": format!("{base}/_emulator/api"),
        "caPath": emu.ca_path(),
        "identityEndpoint": emu.identity_endpoint(),
        "identityHeader": emu.identity_header(),
        "imdsTokenUrl": emu.imds_token_url(),
        "arcIdentityEndpoint": emu.arc_identity_endpoint(),
        "arcKeyDirectory": emu.arc_key_dir(),
        "stateDir": state_dir,
        "googleTokenUri": emu.google_token_url(),
        "gmailRoot": emu.gmail_root(),
    });
    if let Some(p) = google_key_path {
        line["googleServiceAccountKeyPath"] = serde_json::json!(p);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);

    if exit_on_stdin_eof {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        drop(emu);
        Ok(())
    } else {
        loop {
            std::thread::park();
        }
    }
}

/// The demo's key file holds a private key: owner-only, like demo-app.key.
#[cfg(unix)]
fn restrict(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict(_p: &std::path::Path) {}
