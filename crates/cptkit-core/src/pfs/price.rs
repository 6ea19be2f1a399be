//! Pricing the lines of a claim that are not anesthesia: the Medicare Physician Fee Schedule amount of
//! each line (RVUs x GPCIs x conversion factor, the OPPS cap), then CMS's payment rules in CMS's order:
//! the status gate, units and the bilateral indicator, the multiple-procedure indicator across the
//! claim's lines of a day, the surgical modifiers (62, 80/81/82/AS, 54/55/56), non-physician
//! practitioners at 85%, and the lower of the charge. Sources: the RVU file documentation (CMS RVU25D)
//! and the Medicare Claims Processing Manual (IOM 100-04) chapter 12.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;
use smallvec::{SmallVec, smallvec};
use time::Date;

use super::{Gpci, InForce, RvuRow, fee_amount};
use crate::claim::{Claim, ClaimLine};
use crate::ids::{CptCode, LocalityId, ModifierCode};
use crate::pricing::{
    CfBasis, LineStatus, OrEmpty, PricedLine, RuleSet, StepSink, Words, carried_cents_counted, cents, product,
};
use crate::reference::Reference;
use crate::text::{DateText, DecimalText};

const MANUAL: &str = "Medicare Claims Processing Manual (IOM 100-04) ch. 12";

/// What a fee-schedule line was priced from: enough to word every step later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeBasis {
    pub release: &'static str,
    pub release_from: Date,
    /// The release is not the one in force on the date (none earlier is loaded).
    pub stand_in: bool,
    /// The RVU row's status and pricing modifier (26, TC, 53), once the row is found.
    #[serde(skip)]
    pub row: Option<(u8, Option<ModifierCode>)>,
    pub locality: Option<LocalityId>,
    pub locality_name: Option<&'static str>,
    pub locality_source: &'static str,
    pub gpci: Option<[Decimal; 3]>,
    pub facility: bool,
    pub work_rvu: Decimal,
    pub pe_rvu: Decimal,
    pub mp_rvu: Decimal,
    /// One unit at the fee schedule (after the OPPS cap where it binds).
    pub unit_amount: Decimal,
    /// The uncapped amount, when the OPPS cap bound.
    pub uncapped: Option<Decimal>,
    pub units: Decimal,
    /// Worded in the steps.
    #[serde(skip)]
    pub adjustments: Vec<FeeStep>,
    /// Why the line is not priced (or is paid $0), when it is not. A fixed reason is not copied: a
    /// claim with no locality says so on each of its lines.
    pub outcome: Option<Cow<'static, str>>,
}

/// One payment rule applied to a line and the line's amount after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeStep {
    pub rule: FeeRule,
    pub amount: Decimal,
}

/// The payment rules of a fee-schedule line, holding what wording them needs: they are worded only
/// when an explanation is asked for, so batch pricing does not format text nobody reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeRule {
    Units {
        units: Decimal,
        unit: Decimal,
    },
    Bilateral {
        how: &'static str,
        rule: &'static str,
    },
    /// The endoscopic base billed with another member of its family: paid within it.
    EndoscopyBase {
        base: CptCode,
    },
    EndoscopyMember {
        base: CptCode,
        base_amount: Decimal,
    },
    MultipleProcedure {
        rank: usize,
        of: usize,
        share: Decimal,
        indicator: u8,
    },
    DiagnosticComponent {
        family: &'static str,
        cut: Decimal,
        component: &'static str,
        value: Decimal,
        indicator: u8,
    },
    Therapy {
        reduced_units: Decimal,
        reduced: Decimal,
    },
    CoSurgery,
    Assistant,
    NonphysicianAssistant,
    /// 54, 55, 56: (modifier, share, part of the package).
    SplitCare(Vec<(&'static str, Decimal, &'static str)>),
    Nonphysician {
        share: Decimal,
        role: String,
    },
    Contract {
        percent: Decimal,
    },
    /// The charge is allowed; for both sides of a bilateral procedure, their charges and amounts.
    LesserOfCharge {
        both_sides: Option<(Decimal, Decimal)>,
    },
}

