//! The reference tables, loaded from CSV files that are compiled into the core. A data directory can
//! replace any of them at start-up (next year's CMS file, a corrected table) without a rebuild.
//! Each file's source and dates are in `data/SOURCES.md` and in a source column of its own.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use foldhash::{HashMap, HashSet};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::Date;

use crate::error::{Error, ErrorKind, Resource, Result};
use crate::icd10::Icd10Table;
use crate::ids::{CptCode, Icd10Code, LocalityId, ModifierCode, PosCode, TaxonomyCode};
use crate::kept::{self, Kept};
use crate::model::{
    AnesthesiaCode, CfTier, ConversionFactor, Diagnosis, Known, Locality, Modifier, ModifierCategory, PlaceOfService,
    QualifyingCircumstance, ServiceType, Taxonomy,
};
use crate::payers::PayerDirectory;
use crate::pfs::FeeSchedule;

/// The embedded files, by the name a data directory overrides them with.
const EMBEDDED: &[(&str, &str)] = &[
    ("cms_anesthesia_base_units.csv", include_str!("../data/cms_anesthesia_base_units.csv")),
    ("anesthesia_categories.csv", include_str!("../data/anesthesia_categories.csv")),
    ("anesthesia_code_descriptions.csv", include_str!("../data/anesthesia_code_descriptions.csv")),
    ("anesthesia_code_kinds.csv", include_str!("../data/anesthesia_code_kinds.csv")),
    ("anesthesia_spine_family_006xx.csv", include_str!("../data/anesthesia_spine_family_006xx.csv")),
    ("anesthesia_modifiers.csv", include_str!("../data/anesthesia_modifiers.csv")),
    ("anesthesia_qualifying_circumstances.csv", include_str!("../data/anesthesia_qualifying_circumstances.csv")),
    ("anesthesia_provider_taxonomy.csv", include_str!("../data/anesthesia_provider_taxonomy.csv")),
    ("place_of_service_codes.csv", include_str!("../data/place_of_service_codes.csv")),
    ("icd10cm_2026_04.tsv", include_str!("../data/icd10cm_2026_04.tsv")),
    ("icd10cm_deleted.csv", include_str!("../data/icd10cm_deleted.csv")),
    ("medicare_anesthesia_cf_national.csv", include_str!("../data/medicare_anesthesia_cf_national.csv")),
    ("medicare_anesthesia_cf_locality_cy2025.csv", include_str!("../data/medicare_anesthesia_cf_locality_cy2025.csv")),
    ("code_families.csv", include_str!("../data/code_families.csv")),
    ("family_diagnoses.csv", include_str!("../data/family_diagnoses.csv")),
    ("family_taxonomies.csv", include_str!("../data/family_taxonomies.csv")),
    ("payer_policies.csv", include_str!("../data/payer_policies.csv")),
    ("policy_updates.csv", include_str!("../data/policy_updates.csv")),
    ("x12_claim_filing_indicators.csv", include_str!("../data/x12_claim_filing_indicators.csv")),
    ("payer_aliases.csv", include_str!("../data/payer_aliases.csv")),
    ("pfs/facility_places_of_service.csv", include_str!("../data/pfs/facility_places_of_service.csv")),
    (
        "pfs/nonphysician_practitioner_taxonomies.csv",
        include_str!("../data/pfs/nonphysician_practitioner_taxonomies.csv"),
    ),
    ("pfs/cpt_sections.csv", include_str!("../data/pfs/cpt_sections.csv")),
];

/// Where table files come from: the embedded copies, or a directory whose files take precedence.
struct Files {
    dir: Option<PathBuf>,
}

impl Files {
    fn text(&self, name: &'static str) -> Result<Cow<'static, str>> {
        if let Some(dir) = &self.dir {
            let path = dir.join(name);
            if path.exists() {
                return std::fs::read_to_string(&path)
                    .map(Cow::Owned)
                    .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("cannot read {}: {e}", path.display())));
            }
        }
        EMBEDDED
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, text)| Cow::Borrowed(*text))
            .ok_or_else(|| Error::internal(format!("no embedded table named {name}")))
    }

    /// Reads every row of a CSV table; an error names the file and line. A table with no rows is an
    /// error: every embedded table has rows, so an empty one in a data directory is a file cut short (a
    /// deploy half written), which would otherwise replace good data with none.
    fn rows<T: DeserializeOwned>(&self, name: &'static str) -> Result<Vec<T>> {
        let text = self.text(name)?;
        let rows = parse_rows(name, &text)?;
        if rows.is_empty() {
            return Err(table_error(name, "the table has no rows"));
        }
        Ok(rows)
    }

    /// A table only a data directory can give (nothing is embedded): no rows when it is absent.
    fn optional_rows<T: DeserializeOwned>(&self, name: &'static str) -> Result<Vec<T>> {
        match self.dir.as_ref().map(|dir| dir.join(name)).filter(|path| path.exists()) {
            Some(path) => parse_rows(name, &crate::files::read_text(&path)?),
            None => Ok(Vec::new()),
        }
    }
}

fn parse_rows<T: DeserializeOwned>(name: &str, text: &str) -> Result<Vec<T>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    reader.deserialize().map(|row| row.map_err(|e| table_error(name, e))).collect()
}

fn table_error(file: &str, err: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{file}: {err}"))
}

/// A set of CPT codes written as `00630 00632` or `00600-00670`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSet(Vec<(CptCode, CptCode)>);

impl CodeSet {
    fn parse(text: &str) -> Result<Self> {
        text.split_whitespace()
            .map(|item| {
                let (first, last) = item.split_once('-').unwrap_or((item, item));
                Ok((first.parse()?, last.parse()?))
            })
            .collect::<Result<_>>()
            .map(CodeSet)
    }

