//! `SysManage` load generator: simulates many agents over the real agent protocol, so that the
//! server's memory, CPU and latency can be measured with thousands of connected hosts.
//!
//! The binary `sysmanage-loadgen` runs [`run::run`] with settings from [`config::Args`]. The
//! binary `sysmanage-apibench` measures the REST API while agents are connected.

// Most getters here are cheap and their results are obviously used, so `#[must_use]` on each
// adds noise. Counts and microseconds converted to f64 for display stay far below 2^52.
#![allow(clippy::must_use_candidate, clippy::cast_precision_loss)]

pub mod agent;
pub mod api;

pub mod config;
pub mod fatal;
pub mod identity;
pub mod inventory;
pub mod report;
pub mod run;
pub mod stats;