impl FeeRule {
    fn step(&self) -> &'static str {
        match self {
            FeeRule::Units { .. } => "units",
            FeeRule::Bilateral { .. } => "bilateral",
            FeeRule::EndoscopyBase { .. } | FeeRule::EndoscopyMember { .. } => "endoscopy_family",
            FeeRule::MultipleProcedure { .. } | FeeRule::DiagnosticComponent { .. } | FeeRule::Therapy { .. } => {
                "multiple_procedure"
            }
            FeeRule::CoSurgery => "co_surgery",
            FeeRule::Assistant | FeeRule::NonphysicianAssistant => "assistant_at_surgery",
            FeeRule::SplitCare(_) => "split_care",
            FeeRule::Nonphysician { .. } => "nonphysician_practitioner",
            FeeRule::Contract { .. } => "contract",
            FeeRule::LesserOfCharge { .. } => "lesser_of_charge",
        }
    }

    /// Why the rule changed the amount, worded when displayed.
    fn detail<'a>(&'a self, line: &'a PricedLine) -> impl fmt::Display + 'a {
        let percent = |share: Decimal| DecimalText((share * Decimal::ONE_HUNDRED).normalize());
        Words(move |f: &mut fmt::Formatter<'_>| match self {
            FeeRule::Units { units, unit } => write!(f, "{} units x {}", DecimalText(*units), DecimalText(*unit)),
            FeeRule::Bilateral { how, rule } => {
                write!(f, "{how}; {rule} (RVU file documentation, bilateral surgery indicator)")
            }
            FeeRule::EndoscopyBase { base } => write!(
                f,
                "{base} is the endoscopic base of another endoscopy billed that day: its value is in that one \
                 (multiple procedure indicator 3)"
            ),
            FeeRule::EndoscopyMember { base, base_amount } => write!(
                f,
                "same endoscopy family as the highest-valued member (base {base}): this line's amount less the base's \
                 {} (multiple procedure indicator 3)",
                DecimalText(*base_amount)
            ),
            FeeRule::MultipleProcedure { rank, of, share, indicator } => write!(
                f,
                "procedure {rank} of {of} that day ranked by fee schedule amount: {}% (multiple procedure indicator \
                 {}; {MANUAL} §40.6)",
                percent(*share),
                char::from(*indicator)
            ),
            FeeRule::DiagnosticComponent { family, cut, component, value, indicator } => write!(
                f,
                "a subsequent {family} service that day: {}% off its {component} component {} (multiple \
                 procedure indicator {}; RVU file documentation)",
                percent(*cut),
                DecimalText(*value),
                char::from(*indicator)
            ),
            FeeRule::Therapy { reduced_units, reduced } => write!(
                f,
                "therapy: {} unit(s) after the unit with the highest practice expense that day are paid \
                 with 50% of the practice expense, {} each (multiple procedure indicator 5)",
                DecimalText(*reduced_units),
                DecimalText(*reduced)
            ),
            FeeRule::CoSurgery => write!(f, "co-surgeon (62): 62.5% of the fee schedule ({MANUAL} §40.8)"),
            FeeRule::Assistant => write!(f, "assistant at surgery (80/81/82): 16% ({MANUAL} §20.4.3)"),
            FeeRule::NonphysicianAssistant => {
                write!(f, "non-physician assistant at surgery (AS): 85% of 16% = 13.6% ({MANUAL} §20.4.3, §110)")
            }
            FeeRule::SplitCare(parts) => {
                f.write_str("split global care: ")?;
                for (i, (modifier, share, what)) in parts.iter().enumerate() {
                    let plus = if i == 0 { "" } else { " + " };
                    write!(f, "{plus}{modifier} {what} {}", DecimalText(*share))?;
                }
                write!(f, " of the global package (RVU file percentages; {MANUAL} §40.2)")
            }
            FeeRule::Nonphysician { share, role } => {
                write!(f, "{role}: {} of the fee schedule ({MANUAL} §110, §120)", DecimalText(*share))
            }
            FeeRule::Contract { percent } => write!(
                f,
                "{}: {}% of the Medicare amount for the locality (the contract, given with the request)",
                line.rule.plan,
                DecimalText(*percent)
            ),
            FeeRule::LesserOfCharge { both_sides: None } => write!(
                f,
                "the charge {} is below the fee schedule {}: the charge is allowed",
                DecimalText(line.charge),
                DecimalText(line.fee_schedule)
            ),
            FeeRule::LesserOfCharge { both_sides: Some((charge, fee)) } => write!(
                f,
                "both sides' charges {} are below both sides' fee schedule {}: each side is allowed its charge \
                 (RVU file documentation, bilateral surgery indicator)",
                DecimalText(*charge),
                DecimalText(*fee)
            ),
        })
    }
}

/// Where a line's locality came from.
#[derive(Clone, Copy)]
struct LineLocality<'a> {
    gpci: &'a Gpci,
    source: &'static str,
}

/// What the fee-schedule lines of a claim share, each looked up once: the release in force on a date
/// (a claim's lines mostly share one) and the claim's locality in a release.
struct ClaimLookup<'a> {
    reference: &'a Reference,
    claim: &'a Claim,
    facility: bool,
    /// The last date looked up and its release.
    day: Option<(Date, InForce<'a>)>,
    /// The last release and the claim's locality in it.
    locality: Option<(&'a super::Release, std::result::Result<LineLocality<'a>, Cow<'static, str>>)>,
}

/// One line being priced: its row and running amount.
struct Work<'a> {
    index: usize,
    /// Where its priced line is in the list being built.
    slot: usize,
    line: &'a ClaimLine,
    /// The release in force on the line's date.
    in_force: InForce<'a>,
    row: &'a RvuRow,
    /// The fee of one unit (after the cap).
    unit: Decimal,
    amount: Decimal,
    /// Boxed from the start, as the priced line keeps it: moving a line's work moves a pointer.
    basis: Box<FeeBasis>,
    /// Nothing more applies: the line is settled (bundled, not payable, by report).
    done: bool,
    /// Not priced here (by report, an unknown contract rate, too large to compute): see `not_priced`.
    not_priced: bool,
    /// The other line of an RT/LT pair (an index into the work list).
    partner: Option<usize>,
    /// A contractor-priced (status C) line's OPPS cap in its locality and setting: the most the
    /// contractor's price may be (RVU file documentation, OPPSCAP).
    contractor_cap: Option<(LocalityId, Decimal)>,
    /// The amount in cents once every rule is applied ([`carried_cents_counted`]), for a priced line.
    fee: (Decimal, Option<i64>),
}

/// The modifier that selects an RVU row: 26, TC or 53 (53 only where the file has a row).
fn component_modifier(line: &ClaimLine) -> Option<ModifierCode> {
    line.modifiers.iter().copied().find(|m| m.is_any(&["26", "TC", "53"]))
}

/// A fee-schedule line's release in force on its date and its row in it ([`Reference::fee_row`]), as
/// validation found them: pricing takes them rather than looking again.
#[derive(Clone, Copy)]
pub(crate) struct FeeFacts<'a> {
    pub(crate) in_force: InForce<'a>,
    pub(crate) row: Option<&'a RvuRow>,
}

impl Reference {
    /// The row a line is priced with: the code with its 26/TC/53 modifier when the file has that row.
    pub(crate) fn fee_row<'a>(&self, in_force: &InForce<'a>, line: &ClaimLine) -> Option<&'a RvuRow> {
        let code = line.procedure_code;
        match component_modifier(line) {
            Some(m) => in_force.tables.row(code, Some(m)).or_else(|| in_force.tables.row(code, None)),
            None => in_force.tables.row(code, None),
        }
    }

    fn line_locality<'a>(
        &self,
        claim: &Claim,
        in_force: &InForce<'a>,
    ) -> std::result::Result<LineLocality<'a>, Cow<'static, str>> {
        let tables = in_force.tables;
        match claim_locality(claim, Some(tables), in_force.release.info.year) {
            Some(Ok((locality, source))) => {
                tables.gpci(&locality).map(|gpci| LineLocality { gpci, source }).ok_or_else(|| {
                    format!("locality {locality} is not in the {} GPCI file", in_force.release.info.release).into()
                })
            }
            Some(Err(why)) => Err(why.into()),
            None => Err("no Medicare locality: give medicare_locality or a service facility ZIP code".into()),
        }
    }
}

/// Where a line's locality comes from when the claim names it (`medicare_locality`).
pub(crate) const CLAIM_LOCALITY: &str = "the claim's Medicare locality";

