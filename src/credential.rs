//! The app's credential: a client secret, or a certificate whose private key signs client
//! assertions — loaded from PKCS#12 or PEM, or held by the host behind [`AssertionSigner`].

use std::sync::Arc;

use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use base64::Engine;
use zeroize::Zeroizing;

use crate::config::{AssertionAlgorithm, AuthConfig};
use crate::error::{Error, Result, Status};
use crate::host_file::read_host_file;
use crate::secret::{Secret, SecretBytes};
use crate::token_cache::{Fingerprint, KeyId};

/// The JWS algorithms a signer must support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1 SHA-256, salt length 32.
    Ps256,
}

/// Signs the JWS signing input of a client assertion with the certificate's private key.
///
/// Called on a blocking worker thread, possibly concurrently from several threads.
pub trait AssertionSigner: Send + Sync {
    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>>;
}

impl<F> AssertionSigner for F
where
    F: Fn(SignatureAlgorithm, &[u8]) -> Result<Vec<u8>> + Send + Sync,
{
    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>> {
        self(algorithm, data)
    }
}

/// What a client assertion must name: the app (its `iss` and `sub`, or the federated
/// credential's subject) and the token endpoint (its `aud`, unless a federated credential fixes
/// the audience).
#[derive(Debug, Clone, Copy)]
pub struct AssertionRequest<'a> {
    pub client_id: &'a str,
    pub token_url: &'a str,
}

/// Supplies whole client assertions from outside the library (a CI system's OIDC token, a token
/// broker): the host's callback behind `pmp_client_new_with_assertion_callback`.
///
/// Called on a blocking worker thread for every token request, possibly concurrently.
pub trait AssertionProvider: Send + Sync {
    fn assertion(&self, request: &AssertionRequest<'_>) -> Result<Secret>;
}

impl<F> AssertionProvider for F
where
    F: Fn(&AssertionRequest<'_>) -> Result<Secret> + Send + Sync,
{
    fn assertion(&self, request: &AssertionRequest<'_>) -> Result<Secret> {
        self(request)
    }
}

/// An RSA private key held in memory (from a PFX or PEM file).
pub struct RsaKeySigner {
    key: RsaKeyPair,
}

impl std::fmt::Debug for RsaKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKeySigner(<redacted>)")
    }
}

impl RsaKeySigner {
    /// From PKCS#8 DER, or PKCS#1 `RSAPrivateKey` DER.
    pub fn from_der(der: &[u8]) -> Result<RsaKeySigner> {
        let key = RsaKeyPair::from_pkcs8(der)
            .or_else(|_| RsaKeyPair::from_der(der))
            .map_err(|e| {
                Error::credential(format!(
                    "the private key is not a usable RSA key ({e}); Entra certificate credentials need RSA (2048 bits or more)"
                ))
            })?;
        Ok(RsaKeySigner { key })
    }

    /// The public key as PKCS#1 `RSAPublicKey` DER.
    pub fn public_key_der(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
}

impl AssertionSigner for RsaKeySigner {
    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>> {
        let padding: &'static dyn aws_lc_rs::signature::RsaEncoding = match algorithm {
            SignatureAlgorithm::Rs256 => &RSA_PKCS1_SHA256,
            SignatureAlgorithm::Ps256 => &RSA_PSS_SHA256,
        };
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                padding,
                &aws_lc_rs::rand::SystemRandom::new(),
                data,
                &mut signature,
            )
            .map_err(|_| Error::new(Status::Signer, "RSA signing failed"))?;
        Ok(signature)
    }
}

/// The public facts about the credential's certificate.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    pub der: Vec<u8>,
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    /// The end of the validity period, Unix seconds.
    pub not_after: i64,
}

