//! pmp-mail: send mail through Microsoft Graph with an Entra ID app registration.
//!
//! The safe Rust core lives in the concern modules; `ffi` is the C ABI boundary only.
//! (`cbindgen:ignore` keeps the core's public items out of the C header.)

/// cbindgen:ignore
pub mod assertion;
/// cbindgen:ignore
pub mod client;
/// cbindgen:ignore
pub mod config;
/// cbindgen:ignore
pub mod credential;
/// cbindgen:ignore
pub mod error;
pub mod ffi;
/// cbindgen:ignore
pub mod http;
/// cbindgen:ignore
pub mod logging;
/// cbindgen:ignore
pub mod mail;
/// cbindgen:ignore
pub mod permission;
/// cbindgen:ignore
pub mod runtime;
/// cbindgen:ignore
pub mod schema;
/// cbindgen:ignore
pub mod secret;
/// cbindgen:ignore
pub mod token;

pub use client::Client;
pub use config::Config;
pub use credential::{AssertionSigner, SignatureAlgorithm};
pub use error::{Error, ErrorDocument, Outcome, Status};
pub use mail::model::{Message, SendResult};
pub use permission::{PermissionOptions, PermissionReport};
pub use secret::Secret;

/// The crate version, as the C ABI reports it.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
