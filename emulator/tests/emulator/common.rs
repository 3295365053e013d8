//! Shared test fixtures: a directory with several apps, a client that trusts only the
//! emulator CA, token and assertion helpers.

use std::sync::OnceLock;

use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pmp_graph_emulator::{Directory, Emulator, EmulatorOptions};
use serde_json::{Value, json};
use sha1::Digest as _;

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const SENDER: &str = "22222222-2222-2222-2222-222222222222"; // Mail.Send + Mail.ReadWrite, secret + cert
pub const NOROLES: &str = "33333333-3333-3333-3333-333333333333"; // no consented roles
pub const DISABLED: &str = "44444444-4444-4444-4444-444444444444";
pub const EXPIRED: &str = "55555555-5555-5555-5555-555555555555"; // expired secret
pub const BLOCKED: &str = "66666666-6666-6666-6666-666666666666"; // conditional access
pub const SENDONLY: &str = "77777777-7777-7777-7777-777777777777"; // Mail.Send only
pub const SECRET: &str = "s3cr3t+/=&value";
pub const MAILBOX: &str = "alerts@contoso.onmicrosoft.com";
pub const OTHER_TENANT: &str = "99999999-9999-9999-9999-999999999999";
pub const FED_APP: &str = "88888888-8888-8888-8888-888888888888"; // Mail.Send, GitHub FIC
pub const GH_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const GH_SUBJECT: &str = "repo:contoso/patches:ref:refs/heads/main";
pub const K8S_ISSUER: &str = "https://oidc.prod-aks.azure.com/aks-tenant/cluster/";
pub const K8S_SUBJECT: &str = "system:serviceaccount:mail:notifier";
pub const EXCHANGE_AUD: &str = "api://AzureADTokenExchange";
pub const IDENTITY_HEADER: &str = "test-identity-header";
pub const SYS_MI: &str = "a0000000-0000-0000-0000-000000000001"; // system-assigned, Mail.Send
pub const SYS_MI_OID: &str = "a0000000-0000-0000-0000-0000000000b1";
pub const UA_MI: &str = "b0000000-0000-0000-0000-000000000001"; // user-assigned, no roles
pub const UA_MI_OID: &str = "b0000000-0000-0000-0000-0000000000b1";
pub const UA_MI_RES: &str = "/subscriptions/00000000-0000-0000-0000-00000000abcd/resourceGroups/mail/providers/Microsoft.ManagedIdentity/userAssignedIdentities/noroles";
pub const UA_FED: &str = "c0000000-0000-0000-0000-000000000001"; // user-assigned, Mail.Send, Kubernetes FIC
pub const UA_FED_RES: &str = "/subscriptions/00000000-0000-0000-0000-00000000abcd/resourceGroups/mail/providers/Microsoft.ManagedIdentity/userAssignedIdentities/sender";

/// A test RSA certificate and its key.
pub struct TestCert {
    pub pem: String,
    pub der: Vec<u8>,
    pub key: RsaKeyPair,
}

pub fn cert() -> &'static TestCert {
    static C: OnceLock<TestCert> = OnceLock::new();
    C.get_or_init(make_cert)
}

pub fn other_cert() -> &'static TestCert {
    static C: OnceLock<TestCert> = OnceLock::new();
    C.get_or_init(make_cert)
}

fn make_cert() -> TestCert {
    let kp = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let params = rcgen::CertificateParams::new(vec!["test-app".to_string()]).unwrap();
    let c = params.self_signed(&kp).unwrap();
    TestCert {
        pem: c.pem(),
        der: c.der().to_vec(),
        key: RsaKeyPair::from_pkcs8(&kp.serialize_der()).unwrap(),
    }
}

/// One `[[apps]]` table; `extra` holds further `key = value` lines.
fn app_toml(tenant: &str, client_id: &str, name: &str, extra: &str) -> String {
    format!(
        "[[apps]]\ntenant = \"{tenant}\"\nclientId = \"{client_id}\"\ndisplayName = \"{name}\"\n{extra}\n"
    )
}

