//! SysManage server: the REST API for administrators, the WebSocket endpoint for agents, host
//! liveness, pending updates and install jobs.
//!
//! Layout: one module per domain concept. `auth` (login, tokens, rate limits), `users`,
//! `hosts` (registration, approval, events), `agents` (the WebSocket session of one agent),
//! `liveness` (last-seen times and up/down detection), `updates` (reports and queries), `jobs`
//! (install jobs, delivery and results), `summary` (fleet counts for the dashboard), `events`
//! (live events for the web UI), `ui` (the embedded web UI), `db` (connection, migrations,
//! entities), `config`, `client_address` (the client of a request, also behind reverse
//! proxies), `http` (router and listener) and `cli` (the `sysmanage-server`
//! subcommands).

pub mod agents;
pub mod api_time;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client_address;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod hosts;
pub mod http;
pub mod jobs;
pub mod liveness;
pub mod setup;
pub mod state;
pub mod summary;
pub mod tls;
pub mod transaction;
pub mod ui;
pub mod updates;
pub mod users;
