//! Anesthesia pricing: (base + time + modifying units) x conversion factor x modifier share, by the
//! payer's rule set in force on the date of service, every step explained. Rule sets are data files
//! (`data/rulesets/*.json`); users can load their own.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::claim::{Claim, ClaimLine, PlanType, UnitBasis};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::CptCode;
use crate::model::{CfTier, ServiceType};
use crate::reference::Reference;
use crate::validate::{Severity, ValidationContext};

const EMBEDDED_RULE_SETS: &[&str] = &[
    include_str!("../data/rulesets/medicare_ffs.json"),
    include_str!("../data/rulesets/medicare_advantage.json"),
    include_str!("../data/rulesets/cigna_before_2021.json"),
    include_str!("../data/rulesets/cigna_2021.json"),
    include_str!("../data/rulesets/bcbs_oklahoma.json"),
    include_str!("../data/rulesets/uhc_2025.json"),
    include_str!("../data/rulesets/anthem_2026.json"),
];

/// One payer's anesthesia payment rules for a span of dates of service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub id: String,
    pub payer: String,
    pub plan: String,
    pub selects: Selector,
    pub effective_from: Date,
    pub effective_to: Option<Date>,
    pub source: String,
    pub time_units: TimeUnits,
    /// Units per physical-status modifier; None: the payer's rule is unknown.
    pub physical_status_units: Option<BTreeMap<String, Decimal>>,
    pub physical_status_source: String,
    /// Units per qualifying-circumstance code; None: the payer's rule is unknown.
    pub qualifying_circumstance_units: Option<BTreeMap<String, Decimal>>,
    pub qualifying_circumstance_source: String,
    /// Share of the allowance per pricing modifier; a modifier missing here has an unknown share.
    pub shares: BTreeMap<String, Decimal>,
    pub shares_source: String,
    /// Medical supervision (AD): fixed base units, no time. None: unknown.
    pub supervision: Option<Supervision>,
    /// Cap on physician + anesthetist for one case, as a fraction of the personally performed amount.
    pub combined_cap: Option<Decimal>,
    pub conversion_factor: CfBasis,
    pub lesser_of_charge: bool,
    pub non_time_based_codes: Vec<CptCode>,
    pub notes: Vec<String>,
}

