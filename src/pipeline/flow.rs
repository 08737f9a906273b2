//! The one flow: the stages in order, written once. Each function takes what a request waited
//! for (nothing, its tenant's tokens, its body, the replay store's answer) and returns what it
//! waits for next, or its [`Verdict`]. It does no I/O and reports nothing: a host (the tower
//! future, the [`PlivoGuard`](crate::PlivoGuard)'s async and sync calls) waits for the I/O, and
//! the exits in `observe/` read the verdict.
//!
//! ```text
//! start ──► LookUp ──► looked_up ──┐        (tenants, on a cache miss)
//!   │                              ▼
//!   ├──────────────────────────► Read ──► body_read ──► Reserve ──► reserved ──► Verdict
//!   │                          (reads_body: no        │  ▲ │                           ▲
//!   │                           for an upgrade)       │  │ └───────────────────────────┤
//!   │                        LookUp ◄─────────────────┘  │  (a tenant named in the body,
//!   │                          └──► looked_up_after_body ┘   on a cache miss)
//!   └──► Refused (from the head) ────────────────────────────────────────────────────┘
//! ```

use bytes::Bytes;

use super::diagnose::{self, AtHead, Examination};
use super::head::{self, Head, TenantState};
use super::reserve::{self, Reserving};
use super::respond::Refusal;
use super::settings::Settings;
use super::tenant::{self, Pending, Resolution};
use super::upgrade::{self, RequestKind};
use super::verdict::{Passed, Refused, Verdict, VerifyTime};
use super::verify::{self, Checked, Unchecked};
use crate::rejection::Rejection;
use crate::replay::{ReleaseGuard, Reservation, StoreError};
use crate::request_info::RequestHead;
use crate::tenants::Resolved;
use crate::verified::PlivoVerified;

/// Which requests a call accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A webhook or an audio-stream upgrade (the layer, the guard's head step).
    Any,
    /// An audio-stream upgrade only; anything else is refused before its signature is read.
    Upgrade,
}

/// What the head step leads to.
pub(crate) enum HeadStep {
    /// With tenants, on a cache miss: the tenant's tokens, from the store, before any body.
    LookUp(LookingUp),
    /// The body (none for a stream upgrade), then the body step.
    Read(Reading),
    /// Refused from the head, body unread.
    Refused(Refused),
}

/// A request waiting for its tenant's tokens.
pub(crate) struct LookingUp {
    head: Head,
    pub(crate) pending: Pending,
}

/// A request whose body is read next: to verify it, or (refused from its head) for the doctor.
#[derive(Debug)]
pub(crate) struct Reading {
    purpose: Purpose,
}

#[derive(Debug)]
// The large variant is the common one (every verified request); boxing it would cost each an
// allocation to spare the rare doctor's read a few hundred bytes.
#[allow(clippy::large_enum_variant)]
enum Purpose {
    Verify(Head),
    /// Refused from its head; the body its signature covers is read for the doctor, and the
    /// answer stays this refusal.
    Doctor(Refusal),
}

impl Reading {
    fn verify(head: Head) -> Self {
        Self {
            purpose: Purpose::Verify(head),
        }
    }

    /// Whether a body is read: not for a stream upgrade, which is verified from its head alone
    /// (it declared no body; what the upgrade needs travels in the extensions).
    pub(crate) fn reads_body(&self) -> bool {
        match &self.purpose {
            Purpose::Verify(head) => head.kind == RequestKind::Webhook,
            Purpose::Doctor(_) => true,
        }
    }
}

/// What the body step leads to.
pub(crate) enum BodyStep {
    /// With a tenant named by a signed parameter, on a cache miss: its tokens, from the store,
    /// then [`looked_up_after_body`] with the same body.
    LookUp(LookingUp),
    /// The replay store's answer for the request's keys.
    Reserve(Reserving, Unreserved),
    Done(Verdict),
}

/// A verified request waiting for its replay keys' reservation.
#[derive(Debug)]
pub(crate) struct Unreserved {
    verified: PlivoVerified,
    guard: ReleaseGuard,
    verify_time: Option<VerifyTime>,
}

/// The head step: everything the head decides (kind, method, source, signature headers and
/// version, declared body, URL), then whose tokens verify it.
pub(crate) fn start(settings: &Settings, request: &RequestHead<'_>, expect: Expect) -> HeadStep {
    let checked = upgrade::classify(request.method, request.version, request.headers)
        .and_then(|kind| expected(kind, expect))
        .and_then(|kind| head::check_classified(settings, kind, request));
    let mut head = match checked {
        Ok(head) => head,
        Err(refusal) => return refused_at_head(settings, refusal, request),
    };
    match tenant::resolve(settings, &mut head, request) {
        Resolution::Ready(Ok(())) => read(head),
        Resolution::Ready(Err(refusal)) => HeadStep::Refused(Refused::plain(refusal)),
        Resolution::Pending(pending) => HeadStep::LookUp(LookingUp { head, pending }),
    }
}

/// From the store's answer about the tenant: read the body, or refuse it unread.
// Both sides are moved once per request, on a tenant cache miss only.
#[allow(clippy::result_large_err)]
pub(crate) fn looked_up(looking_up: LookingUp, resolved: Resolved) -> Result<Reading, Refused> {
    let LookingUp { mut head, pending } = looking_up;
    match tenant::after_lookup(&mut head, &pending, resolved) {
        Ok(()) => Ok(Reading::verify(head)),
        Err(refusal) => Err(Refused::plain(refusal)),
    }
}

