//! The 837P reader on every core: one thread splits the input into transaction sets, worker threads
//! read each set's claims, and the answers come out in file order.
//!
//! The splitter is the sequential reader itself (tokenizer + envelope checks) with a handler that reads
//! no claims: it only skims body segments (their ids, for the envelope's counts and syntax checks) and
//! keeps a copy of each transaction's bytes (ST to SE). A transaction that passes the envelope checks is
//! re-read by a worker from those bytes, starting at the ST's byte offset and segment number, with the
//! sequential reader's claim handler: the same segments at the same locations reach the same handler, so
//! claims, rejected claims and errors are the sequential reader's, byte offsets and all. Envelope errors
//! come from the splitter, in the same order. Memory stays bounded: at most `workers + 2` transactions
//! are in flight (one more than the workers hold, so that one is always waiting for the next free
//! worker while the caller's consumer works on the front one), and a transaction larger than
//! [`MAX_JOB_BYTES`] is read on the splitter's thread as it streams by instead of being copied.
//! A transaction the caller gives back ([`crate::Reader837::recycle`]) is freed by the worker that
//! read it: freeing on the splitter's thread the blocks another thread allocated took that thread
//! more than half of its time.

use std::collections::VecDeque;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::envelope::{Driver, Envelope, Handler, Transaction};
use crate::error::{SegmentRef, X12Error, X12ErrorKind};
use crate::p837::{Claims837, Handler837, ReadOptions, Transaction837};
use crate::segment::{Delimiters, Next, Segment, SegmentReader};

/// A transaction bigger than this is read on the splitter's thread (memory stays bounded).
pub(crate) const MAX_JOB_BYTES: u64 = 32 << 20;
/// How many items (transactions, errors) may wait for the one at the front to be read.
const MAX_QUEUED: usize = 4096;

/// What the splitter's handler makes of a transaction.
#[derive(Debug)]
pub(crate) enum Body {
    /// Its bytes are in the reader's capture: a job for a worker.
    Captured,
    /// Read on the splitter's thread (too big to copy).
    Read(Claims837),
}

/// The splitter's handler: notes where transactions begin and end; reads the claims itself only of a
/// transaction too big to hand out.
#[derive(Debug)]
pub(crate) struct Splitter {
    /// Reads a too-big transaction (and, with no worker yet, a lone one).
    handler: Handler837,
    /// `handler` is reading the current transaction's segments as they come.
    inline: bool,
    began: bool,
    aborted: bool,
}

impl Handler for Splitter {
    type Output = Body;
    const SET: &'static str = Handler837::SET;

    fn accepts(implementation: &str) -> bool {
        Handler837::accepts(implementation)
    }

    fn begin(&mut self, _envelope: &Envelope) {
        self.began = true;
        self.inline = false;
    }

    fn segment(&mut self, segment: &Segment<'_>) {
        if self.inline {
            self.handler.segment(segment);
        }
    }

    fn damaged(&mut self, error: &X12Error) -> bool {
        // Else the worker reading the transaction meets it too.
        !self.inline || self.handler.damaged(error)
    }

    fn finish(&mut self) -> Body {
        if std::mem::take(&mut self.inline) { Body::Read(self.handler.finish()) } else { Body::Captured }
    }

    fn abort(&mut self) {
        self.aborted = true;
        if std::mem::take(&mut self.inline) {
            self.handler.abort();
        }
    }
}

/// One transaction's bytes (from its ST to its SE), for a worker.
#[derive(Debug)]
struct Job {
    envelope: Envelope,
    bytes: Vec<u8>,
    delims: Delimiters,
}

/// Gives `handler` the body segments of a transaction from its bytes (ST first, then the body; SE not
/// included), located as in the whole input. Returns the bytes' buffer, for reuse.
fn feed(handler: &mut Handler837, envelope: &Envelope, bytes: Vec<u8>, delims: Delimiters) -> Vec<u8> {
    let st = envelope.at;
    let mut reader = SegmentReader::over(bytes, st.byte_offset, st.segment_number.saturating_sub(1), delims);
    handler.begin(envelope);
    let mut first = true;
    loop {
        match reader.next_segment() {
            Next::Segment(seg) if first => {
                first = false;
                debug_assert_eq!(seg.id(), b"ST");
            }
            Next::Segment(seg) => handler.segment(&seg),
            Next::Damaged { error, .. } => {
                handler.damaged(&error);
            }
            // The splitter read these same bytes without an error (else the transaction was rejected).
            Next::Error(e) => debug_assert!(e.message.is_empty(), "unexpected re-read error: {e}"),
            Next::End => break,
        }
    }
    reader.into_buffer()
}