pub fn directory_toml() -> String {
    let pem = cert().pem.replace('\n', "\\n");
    let secret = format!("secrets = [{{ value = \"{SECRET}\" }}]");
    let apps = [
        app_toml(
            TENANT,
            SENDER,
            "Sender app",
            &format!(
                r#"roles = ["Mail.Send", "Mail.ReadWrite"]
unconsentedRoles = ["User.Read.All"]
secrets = [{{ value = "{SECRET}", expires = "2099-01-01T00:00:00Z" }}, {{ value = "old-secret", expires = "2001-01-01T00:00:00Z" }}]
certificates = [{{ pem = "{pem}" }}]"#
            ),
        ),
        app_toml(
            TENANT,
            NOROLES,
            "No roles",
            &format!("unconsentedRoles = [\"Mail.Send\"]\n{secret}"),
        ),
        app_toml(
            TENANT,
            DISABLED,
            "Disabled app",
            &format!("enabled = false\n{secret}"),
        ),
        app_toml(
            TENANT,
            EXPIRED,
            "Expired",
            &format!("secrets = [{{ value = \"{SECRET}\", expires = \"2020-01-01T00:00:00Z\" }}]"),
        ),
        app_toml(
            TENANT,
            BLOCKED,
            "Blocked",
            &format!("conditionalAccessBlocked = true\n{secret}"),
        ),
        app_toml(
            TENANT,
            SENDONLY,
            "Send only",
            &format!("roles = [\"Mail.Send\"]\n{secret}"),
        ),
        app_toml(
            OTHER_TENANT,
            SENDER,
            "Gov app",
            &format!("roles = [\"Mail.Send\"]\n{secret}"),
        ),
        app_toml(
            TENANT,
            FED_APP,
            "Federated app",
            &format!(
                "roles = [\"Mail.Send\"]\nfederatedCredentials = [{{ name = \"gh\", issuer = \"{GH_ISSUER}\", subject = \"{GH_SUBJECT}\" }}]"
            ),
        ),
    ]
    .join("\n");
    format!(
        r#"
identityHeader = "{IDENTITY_HEADER}"

[[tenants]]
id = "{TENANT}"
domains = ["{DOMAIN}"]

[[tenants]]
id = "{OTHER_TENANT}"
domains = ["fabrikam.onmicrosoft.us"]
cloud = "usGov"

{apps}
[[mailboxes]]
tenant = "{TENANT}"
address = "{MAILBOX}"
id = "aaaaaaaa-0000-0000-0000-000000000001"
displayName = "Alerts"

[[mailboxes]]
tenant = "{TENANT}"
address = "gone@contoso.onmicrosoft.com"
exists = false

[[mailboxes]]
tenant = "{TENANT}"
address = "onprem@contoso.onmicrosoft.com"
restEnabled = false

[[mailboxes]]
tenant = "{TENANT}"
address = "restricted@contoso.onmicrosoft.com"
accessPolicyAllowedApps = ["{SENDONLY}"]

[[managedIdentities]]
tenant = "{DOMAIN}"
kind = "system"
clientId = "{SYS_MI}"
objectId = "{SYS_MI_OID}"
displayName = "web-app"
roles = ["Mail.Send"]

[[managedIdentities]]
tenant = "{TENANT}"
kind = "user"
clientId = "{UA_MI}"
objectId = "{UA_MI_OID}"
resourceId = "{UA_MI_RES}"

[[managedIdentities]]
tenant = "{TENANT}"
kind = "user"
clientId = "{UA_FED}"
resourceId = "{UA_FED_RES}"
roles = ["Mail.Send"]
federatedCredentials = [{{ issuer = "{K8S_ISSUER}", subject = "{K8S_SUBJECT}", audiences = ["{EXCHANGE_AUD}"] }}]
"#
    )
}

pub fn directory() -> Directory {
    Directory::from_toml_str(&directory_toml()).unwrap()
}

pub fn start() -> Emulator {
    Emulator::start(directory()).unwrap()
}

pub fn start_with(f: impl FnOnce(&mut EmulatorOptions)) -> Emulator {
    let mut o = EmulatorOptions::new(directory());
    f(&mut o);
    Emulator::start_with(o).unwrap()
}

