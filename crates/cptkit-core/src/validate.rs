//! Claim validation ("scrubbing"). Findings are data, not errors: each has a stable edit id, a severity,
//! the field path it points at, a plain message and a hint to fix it.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use rust_decimal::Decimal;
use serde::Serialize;
use smallvec::SmallVec;
use time::Date;

use crate::claim::{Claim, ClaimLine, PlanType, ProviderRole, ShortText, UnitBasis};
use crate::ids::{CptCode, DiagnosisCode, Icd10Code, LocalityId, ModifierCode, Npi};
use crate::model::{Known, ModifierCategory, ServiceType};
use crate::path::FieldPath;
use crate::pfs::{FeeFacts, InForce, RvuRow, Tables};
use crate::pricing::{ClaimFacts, LineFacts, RuleBook, is_anesthesia};
use crate::reference::Reference;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The claim will be rejected or mispaid: fix before sending.
    Error,
    /// Likely wrong or likely to be questioned.
    Warning,
}

/// One edit cptkit runs. Ids are stable: clients may key behaviour on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
}

/// Declares an edit catalogue: one `pub const` per edit and `ALL`, in the order given. Exported so
/// other crates (the X12 reader's own edits) declare theirs the same way.
#[macro_export]
macro_rules! edits {
    ($($(#[$doc:meta])* $name:ident = $id:literal, $sev:ident, $title:literal;)*) => {
        $($(#[$doc])* pub const $name: $crate::Edit =
            $crate::Edit { id: $id, severity: $crate::Severity::$sev, title: $title };)*
        /// Every edit, in id order.
        pub const ALL: &[$crate::Edit] = &[$($name),*];
    };
}

/// The edit catalogue.
pub mod edit {
    edits! {
        CLAIM_NO_LINES = "CLM001", Error, "claim has no service lines";
        CLAIM_FREQUENCY = "CLM002", Error, "claim frequency code is not 1, 7 or 8";
        NEGATIVE_CHARGE = "CLM003", Error, "line charge is negative";
        UNKNOWN_LOCALITY = "CLM004", Error, "medicare_locality is not a Medicare locality";
        LOCALITY_NOT_THE_ZIPS = "CLM005", Warning, "medicare_locality is not the locality of the service facility's ZIP code";
        LOCALITY_NOT_FOUND_BY_ZIP = "CLM006", Warning, "no medicare_locality, and the claim's ZIP code gives no one locality";
        /// An 837P claim holds at most 50 service lines (the 2400 loop repeats at most 50 times); a
        /// longer one is checked line by line but is no claim a payer accepts.
        TOO_MANY_LINES = "CLM007", Error, "claim has more than 50 service lines";
        /// The line charges add up to more cents than a claim's total can hold (a signed 64-bit count,
        /// as every face carries cents): no total would be the claim's.
        TOTAL_CHARGE_TOO_LARGE = "CLM008", Error, "line charges add up to more than a claim's total can hold";
        UNKNOWN_CODE = "CPT001", Error, "procedure code unknown to cptkit's anesthesia tables";
        NOT_ANESTHESIA = "CPT002", Error, "a non-anesthesia code is reported in anesthesia minutes";
        MULTIPLE_BASE_CODES = "CPT003", Error, "more than one base anesthesia code for one anesthetic";
        QC_WITHOUT_ANESTHESIA = "CPT004", Error, "qualifying-circumstance code without an anesthesia line";
        DUPLICATE_LINE = "CPT005", Error, "duplicate service line";
        ADD_ON_WITHOUT_PRIMARY = "CPT006", Error, "anesthesia add-on code without its primary code the same day";
        FEE_UNKNOWN_CODE = "PFS001", Error, "procedure code not in the Medicare Physician Fee Schedule";
        FEE_NOT_VALID_FOR_MEDICARE = "PFS002", Error, "code not valid for Medicare (status I or G)";
        FEE_DELETED = "PFS003", Error, "code or component deleted on the date of service (status D, F or H)";
        FEE_NOT_PAYABLE = "PFS004", Warning, "not payable by Medicare under the fee schedule (status E, X, N or M)";
        FEE_BUNDLED = "PFS005", Warning, "bundled code: Medicare pays $0 for it (status B or P)";
        FEE_CONTRACTOR_PRICED = "PFS006", Warning, "contractor-priced code (status C, or R without RVUs)";
        FEE_INJECTION_BUNDLED = "PFS007", Warning, "status T service beside another payable service the same day";
        FEE_COMPONENT_MODIFIER = "PFS008", Error, "26 or TC not allowed by the code's PC/TC indicator";
        FEE_BOTH_COMPONENTS = "PFS009", Error, "26 and TC on the same line";
        FEE_BILATERAL_NOT_APPLICABLE = "PFS010", Error, "modifier 50 on a code the bilateral concept does not apply to";
        FEE_BILATERAL_PAID_AS_ONE = "PFS011", Warning, "modifier 50 on a code paid as one procedure for both sides";
        FEE_ASSISTANT_NOT_PAID = "PFS012", Error, "assistant at surgery on a code Medicare never pays an assistant for";
        FEE_CO_SURGEONS_NOT_PERMITTED = "PFS013", Error, "modifier 62 on a code that does not permit co-surgeons";
        FEE_TEAM_NOT_PERMITTED = "PFS014", Error, "modifier 66 on a code that does not permit team surgery";
        FEE_FACILITY_ONLY = "PFS015", Warning, "facility-only code in a non-facility place of service";
        FEE_ADD_ON_ALONE = "PFS016", Error, "add-on code without a primary procedure the same day";
        FEE_UNITS_NOT_WHOLE = "PFS017", Error, "units not a positive whole number";
        FEE_BILATERAL_UNITS = "PFS018", Warning, "modifier 50 with more than one unit";
        FEE_RIGHT_AND_LEFT = "PFS019", Warning, "RT and LT on the same line";
        FEE_DISCONTINUED_NOT_PRICED = "PFS020", Warning, "modifier 53 on a code with no discontinued-procedure amount";
        MISSING_PRICING_MODIFIER = "MOD001", Error, "anesthesia line has no pricing modifier";
        CONFLICTING_PRICING_MODIFIERS = "MOD002", Error, "more than one pricing modifier";
        PRICING_MODIFIER_POSITION = "MOD003", Error, "pricing modifier not in the first position";
        INFORMATIONAL_MODIFIER_POSITION = "MOD004", Warning, "informational modifier in the first position";
        MULTIPLE_PHYSICAL_STATUS = "MOD005", Error, "more than one physical-status modifier";
        MODIFIER_INVALID_FOR_CODE = "MOD006", Error, "modifier not valid for this code";
        TOO_MANY_MODIFIERS = "MOD007", Error, "more than four modifiers";
        GC_WITHOUT_AA_OR_QK = "MOD008", Error, "GC without AA or QK";
        UNKNOWN_ANESTHESIA_MODIFIER = "MOD009", Warning, "modifier is not an anesthesia modifier";
        TAXONOMY_ROLE = "PRV001", Error, "provider taxonomy cannot bill this pricing modifier";
        TAXONOMY_UNKNOWN = "PRV002", Warning, "taxonomy not in cptkit's anesthesia taxonomy table";
        ROLE_TAXONOMY_MISMATCH = "PRV003", Warning, "provider role disagrees with the taxonomy";
        TAXONOMY_MISSING = "PRV004", Warning, "rendering provider has no taxonomy";
        NPI_CHECK_DIGIT = "NPI001", Error, "NPI check digit is wrong";
        NPI_FORMAT = "NPI002", Error, "NPI is not 10 digits starting with 1 or 2";
        ANESTHESIA_NOT_MINUTES = "UNT001", Error, "anesthesia line not reported in minutes (MJ)";
        MINUTES_NOT_POSITIVE = "UNT002", Error, "anesthesia minutes must be more than zero";
        MINUTES_IMPLAUSIBLE = "UNT003", Error, "anesthesia time longer than 24 hours";
        TIMES_IMPOSSIBLE = "UNT004", Error, "anesthesia end time is not after the start time";
        MINUTES_EXCEED_TIMES = "UNT005", Error, "billed minutes exceed the time between start and end";
        MINUTES_BELOW_TIMES = "UNT006", Warning, "billed minutes are less than the time between start and end";
        NO_DIAGNOSES = "DX001", Error, "claim has no diagnosis";
        UNKNOWN_DIAGNOSIS = "DX002", Error, "ICD-10-CM code does not exist";
        DIAGNOSIS_NOT_BILLABLE = "DX003", Error, "ICD-10-CM code is a header, not billable";
        DIAGNOSIS_DELETED = "DX004", Error, "ICD-10-CM code was not valid on the date of service";
        POINTER_OUT_OF_RANGE = "DX005", Error, "diagnosis pointer out of range";
        NO_POINTER = "DX006", Error, "service line points at no diagnosis";
        DIAGNOSIS_NOT_TYPICAL = "DX007", Warning, "no pointed diagnosis is typical for this code";
        TOO_MANY_DIAGNOSES = "DX008", Error, "more than 12 diagnoses";
        DIAGNOSIS_CODE_SET = "DX009", Error, "diagnosis code set does not match the date of service";
        ICD9_NOT_CHECKED = "DX010", Warning, "ICD-9-CM code not checked";
        /// The 837P's SV107 and the CMS-1500's box 24E hold four pointers.
        TOO_MANY_POINTERS = "DX011", Error, "more than 4 diagnosis pointers on a line";
        /// cptkit holds one code set: a code it does not know, or knows as a header, may have been
        /// billable in an earlier year (codes are split into new ones every October).
        DIAGNOSIS_LATER_CODE_SET = "DX012", Warning, "diagnosis judged by a later ICD-10-CM code set";
        UNKNOWN_PLACE_OF_SERVICE = "POS001", Error, "place of service code is not assigned";
        PLACE_OF_SERVICE_NOT_TYPICAL = "POS002", Warning, "place of service not typical for this code";
        SERVICE_IN_FUTURE = "DAT001", Error, "date of service is in the future";
        BORN_AFTER_SERVICE = "DAT002", Error, "patient born after the date of service";
        QX_WITHOUT_DIRECTION = "BAT001", Warning, "QX line without a directing physician line for the case";
        QZ_WITH_DIRECTION = "BAT002", Error, "QZ line beside a directing physician line";
        DIRECTION_OVER_FOUR = "BAT003", Error, "more than four concurrent directed cases: bill AD";
        QY_CONCURRENT = "BAT004", Warning, "QY (one case directed) on a case concurrent with another directed case";
        TEACHING_OVER_LIMIT = "BAT005", Error, "resident case (AA + GC) concurrent with more cases than the teaching rule allows: bill QK";
        OVER_COMBINED_CAP = "BAT006", Warning, "a case billed on several claims above the payer's combined cap";
        SUPERVISION_OF_FEW = "BAT007", Warning, "AD (supervision) on a case run with at most four cases at once";
        DUPLICATE_CLAIM = "BAT008", Warning, "the same claim (id, billing provider, frequency code) twice in one batch";
        PERSONALLY_PERFORMED_CONCURRENT = "BAT009", Warning, "personally performed case (AA) concurrent with another of the physician's cases";
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub edit_id: String,
    pub severity: Severity,
    /// Where in the claim: `["lines", 0, "modifiers", 1]`; [`Finding::field`] is its text form.
    pub loc: FieldPath,
    pub message: String,
    pub hint: String,
}

impl Finding {
    pub fn new(edit: Edit, loc: impl Into<FieldPath>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Finding {
            edit_id: edit.id.to_owned(),
            severity: edit.severity,
            loc: loc.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The path into the claim as text, e.g. `lines[0].modifiers[1]`.
    pub fn field(&self) -> String {
        self.loc.to_string()
    }
}

/// `{edit_id, severity, field, loc, message, hint}`: the path both as text and as data.
impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Finding", 6)?;
        out.serialize_field("edit_id", &self.edit_id)?;
        out.serialize_field("severity", &self.severity)?;
        out.serialize_field("field", &self.field())?;
        out.serialize_field("loc", &self.loc)?;
        out.serialize_field("message", &self.message)?;
        out.serialize_field("hint", &self.hint)?;
        out.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    pub claim_id: ShortText,
    pub findings: Vec<Finding>,
}

impl ValidationReport {
    /// No error-level finding.
    pub fn is_valid(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// What validation needs beyond the claim: today's date, so "in the future" is reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationContext {
    pub today: Date,
}

const PRICING: [&str; 6] = ["AA", "AD", "QK", "QX", "QY", "QZ"];
const DIRECTING: [&str; 3] = ["QK", "QY", "AD"];
const MAX_MINUTES: u32 = 24 * 60;
/// Service lines an 837P claim holds (005010X222A1: the 2400 loop repeats at most 50 times).
const MAX_LINES: usize = 50;
/// ICD-10-CM replaced ICD-9-CM for services from this date (HIPAA code sets, 45 CFR 162.1002).
const ICD10_START: Date = time::macros::date!(2015 - 10 - 01);
/// The first day of the fiscal year of the ICD-10-CM code set cptkit holds (FY2026, its April 2026 update).
const ICD10_CODE_SET_FROM: Date = time::macros::date!(2025 - 10 - 01);

fn pricing_modifier(line: &ClaimLine) -> Option<ModifierCode> {
    line.modifiers.iter().copied().find(|m| m.is_any(&PRICING))
}

/// Collects findings for one claim.
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, edit: Edit, loc: impl Into<FieldPath>, message: impl Into<String>, hint: impl Into<String>) {
        self.0.push(Finding::new(edit, loc, message, hint));
    }
}

impl Reference {
    /// Validates one claim on its own.
    pub fn validate(&self, claim: &Claim, context: &ValidationContext) -> ValidationReport {
        self.validate_recording(claim, context, &mut ClaimFacts::new())
    }

    /// [`Reference::validate`], recording into `facts` (emptied first) what it derived of each line,
    /// in line order, for pricing to take.
    pub(crate) fn validate_recording<'r>(
        &'r self,
        claim: &Claim,
        context: &ValidationContext,
        facts: &mut ClaimFacts<'r>,
    ) -> ValidationReport {
        let mut out = Findings(Vec::new());
        let provider_at = self.check_header(claim, &mut out);
        let mut anesthesia_lines = 0;
        let lines = ClaimLines::new(claim);
        facts.clear();
        for (i, line) in claim.lines.iter().enumerate() {
            let line_facts = self.check_line(claim, &lines, i, line, context, &mut out);
            anesthesia_lines += usize::from(matches!(line_facts, LineFacts::Anesthesia(_)));
            facts.push(line_facts);
        }
        // Taxonomy and role edits judge who may bill anesthesia (AA, QX...): an office claim has none.
        // Run once the lines have said whether there is anesthesia; findings keep their header place.
        if anesthesia_lines > 0 {
            let mut provider = Findings(Vec::new());
            self.check_taxonomy_and_role(claim, &mut provider);
            if !provider.0.is_empty() {
                out.0.splice(provider_at..provider_at, provider.0);
            }
        }
        // Two base codes of one anesthetic need two anesthesia lines: most claims have at most one.
        if anesthesia_lines > 1 {
            check_cases(self, claim, &mut out);
        }
        ValidationReport { claim_id: claim.claim_id.clone(), findings: out.0 }
    }

    /// Validates each claim through the one judge, then runs the edits that need the whole batch
    /// (physician and anesthetist lines of one case are usually on different claims). Reports come
    /// back in claim order; a bug met on one claim is that claim's error, the others are reported.
    /// Validation only: pricing judges claims one at a time, without the batch edits.
    pub fn validate_batch(&self, claims: &[Claim], today: Date) -> Vec<crate::Result<ValidationReport>> {
        let options = crate::JudgeOptions { today, pricing: None };
        let mut reports: Vec<crate::Result<ValidationReport>> =
            claims.iter().map(|c| self.judge(c, &options, crate::RuleBook::embedded()).map(|j| j.report)).collect();
        add_batch_findings(claims, &mut reports, crate::RuleBook::embedded());
        reports
    }

    /// The claim-level edits; returns where among them the provider edits belong (see `validate`).
    fn check_header(&self, claim: &Claim, out: &mut Findings) -> usize {
        use edit::*;
        if claim.lines.is_empty() {
            out.add(CLAIM_NO_LINES, "lines", "the claim has no service lines", "add at least one line");
        }
        if claim.lines.iter().try_fold(0i64, |total, line| total.checked_add(line.charge_cents.max(0))).is_none() {
            out.add(
                TOTAL_CHARGE_TOO_LARGE,
                "lines",
                format!("the line charges add up to more than {}", crate::pricing::MAX_AMOUNT),
                "correct the line charges",
            );
        }
        if claim.lines.len() > MAX_LINES {
            out.add(
                TOO_MANY_LINES,
                "lines",
                format!("the claim has {} service lines; an 837P claim holds at most {MAX_LINES}", claim.lines.len()),
                format!("bill the services on several claims of at most {MAX_LINES} lines"),
            );
        }
        if !matches!(claim.frequency_code.as_str(), "1" | "7" | "8") {
            out.add(
                CLAIM_FREQUENCY,
                "frequency_code",
                format!("frequency code {:?} is not 1 (original), 7 (replacement) or 8 (void)", claim.frequency_code),
                "use 1 for a new claim",
            );
        }
        // A mistyped locality would price at another locality's rates, or the national ones, silently.
        if let Some(locality) = claim.medicare_locality.filter(|l| !self.is_medicare_locality(l)) {
            out.add(
                UNKNOWN_LOCALITY,
                "medicare_locality",
                format!("{locality} is not one of CMS's Medicare localities (MAC-locality, e.g. 13202-01)"),
                "check the locality against the CMS GPCI file, or leave it out for the service facility's ZIP code to give it",
            );
        }
        if let Some((stated, zip, of_zip)) = self.locality_beside_zip(claim)
            && stated != of_zip
        {
            out.add(
                LOCALITY_NOT_THE_ZIPS,
                "medicare_locality",
                format!("{stated} is not the locality of the service facility's ZIP code {zip} ({of_zip})"),
                "Medicare pays by the locality where the service was furnished: correct the locality or the ZIP code",
            );
        }
        if let Some((why, field)) = self.locality_not_found_by_zip(claim) {
            out.add(
                LOCALITY_NOT_FOUND_BY_ZIP,
                field,
                format!("{why}; without a locality, fee-schedule lines are not priced and Medicare anesthesia is priced at the national conversion factor"),
                "give medicare_locality: for a ZIP code split by ZIP+4, the locality of the ZIP+4 in CMS's ZIP+4 file",
            );
        }
        for (field, npi) in [
            ("billing_provider_npi", &claim.billing_provider_npi),
            ("rendering_provider.npi", &claim.rendering_provider.npi),
        ] {
            check_npi(field, npi, out);
        }
        if self.place_of_service(&claim.place_of_service).is_err() {
            out.add(
                UNKNOWN_PLACE_OF_SERVICE,
                "place_of_service",
                format!("place of service {} is not assigned in the CMS code set", claim.place_of_service),
                "use the CMS place-of-service code where the service was given (11 office, 21 inpatient, 22 outpatient, 24 ASC)",
            );
        }
        let provider_at = out.0.len();
        if claim.diagnoses.is_empty() {
            out.add(
                NO_DIAGNOSES,
                "diagnoses",
                "the claim has no ICD-10-CM diagnosis",
                "add the diagnoses the lines point at",
            );
        }
        if claim.diagnoses.len() > 12 {
            out.add(
                TOO_MANY_DIAGNOSES,
                "diagnoses",
                format!("{} diagnoses; an 837P claim holds at most 12", claim.diagnoses.len()),
                "keep the 12 most relevant",
            );
        }
        let service_dates = date_span(&claim.lines);
        for (i, code) in claim.diagnoses.iter().enumerate() {
            // A diagnosis is judged on the dates of the lines that point at it (all lines' when none
            // does): a code deleted on 2021-10-01 is wrong on a line of 10-05, right on one of 09-30.
            let dates = service_dates.map(|(first, last)| {
                if first == last { (first, last) } else { pointing_dates(claim, i).unwrap_or((first, last)) }
            });
            self.check_diagnosis(i, code, dates, out);
        }
        if let Some((dos, _)) = service_dates
            && claim.patient.birth_date > dos
        {
            out.add(
                BORN_AFTER_SERVICE,
                "patient.birth_date",
                "the birth date is after the date of service",
                "check the birth date and the service dates",
            );
        }
        provider_at
    }

    /// One diagnosis, on its first and last dates of service: the code set for the first (ICD-9-CM before
    /// 2015-10-01, ICD-10-CM since), then whether the ICD-10-CM code exists, is billable, and was valid
    /// on every date (not deleted by the last, in force by the first).
    fn check_diagnosis(&self, index: usize, code: &DiagnosisCode, dates: Option<(Date, Date)>, out: &mut Findings) {
        let first_service = dates.map(|(first, _)| first);
        let last_service = dates.map(|(_, last)| last);
        use edit::*;
        // Built only for a finding: most diagnoses have none.
        let loc = || FieldPath::field("diagnoses").index(index);
        let icd10_era = first_service.is_none_or(|dos| dos >= ICD10_START);
        let code = match code {
            DiagnosisCode::Icd9(_) if icd10_era => {
                return out.add(
                    DIAGNOSIS_CODE_SET,
                    loc(),
                    format!("{code} is an ICD-9-CM code; services since {ICD10_START} are coded in ICD-10-CM"),
                    "code the diagnosis in ICD-10-CM",
                );
            }
            DiagnosisCode::Icd9(_) => {
                return out.add(
                    ICD9_NOT_CHECKED,
                    loc(),
                    format!("{code} is an ICD-9-CM code (service before {ICD10_START}); cptkit holds ICD-10-CM only and did not check it"),
                    "check the code against the ICD-9-CM code set of the date of service",
                );
            }
            DiagnosisCode::Other(_) => {
                return out.add(
                    UNKNOWN_DIAGNOSIS,
                    loc(),
                    format!("{code} is not an ICD-10-CM code: a letter, a digit, a third character, then up to 4 more after a dot (M54.50)"),
                    "check the code against the ICD-10-CM tabular",
                );
            }
            DiagnosisCode::Icd10(code) => code,
        };
        if !icd10_era {
            return out.add(
                DIAGNOSIS_CODE_SET,
                loc(),
                format!("{code} is an ICD-10-CM code, but services before {ICD10_START} are coded in ICD-9-CM"),
                "code the diagnosis in ICD-9-CM, or check the date of service",
            );
        }
        // Services of an earlier fiscal year: what the code set says of them is not certain.
        let earlier_year = first_service.filter(|&dos| dos < ICD10_CODE_SET_FROM);
        let judged_later = |what: &str, out: &mut Findings| {
            let dos = earlier_year.unwrap_or(Date::MIN);
            out.add(
                DIAGNOSIS_LATER_CODE_SET,
                loc(),
                format!(
                    "{code} {what} the FY2026 ICD-10-CM code set, the only one cptkit holds; the service on {dos} falls in FY{}",
                    fiscal_year(dos)
                ),
                "check the code against the code set of the date of service",
            );
        };
        let Ok(Some(status)) = self.diagnosis_status(code) else {
            if earlier_year.is_some() {
                return judged_later("is not in", out);
            }
            return out.add(
                UNKNOWN_DIAGNOSIS,
                loc(),
                format!("{code} is not in the ICD-10-CM code set"),
                "check the code against the ICD-10-CM tabular",
            );
        };
        let deleted = status.through.zip(last_service).is_some_and(|(end, dos)| dos > end);
        let not_yet = status.from.zip(first_service).filter(|((from, _), dos)| dos < from).map(|(from, _)| from);
        if !deleted && not_yet.is_none() && status.billable {
            return;
        }
        // Rare: build the full record for the message.
        let Ok(dx) = self.diagnosis(code) else { return };
        if deleted {
            let replacements: Vec<String> = dx.replaced_by.iter().map(ToString::to_string).collect();
            out.add(
                DIAGNOSIS_DELETED,
                loc(),
                format!("{code} ({}) was valid only through {}", dx.title, dx.valid_through.unwrap_or(Date::MIN)),
                format!("use one of {}", replacements.join(", ")),
            );
        } else if let Some((from, replaced)) = not_yet {
            out.add(
                DIAGNOSIS_DELETED,
                loc(),
                format!("{code} ({}) is valid from {from}, when it replaced {replaced}", dx.title),
                format!("use {replaced} for services before {from}"),
            );
        } else if earlier_year.is_some() {
            judged_later("is a category header, not billable, in", out);
        } else {
            out.add(
                DIAGNOSIS_NOT_BILLABLE,
                loc(),
                format!("{code} ({}) is a category header, not a billable code", dx.title),
                "report the most specific code under it",
            );
        }
    }

    fn check_taxonomy_and_role(&self, claim: &Claim, out: &mut Findings) {
        use edit::*;
        let provider = &claim.rendering_provider;
        let Some(code) = provider.taxonomy else {
            let roles = match provider.role {
                Some(role) => format!("role checks use the stated role ({role})"),
                None => {
                    "no role is given either, so the modifiers are not checked against the provider type".to_owned()
                }
            };
            out.add(
                TAXONOMY_MISSING,
                "rendering_provider.taxonomy",
                format!("the rendering provider has no taxonomy; {roles}"),
                "give the NUCC taxonomy the provider is enrolled with (X12 PRV*PE)",
            );
            return;
        };
        let Ok(taxonomy) = self.taxonomy(&code) else {
            out.add(
                TAXONOMY_UNKNOWN,
                "rendering_provider.taxonomy",
                format!("{code} is not among the anesthesia taxonomies cptkit holds; role checks use the stated role"),
                "use the NUCC taxonomy the provider is enrolled with",
            );
            return;
        };
        let Some(stated) = provider.role else { return };
        let role_from_taxonomy = ProviderRole::implied_by(taxonomy.code);
        if role_from_taxonomy
            .is_some_and(|r| r.is_physician() != stated.is_physician() || (!r.is_physician() && r != stated))
        {
            out.add(
                ROLE_TAXONOMY_MISMATCH,
                "rendering_provider.role",
                format!("role {stated} disagrees with taxonomy {} ({})", taxonomy.code, taxonomy.classification),
                "set the role that matches the taxonomy",
            );
        }
    }

    /// One line's edits; returns what they derived of the line for pricing, which says whether it is
    /// an anesthesia line (as `is_anesthesia_line` says).
    fn check_line<'r>(
        &'r self,
        claim: &Claim,
        lines: &ClaimLines<'r>,
        i: usize,
        line: &ClaimLine,
        context: &ValidationContext,
        out: &mut Findings,
    ) -> LineFacts<'r> {
        use edit::*;
        let at = |field: &'static str| FieldPath::line(i).key(field);
        let code = line.procedure_code;
        if line.date_of_service > context.today {
            out.add(
                SERVICE_IN_FUTURE,
                at("date_of_service"),
                format!("{} is after today ({})", line.date_of_service, context.today),
                "bill only services already given",
            );
        }
        // A charge is what the provider bills: below zero, the lesser-of-charge rule would allow a
        // negative amount.
        if line.charge_cents < 0 {
            out.add(
                NEGATIVE_CHARGE,
                at("charge_cents"),
                format!("the line's charge is {}", line.charge()),
                "bill a charge of zero or more; a credit is a corrected (frequency 7) or voided (8) claim",
            );
        }
        if line.modifiers.len() > 4 {
            out.add(
                TOO_MANY_MODIFIERS,
                at("modifiers"),
                format!("{} modifiers; a line holds at most four", line.modifiers.len()),
                if self.is_anesthesia_line(line) {
                    "keep the pricing modifier first and at most three more"
                } else {
                    "keep the modifiers that change payment (26, TC, 50, 62, 80...) first and at most four in all"
                },
            );
        }
        self.check_pointers(claim, i, line, out);
        // The code's entry: the edits below need it anyway.
        let found = self.codes.lookup(&code);
        let anesthesia = is_anesthesia(found.entry, code, found.qualifying.is_some());
        let facts = if anesthesia {
            LineFacts::Anesthesia(self.anesthesia_found(&found))
        } else {
            LineFacts::FeeSchedule(
                lines
                    .fee_schedule_on(self, line.date_of_service)
                    .map(|in_force| FeeFacts { in_force, row: self.fee_row(&in_force, line) }),
            )
        };
        match found.entry {
            Some(entry) => {
                self.check_modifiers(claim, i, line, out);
                if entry.service_type != ServiceType::UnlistedAnesthesia {
                    check_minutes(i, line, out);
                }
                if let Some(primary) = entry.reported_with
                    && !claim
                        .lines
                        .iter()
                        .any(|l| l.procedure_code == primary && l.date_of_service == line.date_of_service)
                {
                    out.add(
                        ADD_ON_WITHOUT_PRIMARY,
                        at("procedure_code"),
                        format!(
                            "{code} is an add-on to {primary}, which the claim does not report on {}",
                            line.date_of_service
                        ),
                        format!("report {code} with {primary} for the same anesthetic"),
                    );
                }
                if entry.medicare_inpatient_only == Known::Yes && claim.place_of_service.as_str() != "21" {
                    out.add(
                        PLACE_OF_SERVICE_NOT_TYPICAL,
                        "place_of_service",
                        format!(
                            "{code} is on the Medicare inpatient-only list but the claim says place of service {}",
                            claim.place_of_service
                        ),
                        "inpatient-only procedures are billed with place of service 21",
                    );
                }
                self.check_relevance(claim, i, line, found.typical_diagnoses, out);
            }
            None if code.is_anesthesia() => out.add(
                UNKNOWN_CODE,
                at("procedure_code"),
                format!("{code} is not in the CMS anesthesia base-unit file"),
                "check the code; anesthesia codes run 00100-01999",
            ),
            None => {
                if line.unit_basis == UnitBasis::Minutes {
                    out.add(
                        NOT_ANESTHESIA,
                        at("unit_basis"),
                        format!("{code} is not an anesthesia code but is reported in minutes (MJ)"),
                        "report non-anesthesia services in units (UN)",
                    );
                }
                for (m, modifier) in line.modifiers.iter().enumerate() {
                    let anesthesia_only = self.known_modifier(*modifier).is_some_and(|d| {
                        matches!(
                            d.category,
                            ModifierCategory::Pricing
                                | ModifierCategory::PhysicalStatus
                                | ModifierCategory::Informational
                        )
                    });
                    if anesthesia_only {
                        out.add(
                            MODIFIER_INVALID_FOR_CODE,
                            at("modifiers").index(m),
                            format!("{modifier} is an anesthesia modifier but {code} is not an anesthesia code"),
                            "remove the modifier",
                        );
                    }
                }
                // Neither in the table nor in the range: an anesthesia line here is a qualifying circumstance.
                if anesthesia && !lines.has_anesthesia_code(self, claim) {
                    out.add(
                        QC_WITHOUT_ANESTHESIA,
                        at("procedure_code"),
                        format!("{code} is a qualifying-circumstance add-on but the claim has no anesthesia line"),
                        "report it beside the anesthesia code it qualifies",
                    );
                }
                if let LineFacts::FeeSchedule(fee) = facts {
                    self.check_fee_schedule_line(claim, i, line, fee, out);
                }
            }
        }
        if let Some(first) = lines.first_repeated(claim, i) {
            out.add(
                DUPLICATE_LINE,
                at("procedure_code"),
                format!("line {i} repeats line {first}"),
                "remove the duplicate or correct one of the lines",
            );
        }
        facts
    }

    fn check_pointers(&self, claim: &Claim, i: usize, line: &ClaimLine, out: &mut Findings) {
        use edit::*;
        if line.diagnosis_pointers.is_empty() && !claim.diagnoses.is_empty() {
            out.add(
                NO_POINTER,
                FieldPath::line(i).key("diagnosis_pointers"),
                "the line points at no diagnosis",
                "point at the diagnosis that justifies the service (1-based)",
            );
        }
        if line.diagnosis_pointers.len() > 4 {
            out.add(
                TOO_MANY_POINTERS,
                FieldPath::line(i).key("diagnosis_pointers").index(4),
                format!(
                    "the line has {} diagnosis pointers; a claim line holds at most 4",
                    line.diagnosis_pointers.len()
                ),
                "point at the 4 diagnoses that best justify the service",
            );
        }
        for (p, &pointer) in line.diagnosis_pointers.iter().enumerate() {
            if pointer == 0 || pointer as usize > claim.diagnoses.len() {
                out.add(
                    POINTER_OUT_OF_RANGE,
                    FieldPath::line(i).key("diagnosis_pointers").index(p),
                    format!("pointer {pointer} does not name one of the claim's {} diagnoses", claim.diagnoses.len()),
                    "pointers are 1-based positions in the claim's diagnosis list",
                );
            }
        }
    }

    fn check_modifiers(&self, claim: &Claim, i: usize, line: &ClaimLine, out: &mut Findings) {
        use edit::*;
        let at = |m: usize| FieldPath::line(i).key("modifiers").index(m);
        // Read as they come, not collected: nearly every line has one, first.
        let mut pricing = line.modifiers.iter().enumerate().filter(|(_, m)| m.is_any(&PRICING)).peekable();
        let (first, more) = (pricing.next(), pricing.peek().is_some());
        match (first, more) {
            (None, _) => out.add(
                MISSING_PRICING_MODIFIER,
                FieldPath::line(i).key("modifiers"),
                "no pricing modifier (AA, AD, QK, QX, QY or QZ)",
                "put the modifier that says who gave the anesthesia, and how, in the first position",
            ),
            (Some((position, modifier)), false) if position != 0 => out.add(
                PRICING_MODIFIER_POSITION,
                at(position),
                format!("{modifier} is in position {}; payers read the pricing modifier from the first", position + 1),
                "move it to the first position",
            ),
            (Some(_), _) => {
                for (position, modifier) in pricing {
                    out.add(
                        CONFLICTING_PRICING_MODIFIERS,
                        at(position),
                        format!("{modifier} conflicts with another pricing modifier on the same line"),
                        "keep exactly one of AA, AD, QK, QX, QY, QZ",
                    );
                }
            }
        }
        let mut physical_status = 0;
        for (m, modifier) in line.modifiers.iter().enumerate() {
            match self.known_modifier(*modifier).map(|d| d.category) {
                None => out.add(
                    UNKNOWN_ANESTHESIA_MODIFIER,
                    at(m),
                    format!("{modifier} is not an anesthesia modifier"),
                    "check the modifier; anesthesia lines use AA/AD/QK/QX/QY/QZ, QS/G8/G9, GC, 23, 47 and P1-P6",
                ),
                Some(ModifierCategory::Informational | ModifierCategory::Teaching | ModifierCategory::Cpt)
                    if m == 0 && modifier.as_bytes() != b"47" =>
                {
                    out.add(
                        INFORMATIONAL_MODIFIER_POSITION,
                        at(m),
                        format!("{modifier} is informational and belongs after the pricing modifier"),
                        "put the pricing modifier first and this one after it",
                    )
                }
                Some(ModifierCategory::PhysicalStatus) => {
                    physical_status += 1;
                    if physical_status == 2 {
                        out.add(
                            MULTIPLE_PHYSICAL_STATUS,
                            at(m),
                            "a second physical-status modifier",
                            "keep the one ASA class that was documented",
                        );
                    }
                }
                Some(_) => {}
            }
        }
        if line.has_modifier("GC") && !line.has_modifier("AA") && !line.has_modifier("QK") {
            out.add(
                GC_WITHOUT_AA_OR_QK,
                FieldPath::line(i).key("modifiers"),
                "GC is reported with AA or QK, never alone",
                "add AA (teaching rules) or QK",
            );
        }
        // The line's pricing modifier: the first found above.
        if let Some((_, &modifier)) = first {
            self.check_modifier_role(claim, i, line, modifier, out);
        }
    }

    fn check_modifier_role(
        &self,
        claim: &Claim,
        i: usize,
        line: &ClaimLine,
        modifier: ModifierCode,
        out: &mut Findings,
    ) {
        let provider = &claim.rendering_provider;
        // Without a taxonomy or a stated role there is nothing to check against (PRV004 says so).
        let Some(role) = provider.role() else { return };
        // Who bills each modifier: `anesthesia_modifiers.csv` (QZ is a CRNA's alone: an anesthesiologist
        // assistant always works under medical direction).
        // By the bytes: the text of each line's modifier would be checked as UTF-8 first.
        let allowed = match modifier.as_bytes() {
            b"QX" => matches!(role, ProviderRole::Crna | ProviderRole::AnesthesiologistAssistant),
            b"QZ" => role == ProviderRole::Crna,
            _ => role.is_physician(),
        };
        if !allowed {
            let position = line.modifiers.iter().position(|m| *m == modifier).unwrap_or(0);
            let who = match modifier.as_str() {
                "QX" => "a CRNA or anesthesiologist assistant",
                "QZ" if role == ProviderRole::AnesthesiologistAssistant => {
                    "a CRNA (an anesthesiologist assistant is always medically directed: bill QX)"
                }
                "QZ" => "a CRNA",
                "AA" if role == ProviderRole::AnesthesiologistAssistant => {
                    "a physician (an anesthesiologist assistant is always medically directed: bill QX)"
                }
                _ => "a physician",
            };
            out.add(
                edit::TAXONOMY_ROLE,
                FieldPath::line(i).key("modifiers").index(position),
                match provider.taxonomy {
                    Some(taxonomy) => {
                        format!("{modifier} is billed by {who}, but the rendering provider's taxonomy is {taxonomy}")
                    }
                    None => format!("{modifier} is billed by {who}, but the rendering provider's role is {role}"),
                },
                "use the modifier that matches who gave the anesthesia, or correct the rendering provider",
            );
        }
    }

    /// `typical`: the line's code's typical diagnoses, as its lookup found them.
    fn check_relevance(&self, claim: &Claim, i: usize, line: &ClaimLine, typical: &[Icd10Code], out: &mut Findings) {
        if typical.is_empty() {
            return; // nothing curated for this code: no opinion
        }
        let pointed =
            || line.diagnosis_pointers.iter().filter_map(|&p| claim.diagnoses.get((p as usize).checked_sub(1)?));
        if pointed().next().is_none() || pointed().any(|d| d.icd10().is_some_and(|c| typical.contains(c))) {
            return;
        }
        let names: Vec<&str> = pointed().map(|d| d.as_str()).collect();
        out.add(
            edit::DIAGNOSIS_NOT_TYPICAL,
            FieldPath::line(i).key("diagnosis_pointers"),
            format!("none of {} is among the diagnoses typical for {}", names.join(", "), line.procedure_code),
            "check that the diagnosis supports the procedure; payers may ask for records",
        );
    }
}

/// Where a fee-schedule line's payment modifiers sit, read in one pass over its modifiers.
#[derive(Default)]
struct PaymentModifiers {
    professional: Option<usize>,
    technical: Option<usize>,
    bilateral: Option<usize>,
    right: Option<usize>,
    left: Option<usize>,
    discontinued: Option<usize>,
    assistant: Option<usize>,
    co_surgeons: Option<usize>,
    team: Option<usize>,
}

impl PaymentModifiers {
    fn of(line: &ClaimLine) -> PaymentModifiers {
        let mut found = PaymentModifiers::default();
        for (m, modifier) in line.modifiers.iter().enumerate() {
            let slot = match modifier.as_bytes() {
                b"26" => &mut found.professional,
                b"TC" => &mut found.technical,
                b"50" => &mut found.bilateral,
                b"RT" => &mut found.right,
                b"LT" => &mut found.left,
                b"53" => &mut found.discontinued,
                b"80" | b"81" | b"82" | b"AS" => &mut found.assistant,
                b"62" => &mut found.co_surgeons,
                b"66" => &mut found.team,
                _ => continue,
            };
            slot.get_or_insert(m);
        }
        found
    }
}

/// Medicare Advantage plans follow Medicare's code validity and payment indicators too.
fn is_medicare(claim: &Claim) -> bool {
    matches!(claim.payer.plan_type, PlanType::MedicareFfs | PlanType::MedicareAdvantage)
}

/// The edit a row's status code calls for, with its hint; `None` when the fee schedule pays the code
/// (A, R, T) or prices it as anesthesia (J). Only a deletion speaks for every payer: the other
/// statuses are Medicare's payment policy.
fn status_edit(status: u8, medicare: bool) -> Option<(Edit, &'static str)> {
    use edit::*;
    let found = match status {
        b'D' | b'F' => (FEE_DELETED, "report the code that replaced it"),
        b'H' => (FEE_DELETED, "bill the code without the component modifier, or the code that replaced it"),
        _ if !medicare => return None,
        b'I' | b'G' => (
            FEE_NOT_VALID_FOR_MEDICARE,
            "report the code Medicare uses for the service (often a HCPCS Level II G code); other payers may accept this one",
        ),
        b'E' => (
            FEE_NOT_PAYABLE,
            "Medicare pays it, when covered, outside the fee schedule (drugs at ASP, for example); cptkit does not price it",
        ),
        b'X' => (
            FEE_NOT_PAYABLE,
            "clinical laboratory, ambulance and similar services have their own Medicare fee schedules, which cptkit does not price",
        ),
        b'N' => {
            (FEE_NOT_PAYABLE, "Medicare will deny the line; the patient may be billed as Medicare's notice rules allow")
        }
        b'M' => (FEE_NOT_PAYABLE, "report it for quality measurement only; expect no payment"),
        b'B' | b'P' => {
            (FEE_BUNDLED, "expected when reported for completeness: its payment is part of the service it goes with")
        }
        b'C' => (
            FEE_CONTRACTOR_PRICED,
            "send the documentation (an operative report, for example) the contractor asks for; cptkit cannot price it",
        ),
        _ => return None,
    };
    Some(found)
}

impl Reference {
    /// A claim's known `medicare_locality`, its service facility's ZIP code and the one locality CMS's ZIP
    /// code file (of the first date of service's release) gives that ZIP; `None` when any is missing.
    fn locality_beside_zip<'c>(&self, claim: &'c Claim) -> Option<(LocalityId, &'c str, LocalityId)> {
        let stated = claim.medicare_locality.filter(|l| self.is_medicare_locality(l))?;
        let zip = crate::pfs::service_facility_zip(claim)?;
        let first_date = claim.lines.iter().map(|l| l.date_of_service).min()?;
        let of_zip = self.fee_schedule_on(first_date)?.tables.zip_locality(zip).filter(|z| !z.split_by_zip4)?;
        Some((stated, zip, of_zip.locality))
    }

    /// Why a claim without `medicare_locality` finds no locality by its ZIP code (split by ZIP+4, or not in
    /// CMS's file of the first date of service's release), and the ZIP's field; `None` when it finds one,
    /// states one, gives no ZIP, or no release covers the date (pricing tells that).
    fn locality_not_found_by_zip(&self, claim: &Claim) -> Option<(String, &'static str)> {
        if claim.medicare_locality.is_some() {
            return None;
        }
        // The ZIP code first: a claim without one finds no locality by it, and needs no release.
        let (_, zip) = crate::pfs::claim_zip(claim)?;
        let first_date = claim.lines.iter().map(|l| l.date_of_service).min()?;
        let tables = self.fee_schedule_on(first_date)?.tables;
        let why = crate::pfs::claim_locality(claim, Some(tables), first_date.year())?.err()?;
        Some((why, zip.field))
    }

    /// The fee schedule release a date is judged by; `None` when no release covers its year (pricing
    /// reports that). Checked before `in_force`, which words an error for the missing year.
    pub(crate) fn fee_schedule_on(&self, date: Date) -> Option<InForce<'_>> {
        let schedule = self.fee_schedule();
        let covered = schedule
            .releases()
            .any(|r| r.info.year == date.year() || (r.info.effective_from <= date && date <= r.info.effective_to));
        if covered { schedule.in_force(date).ok() } else { None }
    }

    /// The fee schedule edits of a line that is not anesthesia, by its release and row (`fee`, none
    /// when no release covers its date); other lines are looked at only for an add-on or a status T code.
    fn check_fee_schedule_line<'r>(
        &'r self,
        claim: &Claim,
        i: usize,
        line: &ClaimLine,
        fee: Option<FeeFacts<'r>>,
        out: &mut Findings,
    ) {
        use edit::*;
        let modifiers = PaymentModifiers::of(line);
        check_fee_units(i, line, &modifiers, out);
        let Some(FeeFacts { in_force, row }) = fee else { return };
        let release = Release {
            name: &in_force.release.info.release,
            stand_in_for: in_force.stand_in.then_some(line.date_of_service),
        };
        let code = line.procedure_code;
        let at_code = || FieldPath::line(i).key("procedure_code");
        let Some(row) = row else {
            return out.add(
                FEE_UNKNOWN_CODE,
                at_code(),
                format!("{code} is not in the Medicare Physician Fee Schedule {release}"),
                "check the code; HCPCS Level II supply and equipment codes are paid under other Medicare fee schedules, which cptkit does not hold",
            );
        };
        let medicare = is_medicare(claim);
        // An R row without RVUs is the contractor's to price, as a C row is.
        let status = if row.is_contractor_priced() { b'C' } else { row.status };
        if let Some((edit, hint)) = status_edit(status, medicare) {
            let component = row.modifier.map(|m| format!("-{m}")).unwrap_or_default();
            out.add(
                edit,
                at_code(),
                format!(
                    "{code}{component}: {}; status {}, Medicare Physician Fee Schedule {release}",
                    crate::pfs::describe_status(row.status),
                    char::from(row.status)
                ),
                hint,
            );
        }
        let indicators = Indicators { i, line, release };
        indicators.components(out, in_force.tables, row, &modifiers);
        if !matches!(row.status, b'A' | b'R' | b'T' | b'C') {
            return; // not priced by the fee schedule: its payment indicators do not apply
        }
        indicators.surgical(out, row, &modifiers, medicare);
        if row.nonfacility_na
            && !self.is_facility(&claim.place_of_service)
            && self.place_of_service(&claim.place_of_service).is_ok()
        {
            out.add(
                FEE_FACILITY_ONLY,
                at_code(),
                format!(
                    "{code} is a facility-only service (no non-facility rate: NA in the Medicare Physician Fee Schedule {release}) but place of service {} is not a facility",
                    claim.place_of_service
                ),
                "check the place of service: where the patient was (21 inpatient, 22 outpatient hospital, 23 emergency room, 24 ASC...)",
            );
        }
        if let Some(m) = modifiers.discontinued
            && let Some(&discontinued) = line.modifiers.get(m)
            && in_force.tables.row(code, Some(discontinued)).is_none()
        {
            out.add(
                FEE_DISCONTINUED_NOT_PRICED,
                FieldPath::line(i).key("modifiers").index(m),
                format!("the Medicare Physician Fee Schedule {release} has no discontinued-procedure (53) amount for {code}: the payer prices it case by case (Medicare: the contractor)"),
                "send the documentation the payer asks for; expect less than the full procedure's amount",
            );
        }
        if row.is_add_on() && !self.has_primary(claim, i, line, &in_force) {
            out.add(
                FEE_ADD_ON_ALONE,
                at_code(),
                format!(
                    "{code} is an add-on code (global period ZZZ) but no primary procedure is billed on {}",
                    line.date_of_service
                ),
                "bill the primary procedure it adds to on the same claim and date",
            );
        }
        if medicare
            && row.status == b'T'
            && let Some(other) = self.payable_beside(claim, i, line, &in_force)
        {
            out.add(
                FEE_INJECTION_BUNDLED,
                at_code(),
                format!(
                    "{code} is status T: Medicare pays it only when no other fee schedule service is billed that day, and {other} is billed on {}, so it is paid $0",
                    line.date_of_service
                ),
                "expected when both were given: Medicare pays the other service",
            );
        }
    }

    /// Another line of the same day that can be an add-on's primary procedure: not an anesthesia line,
    /// not itself an add-on, and a surgical code or a code the fee schedule prices.
    fn has_primary(&self, claim: &Claim, i: usize, line: &ClaimLine, in_force: &InForce<'_>) -> bool {
        claim.lines.iter().enumerate().any(|(j, other)| {
            if j == i || other.date_of_service != line.date_of_service || self.is_anesthesia_line(other) {
                return false;
            }
            let row = self.fee_row(in_force, other);
            if row.is_some_and(RvuRow::is_add_on) {
                return false;
            }
            // The row first: it answers for most lines without a search of the sections.
            row.is_some_and(|r| r.is_payable_status() || r.is_contractor_priced())
                || self.section_of(other.procedure_code).is_some_and(|s| s.section == "Surgery")
        })
    }

    /// Another fee schedule service of the same day that Medicare pays (A or R; as pricing counts it, a
    /// second status T code does not bundle the first).
    fn payable_beside(&self, claim: &Claim, i: usize, line: &ClaimLine, in_force: &InForce<'_>) -> Option<CptCode> {
        claim.lines.iter().enumerate().find_map(|(j, other)| {
            if j == i || other.date_of_service != line.date_of_service || self.is_anesthesia_line(other) {
                return None;
            }
            self.fee_row(in_force, other).filter(|r| r.is_payable_status() && r.status != b'T').map(|r| r.code)
        })
    }
}

