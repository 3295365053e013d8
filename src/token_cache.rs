//! The process-wide token cache: handles with the same credentials share one token.
//!
//! - A registry maps a [`CacheKey`] to the [`SharedCache`] that [`crate::token::TokenProvider`]
//!   works on (the cached token, the refresh suppression after a failed refresh, the async
//!   single-flight lock and the generation counter). Two handles with the same key hold the same
//!   `SharedCache`, so they share one token and one in-flight token request; a forced refresh or
//!   a replacement after Graph's 401 on one handle is what every handle gets next.
//! - The registry holds its entries strongly: a token outlives the handle that fetched it (a
//!   script that creates and frees a handle per message makes one token request, not one per
//!   message). An entry is evicted, on each lookup, once its token has expired (or it never got
//!   one) and no handle holds it. The registry holds at most [`MAX_ENTRIES`]; past that the
//!   least recently looked-up entry goes (a handle holding it keeps using it).
//! - The key is an HMAC-SHA256, under a key drawn at random once per process, over the token
//!   endpoint (which names the cloud, authority and tenant), the scope, the client id, the
//!   refresh margin and a fingerprint of the credential: a client secret's bytes; a PFX or PEM
//!   credential's private key (through [`KeyId`], so another key for the same certificate never
//!   shares) and the assertion algorithm; a managed identity's source, endpoint, selector,
//!   resource and identity header; a workload identity's token file path. Secrets are never
//!   kept in the key, and the buffer the HMAC reads is zeroed.
//! - A host signer or a host assertion callback is never shared: the library cannot tell whether
//!   two callbacks are the same credential, and a handle must never get a token its own
//!   credential could not get. Those handles (and every handle of a config with
//!   `"tokenCache": "client"`) get a `SharedCache` of their own.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::token::AccessToken;

/// The most entries the registry holds.
pub const MAX_ENTRIES: usize = 256;

/// The token state that handles with the same key share.
#[derive(Default)]
pub(crate) struct SharedCache {
    pub(crate) state: parking_lot::Mutex<CacheState>,
    /// Single flight: one token request at a time for every handle holding this cache.
    pub(crate) refresh_lock: tokio::sync::Mutex<()>,
    /// Increments with every token fetched into this cache.
    pub(crate) generation: AtomicU64,
}

#[derive(Default)]
pub(crate) struct CacheState {
    pub(crate) token: Option<Arc<AccessToken>>,
    /// Set after a failed refresh; until then the old token is served without retrying.
    pub(crate) refresh_suppressed_until: Option<SystemTime>,
}

impl SharedCache {
    /// A cache of one handle's own, not in the registry.
    pub(crate) fn private() -> Arc<SharedCache> {
        Arc::new(SharedCache::default())
    }

    /// No token, or one that has expired: nothing worth keeping for a later handle.
    fn is_spent(&self, now: SystemTime) -> bool {
        self.state
            .lock()
            .token
            .as_ref()
            .is_none_or(|token| now >= token.expires_at)
    }
}

/// The HMAC of the canonical bytes of what identifies a token. Debug shows no bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(<hmac>)")
    }
}

/// A private key's identity: the process HMAC of its DER, computed when the key is loaded, so
/// the key itself is not kept a second time for the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyId(pub(crate) [u8; 32]);

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyId(<hmac>)")
    }
}

impl KeyId {
    pub(crate) fn of_private_key(der: &[u8]) -> KeyId {
        let mut bytes = Canonical::new("private key");
        bytes.part(der);
        KeyId(bytes.hmac())
    }
}

/// The parts of a cache key. `fingerprint` is the credential's canonical bytes (secret material
/// included); it is read once, into a buffer that is zeroed after the HMAC.
pub(crate) struct KeyParts<'a> {
    pub token_url: &'a str,
    pub scope: &'a str,
    pub client_id: &'a str,
    pub margin: Duration,
    pub fingerprint: &'a Fingerprint,
}

/// A credential's canonical bytes: a kind, then length-prefixed parts. Zeroed on drop.
pub(crate) struct Fingerprint(Canonical);