/// reqwest trusting only the emulator's CA: real certificate validation.
pub fn client(emu: &Emulator) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

/// GET `url` and parse the JSON answer.
pub async fn get_json<T: serde::de::DeserializeOwned>(c: &reqwest::Client, url: String) -> T {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// A control API URL, e.g. `control_url(&emu, "counters")`.
pub fn control_url(emu: &Emulator, rest: &str) -> String {
    format!("{}/_emulator/api/{rest}", emu.base_url())
}

/// The client-credentials form with a secret.
pub fn secret_form<'a>(
    client_id: &'a str,
    secret: &'a str,
    scope: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

pub async fn token_form(emu: &Emulator, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client(emu)
        .post(emu.token_url(tenant))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

pub async fn secret_token(emu: &Emulator, client_id: &str) -> String {
    let (s, v) = token_form(emu, TENANT, &secret_form(client_id, SECRET, GRAPH_SCOPE)).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

pub fn b64url(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

pub fn decode_claims(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Builds a client assertion; `alg` RS256 uses x5t (SHA-1), PS256 x5t#S256.
pub fn assertion(c: &TestCert, alg: &str, header_extra: Value, payload: Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if alg == "RS256" {
        header["x5t"] = json!(b64url(&sha1::Sha1::digest(&c.der)));
    } else {
        header["x5t#S256"] = json!(b64url(&sha2::Sha256::digest(&c.der)));
    }
    if let (Some(h), Some(extra)) = (header.as_object_mut(), header_extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                h.remove(k);
            } else {
                h.insert(k.clone(), v.clone());
            }
        }
    }
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    );
    let pad: &'static dyn signature::RsaEncoding = if alg == "PS256" {
        &signature::RSA_PSS_SHA256
    } else {
        &signature::RSA_PKCS1_SHA256
    };
    let mut sig = vec![0u8; c.key.public_modulus_len()];
    c.key
        .sign(
            pad,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{input}.{}", b64url(&sig))
}

pub fn std_payload(emu: &Emulator, client_id: &str) -> Value {
    let n = now();
    json!({
        "aud": emu.token_url(TENANT), "iss": client_id, "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": n, "exp": n + 600, "iat": n,
    })
}

pub async fn assertion_token(
    emu: &Emulator,
    tenant: &str,
    client_id: &str,
    jwt: &str,
) -> (u16, Value) {
    token_form(
        emu,
        tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", jwt),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await
}

/// Asserts an Entra error: status, `error`, `error_codes` and the description prefix.
pub fn assert_aadsts(status: u16, v: &Value, want_status: u16, want_error: &str, code: u64) {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["error"], want_error, "{v}");
    assert_eq!(v["error_codes"], json!([code]), "{v}");
    let d = v["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(
        d.contains("\r\nTrace ID: ")
            && d.contains("\r\nCorrelation ID: ")
            && d.contains("\r\nTimestamp: "),
        "{d}"
    );
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(v[k].is_string(), "{k} missing in {v}");
    }
}

/// Asserts a Graph error envelope.
pub async fn assert_graph_error(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert!(r.headers().contains_key("request-id"));
    assert!(r.headers().contains_key("client-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{v}");
    v
}

pub fn simple_message(to: &str) -> Value {
    json!({
        "message": {
            "subject": "Patch report",
            "body": {"contentType": "Text", "content": "All good."},
            "toRecipients": [{"emailAddress": {"address": to}}]
        },
        "saveToSentItems": false
    })
}

/// `POST /v1.0/users/{user}/sendMail` with `body` as `tok`.
pub async fn send_mail_as(
    c: &reqwest::Client,
    emu: &Emulator,
    user: &str,
    tok: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    c.post(graph_url(emu, &format!("users/{user}/sendMail")))
        .bearer_auth(tok)
        .json(body)
        .send()
        .await
}

pub fn graph_url(emu: &Emulator, rest: &str) -> String {
    format!("{}/v1.0/{rest}", emu.base_url())
}
