//! `cptkit ingest-tic FILE... --out F.parquet`: payers' Transparency in Coverage in-network-rates files
//! into rate benchmarks in Parquet, with what each file held and what could not be read.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use cptkit_tic::{CodeFilter, FileSummary, IngestOptions, IngestSummary, Malformed, Nppes, UnresolvedReference};
use serde::Serialize;

use crate::output;
use crate::{Outcome, Unreadable};

/// `--json`.
#[derive(Debug, Serialize)]
struct IngestJson<'a> {
    files: Vec<FileJson<'a>>,
    records: u64,
    malformed: usize,
    left_out: usize,
    benchmark_rows: usize,
    out: String,
}

#[derive(Debug, Serialize)]
struct FileJson<'a> {
    path: String,
    gzip: bool,
    reporting_entity_name: &'a str,
    last_updated_on: &'a str,
    version: &'a str,
    bytes: u64,
    records: u64,
    kept: u64,
    skipped: u64,
    not_fee_for_service: u64,
    prices: u64,
    provider_references: u64,
    benchmark_rows: usize,
    malformed: Vec<MalformedJson<'a>>,
    /// Values left out of records that were read (an NPI that is not 10 digits, ...).
    left_out: Vec<MalformedJson<'a>>,
    unresolved_references: Vec<UnresolvedJson<'a>>,
    /// Why the file was not read to its end.
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct MalformedJson<'a> {
    record_offset: u64,
    error_offset: u64,
    path: &'a str,
    message: &'a str,
}

#[derive(Debug, Serialize)]
struct UnresolvedJson<'a> {
    provider_group_id: &'a str,
    location: &'a str,
    why: &'a str,
}

impl<'a> From<&'a FileSummary> for FileJson<'a> {
    fn from(f: &'a FileSummary) -> Self {
        FileJson {
            path: f.path.display().to_string(),
            gzip: f.gzip,
            reporting_entity_name: &f.reporting_entity_name,
            last_updated_on: &f.last_updated_on,
            version: &f.version,
            bytes: f.bytes,
            records: f.records,
            kept: f.kept,
            skipped: f.skipped,
            not_fee_for_service: f.not_fee_for_service,
            prices: f.prices,
            provider_references: f.provider_references,
            benchmark_rows: f.benchmark_rows,
            malformed: f.malformed.iter().map(MalformedJson::from).collect(),
            left_out: f.left_out.iter().map(MalformedJson::from).collect(),
            unresolved_references: f.unresolved_references.iter().map(UnresolvedJson::from).collect(),
            error: f.error.as_ref().map(ToString::to_string),
        }
    }
}

impl<'a> From<&'a Malformed> for MalformedJson<'a> {
    fn from(m: &'a Malformed) -> Self {
        MalformedJson {
            record_offset: m.record_offset,
            error_offset: m.error_offset,
            path: &m.path,
            message: &m.message,
        }
    }
}

impl<'a> From<&'a UnresolvedReference> for UnresolvedJson<'a> {
    fn from(u: &'a UnresolvedReference) -> Self {
        UnresolvedJson { provider_group_id: &u.provider_group_id, location: &u.location, why: &u.why }
    }
}

/// `--codes` and `--anesthesia` (clap keeps them apart); neither: every code. A `--codes` value that is
/// no CPT/HCPCS code is refused, as Python refuses it.
pub fn code_filter(codes: &[String], anesthesia: bool) -> Result<CodeFilter, Unreadable> {
    if anesthesia {
        Ok(CodeFilter::Anesthesia)
    } else if codes.is_empty() {
        Ok(CodeFilter::All)
    } else {
        CodeFilter::codes(codes).map_err(|e| Unreadable(format!("--codes: {e}")))
    }
}

pub fn run(
    files: &[PathBuf],
    provider_refs_dir: Option<PathBuf>,
    nppes: Option<&Path>,
    codes: CodeFilter,
    out_path: &Path,
    json: bool,
) -> Outcome {
    let nppes = nppes.map(Nppes::load).transpose().map_err(|e| Unreadable(e.to_string()))?;
    let options = IngestOptions { codes, provider_refs_dir, nppes, ..IngestOptions::default() };
    let result = cptkit_tic::ingest(files, &options);
    let summary = &result.summary;
    if summary.files.iter().all(|f| f.error.is_some() && f.records == 0) {
        let why: Vec<String> = summary.files.iter().filter_map(|f| f.error.as_ref().map(ToString::to_string)).collect();
        return Err(Unreadable(format!("no TiC file could be read: {}", why.join("; "))));
    }
    cptkit_tic::write_parquet(out_path, &result.benchmarks).map_err(|e| Unreadable(e.to_string()))?;
    let rows = result.benchmarks.len();
    if json {
        output::emit_json(&IngestJson {
            files: summary.files.iter().map(FileJson::from).collect(),
            records: summary.records(),
            malformed: summary.malformed(),
            left_out: summary.left_out(),
            benchmark_rows: rows,
            out: out_path.display().to_string(),
        });
    } else {
        output::emit(|out| print(out, summary, rows, out_path));
    }
    Ok(summary.is_clean())
}

fn print(out: &mut impl Write, summary: &IngestSummary, rows: usize, out_path: &Path) -> io::Result<()> {
    for f in &summary.files {
        print_file(out, f)?;
    }
    writeln!(
        out,
        "total: {} files, {} records, {} malformed, {} values left out, {} benchmark rows written to {}: {}",
        summary.files.len(),
        summary.records(),
        summary.malformed(),
        summary.left_out(),
        rows,
        out_path.display(),
        if summary.is_clean() { "clean" } else { "PROBLEMS" }
    )
}

fn print_file(out: &mut impl Write, f: &FileSummary) -> io::Result<()> {
    let or_dash = |text: &str| if text.is_empty() { "-".to_owned() } else { text.to_owned() };
    writeln!(
        out,
        "{}: {} ({}), version {}, updated {}: {} records, {} kept, {} skipped, {} not fee-for-service, {} malformed, {} values left out; {} prices, {} benchmark rows",
        f.path.display(),
        if f.reporting_entity_name.is_empty() { "unnamed payer" } else { &f.reporting_entity_name },
        if f.gzip { "gzip" } else { "plain" },
        or_dash(&f.version),
        or_dash(&f.last_updated_on),
        f.records,
        f.kept,
        f.skipped,
        f.not_fee_for_service,
        f.malformed.len(),
        f.left_out.len(),
        f.prices,
        f.benchmark_rows
    )?;
    for m in &f.malformed {
        writeln!(out, "  malformed {m}")?;
    }
    for m in &f.left_out {
        writeln!(out, "  left out alone: {m}")?;
    }
    for u in &f.unresolved_references {
        writeln!(out, "  provider reference {} unresolved: {} ({})", u.provider_group_id, u.location, u.why)?;
    }
    if let Some(e) = &f.error {
        writeln!(out, "  not read to the end: {e}")?;
    }
    Ok(())
}
