//! Counting answers while the load runs, and the summary printed and written as JSON afterwards.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tonic::Code;

use crate::expect::Outcome;
use crate::rss::RssSample;
use crate::{Answer, Answered, Kind, Options, code_name};

/// Wrong answers described in the summary (the count covers them all).
const EXAMPLES: usize = 10;

fn histogram() -> Histogram<u64> {
    // Microseconds from 1 µs to an hour, 3 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid")
}

#[derive(Debug)]
struct KindStats {
    latency: Histogram<u64>,
    right: u64,
    wrong: u64,
    hung: u64,
    claims: u64,
    statuses: BTreeMap<String, u64>,
}

impl Default for KindStats {
    fn default() -> Self {
        KindStats { latency: histogram(), right: 0, wrong: 0, hung: 0, claims: 0, statuses: BTreeMap::new() }
    }
}

/// Counts of one worker (merged at the end, so workers share nothing while running).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    kinds: BTreeMap<Kind, KindStats>,
    wrong_examples: Vec<String>,
    status_examples: BTreeMap<String, String>,
    pub(crate) not_sent: u64,
    worker_failures: Vec<String>,
}

impl Stats {
    pub(crate) fn record(&mut self, answer: Answer) {
        let kind = self.kinds.entry(answer.kind).or_default();
        let micros = u64::try_from(answer.latency.as_micros()).unwrap_or(u64::MAX).max(1);
        // Latency is of the requests the server took on: a shed answer is counted, not timed (it is
        // fast, and would hide how long accepted requests wait under overload).
        let shed = matches!(&answer.outcome, Answered::Checked(Outcome::Status(Code::ResourceExhausted, _)));
        if !shed {
            kind.latency.saturating_record(micros);
        }
        kind.claims += answer.claims;
        match answer.outcome {
            Answered::Checked(Outcome::Right) => kind.right += 1,
            Answered::Checked(Outcome::Wrong(why)) => {
                kind.wrong += 1;
                if self.wrong_examples.len() < EXAMPLES {
                    self.wrong_examples.push(format!("{} {}: {why}", answer.kind.name(), answer.case));
                }
            }
            Answered::Checked(Outcome::Status(code, message)) => {
                let name = code_name(code);
                if !self.status_examples.contains_key(&name) {
                    self.status_examples
                        .insert(name.clone(), format!("{} {}: {message}", answer.kind.name(), answer.case));
                }
                *kind.statuses.entry(name).or_default() += 1;
            }
            Answered::Hung => kind.hung += 1,
        }
    }

    pub(crate) fn merge(&mut self, other: Stats) {
        for (kind, theirs) in other.kinds {
            let ours = self.kinds.entry(kind).or_default();
            // Same bounds on both sides: adding cannot fail.
            let _ = ours.latency.add(&theirs.latency);
            ours.right += theirs.right;
            ours.wrong += theirs.wrong;
            ours.hung += theirs.hung;
            ours.claims += theirs.claims;
            for (status, count) in theirs.statuses {
                *ours.statuses.entry(status).or_default() += count;
            }
        }
        let room = EXAMPLES.saturating_sub(self.wrong_examples.len());
        self.wrong_examples.extend(other.wrong_examples.into_iter().take(room));
        for (status, example) in other.status_examples {
            self.status_examples.entry(status).or_insert(example);
        }
        self.not_sent += other.not_sent;
        self.worker_failures.extend(other.worker_failures);
    }

    pub(crate) fn worker_failed(&mut self, why: String) {
        self.worker_failures.push(why);
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Latency {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
            mean_ms: histogram.mean() / 1000.0,
        }
    }
}

/// One request kind's results.
#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    pub requests: u64,
    pub right: u64,
    pub wrong: u64,
    pub hung: u64,
    /// Claims answered (PriceClaim 1, a stream its claims, ParseClaims the file's claims).
    pub claims: u64,
    /// Statuses other than the answer the case gives, by gRPC name (e.g. RESOURCE_EXHAUSTED).
    pub statuses: BTreeMap<String, u64>,
    pub latency: Latency,
}

/// The server's RSS during the run.
#[derive(Debug, Clone, Serialize)]
pub struct RssReport {
    pub pid: u32,
    pub first_kib: u64,
    pub max_kib: u64,
    pub last_kib: u64,
    pub samples: Vec<RssSample>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub target: String,
    pub mode: String,
    pub seconds: f64,
    /// Requests answered, one way or another (a ProcessClaims stream is one request).
    pub requests: u64,
    pub right: u64,
    pub wrong: u64,
    /// No complete answer within --hang-after.
    pub hung: u64,
    /// Open loop: requests due while --max-in-flight were already in flight.
    pub not_sent: u64,
    /// Statuses other than each case's answer, by gRPC name, over all kinds.
    pub errors_by_status: BTreeMap<String, u64>,
    pub throughput_rps: f64,
    pub claims_per_second: f64,
    pub latency: Latency,
    pub by_kind: BTreeMap<String, KindSummary>,
    /// The first few wrong answers: kind, case name and what differed.
    pub wrong_examples: Vec<String>,
    /// For each status of errors_by_status, the first request that got it and the status message.
    pub status_examples: BTreeMap<String, String>,
    /// Tasks of the generator that failed (a bug of the generator, never expected).
    pub generator_failures: Vec<String>,
    pub rss: Option<RssReport>,
}