/// The claim's Medicare locality and where it comes from: its `medicare_locality`, else the one its ZIP
/// code gives in the ZIP code file of the date's release ([`claim_zip`]); `None` when it gives neither,
/// an error saying why when its ZIP gives no one locality or no release of `year` has a ZIP code file.
/// Fee-schedule lines take their GPCIs from it, anesthesia lines their locality conversion factor.
pub(crate) fn claim_locality(
    claim: &Claim,
    tables: Option<&super::Tables>,
    year: i32,
) -> Option<std::result::Result<(LocalityId, &'static str), String>> {
    if let Some(locality) = claim.medicare_locality {
        return Some(Ok((locality, CLAIM_LOCALITY)));
    }
    let (zip, source) = claim_zip(claim)?;
    let source = source.name;
    let Some(tables) = tables else {
        return Some(Err(format!("cptkit has no CY{year} ZIP code file to find the claim's locality by")));
    };
    Some(match tables.zip_locality(zip) {
        Some(z) if z.split_by_zip4 => {
            Err(format!("ZIP {zip} is split across Medicare localities by ZIP+4: give medicare_locality on the claim"))
        }
        Some(z) => Ok((z.locality, source)),
        None => Err(format!("ZIP {zip} is not in CMS's ZIP code to locality file")),
    })
}

/// Which of a claim's ZIP codes gives its locality: its field and how the steps name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZipSource {
    pub(crate) field: &'static str,
    pub(crate) name: &'static str,
}

/// The claim's 5-digit ZIP code that sets its locality, and which it is: the service facility's, else the
/// billing provider's.
pub(crate) fn claim_zip(claim: &Claim) -> Option<(&str, ZipSource)> {
    const FACILITY: ZipSource =
        ZipSource { field: "service_facility_location.zip", name: "the service facility's ZIP code" };
    const BILLING: ZipSource =
        ZipSource { field: "billing_provider_location.zip", name: "the billing provider's ZIP code" };
    service_facility_zip(claim)
        .map(|zip| (zip, FACILITY))
        .or_else(|| zip5(&claim.billing_provider_location).map(|zip| (zip, BILLING)))
}

/// The 5-digit ZIP code of where the service was furnished, when the claim gives it.
pub(crate) fn service_facility_zip(claim: &Claim) -> Option<&str> {
    zip5(&claim.service_facility_location)
}

fn zip5(location: &Option<crate::claim::Location>) -> Option<&str> {
    Some(location.as_ref()?.zip.as_ref()?.zip()?.0)
}

/// A fee-schedule line to price: its index, its rule set, and its release and row as validation found them.
pub(crate) type FeeLine<'a> = (usize, &'static RuleSet, Option<FeeFacts<'a>>);

/// Prices the fee-schedule lines of a claim together, so the multiple-procedure rules see every line of
/// a day; each priced line is pushed onto `out`, in order.
pub(crate) fn price_fee_schedule_lines<'a>(
    reference: &'a Reference,
    claim: &'a Claim,
    lines: &[FeeLine<'a>],
    percent_of_medicare: Option<Decimal>,
    out: &mut Vec<PricedLine>,
) {
    let npp = reference.nonphysician_share(claim);
    let mut lookup = ClaimLookup {
        reference,
        claim,
        facility: reference.is_facility(&claim.place_of_service),
        day: None,
        locality: None,
    };
    // A claim has a few fee-schedule lines: their work stays on the stack.
    let mut work: SmallVec<[Work; 4]> = SmallVec::new();
    for (index, rule, found) in lines {
        let line = &claim.lines[*index];
        let slot = out.len();
        // Built in its place in the list, not moved there afterwards: `push` makes the line before it
        // makes room for it, and then copies it in.
        out.extend(std::iter::once_with(|| PricedLine::new(*index, line, rule)));
        match lookup.start_line(*index, slot, line, *found) {
            Ok(w) => work.push(w),
            Err(basis) => {
                // Not priced before its amount: still say its units and the year's factor.
                let priced = &mut out[slot];
                priced.total_units = line.quantity;
                priced.share = Decimal::ONE;
                if let Ok(in_force) = lookup.in_force(line.date_of_service) {
                    priced.conversion_factor = in_force.release.info.conversion_factor;
                }
                priced.set_fee_basis(basis, LineStatus::NotPriced);
            }
        }
    }
    status_gate(&mut work);
    units_and_bilateral(&mut work);
    multiple_procedures(&mut work);
    surgical_modifiers(&mut work);
    if let Some((share, role)) = npp {
        // An AS line's 13.6% already holds the practitioner's 85%.
        for w in work.iter_mut().filter(|w| !w.done && !w.line.has_modifier("AS")) {
            w.amount *= share;
            w.push(FeeRule::Nonphysician { share, role: role.to_owned() });
        }
    }
    for w in &mut work {
        contract(out[w.slot].rule, percent_of_medicare, w);
        // An amount no face can carry (the wire's and the tables' cents) is not priced, on every face.
        if !w.done {
            match carried_cents_counted(w.amount) {
                Ok(fee) => w.fee = fee,
                Err(why) => w.not_priced(why),
            }
        }
    }
    let other_sides: SmallVec<[Option<(Decimal, Decimal)>; 4]> = work.iter().map(|w| other_side(&work, w)).collect();
    // Drained, not turned into an iterator: that would copy the whole inline list first.
    for (w, other_side) in work.drain(..).zip(other_sides) {
        finish(&mut out[w.slot], w, other_side);
    }
}

/// A payer whose rule set pays a contract rate: the Medicare amount times the contract's percentage
/// (an input: contract rates are not public).
fn contract(rule: &RuleSet, percent: Option<Decimal>, w: &mut Work) {
    if rule.fee_schedule.basis == CfBasis::Medicare || w.done {
        return;
    }
    match percent {
        Some(percent) => match product(&[w.amount, percent / Decimal::ONE_HUNDRED]) {
            Ok(amount) => {
                w.amount = amount;
                w.push(FeeRule::Contract { percent });
            }
            Err(why) => w.not_priced(why),
        },
        None => w.not_priced(format!(
            "{} pays fee-schedule services at a contract rate, which is not public: pass percent_of_medicare",
            rule.plan
        )),
    }
}

