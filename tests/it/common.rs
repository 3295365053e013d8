//! Shared fixtures: an emulator with a test tenant, generated RSA certificates (rcgen +
//! aws-lc-rs), PFX files (p12-keystore) and client configs that trust the emulator's CA.
#![allow(dead_code)]

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use base64::Engine;
use pmp_graph_emulator::{Directory, Emulator, EmulatorOptions};
use serde_json::{Value, json};

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
/// Mail.Send + Mail.ReadWrite, secret + registered certificate.
pub const APP: &str = "22222222-2222-2222-2222-222222222222";
/// Mail.Send only (Mail.ReadWrite requested, not consented).
pub const APP_SEND_ONLY: &str = "33333333-3333-3333-3333-333333333333";
/// No roles at all.
pub const APP_NO_ROLES: &str = "44444444-4444-4444-4444-444444444444";
/// Disabled service principal.
pub const APP_DISABLED: &str = "55555555-5555-5555-5555-555555555555";
/// Blocked by Conditional Access.
pub const APP_CA_BLOCKED: &str = "66666666-6666-6666-6666-666666666666";
/// Only an expired secret.
pub const APP_EXPIRED_SECRET: &str = "77777777-7777-7777-7777-777777777777";
pub const SECRET: &str = "s3cr3t-VALUE~with.special&chars=";
pub const EXPIRED_SECRET: &str = "old-secret-value";
pub const MAILBOX: &str = "alerts@contoso.onmicrosoft.com";
pub const MAILBOX_MISSING: &str = "ghost@contoso.onmicrosoft.com";
pub const MAILBOX_NO_REST: &str = "onprem@contoso.onmicrosoft.com";
pub const MAILBOX_POLICY: &str = "scoped@contoso.onmicrosoft.com";
/// Two more ordinary mailboxes, for sends as several mailboxes at once.
pub const MAILBOX_SITE_A: &str = "site-a@contoso.onmicrosoft.com";
pub const MAILBOX_SITE_B: &str = "site-b@contoso.onmicrosoft.com";

/// An RSA certificate and its key in every form the tests need.
pub struct TestCert {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pkcs8_der: Vec<u8>,
    pub key_pem: String,
}

impl TestCert {
    pub fn generate(common_name: &str) -> TestCert {
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = rsa.as_der().unwrap().as_ref().to_vec();
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.clone()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key).unwrap();
        TestCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.clone())),
            key_pkcs8_der: pkcs8,
        }
    }

    /// A password-protected PKCS#12 file with the key and certificate.
    pub fn pfx(&self, password: &str) -> Vec<u8> {
        let key = p12_keystore::PrivateKey::from_der(&self.key_pkcs8_der).unwrap();
        let cert = p12_keystore::Certificate::from_der(&self.cert_der).unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(vec![1u8, 2, 3, 4], key, [cert]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("app", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().unwrap()
    }

    /// Signs like a host would (with aws-lc-rs directly).
    pub fn sign(&self, algorithm: pmp_mail::SignatureAlgorithm, data: &[u8]) -> Vec<u8> {
        let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&self.key_pkcs8_der).unwrap();
        let padding: &'static dyn aws_lc_rs::signature::RsaEncoding = match algorithm {
            pmp_mail::SignatureAlgorithm::Rs256 => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            pmp_mail::SignatureAlgorithm::Ps256 => &aws_lc_rs::signature::RSA_PSS_SHA256,
        };
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            padding,
            &aws_lc_rs::rand::SystemRandom::new(),
            data,
            &mut sig,
        )
        .unwrap();
        sig
    }
}

/// The certificate registered on APP (generated once per test binary).
pub fn app_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| TestCert::generate("pmp-mail test app"))
}

/// A certificate NOT registered anywhere.
pub fn stranger_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| TestCert::generate("not registered"))
}

