//! Cost of replay protection with `MemoryNonceStore`: one reservation per verified request,
//! single-threaded and with both cores contending, and the memory one remembered nonce takes.
//!
//! ```text
//! cargo bench --bench replay
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group};
use tower_plivo::replay::{MemoryNonceStore, NonceStore, ReplayKey, ReservationId};

static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_key() -> ReplayKey {
    let nonce = format!("{:020}", NEXT.fetch_add(1, Ordering::Relaxed));
    ReplayKey::of_message(format!("https://hooks.example.com/answer.{nonce}").as_bytes())
}

fn reserve_now(store: &MemoryNonceStore, key: &ReplayKey) {
    let future = store.reserve(key, ReservationId::new());
    // The memory store answers at once; polling once is enough.
    let waker = std::task::Waker::noop();
    let mut future = std::pin::pin!(future);
    let _ = black_box(std::future::Future::poll(
        future.as_mut(),
        &mut std::task::Context::from_waker(waker),
    ));
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory_store");
    // A full store at its default size: every reservation also evicts, the steady state of a
    // busy server.
    let store = MemoryNonceStore::new();
    group.bench_function("reserve_new_nonce", |b| {
        b.iter_batched(
            fresh_key,
            |key| reserve_now(&store, &key),
            criterion::BatchSize::SmallInput,
        )
    });
    let seen = fresh_key();
    reserve_now(&store, &seen);
    group.bench_function("reserve_replayed_nonce", |b| {
        b.iter(|| reserve_now(&store, black_box(&seen)))
    });
    let shared = Arc::new(MemoryNonceStore::new());
    group.bench_function("reserve_new_nonce_2_threads", |b| {
        b.iter_custom(|iterations| {
            let batches: Vec<Vec<ReplayKey>> = (0..2)
                .map(|_| (0..iterations).map(|_| fresh_key()).collect())
                .collect();
            let start = std::time::Instant::now();
            std::thread::scope(|scope| {
                for keys in &batches {
                    let shared = shared.clone();
                    scope.spawn(move || {
                        for key in keys {
                            reserve_now(&shared, key);
                        }
                    });
                }
            });
            // Two reservations per iteration ran in parallel: report per reservation.
            start.elapsed() / 2
        })
    });
    group.finish();
}

criterion_group!(group, benches);

/// Resident memory of this process, from /proc (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();

    const ENTRIES: usize = 1_000_000;
    let keys: Vec<ReplayKey> = (0..ENTRIES).map(|_| fresh_key()).collect();
    // Room to spare: each of the 16 shards holds 1/16 of `max_entries`, and hashing never
    // spreads keys perfectly evenly.
    let store = MemoryNonceStore::new().max_entries(2 * ENTRIES);
    let before = rss_bytes();
    for key in &keys {
        reserve_now(&store, key);
    }
    let after = rss_bytes();
    assert_eq!(store.len(), ENTRIES);
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "memory per remembered nonce: {:.0} bytes ({} entries, resident memory grew {:.1} MiB)",
            (after - before) as f64 / ENTRIES as f64,
            ENTRIES,
            (after - before) as f64 / (1 << 20) as f64
        );
    }
}
