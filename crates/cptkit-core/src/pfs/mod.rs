//! The Medicare Physician Fee Schedule: CMS's RVU, GPCI, OPPS-cap and ZIP-to-locality files, by
//! release. A release is parsed on first use (start-up stays fast), and a claim is priced with the
//! release in force on its date of service. `data/pfs/releases.csv` lists the embedded releases; a data
//! directory's `pfs/releases.csv` adds or replaces releases without a rebuild (CY2026 RVUs and GPCIs
//! when a user has them).

mod indicators;
mod price;
mod profile;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use foldhash::{HashMap, HashMapExt};
use rust_decimal::Decimal;
use serde::Deserialize;
use time::Date;

use crate::error::{Error, ErrorKind, Result};
use crate::ids::{CptCode, LocalityId, ModifierCode, UsState};
use crate::kept;
use crate::pricing::Exact;

pub use indicators::{Indicator, describe_global, describe_status};
pub(crate) use price::{
    CLAIM_LOCALITY, FeeFacts, FeeLine, claim_locality, claim_zip, price_fee_schedule_lines, service_facility_zip,
};
pub use price::{FeeBasis, FeeStep};
pub(crate) use profile::selected_localities;
pub use profile::{
    FeeAmount, FeeComponent, FeeIndicator, FeeRelease, FeeScheduleProfile, GlobalPeriod, LIMITING_CHARGE_FACTOR, Rvus,
    SettingAmount,
};

/// The embedded release files, by the path a data directory's `pfs/` folder names them with.
const EMBEDDED: &[(&str, &str)] = &[
    ("releases.csv", include_str!("../../data/pfs/releases.csv")),
    ("rvu25d/pfs_rvu.csv", include_str!("../../data/pfs/rvu25d/pfs_rvu.csv")),
    ("rvu25d/gpci.csv", include_str!("../../data/pfs/rvu25d/gpci.csv")),
    ("rvu25d/opps_cap.csv", include_str!("../../data/pfs/rvu25d/opps_cap.csv")),
    ("rvu25d/zip5_locality.csv", include_str!("../../data/pfs/rvu25d/zip5_locality.csv")),
];

const LEVEL2_DESCRIPTORS: &str = include_str!("../../data/pfs/hcpcs_level2_short_descriptions_2025.csv");

/// One quarterly release of the fee schedule, as `releases.csv` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseInfo {
    /// CMS's name: `RVU25D` is the October 2025 release.
    pub release: String,
    pub year: i32,
    pub effective_from: Date,
    pub effective_to: Date,
    /// The conversion factor of the year (non-qualifying APM participants from CY2026).
    #[serde(with = "rust_decimal::serde::str")]
    pub conversion_factor: Decimal,
    /// CY2026+: the qualifying APM participant factor, when the release has one.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub qp_conversion_factor: Option<Decimal>,
    directory: String,
    pub source: String,
}

/// A release: what `releases.csv` says, and its tables once read.
#[derive(Debug)]
pub struct Release {
    pub info: ReleaseInfo,
    /// `info.release`, named by every line priced from it: kept for the process ([`crate::kept`]).
    pub name: &'static str,
    /// `None` for the embedded files; else the data directory's `pfs/`.
    dir: Option<PathBuf>,
    tables: OnceLock<std::result::Result<Arc<Tables>, Error>>,
}

/// The fee schedule releases cptkit knows, newest last.
#[derive(Debug, Default)]
pub struct FeeSchedule {
    releases: Vec<Release>,
    level2: OnceLock<HashMap<CptCode, Box<str>>>,
}

/// The release a date of service is priced with.
#[derive(Debug, Clone, Copy)]
pub struct InForce<'a> {
    pub release: &'a Release,
    pub tables: &'a Tables,
    /// The date falls before the release's effective date and no earlier release of its year is
    /// loaded: the nearest one is used, and the explanation says so.
    pub stand_in: bool,
}

