//! SysManage agent: keeps a WebSocket connection to the server, heartbeats, reports pending
//! updates and installs them on request.
//!
//! The binary in `main.rs` only parses the command line; everything else lives here so that
//! integration tests can drive it.

pub mod packages;