/// The release a finding quotes; a stand-in (the release in force on the date is not loaded) says so,
/// since statuses and indicators may have changed between the two.
#[derive(Clone, Copy)]
struct Release<'a> {
    name: &'a str,
    stand_in_for: Option<Date>,
}

impl std::fmt::Display for Release<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)?;
        match self.stand_in_for {
            Some(date) => write!(f, " (standing in for the release in force on {date}, which is not loaded)"),
            None => Ok(()),
        }
    }
}

/// A modifier a code's payment indicator forbids: the finding quotes the indicator and CMS's meaning
/// of it (RVU file documentation, Attachment A and the record layout).
struct Indicators<'a> {
    i: usize,
    line: &'a ClaimLine,
    release: Release<'a>,
}

impl Indicators<'_> {
    /// `indicator`: the field of [`RvuRow::indicators`] and its name in words.
    fn forbid(
        &self,
        out: &mut Findings,
        edit: Edit,
        position: usize,
        row: &RvuRow,
        indicator: (&str, &str),
        hint: &str,
    ) {
        let (field, name) = indicator;
        let modifier = self.line.modifiers.get(position).map_or("", |m| m.as_str());
        let indicator = row.indicators().into_iter().find(|i| i.field == field);
        let (value, meaning) = indicator.map_or((String::new(), ""), |i| (i.value, i.meaning));
        out.add(
            edit,
            FieldPath::line(self.i).key("modifiers").index(position),
            format!(
                "{modifier} on {}: {meaning}; {name} indicator {value}, Medicare Physician Fee Schedule {}",
                row.code, self.release
            ),
            hint,
        );
    }

    /// 26 and TC split a diagnostic test in two; PC/TC 6 and 8 codes have no technical part to bill
    /// (the lab test is paid elsewhere), which their professional row carries when the line's row is
    /// the code's own.
    fn components(&self, out: &mut Findings, tables: &Tables, row: &RvuRow, modifiers: &PaymentModifiers) {
        let split_refused = |r: &RvuRow| matches!(r.pctc, b'0' | b'2' | b'3' | b'4' | b'5');
        let hint = "remove the modifier and bill the code as it is";
        if let Some(m) = modifiers.professional.filter(|_| split_refused(row)) {
            self.forbid(out, edit::FEE_COMPONENT_MODIFIER, m, row, ("pctc", "PC/TC"), hint);
        }
        let Some(m) = modifiers.technical else { return };
        let no_technical = |r: &&RvuRow| split_refused(r) || matches!(r.pctc, b'6' | b'8');
        let governing = match row.modifier {
            None => Some(row).filter(no_technical).or_else(|| tables.rows_of(row.code).find(no_technical)),
            Some(_) => Some(row).filter(no_technical),
        };
        if let Some(governing) = governing {
            self.forbid(out, edit::FEE_COMPONENT_MODIFIER, m, governing, ("pctc", "PC/TC"), hint);
        }
    }

    /// Bilateral, assistant, co-surgeon and team surgery indicators; the last three are Medicare
    /// payment policy.
    fn surgical(&self, out: &mut Findings, row: &RvuRow, modifiers: &PaymentModifiers, medicare: bool) {
        use edit::*;
        if let Some(m) = modifiers.bilateral {
            let refused = match row.bilateral {
                b'9' => Some((FEE_BILATERAL_NOT_APPLICABLE, "remove modifier 50")),
                b'0' => Some((
                    FEE_BILATERAL_PAID_AS_ONE,
                    "bill one side, or the code for the bilateral procedure where there is one",
                )),
                b'2' => {
                    Some((FEE_BILATERAL_PAID_AS_ONE, "bill the code once without 50: it already covers both sides"))
                }
                _ => None,
            };
            if let Some((edit, hint)) = refused {
                self.forbid(out, edit, m, row, ("bilateral", "bilateral surgery"), hint);
            }
        }
        if !medicare {
            return;
        }
        if let Some(m) = modifiers.assistant.filter(|_| row.assistant == b'1') {
            let hint = "do not bill an assistant at surgery for this code to Medicare";
            self.forbid(out, FEE_ASSISTANT_NOT_PAID, m, row, ("assistant", "assistant at surgery"), hint);
        }
        if let Some(m) = modifiers.co_surgeons.filter(|_| row.co_surgeons == b'0') {
            let hint =
                "bill the surgeon's service without 62; an assisting surgeon bills 80, 81 or 82 where the code allows";
            self.forbid(out, FEE_CO_SURGEONS_NOT_PERMITTED, m, row, ("co_surgeons", "co-surgeon"), hint);
        }
        if let Some(m) = modifiers.team.filter(|_| row.team_surgery == b'0') {
            let hint = "bill without 66; two surgeons of different specialties use 62 where the code allows";
            self.forbid(out, FEE_TEAM_NOT_PERMITTED, m, row, ("team_surgery", "team surgery"), hint);
        }
    }
}

