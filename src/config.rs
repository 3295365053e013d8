//! The config document (contract section 2) and its validation: tenant and authority parsing,
//! national clouds, endpoint overrides, HTTP and retry options.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// Largest accepted config or options document.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// How the app proves its identity to Entra ID.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum AuthConfig {
    /// A client secret: the secret's VALUE, not its ID.
    ClientSecret { secret: Secret },
    /// A PKCS#12 (PFX) file with the certificate and its RSA private key.
    CertificatePfx {
        /// The PFX bytes, base64.
        pfx_base64: Option<Secret>,
        /// Or a path to the PFX file.
        pfx_path: Option<String>,
        /// The PFX password (empty or absent for none).
        password: Option<Secret>,
    },
    /// A PEM certificate and a PEM RSA private key (PKCS#8 or PKCS#1, unencrypted).
    CertificatePem {
        certificate_pem: Option<String>,
        certificate_path: Option<String>,
        private_key_pem: Option<Secret>,
        private_key_path: Option<String>,
    },
    /// The host signs assertions (`pmp_client_new_with_signer`).
    Signer,
    /// The host supplies each client assertion whole (`pmp_client_new_with_assertion_callback`):
    /// a token from any federation source the library does not read itself (a CI system's OIDC
    /// endpoint, a token broker, another cloud's workload identity).
    ClientAssertion,
    /// The Azure resource's managed identity (App Service / Functions, an Azure VM through IMDS,
    /// an Azure Arc-enabled server). No secret: the platform's local endpoint issues the token.
    /// The top-level `clientId` must be absent and `tenant` is optional; a user-assigned
    /// identity is chosen by at most one of `clientId`, `objectId`, `resourceId`.
    ManagedIdentity {
        /// A user-assigned identity's client (application) id.
        client_id: Option<String>,
        /// A user-assigned identity's object (principal) id.
        object_id: Option<String>,
        /// A user-assigned identity's ARM resource id
        /// (`/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…`).
        resource_id: Option<String>,
        /// auto (default: App Service, then Arc, then IMDS, as the Azure SDKs detect them) |
        /// appService | imds | arc.
        source: Option<ManagedIdentitySource>,
    },
    /// Workload identity federation (AKS workload identity, any OIDC issuer): the token in
    /// `tokenFile` is the client assertion of the app (or user-assigned identity) `clientId`.
    /// `tenant` and `clientId` default to AZURE_TENANT_ID and AZURE_CLIENT_ID.
    WorkloadIdentity {
        /// The federated token file (default: AZURE_FEDERATED_TOKEN_FILE); re-read for every
        /// token request, so a rotated file is picked up.
        token_file: Option<String>,
    },
    /// provider googleWorkspace: a service account's JSON key (the file the Google Cloud
    /// console downloads: `client_email`, `private_key`, `private_key_id`, `token_uri`,
    /// `client_id`). Exactly one of `keyPath` and `keyJson`.
    ServiceAccountKey {
        /// A path to the JSON key file.
        key_path: Option<String>,
        /// Or the key file's JSON text itself (a secret: it holds the private key).
        key_json: Option<Secret>,
    },
}

/// Which mail service a client sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    /// Microsoft 365 (Exchange Online) through Microsoft Graph, with an Entra ID identity.
    #[default]
    Microsoft365,
    /// Google Workspace through the Gmail API, with a service account and domain-wide
    /// delegation of the `gmail.send` scope.
    GoogleWorkspace,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Microsoft365 => "microsoft365",
            Provider::GoogleWorkspace => "googleWorkspace",
        }
    }
}

/// The `google` section: settings of provider googleWorkspace.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GoogleOptions {
    /// The Workspace user every token acts as (domain-wide delegation), for every message.
    /// Default: each message's `from` address.
    pub impersonate: Option<String>,
    /// The token endpoint. Default: the key file's `token_uri`, else
    /// `https://oauth2.googleapis.com/token`. For emulators and proxies.
    pub token_uri: Option<String>,
    /// The Gmail API root. Default `https://gmail.googleapis.com`. For emulators and proxies.
    pub gmail_root: Option<String>,
    /// With a host signer only (the key file says it otherwise): the service account's email
    /// (`client_email`), the assertion's `iss`.
    pub service_account_email: Option<String>,
    /// With a host signer only: the key's id (`private_key_id`), the assertion's `kid`.
    pub private_key_id: Option<String>,
    /// With a host signer only: the service account's numeric client id (`client_id`), which
    /// remedies name (it is what the Admin console's domain-wide delegation asks for).
    pub client_id: Option<String>,
}

/// Google's default token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Google's default Gmail API root.
pub const GMAIL_ROOT: &str = "https://gmail.googleapis.com";
/// The one scope a googleWorkspace client asks for.
pub const GMAIL_SEND_SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";

/// The `google` section after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleSettings {
    /// The user every token acts as, or `None`: each message's `from`.
    pub impersonate: Option<String>,
    /// `google.tokenUri` when given (else the key's `token_uri` decides, when the key is read).
    pub token_uri: Option<String>,
    /// Without a trailing slash.
    pub gmail_root: String,
    pub service_account_email: Option<String>,
    pub private_key_id: Option<String>,
    pub client_id: Option<String>,
}

/// Where a managed identity's token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ManagedIdentitySource {
    /// IDENTITY_ENDPOINT + IDENTITY_HEADER: App Service; IDENTITY_ENDPOINT + IMDS_ENDPOINT:
    /// Azure Arc; otherwise IMDS.
    #[default]
    Auto,
    /// App Service, Functions, Automation (IDENTITY_ENDPOINT + IDENTITY_HEADER).
    AppService,
    /// The Azure Instance Metadata Service of a VM or scale set.
    Imds,
    /// An Azure Arc-enabled server's agent (HIMDS).
    Arc,
}

/// Endpoint overrides of the managed-identity sources. Each defaults to the environment variable
/// the Azure SDKs read (read once, when the client is created); the fields exist so that tests
/// and emulators need not change the process environment.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointOverrides {
    /// IMDS base URL (default: AZURE_POD_IDENTITY_AUTHORITY_HOST, else `http://169.254.169.254`).
    /// For tests and emulators.
    pub imds_base_url: Option<String>,
    /// The App Service or Arc token endpoint (default: IDENTITY_ENDPOINT).
    pub identity_endpoint: Option<String>,
    /// The App Service secret sent as X-IDENTITY-HEADER (default: IDENTITY_HEADER).
    pub identity_header: Option<Secret>,
    /// The Arc agent's base URL; its presence selects Arc (default: IMDS_ENDPOINT).
    pub imds_endpoint: Option<String>,
    /// TEST ONLY: the directory Arc key files must be in (default: the agent's
    /// `/var/opt/azcmagent/tokens` or `%ProgramData%\AzureConnectedMachineAgent\Tokens`).
    pub arc_key_directory: Option<String>,
}

/// A national cloud: decides the authority host, the Graph root and the token scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Cloud {
    Global,
    UsGov,
    #[serde(rename = "usGovDoD")]
    UsGovDoD,
    China,
}

impl Cloud {
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDoD => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    pub fn graph_root(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDoD => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The client-credentials scope: always the cloud's Graph resource, even when `graphRoot`
    /// is overridden.
    pub fn graph_scope(self) -> String {
        format!("{}/.default", self.graph_root())
    }

    /// The cloud a well-known login host belongs to. `login.microsoftonline.us` serves both US
    /// government clouds; we pick usGov and let an explicit `cloud` say DoD.
    fn from_login_host(host: &str) -> Option<Cloud> {
        match host {
            "login.microsoftonline.com"
            | "login.microsoft.com"
            | "login.windows.net"
            | "sts.windows.net" => Some(Cloud::Global),
            "login.microsoftonline.us" | "login-us.microsoftonline.com" => Some(Cloud::UsGov),
            "login.chinacloudapi.cn" | "login.partner.microsoftonline.cn" => Some(Cloud::China),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usGov",
            Cloud::UsGovDoD => "usGovDoD",
            Cloud::China => "china",
        }
    }
}

/// Where a handle's token is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TokenCacheMode {
    /// Shared by every handle in the process with the same tenant, cloud, client id, credential
    /// and refresh margin; kept after the handle is freed, until the token expires.
    #[default]
    Process,
    /// The handle's own: freed with it, never shared.
    Client,
}

