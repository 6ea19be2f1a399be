//! The fee-schedule section of a code profile: what CMS's RVU file says about a code (status, RVUs,
//! global period, every payment indicator in words) and what Medicare pays for it, nationally and
//! in the localities asked for, with the OPPS cap where it binds and the limiting charge. Every
//! number is read from the release's files or computed from them by CMS's formulas.

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use super::{Gpci, InForce, RvuRow, describe_global, describe_status, fee_amount};
use crate::error::{Error, Resource, Result};
use crate::ids::{CptCode, ModifierCode};
use crate::model::Locality;
use crate::pricing::cents;
use crate::profile::LocalitySelection;
use crate::reference::CodeSection;

/// A nonparticipating physician's limiting charge: 115% of the nonparticipating amount, which is 95%
/// of the fee schedule amount, so the amount x 1.0925 (RVU25D file documentation).
pub const LIMITING_CHARGE_FACTOR: Decimal = Decimal::from_parts(10925, 0, 0, false, 4);

/// The fee schedule's view of one code, from one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeScheduleProfile {
    pub release: FeeRelease,
    /// The row described: None for the code's own row; `26` for a code CMS lists only with a modifier.
    pub modifier: Option<ModifierCode>,
    /// CMS status code (`A`, `C`, `I`, `J`, ...) and what it means.
    pub status: String,
    pub status_meaning: String,
    /// Status A, R or T and used for Medicare payment: the amounts below are what Medicare pays. False
    /// says the fee schedule sets no amount, not that Medicare never pays: status C is contractor
    /// priced; E is paid, when covered, under reasonable charge procedures; X is outside the fee schedule.
    pub payable: bool,
    pub rvus: Rvus,
    pub global_period: GlobalPeriod,
    /// Global period ZZZ in CMS's RVU file: always billed with a primary service. CMS gives the anesthesia
    /// add-on codes (01953, 01968, 01969) XXX; the profile's `service_type` says they are add-ons.
    pub add_on: bool,
    /// Every indicator of the row in words, in the RVU file's order.
    pub indicators: Vec<FeeIndicator>,
    /// National (GPCIs 1.000) first, then the localities asked for; empty when the status pays nothing.
    pub amounts: Vec<FeeAmount>,
    /// How the amounts are computed, or why there are none.
    pub amounts_note: String,
    /// The code's other rows: professional (26) and technical (TC) components, reduced services (53).
    pub components: Vec<FeeComponent>,
    /// The CPT section or HCPCS Level II group, as a range of codes; None when cptkit has none.
    pub section: Option<CodeSection>,
}

/// The release a profile is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeRelease {
    /// CMS's name, e.g. `RVU25D`.
    pub release: String,
    pub year: i32,
    pub effective_from: Date,
    pub effective_to: Date,
    pub conversion_factor: Decimal,
    pub source: String,
}

/// Relative value units of one row. With an NA flag CMS still prints the RVUs (and pays them if billed
/// there), but the service is rarely or never performed in that setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rvus {
    pub work: Decimal,
    pub nonfacility_pe: Decimal,
    pub nonfacility_na: bool,
    pub facility_pe: Decimal,
    pub facility_na: bool,
    pub mp: Decimal,
    pub nonfacility_total: Decimal,
    pub facility_total: Decimal,
}

/// The global surgical package: its length and the share of pre-, intra- and post-operative work
/// (fractions of the package, 0.10 = 10%).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlobalPeriod {
    /// `000`, `010`, `090`, `MMM`, `XXX`, `YYY` or `ZZZ`.
    pub code: String,
    pub meaning: String,
    pub pre_op: Decimal,
    pub intra_op: Decimal,
    pub post_op: Decimal,
}

/// One payment indicator: the RVU file's field, its value and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeIndicator {
    pub field: String,
    pub value: String,
    pub meaning: String,
}

/// What Medicare pays for a row in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeAmount {
    /// None for the national amount (every GPCI 1.000).
    pub locality: Option<Locality>,
    pub work_gpci: Decimal,
    pub pe_gpci: Decimal,
    pub mp_gpci: Decimal,
    pub nonfacility: SettingAmount,
    pub facility: SettingAmount,
}

/// The amounts of one setting (facility or non-facility).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingAmount {
    /// (RVUs x GPCIs) x conversion factor, rounded half-up to cents once.
    pub fee_schedule: Decimal,
    /// CMS's OPPS-based cap for the locality, when it is below the fee schedule amount.
    pub opps_cap: Option<Decimal>,
    /// What Medicare allows a participating physician: the lower of the two.
    pub allowed: Decimal,
    /// The most a nonparticipating physician may charge: `allowed` x 1.0925, rounded half-up to cents.
    pub limiting_charge: Decimal,
}