/// Units and payment modifiers that contradict each other on a fee schedule line, whatever the code.
fn check_fee_units(i: usize, line: &ClaimLine, modifiers: &PaymentModifiers, out: &mut Findings) {
    use edit::*;
    let at = |m: usize| FieldPath::line(i).key("modifiers").index(m);
    let quantity = line.quantity;
    // A line in minutes is CPT002's finding; a service in units is counted whole.
    if line.unit_basis == UnitBasis::Units && (against(quantity, 0).is_le() || !is_whole(quantity)) {
        out.add(
            FEE_UNITS_NOT_WHOLE,
            FieldPath::line(i).key("quantity"),
            format!("{quantity} units: a service is billed in whole units of 1 or more"),
            "report how many times the service was given",
        );
    }
    if let (Some(_), Some(tc)) = (modifiers.professional, modifiers.technical) {
        out.add(
            FEE_BOTH_COMPONENTS,
            at(tc),
            "26 (professional component) and TC (technical component) on the same line",
            "bill the global service without either modifier, or each component on its own line",
        );
    }
    if modifiers.bilateral.is_some() && against(quantity, 2).is_ge() {
        out.add(
            FEE_BILATERAL_UNITS,
            FieldPath::line(i).key("quantity"),
            format!("{quantity} units with modifier 50: a bilateral procedure is one line of 1 unit"),
            "set the units to 1 (50 already says both sides)",
        );
    }
    if let (Some(right), Some(left)) = (modifiers.right, modifiers.left) {
        out.add(
            FEE_RIGHT_AND_LEFT,
            at(right.max(left)),
            "RT and LT on the same line",
            "bill a bilateral procedure as one line with 50, or one line per side (RT on one, LT on the other)",
        );
    }
}

