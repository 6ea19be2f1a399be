//! The server's resident memory over time, from `/proc/PID/status` (Linux).

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One reading: seconds since the run began and VmRSS in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RssSample {
    pub at_ms: u64,
    pub kib: u64,
}

/// VmRSS of process `pid`, in KiB.
pub fn read_rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no VmRSS in /proc/{pid}/status")))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Samples every `interval` until stopped; a process gone or unreadable ends the sampling.
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<RssSample>>,
}

impl Sampler {
    pub(crate) fn start(pid: u32, interval: Duration) -> Sampler {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let began = Instant::now();
            let mut samples = Vec::new();
            let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = &mut stopped => break,
                }
                let Ok(kib) = read_rss_kib(pid) else { break };
                samples.push(RssSample { at_ms: began.elapsed().as_millis() as u64, kib });
            }
            // One last reading at the end of the run.
            if let Ok(kib) = read_rss_kib(pid) {
                samples.push(RssSample { at_ms: began.elapsed().as_millis() as u64, kib });
            }
            samples
        });
        Sampler { stop, task }
    }

    pub(crate) async fn stop(self) -> Vec<RssSample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_parses() {
        let status = "Name:\tcptkit-server\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(51234));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn own_rss_is_readable() {
        let kib = read_rss_kib(std::process::id()).expect("own VmRSS");
        assert!(kib > 0);
    }
}