    /// Codes of the bounds' form only: 0042T sorts inside 00100-01999 but is no anesthesia code.
    pub fn contains(&self, code: CptCode) -> bool {
        self.0.iter().any(|&(first, last)| crate::search::in_range(code, first, last))
    }
}

/// Curated knowledge about a family of codes (spine, lumbar region, ...), kept as data with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: String,
    pub codes: CodeSet,
    pub name: String,
    pub clinical_summary: String,
    pub setting: String,
    pub care_team: String,
    pub workflow: Vec<String>,
    pub source: String,
    pub diagnoses: Vec<FamilyDiagnosis>,
    pub taxonomies: Vec<FamilyTaxonomy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyDiagnosis {
    pub code: Icd10Code,
    pub relevance: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyTaxonomy {
    pub code: TaxonomyCode,
    pub why: String,
    pub source: String,
}

/// One payer policy note; `evidence` is confirmed, secondary or unknown.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct PayerPolicy {
    pub payer: String,
    pub plan: String,
    pub topic: String,
    pub policy: String,
    #[serde(deserialize_with = "optional_date")]
    pub effective_date: Option<Date>,
    pub evidence: String,
    pub source: String,
}

/// A dated change that affects a family of codes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct PolicyUpdate {
    #[serde(deserialize_with = "required_date")]
    pub date: Date,
    #[serde(skip_serializing)]
    pub family: String,
    pub title: String,
    pub summary: String,
    pub source: String,
}

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

pub(crate) fn parse_date(text: &str) -> std::result::Result<Date, String> {
    Date::parse(text.trim(), ISO_DATE).map_err(|e| format!("expected a date as YYYY-MM-DD, got {text:?}: {e}"))
}

fn required_date<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Date, D::Error> {
    parse_date(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn optional_date<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Date>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() { Ok(None) } else { parse_date(&text).map(Some).map_err(serde::de::Error::custom) }
}

/// All reference tables. Cheap to share (`&'static` for the embedded set); the ICD-10-CM index is
/// built on first use.
#[derive(Debug)]
pub struct Reference {
    pub(crate) codes: AnesthesiaCodes,
    pub(crate) modifiers: Vec<Modifier>,
    /// Each modifier's position in `modifiers`: validation asks about every modifier of every line.
    modifier_positions: HashMap<ModifierCode, usize>,
    pub(crate) qualifying_circumstances: Vec<QualifyingCircumstance>,
    /// By the code's number (00-99): a lookup per claim without comparing keys.
    pub(crate) places_of_service: Box<[Option<PlaceOfService>]>,
    pub(crate) taxonomies: HashMap<TaxonomyCode, Taxonomy>,
    pub(crate) families: Vec<Family>,
    pub(crate) payer_policies: Vec<PayerPolicy>,
    pub(crate) policy_updates: Vec<PolicyUpdate>,
    /// Kept for the process ([`keep_factor`]): each priced line names its factor without a count.
    pub(crate) national_cfs: Vec<&'static ConversionFactor>,
    pub(crate) locality_cfs: Vec<&'static ConversionFactor>,
    /// year -> locality -> index into `locality_cfs`: pricing looks one up per line.
    locality_index: BTreeMap<i32, HashMap<LocalityId, usize>>,
    /// Every locality of `locality_index`, whatever the year: validation asks of each claim's.
    medicare_localities: HashSet<LocalityId>,
    icd10_text: Cow<'static, str>,
    icd10: OnceLock<Icd10Table>,
    icd10_deleted: HashMap<Icd10Code, DeletedDiagnosis>,
    /// The dates of a deleted code and of a code that replaced one: validation finds a diagnosis's
    /// dates in one lookup.
    icd10_dates: HashMap<Icd10Code, DiagnosisDates>,
    payers: PayerDirectory,
    fee_schedule: FeeSchedule,
    /// Places of service paid at the facility rate (IOM 100-04 ch. 12 §20.4.2).
    facility_places: HashSet<PosCode>,
    /// Non-physician practitioners paid a share of the fee schedule, by taxonomy.
    nonphysician_practitioners: HashMap<TaxonomyCode, NonphysicianPractitioner>,
    pub(crate) sections: Vec<CodeSection>,
    /// CPT descriptors a user licenses from the AMA (`cpt_descriptors.csv` in a data directory; never embedded).
    pub(crate) cpt_descriptors: HashMap<CptCode, String>,
    /// Every code's summary for list and search, built on first use (`search.rs`).
    pub(crate) code_index: OnceLock<std::result::Result<crate::search::CodeIndex, Error>>,
}

/// The anesthesia codes in code order, found by number: a line's code is looked up several times (by
/// validation, pricing and the case edit). The same lookup finds a qualifying circumstance, which every
/// line not in the table is asked about, and the code's typical diagnoses, which validation asks of
/// every anesthesia line.
#[derive(Debug)]
pub(crate) struct AnesthesiaCodes {
    in_order: Vec<AnesthesiaCode>,
    /// Each code's typical diagnoses (from its families), by its position in `in_order`.
    typical_diagnoses: Vec<Vec<Icd10Code>>,
    /// Codes 00000-01999 (the anesthesia range, 00100-01999, and below) by number: an index, where a
    /// hash probe took 65 instructions on every line.
    by_number: Box<[Positions]>,
    /// Every other code (the qualifying circumstances, 99100-99140), hashed, and the span of their
    /// words: the codes of other lines fall outside it and are not hashed at all.
    others: HashMap<CptCode, Positions>,
    others_span: RangeInclusive<u64>,
}

/// How many codes, from 00000, [`AnesthesiaCodes`] finds by number.
const BY_NUMBER: usize = 2000;

/// What one probe finds of a code.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Found<'a> {
    pub entry: Option<&'a AnesthesiaCode>,
    /// The entry's typical diagnoses, in family order; empty when none are curated.
    pub typical_diagnoses: &'a [Icd10Code],
    /// Its position in the qualifying circumstances the codes were made with.
    pub qualifying: Option<usize>,
}

