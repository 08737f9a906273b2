//! What becomes of a nonce reservation once the request that holds it ends.

use std::sync::Arc;

use http::StatusCode;

use super::keys::ReplayKeys;
use super::store::{NonceStore, ReservationId};

/// A reservation held for one request (each of its replay keys, with one owner id), from the
/// moment the store is asked until the request ends.
///
/// The rule is "release only when the handler did not act", so Plivo's retry of a request that
/// was not handled is accepted while an attacker cannot free a nonce again after the handler
/// ran:
///
/// - dropped before the inner service's future was first polled (the store failed, or the
///   request was abandoned while the store was answering): the handler cannot have run, so the
///   reservation is **released**;
/// - dropped after that (the client went away, an outer timeout fired, a panic was caught
///   outside): the handler may have acted, so the reservation is **kept** until its TTL, unless
///   the user opted in to release on drop;
/// - the inner service answered: see [`keeps_after`].
pub(crate) struct ReleaseGuard {
    store: Arc<dyn NonceStore>,
    keys: ReplayKeys,
    id: ReservationId,
    release_on_drop: bool,
    /// Release even after the handler started (the user's explicit opt-in).
    release_on_drop_after_start: bool,
}

impl std::fmt::Debug for ReleaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseGuard")
            .field("keys", &self.keys.as_slice().len())
            .finish_non_exhaustive()
    }
}

impl ReleaseGuard {
    pub(crate) fn new(
        store: Arc<dyn NonceStore>,
        keys: ReplayKeys,
        id: ReservationId,
        release_on_drop_after_start: bool,
    ) -> Self {
        Self {
            store,
            keys,
            id,
            release_on_drop: true,
            release_on_drop_after_start,
        }
    }

    /// The inner service's future is about to be polled: from now on the handler may act.
    pub(crate) fn handler_started(&mut self) {
        self.release_on_drop = self.release_on_drop_after_start;
    }

    /// The inner service answered (`Some(status)`) or failed (`None`).
    pub(crate) fn finish(mut self, status: Option<StatusCode>) {
        self.release_on_drop = !keeps_after(status);
    }

    /// Keeps the reservation until its TTL whatever happens next.
    pub(crate) fn keep(mut self) {
        self.release_on_drop = false;
    }
}

impl Drop for ReleaseGuard {
    fn drop(&mut self) {
        // Every key, whether or not the store had answered for it yet: a release is a
        // compare-and-delete on this request's id, so a key another request holds is untouched.
        if self.release_on_drop {
            for key in self.keys.as_slice() {
                self.store.release(key, self.id);
            }
        }
    }
}

/// Whether a reservation is kept once the inner service has answered with `status` (`None`: it
/// failed with an error). A 5xx or an error means the request was not handled, so Plivo's retry
/// must be accepted; any other answer keeps the nonce until its TTL.
pub(crate) fn keeps_after(status: Option<StatusCode>) -> bool {
    status.is_some_and(|status| !status.is_server_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{MemoryNonceStore, ReplayKey, Reservation};
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn answers_that_keep_the_reservation() {
        assert!(keeps_after(Some(StatusCode::OK)));
        assert!(keeps_after(Some(StatusCode::FORBIDDEN)));
        assert!(keeps_after(Some(StatusCode::NOT_FOUND)));
        assert!(!keeps_after(Some(StatusCode::INTERNAL_SERVER_ERROR)));
        assert!(!keeps_after(Some(StatusCode::SERVICE_UNAVAILABLE)));
        assert!(!keeps_after(None));
    }

    fn reserved_again(store: &Arc<MemoryNonceStore>, key: &ReplayKey) -> bool {
        let future = store.reserve(key, ReservationId::new());
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(answer)) => answer == Reservation::Reserved,
            _ => panic!("the memory store answers at once"),
        }
    }

    /// Reserves `key` and returns the guard over it.
    fn guard(store: &Arc<MemoryNonceStore>, key: ReplayKey, opt_in: bool) -> ReleaseGuard {
        let id = ReservationId::new();
        let future = store.reserve(&key, id);
        let reserved = pin!(future).poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(reserved, Poll::Ready(Ok(Reservation::Reserved))));
        ReleaseGuard::new(store.clone(), ReplayKeys::one(key), id, opt_in)
    }

    #[test]
    fn a_drop_releases_only_before_the_handler_started() {
        let store = Arc::new(MemoryNonceStore::new());
        let before = ReplayKey::of_message(b"before");
        drop(guard(&store, before, false));
        assert!(reserved_again(&store, &before), "nothing ran: released");

        let after = ReplayKey::of_message(b"after");
        let mut started = guard(&store, after, false);
        started.handler_started();
        drop(started);
        assert!(
            !reserved_again(&store, &after),
            "the handler may have acted: kept"
        );

        let opted_in = ReplayKey::of_message(b"opted in");
        let mut started = guard(&store, opted_in, true);
        started.handler_started();
        drop(started);
        assert!(
            reserved_again(&store, &opted_in),
            "release on drop was asked for"
        );
    }

    #[test]
    fn an_answer_decides_once_the_handler_ran() {
        let store = Arc::new(MemoryNonceStore::new());
        for (status, kept) in [
            (Some(StatusCode::OK), true),
            (Some(StatusCode::INTERNAL_SERVER_ERROR), false),
            (None, false),
        ] {
            let key = ReplayKey::of_message(format!("{status:?}").as_bytes());
            let mut held = guard(&store, key, true);
            held.handler_started();
            held.finish(status);
            assert_eq!(!reserved_again(&store, &key), kept, "{status:?}");
        }
    }
}
