//! An ordered parallel map over a stream: one producer thread feeds items
//! into a bounded window, worker threads take them as they come (the largest
//! waiting item first, no batch barrier), and the calling thread consumes the
//! results in production order.
//!
//! Why: `prepare` reads papers sequentially from bulk tars, their cost varies
//! by three orders of magnitude (a 1.76 MB book next to a two-page note), and
//! the ledger and documents must keep input order. A batch-and-wait loop idles
//! every worker but the one holding the long paper; here the others keep
//! taking papers while the consumer holds finished ones until their turn.
//!
//! Memory is bounded by `capacity`: an item counts from the moment it is fed
//! until the consumer has taken its result, and the producer blocks while
//! `capacity` items are in flight.

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Condvar, Mutex, MutexGuard};

use anyhow::{anyhow, Result};

/// What the producer feeds.
pub enum Feed<I, O> {
    /// Work for a worker; a larger `weight` starts earlier among the waiting items.
    Work { input: I, weight: u64 },
    /// A result that needs no work (a marker between units) but keeps its place in the order.
    Ready(O),
}

/// Counts of one run, for the caller's accounting and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Items fed (work and ready).
    pub fed: u64,
    /// Results consumed.
    pub consumed: u64,
    /// Most items in flight at once (never above the capacity).
    pub max_in_flight: usize,
}

/// The producer's handle.
pub struct Feeder<'a, I, O> {
    shared: &'a Shared<I, O>,
}

impl<I, O> Feeder<'_, I, O> {
    /// Feeds one item, blocking while the window is full. Fails once the run is
    /// aborting (a worker or the consumer failed): the producer should stop.
    pub fn feed(&self, item: Feed<I, O>) -> Result<()> {
        let mut state = self.shared.lock();
        while state.in_flight >= self.shared.capacity && !state.aborted() {
            state = self.shared.space.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.aborted() {
            return Err(anyhow!("the run stopped after an error"));
        }
        let seq = state.fed;
        state.fed += 1;
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        match item {
            Feed::Work { input, weight } => {
                state.waiting.push(Waiting { weight, seq, input });
                self.shared.work.notify_one();
            }
            Feed::Ready(output) => {
                state.results.insert(seq, output);
                self.shared.done.notify_one();
            }
        }
        Ok(())
    }
}

struct Waiting<I> {
    weight: u64,
    seq: u64,
    input: I,
}

// Max-heap order: heavier first, then earlier.
impl<I> Ord for Waiting<I> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.weight.cmp(&other.weight).then(other.seq.cmp(&self.seq))
    }
}
impl<I> PartialOrd for Waiting<I> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<I> PartialEq for Waiting<I> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<I> Eq for Waiting<I> {}

struct State<I, O> {
    waiting: BinaryHeap<Waiting<I>>,
    results: BTreeMap<u64, O>,
    fed: u64,
    consumed: u64,
    in_flight: usize,
    max_in_flight: usize,
    producer_done: bool,
    /// The first error of a producer, worker or consumer.
    error: Option<anyhow::Error>,
    /// Set when `error` was taken by the consumer (so the others still stop).
    stopped: bool,
}

impl<I, O> State<I, O> {
    fn aborted(&self) -> bool {
        self.error.is_some() || self.stopped
    }

    fn fail(&mut self, error: anyhow::Error) {
        if !self.aborted() {
            self.error = Some(error);
        }
    }
}

struct Shared<I, O> {
    state: Mutex<State<I, O>>,
    capacity: usize,
    /// The producer waits here for room in the window.
    space: Condvar,
    /// Workers wait here for items.
    work: Condvar,
    /// The consumer waits here for the next result in order.
    done: Condvar,
}

impl<I, O> Shared<I, O> {
    fn lock(&self) -> MutexGuard<'_, State<I, O>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, error: anyhow::Error) {
        self.lock().fail(error);
        self.wake_all();
    }

    fn wake_all(&self) {
        self.space.notify_all();
        self.work.notify_all();
        self.done.notify_all();
    }
}

/// Marks the run failed if a worker or the producer unwinds, so that no
/// thread waits forever for a result that will not come.
struct PanicGuard<'a, I, O>(&'a Shared<I, O>);

impl<I, O> Drop for PanicGuard<'_, I, O> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(anyhow!("internal: a prepare thread panicked"));
        }
    }
}