/// The charge and amount of the other line of a bilateral procedure billed RT and LT, when the two
/// sides' charges are compared with the payment together.
fn other_side(work: &[Work], w: &Work) -> Option<(Decimal, Decimal)> {
    let o = work.get(w.partner?)?;
    let together = bilateral_payment(w.row.bilateral).is_some_and(|b| b.charges_together);
    // A line not done has its amount in cents already (`fee`).
    (together && !w.done && !o.done).then(|| (cents(o.line.charge()), o.fee.0))
}

/// The line's status and allowed amount: the lower of the charge and the amount, for a bilateral
/// procedure on two lines (`other_side`) of both sides' charges and both sides' amounts, each side
/// then allowed its own charge or its own amount.
fn finish(priced: &mut PricedLine, w: Work, other_side: Option<(Decimal, Decimal)>) {
    // Not priced: the amount is for someone else to set (contractor, by report, the contract);
    // not payable: Medicare pays nothing for the line as billed.
    let status = match &w.basis.outcome {
        None => LineStatus::Priced,
        Some(_) if w.not_priced || w.row.is_contractor_priced() => LineStatus::NotPriced,
        Some(_) => LineStatus::NotPayable,
    };
    priced.total_units = w.basis.units;
    priced.conversion_factor = w.row.conversion_factor;
    priced.share = Decimal::ONE;
    let mut basis = w.basis;
    if status == LineStatus::Priced {
        let (fee, fee_cents) = w.fee;
        priced.fee_schedule = fee;
        let both_sides = other_side.map(|(charge, fee)| (priced.charge + charge, priced.fee_schedule + fee));
        // In whole cents when the amount is a count of them (the charge is): no decimal comparison.
        let charge_is_less = match (both_sides, fee_cents) {
            (Some((charge, fee)), _) => charge < fee,
            (None, Some(fee)) => w.line.charge_cents < fee,
            (None, None) => priced.charge < priced.fee_schedule,
        };
        if charge_is_less {
            priced.allowed = priced.charge;
            basis.adjustments.push(FeeStep { rule: FeeRule::LesserOfCharge { both_sides }, amount: priced.allowed });
        } else {
            priced.allowed = priced.fee_schedule;
        }
    }
    priced.set_fee_basis(basis, status);
}

impl<'a> ClaimLookup<'a> {
    /// The release in force on `date` ([`super::FeeSchedule::in_force`]), kept for the next line.
    fn in_force(&mut self, date: Date) -> crate::Result<InForce<'a>> {
        match self.day {
            Some((day, in_force)) if day == date => Ok(in_force),
            _ => {
                let in_force = self.reference.fee_schedule().in_force(date)?;
                self.day = Some((date, in_force));
                Ok(in_force)
            }
        }
    }

    /// The claim's locality in a release ([`Reference::line_locality`]), kept for the next line.
    fn locality(&mut self, in_force: &InForce<'a>) -> std::result::Result<LineLocality<'a>, Cow<'static, str>> {
        match &self.locality {
            Some((release, found)) if std::ptr::eq(*release, in_force.release) => found.clone(),
            _ => {
                let found = self.reference.line_locality(self.claim, in_force);
                self.locality = Some((in_force.release, found.clone()));
                found
            }
        }
    }

    /// The line's row, locality and one-unit amount; `Err` with the reason when it cannot be priced.
    /// `found`: the release and row validation found, looked up here when it found none.
    fn start_line(
        &mut self,
        index: usize,
        slot: usize,
        line: &'a ClaimLine,
        found: Option<FeeFacts<'a>>,
    ) -> std::result::Result<Work<'a>, Box<FeeBasis>> {
        let facility = self.facility;
        let date = line.date_of_service;
        let in_force = match found {
            Some(found) => Ok(found.in_force),
            None => self.in_force(date),
        };
        let mut basis = Box::new(FeeBasis {
            // Empty when no release is in force on the date (the line's outcome says so).
            release: in_force.as_ref().map_or("", |f| f.release.name),
            release_from: date,
            stand_in: false,
            row: None,
            locality: None,
            locality_name: None,
            locality_source: "",
            gpci: None,
            facility,
            work_rvu: Decimal::ZERO,
            pe_rvu: Decimal::ZERO,
            mp_rvu: Decimal::ZERO,
            unit_amount: Decimal::ZERO,
            uncapped: None,
            units: line.quantity,
            adjustments: Vec::new(),
            outcome: None,
        });
        let fail = |mut basis: Box<FeeBasis>, why: Cow<'static, str>| {
            basis.outcome = Some(why);
            basis
        };
        let in_force = match in_force {
            Ok(f) => f,
            Err(e) => return Err(fail(basis, e.message().to_owned().into())),
        };
        basis.release_from = in_force.release.info.effective_from;
        basis.stand_in = in_force.stand_in;
        let code = line.procedure_code;
        let row = match found {
            Some(found) => found.row,
            None => self.reference.fee_row(&in_force, line),
        };
        let Some(row) = row else {
            let why = format!("{code} is not in the Medicare Physician Fee Schedule ({})", basis.release);
            return Err(fail(basis, why.into()));
        };
        if line.has_modifier("53") && row.modifier.is_none_or(|m| m.as_str() != "53") {
            let why = format!(
                "{code}-53: the fee schedule has no discontinued-procedure (53) amount for {code}; the contractor \
                 prices it by individual consideration (RVU file documentation, modifier field)"
            );
            return Err(fail(basis, why.into()));
        }
        basis.row = Some((row.status, row.modifier));
        basis.work_rvu = row.work;
        basis.pe_rvu = if facility { row.facility_pe } else { row.nonfacility_pe };
        basis.mp_rvu = row.mp;
        let mut w = Work {
            index,
            slot,
            line,
            in_force,
            row,
            unit: Decimal::ZERO,
            amount: Decimal::ZERO,
            basis,
            done: false,
            not_priced: false,
            partner: None,
            contractor_cap: None,
            fee: (Decimal::ZERO, None),
        };
        if !row.is_payable_status() {
            if row.status == b'C' {
                let cap = self.locality(&in_force).ok().and_then(|l| {
                    let cap = in_force.tables.opps_cap(row, &l.gpci.locality)?;
                    Some((l.gpci.locality, if facility { cap.facility } else { cap.nonfacility }))
                });
                w.contractor_cap = cap;
            }
            return Ok(w); // the status gate words why
        }
        let locality = match self.locality(&in_force) {
            Ok(l) => l,
            Err(why) => return Err(fail(w.basis, why)),
        };
        let gpci = locality.gpci;
        w.basis.locality = Some(gpci.locality);
        w.basis.locality_name = Some(gpci.name);
        w.basis.locality_source = locality.source;
        w.basis.gpci = Some([gpci.work, gpci.pe, gpci.mp]);
        let mut unit = fee_amount(row, gpci.values(), facility, in_force.release.info.conversion_factor);
        if let Some(cap) = in_force.tables.opps_cap(row, &gpci.locality) {
            let cap = if facility { cap.facility } else { cap.nonfacility };
            if cap < unit {
                w.basis.uncapped = Some(unit);
                unit = cap;
            }
        }
        w.basis.unit_amount = unit;
        w.unit = unit;
        w.amount = unit;
        Ok(w)
    }
}

