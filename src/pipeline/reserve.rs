//! Stage 5, reserve: whether a verified request's signed messages were already accepted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::rejection::Rejection;
use crate::replay::{
    NonceStore, ReleaseGuard, ReplayKeys, Reservation, ReservationId, StoreError, StoreFuture,
};

use super::respond::Refusal;
use super::settings::ReplaySettings;

/// Asks the store to reserve `keys`, with the guard that undoes them if the request ends before
/// the handler could act (armed from before the store is asked, so a request dropped while the
/// store is answering still releases whatever it may have reserved).
pub(crate) fn reserve(settings: &ReplaySettings, keys: ReplayKeys) -> (Reserving, ReleaseGuard) {
    let id = ReservationId::new();
    let [first, ..] = keys.as_slice() else {
        unreachable!("a request has at least one replay key")
    };
    let reserving = Reserving {
        store: settings.store.clone(),
        keys,
        id,
        asked: 1,
        current: settings.store.reserve(first, id),
        found: None,
    };
    let guard = ReleaseGuard::new(settings.store.clone(), keys, id, settings.release_on_drop);
    (reserving, guard)
}

/// The reservation of a request's keys, one after the other (one store call for most
/// requests, two for a delivery signed with both families), with what they found together
/// ([`combine`]). Every key is asked even after one was found seen: a delivery one of whose
/// messages was accepted is accepted, so its other message is recorded as seen too.
pub(crate) struct Reserving {
    store: Arc<dyn NonceStore>,
    keys: ReplayKeys,
    id: ReservationId,
    /// How many keys the store was asked for (the last of them is `current`).
    asked: usize,
    current: StoreFuture<Reservation>,
    /// What the keys answered so far, combined.
    found: Option<Result<Reservation, StoreError>>,
}

impl Reserving {
    /// The answer, if every store call answers at once (for synchronous checks; a store that
    /// does not is unavailable there).
    #[cfg(test)]
    pub(crate) fn now(mut self) -> Option<Result<Reservation, StoreError>> {
        match Pin::new(&mut self).poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(answer) => Some(answer),
            Poll::Pending => None,
        }
    }
}

impl Future for Reserving {
    type Output = Result<Reservation, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let answer = ready!(Pin::new(&mut this.current).poll(cx));
            let found = combine(this.found.take(), answer);
            match this.keys.as_slice().get(this.asked) {
                Some(next) => {
                    this.current = this.store.reserve(next, this.id);
                    this.asked += 1;
                    this.found = Some(found);
                }
                None => return Poll::Ready(found),
            }
        }
    }
}

/// What a request's keys found together: seen if any was (the request is a replay, whatever
/// the store said of the others), else the first failure, else reserved.
pub(crate) fn combine(
    so_far: Option<Result<Reservation, StoreError>>,
    answer: Result<Reservation, StoreError>,
) -> Result<Reservation, StoreError> {
    match (so_far, answer) {
        (None, answer) => answer,
        (Some(Ok(Reservation::AlreadySeen)), _) | (_, Ok(Reservation::AlreadySeen)) => {
            Ok(Reservation::AlreadySeen)
        }
        (Some(Err(error)), _) | (_, Err(error)) => Err(error),
        (Some(Ok(Reservation::Reserved)), Ok(Reservation::Reserved)) => Ok(Reservation::Reserved),
    }
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
        // Not ours to release: the first request holds it. Any other key this request took
        // is kept too: it is another message of a delivery that was accepted.
        Ok(Reservation::AlreadySeen) => Decision::Refuse {
            rejection: Rejection::Replayed,
            release: false,
        },
        Err(_) if fail_open => Decision::CallUnprotected,
        // If the store did record a key before failing, the compare-and-delete removes it;
        // with two keys, the other one too (a half-taken pair is undone).
        Err(_) => Decision::Refuse {
            rejection: Rejection::ReplayStoreUnavailable,
            release: true,
        },
    }
}