/// Reads a job's claims; also returns its buffer, for the splitter to capture into again.
fn read_job(handler: &mut Handler837, job: Box<Job>) -> (Claims837, Vec<u8>) {
    let Job { envelope, bytes, delims } = *job;
    let bytes = feed(handler, &envelope, bytes, delims);
    (handler.finish(), bytes)
}

type JobResult = std::thread::Result<Claims837>;
/// A job with its number in file order.
type Numbered = (u64, Box<Job>);
/// A worker's answer: the job's number, its result, its buffer (none after a panic), and the worker's
/// index.
type Done = (u64, JobResult, Option<Vec<u8>>, usize);

/// The worker threads.
struct Pool {
    jobs: Option<Sender<Numbered>>,
    /// The workers' end of `jobs`, to empty when the reader is dropped early.
    job_queue: Arc<Mutex<Receiver<Numbered>>>,
    /// Claims given back by the caller, to each worker that read them (see [`ParDriver::recycle`]).
    recycled: Vec<Sender<Claims837>>,
    results: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts up to `workers` threads; None when not even one could be started.
    fn start(workers: usize, options: &ReadOptions) -> Option<Pool> {
        let (jobs, job_queue) = channel::<Numbered>();
        let (done, results) = channel();
        let job_queue = Arc::new(Mutex::new(job_queue));
        let mut threads = Vec::with_capacity(workers);
        let mut recycled = Vec::with_capacity(workers);
        for index in 0..workers {
            let (queue, done, options) = (Arc::clone(&job_queue), done.clone(), options.clone());
            let (given_back, to_free) = channel::<Claims837>();
            let spawned = std::thread::Builder::new().name("cptkit-x12-837".into()).spawn(move || {
                let mut handler = Handler837::new(options.clone());
                loop {
                    let next = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, job)) = next else { return };
                    // Freed here, where they were allocated: cheaper than on another thread.
                    to_free.try_iter().for_each(drop);
                    let (result, bytes) = match catch_unwind(AssertUnwindSafe(|| read_job(&mut handler, job))) {
                        Ok((claims, bytes)) => (Ok(claims), Some(bytes)),
                        Err(panic) => {
                            handler = Handler837::new(options.clone());
                            (Err(panic), None)
                        }
                    };
                    if done.send((seq, result, bytes, index)).is_err() {
                        return;
                    }
                }
            });
            match spawned {
                Ok(thread) => {
                    threads.push(thread);
                    recycled.push(given_back);
                }
                Err(_) => break,
            }
        }
        (!threads.is_empty()).then_some(Pool { jobs: Some(jobs), job_queue, recycled, results, threads })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends the workers once they finish the job in hand; the jobs still queued
        // (the reader dropped early) are dropped unread.
        self.jobs = None;
        if let Ok(queue) = self.job_queue.lock() {
            queue.try_iter().for_each(drop);
        }
        self.recycled.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// An item in file order: an error, or a transaction (`seq` numbers the ones handed to workers; 0 for
/// one read on this thread, which has its `result` from the start).
enum Slot {
    Ready(Result<Transaction837, X12Error>),
    Job { seq: u64, envelope: Envelope, job: Option<Box<Job>>, result: Option<JobResult>, worker: Option<usize> },
}

/// How many transactions handed out are remembered for [`ParDriver::recycle`] (by which worker read
/// them), so that a caller who never gives any back costs nothing that grows (16 bytes each). Enough
/// for a caller who gives back a run of claims after reading the next (`read_837(..., as_table=True)`
/// holds two runs of 16,384 claims, up to 32,768 transactions of one claim).
const MAX_HANDED: usize = 1 << 16;

