//! `pmp-graph-emulator`: a local Entra ID v2.0 token endpoint + Microsoft Graph mail service
//! over real HTTPS, for testing pmp-mail (and Microsoft's own clients) without a tenant.
//!
//! ```no_run
//! use pmp_graph_emulator::{Directory, Emulator};
//! let emu = Emulator::start(Directory::from_toml_str("...").unwrap()).unwrap();
//! println!("{} trusts {}", emu.base_url(), emu.ca_path().display());
//! ```

mod control;
mod demo;
mod directory;
mod eml;
mod errors;
mod faults;
mod google;
mod graph;
mod inbox;
mod keys;
mod latency;
mod records;
mod server;
mod state;
mod throttle;
mod tls;
mod token;
mod util;
mod workspace;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

pub use demo::{
    DEMO_CLIENT_ID, DEMO_IDENTITY_HEADER, DEMO_MAILBOX, DEMO_MI_CLIENT_ID, DEMO_MI_OBJECT_ID,
    DEMO_PFX_PASSWORD, DEMO_SECRET, DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, add_demo,
};
pub use demo::{
    DEMO_GOOGLE_CLIENT_EMAIL, DEMO_GOOGLE_CLIENT_ID, DEMO_GOOGLE_DOMAIN, DEMO_GOOGLE_KEY_FILE,
    DEMO_GOOGLE_PROJECT, DEMO_GOOGLE_USER, add_google_demo,
};
pub use directory::{
    App, Certificate, Cloud, Directory, DirectoryError, FederatedCredential, Mailbox,
    ManagedIdentity, ManagedIdentityKind, Secret, TOKEN_EXCHANGE_AUDIENCE, Tenant, Throttling,
};
pub use faults::{FaultKind, FaultPlan, FaultRule};
pub use latency::{EndpointLatency, Latency, MAX_LATENCY_MS};
pub use records::{
    Counters, Header, Recipient, RecordedAttachment, RecordedMessage, RequestRecord, TokenRecord,
};
pub use throttle::ThrottleStats;
pub use tls::{CaMaterial, DemoCertificate, demo_certificate};
pub use workspace::{
    Delegation, GMAIL_SEND_SCOPE, GmailThrottling, GoogleProject, GoogleTokenCount,
    GoogleWorkspace, ServiceAccount, ServiceAccountKey, ServiceAccountKeyEntry, WorkspaceDomain,
    WorkspaceUser,
};

use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("certificates: {0}")]
    Tls(String),
    #[error("{0}")]
    Config(String),
}

/// Options for [`Emulator::start_with`].
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    pub directory: Directory,
    /// Loopback only (the control API has no auth). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where `ca.pem` and message copies (`messages/*.json|eml`) go. Without it `ca.pem` is
    /// written to a temporary folder removed on drop, and messages are kept in memory only.
    pub state_dir: Option<PathBuf>,
    /// Overrides the directory's `tokenLifetimeSeconds` (default 3600).
    pub token_lifetime_seconds: Option<u64>,
    /// Overrides the directory's `tokenRefreshInSeconds`: token responses then carry Entra's
    /// optional `refresh_in`.
    pub token_refresh_in_seconds: Option<u64>,
    /// Strict wire checks (also `strict = true` in the directory file, `--strict` on the CLI):
    /// reject an `Authorization` header on upload URLs (they are pre-authenticated), upload
    /// ranges over Graph's documented 4 MB, and JSON POSTs without `Content-Type:
    /// application/json`. Off by default because Microsoft's own SDKs send bearer tokens and
    /// 5 MiB slices to upload URLs, which Outlook tolerates; pmp-mail's tests turn it on.
    pub strict: bool,
    /// Use this CA instead of generating one.
    pub ca: Option<CaMaterial>,
    /// Where the Azure Arc endpoint writes its challenge key files (`<dir>/<random>.key`);
    /// overrides the directory's `arcKeyDirectory`. Default: `arc-tokens/` in the state dir
    /// (or the temporary folder).
    pub arc_key_dir: Option<PathBuf>,
}

impl EmulatorOptions {
    pub fn new(directory: Directory) -> Self {
        EmulatorOptions {
            directory,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            state_dir: None,
            token_lifetime_seconds: None,
            token_refresh_in_seconds: None,
            strict: false,
            ca: None,
            arc_key_dir: None,
        }
    }
}

/// A running emulator on its own thread and tokio runtime; shut down on drop.
pub struct Emulator {
    state: Arc<AppState>,
    base_url: String,
    ca_pem: String,
    ca_path: PathBuf,
    state_dir: Option<PathBuf>,
    temp_dir: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

impl Emulator {
    /// Starts on `127.0.0.1:0` with a generated CA.
    pub fn start(directory: Directory) -> Result<Emulator, Error> {
        Self::start_with(EmulatorOptions::new(directory))
    }

