//! 837P (005010X222A1, also the errata label 005010X222A2) to core claims.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use cptkit_core::{
    Claim, ClaimLine, CptCode, Diagnoses, DiagnosisCode, DiagnosisPointers, Edit, Error, FieldPath, Finding,
    LocalityId, Location, ModifierCode, Modifiers, Npi, Patient, Payer, PayerDirectory, PlanType, PosCode, PostalCode,
    ProviderRole, Reference, RenderingProvider, ShortText, SmallVec, TaxonomyCode, UnitBasis, UsState, derived_case_id,
};
use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, PrimitiveDateTime, Time};

use crate::envelope::{Driver, Envelope, Handler, Transaction};
use crate::error::{SegmentRef, X12Error, X12ErrorKind};
use crate::par837::ParDriver;
use crate::segment::{Delimiters, Segment};
use crate::source::{ClaimField, ClaimSource, LineField, Placed};
use crate::values::{self, AnesthesiaNote, NotCents};

/// The X12-level edits: problems only the file shows (notes, envelope-level claim totals).
pub mod edit {
    cptkit_core::edits! {
        /// Billed minutes (SV104) disagree with the start and stop in the anesthesia note.
        MINUTES_VS_NOTE = "X12T01", Warning, "billed minutes disagree with the noted start/stop";
        /// A noted start or stop is not a time of day (2575, 0860, 2400).
        TIME_INVALID = "X12T02", Error, "a noted anesthesia time cannot exist";
        /// STOP is earlier than START: read as crossing midnight (stop on the next day).
        CROSSES_MIDNIGHT = "X12T03", Warning, "stop before start: read as crossing midnight";
        /// A note has a START without a STOP, or the reverse.
        TIME_INCOMPLETE = "X12T04", Warning, "anesthesia note has only a start or only a stop";
        /// CLM02 is not the sum of the SV102 line charges.
        TOTAL_CHARGE = "X12C01", Warning, "CLM02 differs from the sum of the line charges";
        /// Lines have different 2420A rendering providers: the claim was split into one core claim each.
        SPLIT_BY_PROVIDER = "X12C02", Warning, "claim split by line rendering provider (2420A)";
        /// SV105 differs from CLM05-1: SV105 is the line's place of service, so the line is priced at
        /// it, in its own part of the claim (the core claim has one place of service).
        LINE_PLACE_OF_SERVICE = "X12C03", Warning, "line place of service differs from the claim's: priced at the line's";
        /// SBR09 has no cptkit plan type (Medicaid, TRICARE, VA, workers' comp...): read as commercial.
        FILING_INDICATOR = "X12C04", Warning, "claim filing indicator read as commercial";
        /// An address's state (N402) or postal code (N403) cannot be read: left off the claim.
        ADDRESS_UNREADABLE = "X12C05", Warning, "address state or postal code not readable";
        /// A line's own service facility (2420C) in another state or ZIP code than the claim's location
        /// (2310C, else the billing provider's): the line is priced at its own, in its own part of the
        /// claim (the core claim has one location, which sets the Medicare locality). A 2420C without
        /// an address (N4) is not used.
        LINE_FACILITY = "X12C06", Warning, "line service facility (2420C) differs from the claim's: priced at the line's";
        /// CLM05-3 is required but empty: read as 1 (original), as every face reads a claim with none.
        FREQUENCY_MISSING = "X12C07", Warning, "claim frequency code (CLM05-3) missing: read as original";
        /// A claim-level (2300) note's times fit one anesthesia line: with several, each would get the
        /// same interval, so they are applied to none.
        CLAIM_NOTE_TIMES = "X12C08", Warning, "claim-level note times not applied: several anesthesia lines";
        /// A line's service date is a range (DTP*472 RD8): the core line has one date, the first.
        SERVICE_DATE_RANGE = "X12C09", Warning, "service date range: only the start date is used";
        /// SBR01 is not P (primary): the claim is priced at the payer's own allowance, with no
        /// coordination of benefits (the other-payer loops 2320/2430 are not read).
        NOT_PRIMARY = "X12C10", Warning, "payer is not the primary payer: no coordination of benefits applied";
    }
}

/// How to read 837P claims beyond what the file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Payer identifier (NM109 of 2010BB) or upper-case payer name (NM103) -> cptkit payer id
    /// (`cigna`, `uhc`, ...). Checked before the payer directory.
    pub payer_ids: BTreeMap<String, String>,
    /// Claim filing indicators and payer aliases (the core's payer tables: embedded, or a data
    /// directory's).
    pub payers: PayerDirectory,
    /// Medicare locality for every claim (the 837 does not carry it).
    pub medicare_locality: Option<LocalityId>,
    /// Rendering NPIs that are Medicare qualifying APM participants (the 837 does not carry it). NPIs,
    /// so that a face reading them refuses one that cannot match instead of matching nothing.
    pub qualifying_apm_npis: BTreeSet<Npi>,
}

impl ReadOptions {
    /// The plan type a claim filing indicator (837 SBR09, 835 CLP06: one code list) means; None when
    /// cptkit has none for it.
    pub fn plan_type(&self, filing_indicator: &str) -> Option<PlanType> {
        self.payers.filing_indicator(filing_indicator).and_then(|f| f.plan_type)
    }

    /// The cptkit payer id of a payer named `name` (837 NM103, 835 N102) with id `identifier` (837 NM109,
    /// 835 N104 or REF*2U) on a claim of `plan_type`: [`ReadOptions::payer_ids`] by the id, then by the
    /// upper-case name; else the payer directory (by plan type, then by name or id: `payer_aliases.csv`);
    /// else the id lower-cased (the name when the id is empty). Empty when both are.
    pub fn payer_id(&self, plan_type: PlanType, name: &str, identifier: &str) -> String {
        let (name, ident) = (name.trim(), identifier.trim());
        let mapped = if self.payer_ids.is_empty() {
            None
        } else {
            self.payer_ids.get(ident).or_else(|| self.payer_ids.get(&name.to_ascii_uppercase())).cloned()
        };
        mapped.unwrap_or_else(|| {
            let id =
                self.payers.payer_id(plan_type, name, ident).unwrap_or(if ident.is_empty() { name } else { ident });
            id.to_ascii_lowercase()
        })
    }

    /// [`ReadOptions::payer_ids`] from the pairs a face is given (Python's `payer_ids`, gRPC's
    /// `payer_ids`, the CLI's `--payer-id ID=CPTKIT_ID`), each id read as every face reads it: the blanks
    /// around it are no part of it (an 837's elements are read trimmed, and a payer id with a blank in
    /// front would select no rule set on one face and its payer's on another).
    pub fn payer_id_map(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
        pairs.into_iter().map(|(given, cptkit)| (given.trim().to_owned(), cptkit.trim().to_owned())).collect()
    }

    /// One of [`ReadOptions::qualifying_apm_npis`] from text: a well-formed NPI, or an error saying why
    /// (one that is not could match no claim, and would be silently of no use).
    pub fn qualifying_apm_npi(text: &str) -> Result<Npi, Error> {
        let npi: Npi = text.parse()?;
        if !npi.is_well_formed() {
            return Err(Error::invalid("npi", format!("{text:?} is not an NPI (10 digits, the first 1 or 2)")));
        }
        Ok(npi)
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            payer_ids: BTreeMap::new(),
            payers: Reference::embedded().payers().clone(),
            medicare_locality: None,
            qualifying_apm_npis: BTreeSet::new(),
        }
    }
}

/// Non-PHI context of a claim from the 837 that the core claim has no field for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClaimInfo {
    pub billing_provider: Arc<BillingProvider>,
    /// 2010BB NM103.
    pub payer_name: Arc<str>,
    /// 2010BB NM109.
    pub payer_identifier: Arc<str>,
    /// SBR09.
    pub filing_indicator: Arc<str>,
    /// CLM02.
    pub total_charge_cents: Option<i64>,
    /// 2300 DTP dates: (DTP01 qualifier as a number, date), e.g. (435, admission), (431, onset).
    pub dates: ClaimDates,
}

/// 2010AA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BillingProvider {
    pub name: String,
    pub npi: String,
    /// REF*EI.
    pub tax_id: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    /// PRV*BI*PXC (2000A).
    pub taxonomy: Option<String>,
}

/// A claim's 2300 dates: two inline (the usual admission and onset), more on the heap. A list in serde.
pub type ClaimDates = SmallVec<[(u16, Date); 2]>;

/// Where each core line of a claim came from: two inline (most claims), more on the heap. A list in serde.
pub type LineOrigins = SmallVec<[LineOrigin; 2]>;

/// Where a core claim line came from in the 837.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineOrigin {
    /// LX01, the line number inside the 837 claim.
    pub line_number: u32,
    /// 0-based position of the line among all the lines of the 837 claim (before any split).
    pub index_in_claim: u32,
    /// REF*6R line item control number, echoed by payers in the 835 (inline when short).
    pub control_number: Option<ShortText>,
}

/// Which part of a split claim this is (see [`edit::SPLIT_BY_PROVIDER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClaimPart {
    /// 1-based.
    pub index: u16,
    pub of: u16,
}

/// One core claim read from an 837P, with where each field came from and the X12-level findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedClaim {
    pub claim: Claim,
    pub source: ClaimSource,
    /// X12-level findings (edit ids `X12...`), fields named like core findings.
    pub findings: Vec<Finding>,
    pub part: Option<ClaimPart>,
    pub lines: LineOrigins,
    pub info: ClaimInfo,
}

impl ParsedClaim {
    /// Where a finding's field came from in the file.
    pub fn locate(&self, finding: &Finding) -> SegmentRef {
        self.source.locate(&finding.loc)
    }
}

/// A claim that could not become a core claim, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedClaim {
    pub claim_id: String,
    pub at: SegmentRef,
    pub errors: Vec<X12Error>,
}

/// What one 837P transaction set held.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Claims837 {
    pub claims: Vec<ParsedClaim>,
    pub rejected: Vec<RejectedClaim>,
    /// Problems outside any claim (a bad billing provider NPI is reported on each of its claims).
    pub problems: Vec<X12Error>,
}