/// Which JWS algorithm the client assertion uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS SHA-256 with an `x5t#S256` header (Entra's current recommendation).
    #[default]
    PS256,
    /// RSASSA-PKCS1-v1_5 SHA-256 with an `x5t` (SHA-1) header.
    RS256,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpOptions {
    /// Whole-request timeout (default 100).
    pub timeout_seconds: Option<u64>,
    /// TCP + TLS connect timeout (default 15).
    pub connect_timeout_seconds: Option<u64>,
    /// An explicit proxy for all requests, e.g. `http://proxy:8080` (may hold credentials).
    pub proxy: Option<Secret>,
    /// Hosts that bypass the explicit proxy.
    pub no_proxy: Option<Vec<String>>,
    /// Use the system proxy settings (environment variables) when no explicit proxy is given
    /// (default true).
    pub use_system_proxy: Option<bool>,
    /// PEM certificates trusted in addition to the operating system's trust store.
    pub extra_ca_certificates_pem: Option<String>,
    /// Prepended to the library's own `pmp-mail/<version>` user agent.
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryOptions {
    /// Attempts per request including the first (1..10, default 4).
    pub max_attempts: Option<u32>,
    /// Upper bound for all waits of one request (default 120).
    pub max_total_wait_seconds: Option<u64>,
    /// Retry sends whose outcome is unknown (timeouts after the request was sent, 5xx without
    /// Retry-After). May deliver a message twice. Default false.
    pub retry_unknown_outcome: Option<bool>,
}

/// How many sends one client runs at once (Graph allows 4 concurrent requests per app and
/// mailbox; more are refused with 429 MailboxConcurrency).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendingOptions {
    /// Sends in flight per sending mailbox (1..16, default 4); more wait their turn.
    pub max_concurrent_per_mailbox: Option<u32>,
    /// Sends in flight in all (1..64, default 16).
    pub max_concurrent: Option<u32>,
    /// Messages one mailbox may send per window (1..1000000, default 10000: Exchange Online's
    /// 10,000 requests per 10 minutes per app and mailbox; googleWorkspace 150: Gmail's per-user
    /// quota of 150 sends a minute); more wait for the window to move.
    pub max_messages_per_mailbox: Option<u32>,
    /// The window of `maxMessagesPerMailbox` in seconds (1..3600, default 600; googleWorkspace
    /// 60).
    pub window_seconds: Option<u32>,
}

/// The send limits after defaults are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendingLimits {
    pub per_mailbox: usize,
    pub overall: usize,
    /// Messages per mailbox per `window`.
    pub mailbox_budget: usize,
    pub window: Duration,
}

impl SendingLimits {
    /// What `provider` allows one sender. Graph: 4 concurrent requests per app and mailbox and
    /// 10,000 per 10 minutes. Gmail: no concurrency limit is documented; the per-user API quota
    /// (15,000 units a minute, 100 per send) is 150 sends a minute.
    pub fn defaults_for(provider: Provider) -> SendingLimits {
        match provider {
            Provider::Microsoft365 => SendingLimits {
                per_mailbox: 4,
                overall: 16,
                mailbox_budget: 10_000,
                window: Duration::from_secs(600),
            },
            Provider::GoogleWorkspace => SendingLimits {
                per_mailbox: 4,
                overall: 16,
                mailbox_budget: 150,
                window: Duration::from_secs(60),
            },
        }
    }
}

impl Default for SendingLimits {
    fn default() -> SendingLimits {
        SendingLimits::defaults_for(Provider::Microsoft365)
    }
}

/// The sections both providers read the same way.
struct SharedSettings {
    http: HttpSettings,
    retry: RetryPolicy,
    sending: SendingLimits,
    token_refresh_margin: Duration,
}

/// The config document of `pmp_client_new` / [`crate::Client::new`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "pmp-mail client config")]
pub struct Config {
    /// Tenant ID (GUID), verified domain, or authority URL
    /// `https://login.microsoftonline.com/<tenant>`. Not common/consumers/organizations.
    /// Required, except with managedIdentity (optional) and workloadIdentity (default
    /// AZURE_TENANT_ID).
    pub tenant: Option<String>,
    /// The app registration's application (client) ID. Required, except with managedIdentity
    /// (must be absent: use auth.clientId) and workloadIdentity (default AZURE_CLIENT_ID).
    pub client_id: Option<String>,
    /// How to authenticate; may be omitted only with a host signer.
    pub auth: Option<AuthConfig>,
    /// global | usGov | usGovDoD | china; else derived from the authority host.
    pub cloud: Option<Cloud>,
    /// Override of the authority (login) host, e.g. an emulator.
    pub authority_host: Option<String>,
    /// Override of the Graph root, e.g. an emulator.
    pub graph_root: Option<String>,
    /// Allow `http://` endpoint overrides, and only to loopback addresses.
    #[serde(default)]
    pub allow_http_loopback: bool,
    /// PS256 (default) or RS256.
    pub assertion_algorithm: Option<AssertionAlgorithm>,
    #[serde(default)]
    pub http: HttpOptions,
    #[serde(default)]
    pub retry: RetryOptions,
    /// Send concurrency of this client (per mailbox and overall).
    #[serde(default)]
    pub sending: SendingOptions,
    /// Refresh the token this long before it expires (default 300).
    pub token_refresh_margin_seconds: Option<u64>,
    /// `process` (default): handles with the same credentials share one token in this process,
    /// and a token outlives the handle that fetched it until it expires. `client`: each handle
    /// has its own token cache. A host signer or assertion callback is never shared.
    pub token_cache: Option<TokenCacheMode>,
    /// Managed-identity endpoint overrides (tests, emulators).
    #[serde(default)]
    pub endpoints: EndpointOverrides,
    /// microsoft365 (default: Microsoft Graph) | googleWorkspace (the Gmail API). With
    /// googleWorkspace, `tenant`, `clientId`, `cloud`, `authorityHost`, `graphRoot`,
    /// `assertionAlgorithm` and `endpoints` do not apply; `auth` is `serviceAccountKey` (or a
    /// host signer) and `google` holds the rest.
    pub provider: Option<Provider>,
    /// Settings of provider googleWorkspace.
    pub google: Option<GoogleOptions>,
}

/// The environment variables the Azure SDKs read for managed and workload identity, captured
/// once when a client is created (config fields take precedence).
#[derive(Debug, Clone, Default)]
pub struct AzureEnvironment {
    pub identity_endpoint: Option<String>,
    pub identity_header: Option<Secret>,
    pub imds_endpoint: Option<String>,
    pub federated_token_file: Option<String>,
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    /// AZURE_POD_IDENTITY_AUTHORITY_HOST: the Azure SDKs' override of the IMDS base URL.
    pub imds_authority_host: Option<String>,
    /// MSI_ENDPOINT: Azure Cloud Shell (without MSI_SECRET) or Azure Machine Learning (with it).
    pub msi_endpoint: Option<String>,
    /// The Azure Connected Machine agent (himds) is installed: an Arc-enabled server even when
    /// IDENTITY_ENDPOINT and IMDS_ENDPOINT are not set in this process (MSAL's fallback).
    pub arc_agent_installed: bool,
}

impl AzureEnvironment {
    /// Reads the process environment (empty values count as absent).
    pub fn from_process() -> AzureEnvironment {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        AzureEnvironment {
            identity_endpoint: var("IDENTITY_ENDPOINT"),
            identity_header: var("IDENTITY_HEADER").map(Secret::new),
            imds_endpoint: var("IMDS_ENDPOINT"),
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE"),
            client_id: var("AZURE_CLIENT_ID"),
            tenant_id: var("AZURE_TENANT_ID"),
            imds_authority_host: var("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
            msi_endpoint: var("MSI_ENDPOINT"),
            arc_agent_installed: crate::managed_identity::arc_agent_path()
                .is_some_and(|p| p.is_file()),
        }
    }
}

/// Where requests go, derived from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub cloud: Cloud,
    /// The tenant as given (GUID or domain, lower case).
    pub tenant: String,
    /// `https://host[:port][/prefix]` without a trailing slash.
    pub authority_host: String,
    pub token_url: String,
    pub graph_root: String,
    pub scope: String,
}

/// The retry policy after defaults are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_total_wait: Duration,
    pub retry_unknown_outcome: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            max_total_wait: Duration::from_secs(120),
            retry_unknown_outcome: false,
        }
    }
}