/// A quantity against a whole number, as decimals compare: in integers when the quantity has no places
/// (most have none), without decimal arithmetic.
fn against(quantity: Decimal, n: i64) -> std::cmp::Ordering {
    if quantity.scale() == 0 { quantity.mantissa().cmp(&i128::from(n)) } else { quantity.cmp(&Decimal::from(n)) }
}

/// Whether a quantity is a whole number; most are written without places, which says so at once.
fn is_whole(quantity: Decimal) -> bool {
    quantity.scale() == 0 || quantity.fract().is_zero()
}

fn check_npi(field: &'static str, npi: &Npi, out: &mut Findings) {
    // A good NPI (nearly all) is read once: the check digit holds only for a well-formed one.
    if npi.check_digit_ok() {
        return;
    }
    if !npi.is_well_formed() {
        out.add(
            edit::NPI_FORMAT,
            field,
            format!("{:?} is not an NPI: an NPI is 10 digits starting with 1 or 2", npi.as_str()),
            "re-key the NPI from NPPES",
        );
    } else {
        out.add(edit::NPI_CHECK_DIGIT, field, format!("{npi} fails the NPI check digit"), "re-key the NPI from NPPES");
    }
}

fn check_minutes(i: usize, line: &ClaimLine, out: &mut Findings) {
    use edit::*;
    let at = |field: &'static str| FieldPath::line(i).key(field);
    if line.unit_basis != UnitBasis::Minutes {
        out.add(
            ANESTHESIA_NOT_MINUTES,
            at("unit_basis"),
            "anesthesia time must be reported in minutes (MJ), not units",
            "set the unit basis to MJ and the quantity to the minutes",
        );
        return;
    }
    let minutes = line.quantity;
    if against(minutes, 0).is_le() {
        out.add(
            MINUTES_NOT_POSITIVE,
            at("quantity"),
            format!("{minutes} minutes"),
            "report the anesthesia time in minutes",
        );
        return;
    }
    if against(minutes, MAX_MINUTES.into()).is_gt() {
        out.add(
            MINUTES_IMPLAUSIBLE,
            at("quantity"),
            format!("{minutes} minutes is more than 24 hours"),
            "check the minutes; split a multi-day service by date",
        );
    }
    if let (Some(start), Some(end)) = (line.start_time, line.end_time) {
        if end <= start {
            out.add(
                TIMES_IMPOSSIBLE,
                at("end_time"),
                "the end time is not after the start time",
                "check the times (an anesthetic past midnight ends on the next day)",
            );
            return;
        }
        let elapsed = (end - start).whole_minutes();
        match against(minutes, elapsed) {
            std::cmp::Ordering::Greater => out.add(
                MINUTES_EXCEED_TIMES,
                at("quantity"),
                format!("{minutes} minutes billed but start to end is {elapsed} minutes"),
                "bill the documented anesthesia time",
            ),
            std::cmp::Ordering::Less => out.add(
                MINUTES_BELOW_TIMES,
                at("quantity"),
                format!("{minutes} minutes billed but start to end is {elapsed} minutes"),
                "fine if care was interrupted; otherwise bill the full time",
            ),
            std::cmp::Ordering::Equal => {}
        }
    }
}

