//! Anesthesia pricing: (base + time + modifying units) x conversion factor x modifier share, by the
//! payer's rule set in force on the date of service, every step explained. Rule sets are data files
//! (`data/rulesets/*.json`); users can load their own.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use foldhash::{HashMap, HashMapExt};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use time::Date;

use crate::claim::{Claim, ClaimLine, PlanType, ShortText, UnitBasis};
use crate::error::{Error, ErrorKind, Resource, Result};
use crate::ids::{CptCode, LocalityId, ModifierCode, UsState};
use crate::judge::{GivenFactor, PriceOptions};
use crate::kept::Kept;
use crate::model::{AnesthesiaCode, CfTier, ConversionFactor, QualifyingCircumstance, ServiceType};
use crate::path::FieldPath;
use crate::pfs::{CLAIM_LOCALITY, FeeBasis, FeeFacts, FeeLine, claim_locality};
use crate::reference::{Found, Reference};
use crate::text::{DateText, DecimalText, QuotedText};

/// `(file name, text)` of every file in `data/rulesets/`, listed by the build script so none is left out.
const EMBEDDED_RULE_SETS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/rule_sets.rs"));

/// One payer's anesthesia payment rules for a span of dates of service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub id: String,
    pub payer: String,
    pub plan: String,
    pub selects: Selector,
    pub effective_from: Date,
    /// Whether `effective_from` is the payer's policy date or only where cptkit's data begins.
    #[serde(default)]
    pub effective_from_kind: EffectiveFrom,
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
    #[serde(default)]
    pub non_time_based_source: String,
    /// Modifiers the payer does not accept, each with why (and the source): a line billed with one
    /// is not payable.
    #[serde(default)]
    pub refused_modifiers: BTreeMap<String, String>,
    /// How lines that are not anesthesia are priced (default: a contract rate, given as a percentage
    /// of the Medicare amount with the request).
    #[serde(default)]
    pub fee_schedule: FeeScheduleRule,
    pub notes: Vec<String>,
}

/// How a payer prices fee-schedule (non-anesthesia) lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeScheduleRule {
    /// `medicare`: the Medicare Physician Fee Schedule amount; `contract`: a percentage of it, given
    /// with the request (`percent_of_medicare`).
    pub basis: CfBasis,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveFrom {
    /// The date the payer's rule took effect.
    #[default]
    Policy,
    /// Where cptkit's data for this payer begins: the rule may be older.
    DataBegins,
}

/// Which claims a rule set is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub payer_ids: Vec<String>,
    pub plan_types: Vec<PlanType>,
    /// Only for claims from these states (the service facility's, else the billing provider's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<UsState>,
    /// For claims from every state but these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_states: Vec<UsState>,
    /// Where the state lists come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub states_source: String,
}

impl Selector {
    /// Whether this is a rule set for every payer's claims of `plan` (Medicare FFS, Medicare
    /// Advantage): the plan types alone say whose rules these are, never a commercial plan's.
    fn is_for_plan_alone(&self, plan: PlanType) -> bool {
        self.plan_types.contains(&plan) && plan != PlanType::Commercial
    }

    fn depends_on_state(&self) -> bool {
        !self.states.is_empty() || !self.except_states.is_empty()
    }

    /// Whether a claim from `state` is this rule set's; `None` when the rule set depends on the
    /// state and the claim does not give one.
    fn takes_state(&self, state: Option<UsState>) -> Option<bool> {
        match state {
            _ if !self.depends_on_state() => Some(true),
            None => None,
            Some(state) => {
                Some((self.states.is_empty() || self.states.contains(&state)) && !self.except_states.contains(&state))
            }
        }
    }
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
    /// Base units per procedure.
    pub base_units: Decimal,
    /// Time units for the physician's documented presence at induction (CMS: "an additional time unit").
    pub induction_units: Decimal,
    pub source: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CfBasis {
    /// CMS's rates: the anesthesia conversion factor by year, locality and QP tier; the Physician Fee
    /// Schedule for other lines.
    Medicare,
    /// The payer's contract rate: an input, never invented.
    #[default]
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

    /// Minutes to time units.
    pub fn units(&self, minutes: Decimal) -> Decimal {
        self.whole_minute_units(minutes).unwrap_or_else(|| self.decimal_units(minutes))
    }

    /// Kept out of line: few minutes have places, and the registers its decimal division needs, saved
    /// and restored on every call, cost more than a whole number of minutes' units in integers.
    #[inline(never)]
    fn decimal_units(&self, minutes: Decimal) -> Decimal {
        let first = Decimal::from(self.unit_minutes);
        match (self.break_point_minutes.map(Decimal::from), self.unit_minutes_after_break) {
            (Some(brk), Some(after)) if minutes > brk => {
                self.round(brk / first) + self.round((minutes - brk) / Decimal::from(after))
            }
            _ => self.round(minutes / first),
        }
    }

    /// [`TimeUnits::units`] in integers for whole minutes (past a break point too): the same answer
    /// without decimal division, which dominates pricing a line.
    fn whole_minute_units(&self, minutes: Decimal) -> Option<Decimal> {
        let minutes = Exact::of(minutes).filter(|m| m.scale == 0 && m.mantissa < 1 << 40)?;
        let minutes = i64::try_from(minutes.mantissa).ok()?;
        // The units of `unit` minutes in `minutes`, as `round` makes them: in tenths, or whole.
        let count = |minutes: i64, unit: u32| {
            let unit = i64::from(unit);
            (unit != 0).then(|| match self.rounding {
                // Nearest tenth, half away from zero: tenths = round(10 m / u) = floor((20 m + u) / 2u).
                Rounding::Tenth => (20 * minutes + unit) / (2 * unit),
                Rounding::WholeUp => (minutes + unit - 1) / unit,
            })
        };
        // As `decimal_units` splits the minutes.
        let units = match (self.break_point_minutes.map(i64::from), self.unit_minutes_after_break) {
            (Some(brk), Some(after)) if minutes > brk => count(brk, self.unit_minutes)? + count(minutes - brk, after)?,
            _ => count(minutes, self.unit_minutes)?,
        };
        Some(match self.rounding {
            Rounding::Tenth => Decimal::new(units, 1),
            Rounding::WholeUp => Decimal::from(units),
        })
    }

    /// How [`TimeUnits::units`] got its answer, for the explanation.
    pub fn describe(&self, minutes: Decimal) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_description(&mut text, minutes);
        text
    }

    /// [`TimeUnits::describe`], written onto the end of `out` (a step's detail).
    fn write_description(&self, out: &mut impl fmt::Write, minutes: Decimal) -> fmt::Result {
        let first = Decimal::from(self.unit_minutes);
        let rounding = match self.rounding {
            Rounding::Tenth => "rounded to the nearest tenth",
            Rounding::WholeUp => "each started unit counted whole",
        };
        match (self.break_point_minutes.map(Decimal::from), self.unit_minutes_after_break) {
            (Some(brk), Some(after)) if minutes > brk => write!(
                out,
                "first {} min / {} = {}, then {} min / {after} = {} ({rounding})",
                DecimalText(brk),
                DecimalText(first),
                DecimalText(self.round(brk / first)),
                DecimalText(minutes - brk),
                DecimalText(self.round((minutes - brk) / Decimal::from(after)))
            ),
            _ => write!(
                out,
                "{} min / {} = {} ({rounding})",
                DecimalText(minutes),
                DecimalText(first),
                DecimalText(self.round(minutes / first))
            ),
        }
    }
}

/// The rule sets cptkit knows: the embedded ones plus any the user loads.
#[derive(Debug, Clone)]
pub struct RuleBook {
    /// Kept for the process ([`keep_rule_set`]): each priced line names its rule set without a count.
    rule_sets: Vec<&'static RuleSet>,
    /// The positions in `rule_sets` of each payer id's rule sets, in order, by the id lower-cased:
    /// every priced claim selects its rule set, and a scan of every set's payer ids cost more than
    /// pricing an anesthesia line.
    by_payer: HashMap<String, Vec<usize>>,
    /// The positions of the rule sets for a plan type alone (Medicare FFS, Medicare Advantage), in
    /// order, by [`PlanType::ALL`]'s order: a claim whose payer has none is priced by these, and a
    /// scan of every set for each such claim cost more than the choice.
    by_plan: Vec<Vec<usize>>,
    /// The files loaded into this book ([`RuleBook::with_files`]) and the id each held.
    files: Vec<(std::path::PathBuf, String)>,
    /// Each rule set's modifier values, by its position in `rule_sets`.
    modifier_values: Vec<ModifierValues>,
}

/// A rule set's modifier shares, physical-status units and refused modifiers, by the modifier's two
/// bytes: every anesthesia line looks up a few, and walking the rule set's maps for each cost more
/// than the rest of its units. The same answers as [`modifier_entry`] and [`physical_status_units`].
#[derive(Debug, Clone)]
struct ModifierValues {
    shares: Vec<([u8; 2], Decimal)>,
    physical_status_units: Vec<([u8; 2], Decimal)>,
    refused: Vec<[u8; 2]>,
}

impl ModifierValues {
    fn of(rule: &RuleSet) -> ModifierValues {
        // A key of other than two bytes is no modifier's: no line finds it.
        let two_bytes = |key: &String| <[u8; 2]>::try_from(key.as_bytes()).ok();
        let physical_status = (b'0'..=b'9').filter_map(|digit| {
            let ps: ModifierCode = std::str::from_utf8(&[b'P', digit]).ok()?.parse().ok()?;
            physical_status_units(rule, ps).map(|(units, _)| (*ps.as_bytes(), units))
        });
        ModifierValues {
            shares: rule.shares.iter().filter_map(|(key, share)| Some((two_bytes(key)?, *share))).collect(),
            physical_status_units: physical_status.collect(),
            refused: rule.refused_modifiers.keys().filter_map(two_bytes).collect(),
        }
    }

