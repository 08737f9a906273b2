//! One shard of [`MemoryNonceStore`](super::MemoryNonceStore): the remembered keys, in 40 bytes
//! each (about 42 measured, see BENCHMARKS.md) instead of the 144 a `HashMap` plus an expiry
//! queue took.
//!
//! - `records`: a ring of 32-byte records (128 bits of the key, the owner, the expiry) in
//!   insertion order, which is expiry order (one TTL per store, the clock read under the
//!   shard's lock), so expired entries are always at the front and are reclaimed oldest first
//!   without a scan. A released entry stays in the ring, marked dead, until it reaches the front
//!   or the ring is compacted.
//! - `index`: an open-addressed table (linear probing, at most half full) of ring positions,
//!   4 bytes per slot and two slots per ring record, finding a key's record in one or two
//!   probes. Deletion shifts the following entries back, so no tombstones build up.
//!
//! The ring grows by doubling only when at least three quarters of it is live; otherwise it is
//! compacted in place of growing. With at most `max` live entries a shard therefore never holds
//! more than `max(16, 8/3 · max)` records (16: the first capacity), whatever mix of reservations
//! and releases it sees.

/// An index slot that points at no record.
const EMPTY: u32 = u32::MAX;

/// The ring's first capacity (records).
const FIRST_CAPACITY: usize = 16;

/// One remembered key. `expires_ms == 0` marks a released record (no live entry expires at 0:
/// the TTL is at least 1 ms).
#[derive(Clone, Copy, Default)]
struct Record {
    key: u128,
    owner: u64,
    expires_ms: u64,
}

impl Record {
    fn is_live(&self) -> bool {
        self.expires_ms != 0
    }
}

#[derive(Default)]
pub(super) struct Shard {
    /// The ring; its length is its capacity, a power of two (or 0 before the first insert).
    records: Vec<Record>,
    /// Ring position of the oldest record.
    head: usize,
    /// Records in the ring, live and released.
    held: usize,
    /// Live records: those the index points at.
    live: usize,
    /// Ring positions, `2 · records.len()` slots, `EMPTY` where none.
    index: Vec<u32>,
}

/// What a lookup found: where in the index, and which ring record.
#[derive(Clone, Copy)]
struct Found {
    slot: usize,
    position: usize,
}

impl Shard {
    /// Live entries.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// Whether `key` is remembered and not expired at `now`. An expired entry of `key` found on
    /// the way (one `reclaim` has not reached yet) is forgotten here, so that `insert` needs no
    /// second lookup: reserving a new key costs one probe sequence.
    pub(super) fn remembers(&mut self, key: u128, now: u64) -> bool {
        match self.find(key) {
            Some(found) if self.records[found.position].expires_ms > now => true,
            Some(expired) => {
                self.forget(expired);
                false
            }
            None => false,
        }
    }

    /// Forgets every entry that expired at or before `now` (and released records met on the
    /// way), oldest first; stops at the first entry still valid.
    pub(super) fn reclaim(&mut self, now: u64) {
        while self.held > 0 && self.records[self.head].expires_ms <= now {
            self.pop_oldest();
        }
    }

    /// Forgets the oldest live entry; `false` if there was none.
    pub(super) fn evict_oldest(&mut self) -> bool {
        while self.held > 0 {
            if self.pop_oldest() {
                return true;
            }
        }
        false
    }

    /// Remembers `key` for `owner` until `expires_ms` (> 0). The caller has just asked
    /// [`remembers`](Self::remembers) and got `false`, so `key` is not indexed.
    pub(super) fn insert(&mut self, key: u128, owner: u64, expires_ms: u64) {
        debug_assert!(expires_ms > 0, "0 marks a released record");
        debug_assert!(
            self.find(key).is_none(),
            "insert follows remembers() == false"
        );
        if self.held == self.records.len() {
            self.make_room();
        }
        let mask = self.records.len() - 1;
        let position = (self.head + self.held) & mask;
        self.records[position] = Record {
            key,
            owner,
            expires_ms,
        };
        self.held += 1;
        self.live += 1;
        self.index_insert(key, position);
    }