/// What the line edits ask of the other lines of a claim, answered once per claim: a claim of thousands
/// of lines (CLM007) must not cost the square of its length.
struct ClaimLines<'r> {
    /// Each line's first earlier line of the same service (CPT005), for a claim longer than
    /// [`MAX_LINES`]; shorter ones are scanned, with no allocation.
    repeats: Option<Vec<Option<usize>>>,
    has_anesthesia_code: std::cell::OnceCell<bool>,
    /// The last fee-schedule line's date and its release: a claim's lines nearly always share one date.
    fee_schedule: std::cell::Cell<Option<(Date, Option<InForce<'r>>)>>,
}

impl<'r> ClaimLines<'r> {
    fn new(claim: &Claim) -> Self {
        let repeats = (claim.lines.len() > MAX_LINES).then(|| {
            let mut first = HashMap::with_capacity(claim.lines.len());
            let lines = claim.lines.iter().enumerate();
            lines
                .map(|(i, line)| match first.entry(service_key(line)) {
                    std::collections::hash_map::Entry::Occupied(earlier) => Some(*earlier.get()),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(i);
                        None
                    }
                })
                .collect()
        });
        ClaimLines {
            repeats,
            has_anesthesia_code: std::cell::OnceCell::new(),
            fee_schedule: std::cell::Cell::new(None),
        }
    }

    /// [`Reference::fee_schedule_on`], looked up again only when the date changes.
    fn fee_schedule_on(&self, reference: &'r Reference, date: Date) -> Option<InForce<'r>> {
        if let Some((known, in_force)) = self.fee_schedule.get()
            && known == date
        {
            return in_force;
        }
        let in_force = reference.fee_schedule_on(date);
        self.fee_schedule.set(Some((date, in_force)));
        in_force
    }

    /// The first line before line `i` that repeats its service (CPT005).
    fn first_repeated(&self, claim: &Claim, i: usize) -> Option<usize> {
        match &self.repeats {
            Some(repeats) => repeats[i],
            None => claim.lines[..i].iter().position(|other| same_service(other, &claim.lines[i])),
        }
    }

    /// Whether any line's code is in the anesthesia table (CPT004).
    fn has_anesthesia_code(&self, reference: &Reference, claim: &Claim) -> bool {
        *self
            .has_anesthesia_code
            .get_or_init(|| claim.lines.iter().any(|l| reference.codes.contains_key(&l.procedure_code)))
    }
}

