//! Outlook's per app + mailbox limits (protocol.md D1): concurrent requests and requests per
//! window. Over a limit → 429 ApplicationThrottled with Retry-After. Also what the limits saw,
//! per app + mailbox (`ThrottleStats`), for tests that check a client's concurrency.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::directory::Throttling;

#[derive(Debug, Default)]
struct Slot {
    active: u32,
    recent: VecDeque<Instant>,
    peak: u32,
    admitted: u64,
    refused_concurrency: u64,
    refused_rate: u64,
}

impl Slot {
    /// Starts counting afresh; requests still in flight stay in flight (and in the peak).
    fn clear_stats(&mut self) {
        self.peak = self.active;
        self.admitted = 0;
        self.refused_concurrency = 0;
        self.refused_rate = 0;
    }
}

/// What the throttle saw for one app + mailbox since the start (or the last reset): Graph
/// requests only (upload URLs and token endpoints hold no slot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStats {
    /// The app's client id, lower-case.
    pub app_id: String,
    /// The mailbox's address (lower-case), or the `/users/{…}` segment when it names no mailbox.
    pub mailbox: String,
    /// Requests holding a slot now.
    pub in_flight: u32,
    /// The most requests that held a slot at once; never above `maxConcurrent`, since a request
    /// over it is refused (and counted in `throttledConcurrency`).
    pub peak_in_flight: u32,
    /// Requests admitted (given a slot).
    pub requests: u64,
    /// 429s returned: `throttledConcurrency + throttledRate`.
    pub throttled: u64,
    /// 429 "MailboxConcurrency": more than `maxConcurrent` at once.
    pub throttled_concurrency: u64,
    /// 429 "RequestRate": over `maxRequests` in `windowSeconds`.
    pub throttled_rate: u64,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    cfg: Throttling,
    slots: Mutex<HashMap<(String, String), Slot>>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// "MailboxConcurrency"; Retry-After 1 (wait for an in-flight request to finish).
    Concurrency,
    /// "RequestRate"; Retry-After = seconds until the oldest request leaves the window.
    Rate(u64),
}

/// Releases the concurrency slot when the request finishes (or is dropped).
pub(crate) struct Permit {
    throttle: Arc<Throttle>,
    key: (String, String),
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(s) = self.throttle.slots.lock().get_mut(&self.key) {
            s.active = s.active.saturating_sub(1);
        }
    }
}

impl Throttle {
    pub fn new(cfg: Throttling) -> Self {
        Throttle {
            cfg,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn acquire(self: &Arc<Self>, app: &str, mailbox: &str) -> Result<Permit, Limit> {
        let key = (app.to_ascii_lowercase(), mailbox.to_ascii_lowercase());
        let window = Duration::from_secs(self.cfg.window_seconds);
        let now = Instant::now();
        let mut slots = self.slots.lock();
        let slot = slots.entry(key.clone()).or_default();
        while slot
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            slot.recent.pop_front();
        }
        // Every attempt counts against the rate, refused ones too: Graph keeps counting
        // usage while a client is throttled (protocol.md D2).
        slot.recent.push_back(now);
        if slot.recent.len() > 2 * self.cfg.max_requests as usize {
            slot.recent.pop_front(); // bound memory under a hammering client
        }
        if slot.recent.len() > self.cfg.max_requests as usize {
            slot.refused_rate += 1;
            let oldest = slot.recent.front().copied().unwrap_or(now);
            let left = window.saturating_sub(now.duration_since(oldest));
            // Rounded up: a client that waits Retry-After whole seconds finds room.
            let wait = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
            return Err(Limit::Rate(wait));
        }
        if slot.active >= self.cfg.max_concurrent {
            slot.refused_concurrency += 1;
            return Err(Limit::Concurrency);
        }
        slot.active += 1;
        slot.admitted += 1;
        slot.peak = slot.peak.max(slot.active);
        drop(slots);
        Ok(Permit {
            throttle: self.clone(),
            key,
        })
    }

    /// Per app + mailbox, ordered by app then mailbox.
    pub fn stats(&self) -> Vec<ThrottleStats> {
        let mut v: Vec<ThrottleStats> = self
            .slots
            .lock()
            .iter()
            .map(|((app, mailbox), s)| ThrottleStats {
                app_id: app.clone(),
                mailbox: mailbox.clone(),
                in_flight: s.active,
                peak_in_flight: s.peak,
                requests: s.admitted,
                throttled: s.refused_concurrency + s.refused_rate,
                throttled_concurrency: s.refused_concurrency,
                throttled_rate: s.refused_rate,
            })
            .collect();
        v.sort_by(|a, b| (&a.app_id, &a.mailbox).cmp(&(&b.app_id, &b.mailbox)));
        v
    }

    /// Clears the statistics but not the windows: what is counted from now on.
    pub fn clear_stats(&self) {
        for s in self.slots.lock().values_mut() {
            s.clear_stats();
        }
    }

    /// Clears windows and statistics; slots with requests in flight are kept so that their
    /// permits still release them.
    pub fn reset(&self) {
        self.slots.lock().retain(|_, s| {
            s.recent.clear();
            s.clear_stats();
            s.active > 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(cfg: Throttling) -> Arc<Throttle> {
        Arc::new(Throttle::new(cfg))
    }

    #[test]
    fn default_budget_is_10000_requests_per_600_seconds() {
        let t = throttle(Throttling::default());
        for i in 0..10_000 {
            assert!(t.acquire("app", "a@x").is_ok(), "request {i}");
        }
        match t.acquire("app", "a@x") {
            Err(Limit::Rate(s)) => assert!((599..=600).contains(&s), "Retry-After {s}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // The budget is per app + mailbox.
        assert!(t.acquire("app", "b@x").is_ok());
        assert!(t.acquire("other", "a@x").is_ok());
        let a = &t.stats()[0];
        assert_eq!((a.requests, a.throttled_rate, a.throttled), (10_000, 1, 1));
        assert_eq!((a.in_flight, a.peak_in_flight), (0, 1));
    }

    #[test]
    fn concurrency_peak_and_refusals_per_mailbox() {
        let t = throttle(Throttling::default());
        let held: Vec<Permit> = (0..4).map(|_| t.acquire("App", "A@x").unwrap()).collect();
        assert_eq!(t.acquire("app", "a@x").err(), Some(Limit::Concurrency));
        assert_eq!(t.acquire("app", "a@x").err(), Some(Limit::Concurrency));
        let _other = t.acquire("app", "b@x").unwrap();
        let s = t.stats();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].mailbox.as_str(), s[0].in_flight), ("a@x", 4));
        assert_eq!((s[0].peak_in_flight, s[0].throttled_concurrency), (4, 2));
        assert_eq!((s[1].mailbox.as_str(), s[1].throttled), ("b@x", 0));
        drop(held);
        let s = t.stats();
        assert_eq!((s[0].in_flight, s[0].peak_in_flight), (0, 4));
        // Clearing starts a new peak from what is in flight now.
        t.clear_stats();
        let s = t.stats();
        assert_eq!(
            (s[0].peak_in_flight, s[0].throttled, s[0].requests),
            (0, 0, 0)
        );
        assert_eq!((s[1].in_flight, s[1].peak_in_flight), (1, 1));
    }
}
