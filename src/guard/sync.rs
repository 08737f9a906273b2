//! [`SyncPlivoGuard`]: the guard's calls without `async`, for callbacks that cannot wait (such
//! as `tokio_tungstenite::accept_hdr_async`'s), where every store answers at once.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::{Accepted, HeadChecked, PlivoGuard, Refused};
use crate::config_error::ConfigError;
use crate::observe::span::request_span;
use crate::pipeline::respond::Refusal;
use crate::pipeline::verdict;
use crate::rejection::Rejection;
use crate::request_info::RequestHead;
use crate::verified::PlivoVerified;

/// [`PlivoGuard`]'s calls, synchronous. Made by [`PlivoGuard::synchronous`], only for a guard
/// whose every store answers at once (the default in-memory replay store, or none, and no
/// [tenants](crate::tenants)): anything else is a [`ConfigError`] there, not a call that
/// blocks.
///
/// ```
/// use tower_plivo::{PlivoGuard, Rejection, RequestHead, UrlPolicy};
///
/// let guard = PlivoGuard::builder()
///     .auth_token("token")
///     .url_policy(UrlPolicy::public_base("https://hooks.example.com")?)
///     .build()?
///     .synchronous()?;
/// let not_an_upgrade = http::Request::get("/stream").body(()).unwrap();
/// let refused = guard.check_upgrade(RequestHead::from(&not_an_upgrade)).unwrap_err();
/// assert_eq!(refused.rejection(), Rejection::UnsupportedUpgrade);
/// # Ok::<(), tower_plivo::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SyncPlivoGuard {
    guard: PlivoGuard,
}

/// What a store that said it answers at once and did not is told in the log.
const DID_NOT_ANSWER: &str = "a store said it answers synchronously, and did not";

impl SyncPlivoGuard {
    pub(super) fn of(guard: &PlivoGuard) -> Result<Self, ConfigError> {
        if let Some(replay) = &guard.shared.settings.replay
            && !replay.store.answers_synchronously()
        {
            return Err(ConfigError::Ineffective {
                setting: "synchronous",
                reason: "the replay store needs I/O to answer (Redis, say): use the guard's \
                         async calls",
            });
        }
        if guard.has_tenants() {
            return Err(ConfigError::Ineffective {
                setting: "synchronous",
                reason: "tenants are configured, and a tenant not in the cache needs a lookup in \
                         the store: use the guard's async calls",
            });
        }
        Ok(Self {
            guard: guard.clone(),
        })
    }

    /// [`PlivoGuard::check_head`], at once.
    pub fn check_head(&self, head: RequestHead<'_>) -> Result<HeadChecked, Refused> {
        self.now(self.guard.check_head(head), &head)
    }

    /// [`PlivoGuard::check_body`], at once.
    pub fn check_body(
        &self,
        checked: HeadChecked,
        head: RequestHead<'_>,
        body: Bytes,
    ) -> Result<Accepted, Refused> {
        self.now(self.guard.check_body(checked, head, body), &head)
    }

    /// [`PlivoGuard::check_upgrade`], at once.
    pub fn check_upgrade(&self, head: RequestHead<'_>) -> Result<PlivoVerified, Refused> {
        self.now(self.guard.check_upgrade(head), &head)
    }

    /// The answer of a call whose stores answer at once. A store that breaks that promise gets
    /// the request refused (503, as a store that cannot answer), never a block or a panic; the
    /// dropped call releases what it reserved.
    fn now<T>(
        &self,
        call: impl Future<Output = Result<T, Refused>>,
        request: &RequestHead<'_>,
    ) -> Result<T, Refused> {
        let call = pin!(call);
        match call.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(answer) => answer,
            Poll::Pending => {
                let span =
                    request_span(request.method, request.original_uri(), request.peer_addr());
                let refusal = Refusal::explained(Rejection::ReplayStoreUnavailable, DID_NOT_ANSWER);
                Err(self
                    .guard
                    .refuse(verdict::Refused::plain(refusal), &span, request))
            }
        }
    }
}