/// Where a code is in the base-unit table and in the list of qualifying circumstances.
#[derive(Debug, Clone, Copy, Default)]
struct Positions {
    code: Option<usize>,
    qualifying: Option<usize>,
}

impl AnesthesiaCodes {
    fn new(
        codes: BTreeMap<CptCode, AnesthesiaCode>,
        qualifying: &[QualifyingCircumstance],
        families: &[Family],
    ) -> Self {
        let in_order: Vec<AnesthesiaCode> = codes.into_values().collect();
        let typical_diagnoses = in_order
            .iter()
            .map(|c| families_of(families, c.code).flat_map(|f| f.diagnoses.iter().map(|d| d.code)).collect())
            .collect();
        let mut by_number = vec![Positions::default(); BY_NUMBER].into_boxed_slice();
        let mut others: HashMap<CptCode, Positions> = HashMap::default();
        for (i, c) in in_order.iter().enumerate() {
            positions_of(&mut by_number, &mut others, c.code).code = Some(i);
        }
        for (i, qc) in qualifying.iter().enumerate() {
            // The first of a code listed twice, as a search of the list finds it.
            positions_of(&mut by_number, &mut others, qc.code).qualifying.get_or_insert(i);
        }
        let words = || others.keys().map(CptCode::key);
        let others_span = words().min().unwrap_or(1)..=words().max().unwrap_or(0);
        AnesthesiaCodes { in_order, typical_diagnoses, by_number, others, others_span }
    }

    pub(crate) fn get(&self, code: &CptCode) -> Option<&AnesthesiaCode> {
        self.lookup(code).entry
    }

    pub(crate) fn contains_key(&self, code: &CptCode) -> bool {
        self.get(code).is_some()
    }

    pub(crate) fn lookup(&self, code: &CptCode) -> Found<'_> {
        let found = match number_from_zero(code).and_then(|n| self.by_number.get(n)) {
            Some(&positions) => Some(positions),
            None if self.others_span.contains(&code.key()) => self.others.get(code).copied(),
            None => None,
        };
        let Some(Positions { code, qualifying }) = found else { return Found::default() };
        Found {
            entry: code.and_then(|i| self.in_order.get(i)),
            typical_diagnoses: code.and_then(|i| self.typical_diagnoses.get(i)).map_or(&[], Vec::as_slice),
            qualifying,
        }
    }

    /// In code order.
    pub(crate) fn values(&self) -> std::slice::Iter<'_, AnesthesiaCode> {
        self.in_order.iter()
    }

    /// In code order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &CptCode> {
        self.in_order.iter().map(|c| &c.code)
    }
}

/// Where `code`'s positions are kept: by number in the anesthesia range, hashed outside it.
fn positions_of<'a>(
    by_number: &'a mut [Positions],
    others: &'a mut HashMap<CptCode, Positions>,
    code: CptCode,
) -> &'a mut Positions {
    match number_from_zero(&code).and_then(|n| by_number.get_mut(n)) {
        Some(positions) => positions,
        None => others.entry(code).or_default(),
    }
}

/// The number of a code of five digits that begins with 0. The first byte tells most other codes
/// apart with one compare; the other four are checked at once, as a word (a fold over the digits,
/// `CptCode::number`, took 40 instructions a code).
#[inline]
fn number_from_zero(code: &CptCode) -> Option<usize> {
    let [.., first, b, c, d, e] = code.key().to_be_bytes();
    let digits = u32::from_be_bytes([b, c, d, e]).wrapping_sub(0x3030_3030);
    // A byte below '0' wraps past 0x7f, one above '9' reaches 0x80 when 0x76 is added: a digit does
    // neither (the lowest byte that is no digit is met without a borrow or carry from below).
    let no_digit = (digits | digits.wrapping_add(0x7676_7676)) & 0x8080_8080;
    let [b, c, d, e] = digits.to_be_bytes().map(usize::from);
    (first == b'0' && no_digit == 0).then_some(b * 1000 + c * 100 + d * 10 + e)
}

fn families_of(families: &[Family], code: CptCode) -> impl Iterator<Item = &Family> {
    families.iter().filter(move |f| f.codes.contains(code))
}

/// One row of a user's `cpt_descriptors.csv`.
#[derive(Debug, Deserialize)]
struct CptDescriptor {
    code: CptCode,
    descriptor: String,
}

#[derive(Debug, Clone, Deserialize)]
struct FacilityPlace {
    pos: PosCode,
}

/// A non-physician practitioner type and the share of the fee schedule Medicare pays it.
#[derive(Debug, Clone, Deserialize)]
pub struct NonphysicianPractitioner {
    pub taxonomy: TaxonomyCode,
    pub role: String,
    pub share: Decimal,
    pub description: String,
}

/// A CPT section or subsection (or a HCPCS Level II letter) as a range of codes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct CodeSection {
    pub first: CptCode,
    pub last: CptCode,
    pub section: String,
    #[serde(default)]
    pub subsection: String,
}

/// When a diagnosis may be billed, as far as cptkit's code set and its known deletions tell.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiagnosisStatus {
    /// Billable while valid (a leaf of the code set, or a deleted code before its deletion).
    pub billable: bool,
    /// The first date of service it is valid for, and the deleted code it replaced.
    pub from: Option<(Date, Icd10Code)>,
    /// The last date of service it is valid for (a deleted code).
    pub through: Option<Date>,
}

