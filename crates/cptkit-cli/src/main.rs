//! `cptkit`: validate, price and reconcile X12 files, and turn payers' price-transparency files into rate
//! benchmarks, from the command line. See README.md.
//!
//! Exit codes: 0 clean; 1 findings of error severity, X12 problems, claims that could not be read or
//! priced, underpaid lines, or malformed TiC records; 2 unreadable input (a file that cannot be opened,
//! or holds no X12; for ingest-tic, no TiC file could be read at all).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cptkit_core::{Claim, Finding, PriceOptions, Reference, RuleBook, RuleSet, Severity, ValidationContext};
use cptkit_tic::{CodeFilter, FileSummary, IngestOptions, Nppes};
use cptkit_x12::{File837, LineFlag, ParsedClaim, ReadOptions, ReconcileOptions, SegmentRef, X12Error};
use rust_decimal::Decimal;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "cptkit",
    version,
    about = "Validate, price and reconcile anesthesia claims in X12 837P/835 files; benchmark payers' TiC rates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read an 837P and validate every claim: X12 problems and findings with their place in the file.
    Validate {
        /// The 837P file.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Validate and price every claim of an 837P.
    Price {
        file: PathBuf,
        #[command(flatten)]
        pricing: Pricing,
        #[command(flatten)]
        common: Common,
    },
    /// Reconcile an 837P with the payer's 835: expected (cptkit's price) against allowed and paid.
    Reconcile {
        file_837: PathBuf,
        file_835: PathBuf,
        /// A line is underpaid when allowed is below expected by more than this (dollars).
        #[arg(long, default_value = "1.00")]
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
        /// Only these codes, comma-separated (default: every CPT anesthesia code cptkit knows).
        #[arg(long, value_delimiter = ',', conflicts_with = "all_codes")]
        codes: Vec<String>,
        /// Every code of every billing code type.
        #[arg(long)]
        all_codes: bool,
        /// The Parquet file to write, e.g. benchmarks/payer.parquet.
        #[arg(long)]
        out: PathBuf,
        /// Print JSON instead of the readable summary.
        #[arg(long)]
        json: bool,
    },
}

/// How `price` and `reconcile` price claims.
#[derive(Debug, Args)]
struct Pricing {
    /// Contract conversion factor (commercial rule sets), e.g. 60.00.
    #[arg(long)]
    conversion_factor: Option<Decimal>,
    /// A rule set JSON file (the format of cptkit's embedded rule sets); used for every claim.
    #[arg(long)]
    rule_set: Option<PathBuf>,
}

impl Pricing {
    /// The rule book (embedded, plus the given file) and the options that force the file's rule set.
    fn resolve(&self) -> Result<(RuleBook, PriceOptions), Unreadable> {
        let (book, rule_set) = rule_book(self.rule_set.as_deref())?;
        Ok((book, PriceOptions { rule_set, conversion_factor: self.conversion_factor }))
    }
}

