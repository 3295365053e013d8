//! Integration tests for pmp-graph-emulator, over real HTTPS with only the emulator CA trusted.

mod common;
mod federated;
mod google;
mod graph;
mod inbox;
mod latency;
mod managed;
mod ops;
mod token;
mod upload;
