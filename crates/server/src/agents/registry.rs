//! Open agent connections by host id, for sending them messages from API handlers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use sysmanage_protocol::ServerMessage;

use super::outbox::{self, PushError, Receiver, Sender};

/// Outgoing messages one connection buffers before senders wait.
const QUEUE_CAPACITY: usize = 64;

/// Time a sender waits for room in a full queue before it gives up.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Connected agents, by host id. At most one connection per host: a newer one replaces the older.
#[derive(Default)]
pub struct Registry {
    connections: DashMap<i64, Connection>,
    next_connection_id: AtomicU64,
}

struct Connection {
    id: u64,
    sender: Sender,
}

/// A connection leaves the map when it is replaced, unregistered or disconnected. Closing its
/// outbox then makes its session receive `None` and close.
impl Drop for Connection {
    fn drop(&mut self) {
        self.sender.close();
    }
}

/// The receiving side of one registered connection, owned by its session.
pub struct Registration {
    pub connection_id: u64,
    /// Yields `None` once a newer connection of the same host replaced this one or the host was
    /// deleted; the session then closes.
    pub receiver: Receiver,
}

/// Why a message could not be handed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the host's agent is not connected")]
    NotConnected,
    #[error("the agent connection's send queue stayed full for 5 seconds")]
    QueueFull,
}

impl Registry {
    /// Registers a new connection of `host_id`, replacing and thereby closing an older one.
    pub fn register(&self, host_id: i64) -> Registration {
        let connection_id = self.next_connection_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (sender, receiver) = outbox::outbox(QUEUE_CAPACITY);
        let replaced = self.connections.insert(
            host_id,
            Connection {
                id: connection_id,
                sender,
            },
        );
        if replaced.is_some() {
            tracing::info!(host_id, "newer agent connection replaces the open one");
        }
        Registration {
            connection_id,
            receiver,
        }
    }

    /// Removes the connection, unless a newer one already replaced it.
    pub fn unregister(&self, host_id: i64, connection_id: u64) {
        self.connections
            .remove_if(&host_id, |_, connection| connection.id == connection_id);
    }

    /// Closes and removes the connection of a deleted host, if any. Its session reports to the
    /// agent that the host was deleted.
    pub fn disconnect(&self, host_id: i64) {
        if let Some((_, connection)) = self.connections.remove(&host_id) {
            connection.sender.close_for_deleted_host();
        }
    }

    /// Returns whether the host has an open, authenticated connection.
    pub fn is_connected(&self, host_id: i64) -> bool {
        self.connections.contains_key(&host_id)
    }

    /// Queues `message` for the host's connection. Waits at most 5 seconds for room.
    pub async fn send(&self, host_id: i64, message: ServerMessage) -> Result<(), SendError> {
        // The sender is cloned out so that no map shard stays locked while waiting.
        let sender = self
            .connections
            .get(&host_id)
            .map(|connection| connection.sender.clone())
            .ok_or(SendError::NotConnected)?;
        match sender.push(Box::new(message), SEND_TIMEOUT).await {
            Ok(()) => Ok(()),
            Err(PushError::Full) => Err(SendError::QueueFull),
            Err(PushError::Closed) => Err(SendError::NotConnected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn newer_connection_closes_older() {
        let registry = Registry::default();
        let mut first = registry.register(5);
        let mut second = registry.register(5);

        assert!(first.receiver.recv().await.is_none());
        registry
            .send(5, ServerMessage::RefreshUpdates)
            .await
            .unwrap();
        assert_eq!(
            second.receiver.recv().await.map(|message| *message),
            Some(ServerMessage::RefreshUpdates)
        );

        registry.unregister(5, first.connection_id);
        assert!(registry.is_connected(5));
        registry.unregister(5, second.connection_id);
        assert!(!registry.is_connected(5));
    }

    #[tokio::test]
    async fn send_to_unknown_host_fails() {
        let registry = Registry::default();
        assert_eq!(
            registry.send(1, ServerMessage::RefreshUpdates).await,
            Err(SendError::NotConnected)
        );
    }
}
