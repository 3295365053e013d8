//! Managed identity: which local endpoint issues the token (App Service, IMDS, Azure Arc), the
//! request each one takes, its answer and its errors. Wire facts: design reference
//! `google-and-managed-identity.md` B0-B7; the detection order is MSAL's and the Azure SDKs'.
//!
//! - Detection (`source: auto`): IDENTITY_ENDPOINT + IDENTITY_HEADER → App Service;
//!   IDENTITY_ENDPOINT + IMDS_ENDPOINT → Azure Arc; otherwise IMDS. The variables are read once,
//!   when the client is created; config fields under `endpoints` take precedence.
//! - The endpoints are local to the machine: loopback, or IMDS's link-local 169.254.169.254.
//!   Anything else is refused, so the identity header or the Arc key never leaves the machine.
//! - Requests bypass every proxy and connect with a short timeout; the platform's retry guidance
//!   (404, 408, 410, 429, 5xx) runs within the config's retry budget ([`Idempotency::ManagedIdentity`]).
//! - Azure Arc's challenge names a key file; it is read only from the agent's key directory
//!   (`/var/opt/azcmagent/tokens`, `%ProgramData%\AzureConnectedMachineAgent\Tokens`), only
//!   when it is a `.key` file of at most 4 KiB.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use url::Url;

use crate::config::{
    AzureEnvironment, EndpointOverrides, HttpSettings, ManagedIdentitySource, RetryPolicy,
};
use crate::error::{Error, Result, Status};
use crate::http::{Http, HttpResponse, Idempotency};
use crate::logging::OpLog;
use crate::secret::Secret;
use crate::token_cache::Fingerprint;

/// The documented IMDS address.
pub const DEFAULT_IMDS_BASE_URL: &str = "http://169.254.169.254";
/// IMDS's token path (also the Arc agent's).
pub const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// The Arc agent's token endpoint when IDENTITY_ENDPOINT is not set.
pub const DEFAULT_ARC_ENDPOINT: &str = "http://127.0.0.1:40342/metadata/identity/oauth2/token";
/// The largest Arc key file read (MSAL's limit).
pub const MAX_ARC_KEY_BYTES: u64 = 4096;
/// Managed-identity endpoints are local: a connection that is not made in this time will not be.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

const APP_SERVICE_API_VERSION: &str = "2019-08-01";
const IMDS_API_VERSION: &str = "2018-02-01";
const ARC_API_VERSION: &str = "2020-06-01";

/// How a user-assigned identity is named.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the names the platforms use
pub enum Selector {
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

impl Selector {
    fn describe(&self) -> String {
        match self {
            Selector::ClientId(v) => format!("the user-assigned identity with client id {v}"),
            Selector::ObjectId(v) => format!("the user-assigned identity with object id {v}"),
            Selector::ResourceId(v) => format!("the user-assigned identity {v}"),
        }
    }
}

/// The source chosen, with what it needs.
#[derive(Debug, Clone)]
pub enum Source {
    AppService { endpoint: String, header: Secret },
    Imds { token_url: String },
    Arc { endpoint: String, key_dir: PathBuf },
}

impl Source {
    pub fn name(&self) -> &'static str {
        match self {
            Source::AppService { .. } => "App Service",
            Source::Imds { .. } => "IMDS",
            Source::Arc { .. } => "Azure Arc",
        }
    }
}

/// A validated managed-identity configuration. It holds the App Service identity header (a
/// local secret the platform rotates): Debug shows it redacted.
#[derive(Debug, Clone)]
pub struct ManagedIdentitySettings {
    pub source: Source,
    pub selector: Option<Selector>,
    /// The v1 resource: the cloud's Graph root, without `/.default`.
    pub resource: String,
}

impl ManagedIdentitySettings {
    /// What identifies this identity in the process-wide token cache: the source and its
    /// endpoint (with App Service's identity header, or Arc's key directory), the selector and
    /// the resource.
    pub(crate) fn cache_fingerprint(&self) -> Fingerprint {
        let fingerprint = Fingerprint::new("managed identity");
        let fingerprint = match &self.source {
            Source::AppService { endpoint, header } => fingerprint
                .part(b"appService")
                .part(endpoint.as_bytes())
                .part(header.expose().as_bytes()),
            Source::Imds { token_url } => fingerprint.part(b"imds").part(token_url.as_bytes()),
            Source::Arc { endpoint, key_dir } => fingerprint
                .part(b"arc")
                .part(endpoint.as_bytes())
                .part(key_dir.as_os_str().as_encoded_bytes()),
        };
        let selector = match &self.selector {
            None => None,
            Some(Selector::ClientId(v)) => Some(format!("clientId:{v}")),
            Some(Selector::ObjectId(v)) => Some(format!("objectId:{v}")),
            Some(Selector::ResourceId(v)) => Some(format!("resourceId:{v}")),
        };
        fingerprint
            .optional(selector.as_deref().map(str::as_bytes))
            .part(self.resource.as_bytes())
    }
}

