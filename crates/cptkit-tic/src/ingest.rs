//! Reading in-network-rates files: the top-level object member by member, `in_network` record by record,
//! provider references in the file or in separate provider-reference files.
//!
//! Provider references may come before or after `in_network` (the schema fixes no member order). They
//! matter only for the NPPES taxonomy join, so: when they come first, each price is joined as it is read;
//! when they come after, the prices of kept records whose providers are given by reference wait in a
//! compact buffer (price key, amount, reference ids) and are joined when the file ends. Kept records are
//! the filtered codes only, so the buffer stays small, and the file is read once (a second pass would
//! decompress a gzip file twice).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cptkit_core::{PayerBenchmark, RateProvenance, Reference};
use flate2::read::MultiGzDecoder;
use rust_decimal::Decimal;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use time::Date;

use crate::TicError;
use crate::aggregate::{FileAggregate, PriceFields, PriceKey, anesthesia_base_units};
use crate::nppes::Nppes;
use crate::scan::{Resume, Scanned, Scanner, SyntaxAt, Watch};
use crate::schema::{
    GroupId, InNetworkRecord, NegotiatedRate, NpiNumber, ProviderGroup, ProviderReference, ProviderReferenceFile, Tin,
};

/// gzip's magic bytes (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Which billing codes become benchmark rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CodeFilter {
    /// Every CPT anesthesia code in cptkit's reference data (`Reference::codes`).
    #[default]
    Anesthesia,
    /// These codes (CPT or HCPCS).
    Codes(BTreeSet<String>),
    /// Every code of every billing code type.
    All,
}

impl CodeFilter {
    /// A filter of these CPT/HCPCS codes, each read as a code (trimmed, upper-cased); an error names the
    /// one that is not (`codes[1]`). Every face takes a list of codes through here.
    pub fn codes<S: AsRef<str>>(texts: impl IntoIterator<Item = S>) -> Result<CodeFilter, cptkit_core::Error> {
        let mut set = BTreeSet::new();
        for (i, text) in texts.into_iter().enumerate() {
            let code: cptkit_core::CptCode = text
                .as_ref()
                .parse()
                .map_err(|e: cptkit_core::Error| cptkit_core::Error::invalid(format!("codes[{i}]"), e.message()))?;
            set.insert(code.as_str().to_owned());
        }
        Ok(CodeFilter::Codes(set))
    }
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub codes: CodeFilter,
    /// Where separate provider-reference files are looked for: a `location` that is a relative path, or a
    /// URL whose file name is present here. Relative paths are also tried next to the TiC file.
    pub provider_refs_dir: Option<PathBuf>,
    /// Join NPIs to their primary taxonomy; benchmark rows are then also keyed by taxonomy.
    pub nppes: Option<Nppes>,
    /// The `ingested_on` provenance date.
    pub ingested_on: Date,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            codes: CodeFilter::default(),
            provider_refs_dir: None,
            nppes: None,
            ingested_on: time::OffsetDateTime::now_utc().date(),
        }
    }
}

#[derive(Debug)]
pub struct Ingest {
    /// Every file's rows, file by file in the order given.
    pub benchmarks: Vec<PayerBenchmark>,
    pub summary: IngestSummary,
}

#[derive(Debug, Default)]
pub struct IngestSummary {
    pub files: Vec<FileSummary>,
}

impl IngestSummary {
    pub fn records(&self) -> u64 {
        self.files.iter().map(|f| f.records).sum()
    }

    pub fn malformed(&self) -> usize {
        self.files.iter().map(|f| f.malformed.len()).sum()
    }

    pub fn left_out(&self) -> usize {
        self.files.iter().map(|f| f.left_out.len()).sum()
    }

    /// True when every file was read to its end with no malformed record, no value left out and no
    /// unresolved reference.
    pub fn is_clean(&self) -> bool {
        self.files.iter().all(FileSummary::is_clean)
    }
}