impl FeeSchedule {
    /// The embedded releases, plus (replacing any of the same name) those listed in `dir/pfs/releases.csv`.
    pub(crate) fn load(dir: Option<&Path>) -> Result<FeeSchedule> {
        let mut releases = read_releases(None)?;
        if let Some(dir) = dir.map(|d| d.join("pfs")).filter(|d| d.join("releases.csv").exists()) {
            for release in read_releases(Some(&dir))? {
                releases.retain(|r| r.info.release != release.info.release);
                releases.push(release);
            }
        }
        releases.sort_by_key(|r| r.info.effective_from);
        Ok(FeeSchedule { releases, level2: OnceLock::new() })
    }

    pub fn releases(&self) -> impl Iterator<Item = &Release> {
        self.releases.iter()
    }

    /// The release in force on `date`; else the nearest loaded release of the same year (a stand-in);
    /// else `Unsupported`, naming the year.
    pub fn in_force(&self, date: Date) -> Result<InForce<'_>> {
        let covering =
            self.releases.iter().rev().find(|r| r.info.effective_from <= date && date <= r.info.effective_to);
        let (release, stand_in) = match covering {
            Some(r) => (r, false),
            None => {
                let same_year = self.releases.iter().find(|r| r.info.year == date.year());
                let r = same_year.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "cptkit has no Medicare Physician Fee Schedule release for CY{} (loaded: {}); load one \
                             with a data directory (pfs/releases.csv)",
                            date.year(),
                            self.releases.iter().map(|r| r.info.release.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                (r, true)
            }
        };
        Ok(InForce { release, tables: release.tables()?, stand_in })
    }

    /// The newest release (profiles show it when no date is asked for).
    pub fn latest(&self) -> Result<InForce<'_>> {
        let release = self.releases.last().ok_or_else(|| Error::internal("no fee schedule release loaded"))?;
        Ok(InForce { release, tables: release.tables()?, stand_in: false })
    }

    /// CMS's short descriptor of a HCPCS Level II code (CPT descriptors are AMA copyright: not included).
    pub fn level2_descriptor(&self, code: CptCode) -> Option<&str> {
        let table = self.level2.get_or_init(|| {
            let mut reader = csv::ReaderBuilder::new().from_reader(LEVEL2_DESCRIPTORS.as_bytes());
            reader
                .records()
                .filter_map(|r| r.ok())
                .filter(|r| r.get(1).is_some_and(str::is_empty))
                .filter_map(|r| Some((r.get(0)?.parse().ok()?, r.get(2)?.into())))
                .collect()
        });
        table.get(&code).map(|d| &**d)
    }
}

fn read_releases(dir: Option<&Path>) -> Result<Vec<Release>> {
    let text = read_file(dir, "releases.csv")?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    reader
        .deserialize::<ReleaseInfo>()
        .map(|row| {
            let info = row.map_err(|e| file_error(dir, "releases.csv", e))?;
            let name = kept::text(&info.release);
            Ok(Release { info, name, dir: dir.map(Path::to_owned), tables: OnceLock::new() })
        })
        .collect()
}

fn read_file(dir: Option<&Path>, name: &str) -> Result<std::borrow::Cow<'static, str>> {
    match dir {
        Some(dir) => crate::files::read_text(&dir.join(name)).map(std::borrow::Cow::Owned),
        None => EMBEDDED
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, text)| std::borrow::Cow::Borrowed(*text))
            .ok_or_else(|| Error::internal(format!("no embedded fee schedule file named {name}"))),
    }
}

fn file_error(dir: Option<&Path>, name: &str, err: impl std::fmt::Display) -> Error {
    let path = dir.map_or_else(|| PathBuf::from("pfs").join(name), |d| d.join(name));
    Error::new(ErrorKind::InvalidInput, format!("{}: {err}", path.display())).in_file(path)
}

