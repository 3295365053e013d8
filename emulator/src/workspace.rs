//! Google Workspace, the ground floor: the directory's `[google]` section (projects, service
//! accounts and their public keys, Workspace domains with users and domain-wide delegation
//! grants, Gmail throttling knobs), service-account key generation for tests, and the runtime
//! state the Google endpoints share (issued tokens, resumable upload sessions, per-user windows).
//! `google/` stands on it; it imports no endpoint and not `directory.rs` (which imports it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

use crate::util::hex;

/// The scope Gmail's `messages.send` needs at least (least privilege of the five it accepts).
pub const GMAIL_SEND_SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";

/// Gmail's upload limit for `messages.send` (discovery `mediaUpload.maxSize` 36700160 = 35 MiB).
pub(crate) const MAX_UPLOAD: usize = 36_700_160;

fn yes() -> bool {
    true
}

/// The directory's `[google]` section.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GoogleWorkspace {
    #[serde(default)]
    pub projects: Vec<GoogleProject>,
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    #[serde(default)]
    pub domains: Vec<WorkspaceDomain>,
    /// Per-user Gmail limits for users without their own `throttling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<GmailThrottling>,
}

/// A Google Cloud project: where service accounts live and where the Gmail API is enabled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GoogleProject {
    /// The project id (`project_id` in key files).
    pub id: String,
    /// The project number Google names in `accessNotConfigured`; derived from the id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default = "yes")]
    pub gmail_api_enabled: bool,
}

impl GoogleProject {
    pub fn number(&self) -> String {
        self.number.clone().unwrap_or_else(|| {
            let d = sha2::Sha256::digest(format!("project:{}", self.id).as_bytes());
            let n = u64::from_be_bytes(d[..8].try_into().unwrap_or_default());
            format!("{}", 100_000_000_000 + n % 900_000_000_000)
        })
    }
}

/// A service account (an OAuth client of its own, numeric `clientId`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccount {
    /// The `id` of a declared project.
    pub project: String,
    /// `…@<project>.iam.gserviceaccount.com`: the JWT's `iss`.
    pub client_email: String,
    /// The numeric unique id; what an admin enters for domain-wide delegation.
    pub client_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    #[serde(default)]
    pub keys: Vec<ServiceAccountKeyEntry>,
}

/// A registered key of a service account: only its public half.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountKeyEntry {
    /// `private_key_id` in the key file; the JWT header's `kid`.
    pub id: String,
    /// `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE` PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
    /// A file holding that PEM; relative paths resolve against the directory file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A disabled key's signatures are refused ("Invalid JWT Signature.").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// A Workspace domain: its users and the Admin console's domain-wide delegation grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceDomain {
    pub name: String,
    #[serde(default)]
    pub users: Vec<WorkspaceUser>,
    #[serde(default)]
    pub delegations: Vec<Delegation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceUser {
    pub address: String,
    /// Off: Gmail answers 400 failedPrecondition "Mail service not enabled".
    #[serde(default = "yes")]
    pub mail_enabled: bool,
    /// Verified send-as aliases: a From Gmail keeps. Any other From is replaced by the user's address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub send_as: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<GmailThrottling>,
}

/// Admin console → Security → API controls → Domain-wide delegation: one client id, its scopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delegation {
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// Gmail's per-user limits as the emulator plays them (reference A4.2–A4.4).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GmailThrottling {
    /// Sends in progress at once; over it: 429 rateLimitExceeded "Too many concurrent requests for user.".
    #[serde(default = "default_concurrent")]
    pub max_concurrent: u32,
    /// Sends per rolling minute (15,000 quota units / 100 per send); over it: 429
    /// userRateLimitExceeded "User Rate Limit Exceeded".
    #[serde(default = "default_per_minute")]
    pub sends_per_minute: u32,
    /// Sends per rolling 24 h (Workspace: 2,000); over it: 429 rateLimitExceeded
    /// "User-rate limit exceeded.  Retry after <time> (Mail sending)".
    #[serde(default = "default_per_day")]
    pub sends_per_day: u32,
}

fn default_concurrent() -> u32 {
    10
}
fn default_per_minute() -> u32 {
    150
}
fn default_per_day() -> u32 {
    2000
}

