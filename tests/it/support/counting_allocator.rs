//! A global allocator that forwards to the system allocator and counts: allocations and bytes
//! per thread while a test has counting switched on ([`counted`]), and the bytes live in the
//! whole process at any time ([`live_bytes`]).
//!
//! Included by path (`#[path = "it/support/counting_allocator.rs"] mod counting_allocator;`) by
//! the test binaries that measure memory (`tests/allocations.rs`, `tests/in_flight_memory.rs`),
//! and only by them, never by the `it` crate: it installs itself as the binary's
//! `#[global_allocator]`. These are the only places in the project with `unsafe`: implementing
//! `GlobalAlloc` requires an `unsafe impl`. The crate itself stays `#![forbid(unsafe_code)]`.
#![allow(dead_code)] // each binary uses a different part

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

pub struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn note(size: usize) {
    // `try_with`: the thread-locals are const-initialised and need no destructor, so this never
    // allocates, and it is a no-op while a thread is being torn down.
    if ON.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        let _ = BYTES.try_with(|n| n.set(n.get() + size));
    }
}

fn live(change: isize) {
    LIVE.fetch_add(change, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counting touches only const-initialised thread-locals and an atomic (no
// allocation, no re-entrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        live(layout.size() as isize);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        live(layout.size() as isize);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        // A failed realloc leaves the old block in place.
        if !moved.is_null() {
            live(new_size as isize - layout.size() as isize);
        }
        moved
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live(-(layout.size() as isize));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (count, bytes) made by `f` on this thread.
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    BYTES.with(|n| n.set(0));
    ON.with(|on| on.set(true));
    let out = f();
    ON.with(|on| on.set(false));
    (out, ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get))
}

/// Bytes allocated and not yet freed, by all threads, now.
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}
