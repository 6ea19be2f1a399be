//! The one judge: every face (Python one claim, batches and tables; gRPC unary and streams; the CLI;
//! X12 reconciliation) validates and prices a claim through [`Reference::judge`], so they cannot
//! disagree. It decides, once: which conversion factor a request's factors mean for each claim, what
//! "today" is when the caller does not say, and what a bug met on one claim does (that claim's
//! internal error, never a failed batch).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use crate::claim::Claim;
use crate::error::{Error, Result, Violation};
use crate::path::{FieldPath, PathItem};
use crate::pricing::{CfBasis, ClaimFacts, PRICED_PLACES, PricedClaim, PricedLine, RuleBook, beyond_priced_places};
use crate::reference::Reference;
use crate::validate::{Severity, ValidationContext, ValidationReport};

/// What to do with a claim beyond validating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeOptions {
    /// The date "in the future" is judged against (made by [`JudgeOptions::new`]).
    pub today: Date,
    /// Price the claim too (a valid claim only), with these options.
    pub pricing: Option<PriceOptions>,
}

impl JudgeOptions {
    /// `today` as the caller gave it, or today's date in UTC (so every process and machine agrees),
    /// taken once here: every claim of a batch, a table or a file judged with these options is judged
    /// against the same date, even when the batch runs past midnight.
    pub fn new(today: Option<Date>, pricing: Option<PriceOptions>) -> JudgeOptions {
        JudgeOptions { today: today.unwrap_or_else(today_utc), pricing }
    }
}

/// What pricing needs beyond the claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOptions {
    /// Use this rule set instead of choosing one by payer, plan, state and date.
    pub rule_set: Option<String>,
    /// Contract conversion factors: the payer's rate is never public, so it is an input.
    pub conversion_factors: ConversionFactors,
    /// A contract paying fee-schedule lines at a percentage of the Medicare amount for the locality
    /// (`125` is 125%): applies to the rule sets that pay a contract rate, never to Medicare.
    pub percent_of_medicare: Option<Decimal>,
}

impl PriceOptions {
    /// The options a pricing error may name besides the claim's fields (`conversion_factor`: no
    /// contract factor was given). A face that holds the claim and the options in one request (gRPC)
    /// tells the two apart by these.
    pub const FIELDS: [&'static str; 3] = ["rule_set", "conversion_factor", "percent_of_medicare"];

    /// True when `loc` names one of these options (or a payer's factor inside one), not a claim field.
    pub fn names(loc: &FieldPath) -> bool {
        matches!(loc.items().first(), Some(PathItem::Field(name)) if Self::FIELDS.contains(&name.as_ref()))
    }

    /// The request's own errors, before any claim: a percentage of Medicare out of range, a rule set
    /// `rules` does not hold. Pricing meets the same ones claim by claim; a face that prices many
    /// claims with one request can refuse it once.
    pub fn check(&self, rules: &crate::RuleBook) -> Result<()> {
        self.check_percent()?;
        match &self.rule_set {
            Some(id) => rules.by_id(id).map(|_| ()),
            None => Ok(()),
        }
    }

    pub(crate) fn check_percent(&self) -> Result<()> {
        match self.percent_of_medicare {
            Some(percent) if percent <= Decimal::ZERO || percent > MAX_PERCENT_OF_MEDICARE => Err(Error::invalid(
                "percent_of_medicare",
                format!("{percent} is not a percentage of Medicare cptkit accepts (more than 0, at most 10000)"),
            )),
            _ => Ok(()),
        }
    }

    /// Chosen by payer, plan, state and date, with one contract conversion factor for every payer.
    pub fn contract(every_payer: Decimal) -> Result<PriceOptions> {
        Ok(PriceOptions { conversion_factors: ConversionFactors::every_payer(every_payer)?, ..PriceOptions::default() })
    }
}

/// A sanity bound on a contract's percentage of Medicare (100x Medicare).
const MAX_PERCENT_OF_MEDICARE: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// A sanity bound: no payer pays a million dollars a unit, and it keeps the arithmetic far from overflow.
const MAX_CONVERSION_FACTOR: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The contract conversion factors of a request: one for a payer id, and one for every other payer.
///
/// A factor for every payer is a contract rate, so it prices the rule sets that pay a contract rate
/// (commercial, Medicare Advantage) and never Medicare fee-for-service, which keeps the CMS factor of
/// its year and locality. A factor given for a payer id applies to that payer's claims whatever the
/// rule set (an analyst modelling next year's Medicare factor names `medicare`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionFactors {
    every_payer: Option<Decimal>,
    /// By payer id, lower-cased.
    by_payer: BTreeMap<String, Decimal>,
}