impl Fingerprint {
    pub(crate) fn new(kind: &str) -> Fingerprint {
        Fingerprint(Canonical::new(kind))
    }

    pub(crate) fn part(mut self, bytes: &[u8]) -> Fingerprint {
        self.0.part(bytes);
        self
    }

    pub(crate) fn optional(self, bytes: Option<&[u8]>) -> Fingerprint {
        match bytes {
            Some(bytes) => self.part(b"some").part(bytes),
            None => self.part(b"none"),
        }
    }
}

impl CacheKey {
    pub(crate) fn new(parts: &KeyParts<'_>) -> CacheKey {
        let mut bytes = Canonical::new("pmp-mail token cache v1");
        bytes.part(parts.token_url.as_bytes());
        bytes.part(parts.scope.as_bytes());
        bytes.part(parts.client_id.as_bytes());
        bytes.part(&parts.margin.as_millis().to_le_bytes());
        bytes.part(&parts.fingerprint.0.0);
        CacheKey(bytes.hmac())
    }
}

/// Length-prefixed parts, so that no two different part lists give the same bytes.
struct Canonical(Zeroizing<Vec<u8>>);

impl Canonical {
    fn new(domain: &str) -> Canonical {
        let mut c = Canonical(Zeroizing::new(Vec::with_capacity(256)));
        c.part(domain.as_bytes());
        c
    }

    fn part(&mut self, bytes: &[u8]) {
        // Grow by hand: a reallocation would leave a copy of the secret parts unzeroed.
        let needed = self.0.len() + 8 + bytes.len();
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.0.capacity())));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger;
        }
        self.0
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.0.extend_from_slice(bytes);
    }

    fn hmac(&self) -> [u8; 32] {
        let tag = hmac::sign(process_key(), &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// The HMAC key, drawn at random once per process: a cache key says nothing outside it.
fn process_key() -> &'static hmac::Key {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    KEY.get_or_init(|| {
        hmac::Key::generate(hmac::HMAC_SHA256, &aws_lc_rs::rand::SystemRandom::new())
            .expect("the system random generator works")
    })
}

struct Entry {
    cache: Arc<SharedCache>,
    last_lookup: u64,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<CacheKey, Entry>,
    lookups: u64,
}

fn registry() -> &'static parking_lot::Mutex<Registry> {
    static REGISTRY: OnceLock<parking_lot::Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The cache every handle with `key` shares; evicts spent entries no handle holds.
pub(crate) fn shared(key: CacheKey) -> Arc<SharedCache> {
    let now = SystemTime::now();
    let mut registry = registry().lock();
    registry.lookups += 1;
    let tick = registry.lookups;
    // Only the registry holds it (no handle can hand it to another thread meanwhile: handles
    // get theirs from here, under this lock).
    registry
        .entries
        .retain(|k, e| *k == key || Arc::strong_count(&e.cache) > 1 || !e.cache.is_spent(now));
    if let Some(entry) = registry.entries.get_mut(&key) {
        entry.last_lookup = tick;
        return entry.cache.clone();
    }
    while registry.entries.len() >= MAX_ENTRIES {
        let oldest = registry
            .entries
            .iter()
            .min_by_key(|(_, e)| (Arc::strong_count(&e.cache) > 1, e.last_lookup))
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => registry.entries.remove(&k),
            None => break,
        };
    }
    let cache = SharedCache::private();
    registry.entries.insert(
        key,
        Entry {
            cache: cache.clone(),
            last_lookup: tick,
        },
    );
    cache
}