/// The HTTP settings after validation.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub proxy: Option<Secret>,
    pub no_proxy: Vec<String>,
    pub use_system_proxy: bool,
    /// DER certificates trusted on top of the OS store.
    pub extra_roots: Vec<Vec<u8>>,
    pub user_agent: String,
}

/// Who the client authenticates as, after validation.
#[derive(Debug, Clone)]
pub enum Identity {
    /// An app registration with a secret, a certificate or a host signer.
    App,
    /// The resource's managed identity (the settings hold the App Service identity header).
    ManagedIdentity(crate::managed_identity::ManagedIdentitySettings),
    /// Workload identity federation: the assertion is read from this file.
    WorkloadIdentity { token_file: String },
}

/// A validated config. It holds no `auth` secret: the secret or key lives once, in the
/// credential loaded from it (a managed identity's settings carry the platform's local identity
/// header, which is not the app's credential).
#[derive(Debug, Clone)]
pub struct ValidatedConfig {
    /// The app's client id; with managedIdentity the selected identity's client id, or empty.
    pub client_id: String,
    pub identity: Identity,
    pub allow_http_loopback: bool,
    pub endpoints: Endpoints,
    pub assertion_algorithm: AssertionAlgorithm,
    pub http: HttpSettings,
    pub retry: RetryPolicy,
    pub sending: SendingLimits,
    pub token_refresh_margin: Duration,
    pub token_cache: TokenCacheMode,
    pub provider: Provider,
    /// The `google` settings (provider googleWorkspace only). With googleWorkspace,
    /// `endpoints.token_url` is Google's token endpoint, `endpoints.graph_root` the Gmail root
    /// and `endpoints.scope` the gmail.send scope; `client_id` is the service account's email
    /// once the key is read.
    pub google: Option<GoogleSettings>,
}

impl Config {
    /// Parses a config document; unknown fields are rejected.
    pub fn from_json(text: &str) -> Result<Config> {
        crate::document::parse(text, "config", MAX_CONFIG_BYTES)
    }

    /// Checks every field and resolves endpoints and defaults (reading the Azure environment
    /// variables of managed and workload identity).
    pub fn validate(&self) -> Result<ValidatedConfig> {
        self.validate_in(&AzureEnvironment::from_process())
    }

    /// [`Config::validate`] with the given environment instead of the process's.
    pub fn validate_in(&self, env: &AzureEnvironment) -> Result<ValidatedConfig> {
        self.validate_with(self.auth.as_ref(), env)
    }

    /// [`Config::validate`], handing back the `auth` section moved out of the config, so that
    /// the credential loaded from it is the only copy of the secret or key.
    pub(crate) fn into_validated(mut self) -> Result<(ValidatedConfig, Option<AuthConfig>)> {
        let auth = self.auth.take();
        let validated = self.validate_with(auth.as_ref(), &AzureEnvironment::from_process())?;
        Ok((validated, auth))
    }

    fn validate_with(
        &self,
        auth: Option<&AuthConfig>,
        env: &AzureEnvironment,
    ) -> Result<ValidatedConfig> {
        if self.provider.unwrap_or_default() == Provider::GoogleWorkspace {
            return self.validate_google(auth);
        }
        if self.google.is_some() {
            return Err(Error::config(
                "google applies only to provider googleWorkspace",
            )
            .with_remedy("Set \"provider\": \"googleWorkspace\" to send through Gmail, or remove the google section."));
        }
        if matches!(auth, Some(AuthConfig::ServiceAccountKey { .. })) {
            return Err(Error::config(
                "auth type serviceAccountKey is a Google credential and needs provider googleWorkspace",
            )
            .with_remedy("Set \"provider\": \"googleWorkspace\" to send through Gmail with this service account."));
        }
        let managed = matches!(auth, Some(AuthConfig::ManagedIdentity { .. }));
        let workload = matches!(auth, Some(AuthConfig::WorkloadIdentity { .. }));
        let client_id_text = if managed {
            if self.client_id.is_some() {
                return Err(Error::config(
                    "clientId must be absent with auth type managedIdentity: it names an app registration",
                )
                .with_remedy("Select a user-assigned identity with auth.clientId, auth.objectId or auth.resourceId; without them the system-assigned identity is used."));
            }
            None
        } else if workload {
            Some(self.client_id.clone().or_else(|| env.client_id.clone()).ok_or_else(|| {
                Error::config("clientId is missing: set clientId or AZURE_CLIENT_ID to the app registration or user-assigned identity that holds the federated credential")
            })?)
        } else {
            Some(self.client_id.clone().ok_or_else(|| {
                Error::config("clientId is missing").with_remedy("Use the app registration's Application (client) ID from the Entra admin center (Overview page).")
            })?)
        };
        let client_id = match &client_id_text {
            Some(text) => parse_guid(text.trim()).ok_or_else(|| {
                Error::config(format!(
                    "clientId '{}' is not a GUID",
                    truncate_for_message(text)
                ))
                .with_remedy("Use the app registration's Application (client) ID from the Entra admin center (Overview page).")
            })?,
            None => String::new(),
        };
        let tenant_text = if workload {
            Some(
                self.tenant
                    .clone()
                    .or_else(|| env.tenant_id.clone())
                    .ok_or_else(|| {
                        Error::config("tenant is missing: set tenant or AZURE_TENANT_ID")
                    })?,
            )
        } else if managed {
            // Optional: a managed identity's token comes from the local endpoint; a tenant given
            // anyway is still checked, and may name the cloud.
            self.tenant.clone()
        } else {
            Some(self.tenant.clone().ok_or_else(|| {
                Error::config("tenant is missing").with_remedy(
                    "Use the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com.",
                )
            })?)
        };
        let (tenant, tenant_authority) = match &tenant_text {
            Some(text) => parse_tenant(text.trim(), self.allow_http_loopback)?,
            None => (String::new(), None),
        };

        let explicit_authority = self
            .authority_host
            .as_deref()
            .map(|v| parse_endpoint_url("authorityHost", v, self.allow_http_loopback))
            .transpose()?;
        if let (Some(a), Some(b)) = (&explicit_authority, &tenant_authority)
            && a != b
        {
            return Err(Error::config(format!(
                "tenant names the authority {b} but authorityHost is {a}; give one or make them equal"
            )));
        }
        let authority_url = explicit_authority.or(tenant_authority);
        let host_cloud = authority_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .and_then(|u| u.host_str().and_then(Cloud::from_login_host));
        let cloud = match (self.cloud, host_cloud) {
            (Some(explicit), Some(derived)) => {
                let compatible =
                    explicit == derived || (explicit == Cloud::UsGovDoD && derived == Cloud::UsGov);
                if !compatible {
                    return Err(Error::config(format!(
                        "cloud is {} but the authority host belongs to the {} cloud",
                        explicit.name(),
                        derived.name()
                    )));
                }
                explicit
            }
            (Some(explicit), None) => explicit,
            (None, Some(derived)) => derived,
            (None, None) => Cloud::Global,
        };
        let authority_host = authority_url.unwrap_or_else(|| cloud.authority_host().to_owned());
        let graph_root = match &self.graph_root {
            Some(v) => parse_endpoint_url("graphRoot", v, self.allow_http_loopback)?,
            None => cloud.graph_root().to_owned(),
        };
        let token_url = format!("{authority_host}/{tenant}/oauth2/v2.0/token");
        let endpoints = Endpoints {
            cloud,
            tenant,
            authority_host,
            token_url,
            graph_root,
            scope: cloud.graph_scope(),
        };

        if let Some(auth) = auth {
            validate_auth_shape(auth)?;
        }
        let (identity, client_id) = match auth {
            Some(AuthConfig::ManagedIdentity {
                client_id: mi_client_id,
                object_id,
                resource_id,
                source,
            }) => {
                let settings = crate::managed_identity::resolve(
                    crate::managed_identity::AuthFields {
                        client_id: mi_client_id.as_deref(),
                        object_id: object_id.as_deref(),
                        resource_id: resource_id.as_deref(),
                        source: source.unwrap_or_default(),
                    },
                    &self.endpoints,
                    env,
                    cloud.graph_root(),
                )?;
                let client_id = match &settings.selector {
                    Some(crate::managed_identity::Selector::ClientId(id)) => id.clone(),
                    _ => client_id,
                };
                (Identity::ManagedIdentity(settings), client_id)
            }
            Some(AuthConfig::WorkloadIdentity { token_file }) => {
                let token_file = token_file
                    .clone()
                    .or_else(|| env.federated_token_file.clone())
                    .filter(|f| !f.trim().is_empty())
                    .ok_or_else(|| {
                        Error::config("auth type workloadIdentity needs tokenFile or AZURE_FEDERATED_TOKEN_FILE")
                            .with_remedy("On AKS, label the pod's service account for workload identity (azure.workload.identity/use: \"true\") so the webhook mounts the token and sets the variable; elsewhere point auth.tokenFile at the file your OIDC issuer's token is written to.")
                    })?;
                (Identity::WorkloadIdentity { token_file }, client_id)
            }
            _ => (Identity::App, client_id),
        };
        if !matches!(identity, Identity::ManagedIdentity(_)) {
            let e = &self.endpoints;
            if e.imds_base_url.is_some()
                || e.identity_endpoint.is_some()
                || e.identity_header.is_some()
                || e.imds_endpoint.is_some()
                || e.arc_key_directory.is_some()
            {
                return Err(Error::config(
                    "endpoints (managed-identity overrides) apply only to auth type managedIdentity",
                ));
            }
        }

        let shared = self.validate_shared(Provider::Microsoft365)?;
        Ok(ValidatedConfig {
            client_id,
            identity,
            allow_http_loopback: self.allow_http_loopback,
            endpoints,
            assertion_algorithm: self.assertion_algorithm.unwrap_or_default(),
            http: shared.http,
            retry: shared.retry,
            sending: shared.sending,
            token_refresh_margin: shared.token_refresh_margin,
            token_cache: self.token_cache.unwrap_or_default(),
            provider: Provider::Microsoft365,
            google: None,
        })
    }