    fn share(&self, modifier: ModifierCode) -> Option<Decimal> {
        find_value(&self.shares, modifier)
    }

    fn physical_status_units(&self, ps: ModifierCode) -> Option<Decimal> {
        find_value(&self.physical_status_units, ps)
    }

    fn refuses(&self, modifier: ModifierCode) -> bool {
        self.refused.contains(modifier.as_bytes())
    }
}

fn find_value(values: &[([u8; 2], Decimal)], modifier: ModifierCode) -> Option<Decimal> {
    values.iter().find(|(key, _)| key == modifier.as_bytes()).map(|&(_, value)| value)
}

/// A rule set kept for the process ([`crate::kept`]): loading an equal one again finds it.
fn keep_rule_set(rule_set: RuleSet) -> &'static RuleSet {
    static KEPT: Kept<RuleSet> = Kept::new();
    KEPT.keep(rule_set)
}

impl RuleBook {
    pub fn embedded() -> &'static RuleBook {
        static BOOK: OnceLock<RuleBook> = OnceLock::new();
        BOOK.get_or_init(|| {
            // Embedded rule sets are checked by the test suite; failing here is a build defect.
            #[allow(clippy::expect_used)]
            let rule_sets = EMBEDDED_RULE_SETS
                .iter()
                .map(|(file, text)| RuleSet::from_json(text).map(keep_rule_set).map_err(|e| e.in_file(file)))
                .collect::<Result<_>>()
                .expect("embedded rule sets are valid");
            RuleBook::indexed(rule_sets, Vec::new())
        })
    }

    fn indexed(rule_sets: Vec<&'static RuleSet>, files: Vec<(std::path::PathBuf, String)>) -> RuleBook {
        let mut by_payer: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rule) in rule_sets.iter().enumerate() {
            for payer in &rule.selects.payer_ids {
                let positions = by_payer.entry(payer.to_ascii_lowercase()).or_default();
                // A set naming one payer twice is still selected once.
                if positions.last() != Some(&i) {
                    positions.push(i);
                }
            }
        }
        let by_plan = PlanType::ALL
            .iter()
            .map(|&plan| (0..rule_sets.len()).filter(|&i| rule_sets[i].selects.is_for_plan_alone(plan)).collect())
            .collect();
        let modifier_values = rule_sets.iter().map(|rule| ModifierValues::of(rule)).collect();
        RuleBook { rule_sets, by_payer, by_plan, files, modifier_values }
    }

    /// The positions of the rule sets for `plan` alone ([`RuleBook::by_plan`]).
    fn plan_alone(&self, plan: PlanType) -> &[usize] {
        let at = PlanType::ALL.iter().position(|&p| p == plan);
        at.and_then(|at| self.by_plan.get(at)).map_or(&[], Vec::as_slice)
    }

    pub fn rule_sets(&self) -> impl Iterator<Item = &RuleSet> {
        self.rule_sets.iter().map(|r| &**r)
    }

    /// Adds a rule set; one with the same id replaces the old one.
    pub fn with(self, rule_set: RuleSet) -> RuleBook {
        let RuleBook { mut rule_sets, files, .. } = self;
        rule_sets.retain(|r| r.id != rule_set.id);
        rule_sets.push(keep_rule_set(rule_set));
        RuleBook::indexed(rule_sets, files)
    }

    /// This book plus the rule set files at `paths`, in order: the one loader of user rule sets (the
    /// server's `--rule-set`, the CLI's, Python's `load_rule_set`). A file whose id is a rule set's
    /// of this book replaces it; two files with one id are an error (one would be silently lost).
    /// An error names the file, and the field when there is one.
    pub fn with_files<P: AsRef<std::path::Path>>(&self, paths: &[P]) -> Result<RuleBook> {
        let mut book = self.clone();
        let mut loaded: Vec<(String, &std::path::Path)> = Vec::with_capacity(paths.len());
        for path in paths {
            let path = path.as_ref();
            let text = crate::files::read_text(path)?;
            let rule_set = RuleSet::from_json(&text).map_err(|e| e.in_file(path))?;
            if let Some((_, first)) = loaded.iter().find(|(id, _)| *id == rule_set.id) {
                let message = format!("rule set id {:?} is also the id of {}", rule_set.id, first.display());
                return Err(Error::invalid("id", message).in_file(path));
            }
            loaded.push((rule_set.id.clone(), path));
            book.files.push((path.to_owned(), rule_set.id.clone()));
            book = book.with(rule_set);
        }
        Ok(book)
    }

    /// The rule set files loaded into this book, in order, with the id each held.
    pub fn files(&self) -> impl Iterator<Item = (&std::path::Path, &str)> {
        self.files.iter().map(|(path, id)| (path.as_path(), id.as_str()))
    }

    /// The rule set a request names (`rule_set`).
    pub fn by_id(&self, id: &str) -> Result<&'static RuleSet> {
        self.position_of(id).map(|i| self.rule_sets[i])
    }

    /// The position in `rule_sets` of [`RuleBook::by_id`]'s rule set.
    fn position_of(&self, id: &str) -> Result<usize> {
        self.rule_sets
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| Error::missing(Resource::RULE_SET, id, format!("no rule set with id {id:?}")).at("rule_set"))
    }

    /// The rule set for a claim line: by explicit id, else the payer's rule sets for the claim's plan
    /// type (then the rule sets for the plan type alone, Medicare FFS and Medicare Advantage), in force
    /// on the date, for the claim's state when the payer's rules differ by state.
    pub fn select(&self, claim: &Claim, date: Date, explicit: Option<&str>) -> Result<&'static RuleSet> {
        self.select_position(claim, date, explicit).map(|i| self.rule_sets[i])
    }

    /// [`RuleBook::select`] with the rule set's modifier values, which pricing a line looks up.
    fn select_for_pricing(
        &self,
        claim: &Claim,
        date: Date,
        explicit: Option<&str>,
    ) -> Result<(&'static RuleSet, &ModifierValues)> {
        let i = self.select_position(claim, date, explicit)?;
        Ok((self.rule_sets[i], &self.modifier_values[i]))
    }

    /// The position in `rule_sets` of [`RuleBook::select`]'s rule set.
    fn select_position<'a>(&'a self, claim: &Claim, date: Date, explicit: Option<&str>) -> Result<usize> {
        if let Some(id) = explicit {
            return self.position_of(id);
        }
        let payer = claim.payer.id.as_str();
        let plan = claim.payer.plan_type;
        let in_force =
            |&(_, r): &(usize, &RuleSet)| r.effective_from <= date && r.effective_to.is_none_or(|to| date <= to);
        // A payer's rule set is for the plan types it names (every plan when it names none): a
        // payer's Medicare Advantage claim is not paid by its commercial rules.
        let for_plan =
            |&(_, r): &(usize, &RuleSet)| r.selects.plan_types.is_empty() || r.selects.plan_types.contains(&plan);
        let for_payer = match self.by_payer.get(payer) {
            Some(positions) => Some(positions),
            None if payer.bytes().any(|b| b.is_ascii_uppercase()) => self.by_payer.get(&payer.to_ascii_lowercase()),
            None => None,
        };
        let plan_alone = self.plan_alone(plan);
        let sets = |positions: &'a [usize]| positions.iter().map(|&i| (i, self.rule_sets[i]));
        let state = claim.state();
        // The first rule set for the payer that is for other states, to name in the error.
        let mut elsewhere: Option<&RuleSet> = None;
        let payer_sets = sets(for_payer.map_or(&[], Vec::as_slice)).filter(for_plan).filter(in_force);
        let chosen = match choose(payer_sets, state, &mut elsewhere) {
            Some(chosen) => Some(chosen),
            None => choose(sets(plan_alone).filter(in_force), state, &mut elsewhere),
        };
        if let Some(chosen) = chosen {
            return chosen.map_err(|rule| state_needed(date, rule));
        }
        let known = for_payer.is_some() || !plan_alone.is_empty();
        // Worded as `Date` and `{:?}` word them, piece by piece at a fraction of `format!`'s cost: one
        // claim in six of a table may meet this (a payer without rules, or none in force on the date).
        let (on, payer) = (DateText(date), QuotedText(payer));
        let mut message = String::with_capacity(128);
        match (known, elsewhere, state) {
            (_, Some(rule), Some(state)) => {
                message.push_str("no rule set for payer ");
                payer.push_to(&mut message);
                message.extend([" in ", state.as_str(), " is in force on "]);
                on.push_to(&mut message);
                message.extend([" (", &rule.id, " is for ", &rule.selects.states_text(), ")"]);
            }
            (true, _, _) => {
                message.push_str("no rule set for payer ");
                payer.push_to(&mut message);
                message.extend([" and plan type ", plan.as_str(), " is in force on "]);
                on.push_to(&mut message);
            }
            (false, _, _) => {
                message.push_str("cptkit has no public anesthesia payment rules for payer ");
                payer.push_to(&mut message);
                message.push_str(": load a rule set file for it");
            }
        }
        Err(Error::missing(Resource::PAYER_RULE_SET, payer.0, message).at(FieldPath::field("payer").key("id")))
    }
}

