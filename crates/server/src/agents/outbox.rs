//! The queue of messages for one agent connection: API handlers push into it through the
//! registry, and the connection's session takes them out and sends them.
//!
//! Every connected agent has one, and nearly all of them stay empty, so it is built for size:
//! an estimated 130 bytes on the heap while empty, from the sizes of its fields. A Tokio `mpsc`
//! channel, used before, took about 800 in a heap profile, because its shared state is padded to
//! cache lines and it allocates its first block of 32 slots when it is created.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sysmanage_protocol::ServerMessage;
use tokio::sync::Notify;

/// A queued message. Boxed so that the queue's slots stay one pointer each.
pub type QueuedMessage = Box<ServerMessage>;

/// Reason a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PushError {
    /// The connection is gone or was replaced.
    Closed,
    /// The queue stayed full for the whole wait.
    Full,
}

struct Outbox {
    state: Mutex<State>,
    /// Wakes the session when a message arrives or the outbox closes.
    arrived: Notify,
    /// Wakes senders waiting for room when the session takes a message or the outbox closes.
    room: Notify,
}

struct State {
    messages: VecDeque<QueuedMessage>,
    closed: bool,
    /// Whether the outbox closed because the host was deleted, not because a newer connection
    /// replaced this one or the session ended.
    host_deleted: bool,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing that can panic runs under this lock, so a poisoned one still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self, host_deleted: bool) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.host_deleted |= host_deleted;
        }
        self.arrived.notify_one();
        self.room.notify_waiters();
    }
}

/// Creates an outbox for at most `capacity` messages.
pub(super) fn outbox(capacity: usize) -> (Sender, Receiver) {
    let outbox = Arc::new(Outbox {
        state: Mutex::new(State {
            messages: VecDeque::new(),
            closed: false,
            host_deleted: false,
        }),
        arrived: Notify::new(),
        room: Notify::new(),
    });
    (
        Sender {
            outbox: Arc::clone(&outbox),
            capacity,
        },
        Receiver { outbox },
    )
}

/// The pushing side, kept by the registry. Cloned for each send so that no registry lock is held
/// while a send waits for room.
#[derive(Clone)]
pub(super) struct Sender {
    outbox: Arc<Outbox>,
    capacity: usize,
}

impl Sender {
    /// Queues `message`, waiting at most `timeout` for room while the queue is full.
    pub(super) async fn push(
        &self,
        message: QueuedMessage,
        timeout: Duration,
    ) -> Result<(), PushError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Created before the check, so that a message taken or a close between the check and
            // the wait still wakes this sender.
            let room = self.outbox.room.notified();
            {
                let mut state = self.outbox.lock();
                if state.closed {
                    return Err(PushError::Closed);
                }
                if state.messages.len() < self.capacity {
                    state.messages.push_back(message);
                    drop(state);
                    self.outbox.arrived.notify_one();
                    return Ok(());
                }
            }
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                return Err(PushError::Full);
            }
        }
    }

    /// Closes the outbox: the receiver gets the messages already queued, then `None`.
    pub(super) fn close(&self) {
        self.outbox.close(false);
    }

    /// Closes the outbox because the host was deleted, which the session reports to its agent.
    pub(super) fn close_for_deleted_host(&self) {
        self.outbox.close(true);
    }
}

/// The taking side, owned by the connection's session. Dropping it closes the outbox, so that
/// senders get [`PushError::Closed`].
pub struct Receiver {
    outbox: Arc<Outbox>,
}

impl Receiver {
    /// Waits for the next message. Returns `None` once the outbox is closed and empty.
    /// Cancel-safe: a message is taken only in the poll that returns it.
    pub async fn recv(&mut self) -> Option<QueuedMessage> {
        loop {
            // `notify_one` keeps a permit when no task waits, so a message pushed between the
            // check and the wait is not missed.
            let arrived = self.outbox.arrived.notified();
            {
                let mut state = self.outbox.lock();
                if let Some(message) = state.messages.pop_front() {
                    if state.messages.is_empty() {
                        // Frees the slots: most connections receive a message rarely.
                        state.messages.shrink_to_fit();
                    }
                    drop(state);
                    self.outbox.room.notify_one();
                    return Some(message);
                }
                if state.closed {
                    return None;
                }
            }
            arrived.await;
        }
    }
}

impl Receiver {
    /// Returns whether the outbox was closed because the host was deleted.
    pub fn host_deleted(&self) -> bool {
        self.outbox.lock().host_deleted
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.outbox.close(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn message() -> ServerMessage {
        ServerMessage::RefreshUpdates
    }

    #[tokio::test]
    async fn delivers_in_order_then_ends_after_close() {
        let (sender, mut receiver) = outbox(4);
        sender.push(Box::new(message()), WAIT).await.unwrap();
        sender
            .push(Box::new(ServerMessage::JobResultAck { job_id: 7 }), WAIT)
            .await
            .unwrap();
        sender.close();

        assert_eq!(receiver.recv().await, Some(Box::new(message())));
        assert_eq!(
            receiver.recv().await,
            Some(Box::new(ServerMessage::JobResultAck { job_id: 7 }))
        );
        assert_eq!(receiver.recv().await, None);
        assert_eq!(
            sender.push(Box::new(message()), WAIT).await,
            Err(PushError::Closed)
        );
    }

    #[tokio::test]
    async fn deleted_host_close_is_told_apart() {
        let (sender, mut receiver) = outbox(4);
        sender.close_for_deleted_host();
        assert_eq!(receiver.recv().await, None);
        assert!(receiver.host_deleted());

        let (sender, mut receiver) = outbox(4);
        sender.close();
        assert_eq!(receiver.recv().await, None);
        assert!(!receiver.host_deleted());
    }

    #[tokio::test]
    async fn waiting_receiver_wakes_on_push() {
        let (sender, mut receiver) = outbox(4);
        let waiting = tokio::spawn(async move { receiver.recv().await });
        tokio::task::yield_now().await;
        sender.push(Box::new(message()), WAIT).await.unwrap();
        assert_eq!(waiting.await.unwrap(), Some(Box::new(message())));
    }

    #[tokio::test]
    async fn full_queue_waits_for_room() {
        let (sender, mut receiver) = outbox(1);
        sender.push(Box::new(message()), WAIT).await.unwrap();
        assert_eq!(
            sender
                .push(Box::new(message()), Duration::from_millis(20))
                .await,
            Err(PushError::Full)
        );

        let waiting = {
            let sender = sender.clone();
            tokio::spawn(async move { sender.push(Box::new(message()), WAIT).await })
        };
        tokio::task::yield_now().await;
        assert_eq!(receiver.recv().await, Some(Box::new(message())));
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert_eq!(receiver.recv().await, Some(Box::new(message())));
    }

    #[tokio::test]
    async fn dropped_receiver_fails_waiting_and_new_sends() {
        let (sender, receiver) = outbox(1);
        sender.push(Box::new(message()), WAIT).await.unwrap();
        let waiting = {
            let sender = sender.clone();
            tokio::spawn(async move { sender.push(Box::new(message()), WAIT).await })
        };
        tokio::task::yield_now().await;
        drop(receiver);
        assert_eq!(waiting.await.unwrap(), Err(PushError::Closed));
        assert_eq!(
            sender.push(Box::new(message()), WAIT).await,
            Err(PushError::Closed)
        );
    }
}