pub type Transaction837 = Transaction<Claims837>;

/// Streams 837P transactions from any reader: each item is a transaction that passed the envelope
/// checks, or an error (after which reading goes on with the next transaction).
///
/// An input of several transaction sets is read on every core (see [`Reader837::with_threads`]): the
/// items are the same, in the same order, as read on one thread.
#[derive(Debug)]
pub struct Reader837<R: Read> {
    inner: Inner<R>,
}

#[derive(Debug)]
enum Inner<R> {
    /// On the caller's thread.
    One(Box<Driver<R, Handler837>>),
    /// Transactions read by worker threads.
    Parallel(Box<ParDriver<R>>),
}

impl<R: Read> Reader837<R> {
    pub fn new(src: R) -> Self {
        Reader837::with_options(src, ReadOptions::default())
    }

    /// Reads on every core the machine has (`with_threads(src, options, 0)`).
    pub fn with_options(src: R, options: ReadOptions) -> Self {
        Reader837::with_threads(src, options, 0)
    }

    /// Reads transaction sets on `threads` worker threads (0: one per core; 1: on the caller's thread
    /// only). Workers start only when the input has a second transaction set; at most `threads + 1`
    /// transactions are read ahead of the one being returned, so memory stays bounded. A transaction
    /// may wait for the input after it: for input that arrives over time (a network stream) and should
    /// be answered transaction by transaction, read on one thread.
    pub fn with_threads(src: R, options: ReadOptions, threads: usize) -> Self {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let inner = if threads > 1 {
            Inner::Parallel(Box::new(ParDriver::new(src, options, threads)))
        } else {
            Inner::One(Box::new(Driver::new(src, Handler837::new(options))))
        };
        Reader837 { inner }
    }

    /// Bytes of input consumed so far (read ahead of the items returned when reading in parallel).
    pub fn bytes_read(&self) -> u64 {
        match &self.inner {
            Inner::One(driver) => driver.bytes_read(),
            Inner::Parallel(par) => par.driver().bytes_read(),
        }
    }

    /// The delimiters of the current interchange.
    pub fn delimiters(&self) -> Option<Delimiters> {
        match &self.inner {
            Inner::One(driver) => driver.delimiters(),
            Inner::Parallel(par) => par.driver().delimiters(),
        }
    }

    pub fn options(&self) -> &ReadOptions {
        match &self.inner {
            Inner::One(driver) => &driver.handler().options,
            Inner::Parallel(par) => par.options(),
        }
    }

    /// Gives back a transaction the caller is done with. Optional: dropping it is always correct. When
    /// reading on several threads, its claims are then freed by the thread that read them, which costs
    /// that thread a fraction of what freeing them on the caller's thread costs the caller (the thread
    /// that also splits the input, which every worker waits for). Cheapest in the order they came.
    pub fn recycle(&mut self, transaction: Transaction837) {
        match &mut self.inner {
            Inner::One(_) => drop(transaction),
            Inner::Parallel(par) => par.recycle(transaction),
        }
    }
}

impl<R: Read> Iterator for Reader837<R> {
    type Item = Result<Transaction837, X12Error>;
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::One(driver) => driver.next_item(),
            Inner::Parallel(par) => par.next_item(),
        }
    }
}

/// Everything in an 837P input, read to the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct File837 {
    pub transactions: Vec<Transaction837>,
    pub errors: Vec<X12Error>,
}

impl File837 {
    pub fn claims(&self) -> impl Iterator<Item = &ParsedClaim> {
        self.transactions.iter().flat_map(|t| &t.body.claims)
    }

    pub fn rejected(&self) -> impl Iterator<Item = &RejectedClaim> {
        self.transactions.iter().flat_map(|t| &t.body.rejected)
    }

    /// The core claims, in file order.
    pub fn core_claims(&self) -> Vec<Claim> {
        self.claims().map(|c| c.claim.clone()).collect()
    }
}

/// Reads a whole 837P input (still streaming: memory grows with the claims kept, not the file), on
/// every core when it has several transaction sets: see [`Reader837::with_threads`].
pub fn read_837<R: Read>(src: R, options: ReadOptions) -> File837 {
    read_837_threads(src, options, 0)
}

/// [`read_837`] on `threads` worker threads (0: one per core; 1: on the caller's thread only). The
/// answer does not depend on `threads`.
pub fn read_837_threads<R: Read>(src: R, options: ReadOptions, threads: usize) -> File837 {
    let mut file = File837::default();
    for item in Reader837::with_threads(src, options, threads) {
        match item {
            Ok(t) => file.transactions.push(t),
            Err(e) => file.errors.push(e),
        }
    }
    file
}

/// A value read from the file, or why it could not be (boxed: values move around a lot, errors are rare).
type Field<T> = Result<(T, SegmentRef), Box<X12Error>>;

fn parse_text<T: std::str::FromStr>(text: &str, at: SegmentRef, what: &str) -> Field<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map(|v| (v, at)).map_err(|e| {
        let detail = e.to_string();
        let detail = detail.split_once(": ").map_or(detail.as_str(), |(_, m)| m).to_owned();
        Box::new(X12Error::value(at, format!("{what}: {detail}")))
    })
}

#[derive(Debug, Clone)]
struct ProviderRef {
    npi: Field<Npi>,
    taxonomy: Option<Field<TaxonomyCode>>,
}

#[derive(Debug, Default)]
struct Provider {
    npi: Option<Field<Npi>>,
    taxonomy: Option<Field<TaxonomyCode>>,
    info: BillingProvider,
    /// The 2010AA N4 segment, when read.
    address_at: Option<SegmentRef>,
    /// Its state and postal code, read once for every claim of the provider.
    place: (Option<UsState>, Option<PostalCode>),
    shared: Option<Arc<BillingProvider>>,
}

/// An N4 segment's state (N402) and postal code (N403), as text, and where it was.
#[derive(Debug, Clone, Default)]
struct Address {
    state: String,
    zip: String,
    at: SegmentRef,
}

#[derive(Debug, Default)]
struct Subscriber {
    /// NM109 of 2010BA; empty when `member_at` is None. Inline when short, so each claim copies it
    /// without an allocation; cleared, not dropped, between subscriber loops (a long one keeps its buffer).
    member_id: ShortText,
    member_at: Option<SegmentRef>,
    birth: Option<Field<Date>>,
    filing: Option<(Arc<str>, SegmentRef)>,
    /// SBR01, payer responsibility sequence (P primary, S secondary...).
    responsibility: Option<(ShortText, SegmentRef)>,
    /// The payer mapping (its index in `payer_cache`), looked up once per subscriber loop.
    payer: Option<usize>,
    /// None until the loop's NM1*PR: a default `Arc<str>` is one shared empty string whose count every
    /// reset and every worker thread would change (atomically, on one cache line).
    payer_name: Option<Arc<str>>,
    payer_identifier: Option<Arc<str>>,
}

impl Subscriber {
    /// A new subscriber loop: everything forgotten, the member id's buffer kept.
    fn reset(&mut self) {
        let mut member_id = std::mem::take(&mut self.member_id);
        member_id.clear();
        *self = Subscriber { member_id, ..Subscriber::default() };
    }

    /// 2010BB NM103, empty when not given.
    fn payer_name(&self) -> &str {
        self.payer_name.as_deref().unwrap_or_default()
    }

    /// 2010BB NM109, empty when not given.
    fn payer_identifier(&self) -> &str {
        self.payer_identifier.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct PatientLoop {
    birth: Option<Field<Date>>,
}

/// SV1, read. Element positions are kept so the source table can name them.
#[derive(Debug)]
struct Sv1 {
    at: SegmentRef,
    code: CptCode,
    modifiers: Modifiers,
    /// SV101 component of each modifier.
    modifier_at: [u8; 4],
    unit: UnitBasis,
    quantity: Decimal,
    charge: i64,
    /// SV105, when given.
    pos: Option<(PosCode, SegmentRef)>,
    pointers: DiagnosisPointers,
    /// SV107 component of each pointer.
    pointer_at: [u8; 4],
}

#[derive(Debug)]
struct LineBuilder {
    at: SegmentRef,
    lx: u32,
    sv1: Option<Sv1>,
    dos: Option<Field<Date>>,
    /// The end of an RD8 service date range, when it is not the start.
    dos_through: Option<Date>,
    note: Option<(AnesthesiaNote, SegmentRef)>,
    rendering: Option<ProviderRef>,
    control: Option<ShortText>,
    /// Its 2420C service facility, if it has one.
    facility: Option<LineFacility>,
    errors: Vec<X12Error>,
}

/// A line's 2420C: where its NM1 is, and its address (N4) once read.
#[derive(Debug)]
struct LineFacility {
    at: SegmentRef,
    address: Option<Address>,
}

impl Address {
    fn place(&self) -> (&str, &str) {
        place(&self.state, &self.zip)
    }
}

/// What of an address sets the Medicare locality: the state and the 5-digit ZIP code (a ZIP+4 is not
/// used).
fn place<'a>(state: &'a str, zip: &'a str) -> (&'a str, &'a str) {
    (state, zip.get(..5).unwrap_or(zip))
}

#[derive(Debug)]
struct ClaimBuilder {
    at: SegmentRef,
    claim_id: ShortText,
    total: Result<i64, NotCents>,
    pos: Field<PosCode>,
    frequency: (ShortText, SegmentRef),
    /// CLM05-3 was empty (read as 1).
    frequency_missing: bool,
    diagnoses: Vec<Field<DiagnosisCode>>,
    rendering: Option<ProviderRef>,
    /// 2310C service facility location N4.
    facility: Option<Address>,
    note: Option<(AnesthesiaNote, SegmentRef)>,
    lines: Vec<LineBuilder>,
    errors: Vec<X12Error>,
    dates: ClaimDates,
    /// Inside loop 2320 (other subscriber): its NM1/DMG segments are not this claim's.
    other_subscriber: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    None,
    BillingProvider,
    Subscriber,
    Payer,
    Patient,
    ClaimRendering,
    LineRendering,
    ServiceFacility,
    LineFacility,
    Other,
}

#[derive(Debug)]
pub(crate) struct Handler837 {
    options: ReadOptions,
    provider: Provider,
    subscriber: Subscriber,
    patient: Option<PatientLoop>,
    claim: Option<ClaimBuilder>,
    entity: Entity,
    /// HL03 of the loop being read: 20 billing provider, 22 subscriber, 23 patient.
    level: u8,
    /// A damaged segment met outside a claim, with the level of its loop: every claim of that loop
    /// carries it (the loop's data, a member id or an address, may be what was lost).
    damage: Option<(u8, X12Error)>,
    out: Claims837,
    /// The last payer mappings, keyed by (SBR09, NM103, NM109): consecutive subscribers usually share
    /// one. A ring: when full, the oldest is replaced, so an index stays valid until the next insert.
    payer_cache: Vec<PayerCache>,
    payer_cache_next: usize,
    /// Emptied vectors kept for the next claim, so a claim's scratch space costs no allocation.
    line_pool: Vec<LineBuilder>,
    built_pool: Vec<BuiltLine>,
    /// The source entries of the claim's built lines (each line keeps its range), one buffer for all.
    line_entries: Vec<Placed<LineField>>,
    dx_pool: Vec<Field<DiagnosisCode>>,
}

/// The payer and the X12C04 warning if any, or why there is none. No location: the cache is shared by
/// subscribers (and transactions), and each claim's payer is located at its own subscriber's SBR09.
type PayerResult = Result<(Payer, Option<String>), String>;
type PayerCache = ((Arc<str>, Arc<str>, Arc<str>), PayerResult);

/// How many payer mappings are kept (a file alternates between a handful of payers).
const PAYER_CACHE_MAX: usize = 8;

/// An `Arc` already holding `text` among `known`, so repeated payer names cost no allocation.
fn intern<'a>(known: impl Iterator<Item = &'a Arc<str>>, text: &str) -> Arc<str> {
    for k in known {
        if &**k == text {
            return k.clone();
        }
    }
    Arc::from(text)
}