/// What reading one file found.
#[derive(Debug, Default)]
pub struct FileSummary {
    pub path: PathBuf,
    pub gzip: bool,
    pub reporting_entity_name: String,
    pub reporting_entity_type: String,
    pub last_updated_on: String,
    pub version: String,
    /// Uncompressed bytes read.
    pub bytes: u64,
    /// `in_network` records seen.
    pub records: u64,
    /// Records of a filtered code, read into benchmarks.
    pub kept: u64,
    /// Records of other codes (not parsed, only scanned).
    pub skipped: u64,
    /// Filtered records with a bundle or capitation arrangement: not per-code prices, left out.
    pub not_fee_for_service: u64,
    pub malformed: Vec<Malformed>,
    /// Values left out of records that were otherwise read: an NPI that is not 10 digits, a tin or a
    /// provider reference id that cannot be read. The record's other providers and its prices count. With an
    /// NPPES join, also a bad NPI or tin of a top-level provider reference: the reference resolves without it.
    pub left_out: Vec<Malformed>,
    /// Negotiated prices read into benchmarks.
    pub prices: u64,
    /// Entries of the top-level `provider_references`.
    pub provider_references: u64,
    pub unresolved_references: Vec<UnresolvedReference>,
    pub benchmark_rows: usize,
    /// Set when the file could not be read to its end; what was read before still counts.
    pub error: Option<TicError>,
}

impl FileSummary {
    pub fn is_clean(&self) -> bool {
        self.error.is_none()
            && self.malformed.is_empty()
            && self.left_out.is_empty()
            && self.unresolved_references.is_empty()
    }
}

/// A problem at a place in an `in_network` record. In `FileSummary::malformed` the record is broken and
/// left out (reading went on with the next one); in `FileSummary::left_out` only the value at `path` is,
/// and the "record" may be a top-level provider reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Where the record starts (its `{`), in the uncompressed stream.
    pub record_offset: u64,
    /// Where the problem is: the offending value, where the JSON parser stopped, or the stray bracket. For a
    /// value of a separate provider-reference file: the reference (the message gives the file and offset).
    pub error_offset: u64,
    /// The JSON path inside the record, when known (`negotiated_rates[0].negotiated_prices[1].negotiated_rate`).
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record at byte {}: ", self.record_offset)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{} (byte {})", self.message, self.error_offset)
    }
}

/// A provider reference whose providers could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedReference {
    pub provider_group_id: String,
    pub location: String,
    pub why: String,
}

/// Reads every file and aggregates each into benchmark rows. A file that cannot be opened or breaks off
/// has its `error` set in the summary; the other files are still read.
pub fn ingest<P: AsRef<Path>>(paths: &[P], options: &IngestOptions) -> Ingest {
    let reference = Reference::embedded();
    let anesthesia: BTreeSet<String> = reference.codes().map(|c| c.code.to_string()).collect();
    let mut result = Ingest { benchmarks: Vec::new(), summary: IngestSummary::default() };
    for path in paths {
        let mut reader = FileReader::new(path.as_ref(), options, reference, &anesthesia);
        let outcome = reader.read();
        let (mut rows, mut summary) = reader.finish();
        if let Err(e) = outcome {
            summary.error = Some(e);
        }
        summary.benchmark_rows = rows.len();
        result.benchmarks.append(&mut rows);
        result.summary.files.push(summary);
    }
    result
}

/// Providers of one provider reference: the taxonomy ids of its NPIs (empty without an NPPES join).
#[derive(Debug, Default)]
struct Providers {
    taxonomies: Vec<u32>,
}

/// A price waiting for the provider references that come after `in_network`.
#[derive(Debug)]
struct Pending {
    references: Vec<GroupId>,
    prices: Vec<(PriceKey, Decimal)>,
}

struct FileReader<'o> {
    path: PathBuf,
    options: &'o IngestOptions,
    reference: &'static Reference,
    anesthesia: &'o BTreeSet<String>,
    aggregate: FileAggregate,
    summary: FileSummary,
    references: HashMap<GroupId, Providers>,
    references_read: bool,
    pending: Vec<Pending>,
}