    /// `http`, `retry`, `sending` (with `provider`'s defaults) and `tokenRefreshMarginSeconds`.
    fn validate_shared(&self, provider: Provider) -> Result<SharedSettings> {
        let margin = self.token_refresh_margin_seconds.unwrap_or(300);
        if margin > 3000 {
            let lifetime = match provider {
                Provider::Microsoft365 => "60-90 minutes",
                Provider::GoogleWorkspace => "60 minutes",
            };
            return Err(Error::config(format!(
                "tokenRefreshMarginSeconds must be at most 3000 (tokens live {lifetime})"
            )));
        }
        Ok(SharedSettings {
            http: validate_http(&self.http)?,
            retry: validate_retry(&self.retry)?,
            sending: validate_sending(&self.sending, SendingLimits::defaults_for(provider))?,
            token_refresh_margin: Duration::from_secs(margin),
        })
    }

    /// Provider googleWorkspace: no Entra fields, a Google credential, the `google` section.
    fn validate_google(&self, auth: Option<&AuthConfig>) -> Result<ValidatedConfig> {
        let entra_only = [
            ("tenant", self.tenant.is_some()),
            ("clientId", self.client_id.is_some()),
            ("cloud", self.cloud.is_some()),
            ("authorityHost", self.authority_host.is_some()),
            ("graphRoot", self.graph_root.is_some()),
            ("assertionAlgorithm", self.assertion_algorithm.is_some()),
        ];
        if let Some((field, _)) = entra_only.iter().find(|(_, given)| *given) {
            let remedy = match *field {
                "clientId" => {
                    "Remove it: the service account comes from its key file (client_email, client_id); with a host signer, give google.serviceAccountEmail and google.clientId."
                }
                "graphRoot" | "authorityHost" => {
                    "Remove it; google.tokenUri and google.gmailRoot override Google's endpoints."
                }
                _ => "Remove it: Google Workspace has no Entra tenant or cloud.",
            };
            return Err(Error::config(format!(
                "{field} applies only to provider microsoft365 (Entra ID and Microsoft Graph), not to googleWorkspace"
            ))
            .with_remedy(remedy));
        }
        let e = &self.endpoints;
        if e.imds_base_url.is_some()
            || e.identity_endpoint.is_some()
            || e.identity_header.is_some()
            || e.imds_endpoint.is_some()
            || e.arc_key_directory.is_some()
        {
            return Err(Error::config(
                "endpoints (managed-identity overrides) apply only to provider microsoft365",
            ));
        }
        let key_remedy = "Use the service account's JSON key: auth {\"type\":\"serviceAccountKey\",\"keyPath\":\"/path/key.json\"} (or keyJson), or a host signer with google.serviceAccountEmail.";
        let google = self.google.clone().unwrap_or_default();
        let signer = match auth {
            None | Some(AuthConfig::Signer) => true,
            Some(AuthConfig::ServiceAccountKey { key_path, key_json }) => {
                if key_path.is_some() == key_json.is_some() {
                    return Err(Error::config(
                        "auth type serviceAccountKey needs exactly one of keyPath or keyJson",
                    ));
                }
                if key_json
                    .as_ref()
                    .is_some_and(|k| k.expose().trim().is_empty())
                {
                    return Err(Error::config("auth.keyJson is empty"));
                }
                false
            }
            Some(other) => {
                let kind = match other {
                    AuthConfig::ClientSecret { .. } => "clientSecret",
                    AuthConfig::CertificatePfx { .. } => "certificatePfx",
                    AuthConfig::CertificatePem { .. } => "certificatePem",
                    AuthConfig::ClientAssertion => "clientAssertion",
                    AuthConfig::ManagedIdentity { .. } => "managedIdentity",
                    _ => "workloadIdentity",
                };
                return Err(Error::config(format!(
                    "auth type {kind} is an Entra ID credential; provider googleWorkspace authenticates as a Google service account"
                ))
                .with_remedy(key_remedy));
            }
        };
        if !signer {
            for (field, given) in [
                (
                    "serviceAccountEmail",
                    google.service_account_email.is_some(),
                ),
                ("privateKeyId", google.private_key_id.is_some()),
                ("clientId", google.client_id.is_some()),
            ] {
                if given {
                    return Err(Error::config(format!(
                        "google.{field} is read from the service account key; give it only with a host signer"
                    )));
                }
            }
        } else if matches!(auth, Some(AuthConfig::Signer)) && google.service_account_email.is_none()
        {
            return Err(Error::config(
                "auth type signer with provider googleWorkspace needs google.serviceAccountEmail",
            )
            .with_remedy("Give the service account's email (client_email of its key) and, when the key has one, its id (google.privateKeyId)."));
        }
        if let Some(email) = &google.service_account_email
            && !is_plain_address(email)
        {
            return Err(Error::config(format!(
                "google.serviceAccountEmail '{}' is not an email address",
                truncate_for_message(email)
            )));
        }
        for (field, value) in [
            ("privateKeyId", &google.private_key_id),
            ("clientId", &google.client_id),
        ] {
            if let Some(v) = value
                && (v.trim().is_empty() || !v.chars().all(|c| c.is_ascii_graphic()))
            {
                return Err(Error::config(format!(
                    "google.{field} must be non-empty printable ASCII without spaces"
                )));
            }
        }
        let impersonate = match google.impersonate.as_deref().map(str::trim) {
            Some(user) if is_plain_address(user) => Some(user.to_owned()),
            Some(user) => {
                return Err(Error::config(format!(
                    "google.impersonate '{}' is not a user's email address (give the address alone, without a display name)",
                    truncate_for_message(user)
                )));
            }
            None => None,
        };
        let token_uri = google
            .token_uri
            .as_deref()
            .map(|v| parse_endpoint_url("google.tokenUri", v, self.allow_http_loopback))
            .transpose()?;
        let gmail_root = match &google.gmail_root {
            Some(v) => parse_endpoint_url("google.gmailRoot", v, self.allow_http_loopback)?,
            None => GMAIL_ROOT.to_owned(),
        };
        let shared = self.validate_shared(Provider::GoogleWorkspace)?;
        Ok(ValidatedConfig {
            client_id: google.service_account_email.clone().unwrap_or_default(),
            identity: Identity::App,
            allow_http_loopback: self.allow_http_loopback,
            endpoints: Endpoints {
                cloud: Cloud::Global,
                tenant: String::new(),
                authority_host: String::new(),
                token_url: token_uri
                    .clone()
                    .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
                graph_root: gmail_root.clone(),
                scope: GMAIL_SEND_SCOPE.to_owned(),
            },
            assertion_algorithm: AssertionAlgorithm::RS256,
            http: shared.http,
            retry: shared.retry,
            sending: shared.sending,
            token_refresh_margin: shared.token_refresh_margin,
            token_cache: self.token_cache.unwrap_or_default(),
            provider: Provider::GoogleWorkspace,
            google: Some(GoogleSettings {
                impersonate,
                token_uri,
                gmail_root,
                service_account_email: google.service_account_email,
                private_key_id: google.private_key_id,
                client_id: google.client_id,
            }),
        })
    }

