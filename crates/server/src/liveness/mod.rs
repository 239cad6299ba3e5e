//! Last-seen times and up/down detection. TODO: implement.

use crate::clock::Clock;
use crate::config::AgentsConfig;
use crate::state::AppState;

pub struct Tracker;

impl Tracker {
    pub fn new(_config: &AgentsConfig, _clock: Clock) -> Self {
        Self
    }
}

pub async fn spawn(_state: AppState) -> anyhow::Result<()> {
    Ok(())
}
