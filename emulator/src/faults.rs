//! Fault plan: injected statuses, delays and dropped connections (docs/contracts.md section 6).

use serde::{Deserialize, Serialize};

use crate::util::SplitMix;

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed for `rate` rules; the same seed gives the same sequence.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Answer with `status` (and `retryAfterSeconds`, `retryAfterHttpDate`, `graphCode`)
    /// instead of serving.
    Status,
    /// Wait `delayMs`, then serve normally (inside the throttling slot for Graph calls).
    Delay,
    /// Close the connection without an answer; nothing is processed or recorded.
    DropBeforeAccept,
    /// Process the request (a message is recorded), then close the connection without an answer.
    DropAfterAccept,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Substring of the request path, or `token` / `managedIdentity` / `googleToken` /
    /// `gmailSend` (every Gmail send path, resumable session URIs included) / `sendMail` / `upload` / `send` /
    /// `createDraft` (`/v1.0/users/{u}/messages`, the collection) / `draft`
    /// (`/v1.0/users/{u}/messages/{id}`, the item itself).
    pub path: String,
    /// Only requests with this HTTP method (case-insensitive); any method when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub action: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// Send `Retry-After` as an HTTP-date (`retryAfterSeconds` from now) instead of seconds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry_after_http_date: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Apply to the next N matching requests (after `skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Apply with this probability (0..1, seeded) to each matching request (after `skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Let the first N matching requests through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u64>,
}

impl FaultRule {
    /// A rule for `path` with `action` and nothing else set (every request, no status).
    pub fn new(path: &str, action: FaultKind) -> FaultRule {
        FaultRule {
            path: path.into(),
            method: None,
            action,
            status: None,
            retry_after_seconds: None,
            retry_after_http_date: false,
            graph_code: None,
            delay_ms: None,
            count: None,
            rate: None,
            skip: None,
        }
    }
}