    /// Checks a token endpoint that a service account key names (its `token_uri`) by the rule
    /// of every configured endpoint.
    pub(crate) fn check_key_token_uri(value: &str, allow_http_loopback: bool) -> Result<String> {
        parse_endpoint_url("the key's token_uri", value, allow_http_loopback)
    }
}

fn validate_auth_shape(auth: &AuthConfig) -> Result<()> {
    match auth {
        AuthConfig::ClientSecret { secret } => {
            if secret.expose().trim().is_empty() {
                return Err(Error::config("auth.secret is empty"));
            }
        }
        AuthConfig::CertificatePfx {
            pfx_base64,
            pfx_path,
            ..
        } => {
            if pfx_base64.is_some() == pfx_path.is_some() {
                return Err(Error::config(
                    "auth type certificatePfx needs exactly one of pfxBase64 or pfxPath",
                ));
            }
        }
        AuthConfig::CertificatePem {
            certificate_pem,
            certificate_path,
            private_key_pem,
            private_key_path,
        } => {
            if certificate_pem.is_some() == certificate_path.is_some() {
                return Err(Error::config(
                    "auth type certificatePem needs exactly one of certificatePem or certificatePath",
                ));
            }
            if private_key_pem.is_some() == private_key_path.is_some() {
                return Err(Error::config(
                    "auth type certificatePem needs exactly one of privateKeyPem or privateKeyPath",
                ));
            }
        }
        AuthConfig::Signer
        | AuthConfig::ClientAssertion
        | AuthConfig::ManagedIdentity { .. }
        | AuthConfig::WorkloadIdentity { .. }
        | AuthConfig::ServiceAccountKey { .. } => {}
    }
    Ok(())
}

fn validate_http(options: &HttpOptions) -> Result<HttpSettings> {
    let timeout = options.timeout_seconds.unwrap_or(100);
    if !(1..=3600).contains(&timeout) {
        return Err(Error::config(
            "http.timeoutSeconds must be between 1 and 3600",
        ));
    }
    let connect_timeout = options.connect_timeout_seconds.unwrap_or(15);
    if !(1..=600).contains(&connect_timeout) {
        return Err(Error::config(
            "http.connectTimeoutSeconds must be between 1 and 600",
        ));
    }
    if let Some(proxy) = &options.proxy {
        // The proxy URL may carry credentials: never echo it.
        let url = Url::parse(proxy.expose())
            .map_err(|e| Error::config(format!("http.proxy is not a valid URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::config(
                "http.proxy must be an http:// or https:// URL with a host",
            ));
        }
    }
    let mut extra_roots = Vec::new();
    if let Some(pem_text) = &options.extra_ca_certificates_pem {
        let blocks = pem::parse_many(pem_text).map_err(|e| {
            Error::config(format!(
                "http.extraCaCertificatesPem is not valid PEM ({e})"
            ))
        })?;
        for block in blocks {
            if block.tag() == "CERTIFICATE" {
                x509_parser::parse_x509_certificate(block.contents()).map_err(|e| {
                    Error::config(format!(
                        "http.extraCaCertificatesPem holds an unreadable certificate ({e})"
                    ))
                })?;
                extra_roots.push(block.into_contents());
            }
        }
        if extra_roots.is_empty() {
            return Err(Error::config(
                "http.extraCaCertificatesPem holds no '-----BEGIN CERTIFICATE-----' block",
            ));
        }
    }
    let own_agent = concat!("pmp-mail/", env!("CARGO_PKG_VERSION"));
    let user_agent = match options.user_agent.as_deref().map(str::trim) {
        Some(ua) if !ua.is_empty() => {
            if !ua.chars().all(|c| (' '..='~').contains(&c)) {
                return Err(Error::config(
                    "http.userAgent must be printable ASCII (it becomes an HTTP header)",
                ));
            }
            format!("{ua} {own_agent}")
        }
        _ => own_agent.to_owned(),
    };
    Ok(HttpSettings {
        timeout: Duration::from_secs(timeout),
        connect_timeout: Duration::from_secs(connect_timeout),
        proxy: options.proxy.clone(),
        no_proxy: options.no_proxy.clone().unwrap_or_default(),
        use_system_proxy: options.use_system_proxy.unwrap_or(true),
        extra_roots,
        user_agent,
    })
}

fn validate_sending(options: &SendingOptions, defaults: SendingLimits) -> Result<SendingLimits> {
    let range = |field: &str, value: Option<u32>, default: usize, max: u32| match value {
        None => Ok(default),
        Some(v) if (1..=max).contains(&v) => Ok(v as usize),
        Some(v) => Err(Error::config(format!(
            "sending.{field} must be 1 to {max} (got {v})"
        ))),
    };
    Ok(SendingLimits {
        per_mailbox: range(
            "maxConcurrentPerMailbox",
            options.max_concurrent_per_mailbox,
            defaults.per_mailbox,
            16,
        )?,
        overall: range(
            "maxConcurrent",
            options.max_concurrent,
            defaults.overall,
            64,
        )?,
        mailbox_budget: range(
            "maxMessagesPerMailbox",
            options.max_messages_per_mailbox,
            defaults.mailbox_budget,
            1_000_000,
        )?,
        window: Duration::from_secs(range(
            "windowSeconds",
            options.window_seconds,
            defaults.window.as_secs() as usize,
            3600,
        )? as u64),
    })
}

fn validate_retry(options: &RetryOptions) -> Result<RetryPolicy> {
    let defaults = RetryPolicy::default();
    let max_attempts = options.max_attempts.unwrap_or(defaults.max_attempts);
    if !(1..=10).contains(&max_attempts) {
        return Err(Error::config("retry.maxAttempts must be between 1 and 10"));
    }
    let max_wait = options
        .max_total_wait_seconds
        .unwrap_or(defaults.max_total_wait.as_secs());
    if max_wait > 3600 {
        return Err(Error::config(
            "retry.maxTotalWaitSeconds must be at most 3600",
        ));
    }
    Ok(RetryPolicy {
        max_attempts,
        max_total_wait: Duration::from_secs(max_wait),
        retry_unknown_outcome: options.retry_unknown_outcome.unwrap_or(false),
    })
}

/// Splits the `tenant` field into a tenant id/domain and, for an authority URL, its host part.
fn parse_tenant(value: &str, allow_http_loopback: bool) -> Result<(String, Option<String>)> {
    if value.is_empty() {
        return Err(Error::config("tenant is empty").with_remedy(
            "Give the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com.",
        ));
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let url = Url::parse(value)
            .map_err(|e| Error::config(format!("tenant authority URL is invalid ({e})")))?;
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        let Some((tenant, rest)) = segments.split_first() else {
            return Err(Error::config(
                "tenant authority URL has no tenant: use https://login.microsoftonline.com/<tenant>",
            ));
        };
        let rest = rest.join("/").to_ascii_lowercase();
        if !matches!(
            rest.as_str(),
            "" | "v2.0" | "oauth2/v2.0" | "oauth2/v2.0/token"
        ) {
            return Err(Error::config(format!(
                "tenant authority URL has an unexpected path after the tenant ('{rest}'); use https://<login host>/<tenant>"
            )));
        }
        let tenant = validate_tenant_id(tenant)?;
        let mut origin = url.clone();
        origin.set_path("");
        origin.set_query(None);
        origin.set_fragment(None);
        let origin = parse_endpoint_url("tenant", origin.as_str(), allow_http_loopback)?;
        return Ok((tenant, Some(origin)));
    }
    Ok((validate_tenant_id(value)?, None))
}

fn validate_tenant_id(value: &str) -> Result<String> {
    let lower = value.to_ascii_lowercase();
    if matches!(lower.as_str(), "common" | "consumers" | "organizations") {
        return Err(Error::config(format!(
            "tenant '{lower}' is a multi-tenant alias; app-only (client credentials) tokens need a specific tenant"
        ))
        .with_remedy("Use the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com."));
    }
    if let Some(guid) = parse_guid(&lower) {
        if guid == "00000000-0000-0000-0000-000000000000" {
            return Err(Error::config("tenant may not be the empty GUID"));
        }
        return Ok(guid);
    }
    if is_dns_name(&lower) {
        return Ok(lower);
    }
    Err(Error::config(format!(
        "tenant '{}' is neither a GUID nor a domain name",
        truncate_for_message(value)
    ))
    .with_remedy(
        "Use the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com.",
    ))
}

