//! `cptkit-loadgen`: run the load, print the summary, write it as JSON if asked. Exit 0 when every
//! answer was right (statuses allowed with `--allow-status`), 1 when not, 2 when the run could not start.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use cptkit_loadgen::{Options, Summary, run};

#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    options: Options,

    /// Statuses that do not fail the run, by gRPC name (e.g. RESOURCE_EXHAUSTED when the server sheds
    /// load on purpose). Repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_parser = parse_code)]
    allow_status: Vec<tonic::Code>,
}

fn parse_code(name: &str) -> Result<tonic::Code, String> {
    (0..=16)
        .map(tonic::Code::from_i32)
        .find(|code| cptkit_loadgen::code_name(*code) == name.trim().to_uppercase())
        .ok_or_else(|| format!("{name:?} is not a gRPC status name such as RESOURCE_EXHAUSTED"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let summary = match run(&cli.options).await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("cptkit-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{summary}");
    if let Some(path) = &cli.options.json
        && let Err(e) = write_json(&summary, path)
    {
        eprintln!("cptkit-loadgen: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if summary.is_clean_allowing(&cli.allow_status) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn write_json(summary: &Summary, path: &std::path::Path) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    if path.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{json}")
    } else {
        std::fs::write(path, json + "\n")
    }
}
