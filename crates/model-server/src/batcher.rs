//! Dynamic batching: concurrent requests for the model wait in a queue; one
//! task takes them out, joins up to `--max-batch` rows (waiting at most
//! `--max-delay` for more), runs them as one model call on a blocking
//! thread, and hands each request back exactly its own rows.
//!
//! With `--max-batch 1`, or for a request at least `--max-batch` rows big,
//! the queue is skipped and the request runs at once. A semaphore sized to
//! the backend's concurrency bounds how many model calls run at a time; the
//! batcher takes a permit after its first request and before it collects
//! the rest, so requests that arrive while the engine is busy gather into
//! the next batch. The `--max-delay` clock starts with the first request.
//!
//! The batcher only waits for more rows while other requests are on their
//! way (received by the HTTP layer but not yet queued, tracked by
//! [`Arrival`] guards): a lone request at low load runs at once instead of
//! paying `--max-delay` for company that is not coming.
//!
//! Where the model call runs is the [`Placement`]: on Tokio's blocking
//! threads, so HTTP keeps being served while the engine computes, or
//! inline on the one runtime thread of a one-CPU server. There HTTP and
//! the engine cannot overlap anyway, and running the call in place saves
//! two thread handoffs (and their context switches) per batch; requests
//! that arrive meanwhile wait in the socket buffers and join the next
//! batch. Only calls of at most `--max-batch` rows run inline, so the
//! thread is never held longer than one batch takes: a request larger
//! than that still goes to a blocking thread.
//!
//! Load shedding (see [`crate::admission`]): a request is admitted only
//! while fewer than `--max-queue` rows wait for the engine, and one whose
//! deadline passes while it waits is answered [`Rejection::Deadline`] and
//! never run. Whichever of the request and the batching task gets to a
//! queued job first decides: the job is claimed to run, or expired.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::admission::{Admission, Deadline, Rejection, Waiting};
use crate::backend::{Backend, BackendError};
use crate::metrics::Metrics;
use crate::tensor::{self, Tensor};

/// Capacity of the request queue; senders wait when it is full.
const QUEUE_CAPACITY: usize = 4096;

/// Why a request got no outputs: turned away, or the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

type Reply = oneshot::Sender<Result<Vec<Tensor>, InferError>>;

struct Job {
    inputs: Vec<Tensor>,
    rows: usize,
    reply: Reply,
    deadline: Deadline,
    slot: Arc<Slot>,
}

/// What a queued job and its waiting request share: whether it is still
/// queued, and its rows counted against `--max-queue`.
struct Slot {
    state: AtomicU8,
    waiting: Waiting,
}

const QUEUED: u8 = 0;
const CLAIMED: u8 = 1;
const EXPIRED: u8 = 2;