    pub fn start_with(opts: EmulatorOptions) -> Result<Emulator, Error> {
        opts.directory.check()?;
        if !opts.listen.ip().is_loopback() {
            return Err(Error::Config(format!(
                "refusing to listen on {}: the emulator (and its unauthenticated control API) is loopback-only",
                opts.listen
            )));
        }
        let identity = tls::build_identity(opts.ca.as_ref()).map_err(Error::Tls)?;
        let keys = keys::SigningKey::generate().map_err(Error::Tls)?;
        let mut federation = HashMap::new();
        for issuer in opts.directory.federated_issuers() {
            federation.insert(issuer, keys::SigningKey::generate().map_err(Error::Tls)?);
        }
        let identity_header = opts
            .directory
            .identity_header
            .clone()
            .unwrap_or_else(util::new_guid);
        let mut certs: HashMap<String, Vec<directory::CertInfo>> = HashMap::new();
        for app in &opts.directory.apps {
            let list = certs.entry(app.client_id.to_ascii_lowercase()).or_default();
            for c in &app.certificates {
                if let Some(pem) = &c.pem {
                    list.push(directory::CertInfo::from_pem(pem).map_err(|e| {
                        Error::Config(format!("apps (clientId '{}'): {e}", app.client_id))
                    })?);
                }
            }
        }

        let std_listener = std::net::TcpListener::bind(opts.listen)
            .map_err(io(format!("bind {}", opts.listen)))?;
        std_listener.set_nonblocking(true).map_err(io("listener"))?;
        let addr = std_listener.local_addr().map_err(io("listener"))?;
        let base_url = match addr.ip() {
            IpAddr::V6(ip) => format!("https://[{ip}]:{}", addr.port()),
            IpAddr::V4(ip) => format!("https://{ip}:{}", addr.port()),
        };

        let (dir_for_ca, temp_dir) = match &opts.state_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t =
                    std::env::temp_dir().join(format!("pmp-graph-emulator-{}", util::new_guid()));
                (t.clone(), Some(t))
            }
        };
        std::fs::create_dir_all(&dir_for_ca)
            .map_err(io(format!("create {}", dir_for_ca.display())))?;
        let ca_path = dir_for_ca.join("ca.pem");
        std::fs::write(&ca_path, &identity.ca_pem)
            .map_err(io(format!("write {}", ca_path.display())))?;

        let arc_key_dir = opts
            .arc_key_dir
            .clone()
            .or_else(|| opts.directory.arc_key_directory.clone())
            .unwrap_or_else(|| dir_for_ca.join("arc-tokens"));
        std::fs::create_dir_all(&arc_key_dir)
            .map_err(io(format!("create {}", arc_key_dir.display())))?;
        let throttling = opts.directory.throttling.clone().unwrap_or_default();
        let faults = opts.directory.faults.clone().unwrap_or_default();
        let latency = opts.directory.latency.clone().unwrap_or_default();
        let state = Arc::new(AppState {
            token_lifetime: opts
                .token_lifetime_seconds
                .or(opts.directory.token_lifetime_seconds)
                .unwrap_or(3600),
            token_refresh_in: opts
                .token_refresh_in_seconds
                .or(opts.directory.token_refresh_in_seconds),
            clock_skew: opts.directory.clock_skew_seconds.unwrap_or(300) as i64,
            strict: opts.strict || opts.directory.strict,
            dir: opts.directory,
            certs,
            keys,
            identity_header,
            federation,
            arc_key_dir,
            arc_secrets: Mutex::new(std::collections::HashSet::new()),
            base_url: base_url.clone(),
            messages_dir: opts.state_dir.as_ref().map(|d| d.join("messages")),
            records: records::Records::default(),
            faults: Mutex::new(faults::FaultEngine::new(faults)),
            throttle: Arc::new(throttle::Throttle::new(throttling)),
            latency: latency::LatencyModel::new(latency),
            jti_seen: Mutex::new(HashMap::new()),
            drafts: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
            google: workspace::GoogleState::default(),
        });

