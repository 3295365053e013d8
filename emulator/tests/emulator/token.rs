use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn secret_form_and_basic() {
    let emu = start();
    let tok = secret_token(&emu, SENDER).await;
    let c = decode_claims(&tok);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["appid"], SENDER);
    assert_eq!(c["appidacr"], "1");
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["app_displayname"], "Sender app");
    assert_eq!(c["roles"], json!(["Mail.Send", "Mail.ReadWrite"]));

    // HTTP Basic, secret form-urlencoded inside (RFC 6749 2.3.1).
    let enc: String = url_encode(SECRET);
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{SENDER}:{enc}"),
    );
    let r = client(&emu)
        .post(emu.token_url(DOMAIN))
        .header("authorization", format!("Basic {basic}"))
        .header("client-request-id", "my-corr-id")
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store, no-cache");
    assert_eq!(r.headers()["client-request-id"], "my-corr-id");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["ext_expires_in"], 3600);
    assert!(v.get("refresh_in").is_none(), "{v}");
    assert_eq!(emu.counters().tokens_issued, 2);
    let recs = emu.tokens();
    assert_eq!(recs[0].credential, "secret");
    assert!(!serde_json::to_string(&recs).unwrap().contains(&tok));
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn aadsts_errors() {
    let emu = start();
    // (tenant, client id, secret, scope) -> (HTTP status, error, AADSTS code)
    let mut cases = vec![
        (
            (TENANT, SENDER, "wrong", GRAPH_SCOPE),
            (401, "invalid_client", 7000215),
        ),
        (
            (TENANT, SENDER, "old-secret", GRAPH_SCOPE),
            (401, "invalid_client", 7000222),
        ),
        (
            (TENANT, EXPIRED, SECRET, GRAPH_SCOPE),
            (401, "invalid_client", 7000222),
        ),
        (
            (
                TENANT,
                "12345678-1234-1234-1234-123456789012",
                SECRET,
                GRAPH_SCOPE,
            ),
            (400, "unauthorized_client", 700016),
        ),
        // App registered only in the other tenant's cloud is not in this one (and vice versa).
        (
            ("fabrikam.onmicrosoft.us", NOROLES, SECRET, GRAPH_SCOPE),
            (400, "unauthorized_client", 700016),
        ),
        (
            ("nowhere.onmicrosoft.com", SENDER, SECRET, GRAPH_SCOPE),
            (400, "invalid_request", 90002),
        ),
        (
            ("not_a_tenant", SENDER, SECRET, GRAPH_SCOPE),
            (400, "invalid_request", 900023),
        ),
        (
            ("common", SENDER, SECRET, GRAPH_SCOPE),
            (400, "invalid_request", 9001023),
        ),
        (
            ("consumers", SENDER, SECRET, GRAPH_SCOPE),
            (400, "invalid_request", 9001023),
        ),
        (
            ("organizations", SENDER, SECRET, GRAPH_SCOPE),
            (400, "invalid_request", 900023),
        ),
        (
            (TENANT, DISABLED, SECRET, GRAPH_SCOPE),
            (401, "unauthorized_client", 7000112),
        ),
    ];
    for bad in [
        "Mail.Send",
        "https://graph.microsoft.com/Mail.Send",
        "https://graph.microsoft.com/.default https://outlook.office.com/.default",
    ] {
        cases.push((
            (TENANT, SENDER, SECRET, bad),
            (400, "invalid_scope", 1002012),
        ));
    }
    cases.push((
        (
            TENANT,
            SENDER,
            SECRET,
            "https://graph.microsoft.us/.default",
        ),
        (400, "invalid_resource", 500011),
    ));
    cases.push((
        (TENANT, BLOCKED, SECRET, GRAPH_SCOPE),
        (400, "invalid_request", 53003),
    ));
    for ((tenant, client_id, secret, scope), (status, error, code)) in cases {
        let (s, v) = token_form(&emu, tenant, &secret_form(client_id, secret, scope)).await;
        assert_aadsts(s, &v, status, error, code);
    }
    let (s, v) = token_form(
        &emu,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SENDER),
            ("scope", GRAPH_SCOPE),
        ],
    )
    .await;
    assert_aadsts(s, &v, 401, "invalid_client", 7000218);
    let (s, v) = token_form(
        &emu,
        TENANT,
        &[
            ("client_id", SENDER),
            ("client_secret", SECRET),
            ("scope", GRAPH_SCOPE),
        ],
    )
    .await;
    assert_aadsts(s, &v, 400, "invalid_request", 900144);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("'grant_type'")
    );
    let (s, v) = token_form(
        &emu,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SENDER),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_aadsts(s, &v, 400, "invalid_request", 900144);
    assert!(v["error_description"].as_str().unwrap().contains("'scope'"));
    // Garbage body: still an Entra-shaped error, never a crash.
    let r = client(&emu)
        .post(emu.token_url(TENANT))
        .body(vec![0xff, 0x00, 0x25])
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_aadsts(s, &v, 400, "invalid_request", 900144);
    assert_eq!(emu.counters().tokens_issued, 0);
}