/// The dates a code is valid for besides the code set's own: `through` its deletion, `from` the day
/// after the deletion of the code it replaced.
#[derive(Debug, Clone, Copy, Default)]
struct DiagnosisDates {
    from: Option<(Date, Icd10Code)>,
    through: Option<Date>,
}

/// Each deleted code's and each replacing code's [`DiagnosisDates`].
fn diagnosis_dates(deleted: &HashMap<Icd10Code, DeletedDiagnosis>) -> HashMap<Icd10Code, DiagnosisDates> {
    // A code that replaced a deleted one -> the deleted code.
    let replacing: HashMap<Icd10Code, Icd10Code> =
        deleted.iter().flat_map(|(code, d)| d.replaced_by.iter().map(move |new| (*new, *code))).collect();
    let mut dates: HashMap<Icd10Code, DiagnosisDates> = HashMap::default();
    for (code, d) in deleted {
        dates.entry(*code).or_default().through = Some(d.valid_through);
    }
    for (new, old) in replacing {
        let from = deleted.get(&old).and_then(|d| Some((d.valid_through.next_day()?, old)));
        dates.entry(new).or_default().from = from;
    }
    dates
}

#[derive(Debug, Clone)]
struct DeletedDiagnosis {
    title: String,
    valid_through: Date,
    replaced_by: Vec<Icd10Code>,
    source: String,
}

