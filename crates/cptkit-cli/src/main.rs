//! `cptkit`: validate, price and reconcile claims (X12 837P/835 or claim JSON), and turn payers'
//! price-transparency files into rate benchmarks, from the command line. See README.md.
//!
//! This file holds the command line and the exit codes; each command is its own module, and every claim
//! is judged by the core's one judge, so the CLI answers what Python and gRPC answer.
//!
//! Exit codes: 0 clean; 1 findings of error severity, X12 problems, claims that could not be read or
//! priced, underpaid lines, or malformed TiC records; 2 unreadable input (a file that cannot be opened,
//! or holds neither X12 nor JSON; a bad option; for ingest-tic, no TiC file could be read at all).

mod ingest_tic;
mod input;
mod options;
mod output;
mod price;
mod reconcile;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rust_decimal::Decimal;

use crate::options::{Common, Pricing};

#[derive(Debug, Parser)]
#[command(
    name = "cptkit",
    version,
    about = "Validate, price and reconcile anesthesia claims (X12 837P/835 or claim JSON); benchmark payers' TiC rates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate every claim of an 837P or a claim JSON file: X12 problems, claims that could not be
    /// read, and findings with their place in the file.
    Validate {
        /// An 837P, or claim JSON (one claim, an array of claims, or one claim per line).
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Validate and price every claim of an 837P or a claim JSON file.
    Price {
        /// An 837P, or claim JSON (one claim, an array of claims, or one claim per line).
        file: PathBuf,
        #[command(flatten)]
        pricing: Pricing,
        #[command(flatten)]
        common: Common,
    },
    /// Reconcile claims with the payer's 835: expected (cptkit's price) against allowed and paid.
    Reconcile {
        /// An 837P, or claim JSON.
        file_837: PathBuf,
        file_835: PathBuf,
        /// A line is underpaid when allowed is below expected by more than this (dollars).
        #[arg(long, default_value = "1.00", value_parser = tolerance)]
        tolerance: Decimal,
        #[command(flatten)]
        pricing: Pricing,
        #[command(flatten)]
        common: Common,
    },
    /// Read payers' Transparency in Coverage in-network-rates files (plain or gzip) into rate benchmarks
    /// (quantiles per payer, code, billing class, place of service, modifiers and negotiated type) in Parquet.
    IngestTic {
        /// In-network-rates JSON files, plain or gzip.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory holding separate provider-reference files (local paths, or downloaded copies of URLs).
        #[arg(long)]
        provider_refs: Option<PathBuf>,
        /// NPPES dissemination file (CSV): join NPIs to their primary taxonomy.
        #[arg(long)]
        nppes: Option<PathBuf>,
        /// Only these codes, comma-separated (default: every code).
        #[arg(long, value_delimiter = ',', conflicts_with = "anesthesia")]
        codes: Vec<String>,
        /// Only the CPT anesthesia codes cptkit knows.
        #[arg(long)]
        anesthesia: bool,
        /// The Parquet file to write, e.g. benchmarks/payer.parquet.
        #[arg(long)]
        out: PathBuf,
        /// Print JSON instead of the readable summary.
        #[arg(long)]
        json: bool,
    },
}

/// `--tolerance`, read as every face reads a tolerance (`cptkit_x12::ReconcileOptions::tolerance_from_text`).
fn tolerance(text: &str) -> Result<Decimal, String> {
    cptkit_x12::ReconcileOptions::tolerance_from_text(text).map_err(|e| e.message().to_owned())
}

/// Why a command stopped before reporting anything: exit 2.
#[derive(Debug)]
struct Unreadable(String);

/// What a command ends with: `Ok(true)` clean (exit 0), `Ok(false)` problems reported (exit 1).
type Outcome = Result<bool, Unreadable>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Validate { file, common } => validate::run(&file, &common),
        Command::Price { file, pricing, common } => price::run(&file, &pricing, &common),
        Command::Reconcile { file_837, file_835, tolerance, pricing, common } => {
            reconcile::run(&file_837, &file_835, tolerance, &pricing, &common)
        }
        Command::IngestTic { files, provider_refs, nppes, codes, anesthesia, out, json } => {
            ingest_tic::code_filter(&codes, anesthesia)
                .and_then(|codes| ingest_tic::run(&files, provider_refs, nppes.as_deref(), codes, &out, json))
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Unreadable(message)) => {
            eprintln!("cptkit: {message}");
            ExitCode::from(2)
        }
    }
}