fn io_error(path: &Path, e: io::Error) -> TicError {
    match SyntaxAt::of(&e) {
        Some(s) => TicError::Syntax { path: path.to_owned(), offset: s.offset, message: s.message.clone() },
        None => TicError::Io { path: path.to_owned(), source: e },
    }
}

/// Opens a file, decompressing it when it starts with the gzip magic bytes.
fn open(path: &Path) -> io::Result<(Box<dyn Read>, bool)> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let stream = io::Cursor::new(head[..got].to_vec()).chain(file);
    if got == 2 && head == GZIP_MAGIC {
        Ok((Box::new(MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, stream))), true))
    } else {
        Ok((Box::new(stream), false))
    }
}

/// The JSON text of a negotiated rate, as an exact Decimal: a price, so not negative, and less than
/// the store's decimal(18,4) holds (a larger one would be written as another number).
fn parse_amount(text: &str) -> Result<Decimal, String> {
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(text) } else { text.parse::<Decimal>() };
    let amount = parsed.map_err(|_| format!("expected a number, found {text}"))?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(format!("a negotiated rate is a price, not negative: found {text}"));
    }
    let limit = crate::store::amount_limit();
    if amount >= limit {
        return Err(format!("a negotiated rate must be less than {limit} dollars: found {text}"));
    }
    Ok(amount)
}

/// Where `text`, borrowed from `bytes`, starts within them: its address says it exactly.
fn offset_within(bytes: &[u8], text: &str) -> u64 {
    (text.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize) as u64
}

/// Reports a value left out of the record (or reference) whose `bytes` start at `offset`: at the value
/// itself, whose JSON `text` borrows from `bytes` (its address gives its offset).
fn left_out_within<'a>(
    left_out: &'a mut Vec<Malformed>,
    offset: u64,
    bytes: &'a [u8],
) -> impl FnMut(&str, String, String) + 'a {
    move |text, path, message| {
        let error_offset = offset + offset_within(bytes, text);
        left_out.push(Malformed { record_offset: offset, error_offset, path, message });
    }
}

/// A serde_json error on `bytes` as (JSON path, byte offset in `bytes`, message); the path is empty at
/// the top.
fn json_problem(bytes: &[u8], e: serde_path_to_error::Error<serde_json::Error>) -> (String, u64, String) {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let at = offset_of(bytes, inner.line(), inner.column());
    let message = inner.to_string();
    // serde_json appends " at line L column C"; the byte offset says it better.
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    (if path == "." { String::new() } else { path }, at as u64, message)
}

/// Byte offset within `bytes` of where serde_json stopped: its column counts the bytes it consumed on the
/// line, so line start + column is the next byte (for an unexpected value, the value's first byte).
fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        bytes.iter().enumerate().filter(|&(_, &b)| b == b'\n').nth(line - 2).map_or(bytes.len(), |(i, _)| i + 1)
    };
    (line_start + column).min(bytes.len())
}

impl<'o> FileReader<'o> {
    fn new(
        path: &Path,
        options: &'o IngestOptions,
        reference: &'static Reference,
        anesthesia: &'o BTreeSet<String>,
    ) -> Self {
        FileReader {
            path: path.to_owned(),
            options,
            reference,
            anesthesia,
            aggregate: FileAggregate::default(),
            summary: FileSummary { path: path.to_owned(), ..FileSummary::default() },
            references: HashMap::new(),
            references_read: false,
            pending: Vec::new(),
        }
    }

    fn in_filter(&self, code_type: &str, code: &str) -> bool {
        match &self.options.codes {
            CodeFilter::All => true,
            CodeFilter::Anesthesia => matches!(code_type, "CPT" | "HCPCS") && self.anesthesia.contains(code),
            CodeFilter::Codes(codes) => matches!(code_type, "CPT" | "HCPCS") && codes.contains(code),
        }
    }