impl Handler for Handler837 {
    type Output = Claims837;
    const SET: &'static str = "837";

    fn accepts(implementation: &str) -> bool {
        matches!(implementation, "005010X222A1" | "005010X222A2")
    }

    fn begin(&mut self, _envelope: &Envelope) {
        self.reset();
    }

    fn segment(&mut self, seg: &Segment<'_>) {
        self.on_segment(seg);
        // A value that was not text was read as empty: the segment is damaged.
        if let Some(byte) = seg.not_text() {
            self.damaged(&X12Error::new(
                X12ErrorKind::Syntax,
                seg.at(),
                format!("a value is not UTF-8 text at byte {byte}"),
            ));
        }
    }

    /// A damaged segment rejects the claim it is in, or every claim of the loop it is in.
    fn damaged(&mut self, error: &X12Error) -> bool {
        match &mut self.claim {
            Some(claim) => claim.errors.push(error.clone()),
            None => self.damage = Some((self.level, error.clone())),
        }
        true
    }

    fn finish(&mut self) -> Claims837 {
        self.finish_claim();
        let out = std::mem::take(&mut self.out);
        self.reset();
        // The next transaction is likely about as big as this one: size its claim list once, with an
        // eighth to spare (one claim more than room for doubled the list, copying every claim).
        let claims = out.claims.len();
        self.out.claims.reserve((claims + claims / 8).min(10_000));
        out
    }

    fn abort(&mut self) {
        self.reset();
    }
}

