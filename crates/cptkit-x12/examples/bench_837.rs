//! X12 837P throughput (a benchmark, not a test):
//! `cargo run --release -p cptkit-x12 --example bench_837 -- FILE.x12 [segments|parse|full|both] [THREADS]`
//!
//! parse: stream the file into typed core claims (with source tables and X12 findings) on THREADS
//! worker threads (1: the caller's thread only; 0: one per core; default 1), giving each transaction
//! back to the reader once read (`Reader837::recycle`: its claims are freed by the worker that read
//! them; with `NO_RECYCLE=1` set they are dropped on the calling thread instead). full: the same, plus
//! `Reference::judge` (validate + price) on every claim on the calling thread, commercial and Medicare
//! Advantage claims at a contract conversion factor of 60.00. Prints one `name: value` line per figure
//! (see bench/x12/run.sh): MB/s by the wall clock and by the CPU time of the whole process, the CPU
//! seconds of the process and of the calling thread (with workers: the splitter, which also drops the
//! claims), and the peak RSS (VmHWM from /proc/self/status).

use std::time::Instant;

use cptkit_core::{JudgeOptions, PriceOptions, Reference, RuleBook, Verdict};
use cptkit_x12::{ReadOptions, Reader837};

#[path = "../../../bench/proc_stats.rs"]
mod proc_stats;

struct Counts {
    claims: u64,
    lines: u64,
    rejected: u64,
    errors: u64,
    priced: u64,
    not_valid: u64,
    not_priced: u64,
}

/// Wall seconds, process CPU seconds, the calling thread's CPU seconds (with workers: the splitter's
/// and the consumer's), and the counts.
type Run = (f64, f64, f64, Counts);

fn run(path: &str, price: bool, threads: usize) -> Result<Run, Box<dyn std::error::Error>> {
    let reference = Reference::embedded();
    let rules = RuleBook::embedded();
    // A contract factor for every payer: Medicare fee-for-service claims keep the CMS factor.
    let pricing = PriceOptions::contract("60".parse()?)?;
    let options = JudgeOptions { today: time::macros::date!(2026 - 11 - 27), pricing: Some(pricing) };
    let mut counts = Counts { claims: 0, lines: 0, rejected: 0, errors: 0, priced: 0, not_valid: 0, not_priced: 0 };
    let file = std::fs::File::open(path)?;
    let recycle = std::env::var_os("NO_RECYCLE").is_none();
    let start = Instant::now();
    let cpu = proc_stats::process_cpu_seconds();
    let caller_cpu = proc_stats::thread_cpu_seconds();
    let mut reader = Reader837::with_threads(file, ReadOptions::default(), threads);
    while let Some(item) = reader.next() {
        let Ok(t) = item else {
            counts.errors += 1;
            continue;
        };
        counts.rejected += t.body.rejected.len() as u64;
        for parsed in &t.body.claims {
            counts.claims += 1;
            counts.lines += parsed.claim.lines.len() as u64;
            if price {
                match reference.judge(&parsed.claim, &options, rules).map(|j| j.verdict) {
                    Ok(Verdict::Priced(_)) => counts.priced += 1,
                    Ok(Verdict::Rejected) => counts.not_valid += 1,
                    _ => counts.not_priced += 1,
                }
            }
        }
        if recycle {
            reader.recycle(t);
        }
    }
    let caller_cpu = proc_stats::thread_cpu_seconds() - caller_cpu;
    Ok((start.elapsed().as_secs_f64(), proc_stats::process_cpu_seconds() - cpu, caller_cpu, counts))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_837 FILE.x12 [segments|parse|full|both] [THREADS]";
    let path = args.next().ok_or(usage)?;
    let mode = args.next().unwrap_or_else(|| "both".to_owned());
    let threads: usize = args.next().map_or(Ok(1), |t| t.parse()).map_err(|_| usage)?;
    let mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    Reference::embedded().warm()?;
    println!("file_mb: {mb:.1}");
    if mode == "segments" || mode == "both" {
        // The tokenizer alone: segments as slices, no envelope checks, no claims.
        let file = std::fs::File::open(&path)?;
        let (start, cpu) = (Instant::now(), proc_stats::thread_cpu_seconds());
        let mut reader = cptkit_x12::SegmentReader::new(file);
        let (mut segments, mut elements) = (0u64, 0u64);
        while let Some(item) = reader.read_segment() {
            if let Ok(seg) = item {
                segments += 1;
                elements += seg.len() as u64;
            }
        }
        let (secs, cpu) = (start.elapsed().as_secs_f64(), proc_stats::thread_cpu_seconds() - cpu);
        println!("tokenize_mb_s_wall: {:.0}", mb / secs);
        println!("tokenize_mb_s_cpu: {:.0}", mb / cpu);
        println!("segments: {segments}");
        println!("elements: {elements}");
    }
    println!("threads: {threads}");
    if mode == "parse" || mode == "both" {
        let (secs, cpu, caller_cpu, c) = run(&path, false, threads)?;
        println!("parse_mb_s_wall: {:.0}", mb / secs);
        println!("parse_mb_s_cpu: {:.0}", mb / cpu);
        println!("parse_cpu_s: {cpu:.3}");
        println!("parse_caller_cpu_s: {caller_cpu:.3}");
        println!("claims: {}", c.claims);
        println!("lines: {}", c.lines);
        println!("rejected: {}", c.rejected);
        println!("envelope_errors: {}", c.errors);
    }
    if mode == "full" || mode == "both" {
        let (secs, cpu, _, c) = run(&path, true, threads)?;
        println!("full_mb_s_wall: {:.0}", mb / secs);
        println!("full_mb_s_cpu: {:.0}", mb / cpu);
        println!("priced: {}", c.priced);
        println!("not_valid: {}", c.not_valid);
        println!("not_priced: {}", c.not_priced);
    }
    if let Some(mb) = proc_stats::peak_rss_mb() {
        println!("peak_rss_mb: {mb:.1}");
    }
    Ok(())
}
