//! The verdict: how a guarded request ended, as a value. The stages make it; the exits (the log
//! line, the span, the counters, the doctor, in `observe/`) read it once it is finished and
//! never change it; the host acts on it (hands the request on, or answers the refusal).

use std::time::Duration;

use super::diagnose::Examination;
use super::respond::Refusal;
use crate::replay::{ReleaseGuard, StoreError};
use crate::signature::SignatureVersion;
use crate::verified::PlivoVerified;

/// How a guarded request ended.
#[derive(Debug)]
pub(crate) enum Verdict {
    Passed(Passed),
    Refused(Refused),
}

/// A request that verified and is not a replay.
#[derive(Debug)]
pub(crate) struct Passed {
    pub(crate) verified: PlivoVerified,
    /// Its replay reservation, held while the handler runs (none with replay protection off).
    pub(crate) reservation: Option<ReleaseGuard>,
    /// The store failed and the policy fails open: the request goes on unprotected.
    pub(crate) unprotected: Option<StoreError>,
    pub(crate) verify_time: Option<VerifyTime>,
}

/// A refused request (in report-only mode, one that would have been).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) refusal: Refusal,
    /// The URL verified, once the origin was known.
    pub(crate) url: Option<String>,
    /// It verified, and the replay stage refused it.
    pub(crate) verified: Option<PlivoVerified>,
    /// What the signature doctor is given, when it examines this refusal.
    pub(crate) examination: Option<Examination>,
    pub(crate) verify_time: Option<VerifyTime>,
}

/// How long the signature check took, when it was measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VerifyTime {
    pub(crate) elapsed: Duration,
    /// The facade's label (feature `metrics`).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) version: SignatureVersion,
    pub(crate) body_bytes: usize,
}

impl Refused {
    /// A refusal with nothing more to say than its reason and detail.
    pub(crate) fn plain(refusal: impl Into<Refusal>) -> Self {
        Self {
            refusal: refusal.into(),
            url: None,
            verified: None,
            examination: None,
            verify_time: None,
        }
    }
}