    /// The scanner keeps records of filtered codes and of every anesthesia code (the per-unit heuristic
    /// looks at all anesthesia prices of the file).
    fn wanted(&self, code: &[u8]) -> bool {
        let Ok(code) = std::str::from_utf8(code) else { return false };
        match &self.options.codes {
            CodeFilter::All => true,
            CodeFilter::Anesthesia => self.anesthesia.contains(code),
            CodeFilter::Codes(codes) => codes.contains(code) || self.anesthesia.contains(code),
        }
    }

    fn read(&mut self) -> Result<(), TicError> {
        let path = self.path.clone();
        let (stream, gzip) = open(&path).map_err(|e| TicError::Io { path: path.clone(), source: e })?;
        self.summary.gzip = gzip;
        let mut scanner = Scanner::new(stream);
        // Nothing may follow the file object: trailing data is a file joined or cut wrong.
        let outcome = self.read_object(&mut scanner).and_then(|()| scanner.expect_end("after the file object"));
        self.summary.bytes = scanner.offset();
        outcome.map_err(|e| io_error(&path, e))
    }

    fn read_object<R: Read>(&mut self, s: &mut Scanner<R>) -> io::Result<()> {
        s.skip_bom()?;
        s.expect(b'{', "at the start of an in-network-rates file")?;
        if s.peek()? == Some(b'}') {
            return s.expect(b'}', "");
        }
        loop {
            let key = s.read_string("as a member name of the file object")?;
            s.expect(b':', "after a member name")?;
            match key.as_str() {
                "reporting_entity_name" => self.summary.reporting_entity_name = read_text(s)?,
                "reporting_entity_type" => self.summary.reporting_entity_type = read_text(s)?,
                "last_updated_on" => self.summary.last_updated_on = read_text(s)?,
                "version" => self.summary.version = read_text(s)?,
                "in_network" => self.read_in_network(s)?,
                "provider_references" => self.read_provider_references(s)?,
                _ => {
                    s.scan_value(Watch::Skip)?;
                }
            }
            if !s.next_or_close(b'}', "after a member of the file object")? {
                return Ok(());
            }
        }
    }

