//! CPU time and peak memory from /proc, for the benchmark examples (each includes this file with
//! `#[path = "../../../bench/proc_stats.rs"] mod proc_stats;`). On a shared machine wall time also
//! counts the time other processes had the cores, so the benchmarks report CPU time beside it.

/// CPU time of the calling thread in seconds (/proc/thread-self/schedstat, nanoseconds on the CPU).
#[allow(dead_code)]
pub fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

/// CPU time of the whole process, every thread, in seconds (utime + stime of /proc/self/stat, in
/// clock ticks of 1/100 s).
#[allow(dead_code)]
pub fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<f64> = after.split_whitespace().skip(11).take(2).filter_map(|t| t.parse().ok()).collect();
    ticks.iter().sum::<f64>() / 100.0
}

/// Peak resident memory in MB of 10^6 bytes, the unit the goals and the byte sizes use (VmHWM of
/// /proc/self/status, which counts KiB).
#[allow(dead_code)]
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib as f64 * 1024.0 / 1e6)
}
