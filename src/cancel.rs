//! Cancellation of an operation by its caller (Ctrl+C in PowerShell, a `CancellationToken` in
//! .NET, `pmp_cancel_request` in C).
//!
//! Cancellation takes effect only where an operation waits: the retry and backoff sleeps, and a
//! queue for the token lock. A request in flight is never abandoned: it runs to its answer, so
//! the caller is never left with an outcome that cancelling made unknown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;

/// A flag one side sets and the operation checks at its waits. Clones share the flag; setting
/// it is thread-safe and idempotent, and wakes every wait that is in progress.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    notify: Notify,
    /// A child token is cancelled when its parent is, too (a batch's own token under the
    /// caller's); cancelling the child leaves the parent alone.
    parent: Option<CancelToken>,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A wait ended because the operation was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// A token that is cancelled when this one is, or on its own; cancelling it does not cancel
    /// this one. One level only: the child of a child would not wake on its grandparent.
    pub(crate) fn child(&self) -> CancelToken {
        debug_assert!(self.inner.parent.is_none(), "one level of child tokens");
        CancelToken {
            inner: Arc::new(Inner {
                parent: Some(self.clone()),
                ..Inner::default()
            }),
        }
    }

    /// Asks the operation to stop at its next wait (or now, if it is waiting).
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
            || self
                .inner
                .parent
                .as_ref()
                .is_some_and(CancelToken::is_cancelled)
    }

    /// Runs `future` until it is ready, unless the token is or becomes cancelled while it is
    /// pending; a cancelled future is dropped. A future that is ready at once (a free lock)
    /// completes even on a cancelled token. Use it only for waits, never for a request in
    /// flight.
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, Cancelled> {
        match &self.inner.parent {
            // The parent's cancel ends the wait as well as the child's own.
            Some(parent) => match parent.run_own(self.run_own(future)).await {
                Ok(Ok(output)) => Ok(output),
                _ => Err(Cancelled),
            },
            None => self.run_own(future).await,
        }
    }

    /// [`CancelToken::run`] on this token's own flag.
    async fn run_own<F: Future>(&self, future: F) -> Result<F::Output, Cancelled> {
        let notified = self.inner.notify.notified();
        tokio::pin!(notified, future);
        // Registered before the flag is read, so a cancel after the read still wakes this
        // waiter (notify_waiters wakes only registered waiters).
        notified.as_mut().enable();
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            if self.inner.cancelled.load(Ordering::Acquire) || notified.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Err(Cancelled));
            }
            Poll::Pending
        })
        .await
    }
}

/// Sleeps for `wait` unless `cancel` (if any) is or becomes cancelled first.
pub(crate) async fn cancellable_sleep(
    cancel: Option<&CancelToken>,
    wait: Duration,
) -> Result<(), Cancelled> {
    match cancel {
        Some(cancel) => cancel.run(tokio::time::sleep(wait)).await,
        None => {
            tokio::time::sleep(wait).await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_cancelled_token_ends_a_wait_at_once() {
        let token = CancelToken::new();
        token.cancel();
        token.cancel();
        let started = std::time::Instant::now();
        let slept = block_on(cancellable_sleep(Some(&token), Duration::from_secs(30)));
        assert_eq!(slept, Err(Cancelled));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn cancelling_from_another_thread_wakes_the_wait() {
        let token = CancelToken::new();
        let remote = token.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            remote.cancel();
        });
        let started = std::time::Instant::now();
        let slept = block_on(cancellable_sleep(Some(&token), Duration::from_secs(30)));
        canceller.join().unwrap();
        assert_eq!(slept, Err(Cancelled));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn what_is_ready_at_once_completes_even_when_cancelled() {
        let token = CancelToken::new();
        token.cancel();
        assert_eq!(block_on(token.run(async { 7 })), Ok(7));
    }

    #[test]
    fn a_child_stops_with_its_parent_but_not_the_other_way_round() {
        let parent = CancelToken::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled() && !parent.is_cancelled());
        assert_eq!(
            block_on(cancellable_sleep(Some(&child), Duration::from_secs(30))),
            Err(Cancelled)
        );

        let parent = CancelToken::new();
        let child = parent.child();
        let remote = parent.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            remote.cancel();
        });
        let slept = block_on(cancellable_sleep(Some(&child), Duration::from_secs(30)));
        canceller.join().unwrap();
        assert_eq!(slept, Err(Cancelled));
        assert!(child.is_cancelled());
        // Cancelled before the child was made: it starts cancelled.
        assert!(parent.child().is_cancelled());
    }

    #[test]
    fn an_untouched_token_lets_the_wait_finish() {
        let token = CancelToken::new();
        let slept = block_on(cancellable_sleep(Some(&token), Duration::from_millis(10)));
        assert_eq!(slept, Ok(()));
        assert_eq!(
            block_on(cancellable_sleep(None, Duration::from_millis(10))),
            Ok(())
        );
    }
}
