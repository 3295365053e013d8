//! How many sends one client runs at once: per sending mailbox (Graph refuses a fifth
//! concurrent request per app and mailbox with 429 MailboxConcurrency, so more threads only
//! buy throttling) and overall. A send takes a slot before its first request and keeps it until
//! its last: a draft's requests go one after another, so one slot covers them. Waiting for a
//! slot sends nothing, so a cancel ends it at once.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::SendingLimits;
use crate::error::{Error, Result};
use crate::logging::OpLog;

/// A wait for a slot at least this long is logged.
const LOGGED_WAIT: Duration = Duration::from_millis(50);

pub(crate) struct SendGates {
    limits: SendingLimits,
    overall: Arc<Semaphore>,
    /// One semaphore per mailbox (lower case) while a send holds or waits for it.
    mailboxes: parking_lot::Mutex<HashMap<String, Weak<Semaphore>>>,
}

impl std::fmt::Debug for SendGates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendGates")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A send's place: one of its mailbox's slots and one of the client's.
pub(crate) struct SendSlot {
    _mailbox: OwnedSemaphorePermit,
    _overall: OwnedSemaphorePermit,
}

impl SendGates {
    pub(crate) fn new(limits: SendingLimits) -> SendGates {
        SendGates {
            limits,
            overall: Arc::new(Semaphore::new(limits.overall)),
            mailboxes: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot for `mailbox`: first the mailbox's (so a busy mailbox never holds an
    /// overall slot another mailbox could use), then the client's.
    pub(crate) async fn acquire(&self, mailbox: &str, log: &mut OpLog) -> Result<SendSlot> {
        let started = Instant::now();
        let mailbox_gate = self.mailbox_gate(mailbox);
        let mailbox_permit = self.wait(mailbox_gate.acquire_owned(), log).await?;
        let overall_permit = self.wait(self.overall.clone().acquire_owned(), log).await?;
        let waited = started.elapsed();
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
        })
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

    fn mailbox_gate(&self, mailbox: &str) -> Arc<Semaphore> {
        let key = mailbox.trim().to_ascii_lowercase();
        let mut gates = self.mailboxes.lock();
        if let Some(gate) = gates.get(&key).and_then(Weak::upgrade) {
            return gate;
        }
        // Forget mailboxes nobody sends to any more before adding one.
        gates.retain(|_, gate| gate.strong_count() > 0);
        let gate = Arc::new(Semaphore::new(self.limits.per_mailbox));
        gates.insert(key, Arc::downgrade(&gate));
        gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(per_mailbox: usize, overall: usize) -> SendGates {
        SendGates::new(SendingLimits {
            per_mailbox,
            overall,
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
        let g = gates(4, 16);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..100 {
                drop(
                    g.acquire(&format!("m{i}@contoso.com"), &mut OpLog::default())
                        .await
                        .unwrap(),
                );
            }
        });
        assert!(
            g.mailboxes.lock().len() <= 1,
            "{}",
            g.mailboxes.lock().len()
        );
    }
}
