//! The emulator's token-signing key (RSA 2048, in memory only) and the JWKS that publishes it.
//! `token/` signs with it and publishes it; `graph/` verifies bearer tokens with it.

use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use serde_json::{Value, json};
use sha1::Digest as _;

use crate::util::{b64, b64url};

pub(crate) struct SigningKey {
    key: RsaKeyPair,
    public_pkcs1: Vec<u8>,
    pub kid: String,
    cert_der: Vec<u8>,
}

impl SigningKey {
    pub fn generate() -> Result<SigningKey, String> {
        let kp = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .map_err(|e| e.to_string())?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "pmp-graph-emulator token signing");
        p.distinguished_name = dn;
        let cert = p.self_signed(&kp).map_err(|e| e.to_string())?;
        let key = RsaKeyPair::from_pkcs8(&kp.serialize_der()).map_err(|e| e.to_string())?;
        let public_pkcs1 = aws_lc_rs::signature::KeyPair::public_key(&key)
            .as_ref()
            .to_vec();
        let cert_der = cert.der().to_vec();
        // Entra's kid is the base64url SHA-1 of the signing certificate, same as x5t.
        let kid = b64url(&sha1::Sha1::digest(&cert_der));
        Ok(SigningKey {
            key,
            public_pkcs1,
            kid,
            cert_der,
        })
    }

    /// Compact JWS, RS256, header `typ`/`alg`/`kid`/`x5t` like Entra's v1 tokens.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|e| e.to_string())?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    pub fn verify(&self, signing_input: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.public_pkcs1)
            .verify(signing_input, sig)
            .is_ok()
    }

    pub fn jwks(&self, issuer: &str) -> Value {
        let pk = aws_lc_rs::signature::KeyPair::public_key(&self.key);
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": b64url(pk.modulus().big_endian_without_leading_zero()),
            "e": b64url(pk.exponent().big_endian_without_leading_zero()),
            "x5c": [b64(&self.cert_der)],
            "issuer": issuer,
        }]})
    }
}