impl Handler837 {
    pub(crate) fn new(options: ReadOptions) -> Self {
        Handler837 {
            options,
            provider: Provider::default(),
            subscriber: Subscriber::default(),
            patient: None,
            claim: None,
            entity: Entity::None,
            level: 0,
            damage: None,
            out: Claims837::default(),
            payer_cache: Vec::new(),
            payer_cache_next: 0,
            line_pool: Vec::new(),
            built_pool: Vec::new(),
            line_entries: Vec::new(),
            dx_pool: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.provider = Provider::default();
        self.subscriber.reset();
        self.patient = None;
        self.claim = None;
        self.entity = Entity::None;
        self.level = 0;
        self.damage = None;
        // Keep the claim list's capacity (see `finish`).
        self.out.claims.clear();
        self.out.rejected.clear();
        self.out.problems.clear();
    }

    fn problem(&mut self, at: SegmentRef, message: String) {
        // Cap the list: a garbage transaction must not grow it without bound.
        if self.out.problems.len() < 1000 {
            self.out.problems.push(X12Error::value(at, message));
        }
    }

    fn on_segment(&mut self, seg: &Segment<'_>) {
        match seg.id() {
            b"HL" => self.on_hl(seg),
            b"PRV" => self.on_prv(seg),
            b"NM1" => self.on_nm1(seg),
            b"N3" if self.entity == Entity::BillingProvider && self.claim.is_none() => {
                self.provider.info.address = seg.text(1).to_owned();
            }
            b"N4" if self.entity == Entity::BillingProvider && self.claim.is_none() => {
                self.provider.info.city = seg.text(1).to_owned();
                self.provider.info.state = seg.text(2).to_owned();
                self.provider.info.zip = seg.text(3).to_owned();
                self.provider.address_at = Some(seg.at());
                self.provider.place = read_place(seg.text(2), seg.text(3));
            }
            b"N4" if matches!(self.entity, Entity::ServiceFacility | Entity::LineFacility) => {
                let address = Address { state: seg.text(2).to_owned(), zip: seg.text(3).to_owned(), at: seg.at() };
                if let Some(claim) = &mut self.claim {
                    match self.entity {
                        Entity::ServiceFacility => claim.facility = Some(address),
                        _ => {
                            if let Some(facility) = claim.lines.last_mut().and_then(|l| l.facility.as_mut()) {
                                facility.address = Some(address);
                            }
                        }
                    }
                }
            }
            b"REF" => self.on_ref(seg),
            b"SBR" => {
                if let Some(claim) = &mut self.claim {
                    claim.other_subscriber = true;
                    self.entity = Entity::Other;
                } else {
                    let filing = intern(self.payer_cache.iter().map(|c| &c.0.0), seg.text(9));
                    self.subscriber.filing = Some((filing, seg.at_element(9)));
                    self.subscriber.responsibility = Some((seg.text(1).into(), seg.at_element(1)));
                    self.subscriber.payer = None;
                }
            }
            b"DMG" => self.on_dmg(seg),
            b"CLM" => self.on_clm(seg),
            b"HI" => self.on_hi(seg),
            b"NTE" => self.on_nte(seg),
            b"DTP" => self.on_dtp(seg),
            b"LX" => self.on_lx(seg),
            b"SV1" => self.on_sv1(seg),
            _ => {}
        }
    }

    fn on_hl(&mut self, seg: &Segment<'_>) {
        self.finish_claim();
        self.entity = Entity::None;
        let level = match seg.code(3) {
            b"20" => 20,
            b"22" => 22,
            b"23" => 23,
            _ => self.level,
        };
        // A loop at the damaged one's level or above ends the damage's reach.
        self.damage = self.damage.take().filter(|(damaged, _)| *damaged < level);
        self.level = level;
        match seg.code(3) {
            b"20" => {
                self.provider = Provider::default();
                self.subscriber.reset();
                self.patient = None;
                self.entity = Entity::BillingProvider;
            }
            b"22" => {
                self.subscriber.reset();
                self.patient = None;
            }
            b"23" => self.patient = Some(PatientLoop::default()),
            other => {
                let other = String::from_utf8_lossy(other).into_owned();
                self.problem(seg.at_element(3), format!("HL03 {other:?} is not 20, 22 or 23"));
            }
        }
    }

    fn on_prv(&mut self, seg: &Segment<'_>) {
        if seg.code(2) != b"PXC" && !seg.code(2).is_empty() {
            return;
        }
        let taxonomy = || parse_text::<TaxonomyCode>(seg.text(3), seg.at_element(3), "taxonomy (PRV03)");
        match (self.entity, seg.code(1)) {
            (Entity::BillingProvider, b"BI") | (Entity::BillingProvider, b"PE") if self.claim.is_none() => {
                self.provider.info.taxonomy = Some(seg.text(3).to_owned());
                self.provider.taxonomy = Some(taxonomy());
            }
            (Entity::ClaimRendering, b"PE") => {
                if let Some(r) = self.claim.as_mut().and_then(|c| c.rendering.as_mut()) {
                    r.taxonomy = Some(taxonomy());
                }
            }
            (Entity::LineRendering, b"PE") => {
                if let Some(r) = self.claim.as_mut().and_then(|c| c.lines.last_mut()).and_then(|l| l.rendering.as_mut())
                {
                    r.taxonomy = Some(taxonomy());
                }
            }
            _ => {}
        }
    }

    fn on_nm1(&mut self, seg: &Segment<'_>) {
        let in_line = self.claim.as_ref().is_some_and(|c| !c.lines.is_empty());
        let other = self.claim.as_ref().is_some_and(|c| c.other_subscriber && c.lines.is_empty());
        let npi = || -> Field<Npi> {
            if !seg.code(8).is_empty() && seg.code(8) != b"XX" {
                return Err(Box::new(X12Error::value(
                    seg.at_element(8),
                    format!("NM108 is {:?}: an NPI (XX) is needed", seg.text(8)),
                )));
            }
            parse_text::<Npi>(seg.text(9), seg.at_element(9), "NPI (NM109)")
        };
        self.entity = match seg.code(1) {
            _ if other => Entity::Other,
            b"85" if self.claim.is_none() => {
                self.provider.info.name = seg.text(3).to_owned();
                self.provider.info.npi = seg.text(9).to_owned();
                self.provider.npi = Some(npi());
                Entity::BillingProvider
            }
            b"IL" if self.claim.is_none() => {
                self.subscriber.member_id.clear();
                self.subscriber.member_id.push_str(seg.text(9));
                self.subscriber.member_at = Some(seg.at_element(9));
                Entity::Subscriber
            }
            b"PR" if self.claim.is_none() => {
                self.subscriber.payer_name = Some(intern(self.payer_cache.iter().map(|c| &c.0.1), seg.text(3)));
                self.subscriber.payer_identifier = Some(intern(self.payer_cache.iter().map(|c| &c.0.2), seg.text(9)));
                self.subscriber.payer = None;
                Entity::Payer
            }
            b"QC" if self.claim.is_none() => Entity::Patient,
            b"82" if in_line => {
                if let Some(line) = self.claim.as_mut().and_then(|c| c.lines.last_mut()) {
                    line.rendering = Some(ProviderRef { npi: npi(), taxonomy: None });
                }
                Entity::LineRendering
            }
            b"82" => {
                if let Some(claim) = self.claim.as_mut() {
                    claim.rendering = Some(ProviderRef { npi: npi(), taxonomy: None });
                }
                Entity::ClaimRendering
            }
            b"77" if self.claim.is_some() && !in_line => Entity::ServiceFacility,
            b"77" if in_line => {
                if let Some(line) = self.claim.as_mut().and_then(|c| c.lines.last_mut()) {
                    line.facility = Some(LineFacility { at: seg.at(), address: None });
                }
                Entity::LineFacility
            }
            _ => Entity::Other,
        };
    }

    fn on_ref(&mut self, seg: &Segment<'_>) {
        match (self.entity, seg.code(1)) {
            (Entity::BillingProvider, b"EI") if self.claim.is_none() => {
                self.provider.info.tax_id = seg.text(2).to_owned();
            }
            (_, b"6R") => {
                if let Some(line) = self.claim.as_mut().and_then(|c| c.lines.last_mut()) {
                    line.control = Some(seg.text(2).into());
                }
            }
            _ => {}
        }
    }

    fn on_dmg(&mut self, seg: &Segment<'_>) {
        let birth = || -> Field<Date> {
            if seg.code(1) != b"D8" {
                return Err(Box::new(X12Error::value(seg.at_element(1), "DMG01 must be D8")));
            }
            values::date8(seg.element(2)).map(|d| (d, seg.at_element(2))).ok_or_else(|| {
                Box::new(X12Error::value(
                    seg.at_element(2),
                    "the birth date is not a CCYYMMDD date (value not shown: PHI)",
                ))
            })
        };
        match self.entity {
            Entity::Subscriber => self.subscriber.birth = Some(birth()),
            Entity::Patient => {
                if let Some(p) = &mut self.patient {
                    p.birth = Some(birth());
                }
            }
            _ => {}
        }
    }

    fn on_clm(&mut self, seg: &Segment<'_>) {
        self.finish_claim();
        self.entity = Entity::None;
        let mut errors: Vec<X12Error> = self.damage.iter().map(|(_, e)| e.clone()).collect();
        let claim_id = ShortText::from(seg.text(1));
        if claim_id.is_empty() {
            errors.push(X12Error::value(seg.at_element(1), "CLM01 (claim id) is empty"));
        }
        let total = values::exact_cents(seg.element(2));
        let pos_at = seg.at_component(5, 1);
        // CLM05-1 and CLM05-3 found in one pass (CLM05-2 is not read as text).
        let clm05 = seg.components_of::<3>(5);
        let pos = parse_text::<PosCode>(clm05.text(1), pos_at, "place of service (CLM05-1)");
        let frequency_text = clm05.text(3);
        let frequency = ShortText::from(cptkit_core::frequency_code(frequency_text));
        self.claim = Some(ClaimBuilder {
            at: seg.at(),
            claim_id,
            total,
            pos,
            frequency: (frequency, seg.at_component(5, 3)),
            frequency_missing: frequency_text.trim().is_empty(),
            diagnoses: std::mem::take(&mut self.dx_pool),
            rendering: None,
            note: None,
            lines: std::mem::take(&mut self.line_pool),
            facility: None,
            errors,
            dates: ClaimDates::new(),
            other_subscriber: false,
        });
    }

    fn on_hi(&mut self, seg: &Segment<'_>) {
        let Some(claim) = &mut self.claim else { return };
        // Every code, even past the 12 an HI holds: the claim's judge tells DX008, as for any claim.
        for i in 1..=seg.len() {
            // The qualifier and the code found in one pass over the element.
            let components = seg.components_of::<2>(i);
            let qualifier = components.code(1);
            // Codes are stored inline: parsing allocates nothing, so no cache is needed.
            let at = seg.at_component(i, 2);
            let text = components.text(2);
            match qualifier {
                b"ABK" | b"ABF" => claim.diagnoses.push(parse_text::<DiagnosisCode>(text, at, "diagnosis")),
                // ICD-9-CM, whatever the code looks like: kept, and judged by the date of service.
                b"BK" | b"BF" => claim.diagnoses.push(
                    DiagnosisCode::icd9(text)
                        .map(|code| (code, at))
                        .map_err(|e| Box::new(X12Error::value(at, format!("diagnosis: {}", e.message())))),
                ),
                b"" => {}
                // Kept in its place, as unreadable: skipping it would move every later pointer (SV107)
                // onto the wrong code.
                _ => {
                    let at = seg.at_component(i, 1);
                    let shown = String::from_utf8_lossy(qualifier).chars().take(8).collect::<String>();
                    let message = format!("diagnosis qualifier {shown:?} is not ABK, ABF, BK or BF (837P)");
                    claim.diagnoses.push(Err(Box::new(X12Error::value(at, message))));
                }
            }
        }
    }

    /// Anesthesia times, case id and induction from an `NTE*ADD` (additional information); other note
    /// types (`TPO`: third party organization notes, ...) are not read.
    fn on_nte(&mut self, seg: &Segment<'_>) {
        let Some(claim) = &mut self.claim else { return };
        if seg.code(1) != b"ADD" {
            return;
        }
        let note = values::anesthesia_note(seg.text(2));
        if note.is_empty() {
            return;
        }
        let at = seg.at_element(2);
        let slot = match claim.lines.last_mut() {
            Some(line) => &mut line.note,
            None => &mut claim.note,
        };
        match slot {
            Some((earlier, _)) => earlier.merge(note),
            None => *slot = Some((note, at)),
        }
    }

    fn on_dtp(&mut self, seg: &Segment<'_>) {
        let Some(claim) = &mut self.claim else { return };
        let at = seg.at_element(3);
        let (date, through) = match seg.code(2) {
            b"D8" => (values::date8(seg.element(3)), None),
            b"RD8" => match values::date_range8(seg.element(3)) {
                Some((from, to)) => (Some(from), Some(to).filter(|to| *to != from)),
                None => (None, None),
            },
            _ => (None, None),
        };
        match claim.lines.last_mut() {
            Some(line) if seg.code(1) == b"472" && line.dos.is_some() => {
                if line.errors.len() < 16 {
                    line.errors.push(X12Error::value(at, "a second service date (DTP*472) in one service line (LX)"));
                }
            }
            Some(line) if seg.code(1) == b"472" => {
                line.dos_through = through;
                line.dos = Some(date.map(|d| (d, at)).ok_or_else(|| {
                    Box::new(X12Error::value(at, format!("service date {:?} is not a D8/RD8 date", seg.text(3))))
                }));
            }
            Some(_) => {}
            None => {
                if let (Some(d), Ok(q)) = (date.filter(|_| claim.dates.len() < 16), seg.text(1).parse::<u16>()) {
                    claim.dates.push((q, d));
                }
            }
        }
    }

    fn on_lx(&mut self, seg: &Segment<'_>) {
        self.entity = Entity::None;
        let Some(claim) = &mut self.claim else {
            self.problem(seg.at(), "LX outside a claim (no CLM before it)".into());
            return;
        };
        claim.other_subscriber = false;
        if claim.lines.len() >= 50 {
            claim.errors.push(X12Error::value(seg.at(), "more than 50 service lines (the 837P limit)"));
            return;
        }
        claim.lines.push(LineBuilder {
            at: seg.at(),
            lx: seg.text(1).parse().unwrap_or(0),
            sv1: None,
            dos: None,
            dos_through: None,
            note: None,
            rendering: None,
            control: None,
            facility: None,
            errors: Vec::new(),
        });
    }

    fn on_sv1(&mut self, seg: &Segment<'_>) {
        let Some(line) = self.claim.as_mut().and_then(|c| c.lines.last_mut()) else {
            self.problem(seg.at(), "SV1 outside a service line (no LX before it)".into());
            return;
        };
        let errors = &mut line.errors;
        let mut ok = true;
        let mut fail = |e: X12Error| {
            ok = false;
            if errors.len() < 16 {
                errors.push(e);
            }
        };
        if line.sv1.is_some() {
            fail(X12Error::value(seg.at(), "a second SV1 in one service line (LX): a line has one service"));
        }
        // SV101: qualifier, code, up to four modifiers (found in one pass, not once per component).
        let procedure = seg.components_of::<6>(1);
        let (qualifier, code_text) = (procedure.text(1), procedure.text(2));
        let code = if qualifier == "HC" {
            parse_text::<CptCode>(code_text, seg.at_component(1, 2), "procedure code (SV101-2)")
        } else {
            Err(Box::new(X12Error::value(
                seg.at_component(1, 1),
                format!("SV101-1 {qualifier:?}: only HC (CPT/HCPCS) procedure codes are read"),
            )))
        };
        let code = code.map_err(|e| fail(*e)).ok().map(|(c, _)| c);
        let mut modifiers = Modifiers::new();
        let mut modifier_at = [0u8; 4];
        for j in 3..=6 {
            let text = procedure.text(j);
            if text.is_empty() {
                continue;
            }
            match parse_text::<ModifierCode>(text, seg.at_component(1, j), "modifier") {
                Ok((m, _)) => {
                    modifier_at[modifiers.len()] = j as u8;
                    modifiers.push(m);
                }
                Err(e) => fail(*e),
            }
        }
        // A fraction of a cent is refused, not rounded: the claim would carry a charge nobody billed.
        let charge = values::exact_cents(seg.element(2))
            .map_err(|why| fail(X12Error::value(seg.at_element(2), format!("charge {:?} {}", seg.text(2), why.why()))))
            .ok();
        let unit = match seg.text(3) {
            "MJ" => Some(UnitBasis::Minutes),
            "UN" => Some(UnitBasis::Units),
            other => {
                fail(X12Error::value(seg.at_element(3), format!("SV103 {other:?} is not MJ or UN")));
                None
            }
        };
        let quantity = values::decimal(seg.element(4));
        if quantity.is_none() {
            fail(X12Error::value(seg.at_element(4), format!("quantity {:?} is not a number", seg.text(4))));
        }
        // SV105 is the line's place of service (sent only when it differs from CLM05-1): it prices the line.
        let pos = match seg.text(5) {
            "" => None,
            text => {
                parse_text::<PosCode>(text, seg.at_element(5), "place of service (SV105)").map_err(|e| fail(*e)).ok()
            }
        };
        let mut pointers = DiagnosisPointers::new();
        let mut pointer_at = [0u8; 4];
        // Every pointer, even past the 4 SV107 holds: the claim's judge tells DX011.
        for (j, p) in seg.components(7).enumerate() {
            if p.is_empty() {
                continue;
            }
            match diagnosis_pointer(p) {
                Some(p) => {
                    if let Some(at) = pointer_at.get_mut(pointers.len()) {
                        *at = (j + 1) as u8;
                    }
                    pointers.push(p);
                }
                None => fail(X12Error::value(seg.at_component(7, j + 1), "diagnosis pointer is not a number")),
            }
        }
        if let (true, Some(code), Some(unit), Some(quantity), Some(charge)) = (ok, code, unit, quantity, charge) {
            line.sv1 = Some(Sv1 {
                at: seg.at(),
                code,
                modifiers,
                modifier_at,
                unit,
                quantity,
                charge,
                pos,
                pointers,
                pointer_at,
            });
        }
    }
}

/// An SV107 component as a number (blanks around it allowed): the usual digits alone are read as
/// bytes, without the UTF-8 check that `str::parse` needs (~110 instructions a pointer).
fn diagnosis_pointer(p: &[u8]) -> Option<u32> {
    if (1..=9).contains(&p.len()) && p.iter().all(u8::is_ascii_digit) {
        return Some(p.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')));
    }
    std::str::from_utf8(p).ok().and_then(|p| p.trim().parse().ok())
}

/// The cptkit payer: [`ReadOptions::payer_id`] of NM103 and NM109, with the plan type of SBR09
/// ([`ReadOptions::plan_type`]); a code with no plan type (Medicaid, TRICARE, VA, workers' comp...) or
/// none at all is read as commercial with X12C04.
fn payer_of(options: &ReadOptions, s: &Subscriber) -> PayerResult {
    let filing = s.filing.as_ref().map_or("", |(f, _)| &**f);
    let (plan_type, warning) = match options.plan_type(filing) {
        Some(plan_type) => (plan_type, None),
        None => (
            PlanType::Commercial,
            Some(format!("claim filing indicator (SBR09) {filing:?} has no cptkit plan type: read as commercial")),
        ),
    };
    let id = options.payer_id(plan_type, s.payer_name(), s.payer_identifier());
    if id.is_empty() {
        return Err("no payer: 2010BB NM1*PR is missing or empty".to_owned());
    }
    Ok((Payer { id: id.into(), plan_type }, warning))
}

/// Why a claim whose SBR01 is `code` is not priced as the X12 standard's code says (element 1138),
/// or None for P (primary).
fn not_primary(code: &str, at: SegmentRef) -> Option<String> {
    let meaning = match code {
        "P" => return None,
        "S" => "secondary",
        "T" => "tertiary",
        "A" => "payer responsibility four",
        "B" => "payer responsibility five",
        "C" => "payer responsibility six",
        "D" => "payer responsibility seven",
        "E" => "payer responsibility eight",
        "F" => "payer responsibility nine",
        "G" => "payer responsibility ten",
        "H" => "payer responsibility eleven",
        "U" => "unknown",
        _ => "not a payer responsibility code",
    };
    let code: String = code.chars().take(8).collect();
    Some(format!(
        "SBR01 ({at}) is {code:?}, {meaning}: cptkit prices the claim as if this payer were primary (its whole allowance) and applies no coordination of benefits (the other-payer loops 2320/2430 are not read)"
    ))
}

/// A rendering provider as read: its NPI and, when given (PRV*PE is situational), its taxonomy.
#[derive(Debug, Clone, Copy)]
struct Rendering {
    npi: Npi,
    npi_at: SegmentRef,
    taxonomy: Option<(TaxonomyCode, SegmentRef)>,
}

impl Rendering {
    /// A line's 2420A is `other` (the claim's, or another line's provider) when it names the same NPI and
    /// the same taxonomy, or no taxonomy: PRV is situational in 2420A, and a 2420A may repeat the 2310B
    /// provider (X12 RFI #345), so a repeat without PRV is the same provider, with its taxonomy.
    fn same_provider(&self, other: &Rendering) -> bool {
        self.npi == other.npi && self.taxonomy.is_none_or(|t| Some(t.0) == other.taxonomy.map(|t| t.0))
    }
}

/// One line, read and checked.
#[derive(Debug)]
struct BuiltLine {
    line: ClaimLine,
    origin: LineOrigin,
    /// The 2420A provider, when the line has one.
    provider: Option<Rendering>,
    /// Its place of service (SV105), when it differs from the claim's (CLM05-1).
    pos: Option<(PosCode, SegmentRef)>,
    /// Its service facility's address (2420C N4), when it has one; kept only when it is not at the
    /// claim's location (see [`Handler837::finish_claim`]).
    facility: Option<Address>,
    /// Its source entries: a range of `Handler837::line_entries`.
    entries: Range<usize>,
    findings: Vec<(LineField, Finding)>,
}

impl Handler837 {
    fn finish_claim(&mut self) {
        // Its parts taken straight from the builder: binding it whole first copied all of it (a memcpy).
        let Some(ClaimBuilder {
            at,
            claim_id,
            total,
            pos,
            frequency,
            frequency_missing,
            mut diagnoses,
            rendering,
            mut note,
            mut lines,
            mut errors,
            dates,
            facility,
            ..
        }) = self.claim.take()
        else {
            return;
        };
        if self.out.claims.len() + self.out.rejected.len() >= 100_000 {
            // A runaway transaction: stop collecting (memory bound), report once.
            if self.out.rejected.is_empty() {
                self.problem(at, "more than 100000 claims in one transaction: the rest are skipped".into());
            }
            return;
        }
        let billing_npi = take(&mut errors, at, self.provider.npi.as_ref(), "no billing provider NPI (2010AA NM1*85)");
        let birth = match &self.patient {
            Some(p) => take(&mut errors, at, p.birth.as_ref(), "no patient birth date (2010CA DMG)"),
            None => take(&mut errors, at, self.subscriber.birth.as_ref(), "no subscriber birth date (2010BA DMG)"),
        };
        let pos = take_owned(&mut errors, at, Some(pos), "");
        let mut dx = Diagnoses::with_capacity(diagnoses.len());
        let fields = 12 + diagnoses.len() + 16 * lines.len();
        let mut source = ClaimSource::with_capacity(at, fields);
        // Each code copied from its place in the list: moved out whole first, it was read back from the
        // stack in pieces that stalled on store forwarding.
        for d in diagnoses.iter_mut() {
            match d {
                Ok((code, a)) => {
                    source.set(ClaimField::Diagnosis(u16::try_from(dx.len()).unwrap_or(u16::MAX)), *a);
                    dx.push(*code);
                }
                Err(e) => errors.push(X12Error::clone(e)),
            }
        }
        diagnoses.clear();
        // The taxonomy (PRV*PE, situational) is optional: without it the claim says PRV004.
        let claim_rendering = match rendering {
            Some(r) => {
                let npi = take_owned(&mut errors, at, Some(r.npi), "");
                npi.map(|npi| (npi, optional(&mut errors, r.taxonomy)))
            }
            None => {
                let taxonomy = optional(&mut errors, self.provider.taxonomy.clone());
                billing_npi.map(|npi| (npi, taxonomy))
            }
        };
        let payer_index = match self.subscriber.payer {
            Some(index) => index,
            None => {
                let index = match self.payer_cache.iter().position(|(key, _)| self.same_payer_key(key)) {
                    Some(index) => index,
                    None => self.cache_payer(),
                };
                self.subscriber.payer = Some(index);
                index
            }
        };
        // Cloned straight from the cache: the payer id is the only allocation.
        let payer_at = self.subscriber.filing.as_ref().map_or_else(SegmentRef::default, |f| f.1);
        let payer = match self.payer_cache.get(payer_index).map(|c| &c.1) {
            Some(Ok((payer, warning))) => Some((payer.clone(), payer_at, warning.clone())),
            Some(Err(message)) => {
                errors.push(X12Error::value(payer_at, message.clone()));
                None
            }
            None => None,
        };
        if lines.is_empty() {
            errors.push(X12Error::value(at, "the claim has no service lines (LX/SV1)"));
        }
        let mut built = std::mem::take(&mut self.built_pool);
        let mut line_entries = std::mem::take(&mut self.line_entries);
        // A 2300 note's times are one anesthetic's: with several anesthesia lines (a base and an add-on
        // code) each would get the whole interval, so none does. The lines are counted only for a note
        // with times (most claims have none).
        let mut unapplied_times = None;
        if let Some((claim_note, note_at)) = note.as_mut()
            && (claim_note.start.is_some() || claim_note.stop.is_some())
        {
            let anesthesia_lines =
                lines.iter().filter(|l| l.sv1.as_ref().is_some_and(|s| s.code.is_anesthesia())).count();
            if anesthesia_lines > 1 {
                (claim_note.start, claim_note.stop) = (None, None);
                unapplied_times = Some((*note_at, anesthesia_lines));
            }
        }
        let note = note.filter(|(n, _)| !n.is_empty());
        let case = self.case_seed();
        let mut context = LineContext {
            claim_pos: pos.as_ref().map(|p| &p.0),
            claim_note: note.as_ref(),
            claim_times_withheld: unapplied_times.is_some(),
            case,
            day_case: None,
        };
        line_entries.clear();
        for (index, lb) in lines.iter_mut().enumerate() {
            build_line(index, lb, &mut context, &mut built, &mut line_entries, &mut errors);
        }
        lines.clear();
        self.line_entries = line_entries;
        self.line_pool = lines;
        self.dx_pool = diagnoses;
        if built.iter().any(|b| b.facility.is_some()) {
            // A line's service facility where the claim is priced (2310C, else the billing provider) moves
            // nothing.
            let info = &self.provider.info;
            let claim_place = match &facility {
                Some(address) => Some(address.place()),
                None => self.provider.address_at.map(|_| place(&info.state, &info.zip)),
            };
            for b in &mut built {
                if b.facility.as_ref().map(Address::place) == claim_place {
                    b.facility = None;
                }
            }
        }
        let (
            Some((billing_npi, billing_at)),
            Some((birth, birth_at)),
            Some((pos, pos_at)),
            Some(((npi, npi_at), taxonomy)),
            Some((payer, payer_at, filing_warning)),
        ) = (billing_npi, birth, pos, claim_rendering, payer)
        else {
            return self.reject(claim_id, at, errors);
        };
        if !errors.is_empty() {
            return self.reject(claim_id, at, errors);
        }
        let (member_id, member_at) = (self.subscriber.member_id.clone(), self.subscriber.member_at.unwrap_or_default());
        let shared = self.provider.shared.get_or_insert_with(|| Arc::new(self.provider.info.clone())).clone();
        let info = ClaimInfo {
            billing_provider: shared,
            payer_name: self.subscriber.payer_name.clone().unwrap_or_default(),
            payer_identifier: self.subscriber.payer_identifier.clone().unwrap_or_default(),
            filing_indicator: self.subscriber.filing.as_ref().map(|f| f.0.clone()).unwrap_or_default(),
            total_charge_cents: total.ok(),
            dates,
        };
        // In one go: one capacity check, not a call and a check for each of the eight.
        source.set_all(
            [
                Placed::new(ClaimField::ClaimId, at.element(1)),
                Placed::new(ClaimField::PayerId, payer_at),
                Placed::new(ClaimField::PayerPlanType, payer_at),
                Placed::new(ClaimField::PlaceOfService, pos_at),
                Placed::new(ClaimField::FrequencyCode, frequency.1),
                Placed::new(ClaimField::PatientBirthDate, birth_at),
                Placed::new(ClaimField::PatientMemberId, member_at),
                Placed::new(ClaimField::BillingProviderNpi, billing_at),
            ]
            .into_iter(),
        );
        let mut header_findings = Vec::new();
        if let Some(message) = filing_warning {
            header_findings.push(finding(
                edit::FILING_INDICATOR,
                FieldPath::field("payer").key("plan_type"),
                message,
                "set the payer's plan type explicitly",
            ));
        }
        let sum: i64 = built.iter().map(|l| l.line.charge_cents).sum();
        // Formatted only when told: this runs for every claim, and most add up.
        let lines_sum = || values::format_cents(sum);
        let total_differs = match total {
            Ok(total) if total == sum => None,
            Ok(total) => {
                Some(format!("CLM02 is {} but the lines add up to {}", values::format_cents(total), lines_sum()))
            }
            Err(why) => Some(format!("CLM02 {}; the lines add up to {}", why.why(), lines_sum())),
        };
        if let Some(message) = total_differs {
            header_findings.push(finding(
                edit::TOTAL_CHARGE,
                FieldPath::field("lines"),
                message,
                "make CLM02 the sum of the SV102 line charges",
            ));
        }
        if let Some((note_at, anesthesia_lines)) = unapplied_times {
            header_findings.push(finding(
                edit::CLAIM_NOTE_TIMES,
                FieldPath::field("lines"),
                format!(
                    "the claim's note (2300 NTE, {note_at}) has anesthesia times, but the claim has {anesthesia_lines} anesthesia lines: the times were applied to none of them"
                ),
                "put each anesthesia line's START and STOP in its own note (2400 NTE)",
            ));
        }
        if let Some(message) = self.subscriber.responsibility.as_ref().and_then(|(code, at)| not_primary(code, *at)) {
            header_findings.push(finding(
                edit::NOT_PRIMARY,
                FieldPath::field("payer"),
                message,
                "take the price as this payer's allowance before any other payer paid; apply the earlier payers' payments (their 835s) yourself",
            ));
        }
        if frequency_missing {
            header_findings.push(finding(
                edit::FREQUENCY_MISSING,
                FieldPath::field("frequency_code"),
                "CLM05-3 (claim frequency code) is empty: read as 1, an original claim".to_owned(),
                "give CLM05-3: 1 original, 7 replacement, 8 void",
            ));
        }
        let rendering = Rendering { npi, npi_at, taxonomy };
        let facility = facility.and_then(|a| {
            let fields = (ClaimField::ServiceFacilityState, ClaimField::ServiceFacilityZip);
            let read = read_place(&a.state, &a.zip);
            location(
                (&a.state, &a.zip, a.at),
                read,
                "service_facility_location",
                fields,
                &mut header_findings,
                &mut source,
            )
        });
        let billing_provider_location = self.provider.address_at.and_then(|at| {
            let info = &self.provider.info;
            // Read from the provider's texts in place: no copy per claim.
            let fields = (ClaimField::BillingProviderState, ClaimField::BillingProviderZip);
            location(
                (&info.state, &info.zip, at),
                self.provider.place,
                "billing_provider_location",
                fields,
                &mut header_findings,
                &mut source,
            )
        });
        // Built whole in one place (no claim moved into a `ParsedClaim`, no `ParsedClaim` moved into a
        // call), its lines added in place (`add_lines`).
        let mut parsed = ParsedClaim {
            claim: Claim {
                claim_id,
                payer,
                place_of_service: pos,
                frequency_code: frequency.0,
                patient: Patient { birth_date: birth, member_id },
                billing_provider_npi: billing_npi,
                rendering_provider: self.rendering_provider(&rendering),
                medicare_locality: self.options.medicare_locality,
                diagnoses: dx,
                lines: Vec::new(),
                service_facility_location: facility,
                billing_provider_location,
            },
            source,
            findings: header_findings,
            part: None,
            lines: LineOrigins::new(),
            info,
        };
        let same = |p: &Option<Rendering>| p.as_ref().is_none_or(|p| p.same_provider(&rendering));
        if built.iter().all(|b| same(&b.provider) && b.pos.is_none() && b.facility.is_none()) {
            // One rendering provider, place of service and location: the usual case, no copies.
            add_lines(&mut parsed, &self.line_entries, rendering, built.drain(..));
            self.out.claims.push(parsed);
            self.built_pool = built;
            return;
        }
        // Lines with different 2420A providers, SV105 places of service or 2420C locations: one claim
        // per (provider, place of service, location), the claim's own first. Two providers of a line
        // each (physician and anesthetist) are the usual split: kept inline.
        type Group = (Rendering, Option<(PosCode, SegmentRef)>, Option<Address>, SmallVec<[BuiltLine; 2]>);
        let mut groups: SmallVec<[Group; 2]> = SmallVec::new();
        groups.push((rendering, None, None, SmallVec::new()));
        for mut b in built.drain(..) {
            let provider = b.provider.filter(|_| !same(&b.provider)).unwrap_or(rendering);
            let pos = b.pos.map(|p| p.0);
            let facility = b.facility.take();
            let place = facility.as_ref().map(Address::place);
            let group = groups.iter_mut().find(|g| {
                g.1.map(|p| p.0) == pos && g.2.as_ref().map(Address::place) == place && g.0.same_provider(&provider)
            });
            match group {
                Some(g) => g.3.push(b),
                None => groups.push((provider, b.pos, facility, std::iter::once(b).collect())),
            }
        }
        groups.retain(|g| !g.3.is_empty());
        let parts = groups.len();
        let of = u16::try_from(parts).unwrap_or(u16::MAX);
        // Parts of one provider at several places of service count once.
        let key = |r: &Rendering| (r.npi, r.taxonomy.map(|t| t.0));
        let providers = groups.iter().enumerate().filter(|(i, g)| groups[..*i].iter().all(|h| key(&h.0) != key(&g.0)));
        let providers = providers.count();
        let moved = groups.iter().any(|g| g.1.is_some());
        let relocated = groups.iter().any(|g| g.2.is_some());
        self.built_pool = built;
        let ParsedClaim { claim: template, source, findings: header_findings, info, .. } = parsed;
        let mut whole = Some((template, source));
        // The groups by reference: each holds two lines inline, and moving one out copied it whole.
        for (g, (provider, line_pos, line_facility, lines)) in groups.iter_mut().enumerate() {
            // The last part takes the claim and its source table; the others copy them with room for what
            // a part adds (its lines' entries, up to 16 a line as for the whole claim, and its findings):
            // a clone has none and would be grown by the first addition.
            let copy =
                |(claim, source): &(Claim, ClaimSource)| (claim.clone(), source.copy_with_room(6 + 16 * lines.len()));
            let Some((template, mut source)) = (if g + 1 == parts { whole.take() } else { whole.as_ref().map(copy) })
            else {
                break;
            };
            let mut findings = Vec::with_capacity(header_findings.len() + 3);
            findings.extend_from_slice(&header_findings);
            // Every line's 2420A naming one provider other than 2310B's is no split: that provider renders it.
            let part = (parts > 1).then(|| ClaimPart { index: u16::try_from(g + 1).unwrap_or(u16::MAX), of });
            let id = &template.claim_id;
            if let Some(part) = part.filter(|_| providers > 1) {
                let message = provider_split_message(id, providers, part, provider.npi.as_str());
                let hint = "one rendering provider per claim, or keep the parts together by claim id";
                findings.push(finding(edit::SPLIT_BY_PROVIDER, FieldPath::field("rendering_provider"), message, hint));
            }
            let claim_pos = template.place_of_service;
            let lx = || lines.iter().map(|l| l.origin.line_number.to_string()).collect::<Vec<_>>().join(", ");
            if moved {
                let moved_here = line_pos.map(|(p, _)| {
                    let what = format!(
                        "line place of service {p} (SV105 of LX {}) differs from the claim's {claim_pos} (CLM05-1)",
                        lx()
                    );
                    (what, format!("at {p}"))
                });
                let own = format!("the claim's {claim_pos} (CLM05-1)");
                let message = split_message(id, part, of, moved_here, "place of service (SV105)", &own);
                let hint = "bill lines at another place of service on their own claim, or correct SV105";
                findings.push(finding(
                    edit::LINE_PLACE_OF_SERVICE,
                    FieldPath::field("place_of_service"),
                    message,
                    hint,
                ));
            }
            if relocated {
                let moved_here = line_facility.as_ref().map(|a| {
                    let what = format!(
                        "line service facility in {} {} (2420C of LX {}, {}) is not where the claim is (2310C, else the billing provider)",
                        a.state,
                        a.zip,
                        lx(),
                        a.at
                    );
                    (what, "there".to_owned())
                });
                let message =
                    split_message(id, part, of, moved_here, "service facility (2420C)", "the claim's location");
                let hint = "bill lines furnished at another facility on their own claim";
                findings.push(finding(
                    edit::LINE_FACILITY,
                    FieldPath::field("service_facility_location"),
                    message,
                    hint,
                ));
            }
            let mut claim = template;
            if let Some(address) = line_facility {
                let fields = (ClaimField::ServiceFacilityState, ClaimField::ServiceFacilityZip);
                let at = (address.state.as_str(), address.zip.as_str(), address.at);
                let read = read_place(at.0, at.1);
                claim.service_facility_location =
                    location(at, read, "service_facility_location", fields, &mut findings, &mut source);
            }
            claim.rendering_provider = self.rendering_provider(provider);
            if let Some((p, at)) = *line_pos {
                claim.place_of_service = p;
                source.set(ClaimField::PlaceOfService, at);
            }
            let mut parsed =
                ParsedClaim { claim, source, findings, part, lines: LineOrigins::new(), info: info.clone() };
            add_lines(&mut parsed, &self.line_entries, *provider, lines.drain(..));
            self.out.claims.push(parsed);
        }
    }

    /// The core claim's rendering provider: its role is the one its taxonomy implies, if any.
    fn rendering_provider(&self, r: &Rendering) -> RenderingProvider {
        let taxonomy = r.taxonomy.map(|(t, _)| t);
        RenderingProvider {
            npi: r.npi,
            taxonomy,
            role: taxonomy.and_then(ProviderRole::implied_by),
            qualifying_apm: self.qualifying_apm(&r.npi),
        }
    }

    /// Maps the current subscriber's payer and caches it (replacing the oldest when full); its index.
    fn cache_payer(&mut self) -> usize {
        let entry = (self.payer_key(), payer_of(&self.options, &self.subscriber));
        if self.payer_cache.len() < PAYER_CACHE_MAX {
            self.payer_cache.push(entry);
            return self.payer_cache.len() - 1;
        }
        let index = self.payer_cache_next % PAYER_CACHE_MAX;
        self.payer_cache_next = index + 1;
        self.payer_cache[index] = entry;
        index
    }

    fn payer_key(&self) -> (Arc<str>, Arc<str>, Arc<str>) {
        let s = &self.subscriber;
        (
            s.filing.as_ref().map(|f| f.0.clone()).unwrap_or_default(),
            s.payer_name.clone().unwrap_or_default(),
            s.payer_identifier.clone().unwrap_or_default(),
        )
    }

    fn same_payer_key(&self, key: &(Arc<str>, Arc<str>, Arc<str>)) -> bool {
        let s = &self.subscriber;
        *key.0 == *s.filing.as_ref().map_or("", |f| &*f.0)
            && &*key.1 == s.payer_name()
            && &*key.2 == s.payer_identifier()
    }

    /// What the derived case id of this claim's lines is made of (see [`case_id_for`]).
    fn case_seed(&self) -> CaseSeed<'_> {
        let birth = match &self.patient {
            Some(p) => p.birth.as_ref(),
            None => self.subscriber.birth.as_ref(),
        };
        CaseSeed { member: &self.subscriber.member_id, birth: birth.and_then(|b| b.as_ref().ok()).map(|(d, _)| *d) }
    }

    fn qualifying_apm(&self, npi: &Npi) -> bool {
        !self.options.qualifying_apm_npis.is_empty() && self.options.qualifying_apm_npis.contains(npi)
    }

    fn reject(&mut self, claim_id: ShortText, at: SegmentRef, mut errors: Vec<X12Error>) {
        errors.truncate(100);
        self.out.rejected.push(RejectedClaim { claim_id: claim_id.into_string(), at, errors });
    }
}

#[derive(Clone, Copy)]
struct CaseSeed<'a> {
    member: &'a str,
    birth: Option<Date>,
}