impl Default for GmailThrottling {
    fn default() -> Self {
        GmailThrottling {
            max_concurrent: default_concurrent(),
            sends_per_minute: default_per_minute(),
            sends_per_day: default_per_day(),
        }
    }
}

impl GoogleWorkspace {
    /// Reads `path` keys into `publicKeyPem`, so the directory is self-contained.
    pub(crate) fn inline_key_paths(&mut self, base: &Path) -> Result<(), String> {
        for sa in &mut self.service_accounts {
            for k in &mut sa.keys {
                if k.public_key_pem.is_none()
                    && let Some(p) = &k.path
                {
                    let full = if p.is_absolute() {
                        p.clone()
                    } else {
                        base.join(p)
                    };
                    let pem = std::fs::read_to_string(&full).map_err(|e| {
                        format!(
                            "serviceAccounts ('{}') key '{}': cannot read '{}': {e}",
                            sa.client_email,
                            k.id,
                            full.display()
                        )
                    })?;
                    k.public_key_pem = Some(pem);
                }
            }
        }
        Ok(())
    }

    /// Checks references and values; the error names the entry.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (i, p) in self.projects.iter().enumerate() {
            if p.id.is_empty() {
                return Err(format!("projects[{i}]: id is empty"));
            }
            if p.number
                .as_deref()
                .is_some_and(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!("projects[{i}] ('{}'): number is not numeric", p.id));
            }
        }
        for (i, sa) in self.service_accounts.iter().enumerate() {
            let who = format!("serviceAccounts[{i}] ('{}')", sa.client_email);
            if !sa.client_email.contains('@') {
                return Err(format!("{who}: clientEmail is not an e-mail address"));
            }
            if sa.client_id.is_empty() || !sa.client_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{who}: clientId must be numeric (Google's unique id)"
                ));
            }
            if self.project(&sa.project).is_none() {
                return Err(format!(
                    "{who}: project '{}' is not declared in google.projects",
                    sa.project
                ));
            }
            let dup = self.service_accounts[..i].iter().any(|o| {
                o.client_email.eq_ignore_ascii_case(&sa.client_email) || o.client_id == sa.client_id
            });
            if dup {
                return Err(format!("{who}: clientEmail or clientId is declared twice"));
            }
            for k in &sa.keys {
                if k.id.is_empty() {
                    return Err(format!("{who}: a key has an empty id"));
                }
                match &k.public_key_pem {
                    None => {
                        return Err(format!("{who}: key '{}' needs publicKeyPem or path", k.id));
                    }
                    Some(pem) => {
                        rsa_public_key_from_pem(pem)
                            .map_err(|e| format!("{who}: key '{}': {e}", k.id))?;
                    }
                }
            }
        }
        for (i, d) in self.domains.iter().enumerate() {
            let who = format!("domains[{i}] ('{}')", d.name);
            if d.name.is_empty() || d.name.contains('@') {
                return Err(format!("{who}: name is not a domain name"));
            }
            for u in &d.users {
                let (_, dom) = u.address.rsplit_once('@').unwrap_or(("", ""));
                if !dom.eq_ignore_ascii_case(&d.name) {
                    return Err(format!(
                        "{who}: user '{}' is not an address of this domain",
                        u.address
                    ));
                }
                if let Some(t) = &u.throttling {
                    check_throttling(t).map_err(|m| format!("{who}: user '{}': {m}", u.address))?;
                }
            }
            for g in &d.delegations {
                if g.client_id.is_empty() || !g.client_id.bytes().all(|b| b.is_ascii_digit()) {
                    // The Admin console takes the numeric client id, not the e-mail.
                    return Err(format!(
                        "{who}: delegation clientId '{}' must be a service account's numeric client id",
                        g.client_id
                    ));
                }
            }
        }
        if let Some(t) = &self.throttling {
            check_throttling(t).map_err(|m| format!("throttling: {m}"))?;
        }
        Ok(())
    }

    pub(crate) fn project(&self, id: &str) -> Option<&GoogleProject> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub(crate) fn service_account(&self, client_email: &str) -> Option<&ServiceAccount> {
        self.service_accounts
            .iter()
            .find(|s| s.client_email.eq_ignore_ascii_case(client_email))
    }

    /// The user `address` and its domain, when both are declared.
    pub(crate) fn user(&self, address: &str) -> Option<(&WorkspaceDomain, &WorkspaceUser)> {
        let (_, dom) = address.rsplit_once('@')?;
        let d = self
            .domains
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(dom))?;
        let u = d
            .users
            .iter()
            .find(|u| u.address.eq_ignore_ascii_case(address))?;
        Some((d, u))
    }

    /// The limits that apply to `user`.
    pub(crate) fn throttling_for(&self, user: Option<&WorkspaceUser>) -> GmailThrottling {
        user.and_then(|u| u.throttling)
            .or(self.throttling)
            .unwrap_or_default()
    }
}