/// The parallel reader (see the module docs).
pub(crate) struct ParDriver<R> {
    driver: Driver<R, Splitter>,
    options: ReadOptions,
    workers: usize,
    pool: Option<Pool>,
    /// Reads jobs on this thread when there are no workers.
    local: Option<Handler837>,
    /// No worker could be started: every transaction is read on this thread.
    no_pool: bool,
    queue: VecDeque<Slot>,
    next_seq: u64,
    in_flight: usize,
    /// Transactions in `queue`: handed out, read and waiting for the front, or not handed out yet.
    /// Bounded (not just `in_flight`): a slow front must not let read claims pile up behind it.
    jobs_queued: usize,
    /// [`MAX_JOB_BYTES`]; smaller in tests.
    max_job_bytes: u64,
    /// The transactions a worker read, handed out and not yet given back, oldest first, by the byte
    /// offset of their ST (unique in the input): the worker that read each.
    handed: VecDeque<(u64, usize)>,
    /// [`MAX_HANDED`]; smaller in tests.
    max_handed: usize,
}

impl<R> std::fmt::Debug for ParDriver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParDriver")
            .field("workers", &self.workers)
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl<R: Read> ParDriver<R> {
    pub(crate) fn new(src: R, options: ReadOptions, workers: usize) -> Self {
        let splitter =
            Splitter { handler: Handler837::new(options.clone()), inline: false, began: false, aborted: false };
        let mut driver = Driver::new(src, splitter);
        driver.reader_mut().set_skim(true);
        ParDriver {
            driver,
            options,
            workers,
            pool: None,
            local: None,
            no_pool: false,
            queue: VecDeque::new(),
            next_seq: 0,
            in_flight: 0,
            jobs_queued: 0,
            max_job_bytes: MAX_JOB_BYTES,
            handed: VecDeque::new(),
            max_handed: MAX_HANDED,
        }
    }

    pub(crate) fn driver(&self) -> &Driver<R, Splitter> {
        &self.driver
    }

    pub(crate) fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// The next transaction or error, in file order.
    pub(crate) fn next_item(&mut self) -> Option<Result<Transaction837, X12Error>> {
        loop {
            let full = self.queue.len() >= MAX_QUEUED || self.jobs_queued > self.workers;
            match self.queue.front_mut() {
                Some(Slot::Ready(_)) | Some(Slot::Job { result: Some(_), .. }) => {
                    if self.feed_workers() {
                        continue;
                    }
                    return self.pop_front();
                }
                // Not handed out (no workers): read it here once nothing more can come first.
                Some(Slot::Job { job: job @ Some(_), result, .. }) if self.no_pool || self.driver.at_end() || full => {
                    let job = job.take();
                    let handler = self.local.get_or_insert_with(|| Handler837::new(self.options.clone()));
                    *result = job.map(|job| catch_unwind(AssertUnwindSafe(|| read_job(handler, job).0)));
                    continue;
                }
                _ => {}
            }
            let room = self.jobs_queued < self.workers + 1 && self.queue.len() < MAX_QUEUED;
            if !self.driver.at_end() && room {
                self.read_more();
            } else if self.in_flight > 0 {
                self.wait_for_result();
            } else {
                // At the end with nothing in flight: the front (if any) is ready.
                return self.pop_front();
            }
        }
    }

    fn pop_front(&mut self) -> Option<Result<Transaction837, X12Error>> {
        let slot = self.queue.pop_front()?;
        if matches!(slot, Slot::Job { .. }) {
            self.jobs_queued -= 1;
        }
        // Only what a worker read is remembered: one read on this thread is freed here when given back.
        if let Slot::Job { result: Some(Ok(_)), worker: Some(worker), envelope, .. } = &slot {
            let read_by = (envelope.at.byte_offset, *worker);
            if self.handed.len() >= self.max_handed {
                self.handed.pop_front();
            }
            self.handed.push_back(read_by);
        }
        match slot {
            Slot::Ready(item) => Some(item),
            Slot::Job { envelope, result: Some(Ok(body)), .. } => Some(Ok(Transaction { envelope, body })),
            // A bug in the claim handler: panic here as the sequential reader would have.
            Slot::Job { result: Some(Err(panic)), .. } => resume_unwind(panic),
            Slot::Job { envelope, .. } => Some(Err(lost(&envelope))),
        }
    }

    /// Reads segments with the splitter until it finishes something (a transaction, an error) or the
    /// input ends; queues what it finished.
    fn read_more(&mut self) {
        let offset = loop {
            if !self.driver.handler_mut().inline {
                self.driver.skip_body();
            }
            let offset = self.driver.step();
            let splitter = self.driver.handler_mut();
            let (began, aborted) = (std::mem::take(&mut splitter.began), std::mem::take(&mut splitter.aborted));
            let inline = splitter.inline;
            let reader = self.driver.reader_mut();
            if aborted {
                reader.stop_capture();
            }
            if began && let Some(offset) = offset {
                reader.start_capture(offset);
            }
            if !inline {
                reader.set_skim(true);
                // Only a transaction still open can be read inline: one that the segment just read
                // ended (its SE) is a job, however big.
                if reader.captured_len() > self.max_job_bytes && self.driver.in_transaction() {
                    self.read_big_transaction_here();
                }
            }
            if self.driver.has_pending() || self.driver.at_end() {
                break offset;
            }
        };
        let mut queued_job = false;
        while let Some(item) = self.driver.pop_pending() {
            let slot = match item {
                Err(e) => Slot::Ready(Err(e)),
                // Read here, but queued like a job: it counts against the transactions read ahead.
                Ok(Transaction { envelope, body: Body::Read(body) }) => {
                    self.jobs_queued += 1;
                    Slot::Job { seq: 0, envelope, job: None, result: Some(Ok(body)), worker: None }
                }
                Ok(Transaction { envelope, body: Body::Captured }) => {
                    // Finished at its SE: the bytes up to the SE are the job.
                    let reader = self.driver.reader_mut();
                    let bytes = reader.take_capture(offset.unwrap_or_else(|| reader.bytes_read()));
                    let delims = reader.delimiters().unwrap_or_default();
                    let job = Box::new(Job { envelope: envelope.clone(), bytes, delims });
                    self.next_seq += 1;
                    queued_job = true;
                    self.jobs_queued += 1;
                    Slot::Job { seq: self.next_seq, envelope, job: Some(job), result: None, worker: None }
                }
            };
            self.queue.push_back(slot);
        }
        if queued_job {
            self.hand_out();
        }
    }

    /// Gives waiting jobs to the workers, starting them when a second job is waiting (an input of one
    /// transaction is read on this thread, without starting any).
    fn hand_out(&mut self) {
        let waiting = self.queue.iter().filter(|s| matches!(s, Slot::Job { job: Some(_), .. })).count();
        if waiting == 0 || self.no_pool {
            return;
        }
        if self.pool.is_none() {
            if waiting < 2 {
                return;
            }
            self.pool = Pool::start(self.workers, &self.options);
            if self.pool.is_none() {
                self.no_pool = true;
                return;
            }
        }
        let Some(sender) = self.pool.as_ref().and_then(|p| p.jobs.as_ref()) else { return };
        for slot in &mut self.queue {
            if let Slot::Job { seq, job: job @ Some(_), .. } = slot
                && let Some(j) = job.take()
            {
                if let Err(returned) = sender.send((*seq, j)) {
                    // Every worker is gone: read it here.
                    *job = Some(returned.0.1);
                    self.no_pool = true;
                    return;
                }
                self.in_flight += 1;
            }
        }
    }

    /// A transaction whose bytes pass [`MAX_JOB_BYTES`]: its claim handler reads what was copied so
    /// far and then every segment as it is read, on this thread.
    fn read_big_transaction_here(&mut self) {
        let reader = self.driver.reader_mut();
        let upto = reader.bytes_read();
        let bytes = reader.take_capture(upto);
        let delims = reader.delimiters().unwrap_or_default();
        reader.set_skim(false);
        let envelope = self.driver.envelope().clone();
        let splitter = self.driver.handler_mut();
        let bytes = feed(&mut splitter.handler, &envelope, bytes, delims);
        splitter.inline = true;
        self.driver.reader_mut().recycle(bytes);
    }

    /// Blocks for a worker's answer.
    fn wait_for_result(&mut self) {
        let received = self.pool.as_ref().map(|p| p.results.recv());
        match received {
            Some(Ok(done)) => self.take_result(done),
            // Every worker ended without answering (cannot happen: they catch panics). The jobs in
            // flight are reported as lost rather than waited for forever.
            _ => {
                self.in_flight = 0;
                self.no_pool = true;
                self.pool = None;
                for slot in &mut self.queue {
                    if let Slot::Job { job: None, result: None, envelope, .. } = slot {
                        self.jobs_queued -= 1;
                        *slot = Slot::Ready(Err(lost(envelope)));
                    }
                }
            }
        }
    }

    /// Takes the answers the workers already sent, without waiting.
    fn take_ready_results(&mut self) {
        while let Some(done) = self.pool.as_ref().and_then(|p| p.results.try_recv().ok()) {
            self.take_result(done);
        }
    }

    fn take_result(&mut self, (seq, result, bytes, index): Done) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(bytes) = bytes {
            self.driver.reader_mut().recycle(bytes);
        }
        for slot in &mut self.queue {
            if let Slot::Job { seq: s, result: r, worker, .. } = slot
                && *s == seq
            {
                *r = Some(result);
                *worker = Some(index);
                break;
            }
        }
    }

    /// Takes back a transaction the caller is done with, and has its claims freed by the worker that
    /// read them (glibc frees a block much faster on the thread that allocated it). One handed out too
    /// long ago to be remembered is freed here.
    pub(crate) fn recycle(&mut self, transaction: Transaction837) {
        if self.driver.at_end() && self.in_flight == 0 {
            // No job comes any more, so a worker would keep what it is given until the reader is
            // dropped: stop the workers (each frees what it holds as it ends) and free it here.
            self.pool = None;
            self.no_pool = true;
        }
        let st = transaction.envelope.at.byte_offset;
        // `handed` is in file order (ST offsets grow); given back in order, it is the first one.
        let read_by =
            self.handed.binary_search_by_key(&st, |&(offset, _)| offset).ok().and_then(|i| self.handed.remove(i));
        match read_by.and_then(|(_, worker)| self.pool.as_ref()?.recycled.get(worker)) {
            // A worker that is gone sends the claims back in the error, dropped here.
            Some(worker) => drop(worker.send(transaction.body)),
            None => drop(transaction),
        }
    }

    /// Before the caller gets the front item (and its consumer works on it): when no transaction is
    /// waiting for a worker, split the next one first, so that a worker finishing its job does not
    /// sit idle until the caller comes back. True if it read more.
    fn feed_workers(&mut self) -> bool {
        if self.pool.is_none() || self.no_pool || self.driver.at_end() {
            return false;
        }
        self.take_ready_results();
        let room = self.jobs_queued < self.workers + 2 && self.queue.len() < MAX_QUEUED;
        if room && self.in_flight <= self.workers {
            self.read_more();
            return true;
        }
        false
    }
}