/// The factor a claim is priced with, as the request gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GivenFactor {
    /// Given for this payer id.
    ForPayer(Decimal),
    /// Given for every payer, applied to a contract rule set.
    ForEveryPayer(Decimal),
    /// Given for every payer, not applied: the rule set pays the CMS factor.
    NotForMedicare(Decimal),
    None,
}

impl ConversionFactors {
    /// Checks each factor (more than 0, at most 1,000,000 dollars a unit); an error names it as given
    /// (`conversion_factor`, `conversion_factor.Cigna`, `conversion_factor[""]` for an empty payer id).
    pub fn new(
        every_payer: Option<Decimal>,
        by_payer: impl IntoIterator<Item = (String, Decimal)>,
    ) -> Result<ConversionFactors> {
        let check = |cf: Decimal, loc: FieldPath| {
            if cf <= Decimal::ZERO || cf > MAX_CONVERSION_FACTOR {
                Err(Error::invalid(
                    loc,
                    format!("must be more than 0 and at most {MAX_CONVERSION_FACTOR} dollars per unit, got {cf}"),
                ))
            } else if beyond_priced_places(cf) {
                // A priced line carries its factor to 4 places on every face (a table's column): a factor
                // with more would be shown rounded on one face and whole on another.
                Err(Error::invalid(
                    loc,
                    format!("must be dollars per unit to at most {PRICED_PLACES} decimal places, got {cf}"),
                ))
            } else {
                Ok(cf)
            }
        };
        let every_payer = every_payer.map(|cf| check(cf, FieldPath::field("conversion_factor"))).transpose()?;
        // Payer ids match whatever their case and spaces, so two spellings of one id are one payer: with
        // two factors, which one a claim got would depend on the order the request's map came in.
        let mut spelled: BTreeMap<String, (String, Decimal)> = BTreeMap::new();
        for (given, cf) in by_payer {
            let payer = given.trim().to_ascii_lowercase();
            // The entry as the caller keyed it, not the id it matches: that is where the caller finds it.
            let loc = FieldPath::field("conversion_factor").key_owned(given.clone());
            if payer.is_empty() {
                return Err(Error::invalid(loc, "a payer's conversion factor needs the payer's id"));
            }
            let cf = check(cf, loc.clone())?;
            if let Some((other, earlier)) = spelled.get(&payer).filter(|(_, earlier)| *earlier != cf) {
                // Either entry is at fault: name the one that sorts first, whatever order a map came in.
                let first = FieldPath::field("conversion_factor").key_owned(other.min(&given).clone());
                return Err(Error::invalid(
                    first,
                    format!(
                        "{other:?} and {given:?} are one payer id, given two factors ({earlier} and {cf}): give one"
                    ),
                ));
            }
            spelled.insert(payer, (given, cf));
        }
        let by_payer = spelled.into_iter().map(|(payer, (_, cf))| (payer, cf)).collect();
        Ok(ConversionFactors { every_payer, by_payer })
    }

    /// One factor for every payer.
    pub fn every_payer(cf: Decimal) -> Result<ConversionFactors> {
        ConversionFactors::new(Some(cf), [])
    }

    pub fn is_empty(&self) -> bool {
        self.every_payer.is_none() && self.by_payer.is_empty()
    }

    /// The factor for every payer, as given.
    pub fn for_every_payer(&self) -> Option<Decimal> {
        self.every_payer
    }

    /// The factors given per payer id (lower-cased).
    pub fn by_payer(&self) -> &BTreeMap<String, Decimal> {
        &self.by_payer
    }

    /// What the request gave for a claim of `payer_id` priced by a rule set paying on `basis`.
    #[inline]
    pub(crate) fn resolve(&self, payer_id: &str, basis: CfBasis) -> GivenFactor {
        // Every anesthesia line asks, and most requests give no factor by payer: no call for them.
        let for_payer = if self.by_payer.is_empty() { None } else { self.for_payer(payer_id) };
        match (for_payer, self.every_payer, basis) {
            (Some(cf), _, _) => GivenFactor::ForPayer(*cf),
            (None, Some(cf), CfBasis::Contract) => GivenFactor::ForEveryPayer(cf),
            (None, Some(cf), CfBasis::Medicare) => GivenFactor::NotForMedicare(cf),
            (None, None, _) => GivenFactor::None,
        }
    }

    /// The factor given for `payer_id`, as it is spelled or as its id matches.
    #[inline(never)]
    fn for_payer(&self, payer_id: &str) -> Option<&Decimal> {
        self.by_payer.get(payer_id).or_else(|| self.by_payer.get(&payer_id.trim().to_ascii_lowercase()))
    }
}