/// What a line takes from its claim.
struct LineContext<'a> {
    claim_pos: Option<&'a PosCode>,
    claim_note: Option<&'a (AnesthesiaNote, SegmentRef)>,
    /// The claim note's times were taken out (X12C08).
    claim_times_withheld: bool,
    case: CaseSeed<'a>,
    /// The last derived case id and its date of service: the claim's lines share the member and birth
    /// date, so a line on the same day as that one gets the same id without hashing again.
    day_case: Option<(Date, ShortText)>,
}

impl LineContext<'_> {
    /// [`derived_case_id`] of the claim's patient on `dos`.
    fn derived_case_id(&mut self, dos: Date) -> ShortText {
        match &self.day_case {
            Some((day, id)) if *day == dos => id.clone(),
            _ => {
                let id = derived_case_id(self.case.member, self.case.birth, dos);
                self.day_case = Some((dos, id.clone()));
                id
            }
        }
    }
}

/// Adds the rendering provider's source entries and the `built` lines (their source entries in
/// `line_entries`) to a claim.
fn add_lines(
    parsed: &mut ParsedClaim,
    line_entries: &[Placed<LineField>],
    rendering: Rendering,
    built: impl ExactSizeIterator<Item = BuiltLine>,
) {
    let ParsedClaim { claim, source, findings, lines: origins, .. } = parsed;
    source.set(ClaimField::RenderingProviderNpi, rendering.npi_at);
    if let Some((_, at)) = rendering.taxonomy {
        source.set(ClaimField::RenderingProviderTaxonomy, at);
        source.set(ClaimField::RenderingProviderRole, at);
    }
    origins.reserve_exact(built.len());
    claim.lines.reserve_exact(built.len());
    for (i, b) in built.enumerate() {
        let i = u16::try_from(i).unwrap_or(u16::MAX);
        let entries = line_entries.get(b.entries).unwrap_or_default();
        source.set_all(entries.iter().map(|e| e.with_field(ClaimField::Line(i, e.field()))));
        for (field, mut f) in b.findings {
            f.loc = ClaimField::Line(i, field).path();
            findings.push(f);
        }
        origins.push(b.origin);
        claim.lines.push(b.line);
    }
}