impl Reference {
    /// The embedded reference data, parsed once per process.
    pub fn embedded() -> &'static Reference {
        static EMBEDDED_REFERENCE: OnceLock<Reference> = OnceLock::new();
        EMBEDDED_REFERENCE.get_or_init(|| {
            // The embedded tables are checked by the test suite; failing here is a build defect.
            #[allow(clippy::expect_used)]
            Reference::load(Files { dir: None }).expect("embedded reference data is valid")
        })
    }

    /// The embedded data with any table file found in `dir` taking its place.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Reference> {
        let dir = dir.as_ref();
        if !dir.exists() {
            // A missing directory is a missing file, as every face reports one.
            return Err(Error::new(ErrorKind::NotFound, "no such directory").in_file(dir).at("data_dir"));
        }
        if !dir.is_dir() {
            return Err(Error::invalid("data_dir", format!("{} is not a directory", dir.display())));
        }
        Reference::load(Files { dir: Some(dir.to_owned()) })
    }

    /// The Medicare Physician Fee Schedule releases.
    pub fn fee_schedule(&self) -> &FeeSchedule {
        &self.fee_schedule
    }

    /// Whether a place of service is paid at the facility rate.
    pub fn is_facility(&self, pos: &PosCode) -> bool {
        self.facility_places.contains(pos)
    }

    /// The share of the fee schedule paid to the claim's rendering provider when the taxonomy is a
    /// non-physician practitioner's (nurse practitioner, physician assistant, clinical nurse specialist).
    pub fn nonphysician_share(&self, claim: &crate::claim::Claim) -> Option<(Decimal, &str)> {
        let taxonomy = claim.rendering_provider.taxonomy?;
        self.nonphysician_practitioners.get(&taxonomy).map(|n| (n.share, n.description.as_str()))
    }

    /// The CPT section (or HCPCS Level II letter group) of a code, most specific first. A range holds
    /// only codes of its bounds' form: 3000F sorts inside 30000-32999 but is a Category II code.
    pub fn section_of(&self, code: CptCode) -> Option<&CodeSection> {
        self.sections.iter().find(|s| crate::search::in_range(code, s.first, s.last))
    }

    /// A user-supplied CPT descriptor (`cpt_descriptors.csv` in the data directory), if any.
    pub fn cpt_descriptor(&self, code: CptCode) -> Option<&str> {
        self.cpt_descriptors.get(&code).map(String::as_str)
    }

    /// Builds the ICD-10-CM index and reads every fee schedule release now rather than on first use.
    pub fn warm(&self) -> Result<()> {
        self.icd10()?;
        // Every release, so a broken file in a data directory is found at start-up, not mid-batch.
        for release in self.fee_schedule.releases() {
            release.tables()?;
        }
        Ok(())
    }

    fn load(files: Files) -> Result<Reference> {
        let icd10_text = files.text("icd10cm_2026_04.tsv")?;
        let locality_cfs = load_locality_cfs(&files)?;
        let mut locality_index: BTreeMap<i32, HashMap<LocalityId, usize>> = BTreeMap::new();
        for (i, cf) in locality_cfs.iter().enumerate() {
            if let Some(locality) = &cf.locality {
                locality_index.entry(cf.year).or_default().insert(locality.id, i);
            }
        }
        let qualifying_circumstances = load_qualifying_circumstances(&files)?;
        let families = load_families(&files)?;
        let codes = AnesthesiaCodes::new(load_codes(&files)?, &qualifying_circumstances, &families);
        let icd10_deleted = load_deleted_diagnoses(&files)?;
        let modifiers = load_modifiers(&files)?;
        let reference = Reference {
            codes,
            modifier_positions: modifiers.iter().enumerate().map(|(i, m)| (m.code, i)).rev().collect(),
            modifiers,
            qualifying_circumstances,
            places_of_service: load_places_of_service(&files)?,
            taxonomies: load_taxonomies(&files)?,
            families,
            payer_policies: files.rows("payer_policies.csv")?,
            policy_updates: files.rows("policy_updates.csv")?,
            national_cfs: load_national_cfs(&files)?,
            locality_cfs,
            medicare_localities: locality_index.values().flat_map(|year| year.keys().copied()).collect(),
            locality_index,
            icd10_text,
            icd10: OnceLock::new(),
            icd10_dates: diagnosis_dates(&icd10_deleted),
            icd10_deleted,
            fee_schedule: FeeSchedule::load(files.dir.as_deref())?,
            facility_places: files
                .rows::<FacilityPlace>("pfs/facility_places_of_service.csv")?
                .into_iter()
                .map(|f| f.pos)
                .collect(),
            nonphysician_practitioners: files
                .rows::<NonphysicianPractitioner>("pfs/nonphysician_practitioner_taxonomies.csv")?
                .into_iter()
                .map(|n| (n.taxonomy, n))
                .collect(),
            sections: files.rows("pfs/cpt_sections.csv")?,
            cpt_descriptors: files
                .optional_rows::<CptDescriptor>("cpt_descriptors.csv")?
                .into_iter()
                .map(|d| (d.code, d.descriptor))
                .collect(),
            code_index: OnceLock::new(),
            payers: PayerDirectory::load(
                files.rows("x12_claim_filing_indicators.csv")?,
                files.rows("payer_aliases.csv")?,
            )
            .map_err(|e| table_error("payer tables", e))?,
        };
        reference.check_references()?;
        Ok(reference)
    }

    /// Cross-table checks: every family's diagnoses and taxonomies exist.
    fn check_references(&self) -> Result<()> {
        for family in &self.families {
            for dx in &family.diagnoses {
                self.diagnosis(&dx.code)
                    .map_err(|e| table_error("family_diagnoses.csv", format!("{}: {}", family.id, e.message())))?;
            }
            for tx in &family.taxonomies {
                self.taxonomy(&tx.code)
                    .map_err(|e| table_error("family_taxonomies.csv", format!("{}: {}", family.id, e.message())))?;
            }
        }
        Ok(())
    }

    fn icd10(&self) -> Result<&Icd10Table> {
        match self.icd10.get() {
            Some(table) => Ok(table),
            None => self.index_icd10(),
        }
    }

    /// The first use of the code set (or `warm`) indexes it; apart, so validation's lookups inline
    /// the check that it is indexed.
    #[cold]
    fn index_icd10(&self) -> Result<&Icd10Table> {
        let mut table = Icd10Table::index(&self.icd10_text).map_err(|e| table_error("icd10cm_2026_04.tsv", e))?;
        for code in self.icd10_dates.keys() {
            table.mark_dated(code);
        }
        Ok(self.icd10.get_or_init(|| table))
    }

    /// How many ICD-10-CM codes (billable or header) the code set holds.
    pub fn diagnosis_count(&self) -> Result<usize> {
        self.icd10().map(Icd10Table::len)
    }

    /// All anesthesia codes in code order.
    pub fn codes(&self) -> impl ExactSizeIterator<Item = &AnesthesiaCode> {
        self.codes.values()
    }

    pub fn anesthesia_code(&self, code: CptCode) -> Result<&AnesthesiaCode> {
        self.codes.get(&code).ok_or_else(|| {
            let why = if code.is_anesthesia() {
                "is in the anesthesia range 00100-01999 but not in the CMS anesthesia base-unit file (CY2022)"
            } else {
                "is not an anesthesia code (cptkit profiles CPT 00100-01999)"
            };
            Error::missing(Resource::PROCEDURE_CODE, code.to_string(), format!("{code} {why}"))
        })
    }

    pub fn modifiers(&self) -> &[Modifier] {
        &self.modifiers
    }

    pub fn modifier(&self, code: ModifierCode) -> Result<&Modifier> {
        self.known_modifier(code).ok_or_else(|| {
            let message = format!("modifier {code} is not an anesthesia modifier cptkit knows");
            Error::missing(Resource::MODIFIER, code.to_string(), message).at("code")
        })
    }

    /// [`Reference::modifier`] without the error: validation asks about every modifier of every line,
    /// and most fee-schedule modifiers (26, TC, RT, ...) are not anesthesia ones.
    pub(crate) fn known_modifier(&self, code: ModifierCode) -> Option<&Modifier> {
        self.modifier_positions.get(&code).map(|&i| &self.modifiers[i])
    }

    pub fn qualifying_circumstances(&self) -> &[QualifyingCircumstance] {
        &self.qualifying_circumstances
    }

    pub fn place_of_service(&self, code: &PosCode) -> Result<&PlaceOfService> {
        self.places_of_service.get(code.number()).and_then(Option::as_ref).ok_or_else(|| {
            let message = format!("place of service {code} is not assigned in the CMS POS code set");
            Error::missing(Resource::PLACE_OF_SERVICE, code.to_string(), message).at("code")
        })
    }

    pub fn taxonomy(&self, code: &TaxonomyCode) -> Result<&Taxonomy> {
        self.taxonomies.get(code).ok_or_else(|| {
            let message =
                format!("taxonomy {code} is not among the anesthesia and pain-medicine taxonomies cptkit holds");
            Error::missing(Resource::TAXONOMY, code.to_string(), message).at("code")
        })
    }

    /// Whether a diagnosis is billable and the dates it is valid for, without building its record (the
    /// validation hot path). None when the code is in neither the code set nor the deletions.
    pub(crate) fn diagnosis_status(&self, code: &Icd10Code) -> Result<Option<DiagnosisStatus>> {
        let in_set = self.icd10()?.status(code);
        // The code set marks the codes it holds that have dates: most codes take one lookup, not two.
        let dates = match in_set {
            Some(status) if !status.dated => None,
            _ => self.icd10_dates.get(code).copied(),
        };
        let DiagnosisDates { from, through } = dates.unwrap_or_default();
        Ok(match in_set.map(|status| status.billable) {
            // A deleted code was billable through its end date, whatever it is now (M54.5 lives on as
            // a header of its replacements).
            Some(billable) => Some(DiagnosisStatus { billable: billable || through.is_some(), from, through }),
            None => through.map(|_| DiagnosisStatus { billable: true, from, through }),
        })
    }

    /// An ICD-10-CM code from the April 2026 code set, or a known deleted code with its end date.
    pub fn diagnosis(&self, code: &Icd10Code) -> Result<Diagnosis> {
        let deleted = self.icd10_deleted.get(code);
        let current = self.icd10()?.get(&self.icd10_text, code);
        let source = "ICD-10-CM April 1, 2026 tabular (PyPI simple-icd-10-cm 1.5.0)";
        match (current, deleted) {
            // Still in the tabular (M54.5 lives on as a header) but no longer billable since its end date.
            (Some(entry), Some(d)) => Ok(Diagnosis {
                code: *code,
                title: entry.title.to_owned(),
                billable: entry.billable,
                valid_through: Some(d.valid_through),
                replaced_by: d.replaced_by.clone(),
                source: format!("{source}; deletion: {}", d.source),
            }),
            (Some(entry), None) => Ok(Diagnosis {
                code: *code,
                title: entry.title.to_owned(),
                billable: entry.billable,
                valid_through: None,
                replaced_by: Vec::new(),
                source: source.to_owned(),
            }),
            (None, Some(d)) => Ok(Diagnosis {
                code: *code,
                title: d.title.clone(),
                billable: false,
                valid_through: Some(d.valid_through),
                replaced_by: d.replaced_by.clone(),
                source: d.source.clone(),
            }),
            (None, None) => {
                let message = format!("{code} is not in the ICD-10-CM code set (April 1, 2026)");
                Err(Error::missing(Resource::DIAGNOSIS_CODE, code.to_string(), message).at("code"))
            }
        }
    }

    pub fn families_of(&self, code: CptCode) -> impl Iterator<Item = &Family> {
        families_of(&self.families, code)
    }

    /// How X12 payers map to cptkit payer ids and plan types.
    pub fn payers(&self) -> &PayerDirectory {
        &self.payers
    }

    pub fn payer_policies(&self) -> &[PayerPolicy] {
        &self.payer_policies
    }

    /// National conversion factors, oldest year first.
    pub fn national_conversion_factors(&self) -> impl Iterator<Item = &ConversionFactor> {
        self.national_cfs.iter().map(|cf| &**cf)
    }

    /// The locality-adjusted factor for a year, if loaded.
    pub(crate) fn locality_conversion_factor(
        &self,
        year: i32,
        locality: &LocalityId,
    ) -> Option<&'static ConversionFactor> {
        self.locality_index.get(&year)?.get(locality).map(|&i| self.locality_cfs[i])
    }

    /// Whether CMS names this locality in any year cptkit holds (its anesthesia locality factors come
    /// from the GPCI files: one set of localities, without loading a fee-schedule release).
    pub(crate) fn is_medicare_locality(&self, locality: &LocalityId) -> bool {
        self.medicare_localities.contains(locality)
    }

    pub fn locality_conversion_factors(&self) -> impl Iterator<Item = &ConversionFactor> {
        self.locality_cfs.iter().map(|cf| &**cf)
    }
}