/// Status codes: A, R and T are paid (T only alone that day); B and P bundled at $0; C priced by the
/// contractor; everything else not payable under the fee schedule.
fn status_gate(work: &mut [Work]) {
    let payable_other_than_t = |date: Date, index: usize, work: &[Work]| {
        work.iter().any(|o| {
            o.index != index && o.line.date_of_service == date && o.row.is_payable_status() && o.row.status != b'T'
        })
    };
    for i in 0..work.len() {
        let w = &work[i];
        let (status, code) = (w.row.status, w.row.code);
        let why = match status {
            b'A' | b'R' if w.row.not_used_for_medicare_payment => {
                Some(format!("{code}: CMS shows RVUs but does not use them for Medicare payment"))
            }
            b'R' if w.row.is_contractor_priced() => Some(format!(
                "{code}: {}; with no RVUs in the file, the contractor prices it (RVU file, Attachment A)",
                super::describe_status(status)
            )),
            b'A' | b'R' => None,
            b'T' if payable_other_than_t(w.line.date_of_service, w.index, work) => Some(format!(
                "{code} is status T: bundled into the other fee schedule service billed the same day (RVU file, Attachment A)"
            )),
            b'T' => None,
            b'B' | b'P' => Some(format!("{code}: {} — $0", super::describe_status(status))),
            // Only a status C line has a contractor's cap to say.
            _ => Some(match w.contractor_cap {
                Some((locality, cap)) => format!(
                    "{code}: {}; the contractor's price may not exceed CMS's OPPS cap, {cap} {} in locality {locality} (RVU file documentation, OPPSCAP)",
                    super::describe_status(status),
                    if w.basis.facility { "in a facility" } else { "outside a facility" }
                ),
                None => format!("{code}: {}", super::describe_status(status)),
            }),
        };
        if let Some(why) = why {
            let w = &mut work[i];
            w.amount = Decimal::ZERO;
            w.basis.outcome = Some(why.into());
            w.done = true;
        }
    }
}

/// What a bilateral surgery indicator pays for both sides of one bilateral procedure.
#[derive(Clone, Copy)]
struct BilateralPayment {
    /// A multiple of one side's amount.
    whole: Decimal,
    /// Both sides' charges are compared with the payment together, not side by side.
    charges_together: bool,
    rule: &'static str,
}

/// The bilateral payment of an indicator; `None` for 9, "concept does not apply", where each side is
/// a procedure of its own. RVU file documentation, bilateral surgery indicator: for 0 and 2 the two
/// sides billed with 50 or RT and LT are paid the lower of their total charge and 100% of a single
/// code, for 1 the lower of the total charge and 150%, for 3 the lower of each side's charge and 100%.
fn bilateral_payment(indicator: u8) -> Option<BilateralPayment> {
    let (whole, charges_together, rule) = match indicator {
        b'1' => (Decimal::new(15, 1), true, "bilateral indicator 1: 150% of one side"),
        b'3' => (Decimal::TWO, false, "bilateral indicator 3: 100% for each side"),
        b'2' => (Decimal::ONE, true, "bilateral indicator 2: the RVUs already cover both sides, 100% of one"),
        b'0' => (Decimal::ONE, true, "bilateral indicator 0: no bilateral adjustment, 100% of one for both sides"),
        _ => return None,
    };
    Some(BilateralPayment { whole, charges_together, rule })
}

/// Units, and the bilateral indicator for modifier 50, an RT and LT pair of lines, or 2 units.
fn units_and_bilateral(work: &mut [Work]) {
    for i in 0..work.len() {
        if work[i].done {
            continue;
        }
        let line = work[i].line;
        let indicator = work[i].row.bilateral;
        let units = line.quantity;
        let payment = bilateral_payment(indicator);
        // Sides are one procedure only where the indicator has a bilateral payment.
        let partner = payment.and_then(|_| {
            work.iter().position(|o| {
                o.index != work[i].index
                    && o.row.code == work[i].row.code
                    && o.line.date_of_service == line.date_of_service
                    && ((line.has_modifier("RT") && o.line.has_modifier("LT"))
                        || (line.has_modifier("LT") && o.line.has_modifier("RT")))
            })
        });
        let paired = partner.is_some();
        work[i].partner = partner;
        // The indicator first: most lines' rules it rules out, and a decimal compare costs more.
        let bilateral =
            line.has_modifier("50") || paired || (matches!(indicator, b'1' | b'2') && units == Decimal::TWO);
        let w = &mut work[i];
        let Some(BilateralPayment { whole, rule, .. }) = payment.filter(|_| bilateral) else {
            match product(&[w.unit, units]) {
                Ok(amount) => w.amount = amount,
                Err(why) => {
                    w.not_priced(why);
                    continue;
                }
            }
            if units != Decimal::ONE {
                let unit = w.unit;
                w.push(FeeRule::Units { units, unit });
            }
            continue;
        };
        // The whole bilateral procedure, then this line's share of it (half, for an RT/LT pair).
        let part = if paired { Decimal::new(5, 1) } else { Decimal::ONE };
        w.amount = w.unit * whole * part;
        let how = if paired {
            "RT and LT on two lines: one bilateral procedure, half on each line"
        } else if line.has_modifier("50") {
            "modifier 50"
        } else {
            "2 units"
        };
        w.push(FeeRule::Bilateral { how, rule });
    }
}

