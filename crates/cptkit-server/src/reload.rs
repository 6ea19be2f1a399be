//! Hot reload: SIGHUP, or with `--watch` a changed file, reads everything the configuration names
//! again (the data directory, the rule-set files, the benchmark stores, and whatever else registers a
//! reload step, such as TLS certificates) and swaps it in at once. Requests in progress finish on the
//! data they started with. A file that does not load keeps the old data: the failure is logged with
//! the file and why, and the server goes on serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::data::{DataStore, ServerData};
use crate::metrics;

/// How often `--watch` looks at the files.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Another thing to reload beside the data (e.g. TLS certificates): its name for the log, the files
/// it reads (for `--watch`), and the step itself, which must keep the old state when it fails.
pub struct ReloadStep {
    pub name: &'static str,
    pub files: Vec<PathBuf>,
    pub reload: Box<dyn Fn() -> Result<(), String> + Send + Sync>,
}

impl std::fmt::Debug for ReloadStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadStep").field("name", &self.name).field("files", &self.files).finish_non_exhaustive()
    }
}

/// Reloads the server's data and every registered step. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reloader(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    store: DataStore,
    steps: Vec<ReloadStep>,
}

impl Reloader {
    pub fn new(config: Config, store: DataStore, steps: Vec<ReloadStep>) -> Self {
        Reloader(Arc::new(Inner { config, store, steps }))
    }

    /// Reloads the data, then each step; each part that fails keeps its old state. Returns whether
    /// everything reloaded. Blocking (reads files): call it off the async runtime.
    pub fn reload(&self, reason: &str) -> bool {
        let started = Instant::now();
        let mut ok = match ServerData::load(&self.0.config) {
            Ok(data) => {
                let rule_sets = data.rules.rule_sets().count();
                let payer_benchmarks = data.benchmarks.len();
                self.0.store.replace(data);
                tracing::info!(reason, rule_sets, payer_benchmarks, "reloaded the data");
                true
            }
            Err(error) => {
                tracing::error!(reason, %error, "reload failed: still serving the data loaded before");
                false
            }
        };
        metrics::record_reload("data", ok);
        for step in &self.0.steps {
            let reloaded = (step.reload)();
            metrics::record_reload(step.name, reloaded.is_ok());
            match reloaded {
                Ok(()) => tracing::info!(reason, step = step.name, "reloaded"),
                Err(error) => {
                    tracing::error!(reason, step = step.name, %error, "reload failed: keeping the previous one");
                    ok = false;
                }
            }
        }
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(reason, ok, elapsed_ms, "reload finished");
        ok
    }

    /// [`Reloader::reload`] on a blocking thread.
    pub async fn reload_async(&self, reason: &'static str) -> bool {
        let reloader = self.clone();
        tokio::task::spawn_blocking(move || reloader.reload(reason)).await.unwrap_or_else(|_| {
            tracing::error!(reason, "reload panicked: still serving the data loaded before");
            false
        })
    }

    /// Every file a reload reads: the rule-set files, every file under the data and benchmarks
    /// directories, and each step's files.
    fn watched(&self) -> Vec<PathBuf> {
        let config = &self.0.config;
        let mut paths: Vec<PathBuf> = config.rule_sets.clone();
        paths.extend(config.data_dir.iter().chain(&config.benchmarks_dir).cloned());
        paths.extend(self.0.steps.iter().flat_map(|s| s.files.iter().cloned()));
        paths
    }

    /// With `--watch`: looks at the watched files every [`WATCH_INTERVAL`] and reloads once a change
    /// has settled (the same for two looks in a row, so a file being written is not read half-way).
    /// The files are looked at first here, when called, not when the task first runs: on a busy machine
    /// that can be after a client has changed a file, and the change would be taken as the start.
    pub fn watch(self) -> impl std::future::Future<Output = ()> {
        let paths = self.watched();
        let mut loaded = fingerprint(&paths);
        async move {
            let mut last = loaded.clone();
            let mut ticks = tokio::time::interval(WATCH_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let paths = paths.clone();
                let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&paths)).await else { continue };
                if now != loaded && now == last {
                    self.reload_async("a watched file changed").await;
                    loaded = now.clone();
                }
                last = now;
            }
        }
    }
}

/// Each file's path, modification time and length (directories walked, sorted). A file that cannot
/// be read shows as missing, so its return is a change too.
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    let mut files = Vec::new();
    for path in paths {
        walk(path, &mut files);
    }
    files.sort();
    files
}

fn walk(path: &Path, out: &mut Vec<(PathBuf, Option<(SystemTime, u64)>)>) {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    walk(&entry.path(), out);
                }
            }
        }
        Ok(meta) => out.push((path.to_owned(), meta.modified().ok().map(|m| (m, meta.len())))),
        Err(_) => out.push((path.to_owned(), None)),
    }
}
