//! The stages a guarded request goes through, one file each, in order. Each stage is a function
//! that returns a value; `service.rs` and `future.rs` only move a request from one to the next.
//!
//! 1. [`route`]: guarded, or passed through unread (`skip_paths_under`).
//! 2. [`head`]: webhook or audio-stream upgrade ([`upgrade`]), method, client network
//!    ([`source`]), signature headers and version, declared body, and which URL is verified
//!    (the URL policy). A stream upgrade skips stage 3: it is verified from its head alone.
//!    [`tokens`]: whose tokens verify it (the layer's list, or its tenant's from the cache or
//!    the store). [`diagnose`]: a head refusal that a configuration mistake could explain is
//!    shown to the signature doctor (after its body is read, when the signature covers one).
//! 3. [`read_body`]: the whole body, under the limit and the timeout.
//! 4. [`verify`]: the signature over the URL and body.
//! 5. [`replay`]: whether the signed message was already accepted.
//! 6. [`respond`]: what a refused request gets, or (report-only) whether it goes on.
//!
//! [`settings`] is the plain data every stage reads.

pub(crate) mod diagnose;
pub(crate) mod flow;
pub(crate) mod head;
pub(crate) mod read_body;
pub(crate) mod replay;
pub(crate) mod respond;
pub(crate) mod route;
pub(crate) mod settings;
pub(crate) mod source;
pub(crate) mod tokens;
pub(crate) mod upgrade;
pub(crate) mod verdict;
pub(crate) mod verify;