/// Everything cptkit says about one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Every finding, warnings included.
    pub report: ValidationReport,
    pub verdict: Verdict,
}

/// What became of the claim's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Only validation was asked for.
    Validated,
    Priced(PricedClaim),
    /// The claim has error findings (in the report), so it was not priced.
    Rejected,
    /// The claim is valid but cannot be priced as asked: no rule set for its payer, no contract
    /// conversion factor, no Medicare factor for its year... The error names the field.
    NotPriced(Error),
}

impl Judgement {
    /// The price, or why there is none as one error: a rejected claim is an invalid-input error with
    /// one violation per error finding (what `PriceClaim` answers and `cptkit.price` raises).
    pub fn into_priced(self) -> Result<PricedClaim> {
        match self.verdict {
            Verdict::Priced(priced) => Ok(priced),
            Verdict::Rejected => Err(rejection(&self.report)),
            Verdict::NotPriced(error) => Err(error),
            Verdict::Validated => Err(Error::internal("the claim was validated, not priced")),
        }
    }
}

/// The error for a claim rejected for its findings: one violation per error finding, `EDIT: message`.
pub fn rejection(report: &ValidationReport) -> Error {
    let violations = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| Violation { loc: f.loc.clone(), message: format!("{}: {}", f.edit_id, f.message) })
        .collect();
    Error::with_violations(format!("claim {} is not valid; validate it for the details", report.claim_id), violations)
}

/// Today's date in UTC: the default "today" of every face.
pub fn today_utc() -> Date {
    OffsetDateTime::now_utc().date()
}

/// A `today` given as text, as every face reads it (Python's `today="..."`, gRPC's `today`, the CLI's
/// `--today`): `YYYY-MM-DD`, as a claim's dates are read, with blanks around it ignored (a command
/// line or a form may carry them). Any other form is refused naming `today`, on every face alike:
/// `20261127` or the ISO week date `2026-W48-5`, which Python's `date.fromisoformat` reads (since
/// Python 3.11), would otherwise judge a claim on one face that another refuses.
pub fn parse_today(text: &str) -> Result<Date> {
    crate::text::parse_date(text.trim())
        .map_err(|_| Error::invalid("today", format!("expected a date as YYYY-MM-DD, got {text:?}")))
}

impl Reference {
    /// Validates the claim and, when asked, prices it: the one entry point of every face.
    ///
    /// `Err` only for a bug met on this claim (a panic in the core, caught here): an internal error
    /// for this claim alone, so a batch or a stream goes on.
    pub fn judge(&self, claim: &Claim, options: &JudgeOptions, rules: &RuleBook) -> Result<Judgement> {
        self.judge_reusing(claim, options, rules, &mut Vec::new())
    }

    /// [`Reference::judge`], pricing into `lines` (emptied first), which a priced claim takes: a face
    /// that judges claim after claim hands in the list of the last priced claim's lines once it is done
    /// with them, and keeps the list when a claim is not priced, so no claim allocates one.
    pub fn judge_reusing(
        &self,
        claim: &Claim,
        options: &JudgeOptions,
        rules: &RuleBook,
        lines: &mut Vec<PricedLine>,
    ) -> Result<Judgement> {
        let context = ValidationContext { today: options.today };
        let judge = || {
            // What validation derives of each line (its anesthesia entry, its release and fee row),
            // pricing takes rather than deriving again.
            let mut facts = ClaimFacts::new();
            let report = self.validate_recording(claim, &context, &mut facts);
            let verdict = match &options.pricing {
                None => Verdict::Validated,
                Some(_) if !report.is_valid() => Verdict::Rejected,
                Some(pricing) => match self.price_valid(claim, pricing, rules, &facts, lines) {
                    Ok(priced) => Verdict::Priced(priced),
                    Err(error) => Verdict::NotPriced(error),
                },
            };
            Judgement { report, verdict }
        };
        // The core holds no state a panic could leave half-changed (shared tables are read-only).
        catch_unwind(AssertUnwindSafe(judge))
            .map_err(|_| Error::internal("cptkit failed on this claim (a bug in cptkit; please report it)"))
    }