/// The body step: verify the signature over the URL and `body` (the read's outcome; empty for a
/// stream upgrade), then reserve the replay keys, or refuse. `timed`: the signature check's
/// time is measured for the exits.
pub(crate) fn body_read(
    settings: &Settings,
    reading: Reading,
    request: &RequestHead<'_>,
    body: Result<&Bytes, Rejection>,
    timed: bool,
) -> BodyStep {
    let head = match reading.purpose {
        Purpose::Doctor(refusal) => {
            return BodyStep::Done(Verdict::Refused(examined_after_body(refusal, body)));
        }
        Purpose::Verify(head) => head,
    };
    let body = match body {
        Ok(body) => body,
        // A body not read whole is never handed on (`respond::enforces`).
        Err(rejection) => {
            let refused = refused_with_url(rejection.into(), &head, request);
            return BodyStep::Done(Verdict::Refused(refused));
        }
    };
    let mut head = head;
    if matches!(head.tenant, TenantState::AfterBody) {
        match tenant::after_body(settings, &mut head, request, body) {
            Resolution::Ready(Ok(())) => {}
            Resolution::Ready(Err(refusal)) => {
                return BodyStep::Done(Verdict::Refused(refused_with_url(refusal, &head, request)));
            }
            Resolution::Pending(pending) => return BodyStep::LookUp(LookingUp { head, pending }),
        }
    }
    verify_and_reserve(settings, head, request, body, timed)
}

/// From the store's answer about a tenant named in the body: verify the same body with its
/// tokens, or refuse.
pub(crate) fn looked_up_after_body(
    settings: &Settings,
    looking_up: LookingUp,
    resolved: Resolved,
    request: &RequestHead<'_>,
    body: &Bytes,
    timed: bool,
) -> BodyStep {
    let LookingUp { mut head, pending } = looking_up;
    match tenant::after_lookup(&mut head, &pending, resolved) {
        Ok(()) => verify_and_reserve(settings, head, request, body, timed),
        Err(refusal) => BodyStep::Done(Verdict::Refused(refused_with_url(refusal, &head, request))),
    }
}

/// A refusal of a request whose head was checked, with the URL it would have been verified
/// against.
fn refused_with_url(refusal: Refusal, head: &Head, request: &RequestHead<'_>) -> Refused {
    let mut refused = Refused::plain(refusal);
    refused.url = Some(head.signed_url(request).url_text());
    refused
}

/// The signature over the URL and `body` with the request's tokens, then its replay keys'
/// reservation.
fn verify_and_reserve(
    settings: &Settings,
    head: Head,
    request: &RequestHead<'_>,
    body: &Bytes,
    timed: bool,
) -> BodyStep {
    let (checked, elapsed) = verify::signature(settings, &head, request, body, timed);
    let verify_time = elapsed.map(|elapsed| VerifyTime {
        elapsed,
        version: head.version,
        body_bytes: body.len(),
    });
    match checked {
        Err(Unchecked {
            refusal,
            url,
            examination,
        }) => BodyStep::Done(Verdict::Refused(Refused {
            refusal,
            url: Some(url),
            verified: None,
            examination,
            verify_time,
        })),
        Ok(Checked { verified, keys }) => match (&settings.replay, keys) {
            (Some(replay_settings), Some(keys)) => {
                let (reserving, guard) = reserve::reserve(replay_settings, keys);
                let unreserved = Unreserved {
                    verified,
                    guard,
                    verify_time,
                };
                BodyStep::Reserve(reserving, unreserved)
            }
            _ => BodyStep::Done(Verdict::Passed(Passed {
                verified,
                reservation: None,
                unprotected: None,
                verify_time,
            })),
        },
    }
}

/// From the store's answer: passed, holding the reservation, or refused.
pub(crate) fn reserved(
    settings: &Settings,
    unreserved: Unreserved,
    answer: Result<Reservation, StoreError>,
) -> Verdict {
    let Unreserved {
        verified,
        guard,
        verify_time,
    } = unreserved;
    match reserve::settle(settings.replay.as_ref(), answer, guard) {
        Ok((guard, unprotected)) => Verdict::Passed(Passed {
            verified,
            reservation: Some(guard),
            unprotected,
            verify_time,
        }),
        Err(refusal) => Verdict::Refused(Refused {
            refusal,
            url: Some(verified.url().to_owned()),
            verified: Some(verified),
            examination: None,
            verify_time,
        }),
    }
}

fn read(head: Head) -> HeadStep {
    HeadStep::Read(Reading::verify(head))
}

fn expected(kind: RequestKind, expect: Expect) -> Result<RequestKind, Refusal> {
    match (expect, kind) {
        (Expect::Upgrade, RequestKind::Webhook) => Err(Refusal::explained(
            Rejection::UnsupportedUpgrade,
            "not a WebSocket upgrade (GET with Connection: upgrade and Upgrade: websocket)",
        )),
        _ => Ok(kind),
    }
}

/// A head refusal: answered at once, or (for the doctor) once the body its signature covers is
/// read.
fn refused_at_head(settings: &Settings, refusal: Refusal, request: &RequestHead<'_>) -> HeadStep {
    match diagnose::at_head(settings, refusal.rejection, request) {
        AtHead::No => HeadStep::Refused(Refused::plain(refusal)),
        AtHead::Now(kind) => {
            let mut refused = Refused::plain(refusal);
            refused.examination = Some(Examination {
                kind,
                tenant: None,
                body: Bytes::new(),
            });
            HeadStep::Refused(refused)
        }
        AtHead::AfterBody => HeadStep::Read(Reading {
            purpose: Purpose::Doctor(refusal),
        }),
    }
}

/// The head's refusal, with its body for the doctor when it was read whole.
fn examined_after_body(refusal: Refusal, body: Result<&Bytes, Rejection>) -> Refused {
    let mut refused = Refused::plain(refusal);
    refused.examination = body.ok().map(|body| Examination {
        kind: RequestKind::Webhook,
        tenant: None,
        body: body.clone(),
    });
    refused
}
