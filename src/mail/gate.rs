//! How many sends one client runs at once, and when a mailbox must wait.
//!
//! - Slots: per sending mailbox (Graph refuses a fifth concurrent request per app and mailbox
//!   with 429 MailboxConcurrency, so more threads only buy throttling) and overall. A send takes
//!   a slot before its first request and keeps it until its last: a draft's requests go one
//!   after another, so one slot covers them.
//! - Pause: a 429 (or 503 with Retry-After) for a mailbox holds every send of that mailbox that
//!   has not started yet until the server's wait is over; other mailboxes keep going.
//! - Budget: at most `maxMessagesPerMailbox` sends start per mailbox in any window of
//!   `windowSeconds` (Exchange Online's 10,000 per 10 minutes); more wait, they do not fail.
//!
//! Waiting sends nothing, so a cancel ends every one of these waits at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::SendingLimits;
use crate::error::{Error, Result};
use crate::logging::OpLog;

/// A wait for a slot at least this long is logged.
const LOGGED_WAIT: Duration = Duration::from_millis(50);

/// Forgetting idle mailboxes starts when the client knows this many.
const PRUNE_AT: usize = 256;

pub(crate) struct SendGates {
    limits: SendingLimits,
    overall: Arc<Semaphore>,
    /// One state per mailbox (lower case).
    mailboxes: parking_lot::Mutex<HashMap<String, Arc<MailboxState>>>,
}

impl std::fmt::Debug for SendGates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendGates")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What the client knows about one sending mailbox.
pub(crate) struct MailboxState {
    slots: Arc<Semaphore>,
    pause: MailboxPause,
    /// When the sends of the current window started, oldest first.
    started: parking_lot::Mutex<VecDeque<Instant>>,
}

/// Until when a mailbox's sends wait because Graph said so.
#[derive(Default)]
struct MailboxPause {
    until: parking_lot::Mutex<Option<Instant>>,
}

impl MailboxPause {
    /// The server asked to wait `wait` before the next request: new sends wait at least that.
    fn extend(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut current = self.until.lock();
        if current.is_none_or(|c| c < until) {
            *current = Some(until);
        }
    }