#[derive(Debug, Args)]
struct Common {
    /// Medicare locality for every claim (the 837 does not carry it), e.g. 13202-01.
    #[arg(long = "locality")]
    locality: Option<String>,
    /// Map a payer id or name to a cptkit payer id: --payer-id BCBSOK=bcbs-ok (repeatable).
    #[arg(long = "payer-id", value_parser = parse_pair)]
    payer_ids: Vec<(String, String)>,
    /// Judge "in the future" against this date (YYYY-MM-DD) instead of today.
    #[arg(long)]
    today: Option<String>,
    /// Print JSON instead of the readable report.
    #[arg(long)]
    json: bool,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// Why the command stopped before reporting: exit 2.
struct Unreadable(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(clean) => ExitCode::from(if clean { 0 } else { 1 }),
        Err(Unreadable(message)) => {
            eprintln!("cptkit: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<bool, Unreadable> {
    match cli.command {
        Command::Validate { file, common } => validate(&file, &common),
        Command::Price { file, pricing, common } => price(&file, &pricing, &common),
        Command::Reconcile { file_837, file_835, tolerance, pricing, common } => {
            reconcile(&file_837, &file_835, tolerance, &pricing, &common)
        }
        Command::IngestTic { files, provider_refs, nppes, codes, all_codes, out, json } => {
            let codes = if all_codes {
                CodeFilter::All
            } else if codes.is_empty() {
                CodeFilter::Anesthesia
            } else {
                CodeFilter::Codes(codes.iter().map(|c| c.trim().to_ascii_uppercase()).collect())
            };
            ingest_tic(&files, provider_refs, nppes.as_deref(), codes, &out, json)
        }
    }
}

fn context(common: &Common) -> Result<ValidationContext, Unreadable> {
    let today = match &common.today {
        None => time::OffsetDateTime::now_utc().date(),
        Some(text) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(text.trim(), &format)
                .map_err(|e| Unreadable(format!("--today {text:?}: expected YYYY-MM-DD ({e})")))?
        }
    };
    Ok(ValidationContext { today })
}

fn read_options(common: &Common) -> Result<ReadOptions, Unreadable> {
    let mut options = ReadOptions::default();
    if let Some(locality) = &common.locality {
        let id = locality.parse().map_err(|e: cptkit_core::Error| Unreadable(format!("--locality: {e}")))?;
        options.medicare_locality = Some(id);
    }
    options.payer_ids = common.payer_ids.iter().cloned().collect();
    Ok(options)
}

fn read_file(path: &Path) -> Result<Vec<u8>, Unreadable> {
    std::fs::read(path).map_err(|e| Unreadable(format!("cannot read {}: {e}", path.display())))
}

/// Reads an 837P; input with no transaction set at all (not X12, or only junk) is unreadable.
fn read_837(path: &Path, common: &Common) -> Result<File837, Unreadable> {
    let bytes = read_file(path)?;
    let file = cptkit_x12::read_837(&bytes[..], read_options(common)?);
    if file.transactions.is_empty() {
        let why = file.errors.first().map_or_else(|| "no X12 interchange found".to_owned(), ToString::to_string);
        return Err(Unreadable(format!("{}: no 837P transaction could be read: {why}", path.display())));
    }
    Ok(file)
}

fn rule_book(path: Option<&Path>) -> Result<(RuleBook, Option<String>), Unreadable> {
    let Some(path) = path else { return Ok((RuleBook::embedded().clone(), None)) };
    let text = String::from_utf8(read_file(path)?)
        .map_err(|_| Unreadable(format!("{}: the rule set is not UTF-8", path.display())))?;
    let rule_set = RuleSet::from_json(&text).map_err(|e| Unreadable(format!("{}: {e}", path.display())))?;
    let id = rule_set.id.clone();
    Ok((RuleBook::embedded().clone().with(rule_set), Some(id)))
}

fn at_json(at: SegmentRef) -> Value {
    json!({
        "segment": at.segment_number,
        "segment_id": at.segment_id(),
        "element": at.element_name(),
        "byte_offset": at.byte_offset,
    })
}

fn x12_error_json(e: &X12Error) -> Value {
    json!({ "kind": e.kind.as_str(), "message": e.message, "at": at_json(e.at),
            "transaction": e.control.transaction })
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn finding_json(claim: &ParsedClaim, f: &Finding) -> Value {
    json!({
        "claim_id": claim.claim.claim_id,
        "line": line_of(&f.field).map(|i| claim.lines.get(i).map_or(i as u64 + 1, |l| u64::from(l.line_number))),
        "edit_id": f.edit_id,
        "severity": severity(f.severity),
        "field": f.field,
        "message": f.message,
        "hint": f.hint,
        "at": at_json(claim.locate(f)),
    })
}

/// `lines[2].modifiers[0]` -> 2.
fn line_of(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("lines[")?;
    rest[..rest.find(']')?].parse().ok()
}

fn print_at(out: &mut impl Write, at: SegmentRef) {
    let element = at.element_name().map(|e| format!(" {e}")).unwrap_or_default();
    let _ = write!(out, "segment {} ({}{element}), byte {}", at.segment_number, at.segment_id(), at.byte_offset);
}

/// X12 problems, rejected claims and every finding (X12-level and core). Returns (json, any errors).
fn findings_report(file: &File837, ctx: &ValidationContext) -> (Value, bool) {
    let reference = Reference::embedded();
    let parsed: Vec<&ParsedClaim> = file.claims().collect();
    let claims: Vec<Claim> = parsed.iter().map(|p| p.claim.clone()).collect();
    let reports = reference.validate_batch(&claims, ctx);
    let mut findings = Vec::new();
    let mut errors = !file.errors.is_empty();
    for (p, report) in parsed.iter().zip(&reports) {
        for f in p.findings.iter().chain(&report.findings) {
            errors |= f.severity == Severity::Error;
            findings.push(finding_json(p, f));
        }
    }
    let mut rejected = Vec::new();
    let mut problems = Vec::new();
    for t in &file.transactions {
        for r in &t.body.rejected {
            errors = true;
            rejected.push(json!({
                "claim_id": r.claim_id, "at": at_json(r.at),
                "errors": r.errors.iter().map(x12_error_json).collect::<Vec<_>>(),
            }));
        }
        for e in &t.body.problems {
            errors = true;
            problems.push(x12_error_json(e));
        }
    }
    let value = json!({
        "claims": parsed.len(),
        "x12_errors": file.errors.iter().map(x12_error_json).collect::<Vec<_>>(),
        "transaction_problems": problems,
        "rejected_claims": rejected,
        "findings": findings,
    });
    (value, errors)
}

fn print_findings(out: &mut impl Write, file: &File837, ctx: &ValidationContext) -> bool {
    let reference = Reference::embedded();
    let parsed: Vec<&ParsedClaim> = file.claims().collect();
    let claims: Vec<Claim> = parsed.iter().map(|p| p.claim.clone()).collect();
    let reports = reference.validate_batch(&claims, ctx);
    let mut errors = false;
    for e in &file.errors {
        errors = true;
        let _ = writeln!(out, "X12 {} error: {}", e.kind.as_str(), e);
    }
    for t in &file.transactions {
        for e in &t.body.problems {
            errors = true;
            let _ = writeln!(out, "X12 {} error: {}", e.kind.as_str(), e);
        }
        for r in &t.body.rejected {
            errors = true;
            for e in &r.errors {
                let _ = write!(out, "claim {} rejected: {} at ", r.claim_id, e.message);
                print_at(out, e.at);
                let _ = writeln!(out);
            }
        }
    }
    for (p, report) in parsed.iter().zip(&reports) {
        for f in p.findings.iter().chain(&report.findings) {
            errors |= f.severity == Severity::Error;
            let line = line_of(&f.field)
                .map(|i| format!(" line {}", p.lines.get(i).map_or(i as u32 + 1, |l| l.line_number)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "claim {}{line}: {} {} {}: {} at ",
                p.claim.claim_id,
                severity(f.severity),
                f.edit_id,
                f.field,
                f.message
            );
            print_at(out, p.locate(f));
            let _ = writeln!(out);
        }
    }
    errors
}

fn validate(path: &Path, common: &Common) -> Result<bool, Unreadable> {
    let ctx = context(common)?;
    let file = read_837(path, common)?;
    let mut out = std::io::stdout().lock();
    let errors = if common.json {
        let (value, errors) = findings_report(&file, &ctx);
        let _ = writeln!(out, "{value:#}");
        errors
    } else {
        let errors = print_findings(&mut out, &file, &ctx);
        let rejected = file.rejected().count();
        let _ = writeln!(
            out,
            "{}: {} claims read, {} rejected, {} X12 errors: {}",
            path.display(),
            file.claims().count(),
            rejected,
            file.errors.len(),
            if errors { "ERRORS" } else { "clean" }
        );
        errors
    };
    Ok(!errors)
}

fn price(path: &Path, pricing: &Pricing, common: &Common) -> Result<bool, Unreadable> {
    let ctx = context(common)?;
    let (book, options) = pricing.resolve()?;
    let file = read_837(path, common)?;
    let reference = Reference::embedded();
    let mut clean = file.errors.is_empty() && file.rejected().count() == 0;
    let mut priced_json = Vec::new();
    let mut out = std::io::stdout().lock();
    let mut total = Decimal::ZERO;
    for p in file.claims() {
        match reference.price(&p.claim, &options, &book, &ctx) {
            Ok(priced) => {
                total += priced.total_allowed;
                if common.json {
                    priced_json.push(json!({ "claim_id": p.claim.claim_id, "part": p.part, "priced": priced }));
                } else {
                    for (i, l) in priced.lines.iter().enumerate() {
                        let lx = p.lines.get(i).map_or(l.line, |o| o.line_number);
                        let _ = writeln!(
                            out,
                            "claim {} line {lx}: {} {} units x {} = allowed {} ({})",
                            p.claim.claim_id,
                            l.procedure_code.as_str(),
                            l.total_units,
                            l.conversion_factor,
                            l.allowed,
                            l.rule.id
                        );
                    }
                }
            }
            Err(err) => {
                clean = false;
                let report = reference.validate(&p.claim, &ctx);
                let findings: Vec<&Finding> =
                    report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
                if common.json {
                    priced_json.push(json!({
                        "claim_id": p.claim.claim_id, "part": p.part, "error": err.to_string(),
                        "findings": findings.iter().map(|f| finding_json(p, f)).collect::<Vec<_>>(),
                    }));
                } else {
                    let _ = writeln!(out, "claim {}: not priced: {err}", p.claim.claim_id);
                    for f in findings {
                        let _ = write!(out, "  {} {}: {} at ", f.edit_id, f.field, f.message);
                        print_at(&mut out, p.locate(f));
                        let _ = writeln!(out);
                    }
                }
            }
        }
    }
    if common.json {
        let value = json!({
            "claims": priced_json,
            "total_allowed": total,
            "x12_errors": file.errors.iter().map(x12_error_json).collect::<Vec<_>>(),
            "rejected_claims": file.rejected().map(|r| json!({"claim_id": r.claim_id, "at": at_json(r.at),
                "errors": r.errors.iter().map(x12_error_json).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        });
        let _ = writeln!(out, "{value:#}");
    } else {
        for e in &file.errors {
            let _ = writeln!(out, "X12 {} error: {e}", e.kind.as_str());
        }
        for r in file.rejected() {
            let _ = write!(out, "claim {} rejected at ", r.claim_id);
            print_at(&mut out, r.at);
            let _ = writeln!(out, ": {}", r.errors.first().map_or("", |e| e.message.as_str()));
        }
        let _ = writeln!(out, "total allowed: {total}");
    }
    Ok(clean)
}

fn flag_text(flag: &LineFlag) -> String {
    match flag {
        LineFlag::Underpaid { by } => format!("underpaid by {by}"),
        LineFlag::AboveExpected { by } => format!("above expected by {by}"),
        LineFlag::Denied { reasons } => format!("denied ({})", reasons.join(", ")),
        LineFlag::UnitsNotMinutes { billed_minutes, paid_units, reads_as } => {
            format!("units not minutes ({billed_minutes} min billed, {paid_units} returned: {reads_as})")
        }
        LineFlag::MinutesReduced { billed_minutes, paid_minutes } => {
            format!("minutes reduced ({billed_minutes} -> {paid_minutes})")
        }
        LineFlag::CodeChanged { billed, paid } => format!("code changed ({billed} -> {paid})"),
        LineFlag::Unmatched => "no remittance line".to_owned(),
        LineFlag::NotPriced => "not priced".to_owned(),
    }
}

fn money(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |d| d.to_string())
}

fn reconcile(
    path_837: &Path,
    path_835: &Path,
    tolerance: Decimal,
    pricing: &Pricing,
    common: &Common,
) -> Result<bool, Unreadable> {
    let ctx = context(common)?;
    let (book, options) = pricing.resolve()?;
    let file = read_837(path_837, common)?;
    let remit_bytes = read_file(path_835)?;
    let remits = cptkit_x12::read_835(&remit_bytes[..]);
    if remits.transactions.is_empty() {
        let why = remits.errors.first().map_or_else(|| "no X12 interchange found".to_owned(), ToString::to_string);
        return Err(Unreadable(format!("{}: no 835 transaction could be read: {why}", path_835.display())));
    }
    let claims: Vec<ParsedClaim> = file.claims().cloned().collect();
    let remittances: Vec<_> = remits.remittances().cloned().collect();
    let result = cptkit_x12::reconcile(
        &claims,
        &remittances,
        cptkit_x12::core_pricer(Reference::embedded(), &options, &book, &ctx),
        &ReconcileOptions { tolerance },
    );
    let mut out = std::io::stdout().lock();
    if common.json {
        let mut value = serde_json::to_value(&result).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            let errors: Vec<Value> = file.errors.iter().chain(&remits.errors).map(x12_error_json).collect();
            map.insert("x12_errors".into(), Value::Array(errors));
        }
        let _ = writeln!(out, "{value:#}");
    } else {
        for e in file.errors.iter().chain(&remits.errors) {
            let _ = writeln!(out, "X12 {} error: {e}", e.kind.as_str());
        }
        for c in &result.claims {
            if c.no_remittance {
                let _ = writeln!(out, "claim {} ({}): no remittance", c.claim_id, c.payer);
            }
            for l in &c.lines {
                let flags: Vec<String> = l.flags.iter().map(flag_text).collect();
                let _ = writeln!(
                    out,
                    "claim {} line {} {} {}: expected {} allowed {} paid {} variance {}{}",
                    c.claim_id,
                    l.line_number,
                    l.procedure,
                    l.date_of_service,
                    money(l.expected),
                    money(l.allowed),
                    l.paid,
                    money(l.variance),
                    if flags.is_empty() { String::new() } else { format!(" [{}]", flags.join("; ")) }
                );
            }
        }
        for (payer, rc) in &result.unmatched_remit_claims {
            let _ = writeln!(out, "remittance claim {} ({payer}): no such claim in the 837", rc.claim_id);
        }
        let by_payer: BTreeMap<&String, _> = result.totals_by_payer.iter().collect();
        for (payer, t) in by_payer {
            let _ = writeln!(
                out,
                "payer {payer}: {} claims, {} lines, expected {} allowed {} paid {} variance {}, {} underpaid, {} denied",
                t.claims, t.lines, t.expected, t.allowed, t.paid, t.variance, t.underpaid_lines, t.denied_lines
            );
        }
        let t = &result.totals;
        let _ = writeln!(
            out,
            "total: {} claims, {} lines, expected {} allowed {} paid {} variance {}, {} underpaid, {} denied, PLB {}",
            t.claims,
            t.lines,
            t.expected,
            t.allowed,
            t.paid,
            t.variance,
            t.underpaid_lines,
            t.denied_lines,
            t.provider_adjustments
        );
    }
    Ok(result.totals.underpaid_lines == 0)
}

fn tic_file_json(f: &FileSummary) -> Value {
    json!({
        "path": f.path.display().to_string(),
        "gzip": f.gzip,
        "reporting_entity_name": f.reporting_entity_name,
        "last_updated_on": f.last_updated_on,
        "version": f.version,
        "bytes": f.bytes,
        "records": f.records,
        "kept": f.kept,
        "skipped": f.skipped,
        "not_fee_for_service": f.not_fee_for_service,
        "prices": f.prices,
        "provider_references": f.provider_references,
        "benchmark_rows": f.benchmark_rows,
        "malformed": f.malformed.iter().map(|m| json!({
            "record_offset": m.record_offset, "error_offset": m.error_offset, "path": m.path, "message": m.message,
        })).collect::<Vec<_>>(),
        "unresolved_references": f.unresolved_references.iter().map(|u| json!({
            "provider_group_id": u.provider_group_id, "location": u.location, "why": u.why,
        })).collect::<Vec<_>>(),
        "error": f.error.as_ref().map(ToString::to_string),
    })
}

fn print_tic_file(out: &mut impl Write, f: &FileSummary) {
    let _ = writeln!(
        out,
        "{}: {} ({}), version {}, updated {}: {} records, {} kept, {} skipped, {} not fee-for-service, {} malformed; {} prices, {} benchmark rows",
        f.path.display(),
        if f.reporting_entity_name.is_empty() { "unnamed payer" } else { &f.reporting_entity_name },
        if f.gzip { "gzip" } else { "plain" },
        if f.version.is_empty() { "-" } else { &f.version },
        if f.last_updated_on.is_empty() { "-" } else { &f.last_updated_on },
        f.records,
        f.kept,
        f.skipped,
        f.not_fee_for_service,
        f.malformed.len(),
        f.prices,
        f.benchmark_rows
    );
    for m in &f.malformed {
        let _ = writeln!(out, "  malformed {m}");
    }
    for u in &f.unresolved_references {
        let _ = writeln!(out, "  provider reference {} unresolved: {} ({})", u.provider_group_id, u.location, u.why);
    }
    if let Some(e) = &f.error {
        let _ = writeln!(out, "  not read to the end: {e}");
    }
}

fn ingest_tic(
    files: &[PathBuf],
    provider_refs_dir: Option<PathBuf>,
    nppes: Option<&Path>,
    codes: CodeFilter,
    out_path: &Path,
    json: bool,
) -> Result<bool, Unreadable> {
    let nppes = nppes.map(Nppes::load).transpose().map_err(|e| Unreadable(e.to_string()))?;
    let options = IngestOptions { codes, provider_refs_dir, nppes, ..IngestOptions::default() };
    let result = cptkit_tic::ingest(files, &options);
    let summary = &result.summary;
    if summary.files.iter().all(|f| f.error.is_some() && f.records == 0) {
        let why: Vec<String> = summary.files.iter().filter_map(|f| f.error.as_ref().map(ToString::to_string)).collect();
        return Err(Unreadable(format!("no TiC file could be read: {}", why.join("; "))));
    }
    cptkit_tic::write_parquet(out_path, &result.benchmarks).map_err(|e| Unreadable(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    if json {
        let value = json!({
            "files": summary.files.iter().map(tic_file_json).collect::<Vec<_>>(),
            "records": summary.records(),
            "malformed": summary.malformed(),
            "benchmark_rows": result.benchmarks.len(),
            "out": out_path.display().to_string(),
        });
        let _ = writeln!(out, "{value:#}");
    } else {
        for f in &summary.files {
            print_tic_file(&mut out, f);
        }
        let _ = writeln!(
            out,
            "total: {} files, {} records, {} malformed, {} benchmark rows written to {}: {}",
            summary.files.len(),
            summary.records(),
            summary.malformed(),
            result.benchmarks.len(),
            out_path.display(),
            if summary.is_clean() { "clean" } else { "PROBLEMS" }
        );
    }
    Ok(summary.is_clean())
}
