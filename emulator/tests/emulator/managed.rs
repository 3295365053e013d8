//! Managed-identity endpoints: App Service (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`) and
//! IMDS (`Metadata: true`), their error shapes, and Graph accepting their tokens.

use pmp_graph_emulator::{
    Directory, Emulator, FaultKind, FaultPlan, FaultRule, ManagedIdentityKind,
};
use serde_json::{Value, json};

use crate::common::*;

const GRAPH: &str = "https://graph.microsoft.com";

fn with_query(url: String, query: &[(&str, &str)]) -> String {
    format!("{url}?{}", serde_urlencoded::to_string(query).unwrap())
}

async fn app_service(
    emu: &Emulator,
    header: Option<&str>,
    query: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client(emu).get(with_query(emu.identity_endpoint(), query));
    if let Some(h) = header {
        req = req.header("X-IDENTITY-HEADER", h);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap())
}

async fn app_service_ok(emu: &Emulator, extra: &[(&str, &str)]) -> Value {
    let mut q = vec![("resource", GRAPH), ("api-version", "2019-08-01")];
    q.extend_from_slice(extra);
    let (s, _, v) = app_service(emu, Some(IDENTITY_HEADER), &q).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn imds(emu: &Emulator, metadata: Option<&str>, query: &[(&str, &str)]) -> (u16, Value) {
    let mut req = client(emu).get(with_query(emu.imds_token_url(), query));
    if let Some(m) = metadata {
        req = req.header("Metadata", m);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn imds_ok(emu: &Emulator, extra: &[(&str, &str)]) -> Value {
    let mut q = vec![("api-version", "2018-02-01"), ("resource", GRAPH)];
    q.extend_from_slice(extra);
    let (s, v) = imds(emu, Some("true"), &q).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn assert_app_service_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    v: &Value,
    want: u16,
) {
    assert_eq!(status, want, "{v}");
    assert_eq!(v["statusCode"], want, "{v}");
    assert!(v["message"].is_string(), "{v}");
    let corr = v["correlationId"].as_str().unwrap();
    assert_eq!(headers["x-correlation-id"], corr);
}

#[tokio::test]
async fn app_service_system_assigned_token_sends_mail() {
    let emu = start();
    let v = app_service_ok(&emu, &[]).await;
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "access_token",
            "client_id",
            "expires_on",
            "resource",
            "token_type"
        ]
    );
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["resource"], GRAPH);
    assert_eq!(v["client_id"], SYS_MI);
    // expires_on: Unix epoch seconds as a string.
    let exp: i64 = v["expires_on"].as_str().unwrap().parse().unwrap();
    assert!((exp - now() - 3600).abs() < 10, "{exp}");

    let tok = v["access_token"].as_str().unwrap();
    let c = decode_claims(tok);
    assert_eq!(c["aud"], GRAPH);
    assert_eq!(c["appid"], SYS_MI);
    assert_eq!(c["oid"], SYS_MI_OID);
    assert_eq!(c["sub"], SYS_MI_OID);
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["exp"], exp);
    assert_eq!(c["roles"], json!(["Mail.Send"]));

    let r = send_mail_as(
        &client(&emu),
        &emu,
        MAILBOX,
        tok,
        &simple_message("bob@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let m = emu.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].app_id, SYS_MI);
    let rec = emu.tokens();
    assert_eq!(rec[0].credential, "managedIdentity:appService");
    // The request log keeps the secret header's name, not its value.
    let logged = &emu.requests()[0];
    assert_eq!(logged.path, "/MSI/token");
    let h = logged
        .headers
        .iter()
        .find(|h| h.name == "x-identity-header")
        .unwrap();
    assert_eq!(h.value, "<redacted>");
    assert_eq!(rec[0].app_id, SYS_MI);
}

#[tokio::test]
async fn app_service_user_assigned_by_each_id_and_no_roles() {
    let emu = start();
    for (k, id) in [
        ("client_id", UA_MI),
        ("principal_id", UA_MI_OID),
        ("object_id", UA_MI_OID),
        ("mi_res_id", UA_MI_RES),
    ] {
        let v = app_service_ok(&emu, &[(k, id)]).await;
        assert_eq!(v["client_id"], UA_MI, "{k}");
        let c = decode_claims(v["access_token"].as_str().unwrap());
        assert_eq!(c["appid"], UA_MI, "{k}");
        assert_eq!(c["oid"], UA_MI_OID, "{k}");
        assert_eq!(c["xms_mirid"], UA_MI_RES, "{k}");
        // No assigned roles: no roles claim, as Entra.
        assert!(c.get("roles").is_none(), "{k}: {c}");
    }
    // Graph refuses a token without Mail.Send.
    let v = app_service_ok(&emu, &[("client_id", UA_MI)]).await;
    let r = send_mail_as(
        &client(&emu),
        &emu,
        MAILBOX,
        v["access_token"].as_str().unwrap(),
        &simple_message("bob@example.com"),
    )
    .await
    .unwrap();
    assert_graph_error(r, 403, "ErrorAccessDenied").await;
    assert!(emu.messages().is_empty());
}

#[tokio::test]
async fn app_service_errors() {
    let emu = start();
    let std_q = [("resource", GRAPH), ("api-version", "2019-08-01")];
    // Missing and wrong secret.
    for h in [None, Some("wrong"), Some("")] {
        let (s, hd, v) = app_service(&emu, h, &std_q).await;
        assert_app_service_error(s, &hd, &v, 401);
    }
    // Another or no api-version, no resource, two selectors.
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("resource", GRAPH), ("api-version", "2017-09-01")],
        vec![("resource", GRAPH)],
        vec![("api-version", "2019-08-01")],
        vec![
            ("resource", GRAPH),
            ("api-version", "2019-08-01"),
            ("client_id", UA_MI),
            ("mi_res_id", UA_MI_RES),
        ],
    ];
    for q in cases {
        let (s, hd, v) = app_service(&emu, Some(IDENTITY_HEADER), &q).await;
        assert_app_service_error(s, &hd, &v, 400);
    }
    // Unknown identity: the observed message.
    for (k, id) in [
        ("client_id", "d0000000-0000-0000-0000-000000000001"),
        ("principal_id", SYS_MI), // a client id is not an object id
        ("mi_res_id", "/subscriptions/x/nothing"),
    ] {
        let mut q = std_q.to_vec();
        q.push((k, id));
        let (s, hd, v) = app_service(&emu, Some(IDENTITY_HEADER), &q).await;
        assert_app_service_error(s, &hd, &v, 400);
        assert_eq!(v["message"], "Unable to load the proper Managed Identity.");
    }
    // Unknown resource.
    let (s, hd, v) = app_service(
        &emu,
        Some(IDENTITY_HEADER),
        &[
            ("resource", "https://vault.azure.net"),
            ("api-version", "2019-08-01"),
        ],
    )
    .await;
    assert_app_service_error(s, &hd, &v, 400);
    assert!(
        v["message"].as_str().unwrap().starts_with("AADSTS500011: "),
        "{v}"
    );
    assert_eq!(emu.counters().tokens_issued, 0);
}