    fn read_in_network<R: Read>(&mut self, s: &mut Scanner<R>) -> io::Result<()> {
        s.expect(b'[', "at the start of in_network")?;
        if s.peek()? == Some(b']') {
            return s.expect(b']', "");
        }
        loop {
            let scanned = {
                let wanted = |code: &[u8]| self.wanted(code);
                s.scan_value(Watch::Record { wanted: &wanted })?
            };
            self.summary.records += 1;
            match scanned {
                Scanned::Skipped => self.summary.skipped += 1,
                Scanned::Kept { offset, range } => self.record(offset, &s.buffer()[range]),
                Scanned::Broken { offset, at, message, resume } => {
                    self.summary.malformed.push(Malformed {
                        record_offset: offset,
                        error_offset: at,
                        path: String::new(),
                        message,
                    });
                    match resume {
                        Resume::NextRecord => continue,
                        Resume::AfterArray => return Ok(()),
                        Resume::Lost => {
                            if s.seek_record()? {
                                continue;
                            }
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                SyntaxAt {
                                    offset: s.offset(),
                                    message: format!(
                                        "in_network breaks off after the broken record at byte {offset} and no \
                                         further record follows: the rest of the file is unread"
                                    ),
                                },
                            ));
                        }
                    }
                }
            }
            if !s.next_or_close(b']', "after an in_network record")? {
                return Ok(());
            }
        }
    }

    /// One kept record: parse, check, aggregate. A syntax error, a wrong type or a bad amount makes it
    /// malformed as a whole (nothing of it counts); a bad NPI, tin or provider reference id is left out
    /// alone (`read_providers`).
    fn record(&mut self, offset: u64, bytes: &[u8]) {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let record: InNetworkRecord<'_> = match serde_path_to_error::deserialize(&mut de) {
            Ok(r) => r,
            Err(e) => {
                let (path, at, message) = json_problem(bytes, e);
                self.summary.malformed.push(Malformed {
                    record_offset: offset,
                    error_offset: offset + at,
                    path,
                    message,
                });
                return;
            }
        };
        let code_type = record.billing_code_type.as_ref();
        let code = record.billing_code.trim();
        let in_filter = self.in_filter(code_type, code);
        let base_units = anesthesia_base_units(self.reference, code_type, code);
        if !in_filter && base_units.is_none() {
            self.summary.skipped += 1;
            return;
        }
        if record.negotiation_arrangement.as_deref().is_some_and(|a| a != "ffs") {
            if in_filter {
                self.summary.not_fee_for_service += 1;
            } else {
                self.summary.skipped += 1;
            }
            return;
        }
        // Every amount first, so a bad one leaves the whole record out.
        let mut prices: Vec<(usize, PriceFields<'_>, Decimal)> = Vec::new();
        for (r, rate) in record.negotiated_rates.iter().enumerate() {
            for (p, price) in rate.negotiated_prices.iter().enumerate() {
                let raw = price.negotiated_rate.get();
                let amount = match parse_amount(raw) {
                    Ok(a) => a,
                    Err(message) => {
                        self.summary.malformed.push(Malformed {
                            record_offset: offset,
                            error_offset: offset + offset_within(bytes, raw),
                            path: format!("negotiated_rates[{r}].negotiated_prices[{p}].negotiated_rate"),
                            message,
                        });
                        return;
                    }
                };
                let fields = PriceFields {
                    billing_code_type: code_type,
                    billing_code: code,
                    billing_class: price.billing_class.as_ref(),
                    negotiated_type: price.negotiated_type.as_ref(),
                    places: price.service_code.iter().map(|c| c.trim().to_owned()).collect(),
                    modifiers: price.billing_code_modifier.iter().map(|m| m.trim().to_ascii_uppercase()).collect(),
                };
                prices.push((r, fields, amount));
            }
        }
        let providers = self.read_providers(offset, bytes, &record.negotiated_rates);
        if in_filter {
            self.summary.kept += 1;
        } else {
            self.summary.skipped += 1;
        }
        let mut by_rate: Vec<Vec<(PriceKey, Decimal)>> = vec![Vec::new(); record.negotiated_rates.len()];
        for (r, fields, amount) in prices {
            let key = self.aggregate.key(fields);
            if let Some(b) = base_units {
                self.aggregate.observe_anesthesia(key, b, amount);
            }
            if in_filter {
                by_rate[r].push((key, amount));
            }
        }
        for (RateProviders { npis, references }, prices) in providers.into_iter().zip(by_rate) {
            if prices.is_empty() {
                continue;
            }
            self.summary.prices += prices.len() as u64;
            let Some(nppes) = &self.options.nppes else {
                prices.into_iter().for_each(|(key, amount)| self.aggregate.add(key, None, amount));
                continue;
            };
            // Left-out NPIs and ids add nothing, as if they were not listed (`read_providers` said so).
            let mut taxonomies = taxonomies_of(nppes, npis.into_iter());
            if !references.is_empty() && !self.references_read {
                self.pending.push(Pending { references, prices });
                continue;
            }
            for id in &references {
                match self.references.get(id) {
                    Some(p) => taxonomies.extend_from_slice(&p.taxonomies),
                    None => taxonomies.push(crate::aggregate::UNKNOWN_TAXONOMY),
                }
            }
            taxonomies.sort_unstable();
            taxonomies.dedup();
            prices.into_iter().for_each(|(key, amount)| self.aggregate.add(key, Some(&taxonomies), amount));
        }
    }

    /// Reads each rate's providers item by item, once: an NPI that is not 10 digits, a tin or a provider
    /// reference id that cannot be read is reported in `left_out` and left out alone; the record's other
    /// providers and its prices still count. A group left with no NPI reads as one whose npi list is empty.
    fn read_providers(&mut self, offset: u64, bytes: &[u8], rates: &[NegotiatedRate<'_>]) -> Vec<RateProviders> {
        // `text`: the value's JSON text, borrowed from the record's bytes (so its address gives its offset).
        let mut left_out = left_out_within(&mut self.summary.left_out, offset, bytes);
        let mut read = Vec::with_capacity(rates.len());
        for (r, rate) in rates.iter().enumerate() {
            let mut npis = Vec::new();
            for (g, group) in rate.provider_groups.iter().enumerate() {
                let path = format!("negotiated_rates[{r}].provider_groups[{g}]");
                read_group(group, &path, &IN_A_RECORD, &mut npis, &mut left_out);
            }
            let mut references = Vec::new();
            for (k, raw) in rate.provider_references.iter().enumerate() {
                match GroupId::read(raw) {
                    Ok(id) => references.push(id),
                    Err(why) => {
                        let path = format!("negotiated_rates[{r}].provider_references[{k}]");
                        left_out(
                            raw.get(),
                            path,
                            format!(
                                "{why}: this reference is left out (with an NPPES join it adds no taxonomy); the \
                                 record's prices are read"
                            ),
                        );
                    }
                }
            }
            read.push(RateProviders { npis, references });
        }
        read
    }

    fn read_provider_references<R: Read>(&mut self, s: &mut Scanner<R>) -> io::Result<()> {
        s.expect(b'[', "at the start of provider_references")?;
        if s.peek()? == Some(b']') {
            s.expect(b']', "")?;
        } else {
            loop {
                let scanned = s.scan_value(Watch::Keep)?;
                self.summary.provider_references += 1;
                match scanned {
                    Scanned::Kept { offset, range } => {
                        let bytes = &s.buffer()[range];
                        self.provider_reference(offset, bytes);
                    }
                    Scanned::Skipped => {}
                    Scanned::Broken { offset, at, message, .. } => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            SyntaxAt { offset: at, message: format!("provider reference at byte {offset}: {message}") },
                        ));
                    }
                }
                if !s.next_or_close(b']', "after a provider reference")? {
                    break;
                }
            }
        }
        self.references_read = true;
        Ok(())
    }

    /// One entry of the top-level `provider_references`, whose `{` is at `offset`. With an NPPES join its
    /// groups, and those of its separate file, are read item by item like a rate's (`read_group`): a bad
    /// NPI or tin is left out alone and reported, and the reference resolves with the rest. Broken JSON, an
    /// unreadable id or a separate file that cannot be read leaves the whole reference unresolved.
    fn provider_reference(&mut self, offset: u64, bytes: &[u8]) {
        let reference: ProviderReference<'_> = if self.options.nppes.is_some() {
            match serde_json::from_slice(bytes) {
                Ok(r) => r,
                Err(e) => return self.unresolved("?", "", format!("byte {offset}: {e}")),
            }
        } else {
            // Without a join only the id and location matter: leave the NPI lists unparsed.
            #[derive(serde::Deserialize)]
            struct Head {
                provider_group_id: GroupId,
                #[serde(default)]
                location: Option<String>,
                #[serde(default, rename = "provider_groups")]
                _groups: Option<IgnoredAny>,
            }
            match serde_json::from_slice::<Head>(bytes) {
                Ok(h) => ProviderReference {
                    provider_group_id: h.provider_group_id,
                    provider_groups: Vec::new(),
                    location: h.location,
                },
                Err(e) => return self.unresolved("?", "", format!("byte {offset}: {e}")),
            }
        };
        let id = reference.provider_group_id;
        // The separate file before any group: a reference left unresolved reports nothing else.
        let location = reference.location.as_deref();
        let separate = match location.map(|l| self.read_reference_file(l)).transpose() {
            Ok(separate) => separate,
            Err(why) => return self.unresolved(&id.0, location.unwrap_or_default(), why),
        };
        let separate_groups = match &separate {
            None => Vec::new(),
            Some((path, file)) => match serde_json::from_slice::<ProviderReferenceFile<'_>>(file) {
                Ok(f) => f.provider_groups,
                Err(e) => {
                    return self.unresolved(&id.0, location.unwrap_or_default(), format!("{}: {e}", path.display()));
                }
            },
        };
        let Some(nppes) = &self.options.nppes else {
            self.references.insert(id, Providers::default());
            return;
        };
        let mut npis = Vec::new();
        {
            // In the file: at the bad value itself (`text` borrows from the reference's bytes).
            let mut in_file = left_out_within(&mut self.summary.left_out, offset, bytes);
            for (g, group) in reference.provider_groups.iter().enumerate() {
                read_group(group, &format!("provider_groups[{g}]"), &IN_A_REFERENCE, &mut npis, &mut in_file);
            }
        }
        if let Some((file_path, file)) = &separate {
            // In a separate file: at the reference, whose offsets are the TiC file's; the message says where.
            let mut in_separate = |text: &str, path: String, message: String| {
                let at = offset_within(file, text);
                let message = format!("provider-reference file {}, byte {at}: {message}", file_path.display());
                self.summary.left_out.push(Malformed { record_offset: offset, error_offset: offset, path, message });
            };
            for (g, group) in separate_groups.iter().enumerate() {
                read_group(group, &format!("provider_groups[{g}]"), &IN_A_REFERENCE, &mut npis, &mut in_separate);
            }
        }
        self.references.insert(id, Providers { taxonomies: taxonomies_of(nppes, npis.into_iter()) });
    }

    fn unresolved(&mut self, id: &str, location: &str, why: String) {
        self.summary.unresolved_references.push(UnresolvedReference {
            provider_group_id: id.to_owned(),
            location: location.to_owned(),
            why,
        });
    }

    /// A separate provider-reference file: a local path (absolute, or relative to the provider-refs
    /// directory or the TiC file's directory), or a URL whose file name is in the provider-refs directory.
    /// cptkit never downloads. Its path and bytes, parsed by the caller (the groups borrow from them).
    fn read_reference_file(&self, location: &str) -> Result<(PathBuf, Vec<u8>), String> {
        let remote = location.starts_with("http://") || location.starts_with("https://");
        let candidates: Vec<PathBuf> = if remote {
            let name = location.split(['?', '#']).next().unwrap_or(location).rsplit('/').next().unwrap_or("");
            match (&self.options.provider_refs_dir, name.is_empty()) {
                (Some(dir), false) => vec![dir.join(name)],
                _ => Vec::new(),
            }
        } else {
            let given = PathBuf::from(location);
            if given.is_absolute() {
                vec![given]
            } else {
                let beside = self.path.parent().map(|d| d.join(&given));
                self.options.provider_refs_dir.iter().map(|d| d.join(&given)).chain(beside).collect()
            }
        };
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(if remote {
                "a remote provider-reference file (cptkit does not download; put it in --provider-refs)".to_owned()
            } else {
                format!(
                    "no such file (looked in {})",
                    candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            });
        };
        let (mut stream, _) = open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((path.clone(), bytes))
    }

    /// Joins the waiting prices, then turns the aggregate into rows.
    fn finish(mut self) -> (Vec<PayerBenchmark>, FileSummary) {
        if self.options.nppes.is_some() {
            for pending in std::mem::take(&mut self.pending) {
                let mut taxonomies: Vec<u32> = pending
                    .references
                    .iter()
                    .flat_map(|id| match self.references.get(id) {
                        Some(p) => p.taxonomies.clone(),
                        None => vec![crate::aggregate::UNKNOWN_TAXONOMY],
                    })
                    .collect();
                taxonomies.sort_unstable();
                taxonomies.dedup();
                for (key, amount) in pending.prices {
                    self.aggregate.add(key, Some(&taxonomies), amount);
                }
            }
        }
        let file_name =
            self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let provenance = RateProvenance {
            source_file: file_name,
            reporting_entity_name: self.summary.reporting_entity_name.clone(),
            reporting_entity_type: self.summary.reporting_entity_type.clone(),
            last_updated_on: self.summary.last_updated_on.clone(),
            schema_version: self.summary.version.clone(),
            ingested_on: self.options.ingested_on,
        };
        let nppes = self.options.nppes.as_ref();
        let taxonomy_code = |id: u32| nppes.map(|n| n.code(id).to_owned()).unwrap_or_default();
        let rows = self.aggregate.finish(&provenance, self.reference, &taxonomy_code);
        (rows, self.summary)
    }
}