fn check_throttling(t: &GmailThrottling) -> Result<(), String> {
    if t.max_concurrent == 0 || t.sends_per_minute == 0 || t.sends_per_day == 0 {
        return Err("values must be greater than 0".to_string());
    }
    Ok(())
}

/// The PKCS#1 RSAPublicKey DER of a `PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE` PEM.
pub(crate) fn rsa_public_key_from_pem(text: &str) -> Result<Vec<u8>, String> {
    let blocks = pem::parse_many(text).map_err(|e| format!("not PEM: {e}"))?;
    for b in blocks {
        match b.tag() {
            "RSA PUBLIC KEY" => return Ok(b.contents().to_vec()),
            "PUBLIC KEY" => {
                use x509_parser::prelude::FromDer;
                let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(b.contents())
                    .map_err(|e| format!("bad public key: {e}"))?;
                return rsa_only(&spki);
            }
            "CERTIFICATE" => {
                let (_, cert) = x509_parser::parse_x509_certificate(b.contents())
                    .map_err(|e| format!("bad certificate: {e}"))?;
                return rsa_only(cert.public_key());
            }
            _ => {}
        }
    }
    Err("no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block in PEM".to_string())
}

fn rsa_only(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<Vec<u8>, String> {
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
        return Err("only RSA keys are supported (Google signs with RS256)".to_string());
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// A freshly generated service-account key: what Google's console hands out as a JSON key
/// file, and the public half the emulator verifies with. Tests register `public_key_pem` under
/// `private_key_id` (or let `POST /_emulator/api/google/keys` do both).
#[derive(Clone)]
pub struct ServiceAccountKey {
    pub project_id: String,
    pub client_email: String,
    pub client_id: String,
    /// 40 hex digits (SHA-1 of the public key), as Google's ids look.
    pub private_key_id: String,
    /// PKCS#8 `BEGIN PRIVATE KEY` PEM, as in downloaded key files.
    pub private_key_pem: String,
    /// SPKI `BEGIN PUBLIC KEY` PEM.
    pub public_key_pem: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// A new RSA 2048 key for the service account.
    pub fn generate(
        project_id: &str,
        client_email: &str,
        client_id: &str,
    ) -> Result<ServiceAccountKey, String> {
        let kp =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(|e| e.to_string())?;
        let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
        Ok(ServiceAccountKey {
            project_id: project_id.to_string(),
            client_email: client_email.to_string(),
            client_id: client_id.to_string(),
            private_key_id: hex(&sha1::Sha1::digest(&spki)),
            private_key_pem: kp.serialize_pem(),
            public_key_pem: kp.public_key_pem(),
        })
    }

    /// The JSON key file (Google's field set and order), with `token_uri` pointing where the
    /// client should ask for tokens (the emulator's `…/token`).
    pub fn to_json(&self, token_uri: &str) -> String {
        let enc: String = percent_encoding::utf8_percent_encode(
            &self.client_email,
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let v = serde_json::json!({
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{enc}"),
            "universe_domain": "googleapis.com",
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    /// The directory entry for this key.
    pub fn entry(&self) -> ServiceAccountKeyEntry {
        ServiceAccountKeyEntry {
            id: self.private_key_id.clone(),
            public_key_pem: Some(self.public_key_pem.clone()),
            path: None,
            disabled: false,
        }
    }
}

/// What an access token minted by the Google token endpoint stands for.
#[derive(Debug, Clone)]
pub(crate) struct GoogleGrant {
    pub client_email: String,
    pub project: String,
    /// The impersonated user (`sub`), as the directory spells it; none = the service account itself.
    pub subject: Option<String>,
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub expires: i64,
}

/// Tokens issued per (service account, subject), for "one token per subject" assertions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GoogleTokenCount {
    pub service_account: String,
    /// Lower-case; empty when the token was for the service account itself.
    pub subject: String,
    pub issued: u64,
}

/// A resumable upload session (`uploadType=resumable`), until its last byte arrives; kept after
/// that with its answer, so a status query can still learn the outcome.
#[derive(Debug)]
pub(crate) struct ResumableSession {
    pub grant: GoogleGrant,
    pub user_id: String,
    pub thread_id: Option<String>,
    /// `X-Upload-Content-Length`, or the total a `Content-Range` named.
    pub total: Option<u64>,
    pub data: Vec<u8>,
    /// The final answer's body once the message was accepted.
    pub done: Option<serde_json::Value>,
}

/// Per-user Gmail windows (concurrency, per minute, per day).
#[derive(Debug, Default)]
pub(crate) struct UserWindow {
    pub active: u32,
    pub minute: VecDeque<Instant>,
    pub day: VecDeque<Instant>,
}

/// Why a send was refused by the per-user limits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UserLimit {
    Concurrency,
    /// Seconds until the minute window has room.
    PerMinute(u64),
    /// Seconds until the day window has room.
    PerDay(u64),
}

/// A public key registered while running (control API), by service account.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeKey {
    pub client_email: String,
    pub id: String,
    pub rsa_public_key: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct GoogleState {
    pub tokens: Mutex<HashMap<String, GoogleGrant>>,
    pub issued: Mutex<BTreeMap<(String, String), u64>>,
    pub sessions: Mutex<HashMap<String, ResumableSession>>,
    pub windows: Mutex<HashMap<String, UserWindow>>,
    pub runtime_keys: Mutex<Vec<RuntimeKey>>,
}

/// Gives the user's concurrency slot back when the send finishes.
pub(crate) struct UserPermit<'a> {
    state: &'a GoogleState,
    user: String,
}

impl Drop for UserPermit<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.state.windows.lock().get_mut(&self.user) {
            w.active = w.active.saturating_sub(1);
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl GoogleState {
    pub fn count_issued(&self, client_email: &str, subject: Option<&str>) {
        let key = (
            client_email.to_ascii_lowercase(),
            subject.unwrap_or("").to_ascii_lowercase(),
        );
        *self.issued.lock().entry(key).or_default() += 1;
    }

    pub fn token_counts(&self) -> Vec<GoogleTokenCount> {
        self.issued
            .lock()
            .iter()
            .map(|((sa, sub), n)| GoogleTokenCount {
                service_account: sa.clone(),
                subject: sub.clone(),
                issued: *n,
            })
            .collect()
    }

    /// A send slot for `user`, or the limit that refuses it. Refused attempts do not count
    /// against the windows (Gmail counts accepted sends against its sending limits).
    pub fn acquire(&self, user: &str, t: GmailThrottling) -> Result<UserPermit<'_>, UserLimit> {
        let key = user.to_ascii_lowercase();
        let now = Instant::now();
        let mut windows = self.windows.lock();
        let w = windows.entry(key.clone()).or_default();
        let prune = |q: &mut VecDeque<Instant>, span: Duration| {
            while q.front().is_some_and(|t| now.duration_since(*t) >= span) {
                q.pop_front();
            }
        };
        let minute = Duration::from_secs(60);
        let day = Duration::from_secs(24 * 3600);
        prune(&mut w.minute, minute);
        prune(&mut w.day, day);
        if w.day.len() >= t.sends_per_day as usize {
            let oldest = w.day.front().copied().unwrap_or(now);
            return Err(UserLimit::PerDay(ceil_secs(
                day.saturating_sub(now.duration_since(oldest)),
            )));
        }
        if w.minute.len() >= t.sends_per_minute as usize {
            let oldest = w.minute.front().copied().unwrap_or(now);
            return Err(UserLimit::PerMinute(ceil_secs(
                minute.saturating_sub(now.duration_since(oldest)),
            )));
        }
        if w.active >= t.max_concurrent {
            return Err(UserLimit::Concurrency);
        }
        w.active += 1;
        w.minute.push_back(now);
        w.day.push_back(now);
        Ok(UserPermit {
            state: self,
            user: key,
        })
    }

    /// Clears counters, sessions and windows; issued tokens stay valid (as Graph's JWTs do).
    pub fn reset(&self) {
        self.issued.lock().clear();
        self.sessions.lock().clear();
        self.windows.lock().clear();
    }
}
