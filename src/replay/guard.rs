//! Releasing a reservation unless the request ended in a way that should keep it.

use std::sync::Arc;

use super::store::{NonceStore, ReplayKey, ReservationId};

/// Held from the moment a reservation is asked for until the inner service has answered well.
/// Dropped while armed (the store failed, the inner service failed or answered 5xx, or the
/// request future was dropped), it releases the reservation, so Plivo's retry is accepted.
pub(crate) struct ReleaseGuard {
    store: Arc<dyn NonceStore>,
    key: ReplayKey,
    id: ReservationId,
    armed: bool,
}

impl ReleaseGuard {
    pub(crate) fn new(store: Arc<dyn NonceStore>, key: ReplayKey, id: ReservationId) -> Self {
        Self {
            store,
            key,
            id,
            armed: true,
        }
    }

    /// Keeps the reservation until its TTL.
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for ReleaseGuard {
    fn drop(&mut self) {
        if self.armed {
            self.store.release(&self.key, self.id);
        }
    }
}