/// One line, read and checked, added to `built` (its parts taken from `lb`, not moved whole: a
/// builder is ~570 bytes); its source entries are appended to `entries`.
fn build_line(
    index: usize,
    lb: &mut LineBuilder,
    context: &mut LineContext<'_>,
    built: &mut Vec<BuiltLine>,
    entries: &mut Vec<Placed<LineField>>,
    errors: &mut Vec<X12Error>,
) -> Option<()> {
    let (claim_pos, claim_note, claim_times_withheld) =
        (context.claim_pos, context.claim_note, context.claim_times_withheld);
    let (at, lx, dos_through) = (lb.at, lb.lx, lb.dos_through);
    if !lb.errors.is_empty() {
        errors.append(&mut lb.errors);
        return None;
    }
    let Some(sv1) = lb.sv1.take() else {
        errors.push(X12Error::value(at, format!("service line {lx} has no SV1")));
        return None;
    };
    // The "missing" messages are formatted only when needed: this runs for every line.
    let dos = match lb.dos.take() {
        None => {
            errors.push(X12Error::value(at, format!("service line {lx} has no DTP*472 service date")));
            None
        }
        dos => take_owned(errors, at, dos, ""),
    };
    let provider = match lb.rendering.take() {
        Some(r) => {
            let (npi, npi_at) = take_owned(errors, at, Some(r.npi), "")?;
            Some(Rendering { npi, npi_at, taxonomy: optional(errors, r.taxonomy) })
        }
        None => None,
    };
    let (dos, dos_at) = dos?;
    let code = sv1.code;
    let first_entry = entries.len();
    let mut findings = Vec::new();
    entries.push(Placed::new(LineField::Line, at));
    entries.push(Placed::new(LineField::ProcedureCode, sv1.at.component(1, 2)));
    for (m, &j) in sv1.modifier_at.iter().take(sv1.modifiers.len()).enumerate() {
        entries.push(Placed::new(LineField::Modifier(m as u8), sv1.at.component(1, usize::from(j))));
    }
    entries.push(Placed::new(LineField::UnitBasis, sv1.at.element(3)));
    entries.push(Placed::new(LineField::Quantity, sv1.at.element(4)));
    entries.push(Placed::new(LineField::ChargeCents, sv1.at.element(2)));
    entries.push(Placed::new(LineField::DateOfService, dos_at));
    for (p, &j) in sv1.pointer_at.iter().take(sv1.pointers.len()).enumerate() {
        entries.push(Placed::new(LineField::DiagnosisPointer(p as u8), sv1.at.component(7, usize::from(j))));
    }
    // With no claim place of service the claim is rejected anyway.
    let pos = sv1.pos.filter(|(p, _)| claim_pos.is_some_and(|c| c != p));
    if let Some(through) = dos_through {
        findings.push((
            LineField::DateOfService,
            finding_at(
                edit::SERVICE_DATE_RANGE,
                format!(
                    "the service date is a range, {dos} to {through} (DTP*472 RD8, {dos_at}): the end date is not used, the line is priced as of {dos}"
                ),
                "bill one line per date of service (DTP*472 D8)",
            ),
        ));
    }
    let facility = lb.facility.take().and_then(|LineFacility { at: facility_at, address }| {
        if address.is_none() {
            findings.push((
                LineField::Line,
                finding_at(
                    edit::LINE_FACILITY,
                    format!(
                        "line service facility (2420C, {facility_at}) has no address (N4): the claim's location (2310C, else the billing provider's) sets the Medicare locality"
                    ),
                    "give the facility's N4, or bill lines furnished at another facility on their own claim",
                ),
            ));
        }
        address
    });
    // Times, case, induction: the line's note, else the claim's note for anesthesia lines.
    let withheld = lb.note.is_none() && claim_times_withheld;
    let note = lb.note.as_ref().or(claim_note.filter(|_| code.is_anesthesia()));
    let (mut start_time, mut end_time) = (None, None);
    let mut case_id = None;
    let mut induction = false;
    let quantity = sv1.quantity;
    if let Some((note, note_at)) = note {
        let at = *note_at;
        case_id = note.case_id.clone();
        induction = note.induction;
        if note.case_id.is_some() {
            entries.push(Placed::new(LineField::CaseId, at));
        }
        if note.induction {
            entries.push(Placed::new(LineField::PresentAtInduction, at));
        }
        if note.start.is_some() || note.stop.is_some() {
            entries.push(Placed::new(LineField::StartTime, at));
            entries.push(Placed::new(LineField::EndTime, at));
        }
        match (&note.start, &note.stop) {
            // Told once for the claim (X12C08), not as a note without times.
            (None, None) if withheld => {}
            (Some(Ok((sh, sm))), Some(Ok((eh, em)))) => {
                let start = at_time(dos, *sh, *sm);
                let mut end = at_time(dos, *eh, *em);
                if let (Some(s), Some(e)) = (start, end)
                    && e < s
                {
                    end = e.checked_add(time::Duration::DAY);
                    findings.push((
                        LineField::EndTime,
                        finding_at(
                            edit::CROSSES_MIDNIGHT,
                            format!(
                                "STOP {eh:02}{em:02} is before START {sh:02}{sm:02} ({at}): read as ending the next day"
                            ),
                            "check the times; a case past midnight is fine",
                        ),
                    ));
                }
                start_time = start;
                end_time = end;
                if let (Some(s), Some(e), UnitBasis::Minutes) = (start_time, end_time, sv1.unit) {
                    let elapsed = Decimal::from((e - s).whole_minutes());
                    if elapsed != quantity {
                        findings.push((
                            LineField::Quantity,
                            finding_at(
                                edit::MINUTES_VS_NOTE,
                                format!("{quantity} minutes billed (SV104) but the note ({at}) says {elapsed} minutes"),
                                "bill the documented anesthesia time, or correct the note",
                            ),
                        ));
                    }
                }
            }
            (start, stop) => {
                for (value, which, field) in
                    [(start, "START", LineField::StartTime), (stop, "STOP", LineField::EndTime)]
                {
                    match value {
                        Some(Err(text)) => findings.push((
                            field,
                            finding_at(
                                edit::TIME_INVALID,
                                format!("{which} {text:?} in the note ({at}) is not a time of day (HHMM, 0000-2359)"),
                                "write the time as HHMM on a 24-hour clock",
                            ),
                        )),
                        None => findings.push((
                            field,
                            finding_at(
                                edit::TIME_INCOMPLETE,
                                format!("the note ({at}) has no {which} time"),
                                "note both START and STOP",
                            ),
                        )),
                        Some(Ok(_)) => {}
                    }
                }
            }
        }
    }
    let case_id = case_id.unwrap_or_else(|| context.derived_case_id(dos));
    built.push(BuiltLine {
        line: ClaimLine {
            procedure_code: code,
            modifiers: sv1.modifiers,
            unit_basis: sv1.unit,
            quantity,
            start_time,
            end_time,
            diagnosis_pointers: sv1.pointers,
            charge_cents: sv1.charge,
            date_of_service: dos,
            case_id,
            present_at_induction: induction,
        },
        origin: LineOrigin {
            line_number: lx,
            index_in_claim: u32::try_from(index).unwrap_or(u32::MAX),
            control_number: lb.control.take(),
        },
        provider,
        pos,
        facility,
        entries: first_entry..entries.len(),
        findings,
    });
    Some(())
}