pub fn directory_json(token_lifetime: Option<u64>) -> Value {
    let app = |id: &str, name: &str, roles: Value| {
        json!({
            "tenant": TENANT, "clientId": id, "displayName": name, "enabled": true,
            "roles": roles, "secrets": [{"value": SECRET, "expires": "2099-01-01T00:00:00Z"}],
        })
    };
    let mut full = app(
        APP,
        "Patch notifications",
        json!(["Mail.Send", "Mail.ReadWrite"]),
    );
    full["certificates"] = json!([{"pem": app_cert().cert_pem}]);
    let mut send_only = app(APP_SEND_ONLY, "Send only", json!(["Mail.Send"]));
    send_only["unconsentedRoles"] = json!(["Mail.ReadWrite"]);
    let mut disabled = app(APP_DISABLED, "Disabled app", json!(["Mail.Send"]));
    disabled["enabled"] = json!(false);
    let mut blocked = app(APP_CA_BLOCKED, "Blocked app", json!(["Mail.Send"]));
    blocked["conditionalAccessBlocked"] = json!(true);
    let mut expired = app(APP_EXPIRED_SECRET, "Expired secret", json!(["Mail.Send"]));
    expired["secrets"] = json!([{"value": EXPIRED_SECRET, "expires": "2001-01-01T00:00:00Z"}]);
    let mailbox = |address: &str| json!({"tenant": TENANT, "address": address, "exists": true, "restEnabled": true});
    let mut ghost = mailbox(MAILBOX_MISSING);
    ghost["exists"] = json!(false);
    let mut onprem = mailbox(MAILBOX_NO_REST);
    onprem["restEnabled"] = json!(false);
    let mut scoped = mailbox(MAILBOX_POLICY);
    scoped["accessPolicyAllowedApps"] = json!([APP_SEND_ONLY]);
    let mut dir = json!({
        "tenants": [{"id": TENANT, "domains": [DOMAIN], "cloud": "global"}],
        "apps": [full, send_only, app(APP_NO_ROLES, "No roles", json!([])), disabled, blocked, expired],
        "mailboxes": [mailbox(MAILBOX), ghost, onprem, scoped, mailbox(MAILBOX_SITE_A), mailbox(MAILBOX_SITE_B)],
    });
    if let Some(lifetime) = token_lifetime {
        dir["tokenLifetimeSeconds"] = json!(lifetime);
    }
    dir
}

pub fn start_emulator() -> Emulator {
    start_emulator_with(None)
}

pub fn start_emulator_with(token_lifetime: Option<u64>) -> Emulator {
    start_configured(|options| options.token_lifetime_seconds = token_lifetime)
}

/// An emulator in strict mode (pmp-mail's requests are held to Graph's documented wire: no
/// bearer on upload URLs, ranges up to 4 MiB, JSON content types), adjusted by `configure`.
pub fn start_configured(configure: impl FnOnce(&mut EmulatorOptions)) -> Emulator {
    let directory = Directory::from_json_str(&directory_json(None).to_string()).unwrap();
    let mut options = EmulatorOptions::new(directory);
    options.strict = true;
    configure(&mut options);
    start_on_a_new_port(options)
}

/// Starts an emulator on a port no earlier emulator of this test process had. Tokens outlive
/// clients in the process-wide cache, keyed by the token URL (port included), and every test
/// emulator signs with the same key: an emulator on a reused port would be handed another
/// test's cached token, and that test's token counts would be off.
pub fn start_on_a_new_port(options: EmulatorOptions) -> Emulator {
    static USED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    // Kept bound until a new port is found, so the OS cannot hand the same port out again.
    let mut reused = Vec::new();
    loop {
        let emu = Emulator::start_with(options.clone()).unwrap();
        let mut used = USED.lock().unwrap();
        if !used.iter().any(|url| url == emu.base_url()) {
            used.push(emu.base_url().to_owned());
            return emu;
        }
        drop(used);
        reused.push(emu);
    }
}

/// A config for `client_id` with `auth`, pointed at the emulator and trusting its CA.
pub fn config_json(emu: &Emulator, client_id: &str, auth: Value) -> Value {
    json!({
        "tenant": TENANT,
        "clientId": client_id,
        "auth": auth,
        "authorityHost": emu.base_url(),
        "graphRoot": emu.base_url(),
        "http": {
            "extraCaCertificatesPem": emu.ca_pem(),
            "useSystemProxy": false,
            "timeoutSeconds": 30,
        },
        "retry": {"maxAttempts": 4, "maxTotalWaitSeconds": 20},
    })
}

pub fn secret_auth() -> Value {
    json!({"type": "clientSecret", "secret": SECRET})
}

pub fn client_for(emu: &Emulator, client_id: &str, auth: Value) -> pmp_mail::Client {
    client_from(config_json(emu, client_id, auth))
}

pub fn client_from(config: Value) -> pmp_mail::Client {
    let config = pmp_mail::Config::from_json(&config.to_string()).unwrap();
    pmp_mail::Client::new(config).unwrap()
}

pub fn message(value: Value) -> pmp_mail::Message {
    pmp_mail::Message::from_json(&value.to_string()).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic pseudo-random bytes (so sizes and content are reproducible).
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