    /// How long the pause still lasts.
    fn remaining(&self) -> Option<Duration> {
        let until = (*self.until.lock())?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

/// A send's place: one of its mailbox's slots and one of the client's. Keeps the mailbox's
/// state alive, so the send's throttling answers reach the sends after it.
pub(crate) struct SendSlot {
    _mailbox: OwnedSemaphorePermit,
    _overall: OwnedSemaphorePermit,
    state: Arc<MailboxState>,
}

impl SendSlot {
    /// The mailbox the send goes out as, where its throttling answers are reported.
    pub(crate) fn mailbox(&self) -> Arc<MailboxState> {
        self.state.clone()
    }
}

impl MailboxState {
    /// Graph asked to wait `wait` before the mailbox's next request (429, or 503 with
    /// Retry-After): sends that have not started yet wait at least that long.
    pub(crate) fn server_asked_to_wait(&self, wait: Duration) {
        self.pause.extend(wait);
    }
}

/// The key a mailbox's slots, pause and budget are kept under: addresses compare
/// case-insensitively. Batches group their lanes by the same key.
pub(crate) fn mailbox_key(mailbox: &str) -> String {
    mailbox.trim().to_ascii_lowercase()
}

impl SendGates {
    pub(crate) fn new(limits: SendingLimits) -> SendGates {
        SendGates {
            limits,
            overall: Arc::new(Semaphore::new(limits.overall)),
            mailboxes: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn limits(&self) -> SendingLimits {
        self.limits
    }

    /// Waits for a place for a send as `mailbox`: first the mailbox's slot (so a busy mailbox
    /// never holds an overall slot another mailbox could use), then out any pause Graph asked
    /// for and the mailbox's budget, then the client's slot.
    pub(crate) async fn acquire(&self, mailbox: &str, log: &mut OpLog) -> Result<SendSlot> {
        let started = Instant::now();
        let state = self.mailbox_state(mailbox);
        let mailbox_permit = self.wait(state.slots.clone().acquire_owned(), log).await?;
        self.wait_out_pause(&state, log).await?;
        self.take_budget(&state, log).await?;
        let overall_permit = self.wait(self.overall.clone().acquire_owned(), log).await?;
        let waited = started.elapsed();
        log.add_waited(waited);
        if waited >= LOGGED_WAIT {
            log.info(format!(
                "waited {} ms for a send slot (at most {} sends at once per mailbox, {} in all)",
                waited.as_millis(),
                self.limits.per_mailbox,
                self.limits.overall
            ));
        }
        Ok(SendSlot {
            _mailbox: mailbox_permit,
            _overall: overall_permit,
            state,
        })
    }

    /// How long `mailbox`'s pause still lasts, if Graph asked it to wait.
    pub(crate) fn paused_for(&self, mailbox: &str) -> Option<Duration> {
        let key = mailbox_key(mailbox);
        let state = self.mailboxes.lock().get(&key).cloned()?;
        state.pause.remaining()
    }

    async fn wait_out_pause(&self, state: &MailboxState, log: &mut OpLog) -> Result<()> {
        while let Some(left) = state.pause.remaining() {
            log.info(format!(
                "the mailbox is throttled: waiting {} ms as Graph asked before sending",
                left.as_millis()
            ));
            self.sleep(left, log, "waiting out the mailbox's throttling")
                .await?;
        }
        Ok(())
    }

    /// Records this send's start in the mailbox's window, first waiting until the window has
    /// room.
    async fn take_budget(&self, state: &MailboxState, log: &mut OpLog) -> Result<()> {
        loop {
            let wait = {
                let now = Instant::now();
                let mut started = state.started.lock();
                while started
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.limits.window)
                {
                    started.pop_front();
                }
                if started.len() < self.limits.mailbox_budget {
                    started.push_back(now);
                    return Ok(());
                }
                let oldest = started.front().copied().unwrap_or(now);
                self.limits
                    .window
                    .saturating_sub(now.duration_since(oldest))
            };
            log.info(format!(
                "the mailbox sent {} messages in the last {} s: waiting {} ms for the window to move",
                self.limits.mailbox_budget,
                self.limits.window.as_secs(),
                wait.as_millis()
            ));
            self.sleep(
                wait.max(Duration::from_millis(1)),
                log,
                "waiting for the mailbox's send budget",
            )
            .await?;
        }
    }

    async fn sleep(&self, wait: Duration, log: &OpLog, what: &str) -> Result<()> {
        crate::cancel::cancellable_sleep(log.cancel(), wait)
            .await
            .map_err(|_| Error::cancelled(what))
    }

    async fn wait(
        &self,
        acquire: impl Future<
            Output = std::result::Result<OwnedSemaphorePermit, tokio::sync::AcquireError>,
        >,
        log: &OpLog,
    ) -> Result<OwnedSemaphorePermit> {
        let acquired = match log.cancel() {
            Some(cancel) => cancel
                .run(acquire)
                .await
                .map_err(|_| Error::cancelled("waiting for a send slot"))?,
            None => acquire.await,
        };
        // The semaphores are never closed.
        acquired.map_err(|_| Error::new(crate::error::Status::Internal, "send slot closed"))
    }

    fn mailbox_state(&self, mailbox: &str) -> Arc<MailboxState> {
        let key = mailbox_key(mailbox);
        let mut states = self.mailboxes.lock();
        if let Some(state) = states.get(&key) {
            return state.clone();
        }
        if states.len() >= PRUNE_AT {
            // Forget mailboxes nobody sends as now, and that have no pause or budget to keep.
            let now = Instant::now();
            let window = self.limits.window;
            states.retain(|_, state| {
                Arc::strong_count(state) > 1
                    || state.pause.remaining().is_some()
                    || state
                        .started
                        .lock()
                        .back()
                        .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let state = Arc::new(MailboxState {
            slots: Arc::new(Semaphore::new(self.limits.per_mailbox)),
            pause: MailboxPause::default(),
            started: parking_lot::Mutex::new(VecDeque::new()),
        });
        states.insert(key, state.clone());
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(per_mailbox: usize, overall: usize) -> SendGates {
        SendGates::new(SendingLimits {
            per_mailbox,
            overall,
            ..SendingLimits::default()
        })
    }

    #[tokio::test]
    async fn a_mailbox_gets_at_most_its_slots_and_others_still_go() {
        let g = gates(2, 3);
        let mut log = OpLog::default();
        let a1 = g.acquire("A@contoso.com", &mut log).await.unwrap();
        let _a2 = g.acquire("a@contoso.com", &mut log).await.unwrap();
        // A third send as the same mailbox (any case) waits...
        let third = tokio::time::timeout(
            Duration::from_millis(100),
            g.acquire("a@CONTOSO.com", &mut log),
        );
        assert!(third.await.is_err(), "a third slot for the same mailbox");
        // ...while another mailbox takes the last overall slot.
        let _b = g.acquire("b@contoso.com", &mut log).await.unwrap();
        let fourth = tokio::time::timeout(
            Duration::from_millis(100),
            g.acquire("c@contoso.com", &mut log),
        );
        assert!(fourth.await.is_err(), "more than the overall slots");
        drop(a1);
        tokio::time::timeout(Duration::from_secs(5), g.acquire("a@contoso.com", &mut log))
            .await
            .expect("a freed slot is taken")
            .unwrap();
    }

    #[tokio::test]
    async fn a_cancel_ends_the_wait() {
        let g = gates(1, 4);
        let _held = g
            .acquire("a@contoso.com", &mut OpLog::default())
            .await
            .unwrap();
        let cancel = crate::cancel::CancelToken::new();
        let mut log = OpLog::with_cancel(Some(cancel.clone()));
        cancel.cancel();
        let e = tokio::time::timeout(Duration::from_secs(5), g.acquire("a@contoso.com", &mut log))
            .await
            .expect("the cancel ends the wait")
            .err()
            .expect("cancelled");
        assert_eq!(e.status, crate::error::Status::Cancelled);
    }

    #[test]
    fn idle_mailboxes_are_forgotten() {
        let g = SendGates::new(SendingLimits {
            window: Duration::from_millis(1),
            ..SendingLimits::default()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..1000 {
                drop(
                    g.acquire(&format!("m{i}@contoso.com"), &mut OpLog::default())
                        .await
                        .unwrap(),
                );
                tokio::time::sleep(Duration::from_micros(10)).await;
            }
        });
        assert!(
            g.mailboxes.lock().len() <= PRUNE_AT,
            "{}",
            g.mailboxes.lock().len()
        );
    }

    #[tokio::test]
    async fn a_pause_holds_new_sends_of_its_mailbox_only() {
        let g = gates(4, 16);
        let mut log = OpLog::default();
        let first = g.acquire("a@contoso.com", &mut log).await.unwrap();
        first
            .mailbox()
            .server_asked_to_wait(Duration::from_secs(30));
        drop(first);
        assert!(g.paused_for("A@contoso.com").is_some());
        let held = tokio::time::timeout(
            Duration::from_millis(200),
            g.acquire("a@contoso.com", &mut log),
        );
        assert!(
            held.await.is_err(),
            "a new send of the paused mailbox waits"
        );
        tokio::time::timeout(Duration::from_secs(5), g.acquire("b@contoso.com", &mut log))
            .await
            .expect("another mailbox goes")
            .unwrap();
        assert!(g.paused_for("b@contoso.com").is_none());
    }

    #[tokio::test]
    async fn the_budget_holds_a_send_until_the_window_moves() {
        let g = SendGates::new(SendingLimits {
            mailbox_budget: 2,
            window: Duration::from_secs(30),
            ..SendingLimits::default()
        });
        let mut log = OpLog::default();
        for _ in 0..2 {
            drop(g.acquire("a@contoso.com", &mut log).await.unwrap());
        }
        let third = tokio::time::timeout(
            Duration::from_millis(200),
            g.acquire("a@contoso.com", &mut log),
        );
        assert!(third.await.is_err(), "a third send within the window waits");
        assert!(
            log.lines()
                .iter()
                .any(|l| l.contains("for the window to move")),
            "{:?}",
            log.lines()
        );
    }
}
