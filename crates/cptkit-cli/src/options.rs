//! The flags several commands share, and what they become: how to read an 837P, and the one rule book
//! and judge options every claim of a run is judged with.

use std::path::PathBuf;

use clap::Args;
use cptkit_core::{ConversionFactors, JudgeOptions, LocalityId, Npi, PriceOptions, Reference, RuleBook};
use cptkit_x12::ReadOptions;
use rust_decimal::Decimal;
use time::Date;

use crate::Unreadable;

#[derive(Debug, Args)]
pub struct Common {
    /// Medicare locality for every 837P claim (the 837 does not carry it; claim JSON has its own
    /// `medicare_locality`), e.g. 13202-01.
    #[arg(long)]
    locality: Option<LocalityId>,
    /// Map an 837P payer id or name to a cptkit payer id: --payer-id BCBSOK=bcbs-ok (repeatable).
    #[arg(long = "payer-id", value_name = "ID=CPTKIT_ID", value_parser = parse_pair)]
    payer_ids: Vec<(String, String)>,
    /// A rendering NPI that is a Medicare qualifying APM participant (the 837 does not carry it; claim
    /// JSON has `rendering_provider.qualifying_apm`): CY2026+ QP conversion factor (repeatable).
    #[arg(long = "qualifying-apm-npi", value_name = "NPI", value_parser = ReadOptions::qualifying_apm_npi)]
    qualifying_apm_npis: Vec<Npi>,
    /// Judge "in the future" against this date (YYYY-MM-DD) instead of today's date in UTC.
    #[arg(long, value_parser = parse_date)]
    pub today: Option<Date>,
    /// Print one JSON document instead of the readable report.
    #[arg(long)]
    pub json: bool,
    /// Reference tables that replace the embedded ones (a table file by its embedded name), and fee
    /// schedule releases in `pfs/releases.csv` (e.g. CY2026 RVUs and GPCIs), without a rebuild.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl Common {
    /// The reference data: the data directory's tables over the embedded ones, or the embedded set.
    /// Loaded once per run; it lives as long as the process.
    pub fn reference(&self) -> Result<&'static Reference, Unreadable> {
        match &self.data_dir {
            None => Ok(Reference::embedded()),
            Some(dir) => Reference::from_dir(dir)
                .map(|r| &*Box::leak(Box::new(r)))
                .map_err(|e| Unreadable(format!("--data-dir {}: {e}", dir.display()))),
        }
    }

    /// How to read an 837P: what the file does not say.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            medicare_locality: self.locality,
            payer_ids: ReadOptions::payer_id_map(self.payer_ids.iter().cloned()),
            qualifying_apm_npis: self.qualifying_apm_npis.iter().cloned().collect(),
            ..ReadOptions::default()
        }
    }
}

/// How `price` and `reconcile` price claims.
#[derive(Debug, Args)]
pub struct Pricing {
    /// Contract conversion factor for every payer whose rule set pays a contract rate (commercial,
    /// Medicare Advantage; never Medicare fee-for-service), e.g. 60.00.
    #[arg(long)]
    conversion_factor: Option<Decimal>,
    /// Conversion factor for one payer id, whatever its rule set: --payer-conversion-factor
    /// cigna=62.50 (repeatable).
    #[arg(long = "payer-conversion-factor", value_name = "PAYER=FACTOR", value_parser = parse_payer_factor)]
    payer_conversion_factors: Vec<(String, Decimal)>,
    /// A rule set JSON file (the format of cptkit's embedded rule sets) loaded beside the embedded ones
    /// (repeatable); claims still pick their rule set by payer, state and date.
    #[arg(long = "rule-set", value_name = "FILE")]
    rule_sets: Vec<PathBuf>,
    /// A contract paying fee-schedule (non-anesthesia) lines at this percentage of the Medicare amount
    /// for the locality, e.g. 125 (never applied to Medicare itself).
    #[arg(long)]
    percent_of_medicare: Option<Decimal>,
    /// Price every claim with this rule set id instead of choosing one by payer, state and date.
    #[arg(long = "use-rule-set", value_name = "ID")]
    use_rule_set: Option<String>,
}

impl Pricing {
    /// The rule book (embedded plus `--rule-set` files) and the options to judge and price with.
    pub fn judge_options(&self, today: Option<Date>) -> Result<(RuleBook, JudgeOptions), Unreadable> {
        let rules = RuleBook::embedded().with_files(&self.rule_sets).map_err(|e| Unreadable(e.to_string()))?;
        let factors = ConversionFactors::new(self.conversion_factor, self.payer_conversion_factors.iter().cloned())
            .map_err(|e| Unreadable(format!("bad conversion factor: {e}")))?;
        let pricing = PriceOptions {
            rule_set: self.use_rule_set.clone(),
            conversion_factors: factors,
            percent_of_medicare: self.percent_of_medicare,
        };
        // A bad option is one error for the run (exit 2), not the same error on every claim.
        pricing.check(&rules).map_err(|e| Unreadable(format!("bad option: {e}")))?;
        Ok((rules, JudgeOptions::new(today, Some(pricing))))
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

fn parse_payer_factor(text: &str) -> Result<(String, Decimal), String> {
    let (payer, factor) = parse_pair(text)?;
    let factor = factor.parse().map_err(|e| format!("{factor:?} is not a decimal number ({e})"))?;
    Ok((payer, factor))
}

/// `--today`, read as every face reads a `today` ([`cptkit_core::parse_today`]).
fn parse_date(text: &str) -> Result<Date, String> {
    cptkit_core::parse_today(text).map_err(|e| e.message().to_owned())
}