/// Another row of the same code (26, TC or 53) with its own RVUs, indicators and amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeComponent {
    pub modifier: ModifierCode,
    pub status: String,
    pub status_meaning: String,
    pub payable: bool,
    pub rvus: Rvus,
    pub amounts: Vec<FeeAmount>,
    /// The indicators where this row differs from the code's row (the others are the code's): a TC row
    /// often needs another supervision level (74177-TC direct, the code "does not apply"), and some
    /// differ in PC/TC, global or bilateral. Only the differences, so a profile stays small.
    pub indicators: Vec<FeeIndicator>,
}

impl FeeIndicator {
    fn of(row: &RvuRow) -> Vec<FeeIndicator> {
        let each = row.indicators().into_iter();
        each.map(|i| FeeIndicator { field: i.field.to_owned(), value: i.value, meaning: i.meaning.to_owned() })
            .collect()
    }
}

impl FeeScheduleProfile {
    /// The fee-schedule section for `code` from `in_force`, with amounts in `localities`; None when the
    /// release does not list the code.
    pub(crate) fn assemble(
        in_force: &InForce<'_>,
        code: CptCode,
        section: Option<&CodeSection>,
        localities: &[&Gpci],
    ) -> Option<FeeScheduleProfile> {
        let tables = in_force.tables;
        // 86153 is listed only as 86153-26: a code without its own row is described by its first one.
        let row = tables.row(code, None).or_else(|| tables.rows_of(code).next())?;
        let info = &in_force.release.info;
        let cf = info.conversion_factor;
        let amounts = |row: &RvuRow| amounts(in_force, row, localities, cf);
        let global = row.global_str();
        let own_indicators = FeeIndicator::of(row);
        Some(FeeScheduleProfile {
            release: FeeRelease {
                release: info.release.clone(),
                year: info.year,
                effective_from: info.effective_from,
                effective_to: info.effective_to,
                conversion_factor: cf,
                source: info.source.clone(),
            },
            modifier: row.modifier,
            status: status(row),
            status_meaning: describe_status(row.status).to_owned(),
            payable: row.is_payable_status(),
            rvus: Rvus::of(row),
            global_period: GlobalPeriod {
                code: global.to_owned(),
                meaning: describe_global(global).to_owned(),
                pre_op: row.pre_op,
                intra_op: row.intra_op,
                post_op: row.post_op,
            },
            add_on: row.is_add_on(),
            indicators: own_indicators.clone(),
            amounts: amounts(row),
            amounts_note: amounts_note(in_force, row, localities),
            components: tables
                .rows_of(code)
                .filter(|other| other.modifier != row.modifier)
                .filter_map(|other| {
                    Some(FeeComponent {
                        modifier: other.modifier?,
                        status: status(other),
                        status_meaning: describe_status(other.status).to_owned(),
                        payable: other.is_payable_status(),
                        rvus: Rvus::of(other),
                        amounts: amounts(other),
                        indicators: FeeIndicator::of(other)
                            .into_iter()
                            .filter(|i| !own_indicators.contains(i))
                            .collect(),
                    })
                })
                .collect(),
            section: section.cloned(),
        })
    }
}

/// The GPCIs of the localities asked for, in locality order for `All`; an unknown locality is
/// NotFound naming its position.
pub(crate) fn selected_localities<'a>(in_force: &InForce<'a>, selection: &LocalitySelection) -> Result<Vec<&'a Gpci>> {
    let tables = in_force.tables;
    match selection {
        LocalitySelection::None => Ok(Vec::new()),
        LocalitySelection::All => {
            let mut all: Vec<&Gpci> = tables.gpcis().collect();
            all.sort_by_key(|g| g.locality);
            Ok(all)
        }
        LocalitySelection::Only(ids) => crate::profile::each_once(ids)
            .map(|(i, id)| {
                tables.gpci(id).ok_or_else(|| {
                    Error::missing(
                        Resource::MEDICARE_LOCALITY,
                        id.to_string(),
                        format!("no Medicare locality {id} in the GPCI file of {}", in_force.release.info.release),
                    )
                    .at(format!("localities[{i}]"))
                })
            })
            .collect(),
    }
}

fn status(row: &RvuRow) -> String {
    char::from(row.status).to_string()
}

