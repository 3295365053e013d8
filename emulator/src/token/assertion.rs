//! Client-assertion (private_key_jwt) verification, as Entra does it: x5t / x5t#S256 names a
//! registered certificate, RS256 or PS256 signature, aud = token URL, iss = sub = client id,
//! exp/nbf as numbers or strings (MSAL.NET sends strings), jti used once.

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use serde_json::Value;

use crate::directory::CertInfo;
use crate::errors::EntraError;
use crate::util::{b64url_decode, rfc3339, unix_now};

pub(crate) struct Verified {
    pub jti: Option<String>,
    pub exp: i64,
}

pub(crate) struct Expect<'a> {
    pub client_id: &'a str,
    /// Accepted `aud` values (v2 token URL by tenant id and by the name used, plus v1 URL).
    pub audiences: &'a [String],
    pub certs: &'a [CertInfo],
    pub skew: i64,
}

fn malformed(what: &str) -> EntraError {
    EntraError::invalid_client(50027, format!("JWT token is invalid or malformed. {what}"))
}

fn claim_time(v: Option<&Value>) -> Result<Option<i64>, EntraError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| malformed("A time claim is not a number.")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| malformed("A time claim is not a number.")),
        Some(_) => Err(malformed("A time claim is not a number.")),
    }
}

fn iso(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

pub(crate) fn verify(assertion: &str, ex: &Expect<'_>) -> Result<Verified, EntraError> {
    let parts: Vec<&str> = assertion.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(malformed("The assertion is not a compact JWS."));
    }
    let header: Value = b64url_decode(parts[0])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("The header is not base64url JSON."))?;
    let payload: Value = b64url_decode(parts[1])
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("The payload is not base64url JSON."))?;
    let sig =
        b64url_decode(parts[2]).ok_or_else(|| malformed("The signature is not base64url."))?;

    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let algorithm: &'static signature::RsaParameters = match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        other => {
            return Err(EntraError::invalid_client(
                5002738,
                format!("Invalid JWT token. '{other}' is not a supported signature algorithm."),
            ));
        }
    };
    // x5c (a string from MSAL.NET, an array from MSAL Python) is informational here: the key
    // must be one registered on the app, found by thumbprint.
    let x5t_s256 = header.get("x5t#S256").and_then(Value::as_str);
    let x5t = header.get("x5t").and_then(Value::as_str);
    let thumb_shown = x5t
        .and_then(b64url_decode)
        .or_else(|| x5t_s256.and_then(b64url_decode))
        .map(|b| crate::util::hex(&b).to_uppercase())
        .unwrap_or_default();
    let not_registered = || {
        EntraError::invalid_client(
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumb_shown}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{}']",
                ex.client_id, ex.client_id
            ),
        )
    };
    if x5t.is_none() && x5t_s256.is_none() {
        return Err(malformed("The header has neither 'x5t' nor 'x5t#S256'."));
    }
    let cert = ex
        .certs
        .iter()
        .find(|c| x5t_s256.is_some_and(|t| t == c.x5t_s256) || x5t.is_some_and(|t| t == c.x5t))
        .ok_or_else(not_registered)?;
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    if UnparsedPublicKey::new(algorithm, &cert.rsa_public_key)
        .verify(signing_input.as_bytes(), &sig)
        .is_err()
    {
        return Err(EntraError::invalid_client(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                cert.sha1_hex, ex.client_id
            ),
        ));
    }

    let iss = payload.get("iss").and_then(Value::as_str).unwrap_or("");
    let sub = payload.get("sub").and_then(Value::as_str).unwrap_or("");
    if !iss.eq_ignore_ascii_case(ex.client_id) || !sub.eq_ignore_ascii_case(ex.client_id) {
        return Err(EntraError::invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    let aud_ok = match payload.get("aud") {
        Some(Value::String(a)) => ex.audiences.iter().any(|x| x.eq_ignore_ascii_case(a)),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| ex.audiences.iter().any(|x| x.eq_ignore_ascii_case(a))),
        _ => false,
    };
    if !aud_ok {
        return Err(EntraError::invalid_client(
            50027,
            format!(
                "JWT token is invalid or malformed. The 'aud' claim must be the token endpoint URL, e.g. '{}'.",
                ex.audiences.first().map(String::as_str).unwrap_or("")
            ),
        ));
    }
    let exp =
        claim_time(payload.get("exp"))?.ok_or_else(|| malformed("The 'exp' claim is missing."))?;
    let nbf = claim_time(payload.get("nbf"))?;
    check_validity_window(exp, nbf, ex.skew)?;
    let jti = payload
        .get("jti")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Verified { jti, exp })
}

/// AADSTS700024 for an assertion (a client assertion or a federated token) outside its
/// `nbf`..`exp` window, allowing `skew` seconds either way.
pub(super) fn check_validity_window(
    exp: i64,
    nbf: Option<i64>,
    skew: i64,
) -> Result<(), EntraError> {
    let now = unix_now();
    if now > exp + skew || nbf.is_some_and(|n| now + skew < n) {
        return Err(EntraError::invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                iso(now),
                iso(nbf.unwrap_or(0)),
                iso(exp)
            ),
        ));
    }
    Ok(())
}