#[tokio::test]
async fn imds_system_and_user_assigned() {
    let emu = start();
    let v = imds_ok(&emu, &[]).await;
    // Every numeric field is a string.
    for k in ["expires_in", "expires_on", "not_before", "ext_expires_in"] {
        assert!(v[k].is_string(), "{k}: {v}");
    }
    assert_eq!(v["expires_in"], "3600");
    assert_eq!(v["refresh_token"], "");
    assert_eq!(v["resource"], GRAPH);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["client_id"], SYS_MI);
    let exp: i64 = v["expires_on"].as_str().unwrap().parse().unwrap();
    let nbf: i64 = v["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(exp - nbf, 3600);
    let c = decode_claims(v["access_token"].as_str().unwrap());
    assert_eq!(c["appid"], SYS_MI);
    assert_eq!(c["roles"], json!(["Mail.Send"]));
    assert_eq!(emu.tokens()[0].credential, "managedIdentity:imds");

    for (k, id) in [
        ("client_id", UA_FED),
        ("object_id", &emu_oid(&emu).await),
        ("msi_res_id", UA_FED_RES),
        ("msi-res-id", UA_FED_RES),
    ] {
        let v = imds_ok(&emu, &[(k, id)]).await;
        assert_eq!(v["client_id"], UA_FED, "{k}");
        let c = decode_claims(v["access_token"].as_str().unwrap());
        assert_eq!(c["appid"], UA_FED, "{k}");
        assert_eq!(c["roles"], json!(["Mail.Send"]), "{k}");
    }
    let v = imds_ok(&emu, &[("client_id", UA_MI)]).await;
    assert!(
        decode_claims(v["access_token"].as_str().unwrap())
            .get("roles")
            .is_none()
    );
    // A later api-version works too.
    let (s, v) = imds(
        &emu,
        Some("true"),
        &[("api-version", "2021-02-01"), ("resource", GRAPH)],
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// UA_FED has no objectId in the directory: the derived one, read from a token.
async fn emu_oid(emu: &Emulator) -> String {
    let v = imds_ok(emu, &[("client_id", UA_FED)]).await;
    decode_claims(v["access_token"].as_str().unwrap())["oid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn imds_errors() {
    let emu = start();
    let std_q = [("api-version", "2018-02-01"), ("resource", GRAPH)];
    for m in [None, Some("false")] {
        let (s, v) = imds(&emu, m, &std_q).await;
        assert_eq!(s, 400);
        assert_eq!(
            v,
            json!({"error": "bad_request_102", "error_description": "Required metadata header not specified"})
        );
    }
    for (k, id) in [
        ("client_id", "d0000000-0000-0000-0000-000000000001"),
        ("object_id", UA_MI), // a client id is not an object id
        ("msi_res_id", "/subscriptions/x/nothing"),
    ] {
        let mut q = std_q.to_vec();
        q.push((k, id));
        let (s, v) = imds(&emu, Some("true"), &q).await;
        assert_eq!(s, 400);
        assert_eq!(
            v,
            json!({"error": "invalid_request", "error_description": "Identity not found"})
        );
    }
    let (s, v) = imds(
        &emu,
        Some("true"),
        &[
            ("api-version", "2018-02-01"),
            ("resource", "https://vault.azure.net"),
        ],
    )
    .await;
    assert_aadsts(s, &v, 400, "invalid_resource", 500011);
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![("resource", GRAPH)],
        vec![("api-version", "2017-12-01"), ("resource", GRAPH)],
        vec![("api-version", "latest"), ("resource", GRAPH)],
        vec![("api-version", "2018-02-01")],
        vec![
            ("api-version", "2018-02-01"),
            ("resource", GRAPH),
            ("client_id", UA_MI),
            ("object_id", UA_MI_OID),
        ],
    ];
    for q in bad {
        let (s, v) = imds(&emu, Some("true"), &q).await;
        assert_eq!(s, 400, "{q:?}");
        assert_eq!(v["error"], "invalid_request", "{q:?}: {v}");
        assert!(v["error_description"].is_string());
    }
    assert_eq!(emu.counters().tokens_issued, 0);
}

#[tokio::test]
async fn host_without_system_identity() {
    let mut d = directory();
    d.managed_identities
        .retain(|m| m.kind == ManagedIdentityKind::User);
    let emu = Emulator::start(d).unwrap();
    let (s, v) = imds(
        &emu,
        Some("true"),
        &[("api-version", "2018-02-01"), ("resource", GRAPH)],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error_description"], "Identity not found");
    let (s, hd, v) = app_service(
        &emu,
        Some(IDENTITY_HEADER),
        &[("resource", GRAPH), ("api-version", "2019-08-01")],
    )
    .await;
    assert_app_service_error(s, &hd, &v, 400);
    // The user-assigned ones still work.
    imds_ok(&emu, &[("client_id", UA_MI)]).await;
}

#[tokio::test]
async fn trailing_slash_resource_is_the_audience_and_graph_accepts_it() {
    let emu = start();
    let (s, v) = imds(
        &emu,
        Some("true"),
        &[
            ("api-version", "2018-02-01"),
            ("resource", "https://graph.microsoft.com/"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["resource"], "https://graph.microsoft.com/");
    let tok = v["access_token"].as_str().unwrap();
    assert_eq!(decode_claims(tok)["aud"], "https://graph.microsoft.com/");
    let r = send_mail_as(
        &client(&emu),
        &emu,
        MAILBOX,
        tok,
        &simple_message("bob@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test]
async fn faults_and_counters_keep_token_and_managed_identity_apart() {
    let emu = start();
    let mut rule = FaultRule::new("managedIdentity", FaultKind::Status);
    rule.status = Some(500);
    rule.count = Some(1);
    emu.set_faults(FaultPlan {
        seed: 1,
        rules: vec![rule],
    });
    let (s, v) = imds(
        &emu,
        Some("true"),
        &[("api-version", "2018-02-01"), ("resource", GRAPH)],
    )
    .await;
    assert_eq!(s, 500);
    assert!(v["error"].is_string(), "{v}");
    imds_ok(&emu, &[]).await;

    let mut rule = FaultRule::new("token", FaultKind::Status);
    rule.status = Some(503);
    emu.set_faults(FaultPlan {
        seed: 1,
        rules: vec![rule],
    });
    app_service_ok(&emu, &[]).await;
    assert_eq!(emu.counters().token_requests, 3);
}

#[tokio::test]
async fn demo_has_a_system_identity_with_mail_send() {
    let state = tempfile::tempdir().unwrap();
    let mut d = Directory::default();
    pmp_graph_emulator::add_demo(&mut d, state.path()).unwrap();
    let emu = Emulator::start(d).unwrap();
    assert_eq!(
        emu.identity_header(),
        pmp_graph_emulator::DEMO_IDENTITY_HEADER
    );
    let (s, _, v) = app_service(
        &emu,
        Some(pmp_graph_emulator::DEMO_IDENTITY_HEADER),
        &[("resource", GRAPH), ("api-version", "2019-08-01")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["client_id"], pmp_graph_emulator::DEMO_MI_CLIENT_ID);
    let tok = v["access_token"].as_str().unwrap();
    let c = decode_claims(tok);
    assert_eq!(c["oid"], pmp_graph_emulator::DEMO_MI_OBJECT_ID);
    assert_eq!(c["roles"], json!(["Mail.Send"]));
    let r = send_mail_as(
        &client(&emu),
        &emu,
        pmp_graph_emulator::DEMO_MAILBOX,
        tok,
        &simple_message("bob@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
}

#[test]
fn directory_rules_for_identities() {
    let base = directory_toml();
    let bad = [
        // A second system-assigned identity.
        format!(
            "{base}\n[[managedIdentities]]\ntenant = \"{TENANT}\"\nkind = \"system\"\nclientId = \"e0000000-0000-0000-0000-000000000001\"\n"
        ),
        // User-assigned without resourceId.
        format!(
            "{base}\n[[managedIdentities]]\ntenant = \"{TENANT}\"\nkind = \"user\"\nclientId = \"e0000000-0000-0000-0000-000000000001\"\n"
        ),
        // A client id an app already has.
        format!(
            "{base}\n[[managedIdentities]]\ntenant = \"{TENANT}\"\nkind = \"user\"\nclientId = \"{SENDER}\"\nresourceId = \"/x\"\n"
        ),
        // Unknown tenant, unknown kind, unknown key.
        format!(
            "{base}\n[[managedIdentities]]\ntenant = \"nowhere.example\"\nkind = \"user\"\nclientId = \"e0000000-0000-0000-0000-000000000001\"\nresourceId = \"/x\"\n"
        ),
        format!(
            "{base}\n[[managedIdentities]]\ntenant = \"{TENANT}\"\nkind = \"both\"\nclientId = \"e0000000-0000-0000-0000-000000000001\"\n"
        ),
        format!(
            "{base}\n[[managedIdentities]]\ntenant = \"{TENANT}\"\nkind = \"user\"\nclientId = \"e0000000-0000-0000-0000-000000000001\"\nresourceId = \"/x\"\nsecret = \"no\"\n"
        ),
    ];
    for text in bad {
        assert!(
            Directory::from_toml_str(&text).is_err(),
            "{}",
            &text[text.len() - 200..]
        );
    }
    // Federated credentials on a system-assigned identity are refused.
    let text = base.replace(
        "displayName = \"web-app\"",
        &format!("displayName = \"web-app\"\nfederatedCredentials = [{{ issuer = \"{GH_ISSUER}\", subject = \"x\" }}]"),
    );
    let e = Directory::from_toml_str(&text).unwrap_err().to_string();
    assert!(e.contains("user-assigned identities only"), "{e}");
}

async fn arc(
    emu: &Emulator,
    auth: Option<&str>,
    metadata: bool,
    query: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client(emu).get(with_query(emu.arc_identity_endpoint(), query));
    if metadata {
        req = req.header("Metadata", "true");
    }
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap())
}

/// The key file the challenge names: (path, content).
fn challenge_file(headers: &reqwest::header::HeaderMap) -> (std::path::PathBuf, String) {
    let h = headers["www-authenticate"].to_str().unwrap();
    let path = h.strip_prefix("Basic realm=").unwrap();
    let path = std::path::PathBuf::from(path);
    let content = std::fs::read_to_string(&path).unwrap();
    (path, content)
}

#[tokio::test]
async fn arc_challenge_then_key_file() {
    let keys = tempfile::tempdir().unwrap();
    let emu = start_with(|o| o.arc_key_dir = Some(keys.path().to_path_buf()));
    assert_eq!(emu.arc_key_dir(), keys.path());
    for version in ["2020-06-01", "2019-11-01"] {
        let q = [("api-version", version), ("resource", GRAPH)];
        let (s, h, _) = arc(&emu, None, true, &q).await;
        assert_eq!(s, 401);
        let (path, key) = challenge_file(&h);
        // MSAL's checks: <dir>/<name>.key, at most 4096 bytes.
        assert_eq!(path.parent().unwrap(), keys.path());
        assert_eq!(path.extension().unwrap(), "key");
        assert!(!key.is_empty() && key.len() <= 4096);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let (s, _, v) = arc(&emu, Some(&format!("Basic {key}")), true, &q).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["resource"], GRAPH);
        assert!(
            v["expires_on"].is_string() && v["expires_in"].is_string(),
            "{v}"
        );
        let tok = v["access_token"].as_str().unwrap();
        let c = decode_claims(tok);
        assert_eq!(c["appid"], SYS_MI);
        assert_eq!(c["roles"], json!(["Mail.Send"]));
        let r = send_mail_as(
            &client(&emu),
            &emu,
            MAILBOX,
            tok,
            &simple_message("bob@example.com"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 202);
    }
    assert_eq!(emu.tokens()[0].credential, "managedIdentity:arc");
}

#[tokio::test]
async fn arc_errors() {
    let emu = start();
    let q = [("api-version", "2020-06-01"), ("resource", GRAPH)];
    // Default key dir: arc-tokens/ next to ca.pem.
    assert_eq!(
        emu.arc_key_dir(),
        emu.ca_path().parent().unwrap().join("arc-tokens")
    );
    // A wrong key: a new challenge.
    let (s, h, _) = arc(&emu, Some("Basic not-the-key"), true, &q).await;
    assert_eq!(s, 401);
    let (_, key) = challenge_file(&h);
    let auth = format!("Basic {key}");
    // No Metadata header.
    let (s, _, v) = arc(&emu, Some(&auth), false, &q).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "bad_request_102");
    // IMDS's api-version is not Arc's.
    let (s, _, v) = arc(
        &emu,
        Some(&auth),
        true,
        &[("api-version", "2018-02-01"), ("resource", GRAPH)],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "invalid_request");
    // No user-assigned identities on Arc.
    let (s, _, v) = arc(
        &emu,
        Some(&auth),
        true,
        &[
            ("api-version", "2020-06-01"),
            ("resource", GRAPH),
            ("client_id", UA_MI),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error_description"], "Identity not found");
    // Unknown resource.
    let (s, _, v) = arc(
        &emu,
        Some(&auth),
        true,
        &[
            ("api-version", "2020-06-01"),
            ("resource", "https://vault.azure.net"),
        ],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "invalid_resource");
    assert_eq!(emu.counters().tokens_issued, 0);
}
