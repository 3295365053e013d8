//! The safe Rust API: one [`Client`] per app registration and tenant. Cheap to clone and safe to
//! share between threads: clones share the token cache and the connection pool.
//!
//! Wiring only: a client puts the validated config, the credential, the HTTP client and the
//! token cache together into a [`GraphSession`], and hands each call to the module that does it.

use std::sync::Arc;
use std::time::Instant;

use crate::config::{AuthConfig, Config, Identity, ValidatedConfig};
use crate::credential::{AssertionSigner, Credential};
use crate::error::{Error, Outcome, Result};
use crate::http::Http;
use crate::logging::OpLog;
use crate::mail::graph::GraphSession;
use crate::mail::{Message, SendResult};
use crate::managed_identity::ManagedIdentityClient;
use crate::permission::{self, PermissionOptions, PermissionReport};
use crate::token::{TokenProvider, TokenSettings};

#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: ValidatedConfig,
    session: GraphSession,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.inner.config.client_id)
            .field("endpoints", &self.inner.config.endpoints)
            .field("tokens", self.inner.session.tokens())
            .finish()
    }
}

impl Client {
    /// Validates the config, loads the credential and builds the HTTP client. No network I/O.
    pub fn new(config: Config) -> Result<Client> {
        let (validated, auth) = config.into_validated()?;
        let credential = match &validated.identity {
            Identity::ManagedIdentity(settings) => Credential::ManagedIdentity(Arc::new(
                ManagedIdentityClient::new(settings.clone(), &validated.http, validated.retry)?,
            )),
            Identity::WorkloadIdentity { token_file } => {
                Credential::FederatedTokenFile(token_file.clone())
            }
            Identity::App => {
                let auth = auth.ok_or_else(|| {
                    Error::config(
                        "auth is missing: give a clientSecret, certificatePfx, certificatePem, managedIdentity or workloadIdentity",
                    )
                })?;
                Credential::load(auth)?
            }
        };
        Client::build(validated, credential)
    }

    /// A client whose assertions the host signs; `cert_der` is the certificate registered on the
    /// app (its thumbprints go into the assertion header).
    pub fn with_signer(
        config: Config,
        cert_der: &[u8],
        signer: Arc<dyn AssertionSigner>,
    ) -> Result<Client> {
        let (validated, auth) = config.into_validated()?;
        if !matches!(auth, None | Some(AuthConfig::Signer)) {
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
        let session = GraphSession::new(http, tokens, config.endpoints.graph_root.clone());
        Ok(Client {
            inner: Arc::new(ClientInner { config, session }),
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
        let tokens = self.inner.session.tokens();
        let fetched = tokens.get(options.force_refresh, &mut log).await;
        permission::report(
            &self.inner.config.client_id,
            fetched,
            tokens.credential(),
            log,
            started,
        )
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
            Ok(prepared) => crate::mail::send(&self.inner.session, &prepared, &mut log).await,
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

    /// Parses an options document (docs/contracts.md section 3; `None` for the defaults) and
    /// tests the permissions.
    pub fn test_permissions_json(&self, options_json: Option<&str>) -> Result<PermissionReport> {
        let options = match options_json {
            Some(text) => PermissionOptions::from_json(text)?,
            None => PermissionOptions::default(),
        };
        self.test_permissions(&options)
    }
}