/// The rule set a group of rule sets in force (in order, each with its position in the book) gives a
/// claim from `state`, by its position: one for the state wins over one for every state; `Err` with
/// the first set that needs the state when the claim gives none; `None` when no set of the group is
/// the claim's. The first set for other states is kept in `elsewhere`, to name in the error.
fn choose<'a>(
    group: impl Iterator<Item = (usize, &'a RuleSet)>,
    state: Option<UsState>,
    elsewhere: &mut Option<&'a RuleSet>,
) -> Option<std::result::Result<usize, &'a RuleSet>> {
    let mut general = None;
    for (position, rule) in group {
        match rule.selects.takes_state(state) {
            Some(true) if rule.selects.depends_on_state() => return Some(Ok(position)),
            Some(true) => general = general.or(Some(position)),
            Some(false) => *elsewhere = elsewhere.or(Some(rule)),
            None => return Some(Err(rule)),
        }
    }
    general.map(Ok)
}

/// The claim gives no state, but its payer's rules on the date differ by state.
fn state_needed(date: Date, rule: &RuleSet) -> Error {
    Error::invalid(
        FieldPath::field("service_facility_location").key("state"),
        format!(
            "{}'s rules on {} differ by state ({} is for {}): give the service facility's or the billing \
             provider's state",
            rule.payer,
            DateText(date),
            rule.id,
            rule.selects.states_text()
        ),
    )
}

impl Selector {
    /// `AR, CA` or `every state but AR, CA`.
    fn states_text(&self) -> String {
        let list = |states: &[UsState]| states.iter().map(UsState::as_str).collect::<Vec<_>>().join(", ");
        match (self.states.is_empty(), self.except_states.is_empty()) {
            (false, true) => list(&self.states),
            (true, false) => format!("every state but {}", list(&self.except_states)),
            (false, false) => format!("{} but not {}", list(&self.states), list(&self.except_states)),
            (true, true) => "every state".to_owned(),
        }
    }
}

/// [`RuleSet::span`]'s text.
struct Span<'a>(&'a RuleSet);

impl std::fmt::Display for Span<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = self.0;
        match rule.effective_from_kind {
            EffectiveFrom::Policy => write!(f, " (from {}", DateText(rule.effective_from))?,
            EffectiveFrom::DataBegins => {
                write!(f, " (cptkit's data for these rules begins {}", DateText(rule.effective_from))?
            }
        }
        if let Some(to) = rule.effective_to {
            write!(f, " to {}", DateText(to))?;
        }
        match rule.effective_from_kind {
            EffectiveFrom::Policy => f.write_str(")"),
            EffectiveFrom::DataBegins => f.write_str("; that is not the payer's policy date)"),
        }
    }
}

impl RuleSet {
    /// `(from 2025-10-01)`, or what a start date that is not a policy date means (written where it is
    /// used: it is part of every line's first step).
    fn span(&self) -> Span<'_> {
        Span(self)
    }

    /// Reads a rule set file; an error names the field (`time_units.unit_minutes`).
    pub fn from_json(text: &str) -> Result<RuleSet> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let rule_set: RuleSet = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            Error::invalid(field, format!("rule set: {}", e.into_inner()))
        })?;
        rule_set.check()?;
        Ok(rule_set)
    }

    /// What the types cannot say: units have a length, the break point has its second length, dates
    /// run forward, and no share or unit count is negative. `from_json` runs it; a rule set built
    /// another way (a binding's dict) must run it before pricing.
    pub fn check(&self) -> Result<()> {
        let t = &self.time_units;
        if t.unit_minutes == 0 {
            return Err(Error::invalid("time_units.unit_minutes", "rule set: must be at least 1 minute"));
        }
        match (t.break_point_minutes, t.unit_minutes_after_break) {
            (Some(_), Some(0)) => {
                return Err(Error::invalid(
                    "time_units.unit_minutes_after_break",
                    "rule set: must be at least 1 minute",
                ));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::invalid(
                    "time_units.break_point_minutes",
                    "rule set: break_point_minutes and unit_minutes_after_break go together",
                ));
            }
            _ => {}
        }
        if self.effective_to.is_some_and(|to| to < self.effective_from) {
            return Err(Error::invalid("effective_to", "rule set: ends before it starts"));
        }
        // Every unit count and share, by its field.
        let maps = [
            ("physical_status_units", self.physical_status_units.as_ref()),
            ("qualifying_circumstance_units", self.qualifying_circumstance_units.as_ref()),
        ];
        let mut units: Vec<(String, Decimal)> = maps
            .into_iter()
            .filter_map(|(field, map)| map.map(|m| (field, m)))
            .flat_map(|(field, map)| map.iter().map(move |(k, v)| (format!("{field}.{k}"), *v)))
            .collect();
        if let Some(s) = &self.supervision {
            units.extend([("supervision.base_units".to_owned(), s.base_units)]);
            units.extend([("supervision.induction_units".to_owned(), s.induction_units)]);
        }
        let shares: Vec<(String, Decimal)> = self.shares.iter().map(|(k, v)| (format!("shares.{k}"), *v)).collect();
        if let Some((field, _)) = units.iter().chain(&shares).find(|(_, v)| v.is_sign_negative()) {
            return Err(Error::invalid(field.as_str(), "rule set: must not be negative"));
        }
        // A share is the part of the full amount a modifier pays: "85" for 85% would pay 85 times over.
        if let Some((field, share)) = shares.iter().find(|(_, share)| *share > Decimal::ONE) {
            return Err(Error::invalid(
                field.as_str(),
                format!("rule set: a share is a part of the full amount, at most 1 (0.85 for 85%), got {share}"),
            ));
        }
        // They become a priced line's units and share, which no face may show rounded.
        if let Some((field, value)) = units.iter().chain(&shares).find(|(_, v)| beyond_priced_places(*v)) {
            return Err(Error::invalid(
                field.as_str(),
                format!(
                    "rule set: at most {PRICED_PLACES} decimal places, as every face carries a priced line's units and share, got {value}"
                ),
            ));
        }
        match units.iter().find(|(_, v)| *v > MAX_RULE_UNITS) {
            Some((field, value)) => {
                Err(Error::invalid(field.as_str(), format!("rule set: at most {MAX_RULE_UNITS} units, got {value}")))
            }
            None => Ok(()),
        }
    }
}

/// The decimal places of a priced line's units, conversion factor and share that every face carries
/// (the tables' result columns are decimal(18, 4), as CMS publishes its conversion factors: 20.3178). A
/// contract factor or a rule set's share or unit count with more is refused where it is given, so no
/// face shows a number another face rounded.
pub const PRICED_PLACES: u32 = 4;

/// Whether `value` has more decimal places than [`PRICED_PLACES`] (trailing zeros are no place).
pub(crate) fn beyond_priced_places(value: Decimal) -> bool {
    value.normalize().scale() > PRICED_PLACES
}

/// A sanity bound on a rule set's unit count (physical status, qualifying circumstance, medical
/// supervision), each a handful of units where payers publish them: it keeps every priced line's units
/// within what every face carries.
const MAX_RULE_UNITS: Decimal = Decimal::from_parts(1_000, 0, 0, false, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Priced,
    /// cptkit does not price this line (not anesthesia, unlisted, or the payer's rule is unknown).
    NotPriced,
    /// The payer does not pay this line as billed (a modifier it does not accept, a void claim): $0,
    /// with why.
    NotPayable,
}

/// Room for a step's words: a detail, its source included, is seldom longer than this, and a String
/// that starts small grows by copying.
const DETAIL_CAPACITY: usize = 256;

/// An optional value's text, or nothing (without a String in between).
pub(crate) struct OrEmpty<T>(pub(crate) Option<T>);

impl<T: fmt::Display> fmt::Display for OrEmpty<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => Ok(()),
        }
    }
}

/// Text worded by a closure when it is displayed: a step's detail chosen by a `match`, with no String
/// in between.
pub(crate) struct Words<F>(pub(crate) F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Words<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// One step of a line's price, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub detail: String,
    pub value: String,
}

impl Step {
    fn new(step: &'static str, detail: &dyn fmt::Display, value: &dyn fmt::Display) -> Step {
        // Presized: `to_string` would grow the strings by copying.
        let (mut detail_text, mut value_text) = (String::with_capacity(DETAIL_CAPACITY), String::with_capacity(32));
        // Writing into a String cannot fail.
        let _ = (write!(detail_text, "{detail}"), write!(value_text, "{value}"));
        Step { step, detail: detail_text, value: value_text }
    }
}

/// Takes a priced line's steps as they are worded, in order ([`PricedLine::write_steps`]). A face that
/// writes the steps out (the gRPC stream's encoder, a table's explanation column) words each one straight
/// into its own buffers, with no String per step; `Vec<Step>` keeps them.
pub trait StepSink {
    fn step(&mut self, step: &'static str, detail: &dyn fmt::Display, value: &dyn fmt::Display);

    /// A step whose value is a number, worded as [`DecimalText`] words it: a sink that writes bytes can
    /// take its digits ([`DecimalText::digits`]) without the formatting machinery.
    fn number_step(&mut self, step: &'static str, detail: &dyn fmt::Display, value: Decimal) {
        self.step(step, detail, &DecimalText(value));
    }
}

impl StepSink for Vec<Step> {
    fn step(&mut self, step: &'static str, detail: &dyn fmt::Display, value: &dyn fmt::Display) {
        self.push(Step::new(step, detail, value));
    }
}

/// A priced line. The numbers are computed when pricing; the worded explanation ([`PricedLine::steps`])
/// is rendered from them on demand, so batch pricing does not pay for text nobody reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub line: u32,
    pub procedure_code: CptCode,
    pub status: LineStatus,
    pub rule: &'static RuleSet,
    pub date_of_service: Date,
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
    basis: Basis,
}