    /// Validates and prices: [`Reference::judge`] with pricing, as one result.
    pub fn price(
        &self,
        claim: &Claim,
        options: &PriceOptions,
        rules: &RuleBook,
        today: Option<Date>,
    ) -> Result<PricedClaim> {
        let options = JudgeOptions::new(today, Some(options.clone()));
        self.judge(claim, &options, rules)?.into_priced()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_read_as_yyyy_mm_dd_on_every_face() {
        let day = time::macros::date!(2026 - 11 - 27);
        for text in ["2026-11-27", " 2026-11-27", "2026-11-27 ", "\t2026-11-27\n"] {
            assert_eq!(parse_today(text).ok(), Some(day), "{text:?}");
        }
        for text in ["20261127", "2026-W48-5", "2026-331", "2026-11-27T00:00", "2026-11-31", "", " "] {
            let err = parse_today(text).expect_err(text);
            assert_eq!(err.field(), Some("today"), "{text:?}");
            assert!(err.message().starts_with("expected a date as YYYY-MM-DD"), "{err}");
        }
    }

    #[test]
    fn options_take_today_once() {
        let given = time::macros::date!(2025 - 03 - 05);
        assert_eq!(JudgeOptions::new(Some(given), None).today, given);
        let before = today_utc();
        let options = JudgeOptions::new(None, None);
        assert!((before..=today_utc()).contains(&options.today));
    }

    #[test]
    fn factors_are_checked_and_resolved_by_payer_then_basis() {
        let cf = |s: &str| s.parse::<Decimal>().unwrap();
        let factors = ConversionFactors::new(Some(cf("60")), [("Cigna".to_owned(), cf("62.5"))]).unwrap();
        assert_eq!(factors.resolve("cigna", CfBasis::Contract), GivenFactor::ForPayer(cf("62.5")));
        assert_eq!(factors.resolve("CIGNA", CfBasis::Contract), GivenFactor::ForPayer(cf("62.5")));
        assert_eq!(factors.resolve("uhc", CfBasis::Contract), GivenFactor::ForEveryPayer(cf("60")));
        assert_eq!(factors.resolve("medicare", CfBasis::Medicare), GivenFactor::NotForMedicare(cf("60")));
        let medicare = ConversionFactors::new(None, [("medicare".to_owned(), cf("21"))]).unwrap();
        assert_eq!(medicare.resolve("medicare", CfBasis::Medicare), GivenFactor::ForPayer(cf("21")));
        assert_eq!(ConversionFactors::default().resolve("x", CfBasis::Contract), GivenFactor::None);

        let err = ConversionFactors::every_payer(cf("0")).unwrap_err();
        assert_eq!(err.field(), Some("conversion_factor"));
        let err = ConversionFactors::new(None, [("aetna".to_owned(), cf("-1"))]).unwrap_err();
        assert_eq!(err.field(), Some("conversion_factor.aetna"));
        // Named as the caller keyed it: the entry the caller can find, not the id it matches.
        let err = ConversionFactors::new(None, [("Aetna".to_owned(), cf("-1"))]).unwrap_err();
        assert_eq!(err.field(), Some("conversion_factor.Aetna"));
        // A factor without a payer id is that entry, not the factor for every payer.
        for blank in ["", " "] {
            let err = ConversionFactors::new(Some(cf("60")), [(blank.to_owned(), cf("62.5"))]).unwrap_err();
            assert_eq!(err.loc(), &FieldPath::field("conversion_factor").key_owned(blank.to_owned()));
            assert_eq!(err.field(), Some(format!("conversion_factor[{blank:?}]").as_str()));
            assert!(err.message().contains("needs the payer's id"), "{err}");
        }
        assert!(ConversionFactors::every_payer(cf("1000001")).is_err());
        // At most the 4 places every face carries of a priced line's factor (trailing zeros are no place).
        assert!(ConversionFactors::every_payer(cf("60.123400000")).is_ok());
        let err = ConversionFactors::new(None, [("cigna".to_owned(), cf("60.12345"))]).unwrap_err();
        assert_eq!(err.field(), Some("conversion_factor.cigna"));
        assert!(err.message().contains("at most 4 decimal places"), "{err}");
        // Two spellings of one payer id: one factor whatever the order, or an error naming both.
        let spellings = |pairs: &[(&str, &str)]| {
            ConversionFactors::new(None, pairs.iter().map(|&(payer, f)| (payer.to_owned(), cf(f))))
        };
        let same = spellings(&[("cigna", "60"), (" CIGNA ", "60.00")]).unwrap();
        assert_eq!(same.resolve("Cigna", CfBasis::Contract), GivenFactor::ForPayer(cf("60")));
        for pairs in [[("cigna", "60"), ("CIGNA", "70")], [("CIGNA", "70"), ("cigna", "60")]] {
            let err = spellings(&pairs).unwrap_err();
            assert_eq!(err.field(), Some("conversion_factor.CIGNA"));
            assert!(err.message().contains("are one payer id, given two factors"), "{err}");
        }
    }
}
