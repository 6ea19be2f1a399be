//! `ProcessClaims`: a bidirectional stream of claims, answered one response per request, in request
//! order, with heavy work off the async runtime and bounded memory whatever the client does.
//!
//! One driver task per stream:
//!
//! 1. **Read a chunk.** It waits for the next request, then takes every further request already
//!    received, up to [`CHUNK_CLAIMS`] claims or [`CHUNK_BYTES`] of encoded claims. A client that
//!    sends one claim and waits gets a chunk of one; a client streaming a batch gets full chunks.
//!    Requests arrive as their bytes, undecoded (the server's routes pass them through): the job
//!    reads them (below).
//! 2. **Judge it off the runtime.** Each chunk goes to `spawn_blocking` (read, validate, price,
//!    convert and encode the answers to protobuf bytes, so the runtime threads only frame and write
//!    them: ~256 claims is a millisecond or two); a chunk of a few claims with nothing in flight is
//!    judged on the driver itself, where a blocking-pool hand-off would cost more than the work.
//!    Up to `max_in_flight()` (the cores, at most 8) chunks run at once, so a fast client's batch
//!    uses several cores.
//! 3. **Answer in order.** Jobs finish in any order but are awaited oldest first, and their answers
//!    go, whole chunks at a time, into a channel of `OUTPUT_CHUNKS` (2) chunks that the response
//!    stream drains. The answers are already protobuf bytes: [`crate::ClaimServiceRoutes`] sends them
//!    through a pass-through codec (the wire is what encoding each `ProcessClaimsResponse` gives).
//!
//! **Back-pressure.** When the client reads slower than it writes, the output channel fills, the
//! driver waits to send, stops reading requests, HTTP/2 flow control fills and the client's writes
//! wait. The server holds at most (1 being read + `max_in_flight()` + `OUTPUT_CHUNKS` + 1 being sent)
//! chunks per stream, however many claims the client pushes.
//!
//! **Cancellation.** When the client cancels or goes away, the response stream is dropped, the
//! driver sees the output channel close and returns (dropping the request stream), and a running
//! job stops before its next claim.
//!
//! A request stream that fails (a message over the size limit, a broken connection, bytes that are
//! not a request) ends the response stream with that status after the answers to the requests before
//! it.
//!
//! **Reading.** A request's bytes go through [`cptkit_proto::read_process_claims_request`] into a
//! claim the job reuses from request to request; a request that reader declines (anything not plainly
//! well-formed) is decoded with prost and converted as the unary calls do, which gives the canonical
//! answer or error. The answers are the same either way.
//!
//! Each claim is judged on its own, as `ValidateClaim` and `PriceClaim` judge it: the edits across
//! claims (BAT001-BAT009) need the whole batch at once and are not run on a stream.

use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use cptkit_core::today_utc;
use time::Date;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::Stream;
use tonic::Status;

use crate::access_log::RequestLog;
use crate::claims;
use crate::data::ServerData;

/// Most claims judged in one blocking job.
pub const CHUNK_CLAIMS: usize = 256;
/// A chunk also ends once its encoded claims reach this size, so 256 claims near the request-size
/// limit cannot make one chunk hundreds of megabytes.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// A chunk this small, with nothing in flight, is judged on the driver task (microseconds of work).
const INLINE_CLAIMS: usize = 4;
/// ... and has at most this many encoded bytes in all (about 32 lines: a line is ~100 bytes).
const INLINE_BYTES: usize = 4 * 1024;
/// Judged chunks waiting for the client to read them.
const OUTPUT_CHUNKS: usize = 2;

/// Chunks judged at once on one stream: the cores this process may use, at most 8, so one stream
/// cannot hold more than a few thousand claims however wide the machine is.
fn max_in_flight() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8)
}