/// What still counts when a value of a provider group is left out, for the messages of `read_group`.
struct StillRead {
    /// After a bad NPI beside good ones.
    others: &'static str,
    /// After the group's last NPI.
    no_other: &'static str,
    /// After a bad tin.
    tin: &'static str,
}

const IN_A_RECORD: StillRead = StillRead {
    others: "the record's other providers and its prices are read",
    no_other: "the record's prices are read",
    tin: "the record's providers and prices are read",
};

const IN_A_REFERENCE: StillRead = StillRead {
    others: "the reference's other NPIs are read",
    no_other: "the reference still resolves",
    tin: "the reference's NPIs are read",
};

/// Reads one provider group item by item: its good NPIs are pushed to `npis`; an NPI that is not 10 digits
/// or a tin that cannot be read is handed to `left_out` (its JSON text, its path under `path`, why) and
/// left out alone. A group left with no NPI reads as one whose npi list is empty.
fn read_group(
    group: &ProviderGroup<'_>,
    path: &str,
    still: &StillRead,
    npis: &mut Vec<NpiNumber>,
    left_out: &mut impl FnMut(&str, String, String),
) {
    let mut bad: Vec<(usize, &RawValue, String)> = Vec::new();
    for (k, raw) in group.npi.iter().enumerate() {
        match NpiNumber::read(raw) {
            Ok(npi) => npis.push(npi),
            Err(why) => bad.push((k, *raw, why)),
        }
    }
    let no_other = bad.len() == group.npi.len();
    for (k, raw, why) in bad {
        let consequence = if no_other {
            format!(
                "this provider group has no other NPI, so it reads as a group with an empty npi list (with an \
                 NPPES join it adds no taxonomy); {}",
                still.no_other
            )
        } else {
            still.others.to_owned()
        };
        left_out(raw.get(), format!("{path}.npi[{k}]"), format!("{why}: this NPI is left out; {consequence}"));
    }
    if let Some(tin) = group.tin {
        let mut de = serde_json::Deserializer::from_str(tin.get());
        if let Err(e) = serde_path_to_error::deserialize::<_, Tin>(&mut de) {
            // At the tin itself: after a number serde_json stands past the value, not on it.
            let (inner, _, why) = json_problem(tin.get().as_bytes(), e);
            let path = if inner.is_empty() { format!("{path}.tin") } else { format!("{path}.tin.{inner}") };
            left_out(tin.get(), path, format!("{why}: the tin is left out (it is no benchmark key); {}", still.tin));
        }
    }
}

/// A negotiated rate's providers as read: the NPIs of its groups and its provider reference ids, bad
/// ones left out.
struct RateProviders {
    npis: Vec<NpiNumber>,
    references: Vec<GroupId>,
}

/// The primary taxonomies of these NPIs; an NPI with none in the NPPES file adds `unknown`.
fn taxonomies_of(nppes: &Nppes, npis: impl Iterator<Item = NpiNumber>) -> Vec<u32> {
    let mut out: Vec<u32> =
        npis.map(|npi| nppes.taxonomy_id(npi.0).unwrap_or(crate::aggregate::UNKNOWN_TAXONOMY)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A small top-level value as text: a string decoded, anything else as written.
fn read_text<R: Read>(s: &mut Scanner<R>) -> io::Result<String> {
    if s.peek()? == Some(b'"') {
        return s.read_string("as a file-level string");
    }
    match s.scan_value(Watch::Keep)? {
        Scanned::Kept { range, .. } => Ok(String::from_utf8_lossy(&s.buffer()[range]).into_owned()),
        _ => Ok(String::new()),
    }
}
