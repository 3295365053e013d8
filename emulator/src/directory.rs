//! The directory file: tenants, app registrations, credentials, granted roles and mailboxes
//! (docs/contracts.md section 6). TOML or JSON, camelCase keys, unknown keys rejected.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::Digest as _;

use crate::faults::FaultPlan;
use crate::latency::Latency;
use crate::util::{b64url, hex, is_guid, parse_rfc3339, stable_guid};
use crate::workspace::GoogleWorkspace;

/// Error loading or validating a directory file. The message names the line (syntax errors)
/// or the entry (semantic errors).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// National cloud of a tenant; decides the Graph resource its tokens are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Cloud {
    #[default]
    Global,
    UsGov,
    #[serde(rename = "usGovDoD")]
    UsGovDoD,
    China,
}

impl Cloud {
    /// The Graph root, which is also the token resource (`<root>/.default`).
    pub fn graph_resource(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDoD => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
}

/// The Graph service principal's app id; `00000003-…/.default` is also a valid Graph scope.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Throttling {
    #[serde(default = "default_concurrent")]
    pub max_concurrent: u32,
    #[serde(default = "default_max_requests")]
    pub max_requests: u32,
    #[serde(default = "default_window")]
    pub window_seconds: u64,
}

fn default_concurrent() -> u32 {
    4
}
fn default_max_requests() -> u32 {
    10_000
}
fn default_window() -> u64 {
    600
}
fn yes() -> bool {
    true
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            max_concurrent: 4,
            max_requests: 10_000,
            window_seconds: 600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub cloud: Cloud,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secret {
    pub value: String,
    /// RFC 3339; absent = never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Certificate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    /// Relative paths are resolved against the directory file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    pub tenant: String,
    pub client_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Granted with admin consent: these appear in tokens.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Requested but not consented: never in tokens.
    #[serde(default)]
    pub unconsented_roles: Vec<String>,
    #[serde(default)]
    pub conditional_access_blocked: bool,
    #[serde(default)]
    pub secrets: Vec<Secret>,
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    /// Service principal object id (`oid`/`sub`); derived from the client id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Workload identity federation: external tokens this app accepts as its credential.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential (FIC): an external OIDC issuer's token whose `iss`, `sub`
/// and `aud` match is accepted as a client assertion (reference B8.3: `iss` and `sub` exact and
/// case-sensitive, `aud` one of `audiences`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    #[serde(default)]
    pub name: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default = "default_fic_audiences")]
    pub audiences: Vec<String>,
}

/// The audience Entra recommends (and `az identity federated-credential create` defaults to).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

fn default_fic_audiences() -> Vec<String> {
    vec![TOKEN_EXCHANGE_AUDIENCE.to_string()]
}

/// System-assigned (one per Azure resource: the emulator's host) or user-assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagedIdentityKind {
    System,
    User,
}

/// A managed identity assigned to the host the emulator plays (the VM, App Service or Arc
/// machine whose token endpoints it serves). Its service principal lives in `tenant`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedIdentity {
    pub tenant: String,
    pub kind: ManagedIdentityKind,
    pub client_id: String,
    /// Service principal object id (`oid`, `principal_id`/`object_id` selectors); derived
    /// from the client id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// ARM resource id (`mi_res_id` / `msi_res_id` selectors); required for user-assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub display_name: String,
    /// App roles assigned to the identity's service principal (appRoleAssignments): in the
    /// token's `roles`; none = no `roles` claim.
    #[serde(default)]
    pub roles: Vec<String>,
    /// User-assigned only (Entra refuses FICs on system-assigned identities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