        let (tx, rx) = watch::channel(false);
        let router = server::router(state.clone());
        let tls_config = identity.config.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pmp-graph-emulator")
            .enable_all()
            .build()
            .map_err(io("tokio runtime"))?;
        let thread = std::thread::Builder::new()
            .name("pmp-graph-emulator".to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => server::serve(l, tls_config, router, rx).await,
                        Err(e) => eprintln!("pmp-graph-emulator: listener: {e}"),
                    }
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            })
            .map_err(io("spawn server thread"))?;

        Ok(Emulator {
            state,
            base_url,
            ca_pem: identity.ca_pem,
            ca_path,
            state_dir: opts.state_dir,
            temp_dir,
            shutdown: tx,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// `https://127.0.0.1:<port>` — authority host and Graph root alike.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }
    /// `https://…/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }
    pub fn messages(&self) -> Vec<RecordedMessage> {
        self.state.records.messages()
    }
    pub fn counters(&self) -> Counters {
        self.state.records.counters()
    }
    pub fn tokens(&self) -> Vec<TokenRecord> {
        self.state.records.tokens()
    }
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.records.requests()
    }
    /// Google's token endpoint (`https://…/token`, what `https://oauth2.googleapis.com/token`
    /// is in production): the `token_uri` of key files for the emulator.
    pub fn google_token_url(&self) -> String {
        format!("{}/token", self.base_url)
    }
    /// The Gmail API root (`https://gmail.googleapis.com/` in production): the base URL.
    pub fn gmail_root(&self) -> &str {
        &self.base_url
    }
    /// Generates a key for the declared service account `client_email`, registers its public
    /// half with the running emulator, and returns it (`to_json(&emu.google_token_url())` is
    /// the key file a test hands to the client).
    pub fn new_service_account_key(&self, client_email: &str) -> Result<ServiceAccountKey, Error> {
        google::register_new_key(&self.state, client_email).map_err(Error::Config)
    }
    /// Google access tokens issued per (service account, subject) since the start or the last reset.
    pub fn google_token_counts(&self) -> Vec<GoogleTokenCount> {
        self.state.google.token_counts()
    }
    /// The App Service protocol's `IDENTITY_ENDPOINT` (`https://…/MSI/token`).
    pub fn identity_endpoint(&self) -> String {
        format!("{}/MSI/token", self.base_url)
    }
    /// The App Service protocol's `IDENTITY_HEADER` secret.
    pub fn identity_header(&self) -> &str {
        &self.state.identity_header
    }
    /// The IMDS token URL (`https://…/metadata/identity/oauth2/token`); its base is what
    /// MSAL's `AZURE_POD_IDENTITY_AUTHORITY_HOST` takes.
    pub fn imds_token_url(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.base_url)
    }
    /// The Azure Arc (HIMDS) `IDENTITY_ENDPOINT`
    /// (`https://…/arc/metadata/identity/oauth2/token`).
    pub fn arc_identity_endpoint(&self) -> String {
        format!("{}/arc/metadata/identity/oauth2/token", self.base_url)
    }
    /// Where the Arc endpoint writes the key files its challenges name.
    pub fn arc_key_dir(&self) -> &Path {
        &self.state.arc_key_dir
    }
    /// A token from the external `issuer` (one named by a federated credential) for
    /// `subject` and `audience`, valid for `lifetime_seconds` (negative: already expired),
    /// signed with the key the emulator publishes for that issuer.
    pub fn federated_token(
        &self,
        issuer: &str,
        subject: &str,
        audience: &str,
        lifetime_seconds: i64,
    ) -> Result<String, Error> {
        token::federated::mint(&self.state, issuer, subject, audience, lifetime_seconds)
            .map_err(Error::Config)
    }
    /// The JWKS of the external issuers the emulator plays (each key names its `issuer`).
    pub fn federation_jwks(&self) -> serde_json::Value {
        token::federated::jwks(&self.state)
    }
    /// The ids of the drafts that exist now (created, neither sent nor deleted).
    pub fn draft_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state.drafts.lock().keys().cloned().collect();
        ids.sort();
        ids
    }
    /// Per app + mailbox: Graph requests in flight, their peak, and the 429s the throttle
    /// returned, since the start or the last reset.
    pub fn throttling(&self) -> Vec<ThrottleStats> {
        self.state.throttle.stats()
    }
    /// Restarts the throttling statistics (peaks from what is in flight now; the windows are
    /// kept).
    pub fn clear_throttling_stats(&self) {
        self.state.throttle.clear_stats();
    }
    pub fn set_faults(&self, plan: FaultPlan) {
        self.state.set_faults(plan);
    }
    pub fn clear_faults(&self) {
        self.state.set_faults(FaultPlan::default());
    }
    /// Clears records, counters, faults, throttling windows and statistics, drafts and upload
    /// sessions.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops serving and joins the server thread (also done on drop).
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(t) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(t);
        }
    }
}
