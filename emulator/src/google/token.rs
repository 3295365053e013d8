//! Google's token endpoint for service accounts (`POST /token`, reference A2): the JWT-bearer
//! grant with an RS256 assertion signed by a registered key, domain-wide delegation checked for
//! `sub`; the access token is opaque and bound to (service account, subject, scopes).

use std::sync::Arc;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::{OAuthError, oauth_headers};
use crate::errors::json_body;
use crate::records::TokenRecord;
use crate::state::AppState;
use crate::util::{b64url, b64url_decode, now, rfc3339, unix_now};
use crate::workspace::{GoogleGrant, GoogleWorkspace, ServiceAccount};

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Google's audiences for the token request: the current and the older token URLs.
const GOOGLE_AUDIENCES: [&str; 3] = [
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
];

const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
const UNAUTHORIZED_CLIENT: &str = "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.";

/// `POST /token` (and `/o/oauth2/token`, the old `token_uri`).
pub(crate) async fn token(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    match issue(&st, &body) {
        Ok(r) => r,
        Err(e) => e.render(),
    }
}

fn issue(st: &AppState, body: &[u8]) -> Result<Response, OAuthError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let grant_type = param("grant_type").unwrap_or("");
    if grant_type != JWT_BEARER {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Invalid grant_type: {grant_type}"),
        ));
    }
    let assertion = param("assertion")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: assertion",
            )
        })?;
    let google = st
        .dir
        .google
        .as_ref()
        .ok_or_else(|| OAuthError::invalid_grant("Invalid grant: account not found"))?;
    let jwt = Jwt::parse(assertion)?;
    let iss = jwt.claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let sa = google
        .service_account(iss)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid grant: account not found"))?;
    verify_signature(st, sa, &jwt)?;
    if sa.disabled {
        return Err(OAuthError::invalid_grant("Robot is disabled."));
    }
    check_times(st, &jwt.claims)?;
    check_audience(st, &jwt.claims)?;
    let scopes = scopes(&jwt.claims)?;
    // `prn` is the pre-RFC 7523 name of `sub`; old clients still send it.
    let subject = jwt
        .claims
        .get("sub")
        .or_else(|| jwt.claims.get("prn"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let subject = match subject {
        Some(s) => Some(delegated_user(google, sa, s, &scopes)?),
        None => None,
    };

    let token = format!("ya29.{}", b64url(&random_bytes()));
    let lifetime = st.token_lifetime as i64;
    let grant = GoogleGrant {
        client_email: sa.client_email.clone(),
        project: sa.project.clone(),
        subject: subject.clone(),
        scopes: scopes.clone(),
        expires: unix_now() + lifetime,
    };
    st.google.tokens.lock().insert(token.clone(), grant);
    st.google.count_issued(&sa.client_email, subject.as_deref());
    st.records.add_token(TokenRecord {
        tenant_id: sa.project.clone(),
        app_id: sa.client_email.clone(),
        credential: "googleServiceAccount".to_string(),
        issued_at: rfc3339(now()),
        claims: json!({
            "iss": sa.client_email,
            "azp": sa.client_id,
            "sub": subject,
            "scope": scopes.join(" "),
            "exp": unix_now() + lifetime,
        }),
    });
    // Google answers one second less than the lifetime (3599 for an hour).
    let body = json!({
        "access_token": token,
        "expires_in": (lifetime - 1).max(1),
        "token_type": "Bearer",
    });
    let mut r = (StatusCode::OK, json_body(&body)).into_response();
    oauth_headers(&mut r);
    Ok(r)
}

fn random_bytes() -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    for _ in 0..3 {
        v.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    v
}

struct Jwt<'a> {
    header: Value,
    claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jwt<'a> {
    fn parse(assertion: &'a str) -> Result<Jwt<'a>, OAuthError> {
        let bad = || OAuthError::invalid_grant(BAD_SIGNATURE);
        let assertion = assertion.trim();
        let last_dot = assertion.rfind('.').ok_or_else(bad)?;
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return Err(bad());
        }
        let json = |s: &str| {
            b64url_decode(s)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(Value::is_object)
        };
        Ok(Jwt {
            header: json(parts[0]).ok_or_else(bad)?,
            claims: json(parts[1]).ok_or_else(bad)?,
            signing_input: &assertion[..last_dot],
            signature: b64url_decode(parts[2]).ok_or_else(bad)?,
        })
    }
}