/// Which claims a rule set is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub payer_ids: Vec<String>,
    pub plan_types: Vec<PlanType>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeUnits {
    pub unit_minutes: u32,
    /// After this many minutes, units are `unit_minutes_after_break` long (BCBS OK: 120 then 10).
    #[serde(default)]
    pub break_point_minutes: Option<u32>,
    #[serde(default)]
    pub unit_minutes_after_break: Option<u32>,
    pub rounding: Rounding,
    pub rounding_source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// To the nearest tenth of a unit, half up.
    Tenth,
    /// Each started unit counts whole.
    WholeUp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervision {
    pub base_units: Decimal,
    pub induction_units: Decimal,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CfBasis {
    /// CMS anesthesia conversion factor by year, locality and QP tier.
    Medicare,
    /// The payer's contract rate: an input, never invented.
    Contract,
}

impl TimeUnits {
    fn round(&self, units: Decimal) -> Decimal {
        match self.rounding {
            Rounding::Tenth => {
                let mut u = units.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
                u.rescale(1);
                u
            }
            Rounding::WholeUp => units.ceil(),
        }
    }

    /// Minutes to time units, and how.
    pub fn units(&self, minutes: Decimal) -> (Decimal, String) {
        let first = Decimal::from(self.unit_minutes);
        let rounding = match self.rounding {
            Rounding::Tenth => "rounded to the nearest tenth",
            Rounding::WholeUp => "each started unit counted whole",
        };
        match (self.break_point_minutes.map(Decimal::from), self.unit_minutes_after_break) {
            (Some(brk), Some(after)) if minutes > brk => {
                let head = self.round(brk / first);
                let tail = self.round((minutes - brk) / Decimal::from(after));
                (
                    head + tail,
                    format!(
                        "first {brk} min / {first} = {head}, then {} min / {after} = {tail} ({rounding})",
                        minutes - brk
                    ),
                )
            }
            _ => {
                let units = self.round(minutes / first);
                (units, format!("{minutes} min / {first} = {units} ({rounding})"))
            }
        }
    }
}

/// The rule sets cptkit knows: the embedded ones plus any the user loads.
#[derive(Debug, Clone)]
pub struct RuleBook {
    rule_sets: Vec<RuleSet>,
}

impl RuleBook {
    pub fn embedded() -> &'static RuleBook {
        static BOOK: OnceLock<RuleBook> = OnceLock::new();
        BOOK.get_or_init(|| {
            // Embedded rule sets are checked by the test suite; failing here is a build defect.
            #[allow(clippy::expect_used)]
            let rule_sets = EMBEDDED_RULE_SETS
                .iter()
                .map(|text| RuleSet::from_json(text))
                .collect::<Result<_>>()
                .expect("embedded rule sets are valid");
            RuleBook { rule_sets }
        })
    }

    pub fn rule_sets(&self) -> &[RuleSet] {
        &self.rule_sets
    }

    /// Adds a rule set; one with the same id replaces the old one.
    pub fn with(mut self, rule_set: RuleSet) -> RuleBook {
        self.rule_sets.retain(|r| r.id != rule_set.id);
        self.rule_sets.push(rule_set);
        self
    }

    /// The rule set for a claim line: by explicit id, else by payer id or plan type, in force on the date.
    pub fn select(&self, claim: &Claim, date: Date, explicit: Option<&str>) -> Result<&RuleSet> {
        if let Some(id) = explicit {
            return self
                .rule_sets
                .iter()
                .find(|r| r.id == id)
                .ok_or_else(|| Error::not_found(format!("no rule set with id {id:?}")).at("rule_set"));
        }
        let payer = claim.payer.id.to_ascii_lowercase();
        let in_force = |r: &&RuleSet| r.effective_from <= date && r.effective_to.is_none_or(|to| date <= to);
        let by_payer = self.rule_sets.iter().filter(|r| r.selects.payer_ids.contains(&payer));
        let by_plan = self.rule_sets.iter().filter(|r| {
            r.selects.plan_types.contains(&claim.payer.plan_type) && claim.payer.plan_type != PlanType::Commercial
        });
        by_payer.clone().find(in_force).or_else(|| by_plan.clone().find(in_force)).ok_or_else(|| {
            let known = by_payer.chain(by_plan).next().is_some();
            let message = if known {
                format!("no rule set for payer {:?} is in force on {date}", claim.payer.id)
            } else {
                format!(
                    "cptkit has no public anesthesia payment rules for payer {:?}: load a rule set file for it",
                    claim.payer.id
                )
            };
            Error::new(ErrorKind::NotFound, message).at("payer.id")
        })
    }
}

impl RuleSet {
    pub fn from_json(text: &str) -> Result<RuleSet> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            Error::invalid(field, format!("rule set: {}", e.into_inner()))
        })
    }
}

/// What pricing needs beyond the claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOptions {
    /// Use this rule set instead of choosing by payer.
    pub rule_set: Option<String>,
    /// The contract conversion factor for commercial and Medicare Advantage rule sets.
    pub conversion_factor: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Priced,
    /// cptkit does not price this line (not anesthesia, unlisted, or the payer's rule is unknown).
    NotPriced,
}

