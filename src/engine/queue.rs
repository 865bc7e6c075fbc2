//! The controller's work queue: one entry per pair, never two workers on the same pair.
//!
//! Shaped like client-go's rate-limited workqueue because its guarantees are the ones a
//! reconciler needs: a key added many times before a worker takes it is processed once; a key
//! added while a worker holds it is processed again after that worker finishes (the change it
//! carries must not be lost); failed keys come back after a per-key exponential backoff, and an
//! overall token bucket keeps a storm of failing keys from hammering the API servers.
//!
//! Pure: time is passed in, so tests drive it without sleeping.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Per-key exponential backoff: `base · 2^(failures-1)`, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(50),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// Delay before retry number `failures` (1 = first retry).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let shift = (failures - 1).min(30);
        let factor = 1u64 << shift;
        let nanos = (self.base.as_nanos() as u64).saturating_mul(factor);
        Duration::from_nanos(nanos).min(self.cap)
    }
}

/// Token bucket shared by all retries: `rate` tokens per second, at most `burst` saved up.
///
/// Only retries draw from it; fresh changes are never delayed by other keys' failures.
#[derive(Debug, Clone)]
pub struct RetryBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RetryBucket {
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        let rate = if rate_per_sec.is_finite() && rate_per_sec > 0.0 {
            rate_per_sec
        } else {
            1.0
        };
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Take one token; returns how long the caller must wait before using it.
    ///
    /// The bucket may go negative: each reservation pushes the next one further out, which is
    /// what spreads a burst of retries over time.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        self.last = Some(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

impl Default for RetryBucket {
    fn default() -> Self {
        // client-go's default overall limiter: 10 qps, burst 100.
        Self::new(10.0, 100)
    }
}

/// A deduplicating, per-key backoff work queue.
#[derive(Debug)]
pub struct WorkQueue<K> {
    /// Keys ready now, in arrival order.
    ready: VecDeque<K>,
    /// Every key waiting (ready or delayed), so `add` can deduplicate.
    queued: HashSet<K>,
    /// Delayed keys by due time; a key appears here at most once (its earliest due time).
    delayed: BTreeMap<(Instant, u64), K>,
    due: HashMap<K, (Instant, u64)>,
    /// Keys a worker holds right now.
    processing: HashSet<K>,
    /// Keys added while held: they go back to `ready` when the worker calls `done`.
    dirty: HashSet<K>,
    failures: HashMap<K, u32>,
    backoff: Backoff,
    bucket: RetryBucket,
    seq: u64,
    shut_down: bool,
}

impl<K: Clone + Eq + Hash> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new(Backoff::default(), RetryBucket::default())
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    pub fn new(backoff: Backoff, bucket: RetryBucket) -> Self {
        Self {
            ready: VecDeque::new(),
            queued: HashSet::new(),
            delayed: BTreeMap::new(),
            due: HashMap::new(),
            processing: HashSet::new(),
            dirty: HashSet::new(),
            failures: HashMap::new(),
            backoff,
            bucket,
            seq: 0,
            shut_down: false,
        }
    }

    /// Queue `key` for processing now. A no-op if it is already waiting; if a worker holds
    /// it, it is processed once more after that worker is done.
    pub fn add(&mut self, key: K) {
        if self.shut_down {
            return;
        }
        if self.processing.contains(&key) {
            self.dirty.insert(key);
            return;
        }
        if let Some(slot) = self.due.remove(&key) {
            // Waiting on a backoff: a fresh change should not sit behind it.
            self.delayed.remove(&slot);
            self.ready.push_back(key);
            return;
        }
        if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// Queue `key` once `at` has passed (keeps an earlier due time if there is one).
    pub fn add_at(&mut self, key: K, at: Instant) {
        if self.shut_down {
            return;
        }
        if self.processing.contains(&key) {
            // The worker's `done`/`retry` decides what happens next; remember there is news.
            self.dirty.insert(key);
            return;
        }
        if self.queued.contains(&key) {
            match self.due.get(&key) {
                Some(&(t, _)) if t > at => {
                    if let Some(slot) = self.due.remove(&key) {
                        self.delayed.remove(&slot);
                    }
                }
                _ => return, // ready already, or due sooner
            }
        } else {
            self.queued.insert(key.clone());
        }
        self.seq += 1;
        let slot = (at, self.seq);
        self.delayed.insert(slot, key.clone());
        self.due.insert(key, slot);
    }

    /// Move keys whose time has come to the ready list.
    fn promote(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.due.remove(&key);
            self.ready.push_back(key);
        }
    }

