//! Google Workspace: the service-account token endpoint (every refusal Google documents or was
//! seen to give), Gmail's send as JSON `raw` and through the upload endpoint (media, multipart,
//! resumable in one piece and in chunks), per-user limits, faults, the demo and the control API.

use std::sync::OnceLock;

use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature;
use pmp_graph_emulator::{
    Directory, Emulator, EmulatorOptions, FaultKind, FaultPlan, FaultRule, ServiceAccountKey,
};
use serde_json::{Value, json};

use crate::common::*;

const SA: &str = "sender@pmp-tests.iam.gserviceaccount.com";
const SA_ID: &str = "111111111111111111111";
const NODWD: &str = "nodwd@pmp-tests.iam.gserviceaccount.com"; // no delegation anywhere
const NARROW: &str = "narrow@pmp-tests.iam.gserviceaccount.com"; // delegated gmail.readonly only
const DISABLED_SA: &str = "disabled@pmp-tests.iam.gserviceaccount.com";
const OFF_SA: &str = "off@pmp-off.iam.gserviceaccount.com"; // project without the Gmail API
const USER: &str = "alerts@example.com";
const ALIAS: &str = "noreply@example.com";
const NOMAIL: &str = "nomail@example.com";
const SLOW: &str = "slow@example.com"; // 2 sends per minute
const SEND: &str = "https://www.googleapis.com/auth/gmail.send";
const READONLY: &str = "https://www.googleapis.com/auth/gmail.readonly";

struct Key {
    sak: ServiceAccountKey,
    pair: RsaKeyPair,
}

fn load(sak: ServiceAccountKey) -> Key {
    let der = pem::parse(&sak.private_key_pem).unwrap();
    assert_eq!(der.tag(), "PRIVATE KEY", "key files hold PKCS#8");
    let pair = RsaKeyPair::from_pkcs8(der.contents()).unwrap();
    Key { sak, pair }
}

/// The registered key (also registered, disabled, as `disabled_key`'s id on SA).
fn key() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| load(ServiceAccountKey::generate("pmp-tests", SA, SA_ID).unwrap()))
}

fn disabled_key() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| load(ServiceAccountKey::generate("pmp-tests", SA, SA_ID).unwrap()))
}

fn stranger_key() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| load(ServiceAccountKey::generate("pmp-tests", SA, SA_ID).unwrap()))
}

fn google_toml() -> String {
    let k = key();
    let pem = k.sak.public_key_pem.replace('\n', "\\n");
    let dpem = disabled_key().sak.public_key_pem.replace('\n', "\\n");
    let kid = &k.sak.private_key_id;
    let dkid = &disabled_key().sak.private_key_id;
    let keys = format!("[{{ id = \"{kid}\", publicKeyPem = \"{pem}\" }}]");
    format!(
        r#"
[[google.projects]]
id = "pmp-tests"
number = "123456789012"

[[google.projects]]
id = "pmp-off"
number = "999999999999"
gmailApiEnabled = false

[[google.serviceAccounts]]
project = "pmp-tests"
clientEmail = "{SA}"
clientId = "{SA_ID}"
keys = [{{ id = "{kid}", publicKeyPem = "{pem}" }}, {{ id = "{dkid}", publicKeyPem = "{dpem}", disabled = true }}]

[[google.serviceAccounts]]
project = "pmp-tests"
clientEmail = "{NODWD}"
clientId = "222222222222222222222"
keys = {keys}

[[google.serviceAccounts]]
project = "pmp-tests"
clientEmail = "{NARROW}"
clientId = "333333333333333333333"
keys = {keys}

[[google.serviceAccounts]]
project = "pmp-tests"
clientEmail = "{DISABLED_SA}"
clientId = "444444444444444444444"
disabled = true
keys = {keys}

[[google.serviceAccounts]]
project = "pmp-off"
clientEmail = "{OFF_SA}"
clientId = "555555555555555555555"
keys = {keys}

[[google.domains]]
name = "example.com"
users = [
  {{ address = "{USER}", sendAs = ["{ALIAS}"] }},
  {{ address = "{NOMAIL}", mailEnabled = false }},
  {{ address = "{SLOW}", throttling = {{ sendsPerMinute = 2 }} }},
]
delegations = [
  {{ clientId = "{SA_ID}", scopes = ["{SEND}"] }},
  {{ clientId = "333333333333333333333", scopes = ["{READONLY}"] }},
  {{ clientId = "555555555555555555555", scopes = ["{SEND}"] }},
]
"#
    )
}