/// One step of a line's price, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: String,
    pub detail: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedLine {
    pub line: u32,
    pub procedure_code: CptCode,
    pub status: LineStatus,
    pub rule_set: String,
    pub base_units: Decimal,
    pub time_units: Decimal,
    pub modifying_units: Decimal,
    pub total_units: Decimal,
    pub conversion_factor: Decimal,
    pub share: Decimal,
    /// Fee schedule amount, rounded to cents once.
    pub fee_schedule: Decimal,
    pub charge: Decimal,
    pub allowed: Decimal,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedClaim {
    pub claim_id: String,
    pub lines: Vec<PricedLine>,
    pub total_charge: Decimal,
    pub total_allowed: Decimal,
}

fn step(step: &str, detail: impl Into<String>, value: impl ToString) -> Step {
    Step { step: step.to_owned(), detail: detail.into(), value: value.to_string() }
}

fn cents(amount: Decimal) -> Decimal {
    let mut a = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    a.rescale(2);
    a
}

impl Reference {
    /// Validates, then prices every line. An invalid claim is an error listing each field at fault.
    pub fn price(
        &self,
        claim: &Claim,
        options: &PriceOptions,
        rules: &RuleBook,
        context: &ValidationContext,
    ) -> Result<PricedClaim> {
        let report = self.validate(claim, context);
        if !report.is_valid() {
            let violations = report
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| (f.field.clone(), format!("{}: {}", f.edit_id, f.message)))
                .collect();
            return Err(Error::with_violations(
                format!("claim {} is not valid; validate it for the details", claim.claim_id),
                violations,
            ));
        }
        let lines = claim
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| self.price_line(claim, i, line, options, rules).map_err(|e| e.at(format!("lines[{i}]"))))
            .collect::<Result<Vec<_>>>()?;
        let lines = apply_combined_cap(claim, lines, rules, options)?;
        Ok(PricedClaim {
            claim_id: claim.claim_id.clone(),
            total_charge: lines.iter().map(|l| l.charge).sum(),
            total_allowed: lines.iter().map(|l| l.allowed).sum(),
            lines,
        })
    }

    fn price_line(
        &self,
        claim: &Claim,
        i: usize,
        line: &ClaimLine,
        options: &PriceOptions,
        rules: &RuleBook,
    ) -> Result<PricedLine> {
        let rule = rules.select(claim, line.date_of_service, options.rule_set.as_deref())?;
        let mut priced = PricedLine {
            line: u32::try_from(i).unwrap_or(u32::MAX),
            procedure_code: line.procedure_code,
            status: LineStatus::NotPriced,
            rule_set: rule.id.clone(),
            base_units: Decimal::ZERO,
            time_units: Decimal::ZERO,
            modifying_units: Decimal::ZERO,
            total_units: Decimal::ZERO,
            conversion_factor: Decimal::ZERO,
            share: Decimal::ZERO,
            fee_schedule: Decimal::ZERO,
            charge: line.charge(),
            allowed: Decimal::ZERO,
            steps: vec![step(
                "rule_set",
                format!("{} ({}), in force on {}: {}", rule.plan, rule.id, line.date_of_service, rule.source),
                &rule.id,
            )],
        };
        let not_priced = |mut priced: PricedLine, why: String| {
            priced.steps.push(step("not_priced", why, "0.00"));
            priced.allowed = cents(Decimal::ZERO);
            priced.fee_schedule = cents(Decimal::ZERO);
            Ok(priced)
        };
        let code = line.procedure_code;
        let qualifying = self.qualifying_circumstances.iter().find(|qc| qc.code == code);
        let (base, base_detail) = match (self.codes.get(&code), qualifying) {
            (Some(entry), _) if entry.service_type == ServiceType::UnlistedAnesthesia => {
                return not_priced(priced, format!("{code} is an unlisted anesthesia procedure: priced by report"));
            }
            (Some(entry), _) => (
                Decimal::from(entry.base_units),
                format!("{code}: {} base units ({})", entry.base_units, entry.base_units_source),
            ),
            (None, Some(qc)) => {
                let Some(units) = rule.qualifying_circumstance_units.as_ref().and_then(|m| m.get(code.as_str())) else {
                    return not_priced(priced, format!("{}: {}", code, rule.qualifying_circumstance_source));
                };
                (*units, format!("{code} ({}): {units} units; {}", qc.meaning, rule.qualifying_circumstance_source))
            }
            (None, None) => {
                return not_priced(
                    priced,
                    format!("{code} is not an anesthesia service; cptkit prices anesthesia only"),
                );
            }
        };
        let modifier = line.modifiers.first().map(|m| m.as_str().to_owned()).unwrap_or_default();
        let is_anesthesia = qualifying.is_none();
        let supervised = is_anesthesia && modifier == "AD";
        // Base units, or the fixed supervision units for AD.
        if supervised {
            let Some(sup) = &rule.supervision else {
                return not_priced(
                    priced,
                    format!("AD (supervision) payment under {} is unknown (no public source)", rule.payer),
                );
            };
            let induction = if line.present_at_induction { sup.induction_units } else { Decimal::ZERO };
            priced.base_units = sup.base_units + induction;
            priced.steps.push(step(
                "base_units",
                format!(
                    "AD supervision: {} base units{} and no time units ({})",
                    sup.base_units,
                    if line.present_at_induction {
                        format!(" + {} for documented presence at induction", sup.induction_units)
                    } else {
                        String::new()
                    },
                    sup.source
                ),
                priced.base_units,
            ));
        } else {
            priced.base_units = base;
            priced.steps.push(step("base_units", base_detail, base));
        }
        // Time units.
        if is_anesthesia && !supervised {
            if rule.non_time_based_codes.contains(&code) {
                priced.steps.push(step("time_units", format!("{code} is not time-based under {}", rule.payer), "0"));
            } else if line.unit_basis == UnitBasis::Minutes {
                let (units, how) = rule.time_units.units(line.quantity);
                priced.time_units = units;
                priced.steps.push(step("time_units", format!("{how}; {}", rule.time_units.rounding_source), units));
            }
        }
        // Modifying units: physical status.
        if is_anesthesia
            && let Some(ps) =
                line.modifiers.iter().find(|m| m.as_str().starts_with('P') && m.as_str()[1..].parse::<u8>().is_ok())
        {
            match rule.physical_status_units.as_ref().and_then(|m| m.get(ps.as_str())) {
                Some(units) => {
                    priced.modifying_units = *units;
                    priced.steps.push(step(
                        "modifying_units",
                        format!("{ps}: {units} units; {}", rule.physical_status_source),
                        units,
                    ));
                }
                None => priced.steps.push(step(
                    "modifying_units",
                    format!("{ps}: no units added; {}", rule.physical_status_source),
                    "unknown",
                )),
            }
        }
        priced.total_units = priced.base_units + priced.time_units + priced.modifying_units;
        priced.steps.push(step(
            "total_units",
            format!("{} base + {} time + {} modifying", priced.base_units, priced.time_units, priced.modifying_units),
            priced.total_units,
        ));
        // Conversion factor.
        let (cf, cf_source) = self.conversion_factor(claim, line.date_of_service, rule, options)?;
        priced.conversion_factor = cf;
        priced.steps.push(step("conversion_factor", cf_source, cf));
        // Share by pricing modifier (QC lines are paid in full).
        let share = if is_anesthesia {
            match rule.shares.get(&modifier) {
                Some(share) => {
                    priced.steps.push(step(
                        "share",
                        format!("{modifier}: {share} of the allowance; {}", rule.shares_source),
                        share,
                    ));
                    *share
                }
                None => {
                    return not_priced(
                        priced,
                        format!("the share for {modifier} under {} is unknown: {}", rule.payer, rule.shares_source),
                    );
                }
            }
        } else {
            Decimal::ONE
        };
        priced.share = share;
        priced.fee_schedule = cents(priced.total_units * cf * share);
        priced.steps.push(step(
            "rounding",
            format!(
                "{} units x {cf} x {share} = {}, rounded half-up to cents once",
                priced.total_units,
                priced.total_units * cf * share
            ),
            priced.fee_schedule,
        ));
        priced.allowed = if rule.lesser_of_charge && priced.charge < priced.fee_schedule {
            priced.steps.push(step(
                "lesser_of_charge",
                format!(
                    "the charge {} is below the fee schedule {}: the charge is allowed",
                    priced.charge, priced.fee_schedule
                ),
                priced.charge,
            ));
            cents(priced.charge)
        } else {
            priced.fee_schedule
        };
        priced.status = LineStatus::Priced;
        Ok(priced)
    }

    /// The conversion factor for a line and where it came from.
    fn conversion_factor(
        &self,
        claim: &Claim,
        date: Date,
        rule: &RuleSet,
        options: &PriceOptions,
    ) -> Result<(Decimal, String)> {
        if let Some(cf) = options.conversion_factor {
            if cf <= Decimal::ZERO {
                return Err(Error::invalid("conversion_factor", format!("must be positive, got {cf}")));
            }
            return Ok((cf, "conversion factor given with the request (contract rate)".to_owned()));
        }
        match rule.conversion_factor {
            CfBasis::Contract => Err(Error::invalid(
                "conversion_factor",
                format!(
                    "{} pays anesthesia at a contract conversion factor, which is not public: pass conversion_factor",
                    rule.plan
                ),
            )),
            CfBasis::Medicare => self.medicare_conversion_factor(claim, date),
        }
    }

    fn medicare_conversion_factor(&self, claim: &Claim, date: Date) -> Result<(Decimal, String)> {
        let year = date.year();
        if let Some(locality) = &claim.medicare_locality {
            let local = self
                .locality_cfs
                .iter()
                .find(|cf| cf.year == year && cf.locality.as_ref().is_some_and(|l| &l.id == locality));
            if let Some(cf) = local {
                let name = cf.locality.as_ref().map(|l| l.name.as_str()).unwrap_or_default();
                return Ok((cf.amount, format!("CY{year} locality {locality} ({name}): {}", cf.source)));
            }
        }
        let tier =
            if claim.rendering_provider.qualifying_apm { CfTier::QualifyingApm } else { CfTier::NonQualifyingApm };
        let national = self.national_cfs.iter().filter(|cf| cf.year == year);
        let cf = national
            .clone()
            .find(|cf| cf.tier == tier)
            .or_else(|| national.clone().find(|cf| cf.tier == CfTier::Single))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("cptkit has no Medicare anesthesia conversion factor for CY{year}"),
                )
                .at("lines.date_of_service")
            })?;
        let why = match &claim.medicare_locality {
            Some(locality) => {
                format!(" (no CY{year} locality factor for {locality} is loaded, so the national factor is used)")
            }
            None => " (no Medicare locality on the claim)".to_owned(),
        };
        Ok((cf.amount, format!("CY{year} national, {} tier{why}: {}", cf.tier.as_str(), cf.source)))
    }
}

