//! Integration tests for pmp-graph-emulator, over real HTTPS with only the emulator CA trusted.

mod common;
mod graph;
mod ops;
mod token;
mod upload;
