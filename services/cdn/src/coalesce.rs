//! Single flight: one origin fetch for concurrent misses of one key.
//!
//! The first request to [`Flights::join`] a key leads: it fetches, and
//! [`Leader::publish`]es what it got. Requests joining while it is in
//! flight follow: they wait for that value and are served from it. A
//! leader that has nothing to share (the response was not cacheable, or
//! too large to keep) drops out, or is dropped with its request, and its
//! followers are released with `None` to fetch on their own; a slow or
//! failed fetch never holds them longer than the leader's own request.
//! The key is free again once the leader is gone, so a later miss leads a
//! new flight.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::watch;

/// What followers see of a flight.
#[derive(Debug, Clone)]
enum State<V> {
    Pending,
    Done(V),
    Released,
}

#[derive(Debug)]
struct Slot<V> {
    id: u64,
    state: watch::Receiver<State<V>>,
}

/// The flights in progress by key; cheap to clone.
#[derive(Debug)]
pub struct Flights<K, V> {
    inner: Arc<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    next_id: AtomicU64,
}

impl<K, V> Clone for Flights<K, V> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Default for Flights<K, V> {
    fn default() -> Self {
        Self { inner: Arc::new(Inner { slots: Mutex::new(HashMap::new()), next_id: AtomicU64::new(0) }) }
    }
}

/// A request's part in a flight.
pub enum Turn<K: Hash + Eq + Clone, V: Clone> {
    /// Fetch, then publish or drop out.
    Lead(Leader<K, V>),
    /// Wait for the leader.
    Follow(Follower<V>),
}

impl<K: Hash + Eq + Clone, V: Clone> Flights<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leads the flight for `key`, or follows the one in progress.
    pub fn join(&self, key: &K) -> Turn<K, V> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = slots.get(key) {
            return Turn::Follow(Follower { state: slot.state.clone() });
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = watch::channel(State::Pending);
        slots.insert(key.clone(), Slot { id, state: receiver });
        Turn::Lead(Leader { flights: self.clone(), key: key.clone(), id, sender })
    }

    /// How many keys have a flight in progress.
    pub fn in_flight(&self) -> usize {
        self.inner.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

/// The request that fetches for a key; its followers wait for it.
pub struct Leader<K: Hash + Eq + Clone, V: Clone> {
    flights: Flights<K, V>,
    key: K,
    id: u64,
    sender: watch::Sender<State<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Leader<K, V> {
    /// Serves `value` to the followers, and to requests that join until the
    /// leader is dropped (by then the value is in the cache).
    pub fn publish(&self, value: V) {
        self.sender.send_replace(State::Done(value));
    }

    /// Releases the followers to fetch on their own and frees the key.
    pub fn release(self) {}
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Leader<K, V> {
    fn drop(&mut self) {
        self.sender.send_if_modified(|state| {
            if matches!(state, State::Pending) {
                *state = State::Released;
                true
            } else {
                false
            }
        });
        let mut slots = self.flights.inner.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Only this flight's slot: a new flight may hold the key already.
        if slots.get(&self.key).is_some_and(|slot| slot.id == self.id) {
            slots.remove(&self.key);
        }
    }
}

/// A request waiting for a leader.
pub struct Follower<V: Clone> {
    state: watch::Receiver<State<V>>,
}

impl<V: Clone> Follower<V> {
    /// The leader's value, or `None` when it was released or dropped.
    pub async fn outcome(mut self) -> Option<V> {
        loop {
            match &*self.state.borrow_and_update() {
                State::Done(value) => return Some(value.clone()),
                State::Released => return None,
                State::Pending => {}
            }
            if self.state.changed().await.is_err() {
                // The sender is gone; its last word is in the channel.
                return match &*self.state.borrow() {
                    State::Done(value) => Some(value.clone()),
                    _ => None,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::atomic::AtomicUsize, time::Duration};

    use super::*;

    #[tokio::test]
    async fn concurrent_misses_make_one_fetch() {
        let flights: Flights<String, u32> = Flights::new();
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let flights = flights.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                match flights.join(&"k".to_owned()) {
                    Turn::Lead(leader) => {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        leader.publish(7);
                        7
                    }
                    Turn::Follow(follower) => follower.outcome().await.unwrap_or(0),
                }
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap_or(0), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_released_or_dropped_leader_frees_its_followers() {
        let flights: Flights<u8, u32> = Flights::new();
        let Turn::Lead(leader) = flights.join(&1) else { panic!("the first leads") };
        let Turn::Follow(follower) = flights.join(&1) else { panic!("the second follows") };
        leader.release();
        assert_eq!(follower.outcome().await, None);

        let Turn::Lead(leader) = flights.join(&1) else { panic!("the key is free again") };
        let Turn::Follow(follower) = flights.join(&1) else { panic!("follows") };
        let waiting = tokio::spawn(follower.outcome());
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(leader);
        assert_eq!(waiting.await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn a_published_value_outlives_its_leader_for_late_followers() {
        let flights: Flights<u8, &'static str> = Flights::new();
        let Turn::Lead(leader) = flights.join(&1) else { panic!("leads") };
        leader.publish("body");
        let Turn::Follow(late) = flights.join(&1) else { panic!("follows while the leader stores") };
        drop(leader);
        assert_eq!(late.outcome().await, Some("body"));
        assert!(matches!(flights.join(&1), Turn::Lead(_)));
    }

    #[tokio::test]
    async fn keys_fly_apart() {
        let flights: Flights<u8, u8> = Flights::new();
        let first = flights.join(&1);
        let second = flights.join(&2);
        assert!(matches!((first, second), (Turn::Lead(_), Turn::Lead(_))));
    }
}