/// What makes two lines the same service (CPT005) besides the quantity.
fn service(l: &ClaimLine) -> (CptCode, Date, &[ModifierCode], &str, Option<time::PrimitiveDateTime>) {
    (l.procedure_code, l.date_of_service, &l.modifiers, &l.case_id, l.start_time)
}

/// [`service`] and the quantity as a key, which a long claim hashes (90 and 90.0 minutes are one
/// quantity).
fn service_key(l: &ClaimLine) -> (CptCode, Date, &[ModifierCode], &str, Option<time::PrimitiveDateTime>, Decimal) {
    let (code, date, modifiers, case_id, start) = service(l);
    (code, date, modifiers, case_id, start, l.quantity.normalize())
}

/// [`service_key`]s equal, the quantity compared last and by value: most lines differ in code or
/// date, and normalising a quantity costs more than the rest of the comparison.
fn same_service(a: &ClaimLine, b: &ClaimLine) -> bool {
    service(a) == service(b) && a.quantity == b.quantity
}

/// The federal fiscal year of a date, which ICD-10-CM code sets follow (FY2026 began 2025-10-01).
fn fiscal_year(date: Date) -> i32 {
    date.year() + i32::from(date.month() >= time::Month::October)
}

/// The first and last dates of service of `lines`; `None` for no lines.
fn date_span<'a>(lines: impl IntoIterator<Item = &'a ClaimLine>) -> Option<(Date, Date)> {
    lines.into_iter().map(|l| l.date_of_service).fold(None, |span, dos| {
        Some(span.map_or((dos, dos), |(first, last): (Date, Date)| (first.min(dos), last.max(dos))))
    })
}

/// The first and last dates of service of the lines pointing at diagnosis `index`; `None` when none does.
fn pointing_dates(claim: &Claim, index: usize) -> Option<(Date, Date)> {
    let pointer = u32::try_from(index + 1).ok()?;
    date_span(claim.lines.iter().filter(|l| l.diagnosis_pointers.contains(&pointer)))
}

/// One base anesthesia code per anesthetic: the one with the highest base units carries all the time
/// (domain reference §1.1). A line's anesthetic is its case id on its date of service; lines whose case id
/// names no anesthetic ([`Claim::names_case`]) are told apart by their times ([`one_anesthetic_each`]).
/// Asked only of a claim with two anesthesia lines or more ([`Reference::check_line`] says which are).
fn check_cases(reference: &Reference, claim: &Claim, out: &mut Findings) {
    let mut cases: BTreeMap<(&str, Date), Vec<CaseLine>> = BTreeMap::new();
    for (index, line) in claim.lines.iter().enumerate() {
        if let Some(entry) = reference.codes.get(&line.procedure_code)
            && entry.service_type == ServiceType::Anesthesia
        {
            let times = line.start_time.zip(line.end_time);
            cases.entry((line.case_id.as_str(), line.date_of_service)).or_default().push(CaseLine {
                index,
                code: entry.code,
                units: entry.base_units,
                modifier: pricing_modifier(line),
                times,
            });
        }
    }
    for ((case, date), lines) in cases.iter_mut().filter(|(_, l)| l.len() > 1) {
        let anesthetics: Vec<&mut [CaseLine]> =
            if claim.names_case(case, *date) { vec![&mut lines[..]] } else { one_anesthetic_each(lines) };
        for lines in anesthetics.into_iter().filter(|l| l.len() > 1) {
            let Some(top) = lines.iter().max_by_key(|l| (l.units, std::cmp::Reverse(l.index))) else {
                continue;
            };
            let (top_code, top_units) = (top.code, top.units);
            for (n, line) in lines.iter().enumerate() {
                let (code, units) = (line.code, line.units);
                if code != top_code {
                    out.add(
                        edit::MULTIPLE_BASE_CODES,
                        FieldPath::line(line.index).key("procedure_code"),
                        format!("{code} ({units} base units) is a second base anesthesia code for the same anesthetic as {top_code} ({top_units} base units)"),
                        format!("report only {top_code} with the total time of all procedures (add-ons 01953, 01968, 01969 excepted)"),
                    );
                    continue;
                }
                // The top code again by the same provider (the same pricing modifier: a directing
                // physician's QK and the CRNA's QX are two providers' lines), its base units counted
                // twice. An exact repeat is CPT005's.
                let again = |earlier: &CaseLine| earlier.code == code && earlier.modifier == line.modifier;
                let lines_of = |l: &CaseLine| &claim.lines[l.index];
                if let Some(first) = lines[..n].iter().find(|&e| again(e))
                    && !same_service(lines_of(first), lines_of(line))
                {
                    out.add(
                        edit::MULTIPLE_BASE_CODES,
                        FieldPath::line(line.index).key("procedure_code"),
                        format!(
                            "{code} is reported again for the same anesthetic as line {}: its {units} base units would be paid twice",
                            first.index
                        ),
                        format!("report {code} once with the anesthetic's total time: separate blocks of time are added together"),
                    );
                }
            }
        }
    }
}

