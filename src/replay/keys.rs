//! The replay keys of one request: its signed message's, and for a delivery that carries both
//! signature families on a route that accepts V2, its V2 message's too.

use super::store::ReplayKey;

/// One or two replay keys, in the order they are reserved. Every one of them must be fresh for
/// the request to be accepted, and every one is recorded as seen once it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReplayKeys {
    keys: [ReplayKey; 2],
    len: usize,
}

impl ReplayKeys {
    /// The key of the message that verified the request.
    pub(crate) fn one(key: ReplayKey) -> Self {
        Self {
            keys: [key; 2],
            len: 1,
        }
    }

    /// `decided` (the V3 message's key) with the key of the V2 message the same delivery
    /// carries, which is reserved **first**: it is the one a captured copy can contend for
    /// alone (the V2 headers with any body), so a delivery holds the contested key from its
    /// first store call, and a copy has the shortest window to take it before the delivery
    /// does. A delivery that loses that race is a replay, and still records its V3 key.
    pub(crate) fn with_v2_half(decided: ReplayKey, v2_half: ReplayKey) -> Self {
        Self {
            keys: [v2_half, decided],
            len: 2,
        }
    }

    /// The keys, in the order they are reserved.
    pub(crate) fn as_slice(&self) -> &[ReplayKey] {
        &self.keys[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_half_is_reserved_first() {
        let v3 = ReplayKey::of_message(b"v3");
        let v2 = ReplayKey::of_message(b"v2");
        assert_eq!(ReplayKeys::one(v3).as_slice(), [v3]);
        assert_eq!(ReplayKeys::with_v2_half(v3, v2).as_slice(), [v2, v3]);
    }
}