impl CertificateInfo {
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
            Error::credential(format!("the certificate is not valid X.509 DER ({e})"))
        })?;
        Ok(CertificateInfo {
            der: der.to_vec(),
            sha1: aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
                .as_ref()
                .to_vec(),
            sha256: aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
                .as_ref()
                .to_vec(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// The SHA-1 thumbprint in upper-case hex, as the Entra portal shows it.
    pub fn thumbprint_hex(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The certificate's public key as PKCS#1 `RSAPublicKey` DER.
    fn rsa_public_key_der(&self) -> Result<Vec<u8>> {
        let (_, cert) = x509_parser::parse_x509_certificate(&self.der).map_err(|e| {
            Error::credential(format!("the certificate is not valid X.509 DER ({e})"))
        })?;
        Ok(cert.public_key().subject_public_key.data.to_vec())
    }
}

/// The credential a client authenticates with.
#[derive(Clone)]
pub enum Credential {
    Secret(Secret),
    Certificate {
        certificate: CertificateInfo,
        signer: Arc<dyn AssertionSigner>,
        /// The private key's identity when the library loaded it (PFX, PEM); `None` for a host
        /// signer, whose tokens are never shared between handles.
        key_id: Option<KeyId>,
    },
    /// The resource's managed identity: tokens come from the platform's local endpoint.
    ManagedIdentity(Arc<crate::managed_identity::ManagedIdentityClient>),
    /// Workload identity federation: the file's token is the client assertion, re-read for
    /// every token request.
    FederatedTokenFile(String),
    /// The host supplies each client assertion.
    Assertion(Arc<dyn AssertionProvider>),
    /// A Google service account (provider googleWorkspace): its key (or a host signer) signs
    /// the RS256 assertion of the JWT-bearer grant.
    GoogleServiceAccount {
        account: Arc<ServiceAccount>,
        signer: Arc<dyn AssertionSigner>,
        /// The private key's identity when the library loaded it; `None` for a host signer.
        key_id: Option<KeyId>,
    },
}

/// Who a Google service account is: what its key file says besides the private key. No secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// `client_email`: the assertion's `iss`.
    pub client_email: String,
    /// `private_key_id`: the assertion header's `kid` (omitted when unknown, as Google's own
    /// libraries do).
    pub private_key_id: Option<String>,
    /// `client_id`: the numeric id the Admin console's domain-wide delegation asks for.
    pub client_id: Option<String>,
    /// `token_uri`.
    pub token_uri: Option<String>,
    /// `project_id`: the Cloud project whose Gmail API must be enabled.
    pub project_id: Option<String>,
}

impl ServiceAccount {
    /// A service account with every field its key file can give, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_test() -> ServiceAccount {
        ServiceAccount {
            client_email: "sender@proj.iam.gserviceaccount.com".into(),
            private_key_id: Some("k1".into()),
            client_id: Some("109876543210".into()),
            token_uri: None,
            project_id: Some("proj".into()),
        }
    }
}

/// The fields of a service account key file we read; the others are ignored.
#[derive(serde::Deserialize)]
struct ServiceAccountKeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<Secret>,
    private_key_id: Option<String>,
    client_id: Option<String>,
    token_uri: Option<String>,
    project_id: Option<String>,
    universe_domain: Option<String>,
}

/// The largest service account key file read: a key file is about 2.3 KiB.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

const KEY_FILE_REMEDY: &str = "Use the JSON key of the service account as the Google Cloud console downloads it (IAM & Admin > Service accounts > the account > Keys > Add key > JSON).";

impl ServiceAccount {
    /// Reads a key file's JSON text: the account, and a signer over its private key. Errors
    /// name fields, never values (the text holds the private key).
    pub(crate) fn from_key_json(text: &[u8]) -> Result<(ServiceAccount, RsaKeySigner, KeyId)> {
        let key: ServiceAccountKeyFile = serde_json::from_slice(text).map_err(|e| {
            // serde's message can quote a value: say where, not what.
            Error::credential(format!(
                "the service account key is not valid JSON of a key file (line {}, column {})",
                e.line(),
                e.column()
            ))
            .with_remedy(KEY_FILE_REMEDY)
        })?;
        if let Some(kind) = &key.kind
            && kind != "service_account"
        {
            return Err(Error::credential(format!(
                "the key file is of type '{}', not 'service_account'",
                kind.chars().take(40).collect::<String>()
            ))
            .with_remedy(KEY_FILE_REMEDY));
        }
        if let Some(universe) = &key.universe_domain
            && universe != "googleapis.com"
        {
            return Err(Error::credential(
                "the service account belongs to a universe other than googleapis.com, where domain-wide delegation is not available",
            ));
        }
        let missing = |field: &str| {
            Error::credential(format!("the service account key has no {field}"))
                .with_remedy(KEY_FILE_REMEDY)
        };
        let client_email = key
            .client_email
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| missing("client_email"))?;
        let private_key = key
            .private_key
            .filter(|k| !k.expose().trim().is_empty())
            .ok_or_else(|| missing("private_key"))?;
        let key_der = rsa_key_der(&private_key)?;
        let signer = RsaKeySigner::from_der(&key_der)?;
        let non_empty =
            |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let account = ServiceAccount {
            client_email: client_email.trim().to_owned(),
            private_key_id: non_empty(key.private_key_id),
            client_id: non_empty(key.client_id),
            token_uri: non_empty(key.token_uri),
            project_id: non_empty(key.project_id),
        };
        Ok((account, signer, KeyId::of_private_key(&key_der)))
    }
}

