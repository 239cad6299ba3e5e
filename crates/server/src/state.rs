//! Shared state handed to every request handler and background task.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::config::Config;
use crate::{agents, auth, events, liveness};

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// Connected agents, by host id, for sending them messages.
    pub agents: Arc<agents::Registry>,
    /// In-memory last-seen times and up/down state.
    pub liveness: Arc<liveness::Tracker>,
    /// Failed-login counters per user id and per client address.
    pub login_limiter: Arc<auth::LoginLimiter>,
    /// New host registrations per client address.
    pub registrations: Arc<agents::RegistrationLimiter>,
    /// Live events for the web UI; publish with [`events::publish`].
    pub events: Arc<events::EventBus>,
}

impl AppState {
    /// Builds the state around an open, migrated database.
    pub fn new(db: DatabaseConnection, config: Config, clock: Clock) -> Self {
        let config = Arc::new(config);
        Self {
            agents: Arc::new(agents::Registry::default()),
            liveness: Arc::new(liveness::Tracker::new(&config.agents, clock.clone())),
            login_limiter: Arc::new(auth::LoginLimiter::new(&config.security)),
            registrations: Arc::new(agents::RegistrationLimiter::new(&config.agents)),
            events: Arc::new(events::EventBus::new()),
            db,
            config,
            clock,
        }
    }
}
