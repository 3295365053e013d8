//! pmp-mail: send mail through Microsoft Graph with an Entra ID app registration.
//!
//! The safe Rust core lives in the concern modules; `ffi` is the C ABI boundary only.

pub mod ffi;

/// The crate version, as the C ABI reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