/// The DER of the RSA key in a PEM text (PKCS#8 `PRIVATE KEY`, as Google issues it, or PKCS#1).
fn rsa_key_der(pem_text: &Secret) -> Result<SecretBytes> {
    let blocks = pem::parse_many(pem_text.expose())
        .map_err(|_| Error::credential("the service account key's private_key is not valid PEM"))?;
    for block in blocks {
        match block.tag() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => return Ok(Zeroizing::new(block.into_contents())),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::credential(
                    "the service account key's private_key is encrypted",
                ));
            }
            _ => {}
        }
    }
    Err(Error::credential(
        "the service account key's private_key holds no 'PRIVATE KEY' block",
    ))
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret(<redacted>)"),
            Credential::Certificate { certificate, .. } => write!(
                f,
                "Credential::Certificate(thumbprint {})",
                certificate.thumbprint_hex()
            ),
            Credential::ManagedIdentity(mi) => write!(
                f,
                "Credential::ManagedIdentity({})",
                mi.settings().source.name()
            ),
            Credential::FederatedTokenFile(path) => {
                write!(f, "Credential::FederatedTokenFile({path})")
            }
            Credential::Assertion(_) => f.write_str("Credential::Assertion(<host callback>)"),
            Credential::GoogleServiceAccount {
                account, key_id, ..
            } => write!(
                f,
                "Credential::GoogleServiceAccount({}, key {}, {})",
                account.client_email,
                account.private_key_id.as_deref().unwrap_or("-"),
                if key_id.is_some() {
                    "key file"
                } else {
                    "host signer"
                }
            ),
        }
    }
}

impl Credential {
    /// Loads the credential named by the config's `auth` section, which it consumes: the
    /// secret moves into the credential instead of being copied.
    pub fn load(auth: AuthConfig) -> Result<Credential> {
        match auth {
            AuthConfig::ClientSecret { secret } => Ok(Credential::Secret(secret)),
            AuthConfig::CertificatePfx {
                pfx_base64,
                pfx_path,
                password,
            } => {
                let bytes: SecretBytes = match (pfx_base64, pfx_path) {
                    (Some(b64), _) => Zeroizing::new(
                        base64::engine::general_purpose::STANDARD
                            .decode(b64.expose().trim().as_bytes())
                            .map_err(|e| {
                                Error::credential(format!(
                                    "auth.pfxBase64 is not valid base64 ({e})"
                                ))
                            })?,
                    ),
                    (None, Some(path)) => read_file("auth.pfxPath", &path)?,
                    (None, None) => {
                        return Err(Error::config(
                            "auth type certificatePfx needs pfxBase64 or pfxPath",
                        ));
                    }
                };
                let password = password.as_ref().map(Secret::expose).unwrap_or("");
                load_pfx(&bytes, password)
            }
            AuthConfig::CertificatePem {
                certificate_pem,
                certificate_path,
                private_key_pem,
                private_key_path,
            } => {
                let cert_text = match (certificate_pem, certificate_path) {
                    (Some(text), _) => text,
                    (None, Some(path)) => {
                        String::from_utf8_lossy(&read_file("auth.certificatePath", &path)?)
                            .into_owned()
                    }
                    (None, None) => {
                        return Err(Error::config(
                            "auth type certificatePem needs certificatePem or certificatePath",
                        ));
                    }
                };
                let key_text: Secret = match (private_key_pem, private_key_path) {
                    (Some(text), _) => text,
                    (None, Some(path)) => Secret::new(
                        String::from_utf8_lossy(&read_file("auth.privateKeyPath", &path)?)
                            .into_owned(),
                    ),
                    (None, None) => {
                        return Err(Error::config(
                            "auth type certificatePem needs privateKeyPem or privateKeyPath",
                        ));
                    }
                };
                load_pem(&cert_text, &key_text)
            }
            AuthConfig::Signer => Err(Error::config(
                "auth type signer needs a host signer: create the client with pmp_client_new_with_signer",
            )),
            AuthConfig::ClientAssertion => Err(Error::config(
                "auth type clientAssertion needs the host's assertion callback: create the client with pmp_client_new_with_assertion_callback",
            )),
            AuthConfig::ServiceAccountKey { key_path, key_json } => {
                let text: SecretBytes = match (key_json, key_path) {
                    (Some(json), _) => Zeroizing::new(json.expose().as_bytes().to_vec()),
                    (None, Some(path)) => read_host_file(
                        "auth.keyPath",
                        &path,
                        MAX_KEY_FILE_BYTES,
                        Error::credential,
                        |size| {
                            Error::credential(format!(
                                "auth.keyPath: '{path}' is {size}; a service account key file is a few KiB (at most {MAX_KEY_FILE_BYTES} bytes)"
                            ))
                        },
                    )
                    .map(Zeroizing::new)?,
                    (None, None) => {
                        return Err(Error::config(
                            "auth type serviceAccountKey needs keyPath or keyJson",
                        ));
                    }
                };
                let (account, signer, key_id) = ServiceAccount::from_key_json(&text)?;
                Ok(Credential::GoogleServiceAccount {
                    account: Arc::new(account),
                    signer: Arc::new(signer),
                    key_id: Some(key_id),
                })
            }
            AuthConfig::ManagedIdentity { .. } | AuthConfig::WorkloadIdentity { .. } => {
                Err(Error::new(
                    Status::Internal,
                    "managed and workload identities are built from the validated config",
                ))
            }
        }
    }

