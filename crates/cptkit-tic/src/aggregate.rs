//! Per-file aggregation of negotiated prices into benchmark rows: grouping, the per-unit / per-case
//! heuristic for anesthesia codes, quantiles and the comparison with Medicare.
//!
//! Values are held as a count per distinct amount (TiC files repeat the same rate for many provider
//! groups), so memory grows with distinct amounts per key, not with the number of prices.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use cptkit_core::{CfTier, ConversionFactor, MedicareComparison, PayerBenchmark, RateBasis, RateProvenance, Reference};
use rust_decimal::{Decimal, RoundingStrategy};

/// Quantile levels of a benchmark row, in row order: p10, p25, median, p75, p90.
const LEVELS: [Decimal; 5] = [
    Decimal::from_parts(10, 0, 0, false, 2),
    Decimal::from_parts(25, 0, 0, false, 2),
    Decimal::from_parts(50, 0, 0, false, 2),
    Decimal::from_parts(75, 0, 0, false, 2),
    Decimal::from_parts(90, 0, 0, false, 2),
];

/// Decimal places of stored amounts (conversion factors are published to 4, e.g. 20.3178).
const AMOUNT_SCALE: u32 = 4;
const PERCENT_SCALE: u32 = 2;

/// The taxonomy key of a price whose providers cannot be placed (see `PayerBenchmark::taxonomy`).
pub(crate) const UNKNOWN_TAXONOMY: u32 = u32::MAX;
pub(crate) const UNKNOWN_TAXONOMY_TEXT: &str = "unknown";

/// `negotiated_type` values whose amount is dollars (the TiC guide's definitions).
fn is_dollars(negotiated_type: &str) -> bool {
    matches!(negotiated_type, "negotiated" | "derived" | "fee schedule")
}

/// Linear interpolation between order statistics, Hyndman & Fan type 7 (R's default, numpy's `linear`):
/// with the n values sorted as x\[0..n\], h = (n - 1) p and
/// q = x\[floor h\] + (h - floor h) (x\[floor h + 1\] - x\[floor h\]).
/// Computed in Decimal, so no float rounding enters. `sorted` holds (value, count) pairs in ascending
/// order; None when the count is zero.
pub fn quantile_type7(sorted: &[(Decimal, u64)], p: Decimal) -> Option<Decimal> {
    let n: u64 = sorted.iter().map(|&(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    let h = Decimal::from(n - 1) * p;
    let lower = h.floor();
    let fraction = h - lower;
    let rank = u64::try_from(lower).ok()?;
    let at = |rank: u64| {
        let mut seen = 0;
        sorted.iter().find_map(|&(v, c)| {
            seen += c;
            (rank < seen).then_some(v)
        })
    };
    let low = at(rank)?;
    if fraction.is_zero() {
        return Some(low);
    }
    let high = at((rank + 1).min(n - 1))?;
    Some(low + fraction * (high - low))
}

struct Interner<T> {
    index: HashMap<T, u32>,
    items: Vec<T>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner { index: HashMap::new(), items: Vec::new() }
    }
}

impl<T: Hash + Eq + Clone> Interner<T> {
    fn id(&mut self, item: &T) -> u32 {
        if let Some(&id) = self.index.get(item) {
            return id;
        }
        let id = self.items.len() as u32;
        self.items.push(item.clone());
        self.index.insert(item.clone(), id);
        id
    }

    fn get(&self, id: u32) -> &T {
        &self.items[id as usize]
    }
}

/// Everything that keys a price except the provider taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PriceKey {
    code: u32,
    billing_class: u32,
    negotiated_type: u32,
    places: u32,
    modifiers: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey {
    price: PriceKey,
    taxonomy: Option<u32>,
}

/// Which CMS base-unit values an amount (or a file) has been seen with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseUnitsSeen {
    One(u32),
    Several,
}

impl BaseUnitsSeen {
    fn with(seen: Option<BaseUnitsSeen>, base_units: u32) -> BaseUnitsSeen {
        match seen {
            None => BaseUnitsSeen::One(base_units),
            Some(BaseUnitsSeen::One(b)) if b == base_units => BaseUnitsSeen::One(b),
            Some(_) => BaseUnitsSeen::Several,
        }
    }
}