impl Slot {
    /// Moves a queued job to `to`; false when the other side got there first.
    fn leave_queue(&self, to: u8) -> bool {
        self.waiting.release();
        self.state
            .compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl Job {
    /// Takes the job out of the queue to run it. `None` when its deadline
    /// has passed (it is answered [`Rejection::Deadline`] here, unless its
    /// request already answered so itself).
    fn claim(self, metrics: &Metrics) -> Option<Job> {
        if self.deadline.passed(Instant::now()) {
            if self.slot.leave_queue(EXPIRED) {
                metrics.reject(Rejection::Deadline);
                let _ = self.reply.send(Err(Rejection::Deadline.into()));
            }
            return None;
        }
        self.slot.leave_queue(CLAIMED).then_some(self)
    }
}

/// Where model calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On Tokio's blocking threads, beside the HTTP workers.
    Blocking,
    /// On the calling runtime thread: only for a current-thread runtime,
    /// where nothing else could run during the call anyway.
    Inline,
}

/// Runs requests against a backend, batching them when configured to.
pub struct Batcher {
    backend: Arc<dyn Backend>,
    queue: Option<mpsc::Sender<Job>>,
    permits: Arc<Semaphore>,
    max_batch: usize,
    placement: Placement,
    metrics: Arc<Metrics>,
    arriving: Arc<AtomicUsize>,
    admission: Arc<Admission>,
    request_timeout: Option<Duration>,
}

/// Marks a request as on its way to the batcher, from the moment the HTTP
/// layer receives it until it is queued (or dropped). Its deadline counts
/// from then.
pub struct Arrival {
    arriving: Arc<AtomicUsize>,
    received: Instant,
}

impl Drop for Arrival {
    fn drop(&mut self) {
        self.arriving.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Batcher {
    /// Starts the batching task (when `max_batch > 1`). Must be called
    /// inside a Tokio runtime.
    pub fn new(
        backend: Arc<dyn Backend>,
        max_batch: usize,
        max_delay: Duration,
        placement: Placement,
        metrics: Arc<Metrics>,
    ) -> Batcher {
        let permits = Arc::new(Semaphore::new(backend.concurrency().max(1)));
        let arriving = Arc::new(AtomicUsize::new(0));
        let queue = (max_batch > 1).then(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
            let worker = Worker {
                backend: backend.clone(),
                receiver,
                permits: permits.clone(),
                max_batch,
                max_delay,
                placement,
                metrics: metrics.clone(),
                arriving: arriving.clone(),
            };
            tokio::spawn(worker.run());
            sender
        });
        Batcher {
            backend,
            queue,
            permits,
            max_batch,
            placement,
            metrics,
            arriving,
            admission: Admission::new(None),
            request_timeout: None,
        }
    }

    /// Sheds load: at most `max_queue` rows wait for the engine (`None`:
    /// any number), and a request waits at most `request_timeout` (or its
    /// own, shorter, timeout) before it is answered without running.
    pub fn with_shedding(
        mut self,
        max_queue: Option<usize>,
        request_timeout: Option<Duration>,
    ) -> Batcher {
        self.admission = Admission::new(max_queue);
        self.request_timeout = request_timeout;
        self
    }

    /// Turns a request away before its body is read or decoded when
    /// `--max-queue` rows already wait: under overload a refusal then costs
    /// next to nothing. [`Batcher::infer`] checks again with its rows.
    pub fn check_room(&self) -> Result<(), Rejection> {
        self.admission
            .has_room()
            .then_some(())
            .ok_or(Rejection::QueueFull)
            .inspect_err(|&rejection| self.metrics.reject(rejection))
    }

    /// Announces a request that will reach [`Batcher::infer`] soon.
    pub fn arrival(&self) -> Arrival {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arrival {
            arriving: self.arriving.clone(),
            received: Instant::now(),
        }
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Runs one request (inputs in signature order, equal batch sizes) and
    /// returns its outputs in signature order. `arrival`, if the request
    /// announced itself, is released once the request is queued; its
    /// deadline counts from the arrival. `timeout` is the request's own.
    pub async fn infer(
        &self,
        inputs: Vec<Tensor>,
        arrival: Option<Arrival>,
        timeout: Option<Duration>,
    ) -> Result<Vec<Tensor>, InferError> {
        let rows = inputs.first().map_or(1, Tensor::rows);
        let received = arrival.as_ref().map_or_else(Instant::now, |a| a.received);
        let deadline = Deadline::new(received, timeout, self.request_timeout);
        let waiting = self
            .admission
            .admit(rows)
            .inspect_err(|&rejection| self.metrics.reject(rejection))?;
        match &self.queue {
            Some(queue) if rows < self.max_batch => {
                let (reply, answer) = oneshot::channel();
                let slot = Arc::new(Slot {
                    state: AtomicU8::new(QUEUED),
                    waiting,
                });
                self.metrics.queue_depth.inc();
                let sent = queue
                    .send(Job {
                        inputs,
                        rows,
                        reply,
                        deadline,
                        slot: slot.clone(),
                    })
                    .await;
                drop(arrival);
                if sent.is_err() {
                    self.metrics.queue_depth.dec();
                    return Err(BackendError::Run("the batching queue is closed".into()).into());
                }
                let mut answer = answer;
                let answered = match deadline.at() {
                    None => answer.await,
                    Some(at) => tokio::select! {
                        answered = &mut answer => answered,
                        () = tokio::time::sleep_until(at) => {
                            if slot.leave_queue(EXPIRED) {
                                self.metrics.reject(Rejection::Deadline);
                                return Err(Rejection::Deadline.into());
                            }
                            // Claimed (it runs now) or expired by the batcher.
                            answer.await
                        }
                    },
                };
                answered.unwrap_or_else(|_| {
                    Err(BackendError::Run("the batch was dropped before it ran".into()).into())
                })
            }
            _ => {
                let acquire = self.permits.clone().acquire_owned();
                let permit = match deadline.at() {
                    None => acquire.await.map_err(closed)?,
                    Some(at) => match tokio::time::timeout_at(at, acquire).await {
                        Ok(permit) => permit.map_err(closed)?,
                        Err(_) => {
                            self.metrics.reject(Rejection::Deadline);
                            return Err(Rejection::Deadline.into());
                        }
                    },
                };
                drop(waiting);
                self.metrics.batch_size.observe(rows as f64);
                // Inline only up to --max-batch rows, so the one thread is
                // never held (probes and SIGTERM unanswered) longer than
                // a batch takes; a larger request goes to a blocking thread.
                if self.placement == Placement::Inline && rows <= self.max_batch {
                    return Ok(timed_run(self.backend.as_ref(), inputs, &self.metrics)?);
                }
                let (backend, metrics) = (self.backend.clone(), self.metrics.clone());
                let outputs = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    timed_run(backend.as_ref(), inputs, &metrics)
                })
                .await
                .map_err(|e| BackendError::Run(format!("inference task failed: {e}")))??;
                Ok(outputs)
            }
        }
    }
}

fn closed(_: tokio::sync::AcquireError) -> BackendError {
    BackendError::Run("the engine is shut down".into())
}

struct Worker {
    backend: Arc<dyn Backend>,
    receiver: mpsc::Receiver<Job>,
    permits: Arc<Semaphore>,
    max_batch: usize,
    max_delay: Duration,
    placement: Placement,
    metrics: Arc<Metrics>,
    arriving: Arc<AtomicUsize>,
}

impl Worker {
    async fn run(mut self) {
        let mut held: Option<Job> = None;
        loop {
            let first = match held.take() {
                Some(job) => job,
                None => match self.receiver.recv().await {
                    Some(job) => {
                        self.metrics.queue_depth.dec();
                        job
                    }
                    None => return,
                },
            };
            let deadline = Instant::now() + self.max_delay;
            // While the engine is busy, more requests pile up in the queue
            // and join this batch below.
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                return;
            };
            // Expired while it waited for the engine: not run.
            let Some(first) = first.claim(&self.metrics) else {
                continue;
            };
            let mut rows = first.rows;
            let mut jobs = vec![first];
            while rows < self.max_batch {
                let next = match self.receiver.try_recv() {
                    Ok(job) => job,
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        if self.max_delay.is_zero() || self.arriving.load(Ordering::Acquire) == 0 {
                            break;
                        }
                        match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                            Ok(Some(job)) => job,
                            Ok(None) | Err(_) => break,
                        }
                    }
                };
                self.metrics.queue_depth.dec();
                if rows + next.rows > self.max_batch {
                    held = Some(next);
                    break;
                }
                let Some(next) = next.claim(&self.metrics) else {
                    continue;
                };
                rows += next.rows;
                jobs.push(next);
            }
            self.metrics.batch_size.observe(rows as f64);
            match self.placement {
                Placement::Inline => run_batch(self.backend.as_ref(), jobs, permit, &self.metrics),
                Placement::Blocking => {
                    let (backend, metrics) = (self.backend.clone(), self.metrics.clone());
                    tokio::task::spawn_blocking(move || {
                        run_batch(backend.as_ref(), jobs, permit, &metrics)
                    });
                }
            }
        }
    }
}