/// Where each number of a priced line came from: enough to word the explanation later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Basis {
    base: BaseBasis,
    minutes: Option<Decimal>,
    not_time_based: bool,
    physical_status: Option<ModifierCode>,
    modifier: Option<ModifierCode>,
    conversion_factor: Option<CfUsed>,
    lesser_of_charge: bool,
    /// Boxed, as `capped`: most lines have neither, and every priced line is moved a few times.
    not_priced: Option<Box<NotPriced>>,
    capped: Option<Box<Cap>>,
    /// The line of a void (frequency 8): what it would pay is shown, and then that nothing is.
    void: bool,
    /// A fee-schedule line: what it was priced from.
    fee: Option<Box<FeeBasis>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum BaseBasis {
    #[default]
    None,
    Code(&'static str),
    Supervision {
        induction: bool,
    },
    QualifyingCircumstance(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CfUsed {
    /// The request's contract factor, given for this payer or for every payer.
    Given { for_payer: bool },
    Medicare {
        factor: &'static ConversionFactor,
        /// The claim's locality and where it comes from, or why it has none.
        locality: std::result::Result<(LocalityId, &'static str), Cow<'static, str>>,
        /// A factor the request gave for every payer, not applied to Medicare fee-for-service.
        not_applied: Option<Decimal>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NotPriced {
    Unlisted,
    NotAnesthesia,
    UnknownQualifyingUnits,
    /// The payer's units for this physical status are not public (P3-P5 under a rule set without them).
    UnknownModifyingUnits,
    UnknownSupervision,
    UnknownShare,
    /// The payer does not accept this modifier: (modifier, why, with its source).
    RefusedModifier(String, String),
    /// The amount is beyond a decimal ([`product`]'s reason).
    TooLarge(String),
}

/// A line trimmed by the combined cap: the case's lines' `total`, the case's physician-only `amount`
/// and the `cap` fraction applied to it, the resulting `limit`, and how much this line lost.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cap {
    total: Decimal,
    amount: Decimal,
    cap: Decimal,
    limit: Decimal,
    cut: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricedClaim {
    pub claim_id: ShortText,
    pub lines: Vec<PricedLine>,
    pub total_charge: Decimal,
    pub total_allowed: Decimal,
}

/// `factors` multiplied, or why not: rust_decimal's `*` panics past its 28 digits, which only a
/// quantity or factor no real claim carries reaches (no billing rule caps them), so such a line is not
/// priced, with this reason, instead of failing the claim.
pub(crate) fn product(factors: &[Decimal]) -> std::result::Result<Decimal, String> {
    // In integers where that is exact: the same decimal at a fraction of rust_decimal's cost.
    if let Some(exact) = exact_product(factors) {
        return Ok(exact.product_decimal());
    }
    factors.iter().try_fold(Decimal::ONE, |total, f| total.checked_mul(*f)).ok_or_else(|| {
        let shown: Vec<String> = factors.iter().map(|f| DecimalText(*f).to_string()).collect();
        format!(
            "{} is more than the 28 digits cptkit computes with: not priced (check the quantity)",
            shown.join(" x ")
        )
    })
}

/// [`carried_cents`] of [`product`]: what a line's units, conversion factor and share come to, with
/// the amount as a count of cents when it is computed in integers: where the decimal product is exact
/// (see [`Exact`]) and every face carries the cents, the same amount without decimal multiplication and
/// rounding, which cost more than the rest of pricing a line.
fn carried_product(factors: &[Decimal]) -> std::result::Result<(Decimal, Option<i64>), String> {
    match exact_product(factors).and_then(Exact::cents_count) {
        Some(cents) => Ok((Decimal::new(cents, 2), Some(cents))),
        None => product(factors).and_then(carried_cents).map(|amount| (amount, None)),
    }
}

/// `factors` multiplied in integers, where the decimal product is exact (see [`Exact`]).
fn exact_product(factors: &[Decimal]) -> Option<Exact> {
    factors.iter().try_fold(Exact::ONE, |product, &f| product.mul(Exact::of(f)?))
}

/// A decimal not below zero as an integer count of its last place. While every number stays within 64
/// bits (well inside a decimal's 96) and 28 places, rust_decimal computes products and sums exactly too,
/// so integer arithmetic gives the same number at a fraction of the cost; past those bounds the
/// operations give `None`, and the caller computes in decimals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exact {
    mantissa: u64,
    scale: u32,
}

impl Exact {
    pub(crate) const ZERO: Exact = Exact { mantissa: 0, scale: 0 };
    pub(crate) const ONE: Exact = Exact { mantissa: 1, scale: 0 };

    /// `None` for a negative decimal (its mantissa is no u64) or one past 64 bits.
    pub(crate) fn of(d: Decimal) -> Option<Exact> {
        // From the decimal's parts: `mantissa` makes an i128 only to be narrowed again, for every factor
        // and amount priced.
        let d = d.unpack();
        let mantissa = u64::from(d.mid) << 32 | u64::from(d.lo);
        // A negative zero's mantissa is 0, a u64.
        (d.hi == 0 && (!d.negative || mantissa == 0)).then_some(Exact { mantissa, scale: d.scale })
    }

    pub(crate) fn mul(self, other: Exact) -> Option<Exact> {
        let scale = self.scale + other.scale;
        // Past 28 places rust_decimal rounds the product.
        if scale > 28 {
            return None;
        }
        Some(Exact { mantissa: self.mantissa.checked_mul(other.mantissa)?, scale })
    }

    pub(crate) fn add(self, other: Exact) -> Option<Exact> {
        let scale = self.scale.max(other.scale);
        let widen = |e: Exact| e.mantissa.checked_mul(power_of_ten(scale - e.scale)?);
        Some(Exact { mantissa: widen(self)?.checked_add(widen(other)?)?, scale })
    }

    /// The decimal rust_decimal's product gives when this is a product: its digits and places, but a
    /// plain 0 when a factor was zero (rust_decimal drops a zero product's places).
    fn product_decimal(self) -> Decimal {
        if self.mantissa == 0 {
            Decimal::ZERO
        } else {
            Decimal::from_i128_with_scale(i128::from(self.mantissa), self.scale)
        }
    }

    /// Rounded to cents half away from zero (half up: it is not negative), as [`cents`] rounds; `None`
    /// past the cents every face carries.
    pub(crate) fn cents(self) -> Option<Decimal> {
        self.cents_count().map(|cents| Decimal::new(cents, 2))
    }

    /// [`Exact::cents`] as the count of cents.
    #[inline]
    fn cents_count(self) -> Option<i64> {
        let cents = match self.scale.checked_sub(2) {
            None => self.mantissa.checked_mul(power_of_ten(2 - self.scale)?)?,
            Some(places) => {
                let unit = power_of_ten(places)?;
                self.mantissa / unit + u64::from(self.mantissa % unit >= unit - self.mantissa % unit)
            }
        };
        i64::try_from(cents).ok()
    }
}

/// 10 to the power `n`, where a u64 holds it (`n` up to 19): looked up, as `checked_pow` multiplies in a
/// loop, for every sum and rounding of an amount.
fn power_of_ten(n: u32) -> Option<u64> {
    const POWERS: [u64; 20] = {
        let mut powers = [1; 20];
        let mut n = 1;
        while n < powers.len() {
            powers[n] = powers[n - 1] * 10;
            n += 1;
        }
        powers
    };
    POWERS.get(usize::try_from(n).ok()?).copied()
}

/// A claim's total charge and total allowed: the decimal sums, added up in whole cents when every
/// amount is cents and not negative (every priced amount is), which gives the same numbers; both in
/// one pass over the lines, which cost more than the adding.
fn totals(lines: &[PricedLine]) -> (Decimal, Decimal) {
    let in_cents = |a: Decimal| {
        Exact::of(a).filter(|e| e.scale == 2 && !a.is_sign_negative()).and_then(|e| i64::try_from(e.mantissa).ok())
    };
    let cents = lines.iter().try_fold((0i64, 0i64), |(charge, allowed), l| {
        Some((charge.checked_add(in_cents(l.charge)?)?, allowed.checked_add(in_cents(l.allowed)?)?))
    });
    match cents {
        Some((charge, allowed)) if !lines.is_empty() => (Decimal::new(charge, 2), Decimal::new(allowed, 2)),
        _ => (lines.iter().map(|l| l.charge).sum(), lines.iter().map(|l| l.allowed).sum()),
    }
}

/// 0.00: what [`cents`] makes of zero, without rounding it.
const ZERO_CENTS: Decimal = Decimal::from_parts(0, 0, 0, false, 2);

pub(crate) fn cents(amount: Decimal) -> Decimal {
    counted_cents(amount).map_or_else(|| decimal_cents(amount), |count| Decimal::new(count, 2))
}

/// [`cents`] as a count, when it is rounded in integers: an amount not below zero within 64 bits (all
/// but none) gives the same cents without rust_decimal's rounding and rescaling, which a fee-schedule
/// line pays after every rule.
#[inline]
fn counted_cents(amount: Decimal) -> Option<i64> {
    if amount.is_sign_negative() { None } else { Exact::of(amount)?.cents_count() }
}

/// [`cents`] in rust_decimal's arithmetic.
fn decimal_cents(amount: Decimal) -> Decimal {
    let mut a = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    a.rescale(2);
    a
}

/// The largest amount every face carries: the wire and the tables count money in signed 64-bit cents
/// (92,233,720,368,547,758.07 dollars), as a claim's charges are (CLM008).
pub(crate) const MAX_AMOUNT: Decimal = Decimal::from_parts(u32::MAX, i32::MAX as u32, 0, false, 2);

/// A line's amount rounded to cents, when every face can carry it; why not otherwise (the line is not
/// priced, as one past the 28 digits of [`product`] is, never shown whole on one face and cut short to
/// the largest count of cents on another).
pub(crate) fn carried_cents(amount: Decimal) -> std::result::Result<Decimal, String> {
    carried_cents_counted(amount).map(|(amount, _)| amount)
}

/// [`carried_cents`], with the amount as a count of cents when it is rounded in integers (see [`Exact`]):
/// a count that fits 64 bits is carried, so no decimal comparison is needed, and the count compares
/// with a charge in cents.
pub(crate) fn carried_cents_counted(amount: Decimal) -> std::result::Result<(Decimal, Option<i64>), String> {
    if let Some(count) = counted_cents(amount) {
        return Ok((Decimal::new(count, 2), Some(count)));
    }
    let rounded = decimal_cents(amount);
    if rounded.abs() <= MAX_AMOUNT {
        Ok((rounded, None))
    } else {
        Err(format!(
            "{} is more than the {MAX_AMOUNT} dollars every face carries (a signed 64-bit count of cents): not \
             priced (check the quantity)",
            DecimalText(rounded)
        ))
    }
}

impl PricedLine {
    pub(crate) fn new(line: usize, claim_line: &ClaimLine, rule: &'static RuleSet) -> PricedLine {
        PricedLine {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            procedure_code: claim_line.procedure_code,
            status: LineStatus::NotPriced,
            rule,
            date_of_service: claim_line.date_of_service,
            base_units: Decimal::ZERO,
            time_units: Decimal::ZERO,
            modifying_units: Decimal::ZERO,
            total_units: Decimal::ZERO,
            conversion_factor: Decimal::ZERO,
            share: Decimal::ZERO,
            fee_schedule: ZERO_CENTS,
            // Already in cents (a whole count of them): rounding it again would change nothing.
            charge: claim_line.charge(),
            allowed: ZERO_CENTS,
            basis: Basis::default(),
        }
    }

    pub(crate) fn set_fee_basis(&mut self, basis: impl Into<Box<FeeBasis>>, status: LineStatus) {
        self.basis.fee = Some(basis.into());
        self.status = status;
    }

    /// What a fee-schedule line was priced from; `None` for anesthesia lines.
    pub fn fee_basis(&self) -> Option<&FeeBasis> {
        self.basis.fee.as_deref()
    }

    /// Says why the line is not priced; `Ok`: pricing it is done (`return priced.not_priced(why)`).
    fn not_priced(&mut self, why: NotPriced) -> Result<()> {
        self.basis.not_priced = Some(Box::new(why));
        Ok(())
    }

    /// The explanation, step by step: rule set, base units, time units, modifying units, total,
    /// conversion factor, share, rounding, and the lesser-of-charge and cap adjustments.
    pub fn steps(&self) -> Vec<Step> {
        // Room for every step an anesthesia line can have, so the list is not grown by copying.
        let mut steps = Vec::with_capacity(10);
        self.write_steps(&mut steps);
        steps
    }

    /// [`PricedLine::steps`], each handed to `out` as it is worded.
    pub fn write_steps(&self, out: &mut dyn StepSink) {
        self.write_pricing_steps(out);
        if self.basis.void {
            let detail = "the claim is a void (frequency code 8): it cancels the earlier claim with its id, so \
                          nothing is paid on it; the steps above are what the line would pay";
            out.step("void", &detail, &"0.00");
        }
    }

    fn write_pricing_steps(&self, out: &mut dyn StepSink) {
        let rule = self.rule;
        let b = &self.basis;
        let code = self.procedure_code;
        let in_force = format_args!(
            "{} ({}), in force on {}{}: {}",
            rule.plan,
            rule.id,
            DateText(self.date_of_service),
            rule.span(),
            rule.source
        );
        out.step("rule_set", &in_force, &rule.id);
        if let Some(fee) = &b.fee {
            fee.write_steps(self, out);
            return;
        }
        if let Some(why) = b.not_priced.as_deref() {
            let detail = Words(|f: &mut fmt::Formatter<'_>| match why {
                NotPriced::Unlisted => write!(f, "{code} is an unlisted anesthesia procedure: priced by report"),
                NotPriced::NotAnesthesia => {
                    write!(f, "{code} is not an anesthesia service; cptkit prices anesthesia only")
                }
                NotPriced::UnknownQualifyingUnits => write!(f, "{code}: {}", rule.qualifying_circumstance_source),
                NotPriced::UnknownModifyingUnits => write!(
                    f,
                    "the units for {} under {} are unknown: {}",
                    OrEmpty(b.physical_status),
                    rule.payer,
                    rule.physical_status_source
                ),
                NotPriced::UnknownSupervision => {
                    write!(f, "AD (supervision) payment under {} is unknown (no public source)", rule.payer)
                }
                NotPriced::UnknownShare => write!(
                    f,
                    "the share for {} under {} is unknown: {}",
                    OrEmpty(b.modifier),
                    rule.payer,
                    rule.shares_source
                ),
                NotPriced::RefusedModifier(modifier, why) => {
                    write!(f, "{} does not accept modifier {modifier}: {why}", rule.payer)
                }
                NotPriced::TooLarge(why) => f.write_str(why),
            });
            if matches!(why, NotPriced::RefusedModifier(..)) {
                out.step("not_payable", &detail, &"0.00");
                return;
            }
            // An unknown share or physical status is found after the units, which are worth showing.
            if matches!(why, NotPriced::UnknownShare | NotPriced::UnknownModifyingUnits) {
                self.write_unit_steps(out);
            }
            out.step("not_priced", &detail, &"0.00");
            return;
        }
        self.write_unit_steps(out);
        if self.share != Decimal::ONE || b.modifier.is_some() {
            let modifier = OrEmpty(b.modifier);
            let detail = format_args!(
                "{modifier}: {} of the allowance, from {}'s modifier shares (source of the whole table: {})",
                DecimalText(self.share),
                rule.id,
                rule.shares_source
            );
            out.number_step("share", &detail, self.share);
        } else if matches!(b.base, BaseBasis::QualifyingCircumstance(_)) {
            // Said, not implied: a directed case's 50% is not applied to these units, and no source says
            // whether a payer splits them between the directing physician and the anesthetist.
            let detail = "a qualifying circumstance has no pricing modifier: its units are paid whole (units x \
                          conversion factor); whether a payer splits them on a directed case is not in cptkit's sources";
            out.step("share", &detail, &"1");
        }
        let rounding = format_args!(
            "{} units x {} x {} = {}, rounded half-up to cents once",
            DecimalText(self.total_units),
            DecimalText(self.conversion_factor),
            DecimalText(self.share),
            OrEmpty(product(&[self.total_units, self.conversion_factor, self.share]).ok().map(DecimalText))
        );
        out.number_step("rounding", &rounding, self.fee_schedule);
        if b.lesser_of_charge {
            let detail = format_args!(
                "the charge {} is below the fee schedule {}: the charge is allowed",
                DecimalText(self.charge),
                DecimalText(self.fee_schedule)
            );
            out.number_step("lesser_of_charge", &detail, self.charge);
        }
        if let Some(cap) = &b.capped {
            let detail = format_args!(
                "the case's lines total {}, above {} x the personally performed {} = {}: reduced by {}",
                DecimalText(cap.total),
                DecimalText(cap.cap),
                DecimalText(cap.amount),
                DecimalText(cap.limit),
                DecimalText(cap.cut)
            );
            out.number_step("combined_cap", &detail, self.allowed);
        }
    }

    fn write_unit_steps(&self, out: &mut dyn StepSink) {
        let rule = self.rule;
        let b = &self.basis;
        let code = self.procedure_code;
        let base = Words(|f: &mut fmt::Formatter<'_>| match &b.base {
            BaseBasis::None => Ok(()),
            BaseBasis::Code(source) => write!(f, "{code}: {} base units ({source})", DecimalText(self.base_units)),
            BaseBasis::Supervision { .. } => {
                let source = rule.supervision.as_ref().map(|s| s.source.as_str()).unwrap_or_default();
                write!(f, "AD supervision: {} base units per procedure ({source})", DecimalText(self.base_units))
            }
            BaseBasis::QualifyingCircumstance(meaning) => {
                let units = DecimalText(self.base_units);
                write!(f, "{code} ({meaning}): {units} units; {}", rule.qualifying_circumstance_source)
            }
        });
        out.number_step("base_units", &base, self.base_units);
        if b.not_time_based {
            let detail = format_args!("{code} is not time-based under {}: {}", rule.payer, rule.non_time_based_source);
            out.step("time_units", &detail, &"0");
        } else if let BaseBasis::Supervision { induction } = b.base {
            let source = rule.supervision.as_ref().map(|s| s.source.as_str()).unwrap_or_default();
            let detail = Words(|f: &mut fmt::Formatter<'_>| match induction {
                true => write!(f, "AD: a time unit for documented presence at induction, no others ({source})"),
                false => write!(f, "AD: no time units without documented presence at induction ({source})"),
            });
            out.number_step("time_units", &detail, self.time_units);
        } else if let Some(minutes) = b.minutes {
            let detail = Words(|f: &mut fmt::Formatter<'_>| {
                rule.time_units.write_description(f, minutes)?;
                write!(f, "; {}", rule.time_units.rounding_source)
            });
            out.number_step("time_units", &detail, self.time_units);
        }
        if let Some(ps) = b.physical_status {
            match physical_status_units(rule, ps) {
                Some((units, source)) => {
                    let detail = format_args!("{ps}: {} units; {source}", DecimalText(units));
                    out.number_step("modifying_units", &detail, units);
                }
                None => {
                    let source = &rule.physical_status_source;
                    out.step("modifying_units", &format_args!("{ps}: units unknown; {source}"), &"unknown");
                    return; // no total to show
                }
            }
        }
        let [base, time, modifying] = [self.base_units, self.time_units, self.modifying_units].map(DecimalText);
        let total = format_args!("{base} base + {time} time + {modifying} modifying");
        out.number_step("total_units", &total, self.total_units);
        let Some(used) = &b.conversion_factor else { return };
        let cf = Words(|f: &mut fmt::Formatter<'_>| match used {
            CfUsed::Given { for_payer: true } => {
                f.write_str("conversion factor given with the request for this payer (contract rate)")
            }
            CfUsed::Given { for_payer: false } => {
                f.write_str("conversion factor given with the request for every payer (contract rate)")
            }
            CfUsed::Medicare { factor, locality, not_applied } => {
                // Said only for a locality the claim does not name itself.
                let from =
                    |source: &str| if source == CLAIM_LOCALITY { String::new() } else { format!(", from {source}") };
                match (&factor.locality, locality) {
                    (Some(found), Ok((_, source))) => write!(
                        f,
                        "CY{} locality {} ({}){}: {}",
                        factor.year,
                        found.id,
                        found.name,
                        from(source),
                        factor.source
                    ),
                    (_, Ok((wanted, source))) => write!(
                        f,
                        "CY{} national, {} tier (no CY{} locality factor for {wanted}{} is loaded, so the national factor is used): {}",
                        factor.year,
                        factor.tier.as_str(),
                        factor.year,
                        from(source),
                        factor.source
                    ),
                    (_, Err(why)) => {
                        write!(
                            f,
                            "CY{} national, {} tier ({why}): {}",
                            factor.year,
                            factor.tier.as_str(),
                            factor.source
                        )
                    }
                }?;
                match not_applied {
                    Some(cf) => write!(
                        f,
                        "; the factor {} given for every payer is a contract rate and does not apply to Medicare \
                         fee-for-service",
                        DecimalText(*cf)
                    ),
                    None => Ok(()),
                }
            }
        });
        out.number_step("conversion_factor", &cf, self.conversion_factor);
    }
}