    /// A credential whose assertions the host signs.
    pub fn with_signer(cert_der: &[u8], signer: Arc<dyn AssertionSigner>) -> Result<Credential> {
        Ok(Credential::Certificate {
            certificate: CertificateInfo::from_der(cert_der)?,
            signer,
            key_id: None,
        })
    }

    /// What identifies this credential in the process-wide token cache, or `None` when its
    /// tokens must stay with the handle (a host signer or assertion callback: the library cannot
    /// tell two callbacks for the same credential from two for different ones).
    pub(crate) fn cache_fingerprint(&self, algorithm: AssertionAlgorithm) -> Option<Fingerprint> {
        match self {
            Credential::Secret(secret) => {
                Some(Fingerprint::new("client secret").part(secret.expose().as_bytes()))
            }
            Credential::Certificate {
                certificate,
                key_id: Some(key_id),
                ..
            } => Some(
                Fingerprint::new("certificate")
                    .part(&key_id.0)
                    .part(&certificate.sha256)
                    .part(format!("{algorithm:?}").as_bytes()),
            ),
            Credential::Certificate { key_id: None, .. } | Credential::Assertion(_) => None,
            Credential::ManagedIdentity(mi) => Some(mi.settings().cache_fingerprint()),
            Credential::FederatedTokenFile(path) => {
                Some(Fingerprint::new("workload identity token file").part(path.as_bytes()))
            }
            Credential::GoogleServiceAccount {
                account,
                key_id: Some(key_id),
                ..
            } => Some(
                Fingerprint::new("google service account")
                    .part(&key_id.0)
                    .part(account.client_email.as_bytes())
                    .optional(account.private_key_id.as_deref().map(str::as_bytes)),
            ),
            Credential::GoogleServiceAccount { key_id: None, .. } => None,
        }
    }

    pub fn certificate(&self) -> Option<&CertificateInfo> {
        match self {
            Credential::Certificate { certificate, .. } => Some(certificate),
            _ => None,
        }
    }

    /// Reads the federated token (the client assertion) from `path`: at most 64 KiB, trimmed.
    pub(crate) fn read_federated_token(path: &str) -> Result<Secret> {
        let field = "auth.tokenFile";
        let bytes = read_host_file(
            field,
            path,
            MAX_FEDERATED_TOKEN_BYTES,
            federated_error,
            |size| {
                federated_error(format!(
                    "{field}: '{path}' is {size}; a federated token is a JWT of a few KiB (at most {MAX_FEDERATED_TOKEN_BYTES} bytes)"
                ))
            },
        )?;
        let text = String::from_utf8(bytes)
            .map_err(|_| federated_error(format!("{field}: '{path}' is not text")))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(federated_error(format!("{field}: '{path}' is empty")));
        }
        if token.split('.').count() != 3 {
            return Err(federated_error(format!(
                "{field}: '{path}' does not hold a JWT (header.payload.signature)"
            )));
        }
        Ok(Secret::new(token.to_owned()))
    }

    /// Asks the host's provider for an assertion and checks its shape, as for a token file.
    pub(crate) fn provided_assertion(
        provider: &dyn AssertionProvider,
        request: &AssertionRequest<'_>,
    ) -> Result<Secret> {
        let assertion = provider.assertion(request)?;
        let token = assertion.expose().trim();
        let problem = if token.is_empty() {
            Some("is empty".to_owned())
        } else if token.len() as u64 > MAX_FEDERATED_TOKEN_BYTES {
            Some(format!(
                "is {} bytes; a client assertion is a JWT of a few KiB (at most {MAX_FEDERATED_TOKEN_BYTES} bytes)",
                token.len()
            ))
        } else if token.split('.').count() != 3 || token.chars().any(|c| c.is_whitespace()) {
            Some("is not a JWT (header.payload.signature)".to_owned())
        } else {
            None
        };
        match problem {
            Some(problem) => Err(Error::credential(format!(
                "the client assertion from the host's callback {problem}"
            ))
            .with_remedy("Return the federated token (a signed JWT whose subject and audience match a federated credential of the app) as it is, without a 'Bearer ' prefix or quotes.")),
            None if token.len() == assertion.expose().len() => Ok(assertion),
            None => Ok(Secret::new(token.to_owned())),
        }
    }
}

