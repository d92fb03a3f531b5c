//! Load shedding: which requests may wait for the engine, and for how long.
//!
//! [`Admission`] counts the rows waiting for the engine (queued for the
//! batcher, or waiting for an engine permit) and turns a request away at
//! once when `--max-queue` rows already wait ([`Rejection::QueueFull`]). A
//! [`Deadline`] (the request's `timeout` parameter, or `--request-timeout`)
//! turns away a request still waiting when it passes
//! ([`Rejection::Deadline`]); such a request never runs.
//!
//! This module only counts and decides; the batcher applies the decisions
//! and the HTTP and gRPC layers turn a [`Rejection`] into 503 (with
//! `Retry-After`), `UNAVAILABLE` or `DEADLINE_EXCEEDED`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Why a request was turned away without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    /// `--max-queue` rows were already waiting when it arrived.
    #[error("the server is over capacity: --max-queue rows are already waiting; retry later")]
    QueueFull,
    /// Its deadline passed while it waited for the engine.
    #[error("the request waited past its deadline and was not run; retry later")]
    Deadline,
}

impl Rejection {
    /// The `reason` label of `model_server_requests_rejected_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::QueueFull => "queue_full",
            Rejection::Deadline => "deadline",
        }
    }

    /// Every reason, so the metrics can show each from the start.
    pub const ALL: [Rejection; 2] = [Rejection::QueueFull, Rejection::Deadline];
}

/// Seconds a rejected client is asked to wait (`Retry-After`).
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// When a request stops being worth running: the earlier of its own
/// timeout and the server's, counted from when it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline.
    pub const NONE: Deadline = Deadline(None);

    /// The deadline of a request received at `received` that asked for
    /// `requested` (its `timeout` parameter), under the server's `default`.
    pub fn new(
        received: Instant,
        requested: Option<Duration>,
        default: Option<Duration>,
    ) -> Deadline {
        let timeout = match (requested, default) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // A timeout too far away to represent is no deadline at all.
        Deadline(timeout.and_then(|t| received.checked_add(t)))
    }

    /// The instant, if there is one.
    pub fn at(self) -> Option<Instant> {
        self.0
    }

    /// True once the deadline has passed.
    pub fn passed(self, now: Instant) -> bool {
        self.0.is_some_and(|at| now >= at)
    }
}

/// Counts the rows waiting for the engine against `--max-queue`.
#[derive(Debug)]
pub struct Admission {
    waiting: AtomicUsize,
    max_queue: Option<usize>,
}

impl Admission {
    /// Admits requests while fewer than `max_queue` rows wait (`None`: any number).
    pub fn new(max_queue: Option<usize>) -> Arc<Admission> {
        Arc::new(Admission {
            waiting: AtomicUsize::new(0),
            max_queue,
        })
    }

    /// Lets a request of `rows` rows wait, unless `--max-queue` rows
    /// already do. The rows count as waiting until the [`Waiting`] is
    /// released or dropped.
    pub fn admit(self: &Arc<Self>, rows: usize) -> Result<Waiting, Rejection> {
        let limit = self.max_queue.unwrap_or(usize::MAX);
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < limit).then(|| waiting.saturating_add(rows))
            })
            .map_err(|_| Rejection::QueueFull)?;
        Ok(Waiting {
            admission: self.clone(),
            rows: AtomicUsize::new(rows),
        })
    }

    /// True while fewer than `--max-queue` rows wait.
    pub fn has_room(&self) -> bool {
        self.max_queue.is_none_or(|limit| self.waiting() < limit)
    }

    /// Rows waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

/// Rows counted as waiting; they stop counting on [`Waiting::release`]
/// (by whichever of the request and the batcher gets there first) or drop.
#[derive(Debug)]
pub struct Waiting {
    admission: Arc<Admission>,
    rows: AtomicUsize,
}

impl Waiting {
    /// Stops counting the rows (they are about to run, or are given up).
    pub fn release(&self) {
        let rows = self.rows.swap(0, Ordering::AcqRel);
        if rows > 0 {
            self.admission.waiting.fetch_sub(rows, Ordering::AcqRel);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_turned_away_once_max_queue_rows_wait() {
        let admission = Admission::new(Some(4));
        let a = admission.admit(3).unwrap();
        // 3 rows wait: fewer than 4, so another request may join them.
        let b = admission.admit(2).unwrap();
        assert_eq!(admission.waiting(), 5);
        assert_eq!(admission.admit(1).unwrap_err(), Rejection::QueueFull);
        assert!(!admission.has_room());
        assert_eq!(admission.waiting(), 5, "a rejected request adds nothing");
        drop(a);
        assert_eq!(admission.waiting(), 2);
        assert!(admission.has_room());
        let c = admission.admit(1).unwrap();
        assert_eq!(admission.waiting(), 3);
        drop((b, c));
        assert_eq!(admission.waiting(), 0);
    }

    #[test]
    fn released_rows_are_not_subtracted_twice() {
        let admission = Admission::new(Some(8));
        let a = admission.admit(3).unwrap();
        let _b = admission.admit(2).unwrap();
        a.release();
        a.release();
        drop(a);
        assert_eq!(admission.waiting(), 2);
    }

    #[test]
    fn without_max_queue_every_request_is_admitted() {
        let admission = Admission::new(None);
        let held: Vec<Waiting> = (0..1000).map(|_| admission.admit(64).unwrap()).collect();
        assert_eq!(admission.waiting(), 64_000);
        drop(held);
        assert_eq!(admission.waiting(), 0);
    }

    #[test]
    fn the_earlier_timeout_sets_the_deadline() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let at = |requested, default| Deadline::new(now, requested, default).at();
        assert_eq!(at(Some(ms(5)), Some(ms(50))), Some(now + ms(5)));
        assert_eq!(at(Some(ms(500)), Some(ms(50))), Some(now + ms(50)));
        assert_eq!(at(None, Some(ms(50))), Some(now + ms(50)));
        assert_eq!(at(Some(ms(5)), None), Some(now + ms(5)));
        assert_eq!(at(None, None), None);
        assert_eq!(at(Some(Duration::MAX), None), None);
        let deadline = Deadline::new(now, Some(ms(5)), None);
        assert!(!deadline.passed(now));
        assert!(deadline.passed(now + ms(5)));
        assert!(!Deadline::NONE.passed(now + ms(5)));
    }
}
