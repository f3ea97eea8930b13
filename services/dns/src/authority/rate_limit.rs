//! Response-rate limiting for UDP, the defence NSD and BIND use against
//! reflection: each client network (an IPv4 /24, an IPv6 /56) gets at
//! most `rate` answers a second; past that, answers are dropped, except
//! every `slip`-th, which goes out truncated (TC set, no records) so a
//! real resolver behind a spoofed flood retries over TCP, which a spoofer
//! cannot. Off unless configured (`[dns] rate_limit`).
//!
//! Counts live in a fixed table of atomics indexed by a hash of the
//! network, so the limiter takes no lock and no memory per client; two
//! networks sharing a slot share a budget, erring towards limiting.

use std::{
    net::IpAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

const SLOTS: usize = 1 << 16;

/// What to do with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send the header and question only, with TC set.
    Slip,
    Drop,
}

#[derive(Debug)]
pub struct RateLimit {
    rate: u32,
    slip: u32,
    started: Instant,
    /// Per slot: the second the count is of (high 32 bits) and the count.
    slots: Box<[AtomicU64]>,
}

impl RateLimit {
    /// `rate` answers a second per client network; `slip` 0 drops every
    /// answer past it, `slip` n sends every n-th truncated.
    pub fn new(rate: u32, slip: u32) -> Self {
        let slots = (0..SLOTS).map(|_| AtomicU64::new(0)).collect();
        Self { rate, slip, started: Instant::now(), slots }
    }

    pub fn check(&self, client: IpAddr) -> Verdict {
        let now = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX);
        let slot = &self.slots[slot_of(client)];
        let mut current = slot.load(Ordering::Relaxed);
        let count = loop {
            let (second, count) = ((current >> 32) as u32, current as u32);
            let count = if second == now { count.saturating_add(1) } else { 1 };
            let next = (u64::from(now) << 32) | u64::from(count);
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break count,
                Err(seen) => current = seen,
            }
        };
        if count <= self.rate {
            Verdict::Send
        } else if self.slip > 0 && (count - self.rate).is_multiple_of(self.slip) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The slot of a client's network: /24 for IPv4, /56 for IPv6.
fn slot_of(client: IpAddr) -> usize {
    let network: u64 = match client {
        IpAddr::V4(v4) => u64::from(u32::from(v4) >> 8),
        IpAddr::V6(v6) => (u128::from(v6) >> 72) as u64 | (1 << 63),
    };
    // Fibonacci hashing spreads neighbouring networks over the table.
    (network.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 48) as usize % SLOTS
}

/// The truncated form of a response: its header with TC set and no
/// records, and its question. `None` if the response is too short to be one.
pub fn truncated(response: &[u8]) -> Option<Vec<u8>> {
    let header = response.get(..12)?;
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let mut end = 12;
    for _ in 0..questions {
        loop {
            let length = *response.get(end)?;
            if length & 0xc0 == 0xc0 {
                end += 2;
                break;
            }
            end += 1 + usize::from(length);
            if length == 0 {
                break;
            }
        }
        end += 4;
    }
    let mut reply = response.get(..end)?.to_vec();
    reply[2] |= 0x02;
    reply[6..12].fill(0);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_past_its_rate_is_dropped_with_every_nth_slipped() {
        let limit = RateLimit::new(5, 2);
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let verdicts: Vec<Verdict> = (0..10).map(|_| limit.check(client)).collect();
        assert!(verdicts[..5].iter().all(|verdict| *verdict == Verdict::Send));
        assert_eq!(&verdicts[5..9], &[Verdict::Drop, Verdict::Slip, Verdict::Drop, Verdict::Slip]);
        // The same /24 shares the budget; another network has its own.
        assert_ne!(limit.check("192.0.2.200".parse().unwrap()), Verdict::Send);
        assert_eq!(limit.check("198.51.100.1".parse().unwrap()), Verdict::Send);
    }

    #[test]
    fn slip_zero_drops_everything_past_the_rate() {
        let limit = RateLimit::new(1, 0);
        let client: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(limit.check(client), Verdict::Send);
        assert!((0..5).all(|_| limit.check(client) == Verdict::Drop));
    }

    #[test]
    fn a_truncated_reply_keeps_header_and_question() {
        // id 0x1234, QR AA, 1 question, 1 answer; www.a. A IN; one A record.
        let mut response = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
        response.extend([3, b'w', b'w', b'w', 1, b'a', 0, 0, 1, 0, 1]);
        response.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        let reply = truncated(&response).unwrap();
        assert_eq!(reply.len(), 12 + 11);
        assert_eq!(reply[2] & 0x02, 0x02, "TC set");
        assert_eq!(&reply[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(truncated(&response[..5]).is_none());
    }
}
