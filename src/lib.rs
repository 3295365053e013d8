//! pmp-mail: send mail through Microsoft Graph with an Entra ID app registration, or through
//! the Gmail API with a Google Workspace service account.
//!
//! The safe Rust core lives in the concern modules, private to the crate; what a Rust host uses
//! is re-exported here. `ffi` is the C ABI boundary only. (cbindgen reads every module whatever
//! its Rust visibility, so `cbindgen:ignore` is what keeps the core out of the C header.)

/// cbindgen:ignore
mod assertion;
/// cbindgen:ignore
mod authorized;
/// cbindgen:ignore
pub mod batch;
/// cbindgen:ignore
mod cancel;
/// cbindgen:ignore
mod client;
/// cbindgen:ignore
mod config;
/// cbindgen:ignore
mod credential;
/// cbindgen:ignore
mod document;
/// cbindgen:ignore
mod entra_error;
/// cbindgen:ignore
pub mod error;
pub mod ffi;
/// cbindgen:ignore
mod gmail;
/// cbindgen:ignore
mod google_error;
/// cbindgen:ignore
mod host_file;
/// cbindgen:ignore
mod http;
/// cbindgen:ignore
mod logging;
/// cbindgen:ignore
mod mail;
/// cbindgen:ignore
mod managed_identity;
/// cbindgen:ignore
pub mod permission;
/// cbindgen:ignore
mod runtime;
/// cbindgen:ignore
pub mod schema;
/// cbindgen:ignore
mod secret;
/// cbindgen:ignore
mod time;
/// cbindgen:ignore
mod token;
/// cbindgen:ignore
mod token_cache;

pub use cancel::CancelToken;
pub use client::Client;
pub use config::{
    AssertionAlgorithm, AuthConfig, AzureEnvironment, Cloud, Config, EndpointOverrides, Endpoints,
    GoogleOptions, GoogleSettings, HttpOptions, HttpSettings, Identity, ManagedIdentitySource,
    Provider, RetryOptions, RetryPolicy, TokenCacheMode, ValidatedConfig,
};
pub use credential::{
    AssertionProvider, AssertionRequest, AssertionSigner, ServiceAccount, SignatureAlgorithm,
};
pub use error::{Error, ErrorDocument, Outcome, Status};
pub use mail::message::{
    AddressObject, AttachmentInput, HeaderInput, Importance, Message, RecipientInput, SendResult,
};
pub use permission::{PermissionOptions, PermissionReport};
pub use secret::Secret;

/// The crate version, as the C ABI reports it.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