#[tokio::test]
async fn national_cloud_and_emulator_resource() {
    let emu = start();
    let (s, v) = token_form(
        &emu,
        OTHER_TENANT,
        &secret_form(SENDER, SECRET, "https://graph.microsoft.us/.default"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        decode_claims(v["access_token"].as_str().unwrap())["aud"],
        "https://graph.microsoft.us"
    );
    let own = format!("{}/.default", emu.base_url());
    let (s, v) = token_form(&emu, TENANT, &secret_form(SENDER, SECRET, &own)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        decode_claims(v["access_token"].as_str().unwrap())["aud"],
        emu.base_url()
    );
}

#[tokio::test]
async fn roles_only_consented() {
    let emu = start();
    let c = decode_claims(&secret_token(&emu, NOROLES).await);
    assert!(c.get("roles").is_none(), "{c}");
    let c = decode_claims(&secret_token(&emu, SENDONLY).await);
    assert_eq!(c["roles"], json!(["Mail.Send"]));
}

#[tokio::test]
async fn assertions_rs256_ps256_and_msal_net_shapes() {
    let emu = start();
    // RS256 + x5t, numeric times.
    let jwt = assertion(cert(), "RS256", json!({}), std_payload(&emu, SENDER));
    let (s, v) = assertion_token(&emu, TENANT, SENDER, &jwt).await;
    assert_eq!(s, 200, "{v}");
    let c = decode_claims(v["access_token"].as_str().unwrap());
    assert_eq!(c["appidacr"], "2");
    assert_eq!(emu.tokens().last().unwrap().credential, "certificate");

    // PS256 + x5t#S256, MSAL.NET shape: times as strings, no iat, no typ, x5c as a string.
    let n = now();
    let p = json!({"aud": emu.token_url(TENANT), "iss": SENDER, "sub": SENDER, "jti": uuid::Uuid::new_v4().to_string(),
                   "nbf": n.to_string(), "exp": (n + 600).to_string()});
    let x5c = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &cert().der);
    let jwt = assertion(cert(), "PS256", json!({"typ": null, "x5c": x5c}), p);
    let (s, v) = assertion_token(&emu, TENANT, SENDER, &jwt).await;
    assert_eq!(s, 200, "{v}");

    // MSAL Python shape: x5c array, no nbf, v1 token URL as aud, domain tenant.
    let p = json!({"aud": format!("{}/{DOMAIN}/oauth2/token", emu.base_url()), "iss": SENDER, "sub": SENDER,
                   "jti": uuid::Uuid::new_v4().to_string(), "exp": n + 600, "iat": n});
    let jwt = assertion(cert(), "PS256", json!({"x5c": [x5c]}), p);
    let (s, v) = assertion_token(&emu, DOMAIN, SENDER, &jwt).await;
    assert_eq!(s, 200, "{v}");

    // A client that calls the emulator "localhost" puts that name in aud.
    let mut p = std_payload(&emu, SENDER);
    p["aud"] = json!(emu.token_url(TENANT).replace("127.0.0.1", "localhost"));
    let (s, v) = assertion_token(
        &emu,
        TENANT,
        SENDER,
        &assertion(cert(), "RS256", json!({}), p),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// A token request with a PS256 assertion by the registered certificate over `payload`.
async fn ps256_token(
    emu: &pmp_graph_emulator::Emulator,
    payload: serde_json::Value,
) -> (u16, serde_json::Value) {
    assertion_token(
        emu,
        TENANT,
        SENDER,
        &assertion(cert(), "PS256", json!({}), payload),
    )
    .await
}

#[tokio::test]
async fn assertion_failures() {
    let emu = start();
    // Unregistered certificate.
    let jwt = assertion(other_cert(), "RS256", json!({}), std_payload(&emu, SENDER));
    let (s, v) = assertion_token(&emu, TENANT, SENDER, &jwt).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700027);
    // Registered thumbprint, but signed by another key: bad signature.
    let good_thumb = b64url(&<sha1::Sha1 as sha1::Digest>::digest(&cert().der));
    let jwt = assertion(
        other_cert(),
        "RS256",
        json!({"x5t": good_thumb}),
        std_payload(&emu, SENDER),
    );
    let (s, v) = assertion_token(&emu, TENANT, SENDER, &jwt).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700027);
    // Expired / not yet valid.
    let mut p = std_payload(&emu, SENDER);
    p["exp"] = json!(now() - 3600);
    p["nbf"] = json!(now() - 4000);
    let (s, v) = ps256_token(&emu, p).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700024);
    let mut p = std_payload(&emu, SENDER);
    p["nbf"] = json!(now() + 3600);
    p["exp"] = json!(now() + 4000);
    let (s, v) = ps256_token(&emu, p).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700024);
    // Wrong audience, wrong issuer.
    let mut p = std_payload(&emu, SENDER);
    p["aud"] = json!("https://login.microsoftonline.com/x/oauth2/v2.0/token");
    let (s, v) = ps256_token(&emu, p).await;
    assert_eq!(s, 401, "{v}");
    let mut p = std_payload(&emu, SENDER);
    p["iss"] = json!(NOROLES);
    let (s, v) = ps256_token(&emu, p).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700021);
    // Replay of the same jti.
    let jwt = assertion(cert(), "RS256", json!({}), std_payload(&emu, SENDER));
    let (s, _) = assertion_token(&emu, TENANT, SENDER, &jwt).await;
    assert_eq!(s, 200);
    let (s, v) = assertion_token(&emu, TENANT, SENDER, &jwt).await;
    assert_aadsts(s, &v, 401, "invalid_client", 50013);
    // Garbage assertion.
    let (s, v) = assertion_token(&emu, TENANT, SENDER, "not.a.jwt").await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "invalid_client");
    assert_eq!(emu.counters().tokens_issued, 1);
}

