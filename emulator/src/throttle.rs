//! Outlook's per app + mailbox limits (protocol.md D1): concurrent requests and requests per
//! window. Over a limit → 429 ApplicationThrottled with Retry-After.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::directory::Throttling;

#[derive(Debug, Default)]
struct Slot {
    active: u32,
    recent: VecDeque<Instant>,
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
            let oldest = slot.recent.front().copied().unwrap_or(now);
            let wait = window
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1);
            return Err(Limit::Rate(wait));
        }
        if slot.active >= self.cfg.max_concurrent {
            return Err(Limit::Concurrency);
        }
        slot.active += 1;
        drop(slots);
        Ok(Permit {
            throttle: self.clone(),
            key,
        })
    }

    pub fn reset(&self) {
        self.slots.lock().retain(|_, s| {
            s.recent.clear();
            s.active > 0
        });
    }
}