impl ManagedIdentity {
    pub fn object_id(&self) -> String {
        self.object_id
            .clone()
            .unwrap_or_else(|| stable_guid(&format!("mi:{}", self.client_id.to_lowercase())))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mailbox {
    pub tenant: String,
    pub address: String,
    /// User object id usable in `/users/{id}`; derived from the address when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default = "yes")]
    pub exists: bool,
    #[serde(default = "yes")]
    pub rest_enabled: bool,
    #[serde(default)]
    pub access_policy_allowed_apps: Vec<String>,
}

/// The whole directory file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Directory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
    /// Entra's optional `refresh_in` in token responses (seconds); absent = not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_refresh_in_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<u64>,
    /// Reject what Graph documents as wrong even where real clients get away with it (see
    /// `EmulatorOptions::strict`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<Throttling>,
    /// Simulated service time per endpoint; none unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub apps: Vec<App>,
    #[serde(default)]
    pub mailboxes: Vec<Mailbox>,
    /// Identities assigned to the host whose managed-identity endpoints the emulator serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_identities: Vec<ManagedIdentity>,
    /// The App Service `IDENTITY_HEADER` secret (`X-IDENTITY-HEADER`); random when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_header: Option<String>,
    /// Where the Azure Arc endpoint writes its challenge key files; relative paths resolve
    /// against the directory file's folder. Default: `arc-tokens/` in the state dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arc_key_directory: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultPlan>,
    /// Google Workspace: projects, service accounts, domains with users and delegation grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google: Option<GoogleWorkspace>,
}

impl Directory {
    /// Parses TOML; certificate paths resolve against the current directory.
    pub fn from_toml_str(text: &str) -> Result<Directory, DirectoryError> {
        Self::parse(text, Format::Toml, Path::new("."), "<toml>")
    }

    /// Parses JSON; certificate paths resolve against the current directory.
    pub fn from_json_str(text: &str) -> Result<Directory, DirectoryError> {
        Self::parse(text, Format::Json, Path::new("."), "<json>")
    }