impl Release {
    /// The release's tables, read on first use; an error names the file and row.
    pub fn tables(&self) -> Result<&Tables> {
        let tables = self.tables.get_or_init(|| Tables::read(self.dir.as_deref(), &self.info.directory).map(Arc::new));
        tables.as_deref().map_err(Clone::clone)
    }
}

/// The key of an RVU row: the code and its pricing modifier (blank, 26, TC or 53).
fn row_key(code: CptCode, modifier: Option<ModifierCode>) -> u64 {
    let modifier = modifier.map_or(0, |m| u16::from_be_bytes(*m.as_bytes()));
    code.key() << 16 | u64::from(modifier)
}

/// One row of the RVU file: a code, or a code with 26, TC or 53.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RvuRow {
    pub code: CptCode,
    pub modifier: Option<ModifierCode>,
    pub status: u8,
    /// CMS prints RVUs for these rows but does not pay them.
    pub not_used_for_medicare_payment: bool,
    pub work: Decimal,
    pub nonfacility_pe: Decimal,
    /// "NA": rarely or never performed in a non-facility setting.
    pub nonfacility_na: bool,
    pub facility_pe: Decimal,
    pub facility_na: bool,
    pub mp: Decimal,
    pub pctc: u8,
    /// `000`, `010`, `090`, `MMM`, `XXX`, `YYY` or `ZZZ`.
    pub global: [u8; 3],
    pub pre_op: Decimal,
    pub intra_op: Decimal,
    pub post_op: Decimal,
    pub multiple_procedure: u8,
    pub bilateral: u8,
    pub assistant: u8,
    pub co_surgeons: u8,
    pub team_surgery: u8,
    pub endoscopic_base: Option<CptCode>,
    pub conversion_factor: Decimal,
    pub supervision: [u8; 2],
    pub imaging_family: [u8; 2],
}

impl RvuRow {
    pub fn global_str(&self) -> &str {
        std::str::from_utf8(&self.global).unwrap_or("")
    }

    pub fn supervision_str(&self) -> &str {
        std::str::from_utf8(&self.supervision).unwrap_or("")
    }

    pub fn imaging_family_str(&self) -> &str {
        std::str::from_utf8(&self.imaging_family).unwrap_or("")
    }

    /// An add-on code: always billed with a primary procedure (global period ZZZ).
    pub fn is_add_on(&self) -> bool {
        &self.global == b"ZZZ"
    }

    /// Status A, R or T: the RVUs are used for Medicare payment (an R row with none is contractor priced).
    pub fn is_payable_status(&self) -> bool {
        matches!(self.status, b'A' | b'R' | b'T') && !self.not_used_for_medicare_payment && !self.is_contractor_priced()
    }

    /// The contractor sets the payment: status C, and status R without RVUs ("R = Restricted Coverage ...
    /// If covered, the service is contractor priced", RVU file documentation, Attachment A; CMS's payment
    /// files show amounts for the R codes that have RVUs).
    pub fn is_contractor_priced(&self) -> bool {
        let no_rvus = [self.work, self.nonfacility_pe, self.facility_pe, self.mp].iter().all(Decimal::is_zero);
        self.status == b'C' || (self.status == b'R' && no_rvus)
    }

    pub fn total_rvus(&self, facility: bool) -> Decimal {
        self.work + if facility { self.facility_pe } else { self.nonfacility_pe } + self.mp
    }
}

/// A locality's geographic practice cost indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpci {
    pub locality: LocalityId,
    pub state: UsState,
    /// Named by every line priced in the locality: kept for the process ([`crate::kept`]).
    pub name: &'static str,
    pub work: Decimal,
    pub pe: Decimal,
    pub mp: Decimal,
}

impl Gpci {
    /// Work, practice expense and malpractice, in that order.
    pub fn values(&self) -> [Decimal; 3] {
        [self.work, self.pe, self.mp]
    }
}

/// Where a ZIP code is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLocality {
    pub locality: LocalityId,
    pub state: UsState,
    /// The ZIP is split across localities by ZIP+4: the 5-digit ZIP alone is ambiguous.
    pub split_by_zip4: bool,
}

