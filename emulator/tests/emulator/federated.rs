//! Workload identity federation: an external issuer's token as the client assertion, matched
//! against the federated credentials of an app or a user-assigned identity.

use serde_json::{Value, json};

use crate::common::*;

async fn federated(emu: &pmp_graph_emulator::Emulator, client_id: &str, jwt: &str) -> (u16, Value) {
    assertion_token(emu, TENANT, client_id, jwt).await
}

fn gh_token(emu: &pmp_graph_emulator::Emulator, subject: &str, aud: &str, lifetime: i64) -> String {
    emu.federated_token(GH_ISSUER, subject, aud, lifetime)
        .unwrap()
}

#[tokio::test]
async fn app_accepts_its_federated_credential() {
    let emu = start();
    let jwt = gh_token(&emu, GH_SUBJECT, EXCHANGE_AUD, 600);
    let (s, v) = federated(&emu, FED_APP, &jwt).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let tok = v["access_token"].as_str().unwrap();
    let c = decode_claims(tok);
    assert_eq!(c["appid"], FED_APP);
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["roles"], json!(["Mail.Send"]));
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(emu.tokens()[0].credential, "federated");
    // The same external token works again (no jti replay rule for federated tokens).
    let (s, v) = federated(&emu, FED_APP, &jwt).await;
    assert_eq!(s, 200, "{v}");
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
async fn control_api_mints_and_publishes_keys() {
    let emu = start();
    let c = client(&emu);
    let r = c
        .post(control_url(&emu, "federation/token"))
        .json(&json!({"issuer": K8S_ISSUER, "subject": K8S_SUBJECT}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let jwt = v["token"].as_str().unwrap();
    let claims = decode_claims(jwt);
    assert_eq!(claims["iss"], K8S_ISSUER);
    assert_eq!(claims["sub"], K8S_SUBJECT);
    assert_eq!(claims["aud"], json!([EXCHANGE_AUD]));

    // The header's kid is in the published JWKS, under its issuer.
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let jwks: Value = get_json(&c, control_url(&emu, "federation/jwks")).await;
    assert_eq!(jwks, emu.federation_jwks());
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k["kid"] == header["kid"] && k["issuer"] == K8S_ISSUER && k["kty"] == "RSA"),
        "{jwks}"
    );

    // A user-assigned identity with a federated credential signs in like an app.
    let (s, v) = federated(&emu, UA_FED, jwt).await;
    assert_eq!(s, 200, "{v}");
    let c2 = decode_claims(v["access_token"].as_str().unwrap());
    assert_eq!(c2["appid"], UA_FED);
    assert_eq!(c2["roles"], json!(["Mail.Send"]));

    // Unknown issuer: the control call refuses.
    let r = c
        .post(control_url(&emu, "federation/token"))
        .json(&json!({"issuer": "https://elsewhere.example", "subject": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        emu.federated_token("https://elsewhere.example", "x", EXCHANGE_AUD, 60)
            .is_err()
    );
}

#[tokio::test]
async fn mismatches_get_entra_errors() {
    let emu = start();
    // Issuer of another principal's credential.
    let k8s = emu
        .federated_token(K8S_ISSUER, K8S_SUBJECT, EXCHANGE_AUD, 600)
        .unwrap();
    let (s, v) = federated(&emu, FED_APP, &k8s).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700211);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("issuer '{K8S_ISSUER}'"))
    );

    // Subject: exact and case-sensitive.
    for sub in [
        "repo:contoso/patches:ref:refs/heads/dev",
        &GH_SUBJECT.to_uppercase(),
    ] {
        let (s, v) = federated(&emu, FED_APP, &gh_token(&emu, sub, EXCHANGE_AUD, 600)).await;
        assert_aadsts(s, &v, 401, "invalid_client", 700213);
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("subject '{sub}'"))
        );
    }

    // Audience.
    let (s, v) = federated(
        &emu,
        FED_APP,
        &gh_token(&emu, GH_SUBJECT, "api://other", 600),
    )
    .await;
    assert_aadsts(s, &v, 400, "invalid_request", 70021);
    let d = v["error_description"].as_str().unwrap();
    assert!(
        d.contains(&format!(
            "Assertion Issuer: '{GH_ISSUER}'. Assertion Subject: '{GH_SUBJECT}'. Assertion Audience: 'api://other'."
        )),
        "{d}"
    );

    // Expired beyond the clock skew.
    let (s, v) = federated(
        &emu,
        FED_APP,
        &gh_token(&emu, GH_SUBJECT, EXCHANGE_AUD, -600),
    )
    .await;
    assert_aadsts(s, &v, 401, "invalid_client", 700024);

    // A signature that does not verify against the issuer's key.
    let good = gh_token(&emu, GH_SUBJECT, EXCHANGE_AUD, 600);
    let other = gh_token(
        &emu,
        "repo:contoso/other:ref:refs/heads/main",
        EXCHANGE_AUD,
        600,
    );
    let forged = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    let (s, v) = federated(&emu, FED_APP, &forged).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700027);

    // Signed by a key the issuer does not publish (a test key), same kid as the real one.
    let kid = decode_header(&good)["kid"].clone();
    let n = now();
    let foreign = assertion(
        cert(),
        "RS256",
        json!({"kid": kid, "x5t": null}),
        json!({"iss": GH_ISSUER, "sub": GH_SUBJECT, "aud": EXCHANGE_AUD, "iat": n, "nbf": n, "exp": n + 600}),
    );
    let (s, v) = federated(&emu, FED_APP, &foreign).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700027);

    // An Entra-issued token is not a federated assertion.
    let entra = secret_token(&emu, SENDER).await;
    let (s, v) = federated(&emu, FED_APP, &entra).await;
    assert_aadsts(s, &v, 401, "invalid_client", 700222);

    // An app without federated credentials keeps the certificate-assertion rules.
    let (s, v) = federated(&emu, SENDER, &good).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "invalid_client", "{v}");
    assert_eq!(emu.counters().tokens_issued, 1); // only the secret token
}

fn decode_header(jwt: &str) -> Value {
    serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap()
}
