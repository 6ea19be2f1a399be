//! Logging that never stalls serving. Lines go to stderr through a bounded queue drained by one
//! writer thread (`tracing-appender`'s non-blocking writer, lossy): when the reader of stderr stops
//! reading (a stuck log collector), the queue fills and further lines are dropped and counted instead
//! of blocking the runtime's workers. While the count grows, a warning says so every 10 seconds, and
//! the count is a metric (`cptkit_log_lines_dropped_total`).

use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use crate::config::LogFormat;

/// Lines queued for stderr before new ones are dropped (`--log-buffer-lines`): a few MiB of lines,
/// enough for a collector's pause of some seconds under load.
pub const DEFAULT_LOG_BUFFER_LINES: usize = 16_384;

/// How often a growing count of dropped lines is reported.
const DROP_WARNING_EVERY: Duration = Duration::from_secs(10);

/// The dropped-line count of the installed writer, read by the metrics.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the log writer running. Hold it in `main`: dropping it flushes the lines still queued
/// (waiting at most about a second, so a stuck stderr cannot hold the exit).
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    // Declared first so it drops first: the warning thread stops before the writer flushes.
    _stop_warnings: mpsc::Sender<()>,
    _writer: WorkerGuard,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

/// Installs the global tracing subscriber: level from `RUST_LOG` (default `info`), lines to stderr
/// through a queue of `buffer_lines` lines that drops (and counts) lines rather than block.
pub fn init_tracing(format: LogFormat, buffer_lines: usize) -> LogGuard {
    use tracing_subscriber::EnvFilter;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(buffer_lines.max(1))
        .thread_name("cptkit-log")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    let _ = DROPPED.set(dropped.clone());

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }

    let (stop_warnings, stop) = mpsc::channel();
    // A plain thread, not a task: it needs no runtime and ends when the guard drops.
    let spawned =
        std::thread::Builder::new().name("cptkit-log-drops".into()).spawn(move || warn_while_dropping(&dropped, &stop));
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the dropped-log-lines warning thread; the metric still counts them");
    }
    LogGuard { _stop_warnings: stop_warnings, _writer: guard }
}

/// Log lines dropped so far because stderr was not read fast enough (0 before [`init_tracing`]).
pub fn dropped_log_lines() -> u64 {
    DROPPED.get().map_or(0, |counter| counter.dropped_lines() as u64)
}

/// Every [`DROP_WARNING_EVERY`] while the count grows, a warning through the same queue: dropped too
/// while the reader is stuck, it gets through once the reader catches up, saying how many were lost.
fn warn_while_dropping(dropped: &ErrorCounter, stop: &mpsc::Receiver<()>) {
    let mut reported = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(DROP_WARNING_EVERY) {
        let now = dropped.dropped_lines();
        if now > reported {
            tracing::warn!(
                dropped = now - reported,
                dropped_total = now,
                "log lines dropped: stderr is not read fast enough (see --log-buffer-lines)"
            );
            reported = now;
        }
    }
}