/// The OPPS-based payment cap of an imaging service in a locality (CMS OPPSCAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OppsCap {
    pub facility: Decimal,
    pub nonfacility: Decimal,
}

/// The tables of one release.
#[derive(Debug, Default)]
pub struct Tables {
    /// The rows' [`row_key`]s, sorted, apart from the rows so a search for a code's rows is dense.
    keys: Vec<u64>,
    /// In the order of `keys`.
    rows: Vec<RvuRow>,
    /// The position of each [`row_key`] in `rows`: validation and pricing look a row up for every
    /// fee-schedule line, and a binary search over the ~18,000 keys cost three times the hash.
    by_key: HashMap<u64, u32>,
    gpcis: HashMap<LocalityId, Gpci>,
    opps_caps: HashMap<(u64, LocalityId), OppsCap>,
    zips: HashMap<u32, ZipLocality>,
    /// Endoscopic base code -> the codes that name it as their base, in code order.
    endoscopy: HashMap<CptCode, Vec<CptCode>>,
}

#[derive(Deserialize)]
struct RvuRecord {
    hcpcs: CptCode,
    modifier: Option<ModifierCode>,
    status_code: String,
    not_used_for_medicare_payment: Option<String>,
    #[serde(with = "rust_decimal::serde::str")]
    work_rvu: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    nonfac_pe_rvu: Decimal,
    nonfac_na_indicator: Option<String>,
    #[serde(with = "rust_decimal::serde::str")]
    facility_pe_rvu: Decimal,
    facility_na_indicator: Option<String>,
    #[serde(with = "rust_decimal::serde::str")]
    mp_rvu: Decimal,
    pctc_indicator: String,
    global_days: String,
    #[serde(with = "rust_decimal::serde::str")]
    pre_op: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    intra_op: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    post_op: Decimal,
    mult_proc: String,
    bilat_surg: String,
    asst_surg: String,
    co_surg: String,
    team_surg: String,
    endo_base: Option<CptCode>,
    #[serde(with = "rust_decimal::serde::str")]
    conv_factor: Decimal,
    phys_supervision_diag: String,
    diag_imaging_family: String,
}

#[derive(Deserialize)]
struct GpciRecord {
    mac: String,
    state: UsState,
    locality: String,
    name: String,
    #[serde(with = "rust_decimal::serde::str")]
    pw: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pe: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    mp: Decimal,
}

#[derive(Deserialize)]
struct OppsCapRecord {
    hcpcs: CptCode,
    modifier: Option<ModifierCode>,
    carrier: String,
    locality: String,
    #[serde(with = "rust_decimal::serde::str")]
    facility_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    nonfacility_price: Decimal,
}

#[derive(Deserialize)]
struct ZipRecord {
    state: UsState,
    zip5: String,
    carrier: String,
    locality: String,
    plus_four_flag: String,
}

/// One character of a fixed set, as a byte.
fn flag<const N: usize>(text: &str, field: &str) -> std::result::Result<[u8; N], String> {
    let bytes = text.as_bytes();
    <[u8; N]>::try_from(bytes).map_err(|_| format!("{field}: expected {N} character(s), got {text:?}"))
}