/// Multiple-procedure indicators across the lines of a day: 1, 2 and 3 (surgery and endoscopy) ranked
/// together; 4, 6 and 7 (imaging, cardiovascular and ophthalmology TC); 5 (therapy practice expense).
fn multiple_procedures(work: &mut [Work]) {
    if work.len() < 2 {
        return; // most claims: nothing to rank, so nothing to allocate
    }
    // The days in date order, each day's lines in line order.
    let mut days: SmallVec<[(Date, usize); 8]> =
        work.iter().enumerate().filter(|(_, w)| !w.done).map(|(i, w)| (w.line.date_of_service, i)).collect();
    days.sort_unstable();
    for day in days.chunk_by(|a, b| a.0 == b.0) {
        let indexes: Lines = day.iter().map(|&(_, i)| i).collect();
        let day = DayIndicators::of(work, &indexes);
        surgery(work, &indexes, &day);
        diagnostic_tc(work, &indexes, &day);
        therapy(work, &indexes, &day);
    }
}

/// Indexes into the work list: a claim's few lines, kept on the stack.
type Lines = SmallVec<[usize; 8]>;

/// How many lines of a day have each multiple-procedure indicator, '0' to '9': counted in one pass, as
/// most days have none or one line a rule is for, and collecting them cost more than the rules.
struct DayIndicators([usize; 10]);

impl DayIndicators {
    fn of(work: &[Work], indexes: &[usize]) -> DayIndicators {
        let mut counts = [0; 10];
        for &i in indexes {
            if let Some(count) = counts.get_mut(Self::slot(work[i].row.multiple_procedure)) {
                *count += 1;
            }
        }
        DayIndicators(counts)
    }

    /// The lines with any of `indicators`.
    fn count(&self, indicators: &[u8]) -> usize {
        indicators.iter().filter_map(|&m| self.0.get(Self::slot(m))).sum()
    }

    /// Where an indicator is counted: '0' to '9' at 0 to 9, anything else past the end.
    fn slot(indicator: u8) -> usize {
        usize::from(indicator.wrapping_sub(b'0'))
    }
}

/// The lines of a day whose multiple-procedure indicator is one of `wanted`, when there are at least
/// `least` of them.
fn day_members(work: &[Work], indexes: &[usize], day: &DayIndicators, least: usize, wanted: &[u8]) -> Option<Lines> {
    if day.count(wanted) < least {
        return None;
    }
    Some(indexes.iter().copied().filter(|&i| wanted.contains(&work[i].row.multiple_procedure)).collect())
}