/// An anesthesia line of a claim, as CPT003 compares it.
struct CaseLine {
    index: usize,
    code: CptCode,
    units: u32,
    modifier: Option<ModifierCode>,
    times: Option<Interval>,
}

/// Splits one day's lines that name no case into anesthetics. Anesthesia time is continuous (42 CFR
/// 414.46(a)(3)), so lines whose times overlap, directly or through other lines, are one anesthetic, and
/// lines apart in time are separate anesthetics, as two cases of the day are. Times overlap as BAT003
/// counts them: one ending at 09:00 and one starting at 09:00 are apart. When a line has no times (or
/// times that end before they start, UNT004) nothing tells its anesthetic apart, so the day's lines stay
/// one anesthetic, as they were before times were compared.
/// Each anesthetic keeps its lines in claim order; the anesthetics go by their first start.
fn one_anesthetic_each(lines: &mut [CaseLine]) -> Vec<&mut [CaseLine]> {
    if lines.iter().any(|l| l.times.is_none_or(|(start, end)| start >= end)) {
        return vec![lines];
    }
    lines.sort_by_key(|l| (l.times, l.index));
    // The length of each run of lines whose times chain into one another.
    let mut runs = Vec::new();
    let mut open: Option<(usize, time::PrimitiveDateTime)> = None; // (lines in the run, its latest end)
    for (start, end) in lines.iter().filter_map(|l| l.times) {
        open = Some(match open {
            Some((count, latest)) if start < latest => (count + 1, latest.max(end)),
            Some((count, _)) => {
                runs.push(count);
                (1, end)
            }
            None => (1, end),
        });
    }
    runs.extend(open.map(|(count, _)| count));
    let mut anesthetics = Vec::with_capacity(runs.len());
    let mut rest = lines;
    for count in runs {
        let (run, after) = rest.split_at_mut(count.min(rest.len()));
        run.sort_by_key(|l| l.index);
        anesthetics.push(run);
        rest = after;
    }
    anesthetics
}

/// The edits that need the whole batch (BAT001-BAT009), added to the reports of `claims` (one report
/// per claim, in the same order; a claim the judge failed on keeps its error). [`Reference::validate_batch`]
/// runs them after judging each claim; a face that judges claims as they are read (Python's
/// `validate_many`) calls this once it has them all.
pub fn add_batch_findings(claims: &[Claim], reports: &mut [crate::Result<ValidationReport>], rules: &RuleBook) {
    for (claim_index, finding) in batch_findings(claims, rules) {
        if let Some(Ok(report)) = reports.get_mut(claim_index) {
            report.findings.push(finding);
        }
    }
}

/// The lines of one case that carry a pricing modifier: (claim index, line index, modifier).
type CaseLines = SmallVec<[(usize, usize, ModifierCode); 2]>;

/// Edits across claims: medical direction must pair up by case, and direction is at most four cases.
/// Returns (claim index, finding).
fn batch_findings(claims: &[Claim], rules: &RuleBook) -> Vec<(usize, Finding)> {
    // Hashed, not ordered: a batch has about as many cases as claims, and few of them have a finding.
    let mut by_case: HashMap<&str, CaseLines> = HashMap::new();
    for (c, claim) in live_claims(claims) {
        for (l, line) in claim.lines.iter().enumerate() {
            if let Some(modifier) = pricing_modifier(line).filter(|_| !line.case_id.is_empty()) {
                by_case.entry(line.case_id.as_str()).or_default().push((c, l, modifier));
            }
        }
    }
    let mut found: Vec<(&str, usize, Finding)> = Vec::new();
    for (&case, lines) in &by_case {
        let directed = lines.iter().any(|(_, _, m)| m.is_any(&DIRECTING));
        for &(c, l, modifier) in lines {
            match modifier.as_str() {
                "QX" if !directed => found.push((
                    case,
                    c,
                    batch_finding(
                        edit::QX_WITHOUT_DIRECTION,
                        l,
                        format!("case {case}: QX needs a QK, QY or AD line from the directing physician"),
                        "bill the physician's line, or QZ if the CRNA was not medically directed",
                    ),
                )),
                "QZ" if directed => found.push((
                    case,
                    c,
                    batch_finding(
                        edit::QZ_WITH_DIRECTION,
                        l,
                        format!("case {case}: QZ (not medically directed) beside a directing physician line"),
                        "bill QX when a physician directed the case",
                    ),
                )),
                _ => {}
            }
        }
        if let Some((shares, cap, rule_set)) = over_combined_cap(claims, lines, rules) {
            let percent = |share: Decimal| (share * Decimal::ONE_HUNDRED).normalize();
            for &(c, l, _) in lines {
                found.push((
                    case,
                    c,
                    batch_finding(
                        edit::OVER_COMBINED_CAP,
                        l,
                        format!(
                            "case {case}: its practitioners' claims are paid {}% of the case together under {rule_set}, whose combined cap is {}% of the physician-only amount",
                            percent(shares),
                            percent(cap)
                        ),
                        "cptkit prices each claim on its own: the payer pays the case at most the cap, so expect it to cut one of these claims",
                    ),
                ));
            }
        }
    }
    // By case id, each case's findings in line order (a stable sort): the order reports have always had.
    found.sort_by_key(|&(case, ..)| case);
    let mut out: Vec<(usize, Finding)> = found.into_iter().map(|(_, c, finding)| (c, finding)).collect();
    out.extend(direction_over_four(claims));
    out.extend(supervision_of_four_or_fewer(claims));
    out.extend(teaching_over_limit(claims));
    out.extend(personally_performed_concurrent(claims));
    out.extend(duplicate_claims(claims));
    out
}

/// A claim that is again in the batch: the same id from the same billing provider with the same
/// frequency code (a replacement, 7, or a void, 8, of a claim beside it is not a copy). A double load
/// or a resubmission sent as an original: each copy is judged and priced, so its amount counts twice.
/// Told on each later copy.
fn duplicate_claims(claims: &[Claim]) -> Vec<(usize, Finding)> {
    let mut first_at: HashMap<(&str, &str, &str), usize> = HashMap::with_capacity(claims.len());
    let mut out = Vec::new();
    for (c, claim) in claims.iter().enumerate() {
        let frequency = crate::claim::frequency_code(&claim.frequency_code);
        let key = (claim.claim_id.as_str(), claim.billing_provider_npi.as_str(), frequency);
        let first = *first_at.entry(key).or_insert(c);
        if first != c {
            let (id, npi) = (&claim.claim_id, &claim.billing_provider_npi);
            out.push((
                c,
                Finding::new(
                    edit::DUPLICATE_CLAIM,
                    "claim_id",
                    format!("claim {id} from billing provider {npi} with frequency code {frequency} is also item {first} of this batch"),
                    "send a corrected claim as a replacement (frequency code 7); drop a claim loaded twice: each copy is judged and priced",
                ),
            ));
        }
    }
    out
}

/// A case whose lines are on the claims of several practitioners (a physician's and an anesthetist's:
/// one claim has one rendering provider), under a rule set that caps their combined payment (Anthem
/// C-09002, Medicare Advantage: 100% of the physician-only amount; domain reference §2.2), with shares
/// that add up to more than the cap: (the shares, the cap, the rule set). Pricing caps a case within
/// one claim (`apply_combined_cap`); across claims only this tells. Each practitioner counts once, at
/// their largest share, so a replacement claim is not a second practitioner.
fn over_combined_cap(claims: &[Claim], lines: &CaseLines, rules: &RuleBook) -> Option<(Decimal, Decimal, String)> {
    // Most cases are one practitioner's: decided before any rule set is looked up.
    let npi = |&(c, ..): &(usize, usize, ModifierCode)| claims[c].rendering_provider.npi.as_str();
    let first = npi(lines.first()?);
    if lines.iter().all(|line| npi(line) == first) {
        return None;
    }
    let mut by_practitioner: SmallVec<[(&str, Decimal); 2]> = SmallVec::new();
    let mut capped: Option<(Decimal, &str)> = None;
    for &(c, l, modifier) in lines {
        let claim = &claims[c];
        let rule = rules.select(claim, claim.lines[l].date_of_service, None).ok()?;
        let share = *rule.shares.get(modifier.as_str())?;
        if let Some(cap) = rule.combined_cap {
            capped = Some((cap, rule.id.as_str()));
        }
        let npi = claim.rendering_provider.npi.as_str();
        match by_practitioner.iter_mut().find(|(p, _)| *p == npi) {
            Some((_, largest)) => *largest = (*largest).max(share),
            None => by_practitioner.push((npi, share)),
        }
    }
    let (cap, rule_set) = capped?;
    let shares: Decimal = by_practitioner.iter().map(|(_, share)| share).sum();
    (shares > cap).then(|| (shares, cap, rule_set.to_owned()))
}

/// The claims that bill services, with their index: a void (frequency 8) takes its services back, so it
/// pairs with no case and directs none.
fn live_claims(claims: &[Claim]) -> impl Iterator<Item = (usize, &Claim)> {
    claims.iter().enumerate().filter(|(_, claim)| claim.frequency_code != "8")
}

fn batch_finding(edit: Edit, line: usize, message: String, hint: &str) -> Finding {
    Finding::new(edit, FieldPath::line(line).key("modifiers").index(0), message, hint)
}

type Interval = (time::PrimitiveDateTime, time::PrimitiveDateTime);

/// One physician's cases of some kind: each case's time (from its lines' first start to their last
/// end), and each of its lines as (claim index, line index, its case).
#[derive(Default)]
struct Cases<'a> {
    by_id: HashMap<&'a str, usize>,
    times: Vec<Interval>,
    lines: Vec<(usize, usize, usize)>,
}

impl<'a> Cases<'a> {
    /// A line of case `case_id` (each line without one is a case of its own).
    fn add(&mut self, at: (usize, usize), case_id: &'a str, (start, end): Interval) {
        let case = match self.by_id.get(case_id).filter(|_| !case_id.is_empty()) {
            Some(&case) => {
                let times = &mut self.times[case];
                *times = (times.0.min(start), times.1.max(end));
                case
            }
            None => {
                self.times.push((start, end));
                if !case_id.is_empty() {
                    self.by_id.insert(case_id, self.times.len() - 1);
                }
                self.times.len() - 1
            }
        };
        self.lines.push((at.0, at.1, case));
    }
}