impl Tables {
    fn read(dir: Option<&Path>, directory: &str) -> Result<Tables> {
        let rows_file = format!("{directory}/pfs_rvu.csv");
        let mut rows: Vec<(u64, RvuRow)> = read_csv::<RvuRecord>(dir, &rows_file)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| RvuRow::try_from(r).map_err(|e| file_error(dir, &rows_file, format!("row {}: {e}", i + 2))))
            .map(|row| row.map(|row| (row_key(row.code, row.modifier), row)))
            .collect::<Result<_>>()?;
        rows.sort_by_key(|(k, _)| *k);
        let gpcis = read_csv::<GpciRecord>(dir, &format!("{directory}/gpci.csv"))?
            .into_iter()
            .map(|g| {
                let locality = LocalityId::new(&g.mac, &g.locality)?;
                Ok((
                    locality,
                    Gpci { locality, state: g.state, name: kept::text(&g.name), work: g.pw, pe: g.pe, mp: g.mp },
                ))
            })
            .collect::<Result<_>>()
            .map_err(|e: Error| file_error(dir, &format!("{directory}/gpci.csv"), e.message()))?;
        let opps_caps = read_csv::<OppsCapRecord>(dir, &format!("{directory}/opps_cap.csv"))?
            .into_iter()
            .map(|c| {
                let locality = LocalityId::new(&c.carrier, &c.locality)?;
                let cap = OppsCap { facility: c.facility_price, nonfacility: c.nonfacility_price };
                Ok(((row_key(c.hcpcs, c.modifier), locality), cap))
            })
            .collect::<Result<_>>()
            .map_err(|e: Error| file_error(dir, &format!("{directory}/opps_cap.csv"), e.message()))?;
        let zip_file = format!("{directory}/zip5_locality.csv");
        let zips = read_csv::<ZipRecord>(dir, &zip_file)?
            .into_iter()
            .map(|z| {
                let zip = z.zip5.parse::<u32>().map_err(|e| format!("zip5 {:?}: {e}", z.zip5))?;
                let locality = LocalityId::new(&z.carrier, &z.locality).map_err(|e| e.message().to_owned())?;
                Ok((zip, ZipLocality { locality, state: z.state, split_by_zip4: z.plus_four_flag == "1" }))
            })
            .collect::<std::result::Result<_, String>>()
            .map_err(|e| file_error(dir, &zip_file, e))?;
        let mut endoscopy: HashMap<CptCode, Vec<CptCode>> = HashMap::new();
        let (keys, rows): (Vec<u64>, Vec<RvuRow>) = rows.into_iter().unzip();
        // Each key at the row a binary search finds, so that a file naming a row twice reads as it did.
        let by_key =
            keys.iter().filter_map(|&key| Some((key, u32::try_from(keys.binary_search(&key).ok()?).ok()?))).collect();
        for row in rows.iter().filter(|r| r.modifier.is_none()) {
            if let Some(base) = row.endoscopic_base {
                endoscopy.entry(base).or_default().push(row.code);
            }
        }
        Ok(Tables { keys, rows, by_key, gpcis, opps_caps, zips, endoscopy })
    }

    /// The codes whose endoscopic base is `base` (its endoscopy family, the base itself not included).
    pub fn endoscopy_family(&self, base: CptCode) -> &[CptCode] {
        self.endoscopy.get(&base).map_or(&[], Vec::as_slice)
    }

    /// The RVU row of a code with a pricing modifier (26, TC, 53) or none.
    pub fn row(&self, code: CptCode, modifier: Option<ModifierCode>) -> Option<&RvuRow> {
        let at = *self.by_key.get(&row_key(code, modifier))?;
        self.rows.get(at as usize)
    }

    /// Every row of a code: the global row first, then 26, TC and 53.
    pub fn rows_of(&self, code: CptCode) -> impl Iterator<Item = &RvuRow> {
        let first = row_key(code, None);
        let start = self.keys.partition_point(|k| *k < first);
        self.rows[start..].iter().take_while(move |r| r.code == code)
    }

    /// Every row, in code order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &RvuRow> {
        self.rows.iter()
    }

    pub fn gpci(&self, locality: &LocalityId) -> Option<&Gpci> {
        self.gpcis.get(locality)
    }

    pub fn gpcis(&self) -> impl Iterator<Item = &Gpci> {
        self.gpcis.values()
    }

    pub fn opps_cap(&self, row: &RvuRow, locality: &LocalityId) -> Option<OppsCap> {
        self.opps_caps.get(&(row_key(row.code, row.modifier), *locality)).copied()
    }

    /// The locality of a 5-digit ZIP code.
    pub fn zip_locality(&self, zip5: &str) -> Option<&ZipLocality> {
        zip5.parse::<u32>().ok().and_then(|z| self.zips.get(&z))
    }
}

