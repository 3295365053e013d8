//! The safe Rust API: one [`Client`] per app registration and tenant. Cheap to clone and safe to
//! share between threads: clones share the token cache and the connection pool.

use std::sync::Arc;
use std::time::Instant;

use crate::config::{AuthConfig, Config, ValidatedConfig};
use crate::credential::{AssertionSigner, Credential};
use crate::error::{Error, Outcome, Result, Status};
use crate::http::Http;
use crate::logging::OpLog;
use crate::mail::model::{Message, SendResult};
use crate::permission::{self, PermissionOptions, PermissionReport};
use crate::token::{TokenProvider, TokenSettings, format_unix, unix_now};

#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub config: ValidatedConfig,
    pub http: Http,
    pub tokens: TokenProvider,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.inner.config.client_id)
            .field("endpoints", &self.inner.config.endpoints)
            .field("tokens", &self.inner.tokens)
            .finish()
    }
}

impl Client {
    /// Validates the config, loads the credential and builds the HTTP client. No network I/O.
    pub fn new(config: Config) -> Result<Client> {
        let validated = config.validate()?;
        let auth = validated.auth.as_ref().ok_or_else(|| {
            Error::config("auth is missing: give a clientSecret, certificatePfx or certificatePem")
        })?;
        let credential = Credential::load(auth)?;
        Client::build(validated, credential)
    }

    /// A client whose assertions the host signs; `cert_der` is the certificate registered on the
    /// app (its thumbprints go into the assertion header).
    pub fn with_signer(
        config: Config,
        cert_der: &[u8],
        signer: Arc<dyn AssertionSigner>,
    ) -> Result<Client> {
        let validated = config.validate()?;
        if !matches!(validated.auth, None | Some(AuthConfig::Signer)) {
            return Err(Error::config(
                "a client with a host signer needs auth {\"type\":\"signer\"} or no auth",
            ));
        }
        let credential = Credential::with_signer(cert_der, signer)?;
        Client::build(validated, credential)
    }

    fn build(config: ValidatedConfig, credential: Credential) -> Result<Client> {
        let http = Http::new(&config.http, config.retry, config.allow_http_loopback)?;
        let tokens = TokenProvider::new(
            http.clone(),
            credential,
            TokenSettings {
                client_id: config.client_id.clone(),
                token_url: config.endpoints.token_url.clone(),
                scope: config.endpoints.scope.clone(),
                algorithm: config.assertion_algorithm,
                margin: config.token_refresh_margin,
            },
        );
        Ok(Client {
            inner: Arc::new(ClientInner {
                config,
                http,
                tokens,
            }),
        })
    }

    pub fn config(&self) -> &ValidatedConfig {
        &self.inner.config
    }

    /// Blocking [`Client::test_permissions_async`]. Do not call from async code.
    pub fn test_permissions(&self, options: &PermissionOptions) -> Result<PermissionReport> {
        crate::runtime::block_on(self.test_permissions_async(options))?
    }

    /// Authenticates and reports the app's mail permissions. Returns `Ok` with
    /// `authenticated: false` when Entra ID rejects the credentials.
    pub async fn test_permissions_async(
        &self,
        options: &PermissionOptions,
    ) -> Result<PermissionReport> {
        let started = Instant::now();
        let mut log = OpLog::new();
        let (token, source) = match self.inner.tokens.get(options.force_refresh, &mut log).await {
            Ok(found) => found,
            Err(mut e) if e.status == Status::AuthenticationFailed => {
                e.duration_ms
                    .get_or_insert(started.elapsed().as_millis() as u64);
                log.info(format!("authentication failed: {}", e.message));
                e.log = log.lines().to_vec();
                return Ok(PermissionReport {
                    authenticated: false,
                    tenant_id: None,
                    app_id: Some(self.inner.config.client_id.clone()),
                    app_display_name: None,
                    token_expires_on: None,
                    token_source: None,
                    roles_readable: false,
                    roles: Vec::new(),
                    permissions: permission::evaluate(None),
                    warnings: Vec::new(),
                    error: Some(e.to_document()),
                    log: log.into_lines(),
                });
            }
            Err(mut e) => {
                e.log = log.into_lines();
                e.duration_ms
                    .get_or_insert(started.elapsed().as_millis() as u64);
                return Err(e);
            }
        };
        if source == crate::token::TokenSource::Cache {
            log.info("token from cache");
        }
        let claims = permission::decode_claims(token.token.expose());
        let roles = claims.as_ref().map(|c| c.roles.clone().unwrap_or_default());
        let permissions = permission::evaluate(roles.as_deref());
        let mut warnings = permission::warnings(&permissions);
        if let Some(cert) = self.inner.tokens.credential().certificate() {
            let now = unix_now();
            if cert.not_after < now {
                warnings.push(format!(
                    "The certificate (thumbprint {}) expired on {}.",
                    cert.thumbprint_hex(),
                    format_unix(cert.not_after)
                ));
            } else if cert.not_after < now + 30 * 86_400 {
                warnings.push(format!(
                    "The certificate (thumbprint {}) expires on {}: upload a new one to the app registration.",
                    cert.thumbprint_hex(),
                    format_unix(cert.not_after)
                ));
            }
        }
        log.info(format!(
            "roles: {}",
            match &roles {
                Some(r) if r.is_empty() => "(none)".to_owned(),
                Some(r) => r.join(", "),
                None => "(token not readable)".to_owned(),
            }
        ));
        let claims = claims.unwrap_or_default();
        Ok(PermissionReport {
            authenticated: true,
            tenant_id: claims.tid,
            app_id: claims
                .appid
                .or(claims.azp)
                .or_else(|| Some(self.inner.config.client_id.clone())),
            app_display_name: claims.app_displayname,
            token_expires_on: Some(crate::token::format_time(token.expires_at)),
            token_source: Some(source.as_str().to_owned()),
            roles_readable: roles.is_some(),
            roles: roles.unwrap_or_default(),
            permissions,
            warnings,
            error: None,
            log: log.into_lines(),
        })
    }

    /// Blocking [`Client::send_mail_async`]. Do not call from async code.
    pub fn send_mail(&self, message: &Message) -> Result<SendResult> {
        crate::runtime::block_on(self.send_mail_async(message))?
    }

    /// Sends one message: sendMail when it fits in one request, else draft + upload sessions +
    /// send. On failure nothing was sent unless the error's outcome is `Unknown`.
    pub async fn send_mail_async(&self, message: &Message) -> Result<SendResult> {
        let started = Instant::now();
        let mut log = OpLog::new();
        let result = match message.prepare() {
            Ok(prepared) => crate::mail::send::send(&self.inner, &prepared, &mut log).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(mut sent) => {
                sent.duration_ms = started.elapsed().as_millis() as u64;
                sent.log = log.into_lines();
                Ok(sent)
            }
            Err(mut e) => {
                e.duration_ms = Some(started.elapsed().as_millis() as u64);
                e.log = log.into_lines();
                // Every failed send says whether the mail may have gone out; failures that
                // never reached Graph (validation, attachment files) did not send it.
                e.outcome.get_or_insert(Outcome::Failed);
                Err(e)
            }
        }
    }

    /// Parses a message document (docs/contracts.md section 4) and sends it; a document that
    /// cannot be read is a failed send too (outcome `failed`).
    pub fn send_mail_json(&self, message_json: &str) -> Result<SendResult> {
        let message =
            Message::from_json(message_json).map_err(|e| e.with_outcome(Outcome::Failed))?;
        self.send_mail(&message)
    }
}
