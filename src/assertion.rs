//! The client-assertion JWT (RFC 7523) Entra ID accepts instead of a secret. Hand-rolled: a
//! header, a claims set, base64url, and one RSA signature from an [`AssertionSigner`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::config::AssertionAlgorithm;
use crate::credential::{AssertionSigner, CertificateInfo, ServiceAccount, SignatureAlgorithm};
use crate::error::{Error, Result, Status};
use crate::secret::Secret;

/// Entra's guidance: keep assertions short-lived (5-10 minutes).
pub const ASSERTION_LIFETIME_SECONDS: i64 = 600;

/// The JOSE header: PS256 with the SHA-256 thumbprint, or RS256 with the SHA-1 thumbprint.
pub fn header(algorithm: AssertionAlgorithm, certificate: &CertificateInfo) -> serde_json::Value {
    match algorithm {
        AssertionAlgorithm::PS256 => json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": URL_SAFE_NO_PAD.encode(&certificate.sha256),
        }),
        AssertionAlgorithm::RS256 => json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": URL_SAFE_NO_PAD.encode(&certificate.sha1),
        }),
    }
}

/// The claims: `aud` is the exact token URL we post to; `iss` = `sub` = the client id.
pub fn claims(client_id: &str, token_url: &str, now_unix: i64) -> serde_json::Value {
    json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now_unix,
        "iat": now_unix,
        "exp": now_unix + ASSERTION_LIFETIME_SECONDS,
    })
}

/// Builds and signs a compact JWS. Blocking: the signer may be a host callback.
pub fn build(
    client_id: &str,
    token_url: &str,
    certificate: &CertificateInfo,
    signer: &dyn AssertionSigner,
    algorithm: AssertionAlgorithm,
    now_unix: i64,
) -> Result<Secret> {
    let header = header(algorithm, certificate);
    let claims = claims(client_id, token_url, now_unix);
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature_algorithm = match algorithm {
        AssertionAlgorithm::PS256 => SignatureAlgorithm::Ps256,
        AssertionAlgorithm::RS256 => SignatureAlgorithm::Rs256,
    };
    let signature = signer.sign(signature_algorithm, signing_input.as_bytes())?;
    if signature.is_empty() {
        return Err(Error::new(
            Status::Signer,
            "the signer returned an empty signature",
        ));
    }
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// Google's limit for a JWT-bearer assertion: at most one hour.
pub const GOOGLE_ASSERTION_LIFETIME_SECONDS: i64 = 3600;

/// The JWT-bearer grant's assertion for a Google service account acting as `subject`
/// (domain-wide delegation): RS256, `kid` = the key id, `iss` = the service account, `aud` =
/// `https://oauth2.googleapis.com/token` whatever URI the request goes to ("always", says
/// Google; an old key file's `accounts.google.com` token_uri or a proxy must not change it).
/// Blocking: the signer may be a host callback.
pub fn build_google(
    account: &ServiceAccount,
    subject: &str,
    scope: &str,
    signer: &dyn AssertionSigner,
    now_unix: i64,
) -> Result<Secret> {
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &account.private_key_id {
        header["kid"] = json!(kid);
    }
    let claims = json!({
        "iss": account.client_email,
        "sub": subject,
        "scope": scope,
        "aud": crate::config::GOOGLE_TOKEN_URI,
        "iat": now_unix,
        "exp": now_unix + GOOGLE_ASSERTION_LIFETIME_SECONDS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.sign(SignatureAlgorithm::Rs256, signing_input.as_bytes())?;
    if signature.is_empty() {
        return Err(Error::new(
            Status::Signer,
            "the signer returned an empty signature",
        ));
    }
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
    };

    use crate::credential::RsaKeySigner;

    fn key() -> (RsaKeySigner, CertificateInfo) {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let signer = RsaKeySigner::from_der(pkcs8.as_ref()).unwrap();
        let certificate = CertificateInfo {
            der: vec![1, 2, 3],
            sha1: vec![0xAA; 20],
            sha256: vec![0xBB; 32],
            not_after: 0,
        };
        (signer, certificate)
    }

    fn decode_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn ps256_and_rs256_verify() {
        let (signer, cert) = key();
        for (alg, verify_alg) in [
            (
                AssertionAlgorithm::PS256,
                &RSA_PSS_2048_8192_SHA256 as &dyn aws_lc_rs::signature::VerificationAlgorithm,
            ),
            (AssertionAlgorithm::RS256, &RSA_PKCS1_2048_8192_SHA256),
        ] {
            let jwt = build(
                "cid",
                "https://x/t/oauth2/v2.0/token",
                &cert,
                &signer,
                alg,
                1000,
            )
            .unwrap();
            let parts: Vec<&str> = jwt.expose().split('.').collect();
            assert_eq!(parts.len(), 3);
            let h = decode_part(parts[0]);
            let c = decode_part(parts[1]);
            assert_eq!(c["aud"], "https://x/t/oauth2/v2.0/token");
            assert_eq!(c["iss"], "cid");
            assert_eq!(c["sub"], "cid");
            assert_eq!(c["exp"], 1600);
            match alg {
                AssertionAlgorithm::PS256 => {
                    assert_eq!(h["alg"], "PS256");
                    assert_eq!(h["x5t#S256"], URL_SAFE_NO_PAD.encode([0xBB; 32]));
                }
                AssertionAlgorithm::RS256 => {
                    assert_eq!(h["alg"], "RS256");
                    assert_eq!(h["x5t"], URL_SAFE_NO_PAD.encode([0xAA; 20]));
                }
            }
            let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            let signed = format!("{}.{}", parts[0], parts[1]);
            UnparsedPublicKey::new(verify_alg, signer.public_key_der())
                .verify(signed.as_bytes(), &sig)
                .unwrap();
        }
    }

    #[test]
    fn google_assertion_names_the_account_the_subject_and_the_scope() {
        let (signer, _) = key();
        let mut account = ServiceAccount {
            client_email: "sender@project.iam.gserviceaccount.com".into(),
            private_key_id: Some("kid-1".into()),
            client_id: Some("1234".into()),
            token_uri: None,
            project_id: None,
        };
        let jwt = build_google(
            &account,
            "alerts@example.com",
            "https://www.googleapis.com/auth/gmail.send",
            &signer,
            1000,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        let (h, c) = (decode_part(parts[0]), decode_part(parts[1]));
        assert_eq!(h, json!({"alg":"RS256","typ":"JWT","kid":"kid-1"}));
        assert_eq!(
            c,
            json!({"iss":"sender@project.iam.gserviceaccount.com","sub":"alerts@example.com",
                   "scope":"https://www.googleapis.com/auth/gmail.send",
                   "aud":"https://oauth2.googleapis.com/token","iat":1000,"exp":4600})
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, signer.public_key_der())
            .verify(
                signed.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
        // No key id: no kid, as Google's libraries do.
        account.private_key_id = None;
        let jwt = build_google(&account, "a@b.c", "s", &signer, 1).unwrap();
        let h = decode_part(jwt.expose().split('.').next().unwrap());
        assert!(h.get("kid").is_none(), "{h}");
    }
}