/// The answers to one chunk, encoded on the thread that judged them: each `ProcessClaimsResponse`'s
/// protobuf bytes, back to back, exactly as encoding the message gives them.
#[derive(Debug, Default)]
struct Answers {
    bytes: Bytes,
    /// Each answer's length in `bytes`, in request order.
    lengths: Vec<usize>,
    /// Answers that carry an error (counted in the access log).
    errors: usize,
    /// What ended the chunk before its last request (the stream ends with it after these answers).
    failure: Option<Status>,
}

/// What a chunk of encoded answers starts with: ~1.3 KB per priced one-line claim; more grows it.
const ANSWER_BYTES: usize = 1536;

/// Judges `chunk` in order and encodes the answers, stopping early (with the answers so far) once
/// `cancelled` says the client went away or a request ends the stream.
fn judge_chunk(
    data: &ServerData,
    chunk: Vec<Bytes>,
    today: Date,
    log: &RequestLog,
    cancelled: impl Fn() -> bool,
) -> Answers {
    let mut bytes = BytesMut::with_capacity(chunk.len() * ANSWER_BYTES);
    let mut lengths = Vec::with_capacity(chunk.len());
    let (mut errors, mut failure) = (0, None);
    let mut scratch = claims::Scratch::default();
    for request in chunk {
        if cancelled() {
            break;
        }
        let start = bytes.len();
        match claims::process_encoded(data, &request, today, &mut scratch, &mut bytes) {
            Ok(error) => errors += usize::from(error),
            Err(status) => {
                // A partly written answer is not sent.
                bytes.truncate(start);
                failure = Some(status);
                break;
            }
        }
        lengths.push(bytes.len() - start);
    }
    scratch.count_judged(log);
    Answers { bytes: bytes.freeze(), lengths, errors, failure }
}

/// Starts the driver for one stream and returns the response stream. The whole stream is judged
/// with `data`, the snapshot current when it started, and its requests without `today` against the
/// date it started (UTC).
pub(crate) fn start(data: Arc<ServerData>, inbound: impl Requests, log: RequestLog) -> ProcessClaimsStream {
    let (out, answers) = mpsc::channel(OUTPUT_CHUNKS);
    log.count_claims(0, 0);
    tokio::spawn(drive(data, inbound, today_utc(), out, log));
    ProcessClaimsStream { answers, rest: Bytes::new(), lengths: Vec::new().into_iter() }
}

/// The request stream: each request's bytes, or the status that ends it.
pub(crate) trait Requests: Stream<Item = Result<Bytes, Status>> + Unpin + Send + 'static {}

impl<S: Stream<Item = Result<Bytes, Status>> + Unpin + Send + 'static> Requests for S {}

async fn drive(
    data: Arc<ServerData>,
    mut inbound: impl Requests,
    today: Date,
    out: mpsc::Sender<Result<Answers, Status>>,
    log: RequestLog,
) {
    let max_in_flight = max_in_flight();
    let mut in_flight: VecDeque<JoinHandle<Answers>> = VecDeque::with_capacity(max_in_flight);
    let mut reader = ChunkReader::default();
    let mut failure: Option<Status> = None;
    // Sends a chunk's answers; what ended it early ends the stream after them (later chunks dropped).
    let send = |mut answers: Answers, failure: &mut Option<Status>| {
        log.count_claims(answers.lengths.len(), answers.errors);
        if let Some(status) = answers.failure.take() {
            *failure = Some(status);
        }
        out.send(Ok(answers))
    };
    loop {
        let reading = failure.is_none() && !reader.done();
        if !reading && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            // In this order: notice a client that went away; send finished answers (oldest job only,
            // so they leave in request order); read more requests.
            biased;
            () = out.closed() => return,
            done = std::future::poll_fn(|cx| match in_flight.front_mut() {
                Some(job) => Pin::new(job).poll(cx),
                None => Poll::Pending,
            }), if !in_flight.is_empty() => {
                in_flight.pop_front();
                match done {
                    Ok(answers) => {
                        if send(answers, &mut failure).await.is_err() {
                            return;
                        }
                        if failure.is_some() {
                            in_flight.clear();
                        }
                    }
                    Err(join) => {
                        failure = Some(Status::internal(format!("claim worker failed: {join}")));
                        in_flight.clear();
                    }
                }
            }
            chunk = reader.next(&mut inbound), if reading && in_flight.len() < max_in_flight => match chunk {
                Ok((chunk, _)) if chunk.is_empty() => {}
                Ok((chunk, bytes)) if in_flight.is_empty() && chunk.len() <= INLINE_CLAIMS && bytes <= INLINE_BYTES => {
                    if send(judge_chunk(&data, chunk, today, &log, || false), &mut failure).await.is_err() {
                        return;
                    }
                }
                Ok((chunk, _)) => {
                    let data = Arc::clone(&data);
                    let log = log.clone();
                    let out = out.clone();
                    in_flight.push_back(tokio::task::spawn_blocking(move || {
                        judge_chunk(&data, chunk, today, &log, || out.is_closed())
                    }));
                }
                Err(status) => failure = Some(status),
            },
        }
    }
    if let Some(status) = failure {
        let _ = out.send(Err(status)).await;
    }
}