fn known(text: &str) -> Known {
    let t = text.trim().to_ascii_lowercase();
    if t.starts_with("yes") {
        Known::Yes
    } else if t.starts_with("no") {
        Known::No
    } else {
        Known::Unknown
    }
}

fn load_codes(files: &Files) -> Result<BTreeMap<CptCode, AnesthesiaCode>> {
    #[derive(Deserialize)]
    struct BaseUnitsRow {
        cpt_code: CptCode,
        base_units: u32,
        cms_file_year: i32,
    }
    #[derive(Deserialize)]
    struct CategoryRow {
        first_code: CptCode,
        last_code: CptCode,
        category: String,
    }
    #[derive(Deserialize)]
    struct DescriptionRow {
        code: CptCode,
        description: String,
        basis: String,
        source: String,
    }
    #[derive(Deserialize)]
    struct KindRow {
        code: CptCode,
        kind: String,
        #[serde(default)]
        reported_with: Option<CptCode>,
    }
    #[derive(Deserialize)]
    struct SpineRow {
        cpt_code: CptCode,
        cms_inpatient_only_cy2025: String,
    }

    let categories: Vec<CategoryRow> = files.rows("anesthesia_categories.csv")?;
    let mut descriptions: BTreeMap<CptCode, DescriptionRow> = files
        .rows::<DescriptionRow>("anesthesia_code_descriptions.csv")?
        .into_iter()
        .map(|row| (row.code, row))
        .collect();
    let kinds: BTreeMap<CptCode, (String, Option<CptCode>)> = files
        .rows::<KindRow>("anesthesia_code_kinds.csv")?
        .into_iter()
        .map(|r| (r.code, (r.kind, r.reported_with)))
        .collect();
    let inpatient: BTreeMap<CptCode, Known> = files
        .rows::<SpineRow>("anesthesia_spine_family_006xx.csv")?
        .into_iter()
        .map(|r| (r.cpt_code, known(&r.cms_inpatient_only_cy2025)))
        .collect();

    let mut codes = BTreeMap::new();
    let mut sources: BTreeMap<i32, &'static str> = BTreeMap::new();
    for row in files.rows::<BaseUnitsRow>("cms_anesthesia_base_units.csv")? {
        let code = row.cpt_code;
        let missing = |what: &str| table_error("anesthesia tables", format!("{code} has no {what}"));
        let category = categories
            .iter()
            .find(|c| (c.first_code..=c.last_code).contains(&code))
            .ok_or_else(|| missing("category in anesthesia_categories.csv"))?;
        let description = descriptions.remove(&code).ok_or_else(|| missing("description"))?;
        let (kind, reported_with) = kinds.get(&code).map_or((None, None), |(kind, with)| (Some(kind.as_str()), *with));
        let service_type = match kind {
            None => ServiceType::Anesthesia,
            Some("add_on") => ServiceType::AnesthesiaAddOn,
            Some("unlisted") => ServiceType::UnlistedAnesthesia,
            Some(other) => {
                return Err(table_error("anesthesia_code_kinds.csv", format!("{code}: unknown kind {other}")));
            }
        };
        let inpatient_only = inpatient.get(&code).copied().unwrap_or(Known::Unknown);
        codes.insert(
            code,
            AnesthesiaCode {
                code,
                description: description.description,
                description_basis: description.basis,
                description_source: description.source,
                service_type,
                reported_with,
                category: category.category.clone(),
                base_units: row.base_units,
                base_units_source: sources.entry(row.cms_file_year).or_insert_with(|| {
                    kept::text(&format!("CMS CY{} Anesthesia Base Units by CPT Code", row.cms_file_year))
                }),
                medicare_inpatient_only: inpatient_only,
                inpatient_only_source: match inpatient_only {
                    Known::Unknown => "not checked against the CMS OPPS inpatient-only list".to_owned(),
                    Known::Yes | Known::No => "CMS CY2025 OPPS final rule Addendum E (inpatient-only list)".to_owned(),
                },
            },
        );
    }
    if let Some(extra) = descriptions.keys().next() {
        return Err(table_error("anesthesia_code_descriptions.csv", format!("{extra} is not in the base-unit file")));
    }
    Ok(codes)
}