impl FaultPlan {
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if r.path.is_empty() {
                return Err(format!("rules[{i}]: path is empty"));
            }
            if let Some(rate) = r.rate
                && !(0.0..=1.0).contains(&rate)
            {
                return Err(format!("rules[{i}]: rate {rate} is not within 0..1"));
            }
            if r.retry_after_http_date && r.retry_after_seconds.is_none() {
                return Err(format!(
                    "rules[{i}]: retryAfterHttpDate needs retryAfterSeconds"
                ));
            }
            match r.action {
                FaultKind::Status => match r.status {
                    Some(s) if (400..=599).contains(&s) => {}
                    _ => return Err(format!("rules[{i}]: action 'status' needs status 400..599")),
                },
                FaultKind::Delay if r.delay_ms.is_none() => {
                    return Err(format!("rules[{i}]: action 'delay' needs delayMs"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// What the engine decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultAction {
    Status {
        status: u16,
        retry_after: Option<RetryAfter>,
        graph_code: Option<String>,
    },
    Delay(u64),
    DropBefore,
    DropAfter,
}

/// An injected `Retry-After`: seconds, or an HTTP-date that many seconds ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryAfter {
    pub seconds: u64,
    pub http_date: bool,
}

impl RetryAfter {
    /// The header value. The date is rounded up to the next whole second, so a client that
    /// waits until then waits at least `seconds`.
    pub fn header_value(self) -> axum::http::HeaderValue {
        if !self.http_date {
            return axum::http::HeaderValue::from(self.seconds);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let whole = now.as_secs() + u64::from(now.subsec_nanos() > 0) + self.seconds;
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(whole);
        // An IMF-fixdate is plain ASCII.
        axum::http::HeaderValue::from_str(&httpdate::fmt_http_date(when))
            .unwrap_or_else(|_| axum::http::HeaderValue::from(self.seconds))
    }
}

/// Live state of a plan: per-rule counters and the seeded generator.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    plan: FaultPlan,
    matched: Vec<u64>,
    applied: Vec<u64>,
    rng: SplitMix,
}

impl FaultEngine {
    pub fn new(plan: FaultPlan) -> Self {
        let n = plan.rules.len();
        let rng = SplitMix::new(plan.seed);
        FaultEngine {
            plan,
            matched: vec![0; n],
            applied: vec![0; n],
            rng,
        }
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Decides for one request; the first rule that fires wins.
    pub fn decide(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        if path.starts_with("/_emulator") {
            return None;
        }
        for (i, rule) in self.plan.rules.iter().enumerate() {
            if !path_matches(&rule.path, path)
                || rule
                    .method
                    .as_deref()
                    .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            self.matched[i] += 1;
            if self.matched[i] <= rule.skip.unwrap_or(0) {
                continue;
            }
            if let Some(count) = rule.count
                && self.applied[i] >= count
            {
                continue;
            }
            if let Some(rate) = rule.rate
                && self.rng.next_f64() >= rate
            {
                continue;
            }
            self.applied[i] += 1;
            return Some(match rule.action {
                FaultKind::Status => FaultAction::Status {
                    status: rule.status.unwrap_or(503),
                    retry_after: rule.retry_after_seconds.map(|seconds| RetryAfter {
                        seconds,
                        http_date: rule.retry_after_http_date,
                    }),
                    graph_code: rule.graph_code.clone(),
                },
                FaultKind::Delay => FaultAction::Delay(rule.delay_ms.unwrap_or(0)),
                FaultKind::DropBeforeAccept => FaultAction::DropBefore,
                FaultKind::DropAfterAccept => FaultAction::DropAfter,
            });
        }
        None
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    match pattern {
        "token" => {
            lower.contains("/oauth2/")
                && lower.ends_with("/token")
                && !crate::util::is_managed_identity_path(path)
        }
        "managedIdentity" => crate::util::is_managed_identity_path(path),
        "googleToken" => crate::google::is_token_path(path),
        "gmailSend" => crate::google::is_gmail_path(path),
        "sendMail" => lower.ends_with("/sendmail"),
        "upload" => lower.starts_with("/_upload/"),
        "send" => lower.ends_with("/send"),
        "createDraft" => lower.starts_with("/v1.0/") && lower.ends_with("/messages"),
        "draft" => {
            let segs: Vec<&str> = lower.trim_end_matches('/').split('/').collect();
            segs.len() == 6 && segs[1] == "v1.0" && segs[2] == "users" && segs[4] == "messages"
        }
        other => path.contains(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: FaultKind) -> FaultRule {
        FaultRule {
            status: Some(503),
            ..FaultRule::new("sendMail", action)
        }
    }

    #[test]
    fn count_and_skip() {
        let mut r = rule(FaultKind::Status);
        r.count = Some(2);
        r.skip = Some(1);
        let mut e = FaultEngine::new(FaultPlan {
            seed: 0,
            rules: vec![r],
        });
        let p = "/v1.0/users/a@b/sendMail";
        let got: Vec<bool> = (0..5).map(|_| e.decide("POST", p).is_some()).collect();
        assert_eq!(got, [false, true, true, false, false]);
        assert!(e.decide("POST", "/v1.0/users/a@b/messages").is_none());
    }

    #[test]
    fn method_and_draft_paths() {
        let mut r = FaultRule::new("draft", FaultKind::DropAfterAccept);
        r.method = Some("delete".into());
        let mut create = FaultRule::new("createDraft", FaultKind::DropAfterAccept);
        create.method = Some("POST".into());
        let mut e = FaultEngine::new(FaultPlan {
            seed: 0,
            rules: vec![r, create],
        });
        let item = "/v1.0/users/a@b/messages/AAMk=";
        assert!(e.decide("GET", item).is_none());
        assert!(e.decide("DELETE", item).is_some());
        assert!(
            e.decide("DELETE", "/v1.0/users/a@b/messages/AAMk=/attachments")
                .is_none()
        );
        assert!(e.decide("POST", "/v1.0/users/a@b/messages").is_some());
        assert!(e.decide("GET", "/v1.0/users/a@b/messages").is_none());
        assert!(
            e.decide("POST", "/v1.0/users/a@b/messages/AAMk=/send")
                .is_none()
        );
    }

    #[test]
    fn retry_after_as_seconds_or_http_date() {
        let secs = RetryAfter {
            seconds: 7,
            http_date: false,
        };
        assert_eq!(secs.header_value(), "7");
        let date = RetryAfter {
            seconds: 30,
            http_date: true,
        };
        let value = date.header_value();
        let when = httpdate::parse_http_date(value.to_str().unwrap()).unwrap();
        let ahead = when
            .duration_since(std::time::SystemTime::now())
            .unwrap()
            .as_secs_f64();
        assert!(
            (29.0..=31.0).contains(&ahead),
            "{value:?} is {ahead} s ahead"
        );
    }

    #[test]
    fn http_date_needs_seconds() {
        let mut r = rule(FaultKind::Status);
        r.retry_after_http_date = true;
        let plan = FaultPlan {
            seed: 0,
            rules: vec![r],
        };
        assert!(plan.validate().unwrap_err().contains("retryAfterSeconds"));
    }

    #[test]
    fn rate_is_deterministic() {
        let mut r = rule(FaultKind::DropBeforeAccept);
        r.rate = Some(0.5);
        let run = |seed| {
            let mut e = FaultEngine::new(FaultPlan {
                seed,
                rules: vec![r.clone()],
            });
            (0..64)
                .map(|_| e.decide("POST", "/x/sendMail").is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|b| **b).count();
        assert!((16..48).contains(&hits), "{hits}");
    }
}