/// The `auth` fields of a managedIdentity section.
pub(crate) struct AuthFields<'a> {
    pub client_id: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub source: ManagedIdentitySource,
}

/// Resolves a managedIdentity section against the overrides and the environment.
pub(crate) fn resolve(
    auth: AuthFields<'_>,
    overrides: &EndpointOverrides,
    env: &AzureEnvironment,
    resource: &str,
) -> Result<ManagedIdentitySettings> {
    let selector = selector(&auth)?;
    let identity_endpoint = overrides
        .identity_endpoint
        .clone()
        .or_else(|| env.identity_endpoint.clone());
    let identity_header = overrides
        .identity_header
        .clone()
        .or_else(|| env.identity_header.clone());
    let imds_endpoint = overrides
        .imds_endpoint
        .clone()
        .or_else(|| env.imds_endpoint.clone());
    let source = match auth.source {
        ManagedIdentitySource::Auto => match (&identity_endpoint, &identity_header, &imds_endpoint)
        {
            (Some(_), Some(_), _) => ManagedIdentitySource::AppService,
            _ if env.msi_endpoint.is_some() => return Err(cloud_shell_error()),
            (Some(_), None, Some(_)) => ManagedIdentitySource::Arc,
            (None, _, _) if env.arc_agent_installed => ManagedIdentitySource::Arc,
            _ => ManagedIdentitySource::Imds,
        },
        explicit => explicit,
    };
    let source = match source {
        ManagedIdentitySource::AppService => {
            let (Some(endpoint), Some(header)) = (identity_endpoint, identity_header) else {
                return Err(Error::config(
                    "auth source appService needs IDENTITY_ENDPOINT and IDENTITY_HEADER (set by App Service, Functions and Automation), or endpoints.identityEndpoint and endpoints.identityHeader",
                )
                .with_remedy("Turn on the managed identity of the App Service or Function app (Identity > System assigned > On, or add a user-assigned identity); the platform then sets both variables. Outside Azure, use a client secret or certificate."));
            };
            if header.expose().trim().is_empty() {
                return Err(Error::config(
                    "the identity header (IDENTITY_HEADER) is empty",
                ));
            }
            Source::AppService {
                endpoint: local_endpoint(
                    "endpoints.identityEndpoint (IDENTITY_ENDPOINT)",
                    &endpoint,
                )?,
                header,
            }
        }
        ManagedIdentitySource::Arc => {
            if let Some(selector) = &selector {
                return Err(Error::config(format!(
                    "Azure Arc supports only the system-assigned identity, but the config selects {}",
                    selector.describe()
                ))
                .with_remedy("Remove auth.clientId, auth.objectId and auth.resourceId."));
            }
            let endpoint = identity_endpoint.unwrap_or_else(|| DEFAULT_ARC_ENDPOINT.to_owned());
            let key_dir = match &overrides.arc_key_directory {
                Some(dir) => PathBuf::from(dir),
                None => default_arc_key_dir()?,
            };
            Source::Arc {
                endpoint: local_endpoint(
                    "endpoints.identityEndpoint (IDENTITY_ENDPOINT)",
                    &endpoint,
                )?,
                key_dir,
            }
        }
        ManagedIdentitySource::Imds | ManagedIdentitySource::Auto => {
            let base = overrides
                .imds_base_url
                .as_deref()
                .or(env.imds_authority_host.as_deref())
                .unwrap_or(DEFAULT_IMDS_BASE_URL);
            let base = local_endpoint(
                "endpoints.imdsBaseUrl (AZURE_POD_IDENTITY_AUTHORITY_HOST)",
                base,
            )?;
            Source::Imds {
                token_url: format!("{base}{IMDS_TOKEN_PATH}"),
            }
        }
    };
    Ok(ManagedIdentitySettings {
        source,
        selector,
        resource: resource.to_owned(),
    })
}