/// The lower-case 8-4-4-4-12 form of a GUID, or None. Only that form is accepted (the length
/// pins it: uuid also reads the simple, braced and URN forms, which Entra never shows).
pub(crate) fn parse_guid(value: &str) -> Option<String> {
    if value.len() != 36 {
        return None;
    }
    let guid = Uuid::try_parse(value).ok()?;
    Some(guid.hyphenated().to_string())
}

fn is_dns_name(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// An endpoint override: https, or http only to loopback with `allowHttpLoopback`. Returns the
/// URL without a trailing slash.
fn parse_endpoint_url(field: &str, value: &str, allow_http_loopback: bool) -> Result<String> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::config(format!("{field} is not a valid URL ({e})")))?;
    if url.host().is_none() {
        return Err(Error::config(format!("{field} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "{field} may not contain credentials"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "{field} may not have a query or fragment"
        )));
    }
    let why = match check_transport(&url, allow_http_loopback) {
        Ok(()) => return Ok(url.as_str().trim_end_matches('/').to_owned()),
        Err(Insecure::HttpNotLoopback) => {
            "uses http://; only https:// is allowed (http only to loopback with allowHttpLoopback)"
                .to_owned()
        }
        Err(Insecure::HttpLoopbackNotAllowed) => {
            "uses http:// to loopback; set allowHttpLoopback: true to allow it".to_owned()
        }
        Err(Insecure::OtherScheme) => format!("has scheme '{}'; use https://", url.scheme()),
    };
    Err(Error::config(format!("{field} {why}")))
}

/// Why a URL breaks the transport rule of [`check_transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Insecure {
    /// `http://` to a host that is not loopback.
    HttpNotLoopback,
    /// `http://` to loopback without `allowHttpLoopback`.
    HttpLoopbackNotAllowed,
    /// Neither https nor http.
    OtherScheme,
}

/// The one transport rule for every URL we send to, configured or handed to us by Graph:
/// https, or http only to a loopback host (localhost, 127.0.0.0/8, ::1) and only with
/// `allowHttpLoopback` (emulators and tests).
pub(crate) fn check_transport(url: &Url, allow_http_loopback: bool) -> Result<(), Insecure> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                Err(Insecure::HttpNotLoopback)
            } else if !allow_http_loopback {
                Err(Insecure::HttpLoopbackNotAllowed)
            } else {
                Ok(())
            }
        }
        _ => Err(Insecure::OtherScheme),
    }
}

/// `local@domain.tld` without spaces, brackets or a display name: enough to catch a mix-up
/// (the message's own addresses get the full check when a message is prepared).
fn is_plain_address(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
}