/// Reads requests a chunk at a time: waits for the first, then takes what is already there.
#[derive(Debug, Default)]
struct ChunkReader {
    /// The request stream has ended (cleanly or with an error).
    ended: bool,
    /// An error met after some requests of a chunk: returned on the next read.
    error: Option<Status>,
}

impl ChunkReader {
    /// Nothing more to read: the stream ended and any error it ended with was returned.
    fn done(&self) -> bool {
        self.ended && self.error.is_none()
    }

    /// The next chunk and its size on the wire: at least one request, or empty once the stream has
    /// ended, or the stream's error. Cancel-safe: requests taken from the stream are returned in the
    /// same poll.
    async fn next(&mut self, inbound: &mut impl Requests) -> Result<(Vec<Bytes>, usize), Status> {
        if let Some(status) = self.error.take() {
            return Err(status);
        }
        if self.ended {
            return Ok((Vec::new(), 0));
        }
        std::future::poll_fn(|cx| {
            let mut chunk = Vec::new();
            let mut bytes = 0;
            while chunk.len() < CHUNK_CLAIMS && bytes < CHUNK_BYTES {
                match Pin::new(&mut *inbound).poll_next(cx) {
                    Poll::Ready(Some(Ok(request))) => {
                        bytes += request.len();
                        chunk.push(request);
                    }
                    Poll::Ready(Some(Err(status))) => {
                        self.ended = true;
                        if chunk.is_empty() {
                            return Poll::Ready(Err(status));
                        }
                        self.error = Some(status);
                        break;
                    }
                    Poll::Ready(None) => {
                        self.ended = true;
                        break;
                    }
                    Poll::Pending if chunk.is_empty() => return Poll::Pending,
                    Poll::Pending => break,
                }
            }
            Poll::Ready(Ok((chunk, bytes)))
        })
        .await
    }
}

/// The responses of one `ProcessClaims` call, in request order, each as its encoded protobuf bytes
/// (a `pb::ProcessClaimsResponse`).
#[derive(Debug)]
pub struct ProcessClaimsStream {
    answers: mpsc::Receiver<Result<Answers, Status>>,
    /// The chunk being sent: what is left of its bytes and the lengths of its answers.
    rest: Bytes,
    lengths: std::vec::IntoIter<usize>,
}

impl Stream for ProcessClaimsStream {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(length) = self.lengths.next() {
                // Shares the chunk's buffer: no copy.
                return Poll::Ready(Some(Ok(self.rest.split_to(length))));
            }
            match ready!(self.answers.poll_recv(cx)) {
                Some(Ok(chunk)) => {
                    self.rest = chunk.bytes;
                    self.lengths = chunk.lengths.into_iter();
                }
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                None => return Poll::Ready(None),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.lengths.len(), None)
    }
}
