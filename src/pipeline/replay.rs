//! Stage 5, replay: whether a verified request's signed message was already accepted.

use crate::observe::events;
use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, ReplayKey, Reservation, ReservationId, StoreError, StoreFuture};

use super::respond::Refusal;
use super::settings::ReplaySettings;
use crate::verified::PlivoVerified;

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

/// Carries out the decision for a verified request: the guard to hold while it goes on, or its
/// refusal (the guard released or kept, as the decision says). A store failure is logged: by
/// its own line when failing open, by the refusal's line (its detail) when failing closed.
pub(crate) fn settle(
    settings: Option<&ReplaySettings>,
    verified: &PlivoVerified,
    answer: Result<Reservation, StoreError>,
    guard: ReleaseGuard,
) -> Result<ReleaseGuard, Refusal> {
    let fail_open = settings.is_some_and(|replay| replay.fail_open);
    let decision = decide(&answer, fail_open);
    match decision {
        Decision::Call => Ok(guard),
        Decision::CallUnprotected => {
            if let Err(error) = &answer {
                events::store_unavailable_fail_open(verified, error);
            }
            Ok(guard)
        }
        Decision::Refuse { rejection, release } => {
            if release {
                drop(guard);
            } else {
                guard.keep();
            }
            Err(match answer {
                Err(error) => Refusal::explained(rejection, error.to_string()),
                Ok(_) => Refusal::from(rejection),
            })
        }
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