fn read_csv<T: serde::de::DeserializeOwned>(dir: Option<&Path>, name: &str) -> Result<Vec<T>> {
    let text = read_file(dir, name)?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.map_err(|e| file_error(dir, name, format!("row {}: {e}", i + 2))))
        .collect()
}

impl TryFrom<RvuRecord> for RvuRow {
    type Error = String;

    fn try_from(r: RvuRecord) -> std::result::Result<RvuRow, String> {
        let digit = |text: &str, field: &str| flag::<1>(text, field).map(|[b]| b);
        Ok(RvuRow {
            code: r.hcpcs,
            modifier: r.modifier,
            status: digit(&r.status_code, "status_code")?,
            // CMS marks the rows with a `+` (any mark counts: a `1` too).
            not_used_for_medicare_payment: r.not_used_for_medicare_payment.is_some_and(|mark| !mark.trim().is_empty()),
            work: r.work_rvu,
            nonfacility_pe: r.nonfac_pe_rvu,
            nonfacility_na: r.nonfac_na_indicator.as_deref() == Some("NA"),
            facility_pe: r.facility_pe_rvu,
            facility_na: r.facility_na_indicator.as_deref() == Some("NA"),
            mp: r.mp_rvu,
            pctc: digit(&r.pctc_indicator, "pctc_indicator")?,
            global: flag(&r.global_days, "global_days")?,
            pre_op: r.pre_op,
            intra_op: r.intra_op,
            post_op: r.post_op,
            multiple_procedure: digit(&r.mult_proc, "mult_proc")?,
            bilateral: digit(&r.bilat_surg, "bilat_surg")?,
            assistant: digit(&r.asst_surg, "asst_surg")?,
            co_surgeons: digit(&r.co_surg, "co_surg")?,
            team_surgery: digit(&r.team_surg, "team_surg")?,
            endoscopic_base: r.endo_base,
            conversion_factor: r.conv_factor,
            supervision: flag(&r.phys_supervision_diag, "phys_supervision_diag")?,
            imaging_family: flag(&r.diag_imaging_family, "diag_imaging_family")?,
        })
    }
}

/// The fee schedule amount of a row in a locality, as CMS computes it: the RVUs times the GPCIs,
/// summed, times the conversion factor, rounded half-up to cents once (no intermediate rounding).
pub fn fee_amount(row: &RvuRow, gpci: [Decimal; 3], facility: bool, conversion_factor: Decimal) -> Decimal {
    let pe_rvu = if facility { row.facility_pe } else { row.nonfacility_pe };
    rvus_amount([row.work, pe_rvu, row.mp], gpci, conversion_factor)
}

/// [`fee_amount`] of the given work, PE and MP RVUs (a therapy unit's, with half its PE).
pub(crate) fn rvus_amount(rvus: [Decimal; 3], gpci: [Decimal; 3], conversion_factor: Decimal) -> Decimal {
    // The same amount in integers where that is exact: well under half the decimal arithmetic's cost.
    exact_fee_amount(rvus, gpci, conversion_factor).unwrap_or_else(|| decimal_fee_amount(rvus, gpci, conversion_factor))
}

/// [`fee_amount`] in rust_decimal's arithmetic.
fn decimal_fee_amount([work, pe, mp]: [Decimal; 3], [gw, gpe, gmp]: [Decimal; 3], factor: Decimal) -> Decimal {
    crate::pricing::cents((work * gw + pe * gpe + mp * gmp) * factor)
}