    /// Loads a `.json` or (any other extension) TOML file.
    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DirectoryError::File {
            path: shown.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let format = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Format::Json
        } else {
            Format::Toml
        };
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, format, &base, &shown)
    }

    fn parse(
        text: &str,
        format: Format,
        base: &Path,
        shown: &str,
    ) -> Result<Directory, DirectoryError> {
        let file_err = |message: String| DirectoryError::File {
            path: shown.to_string(),
            message,
        };
        let mut dir: Directory = match format {
            // toml's Display already says "TOML parse error at line L, column C" + a snippet.
            Format::Toml => toml::from_str(text).map_err(|e| file_err(e.to_string()))?,
            Format::Json => serde_json::from_str(text).map_err(|e| {
                file_err(format!(
                    "JSON error at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ))
            })?,
        };
        if let Some(p) = &dir.arc_key_directory
            && p.is_relative()
        {
            dir.arc_key_directory = Some(base.join(p));
        }
        dir.inline_certificate_paths(base)
            .map_err(|m| file_err(locate(text, &m)))?;
        if let Some(g) = &mut dir.google {
            g.inline_key_paths(base)
                .map_err(|m| file_err(format!("google: {m}")))?;
        }
        dir.validate().map_err(|m| file_err(locate(text, &m)))?;
        Ok(dir)
    }

    /// Reads `path` certificates into `pem`, so the directory is self-contained.
    fn inline_certificate_paths(&mut self, base: &Path) -> Result<(), SemanticError> {
        for app in &mut self.apps {
            for (i, cert) in app.certificates.iter_mut().enumerate() {
                if cert.pem.is_none()
                    && let Some(p) = &cert.path
                {
                    let full = if p.is_absolute() {
                        p.clone()
                    } else {
                        base.join(p)
                    };
                    let pem = std::fs::read_to_string(&full).map_err(|e| SemanticError {
                        message: format!(
                            "apps (clientId '{}') certificates[{i}]: cannot read '{}': {e}",
                            app.client_id,
                            full.display()
                        ),
                        needle: p.display().to_string(),
                    })?;
                    cert.pem = Some(pem);
                }
            }
        }
        Ok(())
    }

    /// Checks references and values. Called by the parsers and by `Emulator::start`.
    pub fn check(&self) -> Result<(), DirectoryError> {
        self.validate()
            .map_err(|e| DirectoryError::Invalid(e.message))
    }

    fn validate(&self) -> Result<(), SemanticError> {
        let err = |message: String, needle: &str| SemanticError {
            message,
            needle: needle.to_string(),
        };
        for (i, t) in self.tenants.iter().enumerate() {
            if !is_guid(&t.id) {
                return Err(err(
                    format!("tenants[{i}]: id '{}' is not a GUID", t.id),
                    &t.id,
                ));
            }
        }
        for (i, a) in self.apps.iter().enumerate() {
            let who = format!("apps[{i}] (clientId '{}')", a.client_id);
            if !is_guid(&a.client_id) {
                return Err(err(format!("{who}: clientId is not a GUID"), &a.client_id));
            }
            if self.find_tenant(&a.tenant).is_none() {
                return Err(err(
                    format!("{who}: tenant '{}' is not declared in tenants", a.tenant),
                    &a.tenant,
                ));
            }
            for s in &a.secrets {
                if let Some(exp) = &s.expires
                    && parse_rfc3339(exp).is_none()
                {
                    return Err(err(
                        format!("{who}: secret expiry '{exp}' is not an RFC 3339 date-time"),
                        exp,
                    ));
                }
            }
            for (j, c) in a.certificates.iter().enumerate() {
                match &c.pem {
                    None => {
                        return Err(err(
                            format!("{who}: certificates[{j}] needs 'pem' or 'path'"),
                            &a.client_id,
                        ));
                    }
                    Some(pem) => {
                        if let Err(e) = CertInfo::from_pem(pem) {
                            return Err(err(
                                format!("{who}: certificates[{j}]: {e}"),
                                &a.client_id,
                            ));
                        }
                    }
                }
            }
        }
        for (i, m) in self.mailboxes.iter().enumerate() {
            let who = format!("mailboxes[{i}] ('{}')", m.address);
            if !m.address.contains('@') {
                return Err(err(
                    format!("{who}: address is not an e-mail address"),
                    &m.address,
                ));
            }
            if self.find_tenant(&m.tenant).is_none() {
                return Err(err(
                    format!("{who}: tenant '{}' is not declared in tenants", m.tenant),
                    &m.tenant,
                ));
            }
        }
        self.validate_managed_identities()?;
        for a in &self.apps {
            check_fics(
                &format!("apps (clientId '{}')", a.client_id),
                &a.client_id,
                &a.federated_credentials,
            )?;
        }
        if let Some(t) = &self.throttling
            && (t.max_concurrent == 0 || t.max_requests == 0 || t.window_seconds == 0)
        {
            return Err(err(
                "throttling: values must be greater than 0".to_string(),
                "throttling",
            ));
        }
        if let Some(l) = &self.latency {
            l.validate().map_err(|m| err(m, "latency"))?;
        }
        if let Some(f) = &self.faults {
            f.validate()
                .map_err(|m| err(format!("faults: {m}"), "faults"))?;
        }
        if let Some(g) = &self.google {
            g.validate()
                .map_err(|m| err(format!("google: {m}"), "google"))?;
        }
        Ok(())
    }

    fn validate_managed_identities(&self) -> Result<(), SemanticError> {
        let err = |message: String, needle: &str| SemanticError {
            message,
            needle: needle.to_string(),
        };
        let mut systems = 0;
        for (i, m) in self.managed_identities.iter().enumerate() {
            let who = format!("managedIdentities[{i}] (clientId '{}')", m.client_id);
            if !is_guid(&m.client_id) {
                return Err(err(format!("{who}: clientId is not a GUID"), &m.client_id));
            }
            if let Some(o) = &m.object_id
                && !is_guid(o)
            {
                return Err(err(format!("{who}: objectId is not a GUID"), o));
            }
            if self.find_tenant(&m.tenant).is_none() {
                return Err(err(
                    format!("{who}: tenant '{}' is not declared in tenants", m.tenant),
                    &m.tenant,
                ));
            }
            let duplicate = self
                .apps
                .iter()
                .any(|a| a.client_id.eq_ignore_ascii_case(&m.client_id))
                || self.managed_identities[..i]
                    .iter()
                    .any(|o| o.client_id.eq_ignore_ascii_case(&m.client_id));
            if duplicate {
                return Err(err(
                    format!("{who}: clientId is already used by another app or identity"),
                    &m.client_id,
                ));
            }
            match m.kind {
                ManagedIdentityKind::System => {
                    systems += 1;
                    if systems > 1 {
                        return Err(err(
                            format!("{who}: a host has at most one system-assigned identity"),
                            &m.client_id,
                        ));
                    }
                    if !m.federated_credentials.is_empty() {
                        return Err(err(
                            format!(
                                "{who}: federated credentials are allowed on user-assigned identities only"
                            ),
                            &m.client_id,
                        ));
                    }
                }
                ManagedIdentityKind::User => {
                    if m.resource_id.as_deref().is_none_or(str::is_empty) {
                        return Err(err(
                            format!("{who}: a user-assigned identity needs resourceId"),
                            &m.client_id,
                        ));
                    }
                }
            }
            check_fics(&who, &m.client_id, &m.federated_credentials)?;
        }
        Ok(())
    }

    /// Finds an assigned managed identity by client id, object id or resource id.
    pub(crate) fn find_managed_identity(&self, by: MiSelector<'_>) -> Option<&ManagedIdentity> {
        self.managed_identities.iter().find(|m| match by {
            MiSelector::System => m.kind == ManagedIdentityKind::System,
            MiSelector::ClientId(id) => m.client_id.eq_ignore_ascii_case(id),
            MiSelector::ObjectId(id) => m.object_id().eq_ignore_ascii_case(id),
            MiSelector::ResourceId(id) => m
                .resource_id
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(id)),
        })
    }

    /// A user-assigned identity of `tenant_id` with federated credentials, seen as the app
    /// registration it signs in as at the token endpoint (no secrets, no certificates).
    pub(crate) fn federated_identity_as_app(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Option<App> {
        let mi = self.managed_identities.iter().find(|m| {
            m.kind == ManagedIdentityKind::User
                && !m.federated_credentials.is_empty()
                && m.client_id.eq_ignore_ascii_case(client_id)
                && self
                    .find_tenant(&m.tenant)
                    .is_some_and(|t| t.id.eq_ignore_ascii_case(tenant_id))
        })?;
        Some(App {
            tenant: mi.tenant.clone(),
            client_id: mi.client_id.clone(),
            display_name: mi.display_name.clone(),
            enabled: true,
            roles: mi.roles.clone(),
            unconsented_roles: Vec::new(),
            conditional_access_blocked: false,
            secrets: Vec::new(),
            certificates: Vec::new(),
            object_id: Some(mi.object_id()),
            federated_credentials: mi.federated_credentials.clone(),
        })
    }

    /// Every issuer named by a federated credential (apps and identities), each once.
    pub fn federated_issuers(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let fics = self
            .apps
            .iter()
            .flat_map(|a| &a.federated_credentials)
            .chain(
                self.managed_identities
                    .iter()
                    .flat_map(|m| &m.federated_credentials),
            );
        for f in fics {
            if !v.contains(&f.issuer) {
                v.push(f.issuer.clone());
            }
        }
        v
    }

    /// Finds a tenant by GUID or domain (case-insensitive).
    pub fn find_tenant(&self, key: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(key) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(key))
        })
    }

    pub(crate) fn find_app(&self, tenant_id: &str, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| {
            a.client_id.eq_ignore_ascii_case(client_id)
                && self
                    .find_tenant(&a.tenant)
                    .is_some_and(|t| t.id.eq_ignore_ascii_case(tenant_id))
        })
    }

    /// Finds a mailbox of a tenant by address or object id.
    pub(crate) fn find_mailbox(&self, tenant_id: &str, key: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| {
            (m.address.eq_ignore_ascii_case(key) || m.object_id().eq_ignore_ascii_case(key))
                && self
                    .find_tenant(&m.tenant)
                    .is_some_and(|t| t.id.eq_ignore_ascii_case(tenant_id))
        })
    }
}

