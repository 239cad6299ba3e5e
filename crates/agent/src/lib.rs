//! `SysManage` agent: keeps a WebSocket connection to the server, heartbeats, reports pending
//! updates and installs them on request.
//!
//! The binary in `main.rs` only parses the command line; everything else lives here so that
//! integration tests can drive it.

// Most public functions here are pure lookups whose result the caller plainly uses; marking each
// `#[must_use]` would add noise without catching mistakes.
#![allow(clippy::must_use_candidate)]

pub mod agent;
pub mod check;
pub mod config;
pub mod connection;
pub mod host_info;
pub mod identity;
pub mod inventory;
pub mod jobs;
pub mod logging;
pub mod packages;
pub mod scanner;
