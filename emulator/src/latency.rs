//! Simulated service time per endpoint (docs/contracts.md section 6, `[latency]`): off unless
//! the directory sets it. Graph calls spend it inside their throttling slot, as the fault plan's
//! `delay` does, so a slow mailbox holds concurrency the way a busy Exchange server does.

use std::fmt;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize};

use crate::util::SplitMix;

/// The longest delay one entry may ask for (`fixedMs + jitterMs`): long enough to outwait a
/// client's timeout, short enough that a typo (an extra zero or three) is caught.
pub const MAX_LATENCY_MS: u64 = 300_000;

/// Per-endpoint latency; an absent endpoint answers as fast as it can.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Latency {
    /// Entra's token endpoint (`/{tenant}/oauth2/v2.0/token` and `/oauth2/token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<EndpointLatency>,
    /// The managed-identity token endpoints (App Service, IMDS, Arc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<EndpointLatency>,
    /// `POST /users/{u}/sendMail` (JSON and MIME).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_mail: Option<EndpointLatency>,
    /// `POST /users/{u}/messages` (create a draft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_draft: Option<EndpointLatency>,
    /// `POST /users/{u}/messages/{id}/attachments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_attachment: Option<EndpointLatency>,
    /// `POST /users/{u}/messages/{id}/attachments/createUploadSession`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_upload_session: Option<EndpointLatency>,
    /// `PUT` of one range to an upload URL (not a Graph call: no throttling slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_chunk: Option<EndpointLatency>,
    /// `POST /users/{u}/messages/{id}/send`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_draft: Option<EndpointLatency>,
    /// `DELETE /users/{u}/messages/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_draft: Option<EndpointLatency>,
}

/// `fixedMs` ± up to `jitterMs`, uniformly spread.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointLatency {
    #[serde(default, deserialize_with = "millis")]
    pub fixed_ms: u64,
    #[serde(default, deserialize_with = "millis")]
    pub jitter_ms: u64,
}

/// The endpoints a latency can be set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    ManagedIdentity,
    SendMail,
    CreateDraft,
    AddAttachment,
    CreateUploadSession,
    UploadChunk,
    SendDraft,
    DeleteDraft,
}

impl Latency {
    fn entries(&self) -> [(&'static str, Option<&EndpointLatency>); 9] {
        [
            ("token", self.token.as_ref()),
            ("managedIdentity", self.managed_identity.as_ref()),
            ("sendMail", self.send_mail.as_ref()),
            ("createDraft", self.create_draft.as_ref()),
            ("addAttachment", self.add_attachment.as_ref()),
            ("createUploadSession", self.create_upload_session.as_ref()),
            ("uploadChunk", self.upload_chunk.as_ref()),
            ("sendDraft", self.send_draft.as_ref()),
            ("deleteDraft", self.delete_draft.as_ref()),
        ]
    }

    fn get(&self, e: Endpoint) -> Option<&EndpointLatency> {
        match e {
            Endpoint::Token => self.token.as_ref(),
            Endpoint::ManagedIdentity => self.managed_identity.as_ref(),
            Endpoint::SendMail => self.send_mail.as_ref(),
            Endpoint::CreateDraft => self.create_draft.as_ref(),
            Endpoint::AddAttachment => self.add_attachment.as_ref(),
            Endpoint::CreateUploadSession => self.create_upload_session.as_ref(),
            Endpoint::UploadChunk => self.upload_chunk.as_ref(),
            Endpoint::SendDraft => self.send_draft.as_ref(),
            Endpoint::DeleteDraft => self.delete_draft.as_ref(),
        }
    }

    /// Checks every entry; the message names it (`latency.sendMail: …`).
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, entry) in self.entries() {
            let Some(l) = entry else { continue };
            if l.jitter_ms > l.fixed_ms {
                return Err(format!(
                    "latency.{name}: jitterMs ({}) must not exceed fixedMs ({}): the delay is fixedMs ± jitterMs and cannot be negative",
                    l.jitter_ms, l.fixed_ms
                ));
            }
            if l.fixed_ms.saturating_add(l.jitter_ms) > MAX_LATENCY_MS {
                return Err(format!(
                    "latency.{name}: fixedMs + jitterMs must be at most {MAX_LATENCY_MS} ms (5 minutes); got {} + {}",
                    l.fixed_ms, l.jitter_ms
                ));
            }
        }
        Ok(())
    }
}

impl EndpointLatency {
    /// One delay, uniform in `fixedMs - jitterMs ..= fixedMs + jitterMs`.
    fn sample(&self, rng: &mut SplitMix) -> Duration {
        let ms = if self.jitter_ms == 0 {
            self.fixed_ms
        } else {
            let span = 2 * self.jitter_ms + 1;
            // Validation keeps jitter <= fixed, so this never underflows.
            self.fixed_ms - self.jitter_ms + rng.next_u64() % span
        };
        Duration::from_millis(ms)
    }
}

/// The directory's latency and the generator its jitter draws from.
#[derive(Debug)]
pub(crate) struct LatencyModel {
    cfg: Latency,
    rng: Mutex<SplitMix>,
}

impl LatencyModel {
    pub fn new(cfg: Latency) -> Self {
        // Jitter needs no reproducible sequence (timing never is); seed from the clock.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        LatencyModel {
            cfg,
            rng: Mutex::new(SplitMix::new(seed)),
        }
    }

    /// The delay for one request to `e`, or `None` when none is configured.
    pub fn delay(&self, e: Endpoint) -> Option<Duration> {
        let l = self.cfg.get(e)?;
        Some(l.sample(&mut self.rng.lock())).filter(|d| !d.is_zero())
    }
}

/// A millisecond count: a whole number, 0 or more. Serde's own message for `-5` into a `u64`
/// ("invalid value: integer `-5`, expected u64") does not say what a valid value is.
fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Millis;
    impl serde::de::Visitor<'_> for Millis {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number of milliseconds, 0 or more")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(format!(
                    "{v} is negative; milliseconds must be a whole number, 0 or more"
                ))
            })
        }
    }
    d.deserialize_any(Millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let l = EndpointLatency {
            fixed_ms: 100,
            jitter_ms: 30,
        };
        let mut rng = SplitMix::new(7);
        let ms: Vec<u128> = (0..2000).map(|_| l.sample(&mut rng).as_millis()).collect();
        assert!(ms.iter().all(|m| (70..=130).contains(m)), "{ms:?}");
        // Uniform over 61 values: 2000 draws reach both ends and both sides of the middle.
        assert_eq!(ms.iter().min(), Some(&70));
        assert_eq!(ms.iter().max(), Some(&130));
        let below = ms.iter().filter(|m| **m < 100).count();
        assert!(
            (800..1200).contains(&below),
            "{below} of 2000 below fixedMs"
        );
    }

    #[test]
    fn no_jitter_is_exact_and_zero_is_off() {
        let model = LatencyModel::new(Latency {
            send_mail: Some(EndpointLatency {
                fixed_ms: 150,
                jitter_ms: 0,
            }),
            token: Some(EndpointLatency::default()),
            ..Latency::default()
        });
        assert_eq!(
            model.delay(Endpoint::SendMail),
            Some(Duration::from_millis(150))
        );
        assert_eq!(model.delay(Endpoint::Token), None);
        assert_eq!(model.delay(Endpoint::SendDraft), None);
    }
}