impl Rvus {
    fn of(row: &RvuRow) -> Rvus {
        Rvus {
            work: row.work,
            nonfacility_pe: row.nonfacility_pe,
            nonfacility_na: row.nonfacility_na,
            facility_pe: row.facility_pe,
            facility_na: row.facility_na,
            mp: row.mp,
            nonfacility_total: row.total_rvus(false),
            facility_total: row.total_rvus(true),
        }
    }
}

/// National amounts, then each locality's; none when the row's status pays nothing.
fn amounts(in_force: &InForce<'_>, row: &RvuRow, localities: &[&Gpci], cf: Decimal) -> Vec<FeeAmount> {
    if !row.is_payable_status() {
        return Vec::new();
    }
    let national = FeeAmount::of(row, None, [Decimal::ONE; 3], None, cf);
    let local = localities.iter().map(|gpci| {
        let locality = Locality { id: gpci.locality, name: gpci.name.to_string() };
        let cap = in_force.tables.opps_cap(row, &gpci.locality);
        FeeAmount::of(row, Some(locality), gpci.values(), cap, cf)
    });
    std::iter::once(national).chain(local).collect()
}

impl FeeAmount {
    fn of(
        row: &RvuRow,
        locality: Option<Locality>,
        gpci: [Decimal; 3],
        cap: Option<super::OppsCap>,
        cf: Decimal,
    ) -> FeeAmount {
        let [work_gpci, pe_gpci, mp_gpci] = gpci;
        let setting = |facility: bool| {
            let fee_schedule = fee_amount(row, gpci, facility, cf);
            let opps_cap = cap.map(|c| if facility { c.facility } else { c.nonfacility }).filter(|c| *c < fee_schedule);
            let allowed = opps_cap.unwrap_or(fee_schedule);
            SettingAmount { fee_schedule, opps_cap, allowed, limiting_charge: cents(allowed * LIMITING_CHARGE_FACTOR) }
        };
        FeeAmount { locality, work_gpci, pe_gpci, mp_gpci, nonfacility: setting(false), facility: setting(true) }
    }
}

/// How the amounts are figured, and for which dates of service: a profile outlives its release's year,
/// so the dates are said, not implied.
fn amounts_note(in_force: &InForce<'_>, row: &RvuRow, localities: &[&Gpci]) -> String {
    let info = &in_force.release.info;
    let (release, from, to, cf) = (&info.release, info.effective_from, info.effective_to, info.conversion_factor);
    if row.is_payable_status() {
        format!(
            "Amounts for dates of service {from} to {to} (CMS {release}). Fee schedule amount = (work RVU x work \
             GPCI + PE RVU x PE GPCI + MP RVU x MP GPCI) x conversion factor {cf}, rounded half-up to cents once; the \
             national amount uses GPCIs of 1.000. Where CMS's OPPS cap for the locality is lower (imaging, Deficit \
             Reduction Act of 2005 section 5102(b)), the cap is allowed. Limiting charge (nonparticipating \
             physicians) = allowed x 1.0925. Source: CMS {release} RVU file documentation."
        )
    } else if row.not_used_for_medicare_payment {
        format!("No Medicare amount: CMS prints RVUs for this code in {release} but does not use them for payment.")
    } else {
        let caps = if row.status == b'C' { contractor_caps(in_force, row, localities) } else { String::new() };
        format!("No fee schedule amount (status {}): {}.{caps}", status(row), describe_status(row.status))
    }
}

/// A contractor-priced row's OPPS caps, the most the contractor's price may be ("Carrier prices cannot
/// exceed the OPPS based payment caps", RVU file documentation, OPPSCAP): for the localities asked for,
/// else whether CMS's file caps the code at all.
fn contractor_caps(in_force: &InForce<'_>, row: &RvuRow, localities: &[&Gpci]) -> String {
    const SOURCE: &str = "CMS's OPPS cap (RVU file documentation, OPPSCAP)";
    let tables = in_force.tables;
    if localities.is_empty() {
        let capped = tables.gpcis().any(|gpci| tables.opps_cap(row, &gpci.locality).is_some());
        return if capped {
            format!(" The contractor's price may not exceed {SOURCE} of its locality: ask for localities to see it.")
        } else {
            String::new()
        };
    }
    let caps: Vec<String> = localities
        .iter()
        .filter_map(|gpci| {
            let cap = tables.opps_cap(row, &gpci.locality)?;
            Some(format!("{} {} outside a facility, {} in a facility", gpci.locality, cap.nonfacility, cap.facility))
        })
        .collect();
    if caps.is_empty() {
        String::new()
    } else {
        format!(" The contractor's price may not exceed {SOURCE}: {}.", caps.join("; "))
    }
}