/// Indicators 1, 2 and 3: endoscopy families first (the base's value comes off each other member;
/// a base billed with a member is not paid), then every procedure ranked by amount: 100% for the
/// highest, then 50% (indicator 2, 3) or 50/25/25/25% (indicator 1); the sixth and later by report.
fn surgery(work: &mut [Work], indexes: &[usize], day: &DayIndicators) {
    let Some(surgical) = day_members(work, indexes, day, 2, b"123") else {
        return;
    };
    // Endoscopy families (the indicator-3 codes sharing an endoscopic base, and the base itself when
    // billed): the highest member other than the base in full, each other member less the base's
    // amount, the base $0 whatever it is worth ("If an endoscopic procedure is reported with only its
    // base procedure, do not pay separately for the base procedure": RVU file documentation,
    // multiple procedure indicator 3).
    let bases: BTreeSet<CptCode> = surgical
        .iter()
        .filter(|&&i| work[i].row.multiple_procedure == b'3')
        .filter_map(|&i| work[i].row.endoscopic_base)
        .collect();
    let family_of = |w: &Work| match w.row.multiple_procedure {
        b'3' => w.row.endoscopic_base,
        _ => Some(w.row.code).filter(|code| bases.contains(code)),
    };
    let mut families: BTreeMap<CptCode, Lines> = BTreeMap::new();
    for &i in &surgical {
        if let Some(base) = family_of(&work[i]) {
            families.entry(base).or_default().push(i);
        }
    }
    // A procedure to rank: its lines and their total (a sort key: past a decimal's 28 digits, which
    // each line's amount fits in, it stays at the largest rather than overflow).
    let mut procedures: SmallVec<[(Decimal, Lines); 4]> = SmallVec::new();
    let mut in_family: SmallVec<[bool; 8]> = smallvec![false; work.len()];
    for (base, members) in &families {
        if members.len() < 2 {
            continue;
        }
        // The highest amount other than the base's; the first line on a tie.
        let top = members
            .iter()
            .copied()
            .filter(|&i| work[i].row.code != *base)
            .reduce(|top, i| if work[i].amount > work[top].amount { i } else { top });
        // Never the base alone: a family is keyed by the base of an indicator-3 line in it.
        let Some(top) = top else { continue };
        let base_unit = match members.iter().find(|&&i| work[i].row.code == *base) {
            Some(&i) => work[i].unit,
            None => amount_in_locality(&work[top], *base, None).unwrap_or(Decimal::ZERO),
        };
        for &i in members {
            in_family[i] = true;
            if i == top {
                continue;
            }
            let w = &mut work[i];
            if w.row.code == *base {
                w.amount = Decimal::ZERO;
                w.push(FeeRule::EndoscopyBase { base: *base });
            } else {
                w.amount = (w.amount - base_unit).max(Decimal::ZERO);
                w.push(FeeRule::EndoscopyMember { base: *base, base_amount: base_unit });
            }
        }
        let total = members.iter().fold(Decimal::ZERO, |total, &i| total.saturating_add(work[i].amount));
        procedures.push((total, members.clone()));
    }
    for &i in &surgical {
        if in_family[i] {
            continue;
        }
        // An RT/LT pair is one bilateral procedure: ranked once, at both lines' total.
        match work[i].partner.and_then(|p| procedures.iter_mut().find(|(_, lines)| lines.contains(&p))) {
            Some((total, lines)) => {
                *total = total.saturating_add(work[i].amount);
                lines.push(i);
            }
            None => procedures.push((work[i].amount, smallvec![i])),
        }
    }
    if procedures.len() < 2 {
        return;
    }
    procedures.sort_by(|a, b| b.0.cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
    let pre_1995 = procedures.iter().any(|(_, lines)| lines.iter().any(|&i| work[i].row.multiple_procedure == b'1'));
    for (rank, (_, lines)) in procedures.iter().enumerate() {
        let share = match rank {
            0 => Decimal::ONE,
            1 => Decimal::new(5, 1),
            2..=4 if pre_1995 => Decimal::new(25, 2),
            2..=4 => Decimal::new(5, 1),
            _ => Decimal::ZERO,
        };
        for &i in lines {
            let w = &mut work[i];
            if rank >= 5 {
                w.not_priced(format!(
                    "the {}th procedure of the day: priced by report (the contractor reviews the documentation); RVU file documentation, multiple procedure indicator",
                    rank + 1
                ));
                continue;
            }
            w.amount *= share;
            let indicator = w.row.multiple_procedure;
            w.push(FeeRule::MultipleProcedure { rank: rank + 1, of: procedures.len(), share, indicator });
        }
    }
}

/// Indicators 4, 6 and 7: the technical component of each subsequent service of the family that day is
/// reduced (imaging 50%, cardiovascular 25%, ophthalmology 20%); imaging's professional component 5%.
fn diagnostic_tc(work: &mut [Work], indexes: &[usize], day: &DayIndicators) {
    if day.count(b"467") < 2 {
        return; // no family has two lines that day
    }
    for (indicator, tc_cut, pc_cut, family) in [
        (b'4', Decimal::new(5, 1), Decimal::new(5, 2), "diagnostic imaging"),
        (b'6', Decimal::new(25, 2), Decimal::ZERO, "diagnostic cardiovascular"),
        (b'7', Decimal::new(2, 1), Decimal::ZERO, "diagnostic ophthalmology"),
    ] {
        let Some(members) = day_members(work, indexes, day, 2, &[indicator]) else { continue };
        // Each member's TC and PC amounts (one unit): a global line has both.
        let parts: SmallVec<[(usize, Decimal, Decimal); 8]> =
            members.iter().map(|&i| (i, component(&work[i], "TC"), component(&work[i], "26"))).collect();
        for (cut, pick, name) in [(tc_cut, 1usize, "technical"), (pc_cut, 2usize, "professional")] {
            if cut.is_zero() {
                continue;
            }
            let with: SmallVec<[&(usize, Decimal, Decimal); 8]> =
                parts.iter().filter(|p| if pick == 1 { p.1 > Decimal::ZERO } else { p.2 > Decimal::ZERO }).collect();
            if with.len() < 2 {
                continue;
            }
            let value = |p: &(usize, Decimal, Decimal)| if pick == 1 { p.1 } else { p.2 };
            let top = with.iter().max_by(|a, b| value(a).cmp(&value(b)).then(b.0.cmp(&a.0))).map(|p| p.0);
            for p in with.iter().filter(|p| Some(p.0) != top) {
                let w = &mut work[p.0];
                let off = value(p) * cut;
                w.amount -= off * w.line.quantity;
                w.push(FeeRule::DiagnosticComponent { family, cut, component: name, value: value(p), indicator });
            }
        }
    }
}

/// One unit's technical (`TC`) or professional (`26`) amount of a line: the line's own amount when it
/// is that component, the component row's amount for a global line, zero when it has none.
fn component(w: &Work, which: &str) -> Decimal {
    match component_modifier(w.line) {
        Some(own) if own.is_any(&[which]) => return w.unit,
        Some(_) => return Decimal::ZERO,
        None => {}
    }
    if w.row.pctc != b'1' {
        // A TC-only or global-only code counts whole as its technical part.
        return if which == "TC" { w.unit } else { Decimal::ZERO };
    }
    let Ok(modifier) = which.parse::<ModifierCode>() else { return Decimal::ZERO };
    amount_in_locality(w, w.row.code, Some(modifier)).unwrap_or(Decimal::ZERO)
}

/// One unit of another row (a component, an endoscopic base) in the line's locality and setting, capped
/// as the line's own amount is.
fn amount_in_locality(w: &Work, code: CptCode, modifier: Option<ModifierCode>) -> Option<Decimal> {
    let (gpci, locality, in_force) = (w.basis.gpci?, w.basis.locality?, w.in_force);
    let row = in_force.tables.row(code, modifier)?;
    let amount = fee_amount(row, gpci, w.basis.facility, in_force.release.info.conversion_factor);
    Some(match in_force.tables.opps_cap(row, &locality) {
        Some(cap) => amount.min(if w.basis.facility { cap.facility } else { cap.nonfacility }),
        None => amount,
    })
}

/// Indicator 5 (therapy): the unit with the highest practice expense is paid in full; every other
/// unit of a therapy service that day is paid with 50% of its practice expense.
fn therapy(work: &mut [Work], indexes: &[usize], day: &DayIndicators) {
    let Some(members) = day_members(work, indexes, day, 1, b"5") else { return };
    // Only compared with 1: past a decimal's 28 digits it stays at the largest rather than overflow.
    let units = members.iter().fold(Decimal::ZERO, |units, &i| units.saturating_add(work[i].line.quantity));
    if units <= Decimal::ONE {
        return;
    }
    let pe_amount = |w: &Work| {
        let [_, pe, _] = w.basis.gpci.unwrap_or_default();
        w.basis.pe_rvu * pe * w.row.conversion_factor
    };
    let top = members.iter().copied().max_by(|&a, &b| pe_amount(&work[a]).cmp(&pe_amount(&work[b])).then(b.cmp(&a)));
    for &i in &members {
        let w = &mut work[i];
        let reduced_units = if Some(i) == top { w.line.quantity - Decimal::ONE } else { w.line.quantity };
        if reduced_units <= Decimal::ZERO {
            continue;
        }
        // The reduced unit is priced as CMS prices it: the formula with half the PE, rounded once.
        let rvus = [w.basis.work_rvu, Decimal::new(5, 1) * w.basis.pe_rvu, w.basis.mp_rvu];
        let reduced = super::rvus_amount(rvus, w.basis.gpci.unwrap_or_default(), w.row.conversion_factor);
        w.amount = w.unit * (w.line.quantity - reduced_units) + reduced * reduced_units;
        w.push(FeeRule::Therapy { reduced_units, reduced });
    }
}

/// Co-surgeons (62) 62.5%, assistants at surgery (80, 81, 82) 16% and non-physician assistants (AS)
/// 85% of 16%, split care (54, 55, 56) by the global package percentages; team surgery (66) by report.
fn surgical_modifiers(work: &mut [Work]) {
    for w in work.iter_mut().filter(|w| !w.done) {
        let line = w.line;
        if line.has_modifier("66") {
            w.not_priced(format!(
                "team surgery (66): priced by report; the contractor sets the payment (team surgery indicator {})",
                char::from(w.row.team_surgery)
            ));
            continue;
        }
        let apply = |rule: FeeRule, share: Decimal, w: &mut Work| {
            w.amount *= share;
            w.push(rule);
        };
        if line.has_modifier("62") {
            apply(FeeRule::CoSurgery, Decimal::new(625, 3), w);
        }
        if line.has_modifier("AS") {
            apply(FeeRule::NonphysicianAssistant, Decimal::new(136, 3), w);
        } else if line.modifiers.iter().any(|m| m.is_any(&["80", "81", "82"])) {
            apply(FeeRule::Assistant, Decimal::new(16, 2), w);
        }
        // Split care: each part of the global package (the RVU file's percentages) and the modifiers
        // that pay it. 54, the surgeon's, is paid the pre-operative and intra-operative parts (Palmetto
        // GBA, "CPT Modifier 54", 2023: palmettogba.com/palmetto/jjb.nsf/DID/8EEL972728; IOM 100-04
        // ch. 12 §40.2), 55 the post-operative part, 56 the pre-operative part; a part is paid once.
        // Most lines have none of the three: one look, rather than gathering no parts.
        if !line.modifiers.iter().any(|m| m.is_any(&["54", "55", "56"])) {
            continue;
        }
        let split: Vec<(&'static str, Decimal, &'static str)> = [
            (&["54", "56"][..], w.row.pre_op, "pre-operative"),
            (&["54"][..], w.row.intra_op, "intra-operative"),
            (&["55"][..], w.row.post_op, "post-operative"),
        ]
        .into_iter()
        .filter_map(|(by, share, part)| by.iter().copied().find(|m| line.has_modifier(m)).map(|m| (m, share, part)))
        .collect();
        if !split.is_empty() {
            let share: Decimal = split.iter().map(|(_, s, _)| *s).sum();
            apply(FeeRule::SplitCare(split), share, w);
        }
    }
}

impl Work<'_> {
    /// The line is not priced here (by report, at an unknown contract rate, too large to compute):
    /// $0 and why; someone else sets its amount.
    fn not_priced(&mut self, why: String) {
        self.amount = Decimal::ZERO;
        self.basis.outcome = Some(why.into());
        self.done = true;
        self.not_priced = true;
    }

    /// Records a rule just applied, with the line's amount after it.
    fn push(&mut self, rule: FeeRule) {
        self.basis.adjustments.push(FeeStep { rule, amount: cents(self.amount) });
    }
}