#[cfg(test)]
pub(crate) fn registry_len() -> usize {
    registry().lock().entries.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    const SECRET_A: &str = "this-is-the-right-secret-0123456789abcdef";
    const SECRET_B: &str = "this-is-the-wrong-secret-0123456789abcdef";

    fn key_for(secret: &str, client_id: &str) -> CacheKey {
        CacheKey::new(&KeyParts {
            token_url: "https://login.microsoftonline.com/contoso/oauth2/v2.0/token",
            scope: "https://graph.microsoft.com/.default",
            client_id,
            margin: Duration::from_secs(300),
            fingerprint: &Fingerprint::new("client secret").part(secret.as_bytes()),
        })
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn the_key_holds_no_secret_and_differs_per_secret() {
        let a = key_for(SECRET_A, "app");
        assert_eq!(
            a,
            key_for(SECRET_A, "app"),
            "the same parts give the same key"
        );
        assert_ne!(a, key_for(SECRET_B, "app"));
        assert_ne!(a, key_for(SECRET_A, "other app"));
        for secret in [SECRET_A, SECRET_B] {
            // Not the secret, nor any 8-byte piece of it, nor its SHA-256. (Whole 8-byte pieces
            // only: a short tail piece turns up in 32 random bytes by chance.)
            assert!(!contains(&a.0, secret.as_bytes()));
            for piece in secret.as_bytes().chunks_exact(8) {
                assert!(!contains(&a.0, piece), "{piece:?}");
            }
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
            assert_ne!(&a.0[..], digest.as_ref());
        }
        assert_eq!(format!("{a:?}"), "CacheKey(<hmac>)");
    }

    #[test]
    fn parts_are_length_prefixed() {
        // "ab" + "c" and "a" + "bc" must not collide.
        let k = |url: &str, scope: &str| {
            CacheKey::new(&KeyParts {
                token_url: url,
                scope,
                client_id: "x",
                margin: Duration::ZERO,
                fingerprint: &Fingerprint::new("client secret").part(b"s"),
            })
        };
        assert_ne!(k("ab", "c"), k("a", "bc"));
    }

    #[test]
    fn another_private_key_is_another_key_id() {
        assert_ne!(
            KeyId::of_private_key(b"key one"),
            KeyId::of_private_key(b"key two")
        );
        assert_eq!(
            KeyId::of_private_key(b"key one"),
            KeyId::of_private_key(b"key one")
        );
    }

    fn token(expires_in: Duration) -> Arc<AccessToken> {
        let now = SystemTime::now();
        Arc::new(AccessToken {
            token: Secret::new("t"),
            bearer: None,
            expires_at: now + expires_in,
            refresh_at: now + expires_in,
            usable_until: now + expires_in,
            generation: 1,
        })
    }

    /// The registry is the process's: the tests that fill or evict it take turns.
    static REGISTRY_TESTS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

    #[test]
    fn spent_entries_nobody_holds_are_evicted_and_live_ones_kept() {
        let _turn = REGISTRY_TESTS.lock();
        let unique = uuid::Uuid::new_v4().to_string();
        let key = |n: &str| key_for(&format!("{unique}-{n}"), "eviction test");
        // Held by a handle: kept, and looked up again it is the same cache.
        let held = shared(key("held"));
        assert!(Arc::ptr_eq(&held, &shared(key("held"))));
        // A valid token nobody holds any more: kept (the point of the registry).
        shared(key("valid")).state.lock().token = Some(token(Duration::from_secs(3600)));
        // An expired token, and an entry that never got a token: evicted.
        let expired = shared(key("expired"));
        expired.state.lock().token = Some(token(Duration::ZERO));
        drop(expired);
        drop(shared(key("failed")));
        let _next = shared(key("next lookup"));
        let valid = shared(key("valid"));
        assert!(
            valid.state.lock().token.is_some(),
            "the valid token survived"
        );
        let again = shared(key("expired"));
        assert!(again.state.lock().token.is_none(), "a new, empty cache");
        assert!(registry_len() <= MAX_ENTRIES);
        drop(held);
    }

    #[test]
    fn the_registry_is_bounded() {
        let _turn = REGISTRY_TESTS.lock();
        let unique = uuid::Uuid::new_v4().to_string();
        let first = key_for(&format!("{unique}-first"), "bound test");
        shared(first).state.lock().token = Some(token(Duration::from_secs(3600)));
        for i in 0..MAX_ENTRIES + 10 {
            shared(key_for(&format!("{unique}-{i}"), "bound test"))
                .state
                .lock()
                .token = Some(token(Duration::from_secs(3600)));
            assert!(registry_len() <= MAX_ENTRIES);
        }
        // The oldest entry, held by no handle, went first.
        assert!(shared(first).state.lock().token.is_none());
    }
}
