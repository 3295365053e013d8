//! Certificates: the emulator's CA and server certificate, the demo app certificate, and the
//! rustls server configuration (aws-lc-rs, ALPN h2 + http/1.1).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA the caller supplies instead of the generated one.
#[derive(Debug, Clone)]
pub struct CaMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The serving identity: CA PEM (what clients trust) + server chain and key.
pub(crate) struct ServerIdentity {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn validity(p: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(days);
}

pub(crate) fn build_identity(ca: Option<&CaMaterial>) -> Result<ServerIdentity, String> {
    let (ca_pem, issuer) = match ca {
        Some(m) => {
            let key = KeyPair::from_pem(&m.key_pem).map_err(err)?;
            let issuer = Issuer::from_ca_cert_pem(&m.cert_pem, key).map_err(err)?;
            (m.cert_pem.clone(), issuer)
        }
        None => {
            let key = KeyPair::generate().map_err(err)?;
            let mut p = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, "pmp-graph-emulator test CA");
            dn.push(DnType::OrganizationName, "pmp-mail");
            p.distinguished_name = dn;
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            validity(&mut p, 3650);
            let cert = p.self_signed(&key).map_err(err)?;
            (cert.pem(), Issuer::new(p, key))
        }
    };
    let server_key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().map_err(err)?));
    p.subject_alt_names
        .push(SanType::IpAddress("::1".parse().map_err(err)?));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut p, 825);
    let server_cert = p.signed_by(&server_key, &issuer).map_err(err)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = vec![server_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerIdentity {
        ca_pem,
        config: Arc::new(config),
    })
}

/// The demo app's certificate: RSA 2048 (Entra only takes RSA), PEM and PFX.
pub struct DemoCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    /// PKCS#12, password `demo`.
    pub pfx: Vec<u8>,
}

pub fn demo_certificate() -> Result<DemoCertificate, String> {
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(err)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "pmp-mail demo app");
    p.distinguished_name = dn;
    validity(&mut p, 3650);
    let cert = p.self_signed(&key).map_err(err)?;
    let pfx = make_pfx(cert.der(), &key.serialize_der(), "demo")?;
    Ok(DemoCertificate {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        pfx,
    })
}

fn make_pfx(
    cert_der: &CertificateDer<'_>,
    pkcs8: &[u8],
    password: &str,
) -> Result<Vec<u8>, String> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let cert = Certificate::from_der(cert_der.as_ref()).map_err(err)?;
    let key = PrivateKey::from_der(pkcs8).map_err(err)?;
    let local_key_id = sha1_of(cert_der.as_ref());
    let chain = PrivateKeyChain::new(local_key_id, key, vec![cert]);
    let mut ks = KeyStore::new();
    ks.add_entry("demo-app", KeyStoreEntry::PrivateKeyChain(chain));
    ks.writer(password).write().map_err(err)
}

fn sha1_of(data: &[u8]) -> Vec<u8> {
    use sha1::Digest;
    sha1::Sha1::digest(data).to_vec()
}
