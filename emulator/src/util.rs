//! Small helpers shared by every module: ids, timestamps, encodings.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::Digest;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// The App Service (`IDENTITY_ENDPOINT`), IMDS and Arc token paths of the managed-identity
/// endpoints: not Entra's token endpoint (own error shapes, own fault keyword).
pub(crate) fn is_managed_identity_path(path: &str) -> bool {
    let l = path.to_ascii_lowercase();
    l == "/msi/token" || l.starts_with("/metadata/identity/") || l.starts_with("/arc/")
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub(crate) fn unix_now() -> i64 {
    now().unix_timestamp()
}

/// `2026-11-27 01:02:03Z` — the Entra error timestamp format.
pub(crate) fn entra_timestamp() -> String {
    let f = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    now().format(&f).unwrap_or_default()
}

/// `2026-11-27T01:02:03` — Graph's innerError date (no `Z`).
pub(crate) fn graph_date() -> String {
    let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    now().format(&f).unwrap_or_default()
}

/// `2026-11-27T01:02:03Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

/// `2026-11-27T01:02:03.1234567Z` — the 7-digit form Outlook uses in upload sessions.
pub(crate) fn rfc3339_fraction(t: OffsetDateTime) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}

pub(crate) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

pub(crate) fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Lenient standard base64 (whitespace allowed, as Exchange tolerates line-wrapped MIME).
pub(crate) fn b64_decode_lenient(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(cleaned.as_bytes()).ok()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&sha2::Sha256::digest(data))
}

pub(crate) fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A GUID-shaped id derived from a string, so ids stay stable across restarts.
pub(crate) fn stable_guid(seed: &str) -> String {
    let d = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Deterministic PRNG (SplitMix64) for seeded fault rates: the same seed gives the same
/// sequence on every platform and crate version.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `2026-11-27T01:02:03.456Z` — Google's timestamps (e.g. "Retry after …").
pub(crate) fn rfc3339_millis(t: OffsetDateTime) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}