impl Serialize for PricedLine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("PricedLine", 16)?;
        out.serialize_field("line", &self.line)?;
        out.serialize_field("procedure_code", &self.procedure_code)?;
        out.serialize_field("status", &self.status)?;
        out.serialize_field("rule_set", &self.rule.id)?;
        out.serialize_field("date_of_service", &self.date_of_service)?;
        out.serialize_field("base_units", &self.base_units)?;
        out.serialize_field("time_units", &self.time_units)?;
        out.serialize_field("modifying_units", &self.modifying_units)?;
        out.serialize_field("total_units", &self.total_units)?;
        out.serialize_field("conversion_factor", &self.conversion_factor)?;
        out.serialize_field("share", &self.share)?;
        out.serialize_field("fee_schedule", &self.fee_schedule)?;
        out.serialize_field("charge", &self.charge)?;
        out.serialize_field("allowed", &self.allowed)?;
        if let Some(fee) = self.fee_basis() {
            out.serialize_field("fee_schedule_basis", fee)?;
        }
        out.serialize_field("steps", &self.steps())?;
        out.end()
    }
}

impl Reference {
    /// Prices every line of a claim validation found no error in ([`Reference::judge`] is the way in),
    /// by the `facts` validation recorded of each line, into `lines` (emptied first), which the priced
    /// claim takes; a claim not priced leaves the list, for the next claim of a face that judges claim
    /// after claim.
    pub(crate) fn price_valid(
        &self,
        claim: &Claim,
        options: &PriceOptions,
        rules: &RuleBook,
        facts: &[LineFacts<'_>],
        lines: &mut Vec<PricedLine>,
    ) -> Result<PricedClaim> {
        options.check_percent()?;
        // The anesthesia lines, in line order; the fee-schedule lines are priced together afterwards.
        lines.clear();
        // Exact: a new list is kept by its priced claim (a Python result holds it), and `reserve` would
        // give a one-line claim room for four 368-byte lines. A reused list grows only past its largest.
        lines.reserve_exact(claim.lines.len());
        // One fact per line, from this claim's validation: a shorter list would leave lines unpriced.
        debug_assert_eq!(facts.len(), claim.lines.len(), "line facts of another claim");
        let mut fee_lines: SmallVec<[FeeLine; 4]> = SmallVec::new();
        // The rule set depends on the claim and the date alone: lines of one day share it.
        let mut day_rule: Option<(Date, &'static RuleSet, &ModifierValues)> = None;
        for ((i, line), line_facts) in claim.lines.iter().enumerate().zip(facts) {
            // Errors about the request (payer, rule set, conversion factor) name the request's field;
            // errors about a line name the line.
            let (rule, modifier_values) = match day_rule {
                Some((day, rule, values)) if day == line.date_of_service => (rule, values),
                _ => rules.select_for_pricing(claim, line.date_of_service, options.rule_set.as_deref())?,
            };
            day_rule = Some((line.date_of_service, rule, modifier_values));
            // Validation found whether the line is anesthesia and what it is priced by.
            let found = match *line_facts {
                LineFacts::Anesthesia(found) => found,
                LineFacts::FeeSchedule(fee) => {
                    fee_lines.push((i, rule, fee));
                    continue;
                }
            };
            let given = options.conversion_factors.resolve(&claim.payer.id, rule.conversion_factor);
            if rule.conversion_factor == CfBasis::Contract && given == GivenFactor::None {
                return Err(Error::invalid(
                    "conversion_factor",
                    format!(
                        "{} pays anesthesia at a contract conversion factor, which is not public: pass conversion_factor",
                        rule.plan
                    ),
                ));
            }
            // Made and priced in its place in the list, not moved there (a priced line is 368 bytes): `push`
            // makes the line before it makes room for it, and then copies it in.
            let slot = lines.len();
            lines.extend(std::iter::once_with(|| PricedLine::new(i, line, rule)));
            let rule = (rule, modifier_values);
            self.price_line(claim, line, rule, given, found, &mut lines[slot]).map_err(|e| e.at(FieldPath::line(i)))?;
        }
        if !fee_lines.is_empty() {
            let anesthesia = lines.len();
            crate::pfs::price_fee_schedule_lines(self, claim, &fee_lines, options.percent_of_medicare, lines);
            // Both runs are in line order: most claims are all anesthesia or all fee schedule, and nothing
            // moves (a priced line is 368 bytes); a claim of both is put in line order (no line is in both).
            if anesthesia > 0 && anesthesia < lines.len() {
                lines.sort_by_key(|l| l.line);
            }
        }
        let mut lines = apply_combined_cap(claim, std::mem::take(lines));
        if claim.frequency_code == "8" {
            for line in lines.iter_mut().filter(|l| l.status == LineStatus::Priced) {
                line.allowed = Decimal::ZERO;
                line.status = LineStatus::NotPayable;
                line.basis.void = true;
            }
        }
        let (total_charge, total_allowed) = totals(&lines);
        Ok(PricedClaim { claim_id: claim.claim_id.clone(), total_charge, total_allowed, lines })
    }

    /// Whether a line is priced by base and time units ([`is_anesthesia`]), looked up here.
    pub(crate) fn is_anesthesia_line(&self, line: &ClaimLine) -> bool {
        let code = line.procedure_code;
        let found = self.codes.lookup(&code);
        is_anesthesia(found.entry, code, found.qualifying.is_some())
    }

    /// The anesthesia entry and qualifying circumstance a probe of the codes found.
    pub(crate) fn anesthesia_found<'r>(&'r self, found: &Found<'r>) -> AnesthesiaFound<'r> {
        (found.entry, found.qualifying.and_then(|i| self.qualifying_circumstances.get(i)))
    }

    /// Prices an anesthesia line into `priced`, made for it ([`PricedLine::new`]), by its rule set and
    /// the set's modifier values; `found` is what its code's probe found ([`Reference::anesthesia_found`]).
    fn price_line(
        &self,
        claim: &Claim,
        line: &ClaimLine,
        (rule, modifier_values): (&RuleSet, &ModifierValues),
        given: GivenFactor,
        found: AnesthesiaFound<'_>,
        priced: &mut PricedLine,
    ) -> Result<()> {
        let code = line.procedure_code;
        if let Some((modifier, why)) = line
            .modifiers
            .iter()
            .filter(|&&m| modifier_values.refuses(m))
            .find_map(|&m| modifier_entry(&rule.refused_modifiers, m))
        {
            priced.status = LineStatus::NotPayable;
            return priced.not_priced(NotPriced::RefusedModifier(modifier.clone(), why.clone()));
        }
        let (entry, qualifying) = found;
        match (entry, qualifying) {
            (Some(entry), _) if entry.service_type == ServiceType::UnlistedAnesthesia => {
                return priced.not_priced(NotPriced::Unlisted);
            }
            (Some(entry), _) => {
                priced.base_units = Decimal::from(entry.base_units);
                priced.basis.base = BaseBasis::Code(entry.base_units_source);
            }
            (None, Some(qc)) => {
                let Some(units) = rule.qualifying_circumstance_units.as_ref().and_then(|m| m.get(code.as_str())) else {
                    return priced.not_priced(NotPriced::UnknownQualifyingUnits);
                };
                priced.base_units = *units;
                priced.basis.base = BaseBasis::QualifyingCircumstance(qc.meaning.clone());
            }
            (None, None) => return priced.not_priced(NotPriced::NotAnesthesia),
        }
        let is_anesthesia = qualifying.is_none();
        let modifier = line.modifiers.first().copied().filter(|_| is_anesthesia);
        priced.basis.modifier = modifier;
        let supervised = modifier.is_some_and(|m| m.is_any(&["AD"]));
        if supervised {
            let Some(sup) = &rule.supervision else {
                return priced.not_priced(NotPriced::UnknownSupervision);
            };
            priced.base_units = sup.base_units;
            priced.time_units = if line.present_at_induction { sup.induction_units } else { Decimal::ZERO };
            priced.basis.base = BaseBasis::Supervision { induction: line.present_at_induction };
        } else if is_anesthesia && rule.non_time_based_codes.contains(&code) {
            priced.basis.not_time_based = true;
        } else if is_anesthesia && line.unit_basis == UnitBasis::Minutes {
            priced.time_units = rule.time_units.units(line.quantity);
            priced.basis.minutes = Some(line.quantity);
        }
        if is_anesthesia {
            let ps = line.modifiers.iter().copied().find(|m| {
                let [first, second] = *m.as_bytes();
                first == b'P' && second.is_ascii_digit()
            });
            if let Some(ps) = ps {
                priced.basis.physical_status = Some(ps);
                match modifier_values.physical_status_units(ps) {
                    Some(units) => priced.modifying_units = units,
                    None => return priced.not_priced(NotPriced::UnknownModifyingUnits),
                }
            }
        }
        priced.total_units = priced.base_units + priced.time_units + priced.modifying_units;
        let (cf, used) = self.conversion_factor(claim, line.date_of_service, given)?;
        priced.conversion_factor = cf;
        priced.basis.conversion_factor = Some(used);
        priced.share = match modifier {
            None => Decimal::ONE, // qualifying-circumstance lines are paid in full
            Some(m) => match modifier_values.share(m) {
                Some(share) => share,
                None => return priced.not_priced(NotPriced::UnknownShare),
            },
        };
        let (fee, fee_cents) = match carried_product(&[priced.total_units, cf, priced.share]) {
            Ok(fee) => fee,
            Err(why) => return priced.not_priced(NotPriced::TooLarge(why)),
        };
        priced.fee_schedule = fee;
        // In whole cents when the fee is a count of them (the charge is): no rust_decimal comparison.
        let charge_is_less = match fee_cents {
            Some(fee) => line.charge_cents < fee,
            None => priced.charge < fee,
        };
        priced.allowed = if rule.lesser_of_charge && charge_is_less {
            priced.basis.lesser_of_charge = true;
            priced.charge
        } else {
            priced.fee_schedule
        };
        priced.status = LineStatus::Priced;
        Ok(())
    }

    /// The conversion factor for a line and where it came from.
    fn conversion_factor(&self, claim: &Claim, date: Date, given: GivenFactor) -> Result<(Decimal, CfUsed)> {
        match given {
            GivenFactor::ForPayer(cf) => Ok((cf, CfUsed::Given { for_payer: true })),
            GivenFactor::ForEveryPayer(cf) => Ok((cf, CfUsed::Given { for_payer: false })),
            GivenFactor::NotForMedicare(cf) => self.medicare_conversion_factor(claim, date, Some(cf)),
            GivenFactor::None => self.medicare_conversion_factor(claim, date, None),
        }
    }

    /// The CMS factor of the year, locality and QP tier; `not_applied` is a contract factor the
    /// request gave for every payer, which Medicare fee-for-service does not pay (said in the steps).
    fn medicare_conversion_factor(
        &self,
        claim: &Claim,
        date: Date,
        not_applied: Option<Decimal>,
    ) -> Result<(Decimal, CfUsed)> {
        let year = date.year();
        // The locality as the claim's fee-schedule lines find it: the release's ZIP file only for a claim
        // that states none (a stated one is taken as it is).
        let tables = match claim.medicare_locality {
            Some(_) => None,
            None => self.fee_schedule_on(date).map(|schedule| schedule.tables),
        };
        let found = claim_locality(claim, tables, year);
        let locality = match found {
            Some(Ok(locality)) => Ok(locality),
            Some(Err(why)) => Err(Cow::Owned(why)),
            None => Err(Cow::Borrowed("no Medicare locality on the claim")),
        };
        if let Ok((wanted, _)) = &locality
            && let Some(cf) = self.locality_conversion_factor(year, wanted)
        {
            return Ok((cf.amount, CfUsed::Medicare { factor: cf, locality, not_applied }));
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
                .at("date_of_service")
            })?;
        let used = CfUsed::Medicare { factor: cf, locality, not_applied };
        Ok((cf.amount, used))
    }
}

/// Anesthesia lines (a code of the CMS anesthesia table or of the anesthesia range, or a qualifying
/// circumstance) are priced by base and time units; every other line by the Physician Fee Schedule.
/// The one statement of that rule, for validation and pricing alike, over the lookups each caller has
/// made: `entry`, the code's anesthesia table entry; `qualifying`, whether the code is a qualifying
/// circumstance (the same probe finds both).
pub(crate) fn is_anesthesia(entry: Option<&AnesthesiaCode>, code: CptCode, qualifying: bool) -> bool {
    entry.is_some() || code.is_anesthesia() || qualifying
}

/// A code's anesthesia entry and qualifying circumstance, each when there is one.
pub(crate) type AnesthesiaFound<'r> = (Option<&'r AnesthesiaCode>, Option<&'r QualifyingCircumstance>);

/// What validation derives of a line and pricing needs again, recorded by validation so that one
/// judgement derives it once.
#[derive(Clone, Copy)]
pub(crate) enum LineFacts<'r> {
    /// Priced by base and time units ([`is_anesthesia`]), with what the code's probe found.
    Anesthesia(AnesthesiaFound<'r>),
    /// Priced by the fee schedule: the release and row, when a release covers the date (pricing
    /// looks again, to word why there is none).
    FeeSchedule(Option<FeeFacts<'r>>),
}

/// The facts of a claim's lines, in line order: most claims have at most four lines.
pub(crate) type ClaimFacts<'r> = SmallVec<[LineFacts<'r>; 4]>;

/// Why P1, P2 and P6 add nothing when a payer publishes no physical-status units: no scheme adds any.
const NO_UNITS_ANYWHERE: &str = "P1, P2 and P6 add no units under the ASA values commonly applied (Regence \
     policy 102) nor under Medicare (Humana MA CP2017001)";

/// The units a physical-status modifier adds under a rule set, with their source; `None` when they are
/// not public (P3-P5 under a rule set that publishes no units).
fn physical_status_units(rule: &RuleSet, ps: ModifierCode) -> Option<(Decimal, &str)> {
    match &rule.physical_status_units {
        Some(units) => modifier_entry(units, ps).map(|(_, &u)| (u, rule.physical_status_source.as_str())),
        None if ps.is_any(&["P1", "P2", "P6"]) => Some((Decimal::ZERO, NO_UNITS_ANYWHERE)),
        None => None,
    }
}

/// A rule set's entry for a modifier (its share, units or refusal), matched by the bytes: the maps are
/// keyed by text, and `ModifierCode::as_str` checks UTF-8 first, a few times on every priced line.
fn modifier_entry<V>(map: &BTreeMap<String, V>, modifier: ModifierCode) -> Option<(&String, &V)> {
    map.iter().find(|(key, _)| key.as_bytes() == modifier.as_bytes())
}

/// The payer cap on one anesthetic: "combined physician and non-physician payment may not exceed 100% of
/// the physician-only amount" (Anthem C-09002 and Anthem MA summaries, shared/domain/anesthesia-billing.md
/// §2.2); the fraction is the rule set's `combined_cap`, and a rule set without one caps nothing.
///
/// A case is this claim's priced anesthesia lines with one case id, whatever their share (a physician's
/// and an anesthetist's lines priced on separate claims are not tied together): AA + QZ
/// ("both fully involved", §2.2) is paid 100% each only where the payer has no cap. Lines without a
/// case id (or with the id the 837 reader derives for the patient's day, [`Claim::names_case`]) cannot be
/// tied to an anesthetic and are not capped. A case is capped only if every line's
/// rule set has a cap (a case on both sides of a rule change), at the largest of them.
///
/// The physician-only amount is what one practitioner performing the whole anesthetic would be paid:
/// for each code of the case, the largest of its lines' units x conversion factor at share 1, rounded
/// to cents as a line is. The largest, because time units measure the anesthesia time of the case
/// (42 CFR 414.46(a)(3)): lines of one case billing different minutes (QK 90, QX 150) both cover the
/// case, which lasted the longer time; the shorter line is one practitioner's part of it, not a
/// shorter anesthetic. Summed over codes, because an anesthetic reports one base code with its
/// separately payable add-ons (01953, 01968, 01969; §1.1), and a qualifying-circumstance line is its own
/// code; a second base code for one anesthetic is an error (CPT003) and is not priced. Every line of the code is a
/// candidate, an AD line's fixed 3 (+1) units included: a candidate can only raise the amount, so a
/// line that is no measure of the whole anesthetic errs toward paying, never toward cutting. The
/// amount is the same in any line order.
///
/// Over the limit, lines are trimmed from the case's last line on the claim backwards, each to no
/// less than 0, until the case fits; each trimmed line's steps say by how much.
fn apply_combined_cap(claim: &Claim, mut lines: Vec<PricedLine>) -> Vec<PricedLine> {
    let counted = |i: usize| {
        let line = &lines[i];
        let source = &claim.lines[i];
        // A case id naming no anesthetic (the 837 reader's id for the patient's day) ties nothing.
        claim.names_case(&source.case_id, source.date_of_service)
            && line.status == LineStatus::Priced
            && line.fee_basis().is_none()
    };
    // A cap needs two counted lines under a capped rule set: most claims have none, and build no map;
    // most have one line, and look at none.
    if lines.len() < 2
        || (0..lines.len()).filter(|&i| lines[i].rule.combined_cap.is_some() && counted(i)).nth(1).is_none()
    {
        return lines;
    }
    let mut by_case: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for i in (0..lines.len()).filter(|&i| counted(i)) {
        by_case.entry(claim.lines[i].case_id.as_str()).or_default().push(i);
    }
    for indexes in by_case.values().filter(|v| v.len() > 1) {
        let caps = indexes.iter().map(|&i| lines[i].rule.combined_cap);
        let Some(cap) = caps.reduce(|a, b| a.zip(b).map(|(a, b)| a.max(b))).flatten() else { continue };
        // An amount beyond a decimal is above any total: nothing to trim.
        let Some(amount) = physician_only_amount(&lines, indexes) else { continue };
        let Ok(limit) = product(&[amount, cap]).map(cents) else { continue };
        let total: Decimal = indexes.iter().map(|&i| lines[i].allowed).sum();
        let mut over = total - limit;
        for &i in indexes.iter().rev() {
            if over <= Decimal::ZERO {
                break;
            }
            let cut = over.min(lines[i].allowed);
            if cut > Decimal::ZERO {
                lines[i].allowed -= cut;
                lines[i].basis.capped = Some(Box::new(Cap { total, amount, cap, limit, cut }));
                over -= cut;
            }
        }
    }
    lines
}

/// The personally performed amount of one case ([`apply_combined_cap`]): per code, the largest of its
/// lines' units x conversion factor at share 1 (each rounded to cents), summed; `None` past a decimal.
fn physician_only_amount(lines: &[PricedLine], case: &[usize]) -> Option<Decimal> {
    let mut by_code: SmallVec<[(CptCode, Decimal); 2]> = SmallVec::new();
    for &i in case {
        let line = &lines[i];
        let full = cents(product(&[line.total_units, line.conversion_factor]).ok()?);
        match by_code.iter_mut().find(|(code, _)| *code == line.procedure_code) {
            Some((_, largest)) => *largest = (*largest).max(full),
            None => by_code.push((line.procedure_code, full)),
        }
    }
    by_code.iter().try_fold(Decimal::ZERO, |sum, (_, amount)| sum.checked_add(*amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_in_integers_equal_the_decimal_arithmetic() {
        let values = [
            "0",
            "1",
            "0.5",
            "0.85",
            "0.3333",
            "0.4",
            "3",
            "7.3",
            "12.25",
            "0.1",
            "20.3178",
            "60",
            "62.5",
            "1000000",
            "999999.9999",
            "0.0001",
            "0.005",
            "0.015",
            "1.0000",
            "5.55",
            "0.000000000000001",
            "79228162514264337593543950335",
            "4611686018427387903.5",
            "-0",
            "-1.5",
        ]
        .map(|v| v.parse::<Decimal>().unwrap());
        for a in values {
            for b in values {
                for c in values {
                    let factors = [a, b, c];
                    // Digits and places alike: a product is shown as it is (a step's text).
                    let decimal = factors.iter().try_fold(Decimal::ONE, |total, f| total.checked_mul(*f));
                    let fast_product = product(&factors).ok();
                    assert_eq!(fast_product, decimal, "{factors:?}");
                    assert_eq!(fast_product.map(|d| d.to_string()), decimal.map(|d| d.to_string()), "{factors:?}");
                    let slow = decimal.map(carried_cents);
                    let fast = carried_product(&factors).map(|(amount, _)| amount);
                    assert_eq!(fast.is_err(), slow.as_ref().is_none_or(Result::is_err), "{factors:?}");
                    let [fast, slow] = [fast.ok(), slow.and_then(Result::ok)].map(|d| d.map(|d| d.to_string()));
                    assert_eq!(fast, slow, "{factors:?}");
                    if let Ok((amount, Some(cents))) = carried_product(&factors) {
                        assert_eq!(amount.scale(), 2, "{factors:?}");
                        assert_eq!(amount, Decimal::new(cents, 2), "{factors:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn exact_parts_are_the_decimal_mantissa() {
        let values =
            ["0", "-0", "-0.00", "1", "-1", "0.01", "4294967296", "18446744073709551615", "18446744073709551616"];
        let extremes = [Decimal::MAX, Decimal::MIN, Decimal::from_parts(0, 0, 1, false, 3), MAX_AMOUNT];
        for value in values.map(|v| v.parse::<Decimal>().unwrap()).into_iter().chain(extremes) {
            let exact = Exact::of(value).map(|e| (e.mantissa, e.scale));
            assert_eq!(exact, u64::try_from(value.mantissa()).ok().map(|m| (m, value.scale())), "{value}");
        }
    }

    #[test]
    fn totals_in_cents_equal_the_decimal_sum() {
        let rule = RuleBook::embedded().rule_sets[0];
        let claim: Claim = crate::synthetic::SyntheticClaims::new(7).unwrap().next().unwrap();
        let line = |amount: &str| {
            let mut priced = PricedLine::new(0, &claim.lines[0], rule);
            priced.allowed = amount.parse().unwrap();
            priced
        };
        let cases: [&[&str]; 6] =
            [&[], &["0.00"], &["1.25", "2.50", "0.00"], &["-0.00", "1.00"], &["1.5", "2.25"], &["-1.00", "3.00"]];
        for amounts in cases {
            let lines: Vec<PricedLine> = amounts.iter().map(|a| line(a)).collect();
            let sums: [Decimal; 2] = [lines.iter().map(|l| l.charge).sum(), lines.iter().map(|l| l.allowed).sum()];
            let (charge, allowed) = totals(&lines);
            for (fast, sum) in [charge, allowed].into_iter().zip(sums) {
                assert_eq!((fast, fast.to_string()), (sum, sum.to_string()), "{amounts:?}");
            }
        }
    }

    #[test]
    fn cents_in_integers_equal_the_decimal_rounding() {
        let mut values: Vec<Decimal> = [
            "0",
            "-0",
            "0.004",
            "0.005",
            "0.00499999",
            "0.015",
            "0.025",
            "1.995",
            "2.5",
            "12.345",
            "12.3449999",
            "-0.005",
            "-1.235",
            "-7",
            "99999999.995",
            "0.0000000000000000000000000005",
            "18446744073709551615",
            "18446744073709551616",
            "184467440737095516.15",
            "92233720368547758.07",
            "92233720368547758.075",
            "79228162514264337593543950335",
            "7.9228162514264337593543950335",
        ]
        .iter()
        .map(|v| v.parse::<Decimal>().unwrap())
        .collect();
        values.extend((0..5_000u32).flat_map(|i| (0..=8).map(move |scale| Decimal::new(i64::from(i * 7919), scale))));
        for value in values {
            let (fast, slow) = (cents(value), decimal_cents(value));
            assert_eq!((fast, fast.to_string()), (slow, slow.to_string()), "{value}");
        }
    }

    #[test]
    fn powers_of_ten_are_checked_pow() {
        for n in 0..=40 {
            assert_eq!(power_of_ten(n), 10u64.checked_pow(n), "{n}");
        }
    }

    #[test]
    fn carried_cents_counted_in_integers_equal_the_decimal_comparison() {
        let values = [
            "0",
            "-0",
            "-0.004",
            "0.005",
            "12.345",
            "-7.25",
            "92233720368547758.07",
            "92233720368547758.074",
            "92233720368547758.075",
            "92233720368547758.08",
            "-92233720368547758.08",
            "184467440737095516.15",
            "79228162514264337593543950335",
        ];
        for value in values.map(|v| v.parse::<Decimal>().unwrap()) {
            let slow = Some(decimal_cents(value)).filter(|c| c.abs() <= MAX_AMOUNT);
            let fast = carried_cents_counted(value).ok();
            let shown = |d: Decimal| (d, d.to_string());
            assert_eq!(fast.map(|(amount, _)| shown(amount)), slow.map(shown), "{value}");
            if let Some((amount, Some(count))) = fast {
                assert_eq!(amount, Decimal::new(count, 2), "{value}");
            }
        }
    }

    #[test]
    fn amounts_already_in_cents_are_what_rounding_them_makes() {
        assert_eq!(ZERO_CENTS.to_string(), cents(Decimal::ZERO).to_string());
        for c in [0, 1, -1, 99, 12_345, i64::MAX, i64::MIN] {
            let charge = Decimal::new(c, 2);
            assert_eq!((charge, charge.to_string()), (cents(charge), cents(charge).to_string()));
        }
    }

    #[test]
    fn modifier_values_answer_as_the_rule_sets_maps() {
        let book = RuleBook::embedded();
        assert_eq!(book.modifier_values.len(), book.rule_sets.len());
        for (rule, values) in book.rule_sets.iter().zip(&book.modifier_values) {
            let keys = rule.shares.keys().chain(rule.refused_modifiers.keys());
            let digits = (b'0'..=b'9').map(|d| String::from_utf8(vec![b'P', d]).unwrap());
            for modifier in keys.cloned().chain(digits).chain(["ZZ".to_owned(), "P".to_owned()]) {
                let Ok(m) = modifier.parse::<ModifierCode>() else { continue };
                assert_eq!(values.share(m), modifier_entry(&rule.shares, m).map(|(_, &s)| s), "{} {m}", rule.id);
                let units = physical_status_units(rule, m).map(|(u, _)| u);
                if m.as_bytes()[0] == b'P' && m.as_bytes()[1].is_ascii_digit() {
                    assert_eq!(values.physical_status_units(m), units, "{} {m}", rule.id);
                }
                assert_eq!(values.refuses(m), modifier_entry(&rule.refused_modifiers, m).is_some(), "{} {m}", rule.id);
            }
        }
    }

    #[test]
    fn whole_minutes_in_integers_equal_the_decimal_arithmetic() {
        for rule in RuleBook::embedded().rule_sets() {
            let time = &rule.time_units;
            for minutes in 0..=1_500 {
                let m = Decimal::from(minutes);
                if let Some(fast) = time.whole_minute_units(m) {
                    assert_eq!(fast, time.decimal_units(m), "{} at {minutes} min", rule.id);
                    assert_eq!(fast.to_string(), time.decimal_units(m).to_string(), "{} at {minutes} min", rule.id);
                }
            }
        }
    }
}
