//! The tokio runtimes the process shares. Blocking entry points (the C ABI, the blocking Rust
//! API) `block_on` one of them; async callers use the `_async` methods on their own runtime.
//!
//! One operation at a time (a send, a permission test) runs on a current-thread runtime: the
//! calling thread polls the request, the connection and the socket itself, so a send costs no
//! thread hand-offs (with a worker pool, every request woke a worker and every answer woke the
//! caller back: futex and epoll wake-ups were most of a send's CPU). Threads that call at the
//! same time take turns driving it. A batch runs on a multi-thread runtime instead: its
//! progress callback runs on the calling thread and may take its time without holding up the
//! requests in flight.
//!
//! A connection belongs to the runtime it was opened on (its task and socket are driven
//! there), so [`Place`] tells the HTTP layer which pool to use: a connection opened for a
//! blocking call must not be picked up by a caller's own runtime while nobody drives ours.

use std::cell::Cell;
use std::future::Future;
use std::sync::LazyLock;

use crate::error::{Error, Result};

/// Where the current thread's pmp-mail work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// On a runtime of the caller's (an `_async` method).
    Foreign,
    /// Inside [`block_on`]: the current-thread runtime.
    Caller,
    /// Inside [`block_on_workers`] or on one of its worker threads.
    Workers,
}

thread_local! {
    static PLACE: Cell<Place> = const { Cell::new(Place::Foreign) };
}

/// The runtime the current thread's pmp-mail work runs on.
pub(crate) fn place() -> Place {
    PLACE.with(Cell::get)
}

static CALLER: LazyLock<std::io::Result<tokio::runtime::Runtime>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
});

static WORKERS: LazyLock<std::io::Result<tokio::runtime::Runtime>> = LazyLock::new(|| {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get().clamp(2, 4))
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("pmp-mail")
        .on_thread_start(|| PLACE.with(|p| p.set(Place::Workers)))
        .enable_all()
        .build()
});

/// Runs one operation to completion on the calling thread (the current-thread runtime).
/// Refuses to run from inside a tokio runtime: blocking a worker thread there can deadlock.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    run_on(&CALLER, Place::Caller, future)
}

/// Runs a batch: `future` is polled on the calling thread, the tasks it spawns run on the
/// worker threads.
pub fn block_on_workers<F: Future>(future: F) -> Result<F::Output> {
    run_on(&WORKERS, Place::Workers, future)
}

fn run_on<F: Future>(
    runtime: &std::io::Result<tokio::runtime::Runtime>,
    place: Place,
    future: F,
) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::internal(
            "a blocking pmp-mail call was made from inside an async runtime",
        )
        .with_remedy("Use the *_async methods from async code, or call from a plain thread."));
    }
    match runtime {
        Ok(runtime) => {
            let _place = PlaceGuard::enter(place);
            Ok(runtime.block_on(future))
        }
        Err(e) => Err(Error::internal(format!(
            "cannot start the pmp-mail runtime ({e})"
        ))),
    }
}

/// Sets the thread's [`Place`] for the length of a blocking call, and puts the old one back
/// (also when the future panics).
struct PlaceGuard(Place);

impl PlaceGuard {
    fn enter(place: Place) -> PlaceGuard {
        PlaceGuard(PLACE.with(|p| p.replace(place)))
    }
}

impl Drop for PlaceGuard {
    fn drop(&mut self) {
        PLACE.with(|p| p.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::runtime::{Handle, RuntimeFlavor};

    #[test]
    fn single_calls_drive_a_current_thread_runtime_and_batches_the_workers() {
        let caller = std::thread::current().id();
        let (flavor, thread, place_inside) = block_on(async {
            (
                Handle::current().runtime_flavor(),
                std::thread::current().id(),
                place(),
            )
        })
        .unwrap();
        assert_eq!(flavor, RuntimeFlavor::CurrentThread);
        assert_eq!(thread, caller, "the calling thread polls the call");
        assert_eq!(place_inside, Place::Caller);
        assert_eq!(place(), Place::Foreign, "the place is put back afterwards");

        let (flavor, spawned_place) = block_on_workers(async {
            let spawned = tokio::spawn(async { place() }).await.unwrap();
            (Handle::current().runtime_flavor(), spawned)
        })
        .unwrap();
        assert_eq!(flavor, RuntimeFlavor::MultiThread);
        assert_eq!(
            spawned_place,
            Place::Workers,
            "worker threads know their place"
        );
        assert_eq!(place(), Place::Foreign);
    }

    #[test]
    fn a_blocking_call_inside_a_runtime_is_refused() {
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let refused = outer.block_on(async { block_on(async {}) });
        assert!(refused.is_err());
    }
}