fn selector(auth: &AuthFields<'_>) -> Result<Option<Selector>> {
    let given: Vec<&str> = [
        auth.client_id.map(|_| "clientId"),
        auth.object_id.map(|_| "objectId"),
        auth.resource_id.map(|_| "resourceId"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        return Err(Error::config(format!(
            "auth type managedIdentity takes at most one of clientId, objectId, resourceId; the config gives {}",
            given.join(" and ")
        )));
    }
    let guid = |field: &str, value: &str| {
        crate::config::parse_guid(value.trim()).ok_or_else(|| {
            Error::config(format!("auth.{field} of a managed identity must be a GUID")).with_remedy(
                "Copy it from the identity's Overview page (Client ID or Object (principal) ID).",
            )
        })
    };
    Ok(if let Some(v) = auth.client_id {
        Some(Selector::ClientId(guid("clientId", v)?))
    } else if let Some(v) = auth.object_id {
        Some(Selector::ObjectId(guid("objectId", v)?))
    } else if let Some(v) = auth.resource_id {
        let v = v.trim();
        if !v.to_ascii_lowercase().starts_with("/subscriptions/")
            || !v
                .to_ascii_lowercase()
                .contains("/providers/microsoft.managedidentity/userassignedidentities/")
        {
            return Err(Error::config(
                "auth.resourceId must be an ARM resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>",
            ));
        }
        Some(Selector::ResourceId(v.to_owned()))
    } else {
        None
    })
}

/// A managed-identity endpoint URL: http or https, and only to loopback or IMDS's link-local
/// address. Returns it without a trailing slash.
fn local_endpoint(field: &str, value: &str) -> Result<String> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::config(format!("{field} is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "{field} has scheme '{}'; use http:// or https://",
            url.scheme()
        )));
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
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip == std::net::Ipv4Addr::new(169, 254, 169, 254)
        }
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !local {
        return Err(Error::config(format!(
            "{field} must be a local endpoint (localhost, 127.0.0.0/8, ::1 or 169.254.169.254): managed-identity secrets never leave the machine"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// MSI_ENDPOINT alone is Azure Cloud Shell (with MSI_SECRET, Azure Machine Learning): neither
/// is a managed identity this library can send mail as. Cloud Shell's endpoint issues tokens
/// of the signed-in portal user, and the Azure SDKs' fallback to IMDS would only time out.
fn cloud_shell_error() -> Error {
    Error::config(
        "MSI_ENDPOINT is set: this is Azure Cloud Shell (or an Azure Machine Learning compute), whose endpoint issues tokens for the signed-in user or the compute, not a managed identity that holds Mail.Send",
    )
    .with_remedy("Run the script where it will run unattended (an Automation account, a Function, a VM with a managed identity); to try it from Cloud Shell, use the app registration's client secret or certificate.")
}

/// The Azure Connected Machine agent's binary; when it exists the host is an Arc-enabled
/// server (MSAL's fallback detection).
pub(crate) fn arc_agent_path() -> Option<PathBuf> {
    if cfg!(windows) {
        let program_files =
            std::env::var("ProgramFiles").unwrap_or_else(|_| r"C:\Program Files".to_owned());
        Some(
            Path::new(&program_files)
                .join("AzureConnectedMachineAgent")
                .join("himds.exe"),
        )
    } else if cfg!(target_os = "linux") {
        Some(PathBuf::from("/opt/azcmagent/bin/himds"))
    } else {
        None
    }
}

/// Where the Arc agent writes its key files.
fn default_arc_key_dir() -> Result<PathBuf> {
    if cfg!(windows) {
        let program_data =
            std::env::var("ProgramData").unwrap_or_else(|_| r"C:\ProgramData".to_owned());
        Ok(Path::new(&program_data)
            .join("AzureConnectedMachineAgent")
            .join("Tokens"))
    } else if cfg!(target_os = "linux") {
        Ok(PathBuf::from("/var/opt/azcmagent/tokens"))
    } else {
        Err(Error::config(
            "Azure Arc managed identity is supported on Linux and Windows only",
        ))
    }
}

/// A token the endpoint issued, with its timing.
pub(crate) struct Issued {
    pub token: Secret,
    pub lifetime: Duration,
    pub refresh_in: Option<Duration>,
    pub client_request_id: String,
    pub attempts: u32,
}

/// Fetches managed-identity tokens over its own HTTP client (no proxy, short connect timeout).
#[derive(Debug)]
pub struct ManagedIdentityClient {
    settings: ManagedIdentitySettings,
    http: Http,
}

impl ManagedIdentityClient {
    pub(crate) fn new(
        settings: ManagedIdentitySettings,
        http_settings: &HttpSettings,
        retry: RetryPolicy,
    ) -> Result<ManagedIdentityClient> {
        let mut local = http_settings.clone();
        local.proxy = None;
        local.no_proxy = Vec::new();
        local.use_system_proxy = false;
        local.connect_timeout = local.connect_timeout.min(CONNECT_TIMEOUT);
        let http = Http::new(&local, retry, true)?;
        Ok(ManagedIdentityClient { settings, http })
    }

    pub fn settings(&self) -> &ManagedIdentitySettings {
        &self.settings
    }

    pub(crate) async fn fetch(&self, log: &mut OpLog) -> Result<Issued> {
        let settings = &self.settings;
        let what = format!(
            "managed identity token request ({})",
            settings.source.name()
        );
        let mut query: Vec<(&str, String)> = vec![("resource", settings.resource.clone())];
        let response = match &settings.source {
            Source::AppService { endpoint, header } => {
                query.push(("api-version", APP_SERVICE_API_VERSION.into()));
                match &settings.selector {
                    Some(Selector::ClientId(v)) => query.push(("client_id", v.clone())),
                    Some(Selector::ObjectId(v)) => query.push(("principal_id", v.clone())),
                    Some(Selector::ResourceId(v)) => query.push(("mi_res_id", v.clone())),
                    None => {}
                }
                self.get(&what, endpoint, &query, log, |r| {
                    r.header("X-IDENTITY-HEADER", header.expose())
                })
                .await?
            }
            Source::Imds { token_url } => {
                query.push(("api-version", IMDS_API_VERSION.into()));
                match &settings.selector {
                    Some(Selector::ClientId(v)) => query.push(("client_id", v.clone())),
                    Some(Selector::ObjectId(v)) => query.push(("object_id", v.clone())),
                    Some(Selector::ResourceId(v)) => query.push(("msi_res_id", v.clone())),
                    None => {}
                }
                self.get(&what, token_url, &query, log, |r| {
                    r.header("Metadata", "true")
                })
                .await?
            }
            Source::Arc { endpoint, key_dir } => {
                query.push(("api-version", ARC_API_VERSION.into()));
                let challenge = self
                    .get(&what, endpoint, &query, log, |r| {
                        r.header("Metadata", "true")
                    })
                    .await?;
                if challenge.status != 401 {
                    return Err(if challenge.is_success() {
                        Error::new(
                            Status::AuthenticationFailed,
                            "the Azure Arc endpoint issued a token without its key-file challenge; refusing it",
                        )
                    } else {
                        endpoint_error(&challenge, settings)
                    });
                }
                let key = read_arc_key(challenge.www_authenticate.as_deref(), key_dir)?;
                self.get(&what, endpoint, &query, log, |r| {
                    r.header("Metadata", "true")
                        .header("Authorization", format!("Basic {}", key.expose()))
                })
                .await?
            }
        };
        if !response.is_success() {
            return Err(endpoint_error(&response, settings));
        }
        let lifetime_and_refresh = parse_token_response(&response.body, SystemTime::now());
        let (token, lifetime, refresh_in) = lifetime_and_refresh.map_err(|message| {
            let mut e = Error::new(
                Status::AuthenticationFailed,
                format!(
                    "the {} managed-identity endpoint answered 2xx without a usable token: {message}",
                    settings.source.name()
                ),
            );
            e.http_status = Some(response.status);
            e
        })?;
        log.info(format!(
            "managed identity token from {} (client-request-id {}, {} attempt(s), lifetime {} s)",
            settings.source.name(),
            response.client_request_id,
            response.attempts,
            lifetime.as_secs()
        ));
        Ok(Issued {
            token,
            lifetime,
            refresh_in,
            client_request_id: response.client_request_id,
            attempts: response.attempts,
        })
    }

    async fn get(
        &self,
        what: &str,
        url: &str,
        query: &[(&str, String)],
        log: &mut OpLog,
        decorate: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<HttpResponse> {
        let started = std::time::Instant::now();
        let mut full = Url::parse(url).map_err(|e| {
            Error::config(format!(
                "the managed-identity endpoint is not a valid URL ({e})"
            ))
        })?;
        full.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        self.http
            .execute(what, Idempotency::ManagedIdentity, log, |client| {
                decorate(client.get(full.clone()))
            })
            .await
            .map_err(|failure| {
                let mut e = failure.into_error(&format!(
                    "no answer from the {} managed-identity endpoint {}",
                    self.settings.source.name(),
                    crate::http::redact_url(url)
                ));
                e.remedy = Some(no_endpoint_remedy(&self.settings.source));
                e.duration_ms = Some(started.elapsed().as_millis() as u64);
                e
            })
    }
}

fn no_endpoint_remedy(source: &Source) -> String {
    match source {
        Source::Imds { .. } => "IMDS (169.254.169.254) did not answer, so this does not look like an Azure VM or scale set with a managed identity. On App Service or Functions, IDENTITY_ENDPOINT and IDENTITY_HEADER must be set (turn the identity on); on an Arc-enabled server, IDENTITY_ENDPOINT and IMDS_ENDPOINT; elsewhere use a client secret, a certificate or workload identity.".into(),
        Source::AppService { .. } => "The App Service identity endpoint (IDENTITY_ENDPOINT) did not answer. It is only reachable inside the App Service or Function app that set it; restart the app if the variable is stale.".into(),
        Source::Arc { .. } => "The Azure Arc agent (himds) did not answer: check that the Connected Machine agent is running (azcmagent show).".into(),
    }
}

/// Reads the key file that Arc's `WWW-Authenticate: Basic realm=<path>` names, only from
/// `key_dir`, only a `.key` file of at most 4 KiB.
fn read_arc_key(challenge: Option<&str>, key_dir: &Path) -> Result<Secret> {
    let refuse = |why: String| {
        Error::new(Status::AuthenticationFailed, format!("Azure Arc managed identity: {why}"))
            .with_remedy("The key file must be in the Arc agent's key directory (/var/opt/azcmagent/tokens on Linux, %ProgramData%\\AzureConnectedMachineAgent\\Tokens on Windows); reading it needs membership of the himds group (Linux) or the local Administrators or 'Hybrid Agent Extension Applications' group (Windows).")
    };
    let challenge = challenge.ok_or_else(|| {
        refuse("the endpoint answered 401 without the expected WWW-Authenticate header".into())
    })?;
    let path = challenge
        .trim()
        .strip_prefix("Basic realm=")
        .or_else(|| challenge.trim().strip_prefix("basic realm="))
        .ok_or_else(|| refuse("the WWW-Authenticate header did not match the expected format 'Basic realm=<key file>'".into()))?;
    let path = Path::new(path.trim().trim_matches('"'));
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err(refuse(format!(
            "the challenge names '{}', which is not a .key file; refusing to read it",
            path.display()
        )));
    }
    let parent = path.parent().unwrap_or(Path::new(""));
    let same_dir = match (parent.canonicalize(), key_dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same_dir || !path.is_absolute() {
        return Err(refuse(format!(
            "the challenge names the key file '{}', which is outside the agent's key directory '{}'; refusing to read it",
            path.display(),
            key_dir.display()
        )));
    }
    let field = "the Arc key file";
    let bytes = crate::host_file::read_host_file(
        field,
        &path.to_string_lossy(),
        MAX_ARC_KEY_BYTES,
        refuse,
        |size| {
            refuse(format!(
                "the key file is {size}; at most {MAX_ARC_KEY_BYTES} bytes are read"
            ))
        },
    )?;
    let text = String::from_utf8(bytes).map_err(|_| refuse("the key file is not text".into()))?;
    Ok(Secret::new(text.trim().to_owned()))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<Secret>,
    expires_in: Option<crate::token::NumberOrString>,
    expires_on: Option<crate::token::NumberOrString>,
    refresh_in: Option<crate::token::NumberOrString>,
    token_type: Option<String>,
}

/// MSAL's threshold: an `expires_on` below this (2001-01-01) is relative seconds, not an epoch.
const EPOCH_THRESHOLD: u64 = 978_307_200;

/// (token, lifetime, refresh_in) from a managed-identity answer: `expires_in` or `expires_on`
/// as numbers or strings; without Entra's `refresh_in`, a token living over 2 hours is
/// refreshed at half its life (as MSAL does).
pub(crate) fn parse_token_response(
    body: &[u8],
    now: SystemTime,
) -> std::result::Result<(Secret, Duration, Option<Duration>), String> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|_| "the answer is not a token response".to_owned())?;
    let token = answer
        .access_token
        .filter(|t| !t.expose().is_empty())
        .ok_or("no access_token")?;
    if let Some(kind) = &answer.token_type
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(format!("token_type '{kind}', expected Bearer"));
    }
    let lifetime = if let Some(expires_in) = answer.expires_in.as_ref().and_then(|v| v.as_u64()) {
        Duration::from_secs(expires_in)
    } else if let Some(on) = answer.expires_on.as_ref() {
        let on = on.as_u64().ok_or("expires_on is not a number of seconds")?;
        if on < EPOCH_THRESHOLD {
            Duration::from_secs(on)
        } else {
            let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            if on <= now_secs {
                return Err("expires_on is in the past".into());
            }
            Duration::from_secs(on - now_secs)
        }
    } else {
        return Err("neither expires_in nor expires_on".into());
    };
    if lifetime.is_zero() {
        return Err("the token has already expired".into());
    }
    let refresh_in = answer
        .refresh_in
        .as_ref()
        .and_then(|v| v.as_u64())
        .map(Duration::from_secs)
        .or_else(|| (lifetime > Duration::from_secs(7200)).then(|| lifetime / 2));
    Ok((token, lifetime, refresh_in))
}

/// The error bodies of the managed-identity endpoints: `{"error","error_description"}` (IMDS,
/// Arc), `{"statusCode","message","correlationId"}` (App Service) and
/// `{"error":{"code","message"}}` (Cloud Shell).
#[derive(Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    correlation_id: Option<String>,
}

fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return ErrorBody::default();
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let (code, nested_message) = match value.get("error") {
        Some(serde_json::Value::String(code)) => (Some(code.clone()), None),
        Some(obj @ serde_json::Value::Object(_)) => (
            obj.get("code").and_then(text),
            obj.get("message").and_then(text),
        ),
        _ => (None, None),
    };
    ErrorBody {
        code,
        message: value
            .get("error_description")
            .and_then(text)
            .or_else(|| value.get("message").and_then(text))
            .or(nested_message)
            .map(|m| m.lines().next().unwrap_or("").trim().to_owned()),
        correlation_id: value
            .get("correlationId")
            .or_else(|| value.get("correlation_id"))
            .and_then(text),
    }
}

