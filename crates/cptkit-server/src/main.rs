//! `cptkit-server`: parse the configuration, load the reference data, bind, serve until SIGTERM or
//! Ctrl-C. Everything else is in the library.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use cptkit_server::{
    Config, DataStore, ReloadStep, Reloader, Security, ServerData, init_tracing, serve_data, serve_metrics,
};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    // Held to the end of `main`: dropping it flushes the queued log lines.
    let _log = init_tracing(config.log_format, config.log_buffer_lines);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("cptkit-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let started = std::time::Instant::now();
    let store = DataStore::new(ServerData::load(&config)?);
    // Before binding: a bad certificate or tokens file stops the start-up, naming the file.
    let security = Security::from_config(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let metrics_listener = match config.metrics_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen for metrics on {address}: {e}"))?,
        ),
        None => None,
    };
    let shutdown = shutdown_signal()?;
    let reload_security = Arc::clone(&security);
    let steps = vec![ReloadStep {
        name: "security",
        files: security.files(),
        reload: Box::new(move || reload_security.reload()),
    }];
    let reloader = Reloader::new(config.clone(), store.clone(), steps);
    spawn_reload_on_sighup(reloader.clone())?;
    if config.watch {
        tokio::spawn(reloader.watch());
    }
    let address = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    let metrics_address = match &metrics_listener {
        Some(listener) => {
            Some(listener.local_addr().map_err(|e| format!("cannot read the bound metrics address: {e}"))?)
        }
        None => None,
    };
    let data = store.current();
    tracing::info!(
        %address,
        codes = data.reference.codes().len(),
        rule_sets = data.rules.rule_sets().count(),
        payer_benchmarks = data.benchmarks.len(),
        data_dir = config.data_dir.as_ref().map(|d| d.display().to_string()),
        metrics_address = metrics_address.map(tracing::field::display),
        startup_ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    drop(data);
    // The first line on stdout, for scripts that start the server on port 0; the metrics address
    // (when served) is the second.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "cptkit-server listening on {address}")
        .and_then(|()| match metrics_address {
            Some(metrics) => writeln!(stdout, "cptkit-server metrics on {metrics}"),
            None => Ok(()),
        })
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);
    if let Some(listener) = metrics_listener {
        // Scrapes stay answered through the shutdown grace; the task ends with the process.
        tokio::spawn(async move {
            if let Err(error) = serve_metrics(listener, std::future::pending()).await {
                tracing::error!(%error, "the metrics endpoint stopped");
            }
        });
    }

    serve_data(listener, store, security, &config, shutdown).await.map_err(|e| e.to_string())
}

/// SIGHUP reloads the data (and every reload step), one reload at a time. Installed before the
/// listening line is printed, so a SIGHUP sent right after it is never missed (nor kills the process).
#[cfg(unix)]
fn spawn_reload_on_sighup(reloader: Reloader) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).map_err(|e| format!("cannot install a signal handler: {e}"))?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading");
            reloader.reload_async("SIGHUP").await;
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn spawn_reload_on_sighup(_reloader: Reloader) -> Result<(), String> {
    Ok(())
}

/// A future that completes on SIGTERM or Ctrl-C (SIGINT). The handlers are installed now, before the
/// listening line is printed, so a signal sent right after it is never missed.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind| signal(kind).map_err(|e| format!("cannot install a signal handler: {e}"));
    let mut terminate = install(SignalKind::terminate())?;
    let mut interrupt = install(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("Ctrl-C received"),
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received");
        }
    })
}