fn gdirectory() -> Directory {
    Directory::from_toml_str(&format!("{}\n{}", directory_toml(), google_toml())).unwrap()
}

fn gstart() -> Emulator {
    Emulator::start(gdirectory()).unwrap()
}

fn sign(k: &Key, header: Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; k.pair.public_modulus_len()];
    k.pair
        .sign(
            &signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{input}.{}", b64url(&sig))
}

fn header(k: &Key) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": k.sak.private_key_id})
}

fn claims(emu: &Emulator, iss: &str, sub: Option<&str>, scope: &str) -> Value {
    let n = now();
    let mut c = json!({"iss": iss, "scope": scope, "aud": emu.google_token_url(), "iat": n, "exp": n + 3600});
    if let Some(s) = sub {
        c["sub"] = json!(s);
    }
    c
}

async fn token_call(emu: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client(emu)
        .post(emu.google_token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn grant(emu: &Emulator, assertion: &str) -> (u16, Value) {
    token_call(
        emu,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ],
    )
    .await
}

async fn access_token(emu: &Emulator, iss: &str, sub: Option<&str>, scope: &str) -> String {
    let (s, v) = grant(
        emu,
        &sign(key(), header(key()), &claims(emu, iss, sub, scope)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

fn assert_oauth(got: (u16, Value), status: u16, error: &str, description: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(
        got.1,
        json!({"error": error, "error_description": description})
    );
}

/// Asserts Google's API error envelope and returns it.
async fn assert_google(r: reqwest::Response, status: u16, reason: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], status, "{v}");
    assert_eq!(v["error"]["errors"][0]["reason"], reason, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    v
}

fn raw_message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!("From: Alerts <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nX-Patch-Run: 42\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAll good.\r\n")
        .into_bytes()
}

/// A message with an attachment of `size` bytes (a non-trivial pattern).
fn message_with_attachment(size: usize) -> (Vec<u8>, Vec<u8>) {
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let eml = mail_builder::MessageBuilder::new()
        .from(("Alerts", USER))
        .to("ops@contoso.example")
        .subject("Bericht für März ✓")
        .text_body("see attached")
        .attachment("application/octet-stream", "blob.bin", data.clone())
        .write_to_vec()
        .unwrap();
    (eml, data)
}

fn gmail_url(emu: &Emulator, user: &str) -> String {
    format!("{}/gmail/v1/users/{user}/messages/send", emu.gmail_root())
}

fn upload_url(emu: &Emulator, user: &str, upload_type: &str) -> String {
    format!(
        "{}/upload/gmail/v1/users/{user}/messages/send?uploadType={upload_type}",
        emu.gmail_root()
    )
}

async fn send_raw(
    emu: &Emulator,
    tok: &str,
    user: &str,
    raw: &[u8],
) -> reqwest::Result<reqwest::Response> {
    client(emu)
        .post(gmail_url(emu, user))
        .bearer_auth(tok)
        .json(&json!({"raw": b64url(raw)}))
        .send()
        .await
}

#[tokio::test]
async fn token_for_a_delegated_user() {
    let emu = gstart();
    let (s, v) = grant(
        &emu,
        &sign(key(), header(key()), &claims(&emu, SA, Some(USER), SEND)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
    assert!(v["access_token"].as_str().unwrap().starts_with("ya29."));
    // Google's own audience (python hard-codes it), without kid (every active key is tried).
    let mut c = claims(&emu, SA, Some(USER), SEND);
    c["aud"] = json!("https://oauth2.googleapis.com/token");
    let (s, v) = grant(
        &emu,
        &sign(key(), json!({"alg": "RS256", "typ": "JWT"}), &c),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The old token_uri path too; a token for the service account itself (no sub).
    let r = client(&emu)
        .post(format!("{}/o/oauth2/token", emu.base_url()))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            (
                "assertion",
                &sign(key(), header(key()), &claims(&emu, SA, None, SEND)),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let counts: Value = get_json(&client(&emu), control_url(&emu, "google/tokens")).await;
    assert_eq!(
        counts,
        json!([
            {"serviceAccount": SA, "subject": "", "issued": 1},
            {"serviceAccount": SA, "subject": USER, "issued": 2},
        ])
    );
    let t = emu.tokens();
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].credential, "googleServiceAccount");
    assert_eq!(t[0].app_id, SA);
    assert_eq!(t[0].claims["sub"], USER);
    assert_eq!(emu.counters().token_requests, 3);
    // The request log keeps no assertion.
    let log = serde_json::to_string(&emu.requests()).unwrap();
    assert!(!log.contains("eyJ"), "{log}");
}

#[tokio::test]
async fn token_refusals() {
    let emu = gstart();
    let good = || claims(&emu, SA, Some(USER), SEND);
    let signed = |c: &Value| sign(key(), header(key()), c);
    let short = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

    assert_oauth(
        token_call(
            &emu,
            &[("grant_type", "client_credentials"), ("assertion", "x")],
        )
        .await,
        400,
        "unsupported_grant_type",
        "Invalid grant_type: client_credentials",
    );
    assert_oauth(
        token_call(
            &emu,
            &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")],
        )
        .await,
        400,
        "invalid_request",
        "Missing required parameter: assertion",
    );
    // Signed by an unregistered key, by a disabled key, or naming an unknown kid.
    assert_oauth(
        grant(&emu, &sign(stranger_key(), header(key()), &good())).await,
        400,
        "invalid_grant",
        "Invalid JWT Signature.",
    );
    assert_oauth(
        grant(&emu, &sign(disabled_key(), header(disabled_key()), &good())).await,
        400,
        "invalid_grant",
        "Invalid JWT Signature.",
    );
    assert_oauth(
        grant(
            &emu,
            &sign(key(), json!({"alg": "RS256", "kid": "0000"}), &good()),
        )
        .await,
        400,
        "invalid_grant",
        "Invalid JWT Signature.",
    );
    assert_oauth(
        grant(
            &emu,
            &sign(
                key(),
                json!({"alg": "RS384", "kid": key().sak.private_key_id}),
                &good(),
            ),
        )
        .await,
        400,
        "invalid_grant",
        "Invalid JWT Signature.",
    );
    let mut c = good();
    c["iss"] = json!("ghost@pmp-tests.iam.gserviceaccount.com");
    assert_oauth(
        grant(&emu, &signed(&c)).await,
        400,
        "invalid_grant",
        "Invalid grant: account not found",
    );
    assert_oauth(
        grant(&emu, &signed(&claims(&emu, DISABLED_SA, Some(USER), SEND))).await,
        400,
        "invalid_grant",
        "Robot is disabled.",
    );
    // Lifetime over an hour; issued in the future; already expired.
    let mut c = good();
    c["exp"] = json!(c["iat"].as_i64().unwrap() + 3601);
    assert_oauth(grant(&emu, &signed(&c)).await, 400, "invalid_grant", short);
    let mut c = good();
    c["iat"] = json!(now() + 1200);
    c["exp"] = json!(now() + 1800);
    assert_oauth(grant(&emu, &signed(&c)).await, 400, "invalid_grant", short);
    let mut c = good();
    c["iat"] = json!(now() - 3000);
    c["exp"] = json!(now() - 2000);
    assert_oauth(grant(&emu, &signed(&c)).await, 400, "invalid_grant", short);
    let mut c = good();
    c["aud"] = json!("https://example.com/token");
    let got = grant(&emu, &signed(&c)).await;
    assert_eq!(got.1["error"], "invalid_grant");
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JWT: Failed audience check. The right audience is "),
        "{}",
        got.1
    );
    for scope in ["", "gmail.send", "https://example.com/auth/x"] {
        assert_oauth(
            grant(&emu, &signed(&claims(&emu, SA, Some(USER), scope))).await,
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    for sub in ["nobody@example.com", "alerts@elsewhere.example", "alerts"] {
        assert_oauth(
            grant(&emu, &signed(&claims(&emu, SA, Some(sub), SEND))).await,
            400,
            "invalid_grant",
            "Invalid email or User ID",
        );
    }
    let unauthorized = "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.";
    // No delegation for this client id; a scope the delegation does not hold.
    assert_oauth(
        grant(&emu, &signed(&claims(&emu, NODWD, Some(USER), SEND))).await,
        401,
        "unauthorized_client",
        unauthorized,
    );
    assert_oauth(
        grant(
            &emu,
            &signed(&claims(&emu, SA, Some(USER), &format!("{SEND} {READONLY}"))),
        )
        .await,
        401,
        "unauthorized_client",
        unauthorized,
    );
    assert_eq!(emu.counters().tokens_issued, 0);
    assert!(emu.google_token_counts().is_empty());
}

#[tokio::test]
async fn gmail_raw_send_records_like_graph_mail() {
    let state = tempfile::tempdir().unwrap();
    let mut o = EmulatorOptions::new(gdirectory());
    o.state_dir = Some(state.path().to_path_buf());
    let emu = Emulator::start_with(o).unwrap();
    let tok = access_token(&emu, SA, Some(USER), SEND).await;
    let raw = raw_message(
        USER,
        "ops@contoso.example, Dev <dev@contoso.example>",
        "Patch report ✓",
    );
    let r = send_raw(&emu, &tok, "me", &raw).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{v}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(v, json!({"id": id, "threadId": id, "labelIds": ["SENT"]}));

    let m = &emu.messages()[0];
    assert_eq!(m.id, id);
    assert_eq!(m.provider.as_deref(), Some("gmail"));
    assert_eq!(m.via, "gmail:raw");
    assert_eq!(m.mailbox, USER);
    assert_eq!(m.app_id, SA);
    assert_eq!(m.subject, "Patch report ✓");
    assert_eq!(m.from.address, USER);
    assert_eq!(m.to.len(), 2);
    assert_eq!(m.to[1].name.as_deref(), Some("Dev"));
    assert_eq!(m.headers[0].name, "X-Patch-Run");
    // The .eml is the message exactly as it arrived; the .json the record.
    let eml = std::fs::read(state.path().join("messages").join(format!("{id}.eml"))).unwrap();
    assert_eq!(eml, raw);
    let json: Value = serde_json::from_slice(
        &std::fs::read(state.path().join("messages").join(format!("{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(json["via"], "gmail:raw");
    assert_eq!(json["provider"], "gmail");
    let listed: Value = get_json(&client(&emu), control_url(&emu, "messages")).await;
    assert_eq!(listed[0]["provider"], "gmail");
    // The inbox page's list and view label the service.
    let inbox: Value = get_json(&client(&emu), control_url(&emu, "inbox")).await;
    assert_eq!(inbox["messages"][0]["service"], "Gmail");
    let view: Value = get_json(
        &client(&emu),
        control_url(&emu, &format!("messages/{id}/view")),
    )
    .await;
    assert_eq!(
        (&view["service"], &view["via"]),
        (&json!("Gmail"), &json!("gmail:raw"))
    );

    // userId = the subject's own address; padded base64url; a threadId; the sender a recipient.
    let raw = raw_message(USER, USER, "to self");
    let padded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &raw);
    let r = client(&emu)
        .post(gmail_url(&emu, "ALERTS@example.com"))
        .bearer_auth(&tok)
        .json(&json!({"raw": padded, "threadId": "18c0ffee00000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["threadId"], "18c0ffee00000001");
    assert_eq!(v["labelIds"], json!(["UNREAD", "SENT", "INBOX"]));

    // A verified alias stays the From; any other From becomes the user's address.
    send_raw(
        &emu,
        &tok,
        "me",
        &raw_message(ALIAS, "a@contoso.example", "alias"),
    )
    .await
    .unwrap();
    send_raw(
        &emu,
        &tok,
        "me",
        &raw_message("ceo@contoso.example", "a@contoso.example", "spoof"),
    )
    .await
    .unwrap();
    let ms = emu.messages();
    assert_eq!(ms[2].from.address, ALIAS);
    assert_eq!(ms[3].from.address, USER);
    assert_eq!(ms[3].from.name.as_deref(), Some("Alerts"));
}

#[tokio::test]
async fn gmail_refusals_in_googles_shapes() {
    let emu = gstart();
    let c = client(&emu);
    let raw = raw_message(USER, "a@contoso.example", "x");
    let body = json!({"raw": b64url(&raw)});

    let r = c
        .post(gmail_url(&emu, "me"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let v = assert_google(r, 401, "required").await;
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(v["error"]["errors"][0]["location"], "Authorization");
    assert_eq!(v["error"]["errors"][0]["locationType"], "header");
    let v = assert_google(
        send_raw(&emu, "ya29.forged", "me", &raw).await.unwrap(),
        401,
        "authError",
    )
    .await;
    assert_eq!(v["error"]["errors"][0]["message"], "Invalid Credentials");
    // A Graph token is no Google token.
    let graph = secret_token(&emu, SENDER).await;
    assert_google(
        send_raw(&emu, &graph, "me", &raw).await.unwrap(),
        401,
        "authError",
    )
    .await;

    let off = access_token(&emu, OFF_SA, Some(USER), SEND).await;
    let v = assert_google(
        send_raw(&emu, &off, "me", &raw).await.unwrap(),
        403,
        "accessNotConfigured",
    )
    .await;
    assert_eq!(v["error"]["errors"][0]["domain"], "usageLimits");
    assert_eq!(v["error"]["status"], "PERMISSION_DENIED");
    assert!(v["error"]["message"].as_str().unwrap().starts_with(
        "Gmail API has not been used in project 999999999999 before or it is disabled."
    ));

    let narrow = access_token(&emu, NARROW, Some(USER), READONLY).await;
    let v = assert_google(
        send_raw(&emu, &narrow, "me", &raw).await.unwrap(),
        403,
        "insufficientPermissions",
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Request had insufficient authentication scopes."
    );

    let tok = access_token(&emu, SA, Some(USER), SEND).await;
    let v = assert_google(
        send_raw(&emu, &tok, NOMAIL, &raw).await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        format!("Delegation denied for {NOMAIL}")
    );

    let own = access_token(&emu, SA, None, SEND).await;
    let v = assert_google(
        send_raw(&emu, &own, "me", &raw).await.unwrap(),
        400,
        "failedPrecondition",
    )
    .await;
    assert_eq!(v["error"]["message"], "Precondition check failed.");
    assert_eq!(v["error"]["status"], "FAILED_PRECONDITION");
    let nomail = access_token(&emu, SA, Some(NOMAIL), SEND).await;
    let v = assert_google(
        send_raw(&emu, &nomail, "me", &raw).await.unwrap(),
        400,
        "failedPrecondition",
    )
    .await;
    assert_eq!(v["error"]["message"], "Mail service not enabled");

    let post = |b: Value| {
        c.post(gmail_url(&emu, "me"))
            .bearer_auth(&tok)
            .json(&b)
            .send()
    };
    let v = assert_google(post(json!({})).await.unwrap(), 400, "badRequest").await;
    assert_eq!(
        v["error"]["message"],
        "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
    );
    let v = assert_google(
        post(json!({"raw": b64url(&raw), "foo": 1})).await.unwrap(),
        400,
        "invalid",
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Invalid JSON payload received. Unknown name \"foo\": Cannot find field."
    );
    assert_google(post(json!({"raw": "!!!"})).await.unwrap(), 400, "invalid").await;
    let v = assert_google(
        send_raw(
            &emu,
            &tok,
            "me",
            b"From: alerts@example.com\r\nSubject: none\r\n\r\nx",
        )
        .await
        .unwrap(),
        400,
        "invalidArgument",
    )
    .await;
    assert_eq!(v["error"]["message"], "Recipient address required");
    let v = assert_google(
        send_raw(&emu, &tok, "me", &raw_message(USER, "not-an-address", "x"))
            .await
            .unwrap(),
        400,
        "invalidArgument",
    )
    .await;
    assert_eq!(v["error"]["message"], "Invalid To header");
    // Over the JSON endpoint's 1 MiB: use /upload.
    let (big, _) = message_with_attachment(900 * 1024);
    let v = assert_google(
        send_raw(&emu, &tok, "me", &big).await.unwrap(),
        400,
        "badRequest",
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Request payload size exceeds the limit: 1048576 bytes."
    );
    assert!(emu.messages().is_empty());
}

#[tokio::test]
async fn media_and_multipart_uploads() {
    let emu = gstart();
    let c = client(&emu);
    let tok = access_token(&emu, SA, Some(USER), SEND).await;
    let (eml, data) = message_with_attachment(3 * 1024 * 1024);

    let r = c
        .post(upload_url(&emu, "me", "media"))
        .bearer_auth(&tok)
        .header("content-type", "message/rfc822")
        .body(eml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["labelIds"], json!(["SENT"]));

    let boundary = "foo_bar_baz";
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{{\"threadId\":\"18c0ffee00000002\"}}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&eml);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = c
        .post(upload_url(&emu, "me", "multipart"))
        .bearer_auth(&tok)
        .header(
            "content-type",
            format!("multipart/related; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["threadId"], "18c0ffee00000002");

    let ms = emu.messages();
    assert_eq!(
        ms.iter().map(|m| m.via.as_str()).collect::<Vec<_>>(),
        ["gmail:media", "gmail:multipart"]
    );
    for m in &ms {
        assert_eq!(m.subject, "Bericht für März ✓");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].name, "blob.bin");
        assert_eq!(m.attachments[0].size, data.len() as u64);
        assert_eq!(
            m.attachments[0].sha256,
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&data))
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }

    // Media must be message/*; the upload endpoint still checks the token.
    let v = assert_google(
        c.post(upload_url(&emu, "me", "media"))
            .bearer_auth(&tok)
            .header("content-type", "application/octet-stream")
            .body(eml.clone())
            .send()
            .await
            .unwrap(),
        400,
        "badContent",
    )
    .await;
    assert_eq!(
        v["error"]["message"],
        "Media type 'application/octet-stream' is not supported. Valid media types: [message/*]"
    );
    assert_google(
        c.post(upload_url(&emu, "me", "media"))
            .header("content-type", "message/rfc822")
            .body(eml.clone())
            .send()
            .await
            .unwrap(),
        401,
        "required",
    )
    .await;
    // Over 35 MiB.
    let huge = vec![b'a'; 36_700_161];
    assert_google(
        c.post(upload_url(&emu, "me", "media"))
            .bearer_auth(&tok)
            .header("content-type", "message/rfc822")
            .body(huge)
            .send()
            .await
            .unwrap(),
        413,
        "uploadTooLarge",
    )
    .await;
    assert_eq!(emu.messages().len(), 2);
}

async fn initiate(emu: &Emulator, tok: &str, total: Option<usize>) -> String {
    let mut rb = client(emu)
        .post(upload_url(emu, "me", "resumable"))
        .bearer_auth(tok)
        .header("content-type", "application/json; charset=UTF-8")
        .header("x-upload-content-type", "message/rfc822");
    if let Some(n) = total {
        rb = rb.header("x-upload-content-length", n.to_string());
    }
    let r = rb.body("{}").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("uploadType=resumable&upload_id="), "{loc}");
    loc
}

#[tokio::test]
async fn resumable_upload_whole_and_chunked() {
    let emu = gstart();
    let c = client(&emu);
    let tok = access_token(&emu, SA, Some(USER), SEND).await;
    let (eml, data) = message_with_attachment(600 * 1024);
    let n = eml.len();

    // In one PUT.
    let loc = initiate(&emu, &tok, Some(n)).await;
    let r = c.put(&loc).body(eml.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // In 256 KiB chunks: 308 + Range after each but the last; a status query on the way.
    let loc = initiate(&emu, &tok, None).await;
    let chunk = 256 * 1024;
    let mut first = 0;
    while first < n {
        let last = (first + chunk).min(n) - 1;
        let total = if last + 1 == n {
            n.to_string()
        } else {
            "*".to_string()
        };
        let r = c
            .put(&loc)
            .header("content-range", format!("bytes {first}-{last}/{total}"))
            .body(eml[first..=last].to_vec())
            .send()
            .await
            .unwrap();
        if last + 1 < n {
            assert_eq!(r.status().as_u16(), 308);
            assert_eq!(r.headers()["range"], format!("bytes=0-{last}").as_str());
            let q = c
                .put(&loc)
                .header("content-range", format!("bytes */{n}"))
                .send()
                .await
                .unwrap();
            assert_eq!(q.status().as_u16(), 308);
            assert_eq!(q.headers()["range"], format!("bytes=0-{last}").as_str());
        } else {
            assert_eq!(r.status(), 200);
        }
        first = last + 1;
    }
    // After completion a status query answers with the sent message (the outcome is knowable).
    let done: Value = c
        .put(&loc)
        .header("content-range", format!("bytes */{n}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ms = emu.messages();
    assert_eq!(ms.len(), 2, "a status query sends nothing again");
    assert_eq!(done["id"], ms[1].id.as_str());
    for m in &ms {
        assert_eq!(m.via, "gmail:resumable");
        assert_eq!(m.attachments[0].size, data.len() as u64);
    }

    // The Go client's variant: POST chunks with X-GUploader-No-308.
    let loc = initiate(&emu, &tok, Some(n)).await;
    let half = 512 * 1024;
    let r = c
        .post(&loc)
        .header("x-guploader-no-308", "yes")
        .header("content-range", format!("bytes 0-{}/{n}", half - 1))
        .body(eml[..half].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-http-status-code-override"], "308");
    let r = c
        .post(&loc)
        .header("x-guploader-no-308", "yes")
        .header("content-range", format!("bytes {half}-{}/{n}", n - 1))
        .body(eml[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-http-status-code-override").is_none());
    assert_eq!(emu.messages().len(), 3);

    // A gap is refused; an unknown session is 404; over 35 MiB announced is 413.
    let loc = initiate(&emu, &tok, Some(n)).await;
    let r = c
        .put(&loc)
        .header("content-range", format!("bytes 10-19/{n}"))
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_google(r, 400, "badContent").await;
    let gone = format!(
        "{}?uploadType=resumable&upload_id=nope",
        gmail_url(&emu, "me").replace("/gmail/", "/upload/gmail/")
    );
    assert_google(
        c.put(&gone).body("x").send().await.unwrap(),
        404,
        "notFound",
    )
    .await;
    let r = c
        .post(upload_url(&emu, "me", "resumable"))
        .bearer_auth(&tok)
        .header("x-upload-content-type", "message/rfc822")
        .header("x-upload-content-length", "36700161")
        .send()
        .await
        .unwrap();
    assert_google(r, 413, "uploadTooLarge").await;
    assert_eq!(emu.messages().len(), 3);
}

#[tokio::test]
async fn per_user_limits_and_injected_faults() {
    let emu = gstart();
    let tok = access_token(&emu, SA, Some(SLOW), SEND).await;
    let raw = raw_message(SLOW, "a@contoso.example", "x");
    for _ in 0..2 {
        assert_eq!(
            send_raw(&emu, &tok, "me", &raw).await.unwrap().status(),
            200
        );
    }
    let r = send_raw(&emu, &tok, "me", &raw).await.unwrap();
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after), "{after}");
    let v = assert_google(r, 429, "userRateLimitExceeded").await;
    assert_eq!(v["error"]["errors"][0]["domain"], "usageLimits");
    assert_eq!(emu.messages().len(), 2);

    // Injected statuses in Google's shape; Retry-After as the rule says.
    let tok = access_token(&emu, SA, Some(USER), SEND).await;
    let raw = raw_message(USER, "a@contoso.example", "x");
    let mut rule = FaultRule::new("gmailSend", FaultKind::Status);
    rule.status = Some(429);
    rule.retry_after_seconds = Some(7);
    rule.count = Some(1);
    let mut backend = FaultRule::new("gmailSend", FaultKind::Status);
    backend.status = Some(500);
    backend.count = Some(1);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![rule, backend],
    });
    let r = send_raw(&emu, &tok, "me", &raw).await.unwrap();
    assert_eq!(r.headers()["retry-after"], "7");
    let v = assert_google(r, 429, "rateLimitExceeded").await;
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    let v = assert_google(
        send_raw(&emu, &tok, "me", &raw).await.unwrap(),
        500,
        "backendError",
    )
    .await;
    assert_eq!(v["error"]["message"], "Backend Error");
    assert_eq!(emu.messages().len(), 2, "injected statuses send nothing");

    // Dropped after acceptance: no answer, but the message was sent.
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![FaultRule::new("gmailSend", FaultKind::DropAfterAccept)],
    });
    send_raw(&emu, &tok, "me", &raw)
        .await
        .expect_err("connection must be dropped");
    assert_eq!(emu.messages().len(), 3);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![FaultRule::new("gmailSend", FaultKind::DropBeforeAccept)],
    });
    send_raw(&emu, &tok, "me", &raw)
        .await
        .expect_err("connection must be dropped");
    assert_eq!(emu.messages().len(), 3);
    assert_eq!(emu.counters().dropped_after_accept, 1);
    assert_eq!(emu.counters().dropped_before_accept, 1);

    // The token endpoint's own keyword; 5xx in OAuth's shape.
    let mut t = FaultRule::new("googleToken", FaultKind::Status);
    t.status = Some(503);
    emu.set_faults(FaultPlan {
        seed: 0,
        rules: vec![t],
    });
    let (s, v) = grant(
        &emu,
        &sign(key(), header(key()), &claims(&emu, SA, Some(USER), SEND)),
    )
    .await;
    assert_eq!(s, 503);
    assert_eq!(v["error"], "internal_failure");
}

#[tokio::test]
async fn control_api_key_files_and_the_demo() {
    let emu = gstart();
    let c = client(&emu);
    let r = c
        .post(control_url(&emu, "google/keys"))
        .json(&json!({"clientEmail": SA}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["type"], "service_account");
    assert_eq!(file["client_email"], SA);
    assert_eq!(file["client_id"], SA_ID);
    assert_eq!(file["project_id"], "pmp-tests");
    assert_eq!(file["token_uri"], emu.google_token_url());
    assert_eq!(file["private_key_id"].as_str().unwrap().len(), 40);
    assert!(
        file["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    // The file's key works at once.
    let k = load(ServiceAccountKey {
        project_id: "pmp-tests".into(),
        client_email: SA.into(),
        client_id: SA_ID.into(),
        private_key_id: file["private_key_id"].as_str().unwrap().into(),
        private_key_pem: file["private_key"].as_str().unwrap().into(),
        public_key_pem: String::new(),
    });
    let (s, v) = grant(
        &emu,
        &sign(&k, header(&k), &claims(&emu, SA, Some(USER), SEND)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let r = c
        .post(control_url(&emu, "google/keys"))
        .json(&json!({"clientEmail": "ghost@x.iam.gserviceaccount.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The demo: fabrikam.example with a delegated service account.
    let mut d = Directory::default();
    let key = pmp_graph_emulator::add_google_demo(&mut d)
        .unwrap()
        .unwrap();
    let demo = Emulator::start(d).unwrap();
    let json: Value = serde_json::from_str(&key.to_json(&demo.google_token_url())).unwrap();
    assert_eq!(
        json["client_email"],
        pmp_graph_emulator::DEMO_GOOGLE_CLIENT_EMAIL
    );
    let k = load(key);
    let (s, v) = grant(
        &demo,
        &sign(
            &k,
            header(&k),
            &claims(
                &demo,
                pmp_graph_emulator::DEMO_GOOGLE_CLIENT_EMAIL,
                Some(pmp_graph_emulator::DEMO_GOOGLE_USER),
                SEND,
            ),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

#[test]
fn directory_checks() {
    let bad = |google: &str| Directory::from_toml_str(google).unwrap_err().to_string();
    let e = bad(
        "[[google.projects]]\nid = \"p\"\n[[google.serviceAccounts]]\nproject = \"p\"\nclientEmail = \"a@p.iam.gserviceaccount.com\"\nclientId = \"a@p\"\n",
    );
    assert!(e.contains("clientId must be numeric"), "{e}");
    let e = bad(
        "[[google.serviceAccounts]]\nproject = \"q\"\nclientEmail = \"a@p.iam.gserviceaccount.com\"\nclientId = \"1\"\n",
    );
    assert!(e.contains("project 'q' is not declared"), "{e}");
    let e = bad(
        "[[google.domains]]\nname = \"example.com\"\nusers = [{ address = \"x@other.com\" }]\n",
    );
    assert!(e.contains("not an address of this domain"), "{e}");
    let e = bad(
        "[[google.domains]]\nname = \"example.com\"\ndelegations = [{ clientId = \"sa@p.iam.gserviceaccount.com\", scopes = [] }]\n",
    );
    assert!(e.contains("numeric client id"), "{e}");
    let e = bad(
        "[[google.projects]]\nid = \"p\"\n[[google.serviceAccounts]]\nproject = \"p\"\nclientEmail = \"a@p.iam.gserviceaccount.com\"\nclientId = \"1\"\nkeys = [{ id = \"k\", publicKeyPem = \"nope\" }]\n",
    );
    assert!(e.contains("key 'k'"), "{e}");
    assert!(gdirectory().google.is_some());
}