/// A modifier as it follows a code in a step (`-26`).
struct Dashed(ModifierCode);

impl fmt::Display for Dashed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-{}", self.0)
    }
}

impl FeeBasis {
    /// The worded steps of a fee-schedule line, after the rule set step, each handed to `out`.
    pub(crate) fn write_steps(&self, line: &PricedLine, out: &mut dyn StepSink) {
        let code = line.procedure_code;
        if !self.release.is_empty() {
            let detail = Words(|f: &mut fmt::Formatter<'_>| {
                write!(
                    f,
                    "Medicare Physician Fee Schedule {} (CMS, in force from {}",
                    self.release,
                    DateText(self.release_from)
                )?;
                if self.stand_in {
                    let on = DateText(line.date_of_service);
                    write!(f, "; the release in force on {on} is not loaded, so this one is used)")
                } else {
                    f.write_str(")")
                }
            });
            out.step("fee_schedule_release", &detail, &self.release);
        }
        if let Some((status, modifier)) = self.row {
            let modifier = OrEmpty(modifier.map(Dashed));
            let detail = format_args!(
                "{code}{modifier}: status {} ({}); work {} + {} PE {} + MP {} RVUs",
                char::from(status),
                super::describe_status(status),
                DecimalText(self.work_rvu),
                if self.facility { "facility" } else { "non-facility" },
                DecimalText(self.pe_rvu),
                DecimalText(self.mp_rvu)
            );
            out.number_step("rvus", &detail, self.work_rvu + self.pe_rvu + self.mp_rvu);
        }
        if let (Some(locality), Some(gpci)) = (self.locality, self.gpci) {
            let [w, pe, mp] = gpci.map(DecimalText);
            let detail = format_args!(
                "{locality} {} (from {}): GPCI work {w}, PE {pe}, MP {mp} (CMS GPCI file)",
                self.locality_name.unwrap_or(""),
                self.locality_source
            );
            out.step("locality", &detail, &locality);
            let detail = format_args!(
                "({} x {w} + {} x {pe} + {} x {mp}) x {} = {}, rounded half-up to cents once ({} rate for place of service {})",
                DecimalText(self.work_rvu),
                DecimalText(self.pe_rvu),
                DecimalText(self.mp_rvu),
                DecimalText(line.conversion_factor),
                DecimalText(
                    (self.work_rvu * gpci[0] + self.pe_rvu * gpci[1] + self.mp_rvu * gpci[2]) * line.conversion_factor
                ),
                if self.facility { "facility" } else { "non-facility" },
                "of the claim"
            );
            out.number_step("fee_schedule_amount", &detail, self.uncapped.unwrap_or(self.unit_amount));
        }
        if let Some(uncapped) = self.uncapped.map(DecimalText) {
            let detail = format_args!(
                "the OPPS imaging cap for the locality ({}) is below {uncapped}: the cap is paid (Deficit Reduction Act §5102(b); CMS OPPSCAP)",
                DecimalText(self.unit_amount)
            );
            out.number_step("opps_cap", &detail, self.unit_amount);
        }
        for a in &self.adjustments {
            out.number_step(a.rule.step(), &a.rule.detail(line), a.amount);
        }
        match &self.outcome {
            Some(why) => {
                let step = if line.status == LineStatus::NotPriced { "not_priced" } else { "not_payable" };
                out.number_step(step, why, line.allowed);
            }
            None => out.number_step("allowed", &format_args!("allowed for {code}"), line.allowed),
        }
    }
}
