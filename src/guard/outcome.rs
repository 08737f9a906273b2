//! What a [`PlivoGuard`](super::PlivoGuard)'s steps hand back to the host: a head that passed
//! ([`HeadChecked`]), a request that passed ([`Accepted`]), or a refusal ([`Refused`]).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use tracing::Span;

use crate::pipeline::flow::Reading;
use crate::pipeline::verdict::Passed;
use crate::rejection::Rejection;
use crate::replay::ReleaseGuard;
use crate::verified::PlivoVerified;

/// A head that passed [`PlivoGuard::check_head`](super::PlivoGuard::check_head): read the
/// body as it says, then give it to [`check_body`](super::PlivoGuard::check_body).
#[must_use = "the request is verified only by the body step"]
pub struct HeadChecked {
    pub(super) reading: Reading,
    pub(super) span: Span,
    pub(super) body_limit: usize,
    pub(super) body_timeout: Option<Duration>,
}

impl HeadChecked {
    /// Whether the request has a body to read: `false` for an audio-stream upgrade, verified
    /// from its head alone (give the body step an empty body).
    pub fn reads_body(&self) -> bool {
        self.reading.reads_body()
    }

    /// The most bytes of body to read: a body over it is refused with 413 (a
    /// [`Rejection::BodyTooLarge`] response) without being read further.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// How long the body may take to arrive (`None`: no limit was configured): a body slower
    /// than that is refused with 408.
    pub fn body_timeout(&self) -> Option<Duration> {
        self.body_timeout
    }
}

impl fmt::Debug for HeadChecked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadChecked")
            .field("reads_body", &self.reads_body())
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .finish()
    }
}

/// A request that verified and is not a replay: hand it on with its
/// [`verified`](Self::verified) facts, then [`finish`](Self::finish) it with the handler's
/// status.
///
/// It holds the request's replay reservation. Dropped without `finish`, the reservation is
/// kept until its TTL (the handler may have acted: a copy is a replay).
#[must_use = "hand the request on, then finish it with the handler's status"]
pub struct Accepted {
    verified: PlivoVerified,
    reservation: Option<ReleaseGuard>,
}

impl Accepted {
    pub(super) fn new(passed: Passed) -> Self {
        let mut reservation = passed.reservation;
        // Handed to the host, the request is as good as in its handler.
        if let Some(reservation) = reservation.as_mut() {
            reservation.handler_started();
        }
        Self {
            verified: passed.verified,
            reservation,
        }
    }

    /// What verified: version, token, tenant, nonce, URL.
    pub fn verified(&self) -> &PlivoVerified {
        &self.verified
    }

    /// Tells the replay store how the handler answered: a 5xx releases the reservation (Plivo
    /// retries, and the retry must pass), anything else keeps it (see the
    /// [replay guide](crate::guide::replay)). Returns the verified facts.
    pub fn finish(mut self, status: StatusCode) -> PlivoVerified {
        if let Some(reservation) = self.reservation.take() {
            reservation.finish(Some(status));
        }
        self.verified
    }

    /// Keeps the reservation, whatever happens next.
    pub(super) fn keep(mut self) -> PlivoVerified {
        if let Some(reservation) = self.reservation.take() {
            reservation.keep();
        }
        self.verified
    }
}

impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("verified", &self.verified)
            .field("reserved", &self.reservation.is_some())
            .finish()
    }
}

/// A refused request: answer it with [`into_response`](Self::into_response) (the layer's
/// rendering: 403, 413, 408, 400 or 503, gRPC for a gRPC request, or the
/// [`on_rejection`](crate::PlivoGuardBuilder::on_rejection) responder's).
///
/// In [report-only](crate::PlivoGuardBuilder::report_only) mode a refusal that mode lets
/// through is not [`enforced`](Self::enforced): the host may hand the request on (as the layer
/// does, with the [`Rejection`] in its extensions).
pub struct Refused {
    rejection: Rejection,
    enforced: bool,
    // Boxed: a refusal is rare, and a small `Err` keeps every `Result` of the guard small.
    response: Box<Response<Full<Bytes>>>,
}

impl Refused {
    pub(super) fn new(
        rejection: Rejection,
        enforced: bool,
        response: Response<Full<Bytes>>,
    ) -> Self {
        Self {
            rejection,
            enforced,
            response: Box::new(response),
        }
    }

    /// Why.
    pub fn rejection(&self) -> Rejection {
        self.rejection
    }

    /// `false` only in report-only mode, for a refusal that mode lets through.
    pub fn enforced(&self) -> bool {
        self.enforced
    }

    /// The response to send (it carries the [`Rejection`] in its extensions).
    pub fn into_response(self) -> Response<Full<Bytes>> {
        *self.response
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("rejection", &self.rejection)
            .field("enforced", &self.enforced)
            .field("status", &self.response.status())
            .finish()
    }
}
