//! Which cptkit payer (the id that selects a rule set) an X12 claim's payer is, and which plan type
//! its claim filing indicator means: data (`x12_claim_filing_indicators.csv`, `payer_aliases.csv`),
//! so a data directory can add a payer without a rebuild.

use serde::Deserialize;

use crate::claim::PlanType;
use crate::error::Result;

/// The payer tables, as loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayerDirectory {
    filing_indicators: Vec<FilingIndicator>,
    aliases: Vec<PayerAlias>,
}

/// One SBR09 claim filing indicator code; `plan_type` is `None` where cptkit has no plan type for it
/// (Medicaid, TRICARE, VA, workers' compensation...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingIndicator {
    pub code: String,
    pub meaning: String,
    pub plan_type: Option<PlanType>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PayerAlias {
    /// Every claim of this plan type is this payer's.
    PlanType(PlanType, String),
    /// A payer name or id containing this text (compared ignoring case).
    NameContains(String, String),
}

impl PayerDirectory {
    pub(crate) fn load(filing_rows: Vec<FilingRow>, alias_rows: Vec<AliasRow>) -> Result<PayerDirectory> {
        let plan = |text: &str| -> Result<Option<PlanType>> {
            if text.is_empty() { Ok(None) } else { text.parse().map(Some) }
        };
        let filing_indicators = filing_rows
            .into_iter()
            .map(|r| Ok(FilingIndicator { plan_type: plan(&r.plan_type)?, code: r.code, meaning: r.meaning }))
            .collect::<Result<_>>()?;
        let aliases = alias_rows
            .into_iter()
            .map(|r| match r.r#match.as_str() {
                "plan_type" => Ok(PayerAlias::PlanType(r.value.parse()?, r.payer_id)),
                "name_contains" => Ok(PayerAlias::NameContains(r.value.to_ascii_uppercase(), r.payer_id)),
                other => Err(crate::Error::invalid(
                    "match",
                    format!("payer_aliases.csv: {other:?} is not plan_type or name_contains"),
                )),
            })
            .collect::<Result<_>>()?;
        Ok(PayerDirectory { filing_indicators, aliases })
    }

    /// The SBR09 code, when it is one.
    pub fn filing_indicator(&self, code: &str) -> Option<&FilingIndicator> {
        self.filing_indicators.iter().find(|f| f.code == code)
    }

    /// The cptkit payer id for a claim's payer: by its plan type, else by a name or id alias; `None`
    /// when no alias matches (the reader then uses the payer's own id).
    pub fn payer_id(&self, plan_type: PlanType, name: &str, identifier: &str) -> Option<&str> {
        let by_plan = self.aliases.iter().find_map(|a| match a {
            PayerAlias::PlanType(plan, id) if *plan == plan_type => Some(id.as_str()),
            _ => None,
        });
        by_plan.or_else(|| {
            self.aliases.iter().find_map(|a| match a {
                PayerAlias::NameContains(text, id)
                    if contains_word_ignore_case(name, text) || contains_word_ignore_case(identifier, text) =>
                {
                    Some(id.as_str())
                }
                _ => None,
            })
        })
    }
}

/// Whether `needle` occurs in `haystack` as a whole word (its neighbours are not letters or digits),
/// ignoring ASCII case: "UHC" names UnitedHealthcare, but "MOUTHCARE PLAN" does not.
fn contains_word_ignore_case(haystack: &str, needle: &str) -> bool {
    let (text, word) = (haystack.as_bytes(), needle.as_bytes());
    let is_word_byte = |at: Option<&u8>| at.is_some_and(|b| b.is_ascii_alphanumeric());
    text.windows(word.len()).enumerate().any(|(start, window)| {
        window.eq_ignore_ascii_case(word)
            && !is_word_byte(start.checked_sub(1).and_then(|before| text.get(before)))
            && !is_word_byte(text.get(start + word.len()))
    })
}

/// A row of `x12_claim_filing_indicators.csv` (its `source` column is for readers).
#[derive(Debug, Deserialize)]
pub(crate) struct FilingRow {
    code: String,
    meaning: String,
    plan_type: String,
}

/// A row of `payer_aliases.csv` (its `note` column is for readers).
#[derive(Debug, Deserialize)]
pub(crate) struct AliasRow {
    r#match: String,
    value: String,
    payer_id: String,
}

#[cfg(test)]
mod tests {
    use crate::{PlanType, Reference};

    #[test]
    fn payers_by_plan_then_name() {
        let payers = Reference::embedded().payers();
        assert_eq!(payers.filing_indicator("MB").and_then(|f| f.plan_type), Some(PlanType::MedicareFfs));
        assert_eq!(payers.filing_indicator("MC").map(|f| f.plan_type), Some(None));
        assert!(payers.filing_indicator("XX").is_none());
        assert_eq!(payers.payer_id(PlanType::MedicareFfs, "NORIDIAN", "01112"), Some("medicare"));
        assert_eq!(payers.payer_id(PlanType::Commercial, "Cigna Health", ""), Some("cigna"));
        assert_eq!(payers.payer_id(PlanType::Commercial, "UNITED HEALTHCARE", "87726"), Some("uhc"));
        assert_eq!(payers.payer_id(PlanType::Commercial, "ACME", "12345"), None);
        assert_eq!(payers.payer_id(PlanType::Commercial, "UHC-OXFORD", ""), Some("uhc"));
        // A name that holds an alias's letters inside another word is not that payer.
        assert_eq!(payers.payer_id(PlanType::Commercial, "MOUTHCARE PLAN", "UHCX1"), None);
        assert_eq!(payers.payer_id(PlanType::Commercial, "PANTHEMA HEALTH", ""), None);
    }
}