fn take<T: Clone>(
    errors: &mut Vec<X12Error>,
    at: SegmentRef,
    r: Option<&Field<T>>,
    missing: impl Into<String>,
) -> Option<(T, SegmentRef)> {
    match r {
        Some(Ok(v)) => Some(v.clone()),
        Some(Err(e)) => {
            errors.push((**e).clone());
            None
        }
        None => {
            errors.push(X12Error::value(at, missing.into()));
            None
        }
    }
}

/// X12C03's or X12C06's message on a part of a claim split by where its lines were furnished (`lines_at`:
/// "place of service (SV105)"). `moved`: what moved this part's lines and how it is priced ("at 22",
/// "there"); `None` on the part priced as the claim is (`own`).
fn split_message(
    id: &str,
    part: Option<ClaimPart>,
    of: u16,
    moved: Option<(String, String)>,
    lines_at: &str,
    own: &str,
) -> String {
    match moved {
        Some((what, priced)) => match part {
            Some(part) => format!("{what}: moved to part {} of {of}, priced {priced}", part.index),
            None => format!("{what}: every line has it, so the claim is priced {priced}"),
        },
        None => format!(
            "claim {id} has lines at another {lines_at}, in their own parts; this is part {} of {of}, priced at {own}",
            part.map_or(1, |p| p.index)
        ),
    }
}

