//! The one tokio runtime the process shares. Blocking entry points (the C ABI, the blocking
//! Rust API) `block_on` it; async callers use the `_async` methods on their own runtime.

use std::future::Future;
use std::sync::LazyLock;

use crate::error::{Error, Result};

static RUNTIME: LazyLock<std::io::Result<tokio::runtime::Runtime>> = LazyLock::new(|| {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get().clamp(2, 4))
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("pmp-mail")
        .enable_all()
        .build()
});

/// Runs `future` to completion on the shared runtime. Refuses to run from inside a tokio
/// runtime: blocking a worker thread there can deadlock.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::internal(
            "a blocking pmp-mail call was made from inside an async runtime",
        )
        .with_remedy("Use the *_async methods from async code, or call from a plain thread."));
    }
    match &*RUNTIME {
        Ok(runtime) => Ok(runtime.block_on(future)),
        Err(e) => Err(Error::internal(format!(
            "cannot start the pmp-mail runtime ({e})"
        ))),
    }
}
