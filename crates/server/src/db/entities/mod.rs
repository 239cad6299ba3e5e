//! SeaORM entities, one module per table. Times are Unix milliseconds (UTC).

pub mod auth_token;
pub mod host;
pub mod host_event;
pub mod host_update;
pub mod host_update_count;
pub mod job;
pub mod job_package;
pub mod user;