/// One model call, its time recorded in the metrics.
fn timed_run(
    backend: &dyn Backend,
    inputs: Vec<Tensor>,
    metrics: &Metrics,
) -> Result<Vec<Tensor>, BackendError> {
    let started = std::time::Instant::now();
    let result = backend.run(inputs);
    metrics
        .inference_seconds
        .observe(started.elapsed().as_secs_f64());
    result
}

/// Joins the jobs' inputs, runs them once and sends each job its rows.
fn run_batch(
    backend: &dyn Backend,
    jobs: Vec<Job>,
    permit: OwnedSemaphorePermit,
    metrics: &Metrics,
) {
    if jobs.len() == 1 {
        let job = jobs.into_iter().next().expect("one job");
        let result = timed_run(backend, job.inputs, metrics);
        drop(permit);
        let _ = job.reply.send(result.map_err(InferError::from));
        return;
    }
    let inputs_per_job = jobs[0].inputs.len();
    let joined: Result<Vec<Tensor>, BackendError> = (0..inputs_per_job)
        .map(|i| {
            let parts: Vec<&Tensor> = jobs.iter().map(|job| &job.inputs[i]).collect();
            tensor::concat(&parts).map_err(|e| BackendError::Run(format!("joining the batch: {e}")))
        })
        .collect();
    let result = joined.and_then(|inputs| timed_run(backend, inputs, metrics));
    drop(permit);
    let outputs = match result {
        Ok(outputs) => outputs,
        Err(e) => {
            let message = e.to_string();
            for job in jobs {
                let _ = job
                    .reply
                    .send(Err(BackendError::Run(message.clone()).into()));
            }
            return;
        }
    };
    let rows: Vec<usize> = jobs.iter().map(|job| job.rows).collect();
    let total: usize = rows.iter().sum();
    // Outputs without a batch axis (or not batch-sized) go whole to every job.
    let mut pieces: Vec<std::vec::IntoIter<Tensor>> = outputs
        .iter()
        .map(|output| {
            if output.shape.first() == Some(&total) {
                tensor::split(output, &rows).into_iter()
            } else {
                vec![output.clone(); rows.len()].into_iter()
            }
        })
        .collect();
    for job in jobs {
        let own: Vec<Tensor> = pieces.iter_mut().filter_map(Iterator::next).collect();
        let _ = job.reply.send(Ok(own));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Signature, TensorSpec};
    use crate::tensor::{DataType, TensorData};
    use std::sync::Mutex;

    /// Doubles its input and records the batch sizes it saw, and the
    /// threads it ran on.
    struct Doubler {
        signature: Signature,
        seen: Mutex<Vec<usize>>,
        ran_on: Mutex<Vec<std::thread::ThreadId>>,
    }

    impl Doubler {
        fn new() -> Doubler {
            let spec = |name: &str| TensorSpec {
                name: name.into(),
                datatype: DataType::Fp32,
                shape: vec![-1, 1],
            };
            Doubler {
                signature: Signature {
                    inputs: vec![spec("x")],
                    outputs: vec![spec("y")],
                },
                seen: Mutex::default(),
                ran_on: Mutex::default(),
            }
        }
    }

    impl Backend for Doubler {
        fn signature(&self) -> &Signature {
            &self.signature
        }
        fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, BackendError> {
            let input = &inputs[0];
            self.seen.lock().unwrap().push(input.rows());
            self.ran_on
                .lock()
                .unwrap()
                .push(std::thread::current().id());
            let TensorData::Fp32(values) = &input.data else {
                unreachable!("fp32 only")
            };
            let doubled = values.iter().map(|v| v * 2.0).collect();
            Ok(vec![Tensor::new(
                "y",
                input.shape.clone(),
                TensorData::Fp32(doubled),
            )])
        }
        fn concurrency(&self) -> usize {
            1
        }
    }

    fn request(values: Vec<f32>) -> Vec<Tensor> {
        vec![Tensor::new(
            "x",
            vec![values.len(), 1],
            TensorData::Fp32(values),
        )]
    }

    fn batcher(
        backend: &Arc<Doubler>,
        max_batch: usize,
        max_delay: Duration,
        placement: Placement,
    ) -> Batcher {
        Batcher::new(
            backend.clone(),
            max_batch,
            max_delay,
            placement,
            Arc::new(Metrics::new()),
        )
    }

    /// Sends `count` concurrent requests with distinct values (request `i`
    /// has `rows(i)` rows); each must get exactly its own rows back, doubled.
    async fn burst(batcher: Arc<Batcher>, count: usize, rows: fn(usize) -> usize) {
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let batcher = batcher.clone();
                let arrival = batcher.arrival();
                tokio::spawn(async move {
                    let values: Vec<f32> = (0..rows(i)).map(|r| (i * 10 + r) as f32).collect();
                    let out = batcher
                        .infer(request(values.clone()), Some(arrival), None)
                        .await
                        .unwrap();
                    let expected: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
                    assert_eq!(out[0].data, TensorData::Fp32(expected));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_get_their_own_rows() {
        let backend = Arc::new(Doubler::new());
        let batcher = Arc::new(batcher(
            &backend,
            16,
            Duration::from_millis(20),
            Placement::Blocking,
        ));
        burst(batcher, 40, |i| 1 + i % 3).await;
        let seen = backend.seen.lock().unwrap();
        assert!(seen.iter().all(|&rows| rows <= 16), "{seen:?}");
        assert!(seen.len() < 40, "requests were never batched: {seen:?}");
    }

    #[tokio::test]
    async fn a_lone_request_does_not_wait_for_company() {
        let backend = Arc::new(Doubler::new());
        // An hour of max-delay: the test would hang if the batcher waited.
        let batcher = batcher(&backend, 8, Duration::from_secs(3600), Placement::Inline);
        let arrival = batcher.arrival();
        let out = batcher
            .infer(request(vec![2.0]), Some(arrival), None)
            .await
            .unwrap();
        assert_eq!(out[0].data, TensorData::Fp32(vec![4.0]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_batcher_does_not_block_oversized_requests() {
        let backend = Arc::new(Doubler::new());
        let batcher = batcher(&backend, 4, Duration::from_millis(1), Placement::Blocking);
        // Let the batching task start and sit idle on an empty queue.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            batcher.infer(request(vec![1.0; 8]), None, None),
        )
        .await
        .expect("an oversized request must not wait for the batching task")
        .unwrap();
        assert_eq!(out[0].shape, vec![8, 1]);
    }

    #[tokio::test]
    async fn inline_batches_give_each_request_its_rows() {
        // A current-thread runtime, as a one-CPU server runs: the batch runs
        // in the batching task itself.
        let backend = Arc::new(Doubler::new());
        let batcher = Arc::new(batcher(
            &backend,
            8,
            Duration::from_millis(5),
            Placement::Inline,
        ));
        burst(batcher, 30, |i| 1 + i % 2).await;
        let seen = backend.seen.lock().unwrap();
        assert!(seen.iter().all(|&rows| rows <= 8), "{seen:?}");
        assert!(seen.len() < 30, "requests were never batched: {seen:?}");
        assert_eq!(seen.iter().sum::<usize>(), 45);
    }

    #[tokio::test]
    async fn oversized_request_runs_alone() {
        let backend = Arc::new(Doubler::new());
        let batcher = batcher(&backend, 4, Duration::from_millis(1), Placement::Inline);
        let out = batcher
            .infer(request(vec![1.0; 10]), None, None)
            .await
            .unwrap();
        assert_eq!(out[0].shape, vec![10, 1]);
        assert_eq!(*backend.seen.lock().unwrap(), vec![10]);
    }

    /// Echoes its input, but only once opened: until then a model call
    /// blocks, so requests queue behind it. Records the rows of each call.
    struct Gate {
        signature: Signature,
        open: Mutex<bool>,
        opened: std::sync::Condvar,
        seen: Mutex<Vec<usize>>,
    }

    impl Gate {
        fn new() -> Arc<Gate> {
            Arc::new(Gate {
                signature: Doubler::new().signature,
                open: Mutex::new(false),
                opened: std::sync::Condvar::new(),
                seen: Mutex::default(),
            })
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }

        /// Waits until `calls` model calls have started.
        async fn started(&self, calls: usize) {
            while self.seen.lock().unwrap().len() < calls {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    impl Backend for Gate {
        fn signature(&self) -> &Signature {
            &self.signature
        }
        fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, BackendError> {
            self.seen.lock().unwrap().push(inputs[0].rows());
            let open = self.open.lock().unwrap();
            drop(self.opened.wait_while(open, |open| !*open).unwrap());
            Ok(inputs)
        }
        fn concurrency(&self) -> usize {
            1
        }
    }

    fn shedding(gate: &Arc<Gate>, max_batch: usize, max_queue: usize) -> Arc<Batcher> {
        let batcher = Batcher::new(
            gate.clone(),
            max_batch,
            Duration::from_millis(1),
            Placement::Blocking,
            Arc::new(Metrics::new()),
        );
        Arc::new(batcher.with_shedding(Some(max_queue), None))
    }

    fn rejected(batcher: &Batcher, rejection: Rejection) -> u64 {
        batcher
            .metrics
            .rejected
            .get_or_create(&crate::metrics::RejectedLabels {
                reason: rejection.reason(),
            })
            .get()
    }

    /// Starts a request of one row in the background.
    fn send(
        batcher: &Arc<Batcher>,
        timeout: Option<Duration>,
    ) -> tokio::task::JoinHandle<Result<Vec<Tensor>, InferError>> {
        let batcher = batcher.clone();
        tokio::spawn(async move { batcher.infer(request(vec![1.0]), None, timeout).await })
    }

    async fn waiting(batcher: &Batcher, rows: usize) {
        while batcher.admission.waiting() != rows {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn full_queue_turns_a_request_away(max_batch: usize) {
        let gate = Gate::new();
        let batcher = shedding(&gate, max_batch, 2);
        let running = send(&batcher, None);
        gate.started(1).await;
        // The engine is busy: these two wait, and fill the queue.
        let queued = [send(&batcher, None), send(&batcher, None)];
        waiting(&batcher, 2).await;
        let turned_away = batcher.infer(request(vec![1.0]), None, None).await;
        assert!(
            matches!(turned_away, Err(InferError::Rejected(Rejection::QueueFull))),
            "{turned_away:?}"
        );
        assert_eq!(
            batcher.admission.waiting(),
            2,
            "a rejected request adds no rows"
        );
        assert_eq!(rejected(&batcher, Rejection::QueueFull), 1);
        gate.open();
        running.await.unwrap().unwrap();
        for request in queued {
            request.await.unwrap().unwrap();
        }
        assert_eq!(
            batcher.admission.waiting(),
            0,
            "rows stop counting once run"
        );
        assert_eq!(gate.seen.lock().unwrap().iter().sum::<usize>(), 3);
        // With room again, a request is admitted.
        batcher.infer(request(vec![1.0]), None, None).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_turns_requests_away_at_once() {
        full_queue_turns_a_request_away(4).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_turns_requests_away_without_batching() {
        full_queue_turns_a_request_away(1).await;
    }

    async fn deadline_passes_in_the_queue(max_batch: usize) {
        let gate = Gate::new();
        let batcher = shedding(&gate, max_batch, 100);
        let running = send(&batcher, None);
        gate.started(1).await;
        let late = send(&batcher, Some(Duration::from_millis(10)));
        let patient = send(&batcher, None);
        let late = tokio::time::timeout(Duration::from_secs(30), late)
            .await
            .expect("a late request is answered while the engine is busy")
            .unwrap();
        assert!(
            matches!(late, Err(InferError::Rejected(Rejection::Deadline))),
            "{late:?}"
        );
        gate.open();
        running.await.unwrap().unwrap();
        patient.await.unwrap().unwrap();
        // The engine saw the running request and the patient one, never the late one.
        assert_eq!(gate.seen.lock().unwrap().iter().sum::<usize>(), 2);
        assert_eq!(rejected(&batcher, Rejection::Deadline), 1, "counted once");
        assert_eq!(batcher.admission.waiting(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_past_its_deadline_is_answered_and_never_run() {
        deadline_passes_in_the_queue(4).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_past_its_deadline_never_runs_without_batching() {
        deadline_passes_in_the_queue(1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_timeout_applies_to_requests_without_their_own() {
        let gate = Gate::new();
        let batcher = Batcher::new(
            gate.clone(),
            4,
            Duration::from_millis(1),
            Placement::Blocking,
            Arc::new(Metrics::new()),
        )
        .with_shedding(None, Some(Duration::from_millis(10)));
        let batcher = Arc::new(batcher);
        let running = send(&batcher, None);
        gate.started(1).await;
        let late = tokio::time::timeout(Duration::from_secs(30), send(&batcher, None))
            .await
            .expect("a late request is answered while the engine is busy")
            .unwrap();
        assert!(matches!(
            late,
            Err(InferError::Rejected(Rejection::Deadline))
        ));
        gate.open();
        // The running request had started before its deadline: it finishes.
        running.await.unwrap().unwrap();
        assert_eq!(gate.seen.lock().unwrap().iter().sum::<usize>(), 1);
    }

    #[tokio::test]
    async fn inline_placement_keeps_larger_requests_off_the_runtime_thread() {
        let backend = Arc::new(Doubler::new());
        let batcher = batcher(&backend, 4, Duration::from_millis(1), Placement::Inline);
        // A current-thread test runtime runs every task on this thread.
        let here = std::thread::current().id();
        batcher
            .infer(request(vec![1.0; 4]), None, None)
            .await
            .unwrap();
        batcher
            .infer(request(vec![1.0; 5]), None, None)
            .await
            .unwrap();
        let ran_on = backend.ran_on.lock().unwrap();
        assert_eq!(ran_on[0], here, "a max-batch request runs inline");
        assert_ne!(ran_on[1], here, "a larger one runs on a blocking thread");
    }
}