fn truncate_for_message(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "11111111-1111-1111-1111-111111111111";
    const CLIENT: &str = "22222222-2222-2222-2222-222222222222";

    fn config(extra: &str) -> Result<ValidatedConfig> {
        let text = format!(
            r#"{{"tenant":"{TENANT}","clientId":"{CLIENT}","auth":{{"type":"clientSecret","secret":"s"}}{extra}}}"#
        );
        Config::from_json(&text)?.validate()
    }

    #[test]
    fn defaults_to_global_cloud() {
        let c = config("").unwrap();
        assert_eq!(c.endpoints.cloud, Cloud::Global);
        assert_eq!(
            c.endpoints.token_url,
            format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(c.endpoints.scope, "https://graph.microsoft.com/.default");
        assert_eq!(c.retry.max_attempts, 4);
        assert_eq!(c.token_refresh_margin, Duration::from_secs(300));
    }

    #[test]
    fn cloud_from_authority_url() {
        let text = format!(
            r#"{{"tenant":"https://login.microsoftonline.us/contoso.onmicrosoft.us","clientId":"{CLIENT}","cloud":"usGovDoD"}}"#
        );
        let c = Config::from_json(&text).unwrap().validate().unwrap();
        assert_eq!(c.endpoints.cloud, Cloud::UsGovDoD);
        assert_eq!(c.endpoints.graph_root, "https://dod-graph.microsoft.us");
        assert_eq!(c.endpoints.tenant, "contoso.onmicrosoft.us");
        let text = format!(
            r#"{{"tenant":"https://login.chinacloudapi.cn/{TENANT}/","clientId":"{CLIENT}"}}"#
        );
        let c = Config::from_json(&text).unwrap().validate().unwrap();
        assert_eq!(c.endpoints.cloud, Cloud::China);
        assert_eq!(
            c.endpoints.scope,
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        let text = format!(
            r#"{{"tenant":"https://login.chinacloudapi.cn/{TENANT}","clientId":"{CLIENT}","cloud":"global"}}"#
        );
        assert!(Config::from_json(&text).unwrap().validate().is_err());
    }

    #[test]
    fn rejects_multi_tenant_aliases() {
        for alias in ["common", "Organizations", "consumers"] {
            let text = format!(r#"{{"tenant":"{alias}","clientId":"{CLIENT}"}}"#);
            let e = Config::from_json(&text).unwrap().validate().unwrap_err();
            assert_eq!(e.status, crate::Status::InvalidConfig);
            assert!(e.message.contains("specific tenant"), "{}", e.message);
        }
    }

    #[test]
    fn rejects_bad_client_id_and_unknown_fields() {
        let text = format!(r#"{{"tenant":"{TENANT}","clientId":"nope"}}"#);
        assert!(Config::from_json(&text).unwrap().validate().is_err());
        let text = format!(r#"{{"tenant":"{TENANT}","clientId":"{CLIENT}","colud":"global"}}"#);
        let e = Config::from_json(&text).unwrap_err();
        assert_eq!(e.status, crate::Status::InvalidArgument);
        assert!(e.message.contains("colud"), "{}", e.message);
        let text = format!(
            r#"{{"tenant":"{TENANT}","clientId":"{CLIENT}","auth":{{"type":"clientSecret","secret":"x","extra":1}}}}"#
        );
        let e = Config::from_json(&text).unwrap_err();
        assert!(e.message.contains("extra"), "{}", e.message);
    }

    #[test]
    fn http_only_to_loopback_with_opt_in() {
        assert!(config(r#","authorityHost":"http://127.0.0.1:8080""#).is_err());
        assert!(
            config(r#","authorityHost":"http://127.0.0.1:8080","allowHttpLoopback":true"#).is_ok()
        );
        assert!(
            config(r#","authorityHost":"http://example.com","allowHttpLoopback":true"#).is_err()
        );
        let c = config(
            r#","authorityHost":"https://127.0.0.1:8443/","graphRoot":"https://127.0.0.1:8443""#,
        )
        .unwrap();
        assert_eq!(
            c.endpoints.token_url,
            format!("https://127.0.0.1:8443/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(c.endpoints.scope, "https://graph.microsoft.com/.default");
    }

    fn endpoints_for(tenant: &str, extra: &str) -> Result<Endpoints> {
        let text = format!(r#"{{"tenant":"{tenant}","clientId":"{CLIENT}"{extra}}}"#);
        Ok(Config::from_json(&text)?.validate()?.endpoints)
    }

    /// protocol.md A1: the login host decides the cloud, the Graph root and the scope.
    #[test]
    fn national_cloud_authorities() {
        let cases = [
            (
                "https://login.microsoftonline.us",
                Cloud::UsGov,
                "https://graph.microsoft.us",
            ),
            (
                "https://login.chinacloudapi.cn",
                Cloud::China,
                "https://microsoftgraph.chinacloudapi.cn",
            ),
            (
                "https://login.partner.microsoftonline.cn",
                Cloud::China,
                "https://microsoftgraph.chinacloudapi.cn",
            ),
            (
                "https://login.microsoftonline.com",
                Cloud::Global,
                "https://graph.microsoft.com",
            ),
        ];
        for (host, cloud, graph) in cases {
            let e = endpoints_for(&format!("{host}/{TENANT}"), "").unwrap();
            assert_eq!(e.cloud, cloud, "{host}");
            assert_eq!(e.graph_root, graph, "{host}");
            assert_eq!(e.scope, format!("{graph}/.default"), "{host}");
            assert_eq!(e.authority_host, host);
            assert_eq!(e.token_url, format!("{host}/{TENANT}/oauth2/v2.0/token"));
            assert_eq!(e.tenant, TENANT);
            // The same through authorityHost instead of an authority URL as tenant.
            let e = endpoints_for(TENANT, &format!(r#","authorityHost":"{host}""#)).unwrap();
            assert_eq!((e.cloud, e.graph_root.as_str()), (cloud, graph), "{host}");
        }
    }

    #[test]
    fn explicit_cloud_picks_endpoints() {
        let e = endpoints_for(TENANT, r#","cloud":"usGovDoD""#).unwrap();
        assert_eq!(e.cloud, Cloud::UsGovDoD);
        assert_eq!(e.graph_root, "https://dod-graph.microsoft.us");
        assert_eq!(e.scope, "https://dod-graph.microsoft.us/.default");
        assert_eq!(
            e.token_url,
            format!("https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/token")
        );
        let e = endpoints_for(
            &format!("https://login.microsoftonline.us/{TENANT}"),
            r#","cloud":"usGovDoD""#,
        )
        .unwrap();
        assert_eq!(e.graph_root, "https://dod-graph.microsoft.us");
        let e = endpoints_for(TENANT, r#","cloud":"usGov""#).unwrap();
        assert_eq!(e.scope, "https://graph.microsoft.us/.default");
        let e = endpoints_for(TENANT, r#","cloud":"china""#).unwrap();
        assert_eq!(
            e.token_url,
            format!("https://login.chinacloudapi.cn/{TENANT}/oauth2/v2.0/token")
        );
        // A graphRoot override keeps the cloud's scope.
        let e = endpoints_for(
            TENANT,
            r#","cloud":"usGovDoD","graphRoot":"https://127.0.0.1:9""#,
        )
        .unwrap();
        assert_eq!(e.graph_root, "https://127.0.0.1:9");
        assert_eq!(e.scope, "https://dod-graph.microsoft.us/.default");
        let e = endpoints_for(
            &format!("https://login.microsoftonline.us/{TENANT}"),
            r#","cloud":"china""#,
        )
        .unwrap_err();
        assert!(e.message.contains("usGov cloud"), "{}", e.message);
    }

    #[test]
    fn http_endpoints_only_to_loopback_with_opt_in() {
        let allow = r#","allowHttpLoopback":true"#;
        for url in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:8080",
        ] {
            for field in ["authorityHost", "graphRoot"] {
                let opt_in = format!(r#","{field}":"{url}"{allow}"#);
                assert!(endpoints_for(TENANT, &opt_in).is_ok(), "{field} {url}");
                let e = endpoints_for(TENANT, &format!(r#","{field}":"{url}""#)).unwrap_err();
                assert!(e.message.contains("allowHttpLoopback"), "{}", e.message);
                assert!(e.message.contains(field), "{}", e.message);
            }
            let e = endpoints_for(&format!("{url}/{TENANT}"), allow).unwrap();
            assert_eq!(e.token_url, format!("{url}/{TENANT}/oauth2/v2.0/token"));
            assert!(endpoints_for(&format!("{url}/{TENANT}"), "").is_err());
        }
        for url in [
            "http://example.com",
            "http://10.0.0.1:8080",
            "http://login.microsoftonline.com",
        ] {
            for field in ["authorityHost", "graphRoot"] {
                let e =
                    endpoints_for(TENANT, &format!(r#","{field}":"{url}"{allow}"#)).unwrap_err();
                assert!(e.message.contains("only https://"), "{}", e.message);
            }
            assert!(endpoints_for(&format!("{url}/{TENANT}"), allow).is_err());
        }
        let e = endpoints_for(TENANT, r#","graphRoot":"ftp://127.0.0.1""#).unwrap_err();
        assert!(e.message.contains("scheme 'ftp'"), "{}", e.message);
    }

    #[test]
    fn tenant_errors_name_the_value_and_the_reason() {
        for alias in ["common", "consumers", "organizations"] {
            for tenant in [
                alias.to_owned(),
                format!("https://login.microsoftonline.com/{alias}"),
            ] {
                let e = endpoints_for(&tenant, "").unwrap_err();
                assert!(e.message.contains(&format!("'{alias}'")), "{}", e.message);
                assert!(e.message.contains("multi-tenant alias"), "{}", e.message);
                assert!(e.message.contains("client credentials"), "{}", e.message);
                assert!(e.remedy.as_deref().unwrap().contains("GUID"));
            }
        }
        for bad in [
            "contoso",
            "not_a_tenant",
            "bad..example.com",
            "-x.example.com",
        ] {
            let e = endpoints_for(bad, "").unwrap_err();
            assert_eq!(e.status, crate::Status::InvalidConfig);
            assert!(
                e.message
                    .contains(&format!("'{bad}' is neither a GUID nor a domain name")),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn serde_errors_hide_string_values() {
        let text = format!(
            r#"{{"tenant":"{TENANT}","clientId":"{CLIENT}","retry":{{"maxAttempts":"topsecret"}}}}"#
        );
        let e = Config::from_json(&text).unwrap_err();
        assert!(!e.message.contains("topsecret"), "{}", e.message);
    }

    #[test]
    fn guids_only_in_the_hyphenated_form() {
        assert_eq!(
            parse_guid("AAAAAAAA-1111-1111-1111-11111111111B").as_deref(),
            Some("aaaaaaaa-1111-1111-1111-11111111111b")
        );
        for other in [
            "aaaaaaaa111111111111111111111111",
            "{aaaaaaaa-1111-1111-1111-111111111111}",
            "urn:uuid:aaaaaaaa-1111-1111-1111-111111111111",
            "aaaaaaaa-1111-1111-1111-11111111111g",
            "aaaaaaaa1-111-1111-1111-111111111111",
            "aaaaaaaa-1111-1111-1111-1111111111111",
        ] {
            assert_eq!(parse_guid(other), None, "{other}");
        }
    }

    #[test]
    fn managed_identity_needs_no_tenant_and_no_app_client_id() {
        let env = AzureEnvironment::default();
        let parse = |text: &str| Config::from_json(text).unwrap().validate_in(&env);
        let c = parse(r#"{"auth":{"type":"managedIdentity"}}"#).unwrap();
        assert!(matches!(c.identity, Identity::ManagedIdentity(_)));
        assert_eq!(c.client_id, "");
        let c = parse(r#"{"tenant":"contoso.onmicrosoft.com","cloud":"usGov","auth":{"type":"managedIdentity","clientId":"A0000000-0000-0000-0000-000000000001"}}"#).unwrap();
        assert_eq!(c.client_id, "a0000000-0000-0000-0000-000000000001");
        let Identity::ManagedIdentity(mi) = &c.identity else {
            panic!()
        };
        assert_eq!(mi.resource, "https://graph.microsoft.us");
        let e = parse(&format!(
            r#"{{"clientId":"{CLIENT}","auth":{{"type":"managedIdentity"}}}}"#
        ))
        .unwrap_err();
        assert!(
            e.message.contains("clientId must be absent"),
            "{}",
            e.message
        );
        assert!(e.remedy.as_deref().unwrap().contains("auth.clientId"));
        let e = parse(r#"{"tenant":"common","auth":{"type":"managedIdentity"}}"#).unwrap_err();
        assert!(e.message.contains("multi-tenant"), "{}", e.message);
        assert!(
            Config::from_json(r#"{"auth":{"type":"managedIdentity","source":"cloudShell"}}"#)
                .is_err()
        );
    }

    #[test]
    fn app_credentials_still_need_tenant_and_client_id() {
        let env = AzureEnvironment::default();
        let e = Config::from_json(r#"{"clientId":"22222222-2222-2222-2222-222222222222","auth":{"type":"clientSecret","secret":"s"}}"#)
            .unwrap()
            .validate_in(&env)
            .unwrap_err();
        assert_eq!(e.message, "tenant is missing");
        let e = Config::from_json(&format!(
            r#"{{"tenant":"{TENANT}","auth":{{"type":"clientSecret","secret":"s"}}}}"#
        ))
        .unwrap()
        .validate_in(&env)
        .unwrap_err();
        assert_eq!(e.message, "clientId is missing");
        let e = config(r#","endpoints":{"imdsBaseUrl":"http://127.0.0.1:1"}"#).unwrap_err();
        assert!(
            e.message.contains("only to auth type managedIdentity"),
            "{}",
            e.message
        );
    }

    #[test]
    fn workload_identity_defaults_from_the_environment() {
        let text = r#"{"auth":{"type":"workloadIdentity"}}"#;
        let config = Config::from_json(text).unwrap();
        let e = config
            .validate_in(&AzureEnvironment::default())
            .unwrap_err();
        assert!(e.message.contains("AZURE_CLIENT_ID"), "{}", e.message);
        let env = AzureEnvironment {
            client_id: Some(CLIENT.into()),
            tenant_id: Some(TENANT.into()),
            federated_token_file: Some("/var/run/secrets/azure/tokens/azure-identity-token".into()),
            ..Default::default()
        };
        let c = config.validate_in(&env).unwrap();
        assert_eq!(c.client_id, CLIENT);
        assert_eq!(c.endpoints.tenant, TENANT);
        assert!(
            matches!(&c.identity, Identity::WorkloadIdentity { token_file } if token_file.ends_with("azure-identity-token"))
        );
        let no_file = AzureEnvironment {
            federated_token_file: None,
            ..env.clone()
        };
        let e = config.validate_in(&no_file).unwrap_err();
        assert!(
            e.message.contains("AZURE_FEDERATED_TOKEN_FILE"),
            "{}",
            e.message
        );
        // Config fields win over the environment.
        let text = format!(
            r#"{{"tenant":"contoso.onmicrosoft.com","clientId":"{CLIENT}","auth":{{"type":"workloadIdentity","tokenFile":"/tmp/t"}}}}"#
        );
        let c = Config::from_json(&text).unwrap().validate_in(&env).unwrap();
        assert_eq!(c.endpoints.tenant, "contoso.onmicrosoft.com");
        assert!(
            matches!(&c.identity, Identity::WorkloadIdentity { token_file } if token_file == "/tmp/t")
        );
    }

    #[test]
    fn sending_limits_default_to_graphs_and_are_bounded() {
        let c = config("").unwrap();
        assert_eq!(c.sending, SendingLimits::default());
        assert_eq!(c.sending.mailbox_budget, 10_000);
        assert_eq!(c.sending.window, Duration::from_secs(600));
        let c = config(
            r#","sending":{"maxConcurrentPerMailbox":1,"maxConcurrent":64,"maxMessagesPerMailbox":30,"windowSeconds":60}"#,
        )
        .unwrap();
        assert_eq!(
            c.sending,
            SendingLimits {
                per_mailbox: 1,
                overall: 64,
                mailbox_budget: 30,
                window: Duration::from_secs(60),
            }
        );
        for bad in [
            r#","sending":{"maxConcurrentPerMailbox":0}"#,
            r#","sending":{"maxConcurrentPerMailbox":17}"#,
            r#","sending":{"maxConcurrent":65}"#,
            r#","sending":{"maxMessagesPerMailbox":0}"#,
            r#","sending":{"windowSeconds":3601}"#,
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.message.contains("sending."), "{}", e.message);
        }
    }

    fn google(extra: &str) -> Result<ValidatedConfig> {
        let text = format!(
            r#"{{"provider":"googleWorkspace","auth":{{"type":"serviceAccountKey","keyPath":"/k.json"}}{extra}}}"#
        );
        Config::from_json(&text)?.validate()
    }

    #[test]
    fn google_workspace_defaults_and_overrides() {
        let c = google("").unwrap();
        assert_eq!(c.provider, Provider::GoogleWorkspace);
        assert_eq!(c.endpoints.token_url, GOOGLE_TOKEN_URI);
        assert_eq!(c.endpoints.graph_root, GMAIL_ROOT);
        assert_eq!(c.endpoints.scope, GMAIL_SEND_SCOPE);
        // Gmail's per-user quota, not Exchange Online's budget; a given value still wins.
        assert_eq!(
            (c.sending.mailbox_budget, c.sending.window),
            (150, Duration::from_secs(60))
        );
        let own = google(r#","sending":{"maxMessagesPerMailbox":500}"#).unwrap();
        assert_eq!(
            (own.sending.mailbox_budget, own.sending.window),
            (500, Duration::from_secs(60))
        );
        let g = c.google.unwrap();
        assert_eq!((g.impersonate, g.token_uri), (None, None));
        let c = google(
            r#","google":{"impersonate":"Alerts@Example.com","tokenUri":"https://127.0.0.1:9/token","gmailRoot":"https://127.0.0.1:9/"}"#,
        )
        .unwrap();
        let g = c.google.unwrap();
        assert_eq!(g.impersonate.as_deref(), Some("Alerts@Example.com"));
        assert_eq!(g.token_uri.as_deref(), Some("https://127.0.0.1:9/token"));
        assert_eq!(g.gmail_root, "https://127.0.0.1:9");
        // The transport rule of every endpoint.
        for field in ["tokenUri", "gmailRoot"] {
            let e =
                google(&format!(r#","google":{{"{field}":"http://127.0.0.1:9"}}"#)).unwrap_err();
            assert!(e.message.contains("allowHttpLoopback"), "{}", e.message);
            assert!(
                google(&format!(
                    r#","allowHttpLoopback":true,"google":{{"{field}":"http://127.0.0.1:9"}}"#
                ))
                .is_ok()
            );
        }
        for bad in ["Ann <a@example.com>", "nobody", "a@b"] {
            let e = google(&format!(r#","google":{{"impersonate":"{bad}"}}"#)).unwrap_err();
            assert!(e.message.contains("google.impersonate"), "{}", e.message);
        }
    }

    #[test]
    fn google_workspace_refuses_what_belongs_to_entra_and_the_other_way_round() {
        for (extra, named) in [
            (r#","tenant":"contoso.onmicrosoft.com""#, "tenant"),
            (r#","cloud":"global""#, "cloud"),
            (r#","graphRoot":"https://127.0.0.1:9""#, "graphRoot"),
            (r#","assertionAlgorithm":"RS256""#, "assertionAlgorithm"),
            (
                r#","google":{"serviceAccountEmail":"a@b.iam.gserviceaccount.com"}"#,
                "serviceAccountEmail",
            ),
        ] {
            let e = google(extra).unwrap_err();
            assert_eq!(e.status, crate::Status::InvalidConfig);
            assert!(e.message.contains(named), "{extra}: {}", e.message);
        }
        let parse = |text: &str| Config::from_json(text).unwrap().validate();
        let e = parse(r#"{"provider":"googleWorkspace","auth":{"type":"serviceAccountKey"}}"#)
            .unwrap_err();
        assert!(
            e.message.contains("exactly one of keyPath or keyJson"),
            "{}",
            e.message
        );
        let e = parse(r#"{"provider":"googleWorkspace","auth":{"type":"managedIdentity"}}"#)
            .unwrap_err();
        assert!(
            e.message
                .contains("managedIdentity is an Entra ID credential"),
            "{}",
            e.message
        );
        let e = parse(r#"{"provider":"googleWorkspace","auth":{"type":"signer"}}"#).unwrap_err();
        assert!(
            e.message.contains("google.serviceAccountEmail"),
            "{}",
            e.message
        );
        assert!(parse(r#"{"provider":"googleWorkspace","auth":{"type":"signer"},"google":{"serviceAccountEmail":"s@p.iam.gserviceaccount.com","privateKeyId":"abc"}}"#).is_ok());
        let e = config(r#","google":{}"#).unwrap_err();
        assert!(e.message.contains("googleWorkspace"), "{}", e.message);
        let text = format!(
            r#"{{"tenant":"{TENANT}","clientId":"{CLIENT}","auth":{{"type":"serviceAccountKey","keyPath":"/k"}}}}"#
        );
        let e = parse(&text).unwrap_err();
        assert!(
            e.message.contains("needs provider googleWorkspace"),
            "{}",
            e.message
        );
        assert!(Config::from_json(r#"{"provider":"gmail"}"#).is_err());
    }

    #[test]
    fn tenant_forms() {
        assert!(validate_tenant_id("contoso.onmicrosoft.com").is_ok());
        assert!(validate_tenant_id("contoso").is_err());
        assert!(validate_tenant_id("00000000-0000-0000-0000-000000000000").is_err());
        assert_eq!(
            validate_tenant_id("AAAAAAAA-1111-1111-1111-111111111111").unwrap(),
            "aaaaaaaa-1111-1111-1111-111111111111"
        );
    }
}