    /// Forgets `key` if `owner` holds it (compare and delete).
    pub(super) fn release(&mut self, key: u128, owner: u64) {
        if let Some(found) = self.find(key)
            && self.records[found.position].owner == owner
        {
            self.forget(found);
        }
    }

    /// Records in the ring, live and released, and its capacity (for the bound's tests).
    #[cfg(test)]
    pub(super) fn held_and_capacity(&self) -> (usize, usize) {
        (self.held, self.records.len())
    }

    fn slot_of(&self, key: u128) -> usize {
        // The key is 128 bits of a SHA-256 digest: its low bits are already uniform (the store
        // picks the shard with the high ones).
        key as usize & (self.index.len() - 1)
    }

    fn find(&self, key: u128) -> Option<Found> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut slot = self.slot_of(key);
        loop {
            let position = self.index[slot];
            if position == EMPTY {
                return None;
            }
            let position = position as usize;
            if self.records[position].key == key {
                return Some(Found { slot, position });
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Marks the record released and takes it out of the index.
    fn forget(&mut self, found: Found) {
        self.records[found.position].expires_ms = 0;
        self.live -= 1;
        self.index_remove(found.slot);
    }

    /// Drops the oldest record; `true` if it was live.
    fn pop_oldest(&mut self) -> bool {
        let oldest = self.records[self.head];
        if oldest.is_live() {
            let slot = self.slot_holding(oldest.key, self.head);
            self.live -= 1;
            self.index_remove(slot);
        }
        self.head = (self.head + 1) & (self.records.len() - 1);
        self.held -= 1;
        oldest.is_live()
    }

    /// The index slot that points at `position` (a live record of `key`).
    fn slot_holding(&self, key: u128, position: usize) -> usize {
        let mask = self.index.len() - 1;
        let mut slot = self.slot_of(key);
        while self.index[slot] as usize != position {
            debug_assert!(self.index[slot] != EMPTY, "a live record is indexed");
            slot = (slot + 1) & mask;
        }
        slot
    }

    fn index_insert(&mut self, key: u128, position: usize) {
        let mask = self.index.len() - 1;
        let mut slot = self.slot_of(key);
        while self.index[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.index[slot] = position as u32;
    }

    /// Empties `slot`, moving back each following entry that may take its place, so that every
    /// entry stays reachable from its home slot without tombstones.
    fn index_remove(&mut self, slot: usize) {
        let mask = self.index.len() - 1;
        let mut hole = slot;
        let mut next = slot;
        loop {
            next = (next + 1) & mask;
            let position = self.index[next];
            if position == EMPTY {
                break;
            }
            let home = self.slot_of(self.records[position as usize].key);
            // The entry may move back to the hole unless its home lies after the hole (in
            // probe order, up to `next`).
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.index[hole] = position;
                hole = next;
            }
        }
        self.index[hole] = EMPTY;
    }

    /// The ring is full: compact it if a quarter or more is released records, else double it.
    fn make_room(&mut self) {
        let capacity = match self.records.len() {
            0 => FIRST_CAPACITY,
            capacity if (self.held - self.live) * 4 >= capacity => capacity,
            capacity => capacity * 2,
        };
        let mask = self.records.len().wrapping_sub(1);
        let live: Vec<Record> = (0..self.held)
            .map(|i| self.records[(self.head + i) & mask])
            .filter(Record::is_live)
            .collect();
        self.records = vec![Record::default(); capacity];
        self.index = vec![EMPTY; 2 * capacity];
        self.head = 0;
        self.held = live.len();
        for (position, record) in live.into_iter().enumerate() {
            self.records[position] = record;
            self.index_insert(record.key, position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key whose low bits (its home slot) are `home` and whose high bits tell it apart.
    fn key(home: u64, tag: u64) -> u128 {
        u128::from(tag) << 64 | u128::from(home)
    }

    #[test]
    fn keys_sharing_a_home_slot_are_found_and_forgotten_one_by_one() {
        let mut shard = Shard::default();
        for tag in 0..5 {
            shard.insert(key(3, tag), tag, 100);
        }
        shard.insert(key(4, 9), 9, 100);
        for tag in 0..5 {
            assert!(shard.remembers(key(3, tag), 0));
        }
        // Removing from the middle of a probe run keeps every later key reachable.
        shard.release(key(3, 1), 1);
        shard.release(key(3, 3), 3);
        assert!(!shard.remembers(key(3, 1), 0));
        assert!(!shard.remembers(key(3, 3), 0));
        for tag in [0, 2, 4] {
            assert!(shard.remembers(key(3, tag), 0), "{tag}");
        }
        assert!(shard.remembers(key(4, 9), 0));
        assert_eq!(shard.len(), 4);
    }

    #[test]
    fn a_probe_run_that_wraps_around_the_index_survives_removals() {
        let mut shard = Shard::default();
        // 16 records, 32 index slots: homes 30 and 31 spill over to slots 0, 1, 2.
        for tag in 0..3 {
            shard.insert(key(30, tag), tag, 100);
            shard.insert(key(31, tag), 10 + tag, 100);
        }
        shard.insert(key(0, 7), 7, 100);
        shard.release(key(30, 0), 0);
        shard.release(key(31, 1), 11);
        for (home, tag) in [(30, 1), (30, 2), (31, 0), (31, 2), (0, 7)] {
            assert!(shard.remembers(key(home, tag), 0), "{home}/{tag}");
        }
        assert!(!shard.remembers(key(30, 0), 0));
        assert!(!shard.remembers(key(31, 1), 0));
    }

    #[test]
    fn only_the_owner_releases() {
        let mut shard = Shard::default();
        shard.insert(key(1, 1), 7, 100);
        shard.release(key(1, 1), 8);
        assert!(shard.remembers(key(1, 1), 0));
        shard.release(key(1, 1), 7);
        assert!(!shard.remembers(key(1, 1), 0));
        assert_eq!(shard.len(), 0);
    }

    #[test]
    fn expiry_is_oldest_first_and_an_expired_key_can_be_reserved_again() {
        let mut shard = Shard::default();
        for i in 0..10u64 {
            shard.insert(key(i, i), i, 10 + i);
        }
        shard.reclaim(14);
        assert_eq!(shard.len(), 5);
        assert!(!shard.remembers(key(4, 4), 14));
        assert!(shard.remembers(key(5, 5), 14));
        // Found but expired (not yet reclaimed): not remembered, and forgotten by the lookup.
        assert!(!shard.remembers(key(5, 5), 15));
        shard.insert(key(5, 5), 50, 100);
        assert!(shard.remembers(key(5, 5), 99));
        assert_eq!(shard.len(), 5);
        shard.reclaim(99);
        assert_eq!(shard.len(), 1);
        assert!(shard.remembers(key(5, 5), 99));
    }

    #[test]
    fn eviction_takes_the_oldest_live_entry_skipping_released_records() {
        let mut shard = Shard::default();
        for i in 0..4u64 {
            shard.insert(key(i, i), i, 100);
        }
        shard.release(key(0, 0), 0);
        assert!(shard.evict_oldest());
        assert!(!shard.remembers(key(1, 1), 0));
        assert!(shard.remembers(key(2, 2), 0));
        assert_eq!(shard.len(), 2);
        assert!(shard.evict_oldest() && shard.evict_oldest());
        assert!(!shard.evict_oldest());
    }

    #[test]
    fn the_ring_stays_bounded_under_any_mix_of_reservations_and_releases() {
        // Against a plain model (a set and an order), with `max` live entries at most as the
        // store keeps them: held records never exceed 8/3 of `max` (plus the first capacity).
        let max = 100;
        let mut shard = Shard::default();
        let mut model = std::collections::VecDeque::<u128>::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for step in 0..200_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let k = key(state % 512, state >> 40);
            if state.is_multiple_of(3) {
                shard.release(k, 1);
                model.retain(|&m| m != k);
            } else if !model.contains(&k) {
                if model.len() >= max {
                    assert!(shard.evict_oldest());
                    model.pop_front();
                }
                shard.insert(k, 1, step + 1);
                model.push_back(k);
            }
            assert_eq!(shard.len(), model.len());
            let (held, capacity) = shard.held_and_capacity();
            assert!(held <= capacity && capacity <= 8 * max / 3 + FIRST_CAPACITY);
        }
        for &k in &model {
            assert!(shard.remembers(k, 0));
        }
    }
}