/// Where a rule set caps physician + anesthetist for one case, trims the lines of a case on this claim.
fn apply_combined_cap(
    claim: &Claim,
    mut lines: Vec<PricedLine>,
    rules: &RuleBook,
    options: &PriceOptions,
) -> Result<Vec<PricedLine>> {
    let mut by_case: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, line) in claim.lines.iter().enumerate() {
        if !line.case_id.is_empty() && lines[i].status == LineStatus::Priced && lines[i].share < Decimal::ONE {
            by_case.entry(line.case_id.as_str()).or_default().push(i);
        }
    }
    for indexes in by_case.values().filter(|v| v.len() > 1) {
        let first = &claim.lines[indexes[0]];
        let Some(cap) = rules.select(claim, first.date_of_service, options.rule_set.as_deref())?.combined_cap else {
            continue;
        };
        let full = lines[indexes[0]].total_units * lines[indexes[0]].conversion_factor;
        let limit = cents(full * cap);
        let total: Decimal = indexes.iter().map(|&i| lines[i].allowed).sum();
        if total > limit
            && let Some(&last) = indexes.last()
        {
            let over = total - limit;
            let line = &mut lines[last];
            line.allowed -= over;
            line.steps.push(step("combined_cap", format!("the case's lines total {total}, above the cap of {cap} x the personally performed {limit}: reduced by {over}"), line.allowed));
        }
    }
    Ok(lines)
}