/// One price as the reader hands it over.
#[derive(Debug)]
pub(crate) struct PriceFields<'a> {
    pub billing_code_type: &'a str,
    pub billing_code: &'a str,
    pub billing_class: &'a str,
    pub negotiated_type: &'a str,
    pub places: Vec<String>,
    pub modifiers: Vec<String>,
}

#[derive(Default)]
pub(crate) struct FileAggregate {
    codes: Interner<(String, String)>,
    words: Interner<String>,
    place_sets: Interner<Vec<String>>,
    modifier_sets: Interner<Vec<String>>,
    groups: HashMap<GroupKey, BTreeMap<Decimal, u64>>,
    /// Anesthesia dollar amounts per (billing class, negotiated type, amount): the base units of the codes
    /// they were published for (heuristic rule 1).
    amount_base_units: HashMap<(u32, u32, Decimal), BaseUnitsSeen>,
    /// Per (billing class, negotiated type): the base units of every anesthesia code priced (rule 3).
    file_base_units: HashMap<(u32, u32), BaseUnitsSeen>,
}

impl std::fmt::Debug for FileAggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileAggregate").field("groups", &self.groups.len()).finish()
    }
}

impl FileAggregate {
    pub(crate) fn key(&mut self, mut fields: PriceFields<'_>) -> PriceKey {
        fields.places.sort();
        fields.places.dedup();
        fields.modifiers.sort();
        fields.modifiers.dedup();
        PriceKey {
            code: self.codes.id(&(fields.billing_code_type.to_owned(), fields.billing_code.to_owned())),
            billing_class: self.words.id(&fields.billing_class.to_owned()),
            negotiated_type: self.words.id(&fields.negotiated_type.to_owned()),
            places: self.place_sets.id(&fields.places),
            modifiers: self.modifier_sets.id(&fields.modifiers),
        }
    }

    /// Evidence for the per-unit / per-case heuristic: an anesthesia code's dollar price.
    pub(crate) fn observe_anesthesia(&mut self, key: PriceKey, base_units: u32, amount: Decimal) {
        if !is_dollars(self.words.get(key.negotiated_type)) {
            return;
        }
        let k = (key.billing_class, key.negotiated_type);
        let seen = self.file_base_units.get(&k).copied();
        self.file_base_units.insert(k, BaseUnitsSeen::with(seen, base_units));
        let a = (key.billing_class, key.negotiated_type, amount.normalize());
        let seen = self.amount_base_units.get(&a).copied();
        self.amount_base_units.insert(a, BaseUnitsSeen::with(seen, base_units));
    }

    /// Adds one price, once per taxonomy (None: no NPPES join).
    pub(crate) fn add(&mut self, key: PriceKey, taxonomies: Option<&[u32]>, amount: Decimal) {
        let amount = amount.normalize();
        let mut put = |taxonomy| {
            *self.groups.entry(GroupKey { price: key, taxonomy }).or_default().entry(amount).or_insert(0) += 1;
        };
        match taxonomies {
            None => put(None),
            Some([]) => put(Some(UNKNOWN_TAXONOMY)),
            Some(list) => list.iter().for_each(|&t| put(Some(t))),
        }
    }

    /// How to read one amount of one code (the heuristic in the crate README, "Per unit or per case").
    fn basis(&self, key: &PriceKey, base_units: Option<u32>, amount: Decimal, floor_cf: Option<Decimal>) -> RateBasis {
        let negotiated_type = self.words.get(key.negotiated_type).as_str();
        match negotiated_type {
            "percentage" => return RateBasis::Percentage,
            "per diem" => return RateBasis::PerDiem,
            _ => {}
        }
        let Some(base_units) = base_units else { return RateBasis::PerService };
        if !is_dollars(negotiated_type) {
            return RateBasis::Unknown;
        }
        let evidence = (key.billing_class, key.negotiated_type);
        // Rule 1: a conversion factor does not depend on the code; a per-case price does.
        if self.amount_base_units.get(&(evidence.0, evidence.1, amount)) == Some(&BaseUnitsSeen::Several) {
            return RateBasis::PerUnit;
        }
        if let Some(cf) = floor_cf {
            let floor = Decimal::from(base_units) * cf;
            // Rule 2: below what Medicare allows for the base units alone (zero minutes): not a case price.
            if amount < floor {
                return RateBasis::PerUnit;
            }
            // Rule 3: the file prices codes of several base-unit values, and this amount is tied to one.
            if self.file_base_units.get(&evidence) == Some(&BaseUnitsSeen::Several) {
                return RateBasis::PerCase;
            }
        }
        RateBasis::Unknown
    }

