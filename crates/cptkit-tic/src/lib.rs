//! cptkit-tic: payers' Transparency in Coverage (TiC) in-network-rates files in, rate benchmarks out.
//!
//! ```no_run
//! use cptkit_tic::{IngestOptions, ingest, write_parquet, read_dir};
//! let result = ingest(&["in-network.json.gz"], &IngestOptions::default());
//! for file in &result.summary.files {
//!     println!("{}: {} records, {} kept, {} malformed", file.path.display(), file.records, file.kept, file.malformed.len());
//! }
//! write_parquet("benchmarks/payer.parquet", &result.benchmarks)?;
//! let back = read_dir("benchmarks")?;
//! # Ok::<(), cptkit_tic::TicError>(())
//! ```
//!
//! The schema is CMS's: <https://github.com/CMSgov/price-transparency-guide> (`schemas/in-network-rates`,
//! `schemas/provider-reference`). See README.md for what is read, the heuristics and the Parquet layout.

mod aggregate;
mod ingest;
mod nppes;
mod scan;
mod schema;
mod store;

use std::path::PathBuf;

pub use aggregate::quantile_type7;
pub use cptkit_core::{MedicareComparison, PayerBenchmark, RateBasis, RateProvenance};
pub use ingest::{
    CodeFilter, FileSummary, Ingest, IngestOptions, IngestSummary, Malformed, UnresolvedReference, ingest,
};
pub use nppes::Nppes;
pub use store::{arrow_schema, read_dir, read_parquet, record_batch, write_parquet};

/// Why a file (or the NPPES file, or the store) could not be read or written at all. Problems inside one
/// `in_network` record are not errors: they are [`Malformed`] findings and reading goes on.
#[derive(Debug, thiserror::Error)]
pub enum TicError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not an in-network-rates JSON object, or breaks off where reading cannot resume.
    #[error("{}: byte {offset}: {message}", path.display())]
    Syntax { path: PathBuf, offset: u64, message: String },
    #[error("NPPES file {}: {message}", path.display())]
    Nppes { path: PathBuf, message: String },
    #[error("benchmark store {}: {message}", path.display())]
    Store { path: PathBuf, message: String },
}
