//! The safe Rust API: one [`Client`] per app registration and tenant (or, with provider
//! googleWorkspace, per Google service account). Cheap to clone and safe to
//! share between threads: clones share the token cache and the connection pool. Separate
//! clients with the same credentials share the token too (the process-wide cache,
//! [`crate::token_cache`]), unless the config says `"tokenCache": "client"`.
//!
//! Wiring only: a client puts the validated config, the credential, the HTTP client and the
//! token cache together into a [`GraphSession`], and hands each call to the module that does it.

use std::sync::Arc;
use std::time::Instant;

use crate::authorized::Service;
use crate::batch::{self, BatchOptions, BatchProgress, BatchResult};
use crate::cancel::CancelToken;
use crate::config::{
    AuthConfig, Config, GOOGLE_TOKEN_URI, Identity, Provider, TokenCacheMode, ValidatedConfig,
};
use crate::credential::{AssertionProvider, AssertionSigner, Credential, ServiceAccount};
use crate::error::{Error, Outcome, Result};
use crate::gmail::{GmailSession, GmailSettings};
use crate::http::Http;
use crate::logging::OpLog;
use crate::mail::gate::SendGates;
use crate::mail::graph::GraphSession;
use crate::mail::{Message, SendResult};
use crate::managed_identity::ManagedIdentityClient;
use crate::permission::{self, PermissionOptions, PermissionReport};
use crate::token::{TokenProvider, TokenSettings};
use crate::token_cache::{self, CacheKey, KeyParts, SharedCache};

#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: ValidatedConfig,
    backend: Backend,
}

/// The service a client sends through. Both sessions are boxed: they are large and differ in
/// size.
enum Backend {
    Graph(Box<GraphSession>),
    Gmail(Box<GmailSession>),
}

impl Backend {
    fn gates(&self) -> &SendGates {
        match self {
            Backend::Graph(session) => session.gates(),
            Backend::Gmail(session) => session.gates(),
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Client");
        d.field("provider", &self.inner.config.provider)
            .field("client_id", &self.inner.config.client_id)
            .field("endpoints", &self.inner.config.endpoints);
        match &self.inner.backend {
            Backend::Graph(session) => d.field("tokens", session.tokens()),
            Backend::Gmail(session) => d.field("gmail", session),
        };
        d.finish()
    }
}

impl Client {
    /// Validates the config, loads the credential and builds the HTTP client. No network I/O.
    pub fn new(config: Config) -> Result<Client> {
        let (validated, auth) = config.into_validated()?;
        if validated.provider == Provider::GoogleWorkspace {
            let auth = auth.ok_or_else(|| {
                Error::config(
                    "auth is missing: give {\"type\":\"serviceAccountKey\",\"keyPath\":\"...\"} (or keyJson), or create the client with a host signer",
                )
            })?;
            return Client::build_gmail(validated, Credential::load(auth)?);
        }
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
        if let Some(google) = &validated.google {
            // A Google service account has no certificate: the config names the account.
            let client_email = google.service_account_email.clone().ok_or_else(|| {
                Error::config("a googleWorkspace client with a host signer needs google.serviceAccountEmail")
                    .with_remedy("Give the service account's email (client_email of its key) and, when the key has one, its id (google.privateKeyId).")
            })?;
            let credential = Credential::GoogleServiceAccount {
                account: Arc::new(ServiceAccount {
                    client_email,
                    private_key_id: google.private_key_id.clone(),
                    client_id: google.client_id.clone(),
                    token_uri: None,
                    project_id: None,
                }),
                signer,
                key_id: None,
            };
            return Client::build_gmail(validated, credential);
        }
        let credential = Credential::with_signer(cert_der, signer)?;
        Client::build(validated, credential)
    }

    /// A client whose client assertions the host supplies whole (a federated token from a source
    /// the library does not read itself); the config's auth must be `clientAssertion` or absent.
    pub fn with_assertion_provider(
        config: Config,
        provider: Arc<dyn AssertionProvider>,
    ) -> Result<Client> {
        let (validated, auth) = config.into_validated()?;
        if validated.provider == Provider::GoogleWorkspace {
            return Err(Error::config(
                "an assertion callback supplies Entra ID client assertions; provider googleWorkspace signs its own with a service account key or a host signer",
            ));
        }
        if !matches!(auth, None | Some(AuthConfig::ClientAssertion)) {
            return Err(Error::config(
                "a client with an assertion callback needs auth {\"type\":\"clientAssertion\"} or no auth",
            ));
        }
        Client::build(validated, Credential::Assertion(provider))
    }