/// A physician billing QK/QY while directing more than four anesthetics at once was supervising, not
/// directing (42 CFR 415.110, mirrored at CA DWC 8 CCR 9789.18.3; domain reference §2.3). Each case is
/// judged by its peak: the most of the physician's directed cases running at one instant during it. A
/// case counts once however many lines or claims (a replacement, frequency 7) bill it. The same peak
/// tells a QY case that ran with another directed case (BAT004).
fn direction_over_four(claims: &[Claim]) -> Vec<(usize, Finding)> {
    let mut out = Vec::new();
    for (npi, c, l, peak) in lines_with_peaks(claims, |line| line.has_modifier("QK") || line.has_modifier("QY")) {
        if peak > 4 {
            out.push((
                c,
                batch_finding(
                    edit::DIRECTION_OVER_FOUR,
                    l,
                    format!("physician {npi} directs {peak} anesthetics at once during this case"),
                    "medical direction covers at most four concurrent cases: bill AD (supervision)",
                ),
            ));
        } else if peak > 1 && claims[c].lines[l].has_modifier("QY") {
            // QY is direction of one CRNA; two to four concurrent cases are QK (domain reference
            // §2.1-2.2). Paid alike (50%), so a warning.
            out.push((
                c,
                batch_finding(
                    edit::QY_CONCURRENT,
                    l,
                    format!("physician {npi} directs {peak} anesthetics at once during this QY case"),
                    "QY is direction of a single case: bill QK for two to four concurrent cases",
                ),
            ));
        }
    }
    out
}

/// AD is supervision of more than four concurrent cases (domain reference §2.2-2.3); billed on a case
/// that ran with at most four of the physician's directed or supervised cases at once, it is either
/// direction that failed one of its seven conditions (then AD stands) or QK billed as AD, which pays 3
/// (+1) units instead of 50% of the case. A warning: only the record can tell which.
fn supervision_of_four_or_fewer(claims: &[Claim]) -> Vec<(usize, Finding)> {
    let directing = |line: &ClaimLine| line.modifiers.iter().any(|m| m.is_any(&DIRECTING));
    let few = |line: &ClaimLine, peak: usize| line.has_modifier("AD") && (1..=4).contains(&peak);
    concurrency_findings(
        claims,
        directing,
        few,
        edit::SUPERVISION_OF_FEW,
        |npi, peak| format!("physician {npi} directs or supervises {peak} anesthetics at once during this AD case"),
        "AD is for more than four concurrent cases: bill QK unless medical direction's conditions were not met",
    )
}

/// From 2010-01-01 a teaching anesthesiologist is paid the personally performed rate (AA + GC) for one
/// resident case, two concurrent resident cases, or one resident case concurrent with one directed case
/// (domain reference §2.4). A resident case running with two or more of the physician's other cases
/// (resident, directed or personally performed) at one instant is medical direction: QK, at 50%.
fn teaching_over_limit(claims: &[Claim]) -> Vec<(usize, Finding)> {
    const TEACHING_RULE_FROM: Date = time::macros::date!(2010 - 01 - 01);
    let involved = |line: &ClaimLine| ["AA", "QK", "QY"].iter().any(|m| line.has_modifier(m));
    let over = |line: &ClaimLine, peak: usize| {
        line.has_modifier("AA") && line.has_modifier("GC") && line.date_of_service >= TEACHING_RULE_FROM && peak > 2
    };
    concurrency_findings(
        claims,
        involved,
        over,
        edit::TEACHING_OVER_LIMIT,
        |npi, peak| format!("physician {npi} is in {peak} anesthetics at once during this resident case"),
        "AA + GC covers two concurrent resident cases, or one resident case and one directed case: bill QK (medical direction)",
    )
}

/// AA is the physician alone on one case (domain reference §2.2); a physician in two or more cases at
/// once is directing (§2.3: two to four concurrent cases are QK, at 50%), except a teaching physician's
/// resident cases (AA + GC, judged by BAT005). A warning: cptkit infers it from those rules, and a
/// mistyped time makes two cases overlap as well.
fn personally_performed_concurrent(claims: &[Claim]) -> Vec<(usize, Finding)> {
    let involved = |line: &ClaimLine| ["AA", "AD", "QK", "QY"].iter().any(|m| line.has_modifier(m));
    let over = |line: &ClaimLine, peak: usize| line.has_modifier("AA") && !line.has_modifier("GC") && peak > 1;
    concurrency_findings(
        claims,
        involved,
        over,
        edit::PERSONALLY_PERFORMED_CONCURRENT,
        |npi, peak| {
            format!("physician {npi} is in {peak} anesthetics at once during this personally performed (AA) case")
        },
        "AA is a case the physician performs alone: bill QK (medical direction) for concurrent cases, AA + GC for a resident case, or correct the times",
    )
}

/// `edit` on each line `told` picks, given the line and its peak among the lines `counted` keeps
/// ([`lines_with_peaks`]); its message from the physician's NPI and the peak.
fn concurrency_findings(
    claims: &[Claim],
    counted: impl Fn(&ClaimLine) -> bool,
    told: impl Fn(&ClaimLine, usize) -> bool,
    edit: Edit,
    message: impl Fn(&str, usize) -> String,
    hint: &str,
) -> Vec<(usize, Finding)> {
    let picked =
        lines_with_peaks(claims, counted).into_iter().filter(|&(_, c, l, peak)| told(&claims[c].lines[l], peak));
    picked.map(|(npi, c, l, peak)| (c, batch_finding(edit, l, message(npi, peak), hint))).collect()
}

/// Each timed line `counted` keeps, as (its physician's NPI, claim index, line index, peak): the peak is
/// the most of that physician's counted cases running at one instant during the line's case, a case
/// counted once however many lines or claims bill it.
fn lines_with_peaks(claims: &[Claim], counted: impl Fn(&ClaimLine) -> bool) -> Vec<(&str, usize, usize, usize)> {
    let mut per_physician: BTreeMap<&str, Cases> = BTreeMap::new();
    for (c, claim) in live_claims(claims) {
        for (l, line) in claim.lines.iter().enumerate() {
            if let (Some(start), Some(end), true) = (line.start_time, line.end_time, counted(line)) {
                let cases = per_physician.entry(claim.rendering_provider.npi.as_str()).or_default();
                cases.add((c, l), &line.case_id, (start, end));
            }
        }
    }
    let mut out = Vec::new();
    for (npi, cases) in per_physician {
        let peaks = peak_concurrency(&cases.times);
        out.extend(cases.lines.iter().map(|&(c, l, case)| (npi, c, l, peaks[case])));
    }
    out
}

/// For each interval, the most of `intervals` running at one instant while it runs, itself included.
/// CMS counts concurrency as "the maximum number of procedures that the physician is medically
/// directing within the context of a single procedure and whether these other procedures overlap each
/// other" (IOM 100-04 ch.12 §50, mirrored at CA DWC 8 CCR 9789.18.4): two cases that each overlap this
/// one but not each other are never directed together, so they are not both counted.
///
/// An interval runs from its start up to, not including, its end: a case ending at 09:00 and one
/// starting at 09:00 never run together (the convention BAT003 has always had). An interval that does
/// not end after it starts runs at no instant (UNT004 reports it): it counts in no peak, and its own
/// peak is 0.
///
/// A physician's year holds thousands of directed cases, so this is O(n log n), not a comparison of
/// every pair. The running count only rises at a start, so an interval's peak is the highest count
/// just after one of the starts in [its start, its end) (its own start is one). The count at each
/// sorted start comes from the sorted starts and ends; the highest over a run of starts is a
/// range-maximum query, answered from a sparse table (the maximum of every run of 2^k starts).
fn peak_concurrency(intervals: &[Interval]) -> Vec<usize> {
    let (mut starts, mut ends): (Vec<_>, Vec<_>) = intervals.iter().filter(|(s, e)| s < e).copied().unzip();
    starts.sort_unstable();
    ends.sort_unstable();
    // Running just after `at`: started at or before it and not yet ended (one ending at `at` is over).
    let running = |at| starts.partition_point(|&s| s <= at) - ends.partition_point(|&e| e <= at);
    let peaks = RangeMax::new(starts.iter().map(|&at| running(at)).collect());
    intervals
        .iter()
        .map(|&(start, end)| peaks.max(starts.partition_point(|&s| s < start), starts.partition_point(|&s| s < end)))
        .collect()
}

/// Range maximums over a fixed list: `levels[k][i]` is the maximum of the 2^k values from `i`.
struct RangeMax {
    levels: Vec<Vec<usize>>,
}

impl RangeMax {
    fn new(values: Vec<usize>) -> Self {
        let mut levels = vec![values];
        let mut width = 1;
        while let Some(last) = levels.last().filter(|l| l.len() > width) {
            let next = last.iter().zip(last.iter().skip(width)).map(|(a, b)| *a.max(b)).collect();
            levels.push(next);
            width *= 2;
        }
        RangeMax { levels }
    }

    /// The maximum of the values at `from..to`, 0 for an empty range: two runs of 2^k that cover it.
    fn max(&self, from: usize, to: usize) -> usize {
        let Some(len) = to.checked_sub(from).filter(|&len| len > 0) else {
            return 0;
        };
        let k = len.ilog2() as usize;
        let level = self.levels.get(k).map_or(&[][..], Vec::as_slice);
        let at = |i: usize| level.get(i).copied().unwrap_or(0);
        at(from).max(at(to - (1 << k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweep agrees with counting, minute by minute, the cases running at each minute of each case;
    /// ties, empty and backwards intervals included.
    #[test]
    fn peak_concurrency_is_the_busiest_minute_of_each_case() {
        let at = |minute: i64| time::macros::datetime!(2025-06-01 07:00) + time::Duration::minutes(minute);
        // A small deterministic spread: many ties, some zero-length and some backwards intervals.
        let intervals: Vec<Interval> = (0..300_i64)
            .map(|i| {
                let start = (i * 37) % 240;
                let length = (i * 53) % 90 - 10;
                (at(start), at(start + length))
            })
            .collect();
        let running = |t| intervals.iter().filter(|&&(s, e)| s <= t && t < e).count();
        let by_minute: Vec<usize> = intervals
            .iter()
            .map(|&(start, end)| {
                let minutes = (end - start).whole_minutes().max(0);
                (0..minutes).map(|m| running(start + time::Duration::minutes(m))).max().unwrap_or(0)
            })
            .collect();
        assert_eq!(peak_concurrency(&intervals), by_minute);
        assert!(intervals.iter().any(|(s, e)| s == e) && intervals.iter().any(|(s, e)| s > e));
        assert!(by_minute.iter().any(|&peak| peak > 4));
    }

    /// Statuses D, F, G and H left CMS's files in 2006, so no embedded row shows them: the table is
    /// checked here. A deletion speaks for every payer; the rest only for Medicare.
    #[test]
    fn status_edits_by_payer() {
        let id = |status: u8, medicare: bool| status_edit(status, medicare).map(|(e, _)| e.id);
        for (status, medicare, other) in [
            (b'A', None, None),
            (b'R', None, None),
            (b'T', None, None),
            (b'J', None, None),
            (b'D', Some("PFS003"), Some("PFS003")),
            (b'F', Some("PFS003"), Some("PFS003")),
            (b'H', Some("PFS003"), Some("PFS003")),
            (b'I', Some("PFS002"), None),
            (b'G', Some("PFS002"), None),
            (b'E', Some("PFS004"), None),
            (b'X', Some("PFS004"), None),
            (b'N', Some("PFS004"), None),
            (b'M', Some("PFS004"), None),
            (b'B', Some("PFS005"), None),
            (b'P', Some("PFS005"), None),
            (b'C', Some("PFS006"), None),
        ] {
            assert_eq!((id(status, true), id(status, false)), (medicare, other), "status {}", char::from(status));
        }
    }
}