#[tokio::test]
async fn discovery_documents() {
    let emu = start();
    let c = client(&emu);
    let v: serde_json::Value = get_json(
        &c,
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            emu.base_url()
        ),
    )
    .await;
    assert_eq!(v["token_endpoint"], emu.token_url(TENANT));
    assert_eq!(v["issuer"], format!("{}/{TENANT}/v2.0", emu.base_url()));
    let v: serde_json::Value = get_json(&c, format!("{}/common/discovery/instance?api-version=1.1&authorization_endpoint={}/{TENANT}/oauth2/v2.0/authorize", emu.base_url(), emu.base_url())).await;
    let host = emu.base_url().trim_start_matches("https://");
    assert_eq!(v["metadata"][0]["preferred_network"], host);
    assert_eq!(
        v["tenant_discovery_endpoint"],
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            emu.base_url()
        )
    );
    let v: serde_json::Value = get_json(
        &c,
        format!("{}/{TENANT}/discovery/v2.0/keys", emu.base_url()),
    )
    .await;
    let tok = secret_token(&emu, SENDER).await;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            tok.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(v["keys"][0]["kid"], header["kid"]);
    let r = c
        .get(format!(
            "{}/nowhere.example/v2.0/.well-known/openid-configuration",
            emu.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn refresh_in_is_sent_when_configured() {
    let emu = start_with(|o| {
        o.token_lifetime_seconds = Some(7200);
        o.token_refresh_in_seconds = Some(3600);
    });
    let (status, v) = token_form(&emu, TENANT, &secret_form(SENDER, SECRET, GRAPH_SCOPE)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["refresh_in"], 3600);
}