    /// The benchmark rows of the file.
    pub(crate) fn finish(
        self,
        provenance: &RateProvenance,
        reference: &Reference,
        taxonomy_code: &dyn Fn(u32) -> String,
    ) -> Vec<PayerBenchmark> {
        let year = provenance.last_updated_on.get(..4).and_then(|y| y.parse::<i32>().ok());
        let same_year_cf = year.and_then(|y| national_cf(reference, y));
        let floor_cf = year.and_then(|y| nearest_national_cf(reference, y)).map(|cf| cf.amount);
        // Rows are keyed by their text so that the same place of service from different place sets merges.
        type RowKey = (String, String, String, Option<String>, Vec<String>, Option<String>, String, RateBasis);
        let mut merged: BTreeMap<RowKey, BTreeMap<Decimal, u64>> = BTreeMap::new();
        for (group, values) in &self.groups {
            let (code_type, code) = self.codes.get(group.price.code);
            let base_units = anesthesia_base_units(reference, code_type, code);
            let mut by_basis: BTreeMap<RateBasis, Vec<(Decimal, u64)>> = BTreeMap::new();
            for (&amount, &count) in values {
                let basis = self.basis(&group.price, base_units, amount, floor_cf);
                by_basis.entry(basis).or_default().push((amount, count));
            }
            let taxonomy = group
                .taxonomy
                .map(|t| if t == UNKNOWN_TAXONOMY { UNKNOWN_TAXONOMY_TEXT.to_owned() } else { taxonomy_code(t) });
            let places = self.place_sets.get(group.price.places);
            // A price listing several places of service counts once in each.
            let places: Vec<Option<&String>> =
                if places.is_empty() { vec![None] } else { places.iter().map(Some).collect() };
            for (basis, amounts) in &by_basis {
                for place in &places {
                    let key = (
                        code.clone(),
                        code_type.clone(),
                        self.words.get(group.price.billing_class).clone(),
                        place.cloned(),
                        self.modifier_sets.get(group.price.modifiers).clone(),
                        taxonomy.clone(),
                        self.words.get(group.price.negotiated_type).clone(),
                        *basis,
                    );
                    let into = merged.entry(key).or_default();
                    for &(amount, count) in amounts {
                        *into.entry(amount).or_insert(0) += count;
                    }
                }
            }
        }
        merged
            .into_iter()
            .filter_map(|((code, code_type, class, place, modifiers, taxonomy, negotiated_type, basis), values)| {
                let sorted: Vec<(Decimal, u64)> = values.into_iter().collect();
                let [p10, p25, median, p75, p90] = LEVELS.map(|p| quantile_type7(&sorted, p).map(round_amount));
                let median = median?;
                let medicare =
                    (basis == RateBasis::PerUnit).then_some(same_year_cf).flatten().map(|cf| MedicareComparison {
                        year: cf.year,
                        conversion_factor: cf.amount,
                        median_percent_of_medicare: (median / cf.amount * Decimal::ONE_HUNDRED)
                            .round_dp_with_strategy(PERCENT_SCALE, RoundingStrategy::MidpointAwayFromZero),
                    });
                Some(PayerBenchmark {
                    provenance: provenance.clone(),
                    billing_code_type: code_type,
                    billing_code: code,
                    billing_class: class,
                    place_of_service: place,
                    modifiers,
                    taxonomy,
                    negotiated_type,
                    rate_basis: basis,
                    count: sorted.iter().map(|&(_, c)| c).sum(),
                    min: round_amount(sorted.first()?.0),
                    p10: p10?,
                    p25: p25?,
                    median,
                    p75: p75?,
                    p90: p90?,
                    max: round_amount(sorted.last()?.0),
                    medicare,
                })
            })
            .collect()
    }
}