fn lost(envelope: &Envelope) -> X12Error {
    X12Error::new(
        X12ErrorKind::Io,
        SegmentRef::default(),
        format!("transaction {} was lost by a reader thread", envelope.transaction_control),
    )
}

#[cfg(test)]
#[path = "../tests/support/gen837.rs"]
mod gen837;

#[cfg(test)]
mod tests {
    use super::*;

    /// Transactions too big to hand out are read on the splitter's thread as they stream by, whatever
    /// the size of the reads: the same answers, in the same order.
    #[test]
    fn big_transactions_are_read_in_place() {
        let input = gen837::generate(60);
        let sequential: Vec<_> = crate::Reader837::with_threads(&input[..], ReadOptions::default(), 1).collect();
        for max in [0, 2_000, 9_000] {
            for in_pieces in [false, true] {
                let src: Box<dyn std::io::Read> =
                    if in_pieces { Box::new(gen837::Chunks(&input, 61)) } else { Box::new(&input[..]) };
                let mut par = ParDriver::new(src, ReadOptions::default(), 2);
                par.max_job_bytes = max;
                let parallel: Vec<_> = std::iter::from_fn(|| par.next_item()).collect();
                assert_eq!(sequential.len(), parallel.len(), "{max}");
                for (i, (s, p)) in sequential.iter().zip(&parallel).enumerate() {
                    assert_eq!(s, p, "limit {max}, in pieces {in_pieces}, item {i}");
                }
            }
        }
    }