/// Runs `produce` on its own thread, `work` on `workers` threads and
/// `consume` on the calling thread, in the order items were fed. At most
/// `capacity` items (at least 1) are in flight. Returns the first error of
/// any of them; the others stop at their next item.
pub fn ordered_map<I, O, P, W, C>(
    workers: usize,
    capacity: usize,
    produce: P,
    work: W,
    mut consume: C,
) -> Result<StreamStats>
where
    I: Send,
    O: Send,
    P: FnOnce(&Feeder<'_, I, O>) -> Result<()> + Send,
    W: Fn(I) -> Result<O> + Sync,
    C: FnMut(O) -> Result<()>,
{
    let shared = Shared {
        state: Mutex::new(State {
            waiting: BinaryHeap::new(),
            results: BTreeMap::new(),
            fed: 0,
            consumed: 0,
            in_flight: 0,
            max_in_flight: 0,
            producer_done: false,
            error: None,
            stopped: false,
        }),
        capacity: capacity.max(1),
        space: Condvar::new(),
        work: Condvar::new(),
        done: Condvar::new(),
    };
    let shared = &shared;
    let work = &work;
    std::thread::scope(|scope| {
        let _guard = PanicGuard(shared);
        scope.spawn(move || {
            let _guard = PanicGuard(shared);
            let outcome = produce(&Feeder { shared });
            let mut state = shared.lock();
            state.producer_done = true;
            if let Err(error) = outcome {
                state.fail(error);
            }
            drop(state);
            shared.wake_all();
        });
        for _ in 0..workers.max(1) {
            scope.spawn(move || {
                let _guard = PanicGuard(shared);
                while let Some(item) = next_work(shared) {
                    let result = work(item.input);
                    let mut state = shared.lock();
                    let failed = match result {
                        Ok(output) => {
                            state.results.insert(item.seq, output);
                            false
                        }
                        Err(error) => {
                            state.fail(error);
                            true
                        }
                    };
                    drop(state);
                    if failed {
                        shared.wake_all();
                    } else {
                        shared.done.notify_one();
                    }
                }
            });
        }
        let outcome = consume_in_order(shared, &mut consume);
        // Whatever happened, let every thread leave before the scope joins them.
        {
            let mut state = shared.lock();
            if outcome.is_err() {
                state.stopped = true;
            }
            state.waiting.clear();
        }
        shared.wake_all();
        outcome
    })
}

fn next_work<I, O>(shared: &Shared<I, O>) -> Option<Waiting<I>> {
    let mut state = shared.lock();
    loop {
        if state.aborted() {
            return None;
        }
        if let Some(item) = state.waiting.pop() {
            return Some(item);
        }
        if state.producer_done {
            return None;
        }
        state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

fn consume_in_order<I, O>(
    shared: &Shared<I, O>,
    consume: &mut dyn FnMut(O) -> Result<()>,
) -> Result<StreamStats> {
    let mut state = shared.lock();
    loop {
        if let Some(error) = state.error.take() {
            state.stopped = true;
            return Err(error);
        }
        let next = state.consumed;
        if let Some(output) = state.results.remove(&next) {
            drop(state);
            if let Err(error) = consume(output) {
                shared.fail(error);
                state = shared.lock();
                continue;
            }
            state = shared.lock();
            state.consumed += 1;
            state.in_flight -= 1;
            shared.space.notify_one();
            continue;
        }
        if state.producer_done && next == state.fed {
            return Ok(StreamStats {
                fed: state.fed,
                consumed: state.consumed,
                max_in_flight: state.max_in_flight,
            });
        }
        state = shared.done.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Feeds `n` items with weights that vary, squares them, collects the order.
    fn run(n: u64, workers: usize, capacity: usize) -> (Vec<u64>, StreamStats) {
        let mut seen = Vec::new();
        let stats = ordered_map(
            workers,
            capacity,
            |feeder: &Feeder<'_, u64, u64>| {
                for i in 0..n {
                    // Every fifth item is a marker that skips the workers.
                    let item = if i % 5 == 4 {
                        Feed::Ready(i * i)
                    } else {
                        Feed::Work { input: i, weight: (i * 7919) % 13 }
                    };
                    feeder.feed(item)?;
                }
                Ok(())
            },
            |i| {
                // Uneven work so that later items often finish first.
                let spin = ((i * 7919) % 13) * 2000;
                let mut x = i;
                for _ in 0..spin {
                    x = std::hint::black_box(x);
                }
                Ok(x * x)
            },
            |o| {
                seen.push(o);
                Ok(())
            },
        )
        .unwrap();
        (seen, stats)
    }

    #[test]
    fn results_come_in_feed_order_for_any_worker_count() {
        let want: Vec<u64> = (0..200).map(|i| i * i).collect();
        for workers in [1, 2, 4, 8] {
            let (seen, stats) = run(200, workers, 6);
            assert_eq!(seen, want, "{workers} workers");
            assert_eq!((stats.fed, stats.consumed), (200, 200));
        }
    }

    #[test]
    fn never_more_than_capacity_in_flight() {
        for capacity in [1, 2, 5] {
            let (seen, stats) = run(100, 3, capacity);
            assert_eq!(seen.len(), 100);
            assert!(stats.max_in_flight <= capacity, "{stats:?} with capacity {capacity}");
            assert!(stats.max_in_flight >= 1);
        }
    }

    #[test]
    fn an_empty_stream_consumes_nothing() {
        let (seen, stats) = run(0, 2, 4);
        assert!(seen.is_empty());
        assert_eq!(stats, StreamStats::default());
    }

    #[test]
    fn heaviest_waiting_item_starts_first() {
        // One worker, a window holding every item before the worker may start:
        // the worker must take them by weight, heaviest first, ties in feed order.
        let started = Mutex::new(Vec::new());
        let gate = std::sync::Barrier::new(2);
        let weights = [3u64, 9, 1, 9, 5];
        let mut out = Vec::new();
        ordered_map(
            1,
            weights.len() + 1,
            |feeder: &Feeder<'_, u64, u64>| {
                feeder.feed(Feed::Work { input: u64::MAX, weight: 100 })?;
                for (i, w) in weights.iter().enumerate() {
                    feeder.feed(Feed::Work { input: i as u64, weight: *w })?;
                }
                gate.wait();
                Ok(())
            },
            |i| {
                if i == u64::MAX {
                    // Hold the only worker until every other item waits.
                    gate.wait();
                } else {
                    started.lock().unwrap().push(i);
                }
                Ok(i)
            },
            |o| {
                out.push(o);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(*started.lock().unwrap(), vec![1, 3, 4, 0, 2]);
        assert_eq!(out, vec![u64::MAX, 0, 1, 2, 3, 4], "results still in feed order");
    }

    #[test]
    fn a_failing_worker_stops_the_run_with_its_error() {
        let processed = AtomicUsize::new(0);
        let result = ordered_map(
            2,
            4,
            |feeder: &Feeder<'_, u64, u64>| {
                for i in 0..10_000 {
                    feeder.feed(Feed::Work { input: i, weight: 0 })?;
                }
                Ok(())
            },
            |i| {
                processed.fetch_add(1, Ordering::Relaxed);
                if i == 10 {
                    anyhow::bail!("paper {i} is broken")
                }
                Ok(i)
            },
            |_| Ok(()),
        );
        let error = result.unwrap_err().to_string();
        assert!(error.contains("paper 10 is broken"), "{error}");
        assert!(processed.load(Ordering::Relaxed) < 10_000, "the producer kept feeding after the failure");
    }

    #[test]
    fn producer_and_consumer_errors_surface() {
        let producer = ordered_map(
            2,
            4,
            |feeder: &Feeder<'_, u64, u64>| {
                feeder.feed(Feed::Work { input: 1, weight: 0 })?;
                anyhow::bail!("unit 3 cannot be opened")
            },
            Ok,
            |_| Ok(()),
        );
        assert!(producer.unwrap_err().to_string().contains("unit 3 cannot be opened"));

        let mut count = 0;
        let consumer = ordered_map(
            2,
            4,
            |feeder: &Feeder<'_, u64, u64>| {
                for i in 0..1000 {
                    feeder.feed(Feed::Work { input: i, weight: 0 })?;
                }
                Ok(())
            },
            Ok,
            |o| {
                count += 1;
                if o == 5 {
                    anyhow::bail!("disk full")
                }
                Ok(())
            },
        );
        assert!(consumer.unwrap_err().to_string().contains("disk full"));
        assert_eq!(count, 6, "nothing consumed after the failure");
    }
}
