//! TiC in-network-rates throughput on one core (a benchmark, not a test):
//! `cargo run --release -p cptkit-tic --example bench_tic -- FILE.json[.gz] [--all-codes] [--out DIR]`
//!
//! Runs `ingest` with the default anesthesia code filter (the same aggregation `bench/tic/compare.py`
//! does with ijson and DuckDB) and prints MB/s of uncompressed JSON, by wall time and by this thread's
//! CPU time, and the peak RSS (VmHWM from /proc/self/status).

use std::time::Instant;

use cptkit_tic::{CodeFilter, IngestOptions, ingest};

#[path = "../../../bench/proc_stats.rs"]
mod proc_stats;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: bench_tic FILE.json[.gz] [--all-codes] [--out DIR]")?;
    let mut options = IngestOptions::default();
    if args.iter().any(|a| a == "--all-codes") {
        options.codes = CodeFilter::All;
    }
    let out = args.iter().position(|a| a == "--out").and_then(|i| args.get(i + 1));
    cptkit_core::Reference::embedded().warm()?;
    let (start, cpu) = (Instant::now(), proc_stats::thread_cpu_seconds());
    let result = ingest(&[path], &options);
    let (secs, cpu) = (start.elapsed().as_secs_f64(), proc_stats::thread_cpu_seconds() - cpu);
    let file = result.summary.files.first().ok_or("no summary")?;
    if let Some(e) = &file.error {
        return Err(e.to_string().into());
    }
    let mb = file.bytes as f64 / 1e6;
    let on_disk = std::fs::metadata(path)?.len() as f64 / 1e6;
    println!("file: {path} ({on_disk:.1} MB on disk, {mb:.1} MB of JSON{})", if file.gzip { ", gzip" } else { "" });
    println!(
        "ingest: {secs:.2} s wall, {:.0} MB/s wall, {:.0} MB/s CPU time; {} records, {} kept, {} skipped, {} malformed, {} prices, {} benchmark rows",
        mb / secs,
        mb / cpu,
        file.records,
        file.kept,
        file.skipped,
        file.malformed.len(),
        file.prices,
        file.benchmark_rows
    );
    if let Some(dir) = out {
        let path = std::path::Path::new(dir).join("cptkit.parquet");
        cptkit_tic::write_parquet(&path, &result.benchmarks)?;
        println!("wrote {}", path.display());
    }
    match proc_stats::peak_rss_mb() {
        Some(mb) => println!("peak RSS (VmHWM): {mb:.1} MB"),
        None => println!("peak RSS: /proc/self/status not readable"),
    }
    Ok(())
}