/// RS256 over the registered public key named by `kid` (every active key when there is none).
fn verify_signature(st: &AppState, sa: &ServiceAccount, jwt: &Jwt<'_>) -> Result<(), OAuthError> {
    let bad = || OAuthError::invalid_grant(BAD_SIGNATURE);
    if jwt.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(bad());
    }
    let kid = jwt.header.get("kid").and_then(Value::as_str);
    let mut keys: Vec<(String, bool, Vec<u8>)> = sa
        .keys
        .iter()
        .filter_map(|k| {
            let pem = k.public_key_pem.as_deref()?;
            let der = crate::workspace::rsa_public_key_from_pem(pem).ok()?;
            Some((k.id.clone(), k.disabled, der))
        })
        .collect();
    keys.extend(
        st.google
            .runtime_keys
            .lock()
            .iter()
            .filter(|k| k.client_email.eq_ignore_ascii_case(&sa.client_email))
            .map(|k| (k.id.clone(), false, k.rsa_public_key.clone())),
    );
    let verifies = |der: &[u8]| {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
            .verify(jwt.signing_input.as_bytes(), &jwt.signature)
            .is_ok()
    };
    let ok = keys
        .iter()
        .filter(|(id, disabled, _)| !disabled && kid.is_none_or(|k| k == id))
        .any(|(_, _, der)| verifies(der));
    if ok { Ok(()) } else { Err(bad()) }
}

fn claim_secs(claims: &Value, name: &str) -> Option<i64> {
    match claims.get(name)? {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// `exp - iat` at most an hour, `iat` not ahead of the clock and `exp` not behind it, beyond skew.
fn check_times(st: &AppState, claims: &Value) -> Result<(), OAuthError> {
    let bad = || OAuthError::invalid_grant(SHORT_LIVED);
    let iat = claim_secs(claims, "iat").ok_or_else(bad)?;
    let exp = claim_secs(claims, "exp").ok_or_else(bad)?;
    let now = unix_now();
    if exp <= iat || exp - iat > 3600 || iat > now + st.clock_skew || exp < now - st.clock_skew {
        return Err(bad());
    }
    Ok(())
}

/// Google's own token URLs, or this emulator's `/token` (by IP or `localhost`).
fn check_audience(st: &AppState, claims: &Value) -> Result<(), OAuthError> {
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    let ours: Vec<String> = st
        .base_aliases()
        .iter()
        .flat_map(|b| [format!("{b}/token"), format!("{b}/o/oauth2/token")])
        .collect();
    if GOOGLE_AUDIENCES.contains(&aud) || ours.iter().any(|o| o == aud) {
        return Ok(());
    }
    Err(OAuthError::invalid_grant(format!(
        "Invalid JWT: Failed audience check. The right audience is {}/token",
        st.base_url
    )))
}

/// The space-delimited `scope` claim; empty or not a Google scope → `invalid_scope`.
fn scopes(claims: &Value) -> Result<Vec<String>, OAuthError> {
    let invalid = || {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        )
    };
    let list: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let known = |s: &String| {
        s.starts_with("https://www.googleapis.com/auth/") || s == "https://mail.google.com/"
    };
    if list.is_empty() || !list.iter().all(known) {
        return Err(invalid());
    }
    Ok(list)
}

/// `sub` must be a user of a declared domain whose admin granted every requested scope to the
/// service account's client id; returns the address as the directory spells it.
fn delegated_user(
    google: &GoogleWorkspace,
    sa: &ServiceAccount,
    sub: &str,
    scopes: &[String],
) -> Result<String, OAuthError> {
    let (domain, user) = google
        .user(sub)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid email or User ID"))?;
    let granted: Vec<&String> = domain
        .delegations
        .iter()
        .filter(|d| d.client_id == sa.client_id)
        .flat_map(|d| &d.scopes)
        .collect();
    if !scopes.iter().all(|s| granted.contains(&s)) {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            UNAUTHORIZED_CLIENT,
        ));
    }
    Ok(user.address.clone())
}