/// A diagnosed error for a managed-identity endpoint's non-2xx answer.
fn endpoint_error(response: &HttpResponse, settings: &ManagedIdentitySettings) -> Error {
    let body = parse_error_body(&response.body);
    let message = body.message.clone().unwrap_or_default();
    let code = body.code.clone().unwrap_or_default();
    let aadsts = crate::entra_error::parse_aadsts(&message);
    let source = settings.source.name();
    let said = if message.is_empty() {
        format!("HTTP {}", response.status)
    } else {
        format!("HTTP {}: {message}", response.status)
    };
    let lower = message.to_ascii_lowercase();
    let not_assigned = lower.contains("identity not found")
        || lower.contains("unable to load the proper managed identity");
    let (status, summary, remedy) = if response.status == 429 {
        (
            Status::Throttled,
            format!("The {source} managed-identity endpoint throttled the token request ({said})."),
            "Wait and retry; reuse one client handle so its token is cached (managed-identity tokens live for hours).".to_owned(),
        )
    } else if response.status >= 500 || matches!(response.status, 404 | 408 | 410) {
        (
            Status::GraphError,
            format!("The {source} managed-identity endpoint is unavailable ({said})."),
            "Retry later: the platform's endpoint may be restarting or updating. Nothing was sent."
                .to_owned(),
        )
    } else if not_assigned {
        let remedy = match &settings.selector {
            Some(selector) => format!(
                "{} is not assigned to this resource: assign it (the resource's Identity page > User assigned > Add), or correct auth.clientId, auth.objectId or auth.resourceId.",
                capitalize(&selector.describe())
            ),
            None => "This resource has no system-assigned identity: enable it (the resource's Identity page > System assigned > On), or select a user-assigned identity with auth.clientId, auth.objectId or auth.resourceId.".to_owned(),
        };
        (
            Status::AuthenticationFailed,
            format!("The managed identity is not available on this resource ({source}: {said})."),
            remedy,
        )
    } else if response.status == 401 && matches!(settings.source, Source::AppService { .. }) {
        (
            Status::AuthenticationFailed,
            format!("The App Service identity endpoint rejected the identity header ({said})."),
            "IDENTITY_HEADER is rotated by the platform: read it from the environment of the running app (never store it), and restart the app if it is stale.".to_owned(),
        )
    } else if code == "invalid_resource" || matches!(aadsts, Some(500011) | Some(50001)) {
        (
            Status::AuthenticationFailed,
            format!(
                "The managed-identity endpoint does not know Microsoft Graph as {} ({said}).",
                settings.resource
            ),
            "Check the \"cloud\" setting: the Graph resource differs per national cloud."
                .to_owned(),
        )
    } else {
        (
            Status::AuthenticationFailed,
            format!("The {source} managed-identity endpoint refused the token request ({said})."),
            "Check that the identity is enabled and assigned to this resource; see https://aka.ms/msal-managed-identity.".to_owned(),
        )
    };
    let mut e = Error::new(status, summary).with_remedy(remedy);
    e.http_status = Some(response.status);
    e.aadsts = aadsts;
    e.entra_error = body.code;
    e.correlation_id = body.correlation_id;
    e.client_request_id = Some(response.client_request_id.clone());
    e.attempts = Some(response.attempts);
    e.retry_after_seconds = response.retry_after.map(|d| d.as_secs());
    e
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "https://graph.microsoft.com";

    fn fields(source: ManagedIdentitySource) -> AuthFields<'static> {
        AuthFields {
            client_id: None,
            object_id: None,
            resource_id: None,
            source,
        }
    }

    /// With nothing set, the source is IMDS at the documented address (no connection is made).
    #[test]
    fn the_default_is_imds_at_the_documented_address() {
        let s = resolve(
            fields(ManagedIdentitySource::Auto),
            &EndpointOverrides::default(),
            &AzureEnvironment::default(),
            GRAPH,
        )
        .unwrap();
        match &s.source {
            Source::Imds { token_url } => assert_eq!(
                token_url,
                "http://169.254.169.254/metadata/identity/oauth2/token"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.resource, GRAPH);
        assert_eq!(s.selector, None);
    }

    /// AZURE_POD_IDENTITY_AUTHORITY_HOST moves IMDS (the Azure SDKs' override); the config field
    /// wins over it, and it must be local too.
    #[test]
    fn the_imds_address_follows_the_sdk_variable() {
        let mut env = AzureEnvironment {
            imds_authority_host: Some("http://127.0.0.1:4999/".into()),
            ..Default::default()
        };
        let imds = |overrides: &EndpointOverrides, env: &AzureEnvironment| -> Result<String> {
            match resolve(fields(ManagedIdentitySource::Auto), overrides, env, GRAPH)?.source {
                Source::Imds { token_url } => Ok(token_url),
                other => panic!("{other:?}"),
            }
        };
        let defaults = EndpointOverrides::default();
        assert_eq!(
            imds(&defaults, &env).unwrap(),
            "http://127.0.0.1:4999/metadata/identity/oauth2/token"
        );
        let field = EndpointOverrides {
            imds_base_url: Some("http://localhost:5000".into()),
            ..Default::default()
        };
        assert_eq!(
            imds(&field, &env).unwrap(),
            "http://localhost:5000/metadata/identity/oauth2/token"
        );
        env.imds_authority_host = Some("http://imds.example.com".into());
        let e = imds(&defaults, &env).unwrap_err();
        assert!(
            e.message.contains("AZURE_POD_IDENTITY_AUTHORITY_HOST") && e.message.contains("local"),
            "{}",
            e.message
        );
    }

    #[test]
    fn detection_follows_the_sdks() {
        let mut env = AzureEnvironment {
            identity_endpoint: Some("http://localhost:4141/MSI/token".into()),
            identity_header: Some(Secret::new("h")),
            ..Default::default()
        };
        let overrides = EndpointOverrides::default();
        let auto = || fields(ManagedIdentitySource::Auto);
        let s = resolve(auto(), &overrides, &env, GRAPH).unwrap();
        assert!(matches!(s.source, Source::AppService { .. }), "{s:?}");
        env.identity_header = None;
        env.imds_endpoint = Some("http://localhost:40342".into());
        let s = resolve(auto(), &overrides, &env, GRAPH).unwrap();
        assert!(matches!(s.source, Source::Arc { .. }), "{s:?}");
        env.imds_endpoint = None;
        let s = resolve(auto(), &overrides, &env, GRAPH).unwrap();
        assert!(matches!(s.source, Source::Imds { .. }), "{s:?}");
        // The Arc agent installed but its variables not in this process: Arc at its default
        // endpoint, as MSAL falls back.
        env.identity_endpoint = None;
        env.arc_agent_installed = true;
        let s = resolve(auto(), &overrides, &env, GRAPH).unwrap();
        match &s.source {
            Source::Arc { endpoint, .. } => assert_eq!(endpoint, DEFAULT_ARC_ENDPOINT),
            other => panic!("{other:?}"),
        }
        env.arc_agent_installed = false;
        // Cloud Shell (MSI_ENDPOINT alone) is refused with the reason, not sent to IMDS.
        env.msi_endpoint = Some("http://localhost:50342/oauth2/token".into());
        let e = resolve(auto(), &overrides, &env, GRAPH).unwrap_err();
        assert!(e.message.contains("Cloud Shell"), "{}", e.message);
        assert!(e.remedy.as_deref().unwrap().contains("client secret"));
        env.msi_endpoint = None;
        env.identity_endpoint = Some("http://localhost:4141/MSI/token".into());
        let e = resolve(
            fields(ManagedIdentitySource::AppService),
            &overrides,
            &env,
            GRAPH,
        )
        .unwrap_err();
        assert!(e.message.contains("IDENTITY_HEADER"), "{}", e.message);
    }

    #[test]
    fn selectors_are_exclusive_and_checked() {
        let env = AzureEnvironment::default();
        let o = EndpointOverrides::default();
        let mut f = fields(ManagedIdentitySource::Imds);
        f.client_id = Some("a0000000-0000-0000-0000-000000000001");
        f.object_id = Some("a0000000-0000-0000-0000-000000000002");
        let e = resolve(f, &o, &env, GRAPH).unwrap_err();
        assert!(e.message.contains("clientId and objectId"), "{}", e.message);
        let mut f = fields(ManagedIdentitySource::Imds);
        f.object_id = Some("nope");
        assert!(
            resolve(f, &o, &env, GRAPH)
                .unwrap_err()
                .message
                .contains("GUID")
        );
        let mut f = fields(ManagedIdentitySource::Imds);
        f.resource_id = Some(
            "/subscriptions/x/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
        );
        assert!(matches!(
            resolve(f, &o, &env, GRAPH).unwrap().selector,
            Some(Selector::ResourceId(_))
        ));
        let mut f = fields(ManagedIdentitySource::Arc);
        f.client_id = Some("a0000000-0000-0000-0000-000000000001");
        let e = resolve(f, &o, &env, GRAPH).unwrap_err();
        assert!(e.message.contains("system-assigned"), "{}", e.message);
    }

    #[test]
    fn endpoints_must_be_local() {
        for ok in [
            "http://169.254.169.254",
            "http://localhost:4141/MSI/token",
            "https://127.0.0.1:8443/MSI/token",
            "http://[::1]:1",
        ] {
            assert!(local_endpoint("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.253",
            "https://example.com/MSI/token",
            "ftp://127.0.0.1/",
            "http://u:p@127.0.0.1/",
        ] {
            assert!(local_endpoint("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_answers_in_every_shape() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let parse = |body: &str| parse_token_response(body.as_bytes(), now);
        let (_, life, refresh) =
            parse(r#"{"access_token":"t","expires_on":"2000003600","token_type":"Bearer"}"#)
                .unwrap();
        assert_eq!((life.as_secs(), refresh), (3600, None));
        let (_, life, _) = parse(r#"{"access_token":"t","expires_on":2000000600}"#).unwrap();
        assert_eq!(life.as_secs(), 600);
        let (_, life, refresh) =
            parse(r#"{"access_token":"t","expires_in":"86399","expires_on":"1"}"#).unwrap();
        assert_eq!(life.as_secs(), 86399);
        assert_eq!(refresh, Some(Duration::from_secs_f64(86399.0 / 2.0)));
        let (_, _, refresh) =
            parse(r#"{"access_token":"t","expires_in":86399,"refresh_in":"3600"}"#).unwrap();
        assert_eq!(refresh, Some(Duration::from_secs(3600)));
        let (_, life, _) = parse(r#"{"access_token":"t","expires_on":"3599"}"#).unwrap();
        assert_eq!(life.as_secs(), 3599);
        assert!(parse(r#"{"access_token":"t","expires_on":"1999999999"}"#).is_err());
        assert!(parse(r#"{"access_token":"","expires_in":1}"#).is_err());
        assert!(parse(r#"{"access_token":"t"}"#).is_err());
        assert!(parse(r#"{"access_token":"t","expires_in":1,"token_type":"pop"}"#).is_err());
    }

    #[test]
    fn error_bodies_in_every_shape() {
        let b = parse_error_body(br#"{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c1"}"#);
        assert_eq!(
            b.message.as_deref(),
            Some("Unable to load the proper Managed Identity.")
        );
        assert_eq!(b.correlation_id.as_deref(), Some("c1"));
        let b = parse_error_body(
            br#"{"error":"invalid_request","error_description":"Identity not found"}"#,
        );
        assert_eq!(
            (b.code.as_deref(), b.message.as_deref()),
            (Some("invalid_request"), Some("Identity not found"))
        );
        let b = parse_error_body(
            br#"{"error":{"code":"AudienceNotSupported","message":"Audience x"}}"#,
        );
        assert_eq!(
            (b.code.as_deref(), b.message.as_deref()),
            (Some("AudienceNotSupported"), Some("Audience x"))
        );
    }

    #[test]
    fn arc_key_files_only_from_the_key_directory() {
        let dir = std::env::temp_dir().join(format!("pmp-arc-{}", uuid::Uuid::new_v4()));
        let keys = dir.join("tokens");
        let other = dir.join("elsewhere");
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(keys.join("a.key"), "secret-key\n").unwrap();
        std::fs::write(other.join("b.key"), "x").unwrap();
        std::fs::write(keys.join("big.key"), vec![b'x'; 5000]).unwrap();
        std::fs::write(keys.join("c.txt"), "x").unwrap();
        let challenge = |p: &Path| format!("Basic realm={}", p.display());
        let key = read_arc_key(Some(&challenge(&keys.join("a.key"))), &keys).unwrap();
        assert_eq!(key.expose(), "secret-key");
        let e = read_arc_key(Some(&challenge(&other.join("b.key"))), &keys).unwrap_err();
        assert!(
            e.message.contains("outside the agent's key directory"),
            "{}",
            e.message
        );
        let traversal = keys.join("..").join("elsewhere").join("b.key");
        assert!(read_arc_key(Some(&challenge(&traversal)), &keys).is_err());
        let e = read_arc_key(Some(&challenge(&keys.join("big.key"))), &keys).unwrap_err();
        assert!(e.message.contains("4096"), "{}", e.message);
        let e = read_arc_key(Some(&challenge(&keys.join("c.txt"))), &keys).unwrap_err();
        assert!(e.message.contains(".key"), "{}", e.message);
        assert!(read_arc_key(None, &keys).is_err());
        assert!(read_arc_key(Some("Bearer x"), &keys).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