/// [`fee_amount`] in integers where rust_decimal is exact too ([`Exact`]), as it is for the files' RVUs,
/// GPCIs and factors: the same cents (scale 2). `None` otherwise, for [`decimal_fee_amount`].
fn exact_fee_amount(rvus: [Decimal; 3], gpci: [Decimal; 3], factor: Decimal) -> Option<Decimal> {
    let sum = rvus
        .into_iter()
        .zip(gpci)
        .try_fold(Exact::ZERO, |sum, (rvu, index)| sum.add(Exact::of(rvu)?.mul(Exact::of(index)?)?))?;
    sum.mul(Exact::of(factor)?)?.cents()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).unwrap_or(Date::MIN)
    }

    /// The integer amount is the decimal one, to the scale, for the embedded rows in many localities.
    #[test]
    fn fee_amount_in_integers_is_the_decimal_amount() -> Result<()> {
        let schedule = FeeSchedule::load(None)?;
        let in_force = schedule.in_force(date("2025-11-01"))?;
        let factor = in_force.release.info.conversion_factor;
        let gpcis: Vec<[Decimal; 3]> = in_force.tables.gpcis().step_by(7).map(Gpci::values).collect();
        let mut exact = 0;
        for row in in_force.tables.rows() {
            for (gpci, facility) in gpcis.iter().flat_map(|g| [(*g, false), (*g, true)]) {
                let pe = if facility { row.facility_pe } else { row.nonfacility_pe };
                let amount = fee_amount(row, gpci, facility, factor);
                let decimal = decimal_fee_amount([row.work, pe, row.mp], gpci, factor);
                assert_eq!(amount.to_string(), decimal.to_string(), "{} {gpci:?} {facility}", row.code);
                exact += usize::from(exact_fee_amount([row.work, pe, row.mp], gpci, factor).is_some());
            }
        }
        assert_eq!(exact, in_force.tables.rows().len() * gpcis.len() * 2, "every row in integers");
        // Halves round up; numbers past the integer path's bounds, or below zero, are left to rust_decimal.
        let d = |text: &str| text.parse::<Decimal>().unwrap_or_default();
        for (rvus, gpci, factor) in [
            (["0.005", "0", "0"], ["1", "1", "1"], "1"),
            (["0.00499", "0", "0"], ["1", "1", "1"], "1"),
            (["1", "2", "3"], ["1", "1", "1"], "2"),
            (["0", "0", "0"], ["1.000", "1.000", "1.000"], "33.4009"),
            (["123456789012.34", "0.01", "0"], ["98765432.109", "1", "1"], "33.4009"),
            (["0.0000000000000001", "0", "0"], ["0.0000000000001", "1", "1"], "1.000"),
            (["-1.25", "2.5", "0"], ["1.1", "1", "1"], "3"),
            (["79228162514264337593543950335", "0", "0"], ["1", "1", "1"], "1"),
        ] {
            let (rvus, gpci, factor) = (rvus.map(d), gpci.map(d), d(factor));
            let want = decimal_fee_amount(rvus, gpci, factor).to_string();
            let got = exact_fee_amount(rvus, gpci, factor).map_or_else(|| want.clone(), |a| a.to_string());
            assert_eq!(got, want, "{rvus:?} {gpci:?} {factor}");
        }
        Ok(())
    }

    #[test]
    fn embedded_release_reads_every_row() -> Result<()> {
        let schedule = FeeSchedule::load(None)?;
        let in_force = schedule.in_force(date("2025-11-01"))?;
        assert!(!in_force.stand_in);
        assert_eq!(in_force.tables.rows().len(), 19_090);
        assert_eq!(in_force.tables.gpcis().count(), 109);
        let code: CptCode = "99213".parse()?;
        let row = in_force.tables.row(code, None).ok_or_else(|| Error::internal("99213"))?;
        assert_eq!((row.status, row.work.to_string()), (b'A', "1.30".to_owned()));
        assert!(schedule.in_force(date("2025-03-01"))?.stand_in);
        assert_eq!(schedule.in_force(date("2024-03-01")).map_err(|e| e.kind()).err(), Some(ErrorKind::Unsupported));
        Ok(())
    }
}