/// The X12C02 message of a claim split by rendering provider, written piece by piece: `format!` cost ~1,550
/// instructions a message, and every part of a split claim has one.
fn provider_split_message(id: &str, providers: usize, part: ClaimPart, npi: &str) -> String {
    // The room `format!` takes (twice the 84 bytes of fixed text): with less, the heap was laid out
    // otherwise and growing the claim list cost 2.3M instructions more on the 9.25 MB file.
    let mut message = String::with_capacity(2 * 84);
    message.extend(["claim ", id, " has "]);
    push_decimal(&mut message, providers as u64);
    message.push_str(" rendering providers across its lines; this is part ");
    push_decimal(&mut message, part.index.into());
    message.push_str(" of ");
    push_decimal(&mut message, part.of.into());
    message.extend([" (rendering NPI ", npi, ")"]);
    message
}

/// Appends `n` as `Display` writes it (the counts in messages are a digit or two).
fn push_decimal(out: &mut String, n: u64) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// An N4's state and postal code as read (None: empty or unreadable, which `location` tells apart).
fn read_place(state: &str, zip: &str) -> (Option<UsState>, Option<PostalCode>) {
    (state.parse().ok(), zip.parse().ok())
}

/// An N4 address as a claim location, its texts `read` by [`read_place`]. A state or postal code that
/// cannot be read is left off the claim with an X12C05 warning (the claim is kept); an address with
/// neither is no location.
fn location(
    (state, zip, at): (&str, &str, SegmentRef),
    (read_state, read_zip): (Option<UsState>, Option<PostalCode>),
    field: &'static str,
    (state_field, zip_field): (ClaimField, ClaimField),
    findings: &mut Vec<Finding>,
    source: &mut ClaimSource,
) -> Option<Location> {
    let mut unreadable = |element: u8, name: &'static str, what: &str, text: &str| {
        findings.push(finding(
            edit::ADDRESS_UNREADABLE,
            FieldPath::field(field).key(name),
            format!("N40{element} {text:?} is not {what}: left off the claim"),
            "correct the address in the 837",
        ));
    };
    let state = match state {
        "" => None,
        text => {
            source.set(state_field, at.element(2));
            read_state.or_else(|| {
                unreadable(2, "state", "a two-letter state code", text);
                None
            })
        }
    };
    let zip = match zip {
        "" => None,
        text => {
            source.set(zip_field, at.element(3));
            read_zip.or_else(|| {
                unreadable(3, "zip", "a postal code", text);
                None
            })
        }
    };
    (state.is_some() || zip.is_some()).then_some(Location { state, zip })
}

/// A situational value: absent is fine, present but unreadable is an error.
fn optional<T>(errors: &mut Vec<X12Error>, r: Option<Field<T>>) -> Option<(T, SegmentRef)> {
    match r? {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(*e);
            None
        }
    }
}

fn take_owned<T>(
    errors: &mut Vec<X12Error>,
    at: SegmentRef,
    r: Option<Field<T>>,
    missing: impl Into<String>,
) -> Option<(T, SegmentRef)> {
    match r {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            errors.push(*e);
            None
        }
        None => {
            errors.push(X12Error::value(at, missing.into()));
            None
        }
    }
}

fn at_time(date: Date, h: u8, m: u8) -> Option<PrimitiveDateTime> {
    Time::from_hms(h, m, 0).ok().map(|t| PrimitiveDateTime::new(date, t))
}

/// `loc` built from its parts: parsing a path from text cost ~800 instructions a finding.
fn finding(edit: Edit, loc: FieldPath, message: String, hint: &str) -> Finding {
    Finding::new(edit, loc, message, hint)
}

/// A line finding, placed on its line's field when the claim is emitted.
fn finding_at(edit: Edit, message: String, hint: &str) -> Finding {
    finding(edit, FieldPath::root(), message, hint)
}

/// The case id the reader derives for a line with no `CASE` in its note (see the README and
/// [`cptkit_core::derived_case_id`]).
pub fn case_id_for(member_id: &str, birth_date: Date, date_of_service: Date) -> String {
    derived_case_id(member_id, Some(birth_date), date_of_service).into_string()
}
