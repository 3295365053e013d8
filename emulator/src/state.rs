//! The emulator's shared state: what every endpoint reads (directory, keys, settings) and what
//! requests leave behind (records, fault plan, throttling windows, drafts, upload sessions).
//! The ground floor: endpoints import it; it imports no endpoint.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::directory::{CertInfo, Directory};
use crate::eml;
use crate::faults::{FaultEngine, FaultPlan};
use crate::keys::SigningKey;
use crate::latency::LatencyModel;
use crate::records::{ParsedMessage, RecordedMessage, Records};
use crate::throttle::Throttle;
use crate::workspace::GoogleState;

pub(crate) struct AppState {
    pub dir: Directory,
    /// Registered certificates by lower-case client id.
    pub certs: HashMap<String, Vec<CertInfo>>,
    pub keys: SigningKey,
    /// The App Service `IDENTITY_HEADER` secret.
    pub identity_header: String,
    /// One signing key per external issuer named by a federated credential: the emulator
    /// plays those issuers (mints their tokens, publishes their JWKS).
    pub federation: HashMap<String, SigningKey>,
    /// Where the Arc endpoint writes challenge key files.
    pub arc_key_dir: PathBuf,
    /// The contents of the key files written so far (accepted in `Authorization: Basic`).
    pub arc_secrets: Mutex<std::collections::HashSet<String>>,
    pub base_url: String,
    pub token_lifetime: u64,
    /// `refresh_in` sent with every token, when set.
    pub token_refresh_in: Option<u64>,
    pub clock_skew: i64,
    /// See `EmulatorOptions::strict`.
    pub strict: bool,
    /// Where `.json` + `.eml` copies of accepted messages go (only when a state dir was given).
    pub messages_dir: Option<PathBuf>,
    pub records: Records,
    pub faults: Mutex<FaultEngine>,
    pub throttle: Arc<Throttle>,
    /// The directory's `[latency]`.
    pub latency: LatencyModel,
    pub jti_seen: Mutex<HashMap<String, i64>>,
    pub drafts: Mutex<HashMap<String, Draft>>,
    pub uploads: Mutex<HashMap<String, UploadSession>>,
    /// Google's token endpoint and Gmail: issued tokens, upload sessions, per-user windows.
    pub google: GoogleState,
}

/// A draft message (`POST /users/{id}/messages`), until it is sent or deleted.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub id: String,
    pub tenant_id: String,
    pub mailbox: String,
    pub msg: ParsedMessage,
    pub attachment_ids: Vec<String>,
    /// `singleValueExtendedProperties` given at creation: (id, value).
    pub extended_properties: Vec<(String, String)>,
    pub created: OffsetDateTime,
}

/// An open attachment upload session (`createUploadSession`), until its last range arrives.
#[derive(Debug)]
pub(crate) struct UploadSession {
    pub token: String,
    pub draft_id: String,
    pub mailbox: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub data: Vec<u8>,
    pub expires: OffsetDateTime,
}

impl AppState {
    /// `127.0.0.1:port`, the authority host MSAL sees.
    pub fn host(&self) -> String {
        self.base_url.trim_start_matches("https://").to_string()
    }

    /// The base URL and its `localhost` spelling: clients may use either name for the
    /// emulator in assertion audiences and scopes.
    pub fn base_aliases(&self) -> Vec<String> {
        let mut v = vec![self.base_url.clone()];
        for ip in ["127.0.0.1", "[::1]"] {
            if self.base_url.contains(ip) {
                v.push(self.base_url.replacen(ip, "localhost", 1));
            }
        }
        v
    }

    /// Keeps an accepted message, and writes its `.json` + `.eml` copies first when there is
    /// a state dir, so a message that is listed also has its files.
    pub fn accept_message(&self, m: RecordedMessage) {
        if let Some(dir) = &self.messages_dir {
            eml::write_files(dir, &m, None);
        }
        self.records.add_message(m);
    }

    /// The same for a message that arrived as RFC 5322 bytes (Gmail): its `.eml` is those bytes.
    pub fn accept_raw_message(&self, m: RecordedMessage, raw: &[u8]) {
        if let Some(dir) = &self.messages_dir {
            eml::write_files(dir, &m, Some(raw));
        }
        self.records.add_message(m);
    }

    pub fn set_faults(&self, plan: FaultPlan) {
        *self.faults.lock() = FaultEngine::new(plan);
    }

    pub fn reset(&self) {
        self.records.reset();
        self.set_faults(FaultPlan::default());
        self.throttle.reset();
        self.drafts.lock().clear();
        self.uploads.lock().clear();
        self.jti_seen.lock().clear();
        self.arc_secrets.lock().clear();
        self.google.reset();
    }
}
