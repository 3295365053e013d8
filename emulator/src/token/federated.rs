//! Workload identity federation (reference B8): a client assertion that is a token from an
//! external OIDC issuer, accepted when a federated identity credential (FIC) of the app (or
//! user-assigned identity) matches its `iss`, `sub` and `aud`. The emulator plays those
//! issuers: it holds a key per issuer, mints tokens and publishes the JWKS.

use serde_json::{Value, json};

use crate::directory::App;
use crate::errors::EntraError;
use crate::state::AppState;
use crate::util::{b64url_decode, new_guid, unix_now};

const WIF_DOC: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

struct Jwt {
    header: Value,
    payload: Value,
    signing_input: String,
    sig: Vec<u8>,
}

fn parse(assertion: &str) -> Option<Jwt> {
    let parts: Vec<&str> = assertion.trim().split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return None;
    };
    Some(Jwt {
        header: b64url_decode(h).and_then(|b| serde_json::from_slice(&b).ok())?,
        payload: b64url_decode(p).and_then(|b| serde_json::from_slice(&b).ok())?,
        signing_input: format!("{h}.{p}"),
        sig: b64url_decode(s)?,
    })
}

/// A certificate assertion names the app as its issuer; for an app with federated
/// credentials anything else that parses is an external (federated) token. An app without
/// any keeps the certificate rules (AADSTS700021 for a foreign `iss`). [UNCONFIRMED] how
/// Entra answers an external token for an app without federated credentials.
pub(crate) fn is_federated(app: &App, assertion: &str) -> bool {
    let client_id = app.client_id.as_str();
    !app.federated_credentials.is_empty()
        && parse(assertion).is_some_and(|j| {
            j.payload
                .get("iss")
                .and_then(Value::as_str)
                .is_some_and(|iss| !iss.eq_ignore_ascii_case(client_id))
        })
}

fn time_claim(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Checks a federated assertion for `app`, in the order Entra must take: the issuer names
/// the FICs (and the keys), then the signature, the lifetime, the subject, the audience.
/// [UNCONFIRMED] Entra's exact order of these checks.
pub(crate) fn verify(st: &AppState, app: &App, assertion: &str) -> Result<(), EntraError> {
    let jwt = parse(assertion)
        .ok_or_else(|| EntraError::invalid_client(50027, "JWT token is invalid or malformed."))?;
    let claim = |k: &str| jwt.payload.get(k).and_then(Value::as_str).unwrap_or("");
    let iss = claim("iss");
    let sub = claim("sub");
    let auds: Vec<&str> = match jwt.payload.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(l)) => l.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };

    // Entra's own tokens are refused as assertions (B8.3). [UNCONFIRMED] error value/status.
    let kid = jwt.header.get("kid").and_then(Value::as_str).unwrap_or("");
    if iss.starts_with("https://sts.windows.net/")
        || iss.starts_with("https://login.microsoftonline.com/")
        || kid == st.keys.kid
    {
        return Err(EntraError::invalid_client(
            700222,
            "AAD-issued tokens may not be used for federated identity flows.",
        ));
    }

    // Issuer: exact, case-sensitive (B8.3). Text after the issuer [UNCONFIRMED].
    let by_issuer: Vec<_> = app
        .federated_credentials
        .iter()
        .filter(|f| f.issuer == iss)
        .collect();
    if by_issuer.is_empty() {
        return Err(EntraError::invalid_client(
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. {WIF_DOC}"
            ),
        ));
    }

    // Signature: RS256 with the issuer's published key named by `kid` (B8.3: RS256 tested).
    // [UNCONFIRMED] the reason text for a federated assertion's bad signature.
    let bad_signature = || {
        EntraError::invalid_client(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Key ID of key used by client: '{kid}', Issuer: '{iss}']"
            ),
        )
    };
    let alg = jwt.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let key = st.federation.get(iss).ok_or_else(bad_signature)?;
    if alg != "RS256" || kid != key.kid || !key.verify(jwt.signing_input.as_bytes(), &jwt.sig) {
        return Err(bad_signature());
    }

    // Lifetime (B8.4: AADSTS700024, the certificate-assertion text).
    let exp = time_claim(jwt.payload.get("exp")).ok_or_else(|| {
        EntraError::invalid_client(
            50027,
            "JWT token is invalid or malformed. The 'exp' claim is missing.",
        )
    })?;
    let nbf = time_claim(jwt.payload.get("nbf"));
    super::assertion::check_validity_window(exp, nbf, st.clock_skew)?;

    // Subject: exact, case-sensitive (B8.3, observed AADSTS700213 text).
    // [UNCONFIRMED] error value and status of 700213 (`invalid_client?` in the note).
    let by_subject: Vec<_> = by_issuer.iter().filter(|f| f.subject == sub).collect();
    if by_subject.is_empty() {
        return Err(EntraError::invalid_client(
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. {WIF_DOC}"
            ),
        ));
    }

    // Audience: one of the FIC's audiences. AADSTS700212's text is unknown, so the emulator
    // answers with the documented general AADSTS70021 (B8.4). [UNCONFIRMED]
    let aud_ok = by_subject
        .iter()
        .any(|f| auds.iter().any(|a| f.audiences.iter().any(|x| x == a)));
    if !aud_ok {
        return Err(EntraError::invalid_request(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                auds.join(",")
            ),
        ));
    }
    Ok(())
}

/// A token of the external `issuer` for `subject`/`audience`, as a Kubernetes service
/// account token or a GitHub OIDC token would look to Entra.
pub(crate) fn mint(
    st: &AppState,
    issuer: &str,
    subject: &str,
    audience: &str,
    lifetime: i64,
) -> Result<String, String> {
    let key = st.federation.get(issuer).ok_or_else(|| {
        format!("'{issuer}' is not the issuer of any federated credential in the directory")
    })?;
    let now = unix_now();
    let exp = now + lifetime;
    let iat = if lifetime > 0 { now } else { exp - 3600 };
    key.sign_jwt(&json!({
        "iss": issuer, "sub": subject, "aud": [audience],
        "iat": iat, "nbf": iat, "exp": exp,
        "jti": new_guid(),
    }))
}

/// All issuers' keys, each naming its `issuer`.
pub(crate) fn jwks(st: &AppState) -> Value {
    let mut keys = Vec::new();
    let mut issuers: Vec<&String> = st.federation.keys().collect();
    issuers.sort();
    for iss in issuers {
        if let Some(Value::Array(k)) = st.federation[iss]
            .jwks(iss)
            .get_mut("keys")
            .map(Value::take)
        {
            keys.extend(k);
        }
    }
    json!({ "keys": keys })
}
