//! Integration tests for pmp-mail, in one test binary (one link of the emulator stack instead of
//! one per file). Most go over real HTTPS against pmp-graph-emulator with only its CA trusted.
//!
//! `cargo test -p pmp-mail --test it` runs them; `... --test it send::` runs one module.

mod abi;
mod auth;
mod batch;
mod buffers;
mod cancel;
mod common;
mod generated;
mod google;
mod input_files;
mod managed_identity;
mod network;
mod secrets;
mod send;
mod token_cache;