impl Summary {
    pub(crate) fn new(options: &Options, stats: Stats, elapsed: Duration, rss: Option<Vec<RssSample>>) -> Summary {
        let mut all = histogram();
        let mut by_kind = BTreeMap::new();
        let mut errors_by_status: BTreeMap<String, u64> = BTreeMap::new();
        let (mut right, mut wrong, mut hung, mut claims) = (0, 0, 0, 0);
        for (kind, k) in &stats.kinds {
            let _ = all.add(&k.latency);
            for (status, count) in &k.statuses {
                *errors_by_status.entry(status.clone()).or_default() += count;
            }
            right += k.right;
            wrong += k.wrong;
            hung += k.hung;
            claims += k.claims;
            by_kind.insert(
                kind.name().to_owned(),
                KindSummary {
                    requests: k.latency.len(),
                    right: k.right,
                    wrong: k.wrong,
                    hung: k.hung,
                    claims: k.claims,
                    statuses: k.statuses.clone(),
                    latency: Latency::of(&k.latency),
                },
            );
        }
        let seconds = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let rss = options.server_pid.zip(rss).and_then(|(pid, samples)| {
            Some(RssReport {
                pid,
                first_kib: samples.first()?.kib,
                max_kib: samples.iter().map(|s| s.kib).max()?,
                last_kib: samples.last()?.kib,
                samples,
            })
        });
        let mode = match options.rate {
            Some(rate) => format!("open loop, {rate} requests/s"),
            None => format!("closed loop, {} workers", options.concurrency),
        };
        Summary {
            target: options.target.clone(),
            mode,
            seconds,
            requests: all.len(),
            right,
            wrong,
            hung,
            not_sent: stats.not_sent,
            errors_by_status,
            throughput_rps: all.len() as f64 / seconds,
            claims_per_second: claims as f64 / seconds,
            latency: Latency::of(&all),
            by_kind,
            wrong_examples: stats.wrong_examples,
            status_examples: stats.status_examples,
            generator_failures: stats.worker_failures,
            rss,
        }
    }

    /// Answers with this status (gRPC name, e.g. "RESOURCE_EXHAUSTED").
    pub fn status_count(&self, code: Code) -> u64 {
        self.errors_by_status.get(&code_name(code)).copied().unwrap_or(0)
    }

    /// Requests that got no right answer and no status: wrong or hung, plus generator failures.
    pub fn lost_or_wrong(&self) -> u64 {
        self.wrong + self.hung + self.generator_failures.len() as u64
    }

    /// Every answer right, except statuses in `allowed` (e.g. RESOURCE_EXHAUSTED under shedding).
    pub fn is_clean_allowing(&self, allowed: &[Code]) -> bool {
        let allowed: Vec<String> = allowed.iter().map(|c| code_name(*c)).collect();
        self.lost_or_wrong() == 0 && self.errors_by_status.keys().all(|status| allowed.contains(status))
    }

    /// Every answer right: no wrong, hung or failed requests and no unexpected status.
    pub fn is_clean(&self) -> bool {
        self.is_clean_allowing(&[])
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cptkit-loadgen: {} against {} for {:.1} s", self.mode, self.target, self.seconds)?;
        writeln!(
            f,
            "  {} requests ({:.0}/s, {:.0} claims/s): {} right, {} wrong, {} hung, {} not sent",
            self.requests,
            self.throughput_rps,
            self.claims_per_second,
            self.right,
            self.wrong,
            self.hung,
            self.not_sent
        )?;
        let l = &self.latency;
        writeln!(
            f,
            "  latency ms: p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms
        )?;
        for (name, k) in &self.by_kind {
            let l = &k.latency;
            writeln!(
                f,
                "  {name:<15} {:>8} req {:>8} right {:>4} wrong  p50 {:>8.3}  p99 {:>8.3}  p99.9 {:>8.3} ms",
                k.requests, k.right, k.wrong, l.p50_ms, l.p99_ms, l.p999_ms
            )?;
            if !k.statuses.is_empty() {
                writeln!(f, "  {:<15} statuses: {:?}", "", k.statuses)?;
            }
        }
        if !self.errors_by_status.is_empty() {
            writeln!(f, "  statuses (all kinds): {:?}", self.errors_by_status)?;
        }
        for (status, example) in &self.status_examples {
            writeln!(f, "  first {status}: {example}")?;
        }
        for example in &self.wrong_examples {
            writeln!(f, "  wrong: {example}")?;
        }
        for failure in &self.generator_failures {
            writeln!(f, "  generator task failed: {failure}")?;
        }
        if let Some(rss) = &self.rss {
            writeln!(
                f,
                "  server RSS (pid {}): first {} MiB, max {} MiB, last {} MiB ({} samples)",
                rss.pid,
                rss.first_kib / 1024,
                rss.max_kib / 1024,
                rss.last_kib / 1024,
                rss.samples.len()
            )?;
        }
        Ok(())
    }
}
