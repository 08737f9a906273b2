//! The stages a guarded request goes through, one file each, run in order by [`flow`], the one
//! orchestrator. Each stage is a function that returns a value; none logs, times or waits.
//! Hosts (the tower future, the guard's calls) wait for I/O and hand results to the flow.
//!
//! 1. [`route`]: guarded, or passed through unread (`skip_paths_under`; the tower host only).
//! 2. [`head`]: webhook or audio-stream upgrade ([`upgrade`]), method, client network
//!    ([`source`]), signature headers and version, declared body, and which URL is verified
//!    (the URL policy). A stream upgrade skips stage 3: it is verified from its head alone.
//!    [`tenant`]: whose tokens verify it (the layer's list, or its tenant's from the cache or
//!    the store). [`diagnose`]: whether a head refusal that a configuration mistake could
//!    explain is kept for the signature doctor (after its body is read, when the signature
//!    covers one).
//! 3. [`read_body`]: the whole body, under the limit and the timeout (the tower host's reader;
//!    other hosts read with their own, under the same limit).
//! 4. [`verify`]: the signature over the URL and body.
//! 5. [`reserve`]: whether the signed message was already accepted.
//! 6. [`respond`]: what a refused request gets, or (report-only) whether it goes on.
//!
//! [`settings`] is the plain data every stage reads; [`verdict`] is how a request ended.

pub(crate) mod diagnose;
pub(crate) mod flow;
pub(crate) mod head;
pub(crate) mod read_body;
pub(crate) mod reserve;
pub(crate) mod respond;
pub(crate) mod route;
pub(crate) mod settings;
pub(crate) mod source;
pub(crate) mod tenant;
pub(crate) mod upgrade;
pub(crate) mod verdict;
pub(crate) mod verify;
