//! Stage 5, replay: whether a verified request's signed message was already accepted.

use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture};

use super::settings::ReplaySettings;

/// Asks the store to reserve `key`, with the guard that undoes it if the request ends before
/// the handler could act (armed from before the store is asked, so a request dropped while the
/// store is answering still releases whatever it may have reserved).
pub(crate) fn reserve(
    settings: &ReplaySettings,
    key: ReplayKey,
) -> (StoreFuture<Reservation>, ReleaseGuard) {
    let id = ReservationId::new();
    let reserve = settings.store.reserve(&key, id);
    let guard = ReleaseGuard::new(settings.store.clone(), key, id, settings.release_on_drop);
    (reserve, guard)
}

/// What the store's answer means for the request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Reserved: call the handler, holding the reservation.
    Call,
    /// The store failed and the layer fails open: call the handler unprotected.
    CallUnprotected,
    /// Refuse. `release`: undo what the store may have recorded (not when the key is another
    /// request's).
    Refuse { rejection: Rejection, release: bool },
}

/// The decision for the store's answer.
pub(crate) fn decide(answer: &Result<Reservation, StoreError>, fail_open: bool) -> Decision {
    match answer {
        Ok(Reservation::Reserved) => Decision::Call,
        // Not ours to release: the first request holds it.
        Ok(Reservation::AlreadySeen) => Decision::Refuse {
            rejection: Rejection::Replayed,
            release: false,
        },
        Err(_) if fail_open => Decision::CallUnprotected,
        // If the store did record the key before failing, the compare-and-delete removes it.
        Err(_) => Decision::Refuse {
            rejection: Rejection::ReplayStoreUnavailable,
            release: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let down = || Err(StoreError::new("down"));
        assert_eq!(decide(&Ok(Reservation::Reserved), false), Decision::Call);
        assert_eq!(
            decide(&Ok(Reservation::AlreadySeen), true),
            Decision::Refuse {
                rejection: Rejection::Replayed,
                release: false
            }
        );
        assert_eq!(decide(&down(), true), Decision::CallUnprotected);
        assert_eq!(
            decide(&down(), false),
            Decision::Refuse {
                rejection: Rejection::ReplayStoreUnavailable,
                release: true
            }
        );
    }
}