impl App {
    pub fn object_id(&self) -> String {
        self.object_id
            .clone()
            .unwrap_or_else(|| stable_guid(&format!("sp:{}", self.client_id.to_lowercase())))
    }
}

impl Mailbox {
    pub fn object_id(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| stable_guid(&format!("user:{}", self.address.to_lowercase())))
    }
}

/// How a managed-identity request names its identity.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MiSelector<'a> {
    System,
    ClientId(&'a str),
    ObjectId(&'a str),
    ResourceId(&'a str),
}

/// Entra's limits on federated identity credentials (reference B8.3).
fn check_fics(who: &str, needle: &str, fics: &[FederatedCredential]) -> Result<(), SemanticError> {
    let err = |message: String| SemanticError {
        message,
        needle: needle.to_string(),
    };
    if fics.len() > 20 {
        return Err(err(format!(
            "{who}: at most 20 federated credentials are allowed"
        )));
    }
    for (j, f) in fics.iter().enumerate() {
        if f.issuer.is_empty() || f.subject.is_empty() {
            return Err(err(format!(
                "{who}: federatedCredentials[{j}] needs issuer and subject"
            )));
        }
        if f.audiences.len() != 1 || f.audiences[0].is_empty() {
            return Err(err(format!(
                "{who}: federatedCredentials[{j}]: audiences must hold exactly one value"
            )));
        }
        if [&f.issuer, &f.subject, &f.audiences[0]]
            .iter()
            .any(|v| v.len() > 600)
        {
            return Err(err(format!(
                "{who}: federatedCredentials[{j}]: values are limited to 600 characters"
            )));
        }
    }
    Ok(())
}

enum Format {
    Toml,
    Json,
}

struct SemanticError {
    message: String,
    /// A value from the offending entry, used to find its line in the file.
    needle: String,
}

/// Prefixes the line of the first occurrence of the offending value, when found.
fn locate(text: &str, e: &SemanticError) -> String {
    if !e.needle.is_empty()
        && let Some(pos) = text.find(&e.needle)
    {
        let line = text[..pos].matches('\n').count() + 1;
        return format!("line {line}: {}", e.message);
    }
    e.message.clone()
}

/// A registered certificate and the thumbprints an assertion header may name.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    /// base64url SHA-1 of the DER (`x5t`).
    pub x5t: String,
    /// base64url SHA-256 of the DER (`x5t#S256`).
    pub x5t_s256: String,
    /// Upper-case hex SHA-1, as Entra prints it in AADSTS700027.
    pub sha1_hex: String,
    /// PKCS#1 RSAPublicKey DER, for signature checks.
    pub rsa_public_key: Vec<u8>,
}

impl CertInfo {
    pub fn from_pem(pem_text: &str) -> Result<CertInfo, String> {
        let block = pem::parse_many(pem_text)
            .map_err(|e| format!("not PEM: {e}"))?
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| "no CERTIFICATE block in PEM".to_string())?;
        Self::from_der(block.contents())
    }

    pub fn from_der(der: &[u8]) -> Result<CertInfo, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("bad certificate: {e}"))?;
        let spki = cert.public_key();
        if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
            return Err("only RSA certificates are supported (Entra requires RSA)".to_string());
        }
        let sha1 = sha1::Sha1::digest(der);
        let sha256 = sha2::Sha256::digest(der);
        Ok(CertInfo {
            x5t: b64url(&sha1),
            x5t_s256: b64url(&sha256),
            sha1_hex: hex(&sha1).to_uppercase(),
            rsa_public_key: spki.subject_public_key.data.to_vec(),
        })
    }
}