    /// Take the next ready key; the caller must hand it back with `done` or `retry`.
    pub fn pop(&mut self, now: Instant) -> Option<K> {
        if self.shut_down {
            return None;
        }
        self.promote(now);
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// When the earliest delayed key becomes ready (`None` if nothing is delayed).
    pub fn next_due(&self) -> Option<Instant> {
        self.delayed.keys().next().map(|(t, _)| *t)
    }

    /// The key succeeded: reset its backoff, and process it again if it changed meanwhile.
    pub fn done(&mut self, key: &K) {
        self.failures.remove(key);
        self.release(key);
    }

    /// The key failed: bring it back after its backoff (and the shared retry budget).
    /// Returns the delay chosen.
    pub fn retry(&mut self, key: &K, now: Instant) -> Duration {
        let n = {
            let f = self.failures.entry(key.clone()).or_insert(0);
            *f = f.saturating_add(1);
            *f
        };
        let delay = self.backoff.delay(n).max(self.bucket.reserve(now));
        self.processing.remove(key);
        // A change that arrived while the key was failing is retried on the same schedule:
        // the failure is more likely the server than the change.
        self.dirty.remove(key);
        self.add_at(key.clone(), now + delay);
        delay
    }

    /// Drop the key's failure count without requeueing (e.g. the pair disappeared).
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// How many times in a row the key has failed.
    pub fn failures(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    fn release(&mut self, key: &K) {
        self.processing.remove(key);
        if self.dirty.remove(key) {
            self.add(key.clone());
        }
    }

    /// Keys waiting now or later (not counting the ones held by workers).
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Keys held by workers right now.
    pub fn in_flight(&self) -> usize {
        self.processing.len()
    }

    /// Work that must finish before the queue can be called settled: keys held, keys ready
    /// (or due by `now`), and failed keys waiting on their backoff. Keys scheduled only for a
    /// later look (no failures) do not count.
    pub fn has_pending_work(&self, now: Instant) -> bool {
        !self.processing.is_empty()
            || !self.ready.is_empty()
            || self.next_due().is_some_and(|t| t <= now)
            || self.delayed.values().any(|k| self.failures(k) > 0)
    }

    /// Nothing waiting and nothing held.
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.processing.is_empty()
    }

    /// Stop handing out work; keys held by workers may still be handed back.
    pub fn shut_down(&mut self) {
        self.shut_down = true;
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    /// Forget everything waiting (a controller that lost leadership starts afresh later).
    pub fn clear(&mut self) {
        self.ready.clear();
        self.queued.clear();
        self.delayed.clear();
        self.due.clear();
        self.dirty.clear();
        self.failures.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> WorkQueue<&'static str> {
        WorkQueue::new(
            Backoff {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(80),
            },
            RetryBucket::new(1000.0, 1000),
        )
    }

    #[test]
    fn duplicates_collapse_and_order_is_kept() {
        let mut q = q();
        let now = Instant::now();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(now), Some("a"));
        assert_eq!(q.pop(now), Some("b"));
        assert_eq!(q.pop(now), None);
    }

    #[test]
    fn a_key_held_by_a_worker_is_not_handed_out_twice_but_is_not_lost() {
        let mut q = q();
        let now = Instant::now();
        q.add("a");
        assert_eq!(q.pop(now), Some("a"));
        q.add("a");
        q.add("a");
        assert_eq!(
            q.pop(now),
            None,
            "a second worker must not get the held key"
        );
        q.done(&"a");
        assert_eq!(
            q.pop(now),
            Some("a"),
            "the change that came in meanwhile runs once"
        );
        q.done(&"a");
        assert_eq!(q.pop(now), None);
        assert!(q.is_idle());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(80),
        };
        let delays: Vec<u64> = (0..7).map(|n| b.delay(n).as_millis() as u64).collect();
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 80, 80]);
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(80));
    }

    #[test]
    fn failed_keys_come_back_after_their_backoff_and_success_resets_it() {
        let mut q = q();
        let t0 = Instant::now();
        q.add("a");
        let k = q.pop(t0).unwrap();
        assert_eq!(q.retry(&k, t0), Duration::from_millis(10));
        assert_eq!(q.pop(t0), None);
        assert_eq!(q.next_due(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(q.pop(t0 + Duration::from_millis(10)), Some("a"));
        assert_eq!(q.retry(&"a", t0), Duration::from_millis(20));
        assert_eq!(q.failures(&"a"), 2);
        let t1 = t0 + Duration::from_millis(20);
        assert_eq!(q.pop(t1), Some("a"));
        q.done(&"a");
        assert_eq!(q.failures(&"a"), 0);
        q.add("a");
        let k = q.pop(t1).unwrap();
        assert_eq!(
            q.retry(&k, t1),
            Duration::from_millis(10),
            "reset after success"
        );
    }

    #[test]
    fn a_fresh_change_jumps_a_pending_backoff() {
        let mut q = q();
        let t0 = Instant::now();
        q.add("a");
        q.pop(t0);
        q.retry(&"a", t0);
        q.add("a");
        assert_eq!(q.pop(t0), Some("a"));
        assert_eq!(q.next_due(), None, "no stale delayed copy left behind");
    }

    #[test]
    fn add_at_keeps_the_earliest_due_time() {
        let mut q = q();
        let t0 = Instant::now();
        q.add_at("a", t0 + Duration::from_secs(5));
        q.add_at("a", t0 + Duration::from_secs(1));
        q.add_at("a", t0 + Duration::from_secs(3));
        assert_eq!(q.len(), 1);
        assert_eq!(q.next_due(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(q.pop(t0 + Duration::from_secs(1)), Some("a"));
        assert_eq!(q.pop(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn the_retry_bucket_spreads_a_burst() {
        let mut b = RetryBucket::new(10.0, 2);
        let t0 = Instant::now();
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        let third = b.reserve(t0);
        let fourth = b.reserve(t0);
        assert!((third.as_secs_f64() - 0.1).abs() < 1e-6, "{third:?}");
        assert!((fourth.as_secs_f64() - 0.2).abs() < 1e-6, "{fourth:?}");
        // A second later the bucket is full again.
        assert_eq!(b.reserve(t0 + Duration::from_secs(2)), Duration::ZERO);
    }

    #[test]
    fn retries_are_limited_by_the_shared_bucket() {
        let mut q = WorkQueue::new(
            Backoff {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(1),
            },
            RetryBucket::new(10.0, 1),
        );
        let t0 = Instant::now();
        for k in ["a", "b", "c"] {
            q.add(k);
        }
        let mut delays = Vec::new();
        while let Some(k) = q.pop(t0) {
            delays.push(q.retry(&k, t0));
        }
        assert_eq!(delays[0], Duration::from_millis(1));
        assert!(delays[1] >= Duration::from_millis(99), "{delays:?}");
        assert!(delays[2] >= Duration::from_millis(199), "{delays:?}");
    }

    #[test]
    fn scheduled_looks_are_not_pending_work_but_retries_are() {
        let mut q = q();
        let t0 = Instant::now();
        assert!(!q.has_pending_work(t0));
        q.add_at("look", t0 + Duration::from_secs(1));
        assert!(!q.has_pending_work(t0));
        assert!(q.has_pending_work(t0 + Duration::from_secs(1)), "due now");
        q.add("b");
        assert!(q.has_pending_work(t0));
        let b = q.pop(t0).unwrap();
        assert!(q.has_pending_work(t0), "held");
        q.retry(&b, t0);
        assert!(q.has_pending_work(t0), "failed key waiting on its backoff");
    }

    #[test]
    fn shut_down_stops_handing_out_work_but_accepts_hand_backs() {
        let mut q = q();
        let t0 = Instant::now();
        q.add("a");
        q.add("b");
        let a = q.pop(t0).unwrap();
        q.shut_down();
        assert_eq!(q.pop(t0), None);
        q.add("c");
        q.done(&a);
        assert_eq!(q.in_flight(), 0);
    }

    #[test]
    fn clear_forgets_waiting_keys_but_not_held_ones() {
        let mut q = q();
        let t0 = Instant::now();
        q.add("a");
        q.add("b");
        q.add_at("c", t0 + Duration::from_secs(1));
        let a = q.pop(t0).unwrap();
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.in_flight(), 1);
        q.done(&a);
        assert!(q.is_idle());
    }
}
