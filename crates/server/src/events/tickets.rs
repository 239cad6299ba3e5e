//! One-time tickets that open an event stream: random, valid for a few seconds, kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failure to issue or redeem a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("too many unused event stream tickets; try again in a few seconds")]
    StoreFull,
    #[error("failed to generate a random ticket")]
    Random,
    #[error(
        "unknown, used or expired event stream ticket; request a new one with POST /events/ticket"
    )]
    Invalid,
}

/// The session a ticket was issued to: the stream it opens ends when this session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOwner {
    pub user_id: i64,
    /// Token chain of the request that asked for the ticket.
    pub chain_id: String,
}

/// An unused ticket: its expiry time in Unix milliseconds and the session it belongs to.
struct Ticket {
    expires_at_ms: i64,
    owner: StreamOwner,
}

/// Unused tickets by value. Holds at most `capacity` tickets.
pub struct TicketStore {
    capacity: usize,
    tickets: Mutex<HashMap<String, Ticket>>,
}

impl TicketStore {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tickets: Mutex::new(HashMap::new()),
        }
    }

    /// Creates a ticket for `owner` that expires at `expires_at_ms`. Expired tickets are dropped
    /// first; when `capacity` unexpired tickets remain, fails with [`TicketError::StoreFull`].
    pub fn issue(
        &self,
        now_ms: i64,
        expires_at_ms: i64,
        owner: StreamOwner,
    ) -> Result<String, TicketError> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| TicketError::Random)?;
        let ticket = hex::encode(bytes);

        let mut tickets = self.lock();
        tickets.retain(|_, ticket| ticket.expires_at_ms > now_ms);
        if tickets.len() >= self.capacity {
            return Err(TicketError::StoreFull);
        }
        tickets.insert(
            ticket.clone(),
            Ticket {
                expires_at_ms,
                owner,
            },
        );
        Ok(ticket)
    }

    /// Removes `ticket` and returns its owner if it existed and had not expired at `now_ms`. A
    /// ticket can be redeemed once.
    pub fn redeem(&self, ticket: &str, now_ms: i64) -> Result<StreamOwner, TicketError> {
        match self.lock().remove(ticket) {
            Some(stored) if stored.expires_at_ms > now_ms => Ok(stored.owner),
            _ => Err(TicketError::Invalid),
        }
    }

    /// Returns the number of stored tickets, expired ones included until the next `issue`.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ticket>> {
        // A panic while the lock was held cannot leave the map inconsistent (every operation is a
        // single insert, remove or retain), so a poisoned lock is used as it is.
        self.tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> StreamOwner {
        StreamOwner {
            user_id: 7,
            chain_id: "chain".to_owned(),
        }
    }

    #[test]
    fn ticket_redeems_once() {
        let store = TicketStore::new(4);
        let ticket = store.issue(1_000, 31_000, owner()).unwrap();
        assert_eq!(ticket.len(), 64);
        assert_eq!(store.redeem(&ticket, 2_000), Ok(owner()));
        assert_eq!(store.redeem(&ticket, 2_000), Err(TicketError::Invalid));
    }

    #[test]
    fn ticket_expires() {
        let store = TicketStore::new(4);
        let ticket = store.issue(1_000, 31_000, owner()).unwrap();
        assert_eq!(store.redeem(&ticket, 31_000), Err(TicketError::Invalid));
        assert!(
            store.is_empty(),
            "an expired ticket is removed when redeemed"
        );
    }

    #[test]
    fn unknown_ticket_is_invalid() {
        let store = TicketStore::new(4);
        assert_eq!(store.redeem("", 0), Err(TicketError::Invalid));
        assert_eq!(store.redeem("not-a-ticket", 0), Err(TicketError::Invalid));
    }

    #[test]
    fn tickets_are_distinct() {
        let store = TicketStore::new(4);
        let first = store.issue(0, 10, owner()).unwrap();
        let second = store.issue(0, 10, owner()).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn full_store_rejects_until_expiry() {
        let store = TicketStore::new(2);
        store.issue(0, 100, owner()).unwrap();
        store.issue(0, 200, owner()).unwrap();
        assert_eq!(store.issue(50, 150, owner()), Err(TicketError::StoreFull));
        assert_eq!(store.len(), 2);

        // At 100 the first ticket has expired, so a new one fits.
        assert!(store.issue(100, 130, owner()).is_ok());
        assert_eq!(store.len(), 2);
    }
}