/// Acts on the store's answer: the reservation's guard to hold while the handler runs, with
/// the store's error when it failed and the request goes on unprotected (fail-open: the exit
/// logs it); or the refusal, the guard released or kept as [`decide`] says.
pub(crate) fn settle(
    settings: Option<&ReplaySettings>,
    answer: Result<Reservation, StoreError>,
    guard: ReleaseGuard,
) -> Result<(ReleaseGuard, Option<StoreError>), Refusal> {
    let fail_open = settings.is_some_and(|replay| replay.fail_open);
    match (decide(&answer, fail_open), answer) {
        (Decision::Call, _) => Ok((guard, None)),
        (Decision::CallUnprotected, answer) => Ok((guard, answer.err())),
        (Decision::Refuse { rejection, release }, answer) => {
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
    use crate::replay::{MemoryNonceStore, ReplayKey};

    #[test]
    fn what_two_keys_find_together() {
        use Reservation::{AlreadySeen, Reserved};
        let down = || Err(StoreError::new("down"));
        let found = |first: Result<Reservation, StoreError>, second| {
            combine(Some(combine(None, first)), second).map_err(|_| "down")
        };
        assert_eq!(found(Ok(Reserved), Ok(Reserved)), Ok(Reserved));
        assert_eq!(found(Ok(AlreadySeen), Ok(Reserved)), Ok(AlreadySeen));
        assert_eq!(found(Ok(Reserved), Ok(AlreadySeen)), Ok(AlreadySeen));
        // Seen wins over a failure, in either order: a replay is never let through by a
        // store failing open.
        assert_eq!(found(down(), Ok(AlreadySeen)), Ok(AlreadySeen));
        assert_eq!(found(Ok(AlreadySeen), down()), Ok(AlreadySeen));
        assert_eq!(found(Ok(Reserved), down()), Err("down"));
        assert_eq!(found(down(), Ok(Reserved)), Err("down"));
    }

    fn settings(store: &Arc<MemoryNonceStore>) -> ReplaySettings {
        ReplaySettings {
            store: store.clone(),
            fail_open: false,
            release_on_drop: false,
        }
    }

    fn reserve_now(settings: &ReplaySettings, keys: ReplayKeys) -> Result<Reservation, &str> {
        let (reserving, guard) = reserve(settings, keys);
        let answer = reserving.now().expect("the memory store answers at once");
        guard.keep();
        answer.map_err(|_| "down")
    }

    #[test]
    fn a_pair_is_reserved_whole_and_either_half_makes_a_replay() {
        let store = Arc::new(MemoryNonceStore::new());
        let settings = settings(&store);
        let [v3, v2, other] = [b"v3", b"v2", b"ot"].map(|m| ReplayKey::of_message(m));
        let pair = ReplayKeys::with_v2_half(v3, v2);
        assert_eq!(reserve_now(&settings, pair), Ok(Reservation::Reserved));
        // Each half alone, and the pair again: replays.
        for keys in [ReplayKeys::one(v2), ReplayKeys::one(v3), pair] {
            assert_eq!(reserve_now(&settings, keys), Ok(Reservation::AlreadySeen));
        }
        // A pair one half of which was seen is refused, and its other half is kept as seen.
        let fresh = ReplayKeys::with_v2_half(other, v2);
        assert_eq!(reserve_now(&settings, fresh), Ok(Reservation::AlreadySeen));
        assert_eq!(
            reserve_now(&settings, ReplayKeys::one(other)),
            Ok(Reservation::AlreadySeen)
        );
    }

    #[test]
    fn a_pair_dropped_before_the_handler_releases_both_halves() {
        let store = Arc::new(MemoryNonceStore::new());
        let settings = settings(&store);
        let [v3, v2] = [b"v3", b"v2"].map(|m| ReplayKey::of_message(m));
        let (reserving, guard) = reserve(&settings, ReplayKeys::with_v2_half(v3, v2));
        assert!(matches!(reserving.now(), Some(Ok(Reservation::Reserved))));
        drop(guard);
        for key in [v2, v3] {
            assert_eq!(
                reserve_now(&settings, ReplayKeys::one(key)),
                Ok(Reservation::Reserved)
            );
        }
    }

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
