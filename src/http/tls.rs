//! The TLS settings of every client: the OS trust store (through rustls-platform-verifier) plus
//! `http.extraCaCertificatesPem`, TLS 1.2 or later, hostname verification, ALPN `h2` then
//! `http/1.1` (only `http/1.1` for the client that sends mail, see [`super`]). The same checks reqwest's own rustls setup makes, but the verifier (whose
//! construction reads the OS store) is built once per process for each set of extra roots
//! instead of once per client. The OS store is therefore read when the first client is created;
//! later changes to it apply to processes started afterwards.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use rustls::ClientConfig;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_platform_verifier::Verifier;

use crate::error::{Error, Result};

/// The protocol versions offered: TLS 1.3 and 1.2 (rustls has nothing older).
pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// ALPN in preference order: HTTP/2, then HTTP/1.1.
pub(crate) const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN of the client that sends mail: HTTP/1.1 only, one request per connection at a time.
pub(crate) const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

/// Distinct sets of extra roots kept; beyond this the cache starts over (hosts use one or
/// two, so this only bounds memory for a host that generates them).
const MAX_CACHED_VERIFIERS: usize = 16;

/// The crypto provider reqwest would pick: the process default if the host installed one
/// before the first client, else aws-lc-rs.
static PROVIDER: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
});

/// Verifiers by extra roots (the empty key is the OS store alone). A failed build is not
/// cached, so a later client retries it.
static VERIFIERS: LazyLock<Mutex<VerifierCache>> = LazyLock::new(Default::default);

/// Extra roots (DER, in config order) to the verifier built for them.
type VerifierCache = HashMap<Vec<Vec<u8>>, Arc<Verifier>>;

/// The verifier for the OS store plus `extra_roots` (DER), built on first use.
pub(crate) fn verifier(extra_roots: &[Vec<u8>]) -> Result<Arc<Verifier>> {
    // Held while building, so concurrent first clients read the OS store once.
    let mut cache = VERIFIERS.lock();
    if let Some(found) = cache.get(extra_roots) {
        return Ok(found.clone());
    }
    let provider = PROVIDER.clone();
    let built = if extra_roots.is_empty() {
        Verifier::new(provider).map_err(|e| {
            Error::config(format!(
                "cannot build the HTTP client (cannot load the OS trust store: {e})"
            ))
        })?
    } else {
        let certs = extra_roots
            .iter()
            .map(|der| CertificateDer::from(der.clone()));
        Verifier::new_with_extra_roots(certs, provider).map_err(|e| {
            Error::config(format!(
                "http.extraCaCertificatesPem: unusable certificate ({e})"
            ))
        })?
    };
    if cache.len() >= MAX_CACHED_VERIFIERS {
        cache.clear();
    }
    let built = Arc::new(built);
    cache.insert(extra_roots.to_vec(), built.clone());
    Ok(built)
}

/// A fresh client config (own session cache) on the shared verifier, offering `alpn`.
pub(crate) fn client_config(extra_roots: &[Vec<u8>], alpn: &[&[u8]]) -> Result<ClientConfig> {
    let verifier: Arc<dyn ServerCertVerifier> = verifier(extra_roots)?;
    let mut config = ClientConfig::builder_with_provider(PROVIDER.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| Error::config(format!("cannot build the HTTP client ({e})")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_config_keeps_the_security_settings() {
        let config = client_config(&[], ALPN).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(config.enable_sni);
        let offered: Vec<_> = VERSIONS.iter().map(|v| v.version).collect();
        assert_eq!(
            offered,
            [
                rustls::ProtocolVersion::TLSv1_3,
                rustls::ProtocolVersion::TLSv1_2
            ]
        );
    }

    #[test]
    fn verifier_is_built_once_per_set_of_roots() {
        let ca = rcgen::generate_simple_self_signed(vec!["cache.invalid".to_string()])
            .unwrap()
            .cert
            .der()
            .to_vec();
        let os = verifier(&[]).unwrap();
        assert!(Arc::ptr_eq(&os, &verifier(&[]).unwrap()));
        let extra = verifier(std::slice::from_ref(&ca)).unwrap();
        assert!(Arc::ptr_eq(&extra, &verifier(&[ca]).unwrap()));
        assert!(!Arc::ptr_eq(&os, &extra));
    }
}