    fn build(config: ValidatedConfig, credential: Credential) -> Result<Client> {
        let http = Http::new(&config.http, config.retry, config.allow_http_loopback)?;
        let fingerprint = match config.token_cache {
            TokenCacheMode::Process => credential.cache_fingerprint(config.assertion_algorithm),
            TokenCacheMode::Client => None,
        };
        let cache = match fingerprint {
            Some(fingerprint) => token_cache::shared(CacheKey::new(&KeyParts {
                token_url: &config.endpoints.token_url,
                scope: &config.endpoints.scope,
                client_id: &config.client_id,
                margin: config.token_refresh_margin,
                fingerprint: &fingerprint,
            })),
            None => SharedCache::private(),
        };
        let tokens = TokenProvider::new(
            http.clone(),
            credential,
            TokenSettings {
                client_id: config.client_id.clone(),
                token_url: config.endpoints.token_url.clone(),
                scope: config.endpoints.scope.clone(),
                algorithm: config.assertion_algorithm,
                margin: config.token_refresh_margin,
                subject: None,
            },
            cache,
        );
        let session = GraphSession::new(
            http,
            tokens,
            config.endpoints.graph_root.clone(),
            config.sending,
        )?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                config,
                backend: Backend::Graph(Box::new(session)),
            }),
        })
    }

    /// A googleWorkspace client: the token endpoint is `google.tokenUri`, else the key's
    /// `token_uri`, else Google's.
    fn build_gmail(mut config: ValidatedConfig, credential: Credential) -> Result<Client> {
        let Credential::GoogleServiceAccount { account, .. } = &credential else {
            return Err(Error::internal(
                "a googleWorkspace client needs a service account",
            ));
        };
        let google = config
            .google
            .clone()
            .ok_or_else(|| Error::internal("a googleWorkspace config without google settings"))?;
        let token_url = match (&google.token_uri, &account.token_uri) {
            (Some(configured), _) => configured.clone(),
            (None, Some(from_key)) => {
                Config::check_key_token_uri(from_key, config.allow_http_loopback)?
            }
            (None, None) => GOOGLE_TOKEN_URI.to_owned(),
        };
        config.endpoints.token_url = token_url.clone();
        config.client_id = account.client_email.clone();
        let http = Http::new(&config.http, config.retry, config.allow_http_loopback)?;
        let session = GmailSession::new(
            http,
            credential,
            GmailSettings {
                token_url,
                gmail_root: google.gmail_root.clone(),
                impersonate: google.impersonate.clone(),
                margin: config.token_refresh_margin,
                process_cache: config.token_cache == TokenCacheMode::Process,
                sending: config.sending,
            },
        )?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                config,
                backend: Backend::Gmail(Box::new(session)),
            }),
        })
    }

    pub fn config(&self) -> &ValidatedConfig {
        &self.inner.config
    }

    /// Blocking [`Client::test_permissions_async`]. Do not call from async code.
    pub fn test_permissions(&self, options: &PermissionOptions) -> Result<PermissionReport> {
        self.test_permissions_cancellable(options, None)
    }

    /// [`Client::test_permissions`] that `cancel` can stop while it waits (to retry a token
    /// request, or for another call's token request): it then fails with
    /// [`Status::Cancelled`](crate::Status::Cancelled). A request in flight is never abandoned.
    pub fn test_permissions_cancellable(
        &self,
        options: &PermissionOptions,
        cancel: Option<&CancelToken>,
    ) -> Result<PermissionReport> {
        crate::runtime::block_on(self.test_permissions_with(options, cancel))?
    }

    /// Authenticates and reports the app's mail permissions. Returns `Ok` with
    /// `authenticated: false` when Entra ID rejects the credentials.
    pub async fn test_permissions_async(
        &self,
        options: &PermissionOptions,
    ) -> Result<PermissionReport> {
        self.test_permissions_with(options, None).await
    }

    /// [`Client::test_permissions_async`] with an optional cancel token (see
    /// [`Client::test_permissions_cancellable`]).
    pub async fn test_permissions_with(
        &self,
        options: &PermissionOptions,
        cancel: Option<&CancelToken>,
    ) -> Result<PermissionReport> {
        let started = Instant::now();
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(Error::cancelled("test permissions").with_outcome(Outcome::Failed));
        }
        let log = OpLog::with_cancel(cancel.cloned());
        let session = match &self.inner.backend {
            Backend::Graph(session) => session,
            Backend::Gmail(session) => {
                return crate::gmail::permission::report(session, options, log, started).await;
            }
        };
        if options.mailbox.is_some() {
            return Err(Error::invalid_argument(
                "the options' mailbox applies only to provider googleWorkspace (a Graph token is the app's, for every mailbox)",
            ));
        }
        let mut log = log;
        let tokens = session.tokens();
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
        self.send_mail_cancellable(message, None)
    }

    /// [`Client::send_mail`] that `cancel` can stop while it waits (to retry after a 429, a
    /// 503 or a lost connection, for a token): it then fails with
    /// [`Status::Cancelled`](crate::Status::Cancelled), outcome `failed`, or `unknown` when an
    /// earlier attempt of the send may have been delivered. A request in flight is never
    /// abandoned; an incomplete draft is still deleted.
    pub fn send_mail_cancellable(
        &self,
        message: &Message,
        cancel: Option<&CancelToken>,
    ) -> Result<SendResult> {
        crate::runtime::block_on(self.send_mail_with(message, cancel))?
    }

    /// Sends one message: sendMail when it fits in one request, else draft + upload sessions +
    /// send. On failure nothing was sent unless the error's outcome is `Unknown`.
    pub async fn send_mail_async(&self, message: &Message) -> Result<SendResult> {
        self.send_mail_with(message, None).await
    }

    /// [`Client::send_mail_async`] with an optional cancel token (see
    /// [`Client::send_mail_cancellable`]).
    pub async fn send_mail_with(
        &self,
        message: &Message,
        cancel: Option<&CancelToken>,
    ) -> Result<SendResult> {
        self.send_mail_with_buffers_async(message, &[], cancel)
            .await
    }

    /// Blocking [`Client::send_mail_with_buffers_async`]. Do not call from async code.
    pub fn send_mail_with_buffers(
        &self,
        message: &Message,
        buffers: &[&[u8]],
        cancel: Option<&CancelToken>,
    ) -> Result<SendResult> {
        crate::runtime::block_on(self.send_mail_with_buffers_async(message, buffers, cancel))?
    }

    /// Sends one message whose `"buffer": n` attachments take their bytes from `buffers[n]`
    /// (docs/contracts.md section 4). The buffers are read (copied once) before any request, so
    /// they are borrowed for the call only; buffers no attachment names are ignored. Otherwise
    /// as [`Client::send_mail_with`].
    pub async fn send_mail_with_buffers_async(
        &self,
        message: &Message,
        buffers: &[&[u8]],
        cancel: Option<&CancelToken>,
    ) -> Result<SendResult> {
        self.send_one(message, buffers, cancel).await.0
    }

    /// One send, and how long it waited on purpose. The message is prepared (attachment files
    /// read, buffers copied) once it has its send slot, so sends queued behind a busy mailbox
    /// hold no attachments in memory.
    pub(crate) async fn send_one(
        &self,
        message: &Message,
        buffers: &[&[u8]],
        cancel: Option<&CancelToken>,
    ) -> (Result<SendResult>, std::time::Duration) {
        let started = Instant::now();
        let mut log = OpLog::with_cancel(cancel.cloned());
        let result = self.send_in_turn(message, buffers, cancel, &mut log).await;
        let waited = log.waited();
        let result = match result {
            Ok(mut sent) => {
                sent.duration_ms = started.elapsed().as_millis() as u64;
                sent.waited_ms = waited.as_millis() as u64;
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
        };
        (result, waited)
    }

    async fn send_in_turn(
        &self,
        message: &Message,
        buffers: &[&[u8]],
        cancel: Option<&CancelToken>,
        log: &mut OpLog,
    ) -> Result<SendResult> {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(Error::cancelled("send mail"));
        }
        let from = message.sending_mailbox()?;
        let backend = &self.inner.backend;
        let slot = backend.gates().acquire(&from.address, log).await?;
        let service = match backend {
            Backend::Graph(_) => Service::Graph,
            Backend::Gmail(_) => Service::Gmail,
        };
        let prepared = message.prepare_for(service, buffers)?;
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(Error::cancelled("send mail"));
        }
        match backend {
            Backend::Graph(session) => {
                crate::mail::send_in_slot(session, &prepared, &slot, log).await
            }
            Backend::Gmail(session) => {
                crate::gmail::send::send_in_slot(session, &prepared, &slot, log).await
            }
        }
    }

    /// Sends many messages at once (docs/contracts.md section 4b) and returns one result per
    /// message, in input order. `progress` is called on the calling thread after every
    /// finished message and while a mailbox is throttled. `cancel` stops the batch: messages
    /// not yet sent are `cancelled`; a request in flight runs to its answer. Blocking; do not
    /// call from async code.
    pub fn send_batch(
        &self,
        messages: Vec<Result<Message>>,
        options: &BatchOptions,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&BatchProgress),
    ) -> Result<BatchResult> {
        self.send_batch_with_buffers(messages, Vec::new(), options, cancel, progress)
    }

    /// [`Client::send_batch`] for async callers (the workers run on the caller's runtime).
    pub async fn send_batch_async(
        &self,
        messages: Vec<Result<Message>>,
        options: &BatchOptions,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&BatchProgress),
    ) -> Result<BatchResult> {
        batch::run(self, messages, Vec::new(), options, cancel, progress).await
    }

    /// [`Client::send_batch`] whose messages may take attachment bytes from `buffers`: an
    /// attachment `{"name": "a.pdf", "buffer": n}` of any message is `buffers[n]` (several
    /// messages may name the same buffer). An index outside `buffers` fails that message only.
    pub fn send_batch_with_buffers(
        &self,
        messages: Vec<Result<Message>>,
        buffers: Vec<bytes::Bytes>,
        options: &BatchOptions,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&BatchProgress),
    ) -> Result<BatchResult> {
        crate::runtime::block_on_workers(batch::run(
            self, messages, buffers, options, cancel, progress,
        ))?
    }

    /// Parses a batch document (a JSON array of message documents) and an options document
    /// (`None` for the defaults) and sends the batch, its buffer attachments from `buffers`.
    pub fn send_batch_json(
        &self,
        messages_json: &str,
        buffers: Vec<bytes::Bytes>,
        options_json: Option<&str>,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&BatchProgress),
    ) -> Result<BatchResult> {
        let options = match options_json {
            Some(text) => BatchOptions::from_json(text)?,
            None => BatchOptions::default(),
        };
        let messages = batch::parse_messages(messages_json)?;
        self.send_batch_with_buffers(messages, buffers, &options, cancel, progress)
    }

    pub(crate) fn sending_limits(&self) -> crate::config::SendingLimits {
        self.inner.backend.gates().limits()
    }

    /// How long `mailbox`'s throttling pause still lasts.
    pub(crate) fn paused_for(&self, mailbox: &str) -> Option<std::time::Duration> {
        self.inner.backend.gates().paused_for(mailbox)
    }

    /// Parses a message document (docs/contracts.md section 4) and sends it; a document that
    /// cannot be read is a failed send too (outcome `failed`).
    pub fn send_mail_json(&self, message_json: &str) -> Result<SendResult> {
        self.send_mail_json_cancellable(message_json, None)
    }

    /// [`Client::send_mail_json`] with an optional cancel token.
    pub fn send_mail_json_cancellable(
        &self,
        message_json: &str,
        cancel: Option<&CancelToken>,
    ) -> Result<SendResult> {
        self.send_mail_json_with_buffers(message_json, &[], cancel)
    }

    /// [`Client::send_mail_json_cancellable`] with the buffers that `"buffer": n` attachments
    /// name (see [`Client::send_mail_with_buffers`]).
    pub fn send_mail_json_with_buffers(
        &self,
        message_json: &str,
        buffers: &[&[u8]],
        cancel: Option<&CancelToken>,
    ) -> Result<SendResult> {
        let message =
            Message::from_json(message_json).map_err(|e| e.with_outcome(Outcome::Failed))?;
        self.send_mail_with_buffers(&message, buffers, cancel)
    }

    /// Parses an options document (docs/contracts.md section 3; `None` for the defaults) and
    /// tests the permissions.
    pub fn test_permissions_json(&self, options_json: Option<&str>) -> Result<PermissionReport> {
        self.test_permissions_json_cancellable(options_json, None)
    }

    /// [`Client::test_permissions_json`] with an optional cancel token.
    pub fn test_permissions_json_cancellable(
        &self,
        options_json: Option<&str>,
        cancel: Option<&CancelToken>,
    ) -> Result<PermissionReport> {
        let options = match options_json {
            Some(text) => PermissionOptions::from_json(text)?,
            None => PermissionOptions::default(),
        };
        self.test_permissions_cancellable(&options, cancel)
    }
}
