//! Stream shards, as arithmetic over time: a stream's log is cut into
//! generations of `shard_secs` from the moment the stream was enabled;
//! each generation is one shard, the parent of the next, and one engine
//! partition of the log, so no partition grows for longer than a shard
//! lives and a trimmed shard is dropped whole. A change goes to the
//! generation of the moment its write is built, so every change to an item
//! lands in the shard of its time and a reader that finishes a shard before
//! its child sees them in order.
//!
//! Shard ids are `shardId-{start, ms, 20 digits}-{8 hex}`, so they sort by
//! age; sequence numbers are `(generation + 1) · 10²⁰ + position in the
//! shard`, so they grow across shards too and name their shard.

use super::table::StreamSettings;

/// Positions one shard can hold (the sequence number's lower digits).
const POSITIONS: u128 = 100_000_000_000_000_000_000;
/// How long after its end a shard still takes the writes begun before it
/// ended (a write is built, then committed), before it is closed; shorter
/// for shards that live less long (tests).
pub const CLOSE_GRACE_MS: i64 = 10_000;

/// The shards of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lineage {
    /// When the stream was enabled, in epoch milliseconds.
    pub created_ms: i64,
    pub shard_ms: i64,
}

impl Lineage {
    pub fn of(stream: &StreamSettings) -> Self {
        Self { created_ms: stream.created_ms(), shard_ms: (stream.shard_secs() as i64 * 1000).max(1) }
    }

    /// The generation taking writes at `now_ms`.
    pub fn generation_at(&self, now_ms: i64) -> u64 {
        ((now_ms - self.created_ms).max(0) / self.shard_ms) as u64
    }

    pub fn start_ms(&self, generation: u64) -> i64 {
        self.created_ms + generation as i64 * self.shard_ms
    }

    pub fn end_ms(&self, generation: u64) -> i64 {
        self.start_ms(generation + 1)
    }

    fn grace_ms(&self) -> i64 {
        CLOSE_GRACE_MS.min(self.shard_ms)
    }

    /// Whether the shard takes no more records at `now_ms`.
    pub fn is_closed(&self, generation: u64, now_ms: i64) -> bool {
        now_ms >= self.end_ms(generation) + self.grace_ms()
    }

    /// The first generation that may still hold records younger than
    /// `retention_ms` at `now_ms`; older ones are trimmed.
    pub fn first_live(&self, now_ms: i64, retention_ms: i64) -> u64 {
        let horizon = now_ms - retention_ms - self.grace_ms();
        if horizon < self.created_ms {
            return 0;
        }
        ((horizon - self.created_ms) / self.shard_ms) as u64
    }

    pub fn shard_id(&self, generation: u64) -> String {
        format!("shardId-{:020}-{:08x}", self.start_ms(generation), self.tag(generation))
    }

    /// The generation a shard id names, if it is one of this stream's.
    pub fn parse_shard_id(&self, id: &str) -> Option<u64> {
        let (start, _) = id.strip_prefix("shardId-")?.split_once('-')?;
        let start: i64 = start.parse().ok()?;
        let offset = start.checked_sub(self.created_ms)?;
        if offset < 0 || offset % self.shard_ms != 0 {
            return None;
        }
        let generation = (offset / self.shard_ms) as u64;
        (self.shard_id(generation) == id).then_some(generation)
    }

    /// The rendered sequence number of a record of a shard.
    pub fn sequence(&self, generation: u64, position: u64) -> String {
        (u128::from(generation + 1) * POSITIONS + u128::from(position)).to_string()
    }

    /// The shard and position a rendered sequence number names.
    pub fn parse_sequence(text: &str) -> Option<(u64, u64)> {
        let value: u128 = text.parse().ok()?;
        let generation = (value / POSITIONS).checked_sub(1)?;
        Some((u64::try_from(generation).ok()?, u64::try_from(value % POSITIONS).ok()?))
    }

    /// The log partition of a shard's seal: a row written once a reader
    /// has been told the shard is closed and read to its end. Every record
    /// appended to the shard expects it absent, so a write built while the
    /// shard was open but committed after a reader left it fails and is
    /// built again, into the shard then open: no record lands behind a
    /// reader.
    pub fn seal_partition(shard: &str) -> Vec<u8> {
        format!("{shard}.seal").into_bytes()
    }

    /// A short tag of the stream and generation, so ids of different
    /// streams differ (FNV-1a).
    fn tag(&self, generation: u64) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.created_ms.to_be_bytes().into_iter().chain(generation.to_be_bytes()) {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINEAGE: Lineage = Lineage { created_ms: 1_700_000_000_000, shard_ms: 4 * 3600 * 1000 };

    #[test]
    fn a_shard_id_names_its_generation_and_ids_sort_by_age() {
        let ids: Vec<String> = (0..30).map(|generation| LINEAGE.shard_id(generation)).collect();
        for (generation, id) in ids.iter().enumerate() {
            assert_eq!(LINEAGE.parse_shard_id(id), Some(generation as u64));
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        let other = Lineage { created_ms: LINEAGE.created_ms + 1, ..LINEAGE };
        assert_eq!(other.parse_shard_id(&ids[3]), None, "another stream's shard");
        assert_eq!(LINEAGE.parse_shard_id("shardId-00000001"), None);
    }

    #[test]
    fn sequence_numbers_grow_across_shards_and_name_their_shard() {
        let first = LINEAGE.sequence(0, 1);
        assert_eq!(first.len(), 21, "DynamoDB's shortest sequence numbers have 21 digits");
        let later = LINEAGE.sequence(1, 1);
        assert!(first.parse::<u128>().unwrap() < LINEAGE.sequence(0, 99_999).parse::<u128>().unwrap());
        assert!(LINEAGE.sequence(0, 99_999).parse::<u128>().unwrap() < later.parse::<u128>().unwrap());
        assert_eq!(Lineage::parse_sequence(&later), Some((1, 1)));
        assert_eq!(Lineage::parse_sequence("12"), None);
        assert_eq!(Lineage::parse_sequence("x"), None);
    }

    #[test]
    fn shards_close_after_their_grace_and_fall_out_of_retention_whole() {
        let start = LINEAGE.created_ms;
        assert_eq!(LINEAGE.generation_at(start), 0);
        assert_eq!(LINEAGE.generation_at(start + LINEAGE.shard_ms), 1);
        assert!(!LINEAGE.is_closed(0, start + LINEAGE.shard_ms));
        assert!(LINEAGE.is_closed(0, start + LINEAGE.shard_ms + CLOSE_GRACE_MS));
        let day = 24 * 3600 * 1000;
        assert_eq!(LINEAGE.first_live(start + day, day), 0);
        // Generation 0 ended at 4 h; a day after that (and the grace), it is gone.
        assert_eq!(LINEAGE.first_live(start + LINEAGE.shard_ms + day + CLOSE_GRACE_MS, day), 1);
    }
}