    /// Damage anywhere leaves the inline reading of big transactions agreeing with the sequential
    /// reader too (the damage test in `tests/parallel.rs` never reaches the size limit).
    #[test]
    fn damaged_big_transactions_read_the_same_in_place() {
        let clean = gen837::generate(12);
        for (round, input) in gen837::damaged(&clean, 150, 5).enumerate() {
            let sequential: Vec<_> = crate::Reader837::with_threads(&input[..], ReadOptions::default(), 1).collect();
            for max in [0, 1_500] {
                let mut par = ParDriver::new(gen837::Chunks(&input, 61), ReadOptions::default(), 2);
                par.max_job_bytes = max;
                let parallel: Vec<_> = std::iter::from_fn(|| par.next_item()).collect();
                assert_eq!(sequential, parallel, "round {round}, limit {max}");
            }
        }
    }

    /// Transactions read on the splitter's thread count against the transactions read ahead: a file of
    /// big transactions is not read whole before the first is returned.
    #[test]
    fn big_transactions_are_not_read_far_ahead() {
        let isa = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *250305*1200*^*00501*000000001*0*P*:~";
        for small in [1, 2] {
            let mut text = format!("{isa}GS*HC*S*R*20251110*0900*1*X*005010X222A1~");
            for t in 1..=100 {
                text.push_str(&format!("ST*837*{t}*005010X222A1~BHT*0019*00*1*20251110*0900*CH~"));
                let notes = if t <= small { 0 } else { 4_000 };
                text.push_str(&"NTE*ADD*FILLER TEXT~".repeat(notes));
                text.push_str(&format!("SE*{}*{t}~", notes + 3));
            }
            text.push_str("GE*100*1~IEA*1*000000001~");
            let mut par = ParDriver::new(text.as_bytes(), ReadOptions::default(), 2);
            par.max_job_bytes = 50_000;
            assert!(par.next_item().is_some_and(|item| item.is_ok()));
            assert!(par.queue.len() <= 4 && !par.driver.at_end(), "{small}: {} queued", par.queue.len());
            let rest = std::iter::from_fn(|| par.next_item()).filter(|item| item.is_ok()).count();
            assert_eq!(rest, 99);
        }
    }