/// The largest federated token file read.
pub const MAX_FEDERATED_TOKEN_BYTES: u64 = 64 * 1024;

fn federated_error(message: String) -> Error {
    Error::credential(message).with_remedy("The token file is written by the platform (AKS workload identity mounts it at the path in AZURE_FEDERATED_TOKEN_FILE) or by your OIDC issuer's tooling; check the path and that this process may read it.")
}

/// The largest certificate or key file read: a PFX or PEM with its chain is a few KiB.
pub const MAX_CREDENTIAL_FILE_BYTES: u64 = 1024 * 1024;

fn read_file(field: &str, path: &str) -> Result<SecretBytes> {
    let limit = MAX_CREDENTIAL_FILE_BYTES;
    read_host_file(field, path, limit, Error::credential, |size| {
        Error::credential(format!(
            "{field}: '{path}' is {size}; a certificate or key file may be at most {limit} bytes (1 MiB)"
        ))
        .with_remedy("Check the path: PFX and PEM files are a few KiB, so this is not the certificate or key file.")
    })
    .map(Zeroizing::new)
}

fn load_pfx(bytes: &[u8], password: &str) -> Result<Credential> {
    let store = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| {
        Error::credential(format!("cannot open the PFX file ({e})")).with_remedy(
            "Check the PFX password and that the file is a PKCS#12 export with the private key.",
        )
    })?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        Error::credential("the PFX file holds no private key with a certificate")
            .with_remedy("Export the certificate WITH its private key (PFX/PKCS#12).")
    })?;
    let leaf = chain.certs().first().ok_or_else(|| {
        Error::credential("the PFX file's private key has no matching certificate")
    })?;
    let key_der = Zeroizing::new(chain.key().as_der().to_vec());
    build_certificate_credential(leaf.as_der(), &key_der)
}

fn load_pem(cert_text: &str, key_text: &Secret) -> Result<Credential> {
    let certs = pem::parse_many(cert_text)
        .map_err(|e| Error::credential(format!("the certificate PEM is invalid ({e})")))?;
    let leaf = certs
        .into_iter()
        .find(|p| p.tag() == "CERTIFICATE")
        .ok_or_else(|| Error::credential("the certificate PEM holds no CERTIFICATE block"))?;
    let keys = pem::parse_many(key_text.expose())
        .map_err(|_| Error::credential("the private key PEM is invalid"))?;
    let mut key_der = None;
    for block in keys {
        match block.tag() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => {
                key_der = Some(Zeroizing::new(block.into_contents()));
                break;
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::credential("the private key PEM is encrypted")
                    .with_remedy("Use an unencrypted PKCS#8 key, or a password-protected PFX (certificatePfx)."));
            }
            "EC PRIVATE KEY" => {
                return Err(Error::credential(
                    "the private key is an EC key; Entra certificate credentials need RSA",
                ));
            }
            _ => {}
        }
    }
    let key_der = key_der.ok_or_else(|| {
        Error::credential("the private key PEM holds no 'PRIVATE KEY' or 'RSA PRIVATE KEY' block")
    })?;
    build_certificate_credential(leaf.contents(), &key_der)
}

fn build_certificate_credential(cert_der: &[u8], key_der: &[u8]) -> Result<Credential> {
    let certificate = CertificateInfo::from_der(cert_der)?;
    let signer = RsaKeySigner::from_der(key_der)?;
    if certificate.rsa_public_key_der()? != signer.public_key_der() {
        return Err(Error::credential(format!(
            "the private key does not belong to the certificate (thumbprint {})",
            certificate.thumbprint_hex()
        ))
        .with_remedy("Use the key that was generated with this certificate."));
    }
    Ok(Credential::Certificate {
        certificate,
        signer: Arc::new(signer),
        key_id: Some(KeyId::of_private_key(key_der)),
    })
}