/// Rounded once, at the end (half away from zero), to the stored scale.
fn round_amount(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(AMOUNT_SCALE, RoundingStrategy::MidpointAwayFromZero).normalize()
}

/// CMS base units of a CPT anesthesia code, or None for any other code.
pub(crate) fn anesthesia_base_units(reference: &Reference, code_type: &str, code: &str) -> Option<u32> {
    if !matches!(code_type, "CPT" | "HCPCS") {
        return None;
    }
    let code = code.parse().ok()?;
    reference.anesthesia_code(code).ok().map(|c| c.base_units)
}

/// The national anesthesia conversion factor of a year. For a year with QP and non-QP factors (2026 on),
/// the non-QP one: the factor cptkit prices with when a provider's QP status is not known.
fn national_cf(reference: &Reference, year: i32) -> Option<&ConversionFactor> {
    let mut of_year: Vec<&ConversionFactor> = reference
        .national_conversion_factors()
        .filter(|cf| cf.year == year && cf.tier != CfTier::QualifyingApm)
        .collect();
    of_year.sort_by_key(|cf| cf.tier);
    of_year.first().copied()
}

/// For the heuristic's threshold only: the year's factor, else the nearest earlier year's, else the
/// earliest. (Never used for the percent-of-Medicare figure, which needs the same year.)
fn nearest_national_cf(reference: &Reference, year: i32) -> Option<&ConversionFactor> {
    let years: Vec<i32> = reference.national_conversion_factors().map(|cf| cf.year).collect();
    let pick = years.iter().copied().filter(|&y| y <= year).max().or_else(|| years.iter().copied().min())?;
    national_cf(reference, pick)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rust_decimal::dec;

    fn q(values: &[Decimal], p: Decimal) -> Decimal {
        let mut counts: BTreeMap<Decimal, u64> = BTreeMap::new();
        values.iter().for_each(|&v| *counts.entry(v).or_insert(0) += 1);
        quantile_type7(&counts.into_iter().collect::<Vec<_>>(), p).unwrap()
    }

    #[test]
    fn type7_matches_hand_computation() {
        // 10, 20, 30, 40: h = 3p. p10 -> h 0.3 -> 10 + 0.3 * 10 = 13; p25 -> h 0.75 -> 17.5;
        // median -> h 1.5 -> 25; p75 -> h 2.25 -> 32.5; p90 -> h 2.7 -> 37.
        let v = [dec!(40), dec!(10), dec!(30), dec!(20)];
        let got: Vec<Decimal> = LEVELS.iter().map(|&p| q(&v, p)).collect();
        assert_eq!(got, [dec!(13), dec!(17.5), dec!(25), dec!(32.5), dec!(37)]);
        // One value: every quantile is that value.
        assert_eq!(q(&[dec!(55.55)], dec!(0.9)), dec!(55.55));
    }

    #[test]
    fn repeated_values_count_as_often_as_they_appear() {
        // 1, 1, 1, 9 (1 counted three times): median h = 1.5 -> 1 + 0.5 * 0 = 1; p90 h = 2.7 -> 1 + 0.7 * 8 = 6.6.
        let sorted = [(dec!(1), 3), (dec!(9), 1)];
        assert_eq!(quantile_type7(&sorted, dec!(0.5)), Some(dec!(1)));
        assert_eq!(quantile_type7(&sorted, dec!(0.9)), Some(dec!(6.6)));
        assert_eq!(quantile_type7(&[], dec!(0.5)), None);
    }

    #[test]
    fn conversion_factor_of_a_year() {
        let reference = Reference::embedded();
        assert_eq!(national_cf(reference, 2025).map(|cf| cf.amount), Some(dec!(20.3178)));
        assert_eq!(national_cf(reference, 2026).map(|cf| cf.amount), Some(dec!(20.4976)));
        assert!(national_cf(reference, 2020).is_none());
        assert_eq!(nearest_national_cf(reference, 2020).map(|cf| cf.year), Some(2016));
        assert_eq!(nearest_national_cf(reference, 2001).map(|cf| cf.year), Some(2013));
    }
}