fn load_modifiers(files: &Files) -> Result<Vec<Modifier>> {
    #[derive(Deserialize)]
    struct Row {
        modifier: ModifierCode,
        category: String,
        meaning_plain: String,
        who_bills_it: String,
        medicare_payment_effect: String,
        source: String,
    }
    files
        .rows::<Row>("anesthesia_modifiers.csv")?
        .into_iter()
        .map(|r| {
            let category = match r.category.as_str() {
                "pricing" => ModifierCategory::Pricing,
                "informational" => ModifierCategory::Informational,
                "teaching" => ModifierCategory::Teaching,
                "CPT" => ModifierCategory::Cpt,
                "physical status" => ModifierCategory::PhysicalStatus,
                other => return Err(table_error("anesthesia_modifiers.csv", format!("unknown category {other:?}"))),
            };
            Ok(Modifier {
                code: r.modifier,
                category,
                meaning: r.meaning_plain,
                billed_by: r.who_bills_it,
                medicare_payment_effect: r.medicare_payment_effect,
                source: r.source,
            })
        })
        .collect()
}

fn load_qualifying_circumstances(files: &Files) -> Result<Vec<QualifyingCircumstance>> {
    #[derive(Deserialize)]
    struct Row {
        code: CptCode,
        meaning_plain: String,
        units_commonly_applied_by_commercial_payers: u32,
        medicare_separately_paid: String,
        source: String,
    }
    Ok(files
        .rows::<Row>("anesthesia_qualifying_circumstances.csv")?
        .into_iter()
        .map(|r| QualifyingCircumstance {
            code: r.code,
            meaning: r.meaning_plain,
            commercial_units: r.units_commonly_applied_by_commercial_payers,
            medicare_paid: known(&r.medicare_separately_paid) == Known::Yes,
            medicare_note: r.medicare_separately_paid,
            source: r.source,
        })
        .collect())
}

fn load_places_of_service(files: &Files) -> Result<Box<[Option<PlaceOfService>]>> {
    #[derive(Deserialize)]
    struct Row {
        pos_code: PosCode,
        pos_name: String,
        facility_setting_for_anesthesia_note: String,
    }
    let mut places: Box<[Option<PlaceOfService>]> = (0..PosCode::COUNT).map(|_| None).collect();
    for r in files.rows::<Row>("place_of_service_codes.csv")? {
        let pos = PlaceOfService { code: r.pos_code, name: r.pos_name, note: r.facility_setting_for_anesthesia_note };
        places[r.pos_code.number()] = Some(pos);
    }
    Ok(places)
}

fn load_taxonomies(files: &Files) -> Result<HashMap<TaxonomyCode, Taxonomy>> {
    #[derive(Deserialize)]
    struct Row {
        taxonomy_code: TaxonomyCode,
        nucc_grouping: String,
        nucc_classification: String,
        nucc_specialization: String,
        provider_role: String,
        medicare_specialty_code: String,
        confirmed_by: String,
    }
    Ok(files
        .rows::<Row>("anesthesia_provider_taxonomy.csv")?
        .into_iter()
        .map(|r| {
            let taxonomy = Taxonomy {
                code: r.taxonomy_code,
                grouping: r.nucc_grouping,
                classification: r.nucc_classification,
                specialization: r.nucc_specialization,
                provider_role: r.provider_role,
                medicare_specialty: r.medicare_specialty_code,
                source: r.confirmed_by,
            };
            (r.taxonomy_code, taxonomy)
        })
        .collect())
}