    /// Transactions given back (in order, out of order, late, or never) leave every answer as the
    /// sequential reader's; the reader forgets each given back, and remembers no more than its limit.
    #[test]
    fn given_back_transactions_leave_the_answers_unchanged() {
        let input = gen837::generate(150);
        let sequential: Vec<_> = crate::Reader837::with_threads(&input[..], ReadOptions::default(), 1).collect();
        for give_back in [true, false] {
            let mut par = ParDriver::new(&input[..], ReadOptions::default(), 2);
            par.max_handed = 64;
            let (mut answers, mut held) = (Vec::new(), Vec::new());
            while let Some(item) = par.next_item() {
                answers.push(item.clone());
                let Ok(transaction) = item else { continue };
                held.push(transaction);
                if give_back && held.len() == 3 {
                    // The newest first, then the oldest: the middle one waits for the end.
                    par.recycle(held.pop().unwrap());
                    par.recycle(held.remove(0));
                }
                assert!(par.handed.len() <= 64);
            }
            assert!(answers.iter().filter(|a| a.is_ok()).count() > 64, "too few to fill `handed`");
            held.into_iter().for_each(|transaction| par.recycle(transaction));
            assert!(par.handed.is_empty() || !give_back, "every transaction given back is forgotten");
            // Given back after the end: no job would make a worker free it, so the workers are stopped.
            assert!(par.pool.is_none());
            assert_eq!(sequential, answers, "giving back: {give_back}");
        }
    }
}