fn load_families(files: &Files) -> Result<Vec<Family>> {
    #[derive(Deserialize)]
    struct FamilyRow {
        family: String,
        codes: String,
        name: String,
        clinical_summary: String,
        setting: String,
        care_team: String,
        workflow: String,
        source: String,
    }
    #[derive(Deserialize)]
    struct DiagnosisRow {
        family: String,
        icd10cm_code: Icd10Code,
        relevance: String,
        source: String,
    }
    #[derive(Deserialize)]
    struct TaxonomyRow {
        family: String,
        taxonomy_code: TaxonomyCode,
        why: String,
        source: String,
    }
    let mut families = files
        .rows::<FamilyRow>("code_families.csv")?
        .into_iter()
        .map(|r| {
            Ok(Family {
                codes: CodeSet::parse(&r.codes).map_err(|e| table_error("code_families.csv", e))?,
                id: r.family,
                name: r.name,
                clinical_summary: r.clinical_summary,
                setting: r.setting,
                care_team: r.care_team,
                workflow: r.workflow.split("; ").filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                source: r.source,
                diagnoses: Vec::new(),
                taxonomies: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    fn family<'a>(families: &'a mut [Family], file: &str, id: &str) -> Result<&'a mut Family> {
        families.iter_mut().find(|f| f.id == id).ok_or_else(|| table_error(file, format!("unknown family {id:?}")))
    }
    for r in files.rows::<DiagnosisRow>("family_diagnoses.csv")? {
        family(&mut families, "family_diagnoses.csv", &r.family)?.diagnoses.push(FamilyDiagnosis {
            code: r.icd10cm_code,
            relevance: r.relevance,
            source: r.source,
        });
    }
    for r in files.rows::<TaxonomyRow>("family_taxonomies.csv")? {
        family(&mut families, "family_taxonomies.csv", &r.family)?.taxonomies.push(FamilyTaxonomy {
            code: r.taxonomy_code,
            why: r.why,
            source: r.source,
        });
    }
    Ok(families)
}

/// A conversion factor kept for the process ([`crate::kept`]): loading an equal one again finds it.
fn keep_factor(factor: ConversionFactor) -> &'static ConversionFactor {
    static KEPT: Kept<ConversionFactor> = Kept::new();
    KEPT.keep(factor)
}

fn load_national_cfs(files: &Files) -> Result<Vec<&'static ConversionFactor>> {
    #[derive(Deserialize)]
    struct Row {
        calendar_year: i32,
        cf_tier: String,
        national_anesthesia_cf_usd: Decimal,
        source: String,
    }
    files
        .rows::<Row>("medicare_anesthesia_cf_national.csv")?
        .into_iter()
        .map(|r| {
            let tier = match r.cf_tier.as_str() {
                "single" => CfTier::Single,
                "non_qualifying_APM" => CfTier::NonQualifyingApm,
                "qualifying_APM_participant" => CfTier::QualifyingApm,
                other => {
                    return Err(table_error("medicare_anesthesia_cf_national.csv", format!("unknown tier {other:?}")));
                }
            };
            Ok(keep_factor(ConversionFactor {
                year: r.calendar_year,
                tier,
                locality: None,
                amount: r.national_anesthesia_cf_usd,
                source: r.source,
            }))
        })
        .collect()
}

fn load_locality_cfs(files: &Files) -> Result<Vec<&'static ConversionFactor>> {
    #[derive(Deserialize)]
    struct Row {
        year: i32,
        mac_contractor: String,
        locality: String,
        locality_name: String,
        anesthesia_cf_usd: Decimal,
        note: String,
    }
    let file = "medicare_anesthesia_cf_locality_cy2025.csv";
    files
        .rows::<Row>(file)?
        .into_iter()
        .map(|r| {
            let id = LocalityId::new(&r.mac_contractor, &r.locality).map_err(|e| table_error(file, e))?;
            Ok(keep_factor(ConversionFactor {
                year: r.year,
                tier: CfTier::Single,
                locality: Some(Locality { id, name: r.locality_name }),
                amount: r.anesthesia_cf_usd,
                source: if r.note.is_empty() { "CMS ANES2025 locality-adjusted CF".to_owned() } else { r.note },
            }))
        })
        .collect()
}

fn load_deleted_diagnoses(files: &Files) -> Result<HashMap<Icd10Code, DeletedDiagnosis>> {
    #[derive(Deserialize)]
    struct Row {
        code: Icd10Code,
        title: String,
        #[serde(deserialize_with = "required_date")]
        valid_through: Date,
        replaced_by: String,
        source: String,
    }
    files
        .rows::<Row>("icd10cm_deleted.csv")?
        .into_iter()
        .map(|r| {
            let replaced_by = r.replaced_by.split_whitespace().map(str::parse).collect::<Result<Vec<Icd10Code>>>()?;
            Ok((
                r.code,
                DeletedDiagnosis { title: r.title, valid_through: r.valid_through, replaced_by, source: r.source },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code a claim can hold (five digits; four digits and F, T or U; a letter and four digits):
    /// the word's check gives the number exactly when the code is five digits from 0.
    #[test]
    fn number_from_zero_agrees_with_the_fold_on_every_code() {
        let digits = (0..10_000).map(|n| format!("{n:04}"));
        let codes = digits.flat_map(|d| {
            let firsts = (0..10).map(|first| first.to_string()).chain(('A'..='Z').map(String::from));
            let mut codes: Vec<String> = firsts.map(|first| format!("{first}{d}")).collect();
            codes.extend(["F", "T", "U"].map(|tail| format!("{d}{tail}")));
            codes
        });
        let mut checked = 0;
        for text in codes {
            let code: CptCode = text.parse().unwrap();
            let expected = code.number().filter(|_| text.starts_with('0')).map(|n| n as usize);
            assert_eq!(number_from_zero(&code), expected, "{text}");
            checked += 1;
        }
        assert_eq!(checked, 100_000 + 260_000 + 30_000);
    }
}
