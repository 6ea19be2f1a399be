//! Claim validation ("scrubbing"). Findings are data, not errors: each has a stable edit id, a severity,
//! the field path it points at, a plain message and a hint to fix it.

use std::collections::BTreeMap;

use serde::Serialize;
use time::Date;

use crate::claim::{Claim, ClaimLine, ProviderRole, UnitBasis};
use crate::ids::{CptCode, DiagnosisCode, ModifierCode, Npi};
use crate::model::{Known, ModifierCategory, ServiceType};
use crate::path::FieldPath;
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
        UNKNOWN_CODE = "CPT001", Error, "procedure code unknown to cptkit's anesthesia tables";
        NOT_ANESTHESIA = "CPT002", Error, "a non-anesthesia code is reported in anesthesia minutes";
        MULTIPLE_BASE_CODES = "CPT003", Error, "more than one base anesthesia code for one anesthetic";
        QC_WITHOUT_ANESTHESIA = "CPT004", Error, "qualifying-circumstance code without an anesthesia line";
        DUPLICATE_LINE = "CPT005", Error, "duplicate service line";
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
        UNKNOWN_PLACE_OF_SERVICE = "POS001", Error, "place of service code is not assigned";
        PLACE_OF_SERVICE_NOT_TYPICAL = "POS002", Warning, "place of service not typical for this code";
        SERVICE_IN_FUTURE = "DAT001", Error, "date of service is in the future";
        BORN_AFTER_SERVICE = "DAT002", Error, "patient born after the date of service";
        QX_WITHOUT_DIRECTION = "BAT001", Warning, "QX line without a directing physician line for the case";
        QZ_WITH_DIRECTION = "BAT002", Error, "QZ line beside a directing physician line";
        DIRECTION_OVER_FOUR = "BAT003", Error, "more than four concurrent directed cases: bill AD";
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
    pub claim_id: String,
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
/// ICD-10-CM replaced ICD-9-CM for services from this date (HIPAA code sets, 45 CFR 162.1002).
const ICD10_START: Date = time::macros::date!(2015 - 10 - 01);

fn has(line: &ClaimLine, modifier: &str) -> bool {
    line.modifiers.iter().any(|m| m.is_any(&[modifier]))
}

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
        let mut out = Findings(Vec::new());
        self.check_header(claim, &mut out);
        for (i, line) in claim.lines.iter().enumerate() {
            self.check_line(claim, i, line, context, &mut out);
        }
        check_cases(self, claim, &mut out);
        ValidationReport { claim_id: claim.claim_id.clone(), findings: out.0 }
    }

    /// Validates each claim through the one judge, then runs the edits that need the whole batch
    /// (physician and anesthetist lines of one case are usually on different claims). Reports come
    /// back in claim order; a bug met on one claim is that claim's error, the others are reported.
    /// Validation only: pricing judges claims one at a time, without the batch edits.
    pub fn validate_batch(&self, claims: &[Claim], today: Option<Date>) -> Vec<crate::Result<ValidationReport>> {
        let options = crate::JudgeOptions { today, pricing: None };
        let mut reports: Vec<crate::Result<ValidationReport>> =
            claims.iter().map(|c| self.judge(c, &options, crate::RuleBook::embedded()).map(|j| j.report)).collect();
        for (claim_index, finding) in batch_findings(claims) {
            if let Ok(report) = &mut reports[claim_index] {
                report.findings.push(finding);
            }
        }
        reports
    }

    fn check_header(&self, claim: &Claim, out: &mut Findings) {
        use edit::*;
        if claim.lines.is_empty() {
            out.add(CLAIM_NO_LINES, "lines", "the claim has no service lines", "add at least one line");
        }
        if !matches!(claim.frequency_code.as_str(), "1" | "7" | "8") {
            out.add(
                CLAIM_FREQUENCY,
                "frequency_code",
                format!("frequency code {:?} is not 1 (original), 7 (replacement) or 8 (void)", claim.frequency_code),
                "use 1 for a new claim",
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
                "use the CMS place-of-service code where the anesthesia was given (21 inpatient, 22 outpatient, 24 ASC)",
            );
        }
        self.check_taxonomy_and_role(claim, out);
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
        let first_service = claim.lines.iter().map(|l| l.date_of_service).min();
        for (i, code) in claim.diagnoses.iter().enumerate() {
            self.check_diagnosis(FieldPath::field("diagnoses").index(i), code, first_service, out);
        }
        if let Some(dos) = first_service
            && claim.patient.birth_date > dos
        {
            out.add(
                BORN_AFTER_SERVICE,
                "patient.birth_date",
                "the birth date is after the date of service",
                "check the birth date and the service dates",
            );
        }
    }

    /// One diagnosis: the code set for the date (ICD-9-CM before 2015-10-01, ICD-10-CM since), then
    /// whether the ICD-10-CM code exists, is billable and was valid on the date.
    fn check_diagnosis(&self, loc: FieldPath, code: &DiagnosisCode, first_service: Option<Date>, out: &mut Findings) {
        use edit::*;
        let icd10_era = first_service.is_none_or(|dos| dos >= ICD10_START);
        let code = match code {
            DiagnosisCode::Icd9(_) if icd10_era => {
                return out.add(
                    DIAGNOSIS_CODE_SET,
                    loc,
                    format!("{code} is an ICD-9-CM code; services since {ICD10_START} are coded in ICD-10-CM"),
                    "code the diagnosis in ICD-10-CM",
                );
            }
            DiagnosisCode::Icd9(_) => {
                return out.add(
                    ICD9_NOT_CHECKED,
                    loc,
                    format!("{code} is an ICD-9-CM code (service before {ICD10_START}); cptkit holds ICD-10-CM only and did not check it"),
                    "check the code against the ICD-9-CM code set of the date of service",
                );
            }
            DiagnosisCode::Other(_) => {
                return out.add(
                    UNKNOWN_DIAGNOSIS,
                    loc,
                    format!("{code} is not an ICD-10-CM code: a letter, a digit, a third character, then up to 4 more after a dot (M54.50)"),
                    "check the code against the ICD-10-CM tabular",
                );
            }
            DiagnosisCode::Icd10(code) => code,
        };
        if !icd10_era {
            return out.add(
                DIAGNOSIS_CODE_SET,
                loc,
                format!("{code} is an ICD-10-CM code, but services before {ICD10_START} are coded in ICD-9-CM"),
                "code the diagnosis in ICD-9-CM, or check the date of service",
            );
        }
        let Ok(Some((billable, valid_through))) = self.diagnosis_status(code) else {
            return out.add(
                UNKNOWN_DIAGNOSIS,
                loc,
                format!("{code} is not in the ICD-10-CM code set"),
                "check the code against the ICD-10-CM tabular",
            );
        };
        let deleted = valid_through.zip(first_service).is_some_and(|(end, dos)| dos > end);
        if !deleted && billable {
            return;
        }
        // Rare: build the full record for the message.
        let Ok(dx) = self.diagnosis(code) else { return };
        if deleted {
            let replacements: Vec<String> = dx.replaced_by.iter().map(ToString::to_string).collect();
            out.add(
                DIAGNOSIS_DELETED,
                loc,
                format!("{code} ({}) was valid only through {}", dx.title, dx.valid_through.unwrap_or(Date::MIN)),
                format!("use one of {}", replacements.join(", ")),
            );
        } else {
            out.add(
                DIAGNOSIS_NOT_BILLABLE,
                loc,
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

    fn check_line(&self, claim: &Claim, i: usize, line: &ClaimLine, context: &ValidationContext, out: &mut Findings) {
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
        if line.modifiers.len() > 4 {
            out.add(
                TOO_MANY_MODIFIERS,
                at("modifiers"),
                format!("{} modifiers; a line holds at most four", line.modifiers.len()),
                "keep the pricing modifier first and at most three more",
            );
        }
        self.check_pointers(claim, i, line, out);
        let qualifying = self.qualifying_circumstances.iter().any(|qc| qc.code == code);
        match self.codes.get(&code) {
            Some(entry) => {
                self.check_modifiers(claim, i, line, out);
                if entry.service_type != ServiceType::UnlistedAnesthesia {
                    check_minutes(i, line, out);
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
                self.check_relevance(claim, i, line, out);
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
                    let anesthesia_only = self.modifier(*modifier).is_ok_and(|d| {
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
                if qualifying && !claim.lines.iter().any(|l| self.codes.contains_key(&l.procedure_code)) {
                    out.add(
                        QC_WITHOUT_ANESTHESIA,
                        at("procedure_code"),
                        format!("{code} is a qualifying-circumstance add-on but the claim has no anesthesia line"),
                        "report it beside the anesthesia code it qualifies",
                    );
                }
            }
        }
        if let Some(first) = claim.lines[..i].iter().position(|other| same_service(other, line)) {
            out.add(
                DUPLICATE_LINE,
                at("procedure_code"),
                format!("line {i} repeats line {first}"),
                "remove the duplicate or correct one of the lines",
            );
        }
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
        let pricing: Vec<(usize, &ModifierCode)> =
            line.modifiers.iter().enumerate().filter(|(_, m)| m.is_any(&PRICING)).collect();
        match pricing.as_slice() {
            [] => out.add(
                MISSING_PRICING_MODIFIER,
                FieldPath::line(i).key("modifiers"),
                "no pricing modifier (AA, AD, QK, QX, QY or QZ)",
                "put the modifier that says who gave the anesthesia, and how, in the first position",
            ),
            [(position, modifier)] if *position != 0 => out.add(
                PRICING_MODIFIER_POSITION,
                at(*position),
                format!("{modifier} is in position {}; payers read the pricing modifier from the first", position + 1),
                "move it to the first position",
            ),
            [_] => {}
            [_, rest @ ..] => {
                for (position, modifier) in rest {
                    out.add(
                        CONFLICTING_PRICING_MODIFIERS,
                        at(*position),
                        format!("{modifier} conflicts with another pricing modifier on the same line"),
                        "keep exactly one of AA, AD, QK, QX, QY, QZ",
                    );
                }
            }
        }
        let mut physical_status = 0;
        for (m, modifier) in line.modifiers.iter().enumerate() {
            match self.modifier(*modifier).map(|d| d.category) {
                Err(_) => out.add(
                    UNKNOWN_ANESTHESIA_MODIFIER,
                    at(m),
                    format!("{modifier} is not an anesthesia modifier"),
                    "check the modifier; anesthesia lines use AA/AD/QK/QX/QY/QZ, QS/G8/G9, GC, 23, 47 and P1-P6",
                ),
                Ok(ModifierCategory::Informational | ModifierCategory::Teaching | ModifierCategory::Cpt)
                    if m == 0 && modifier.as_str() != "47" =>
                {
                    out.add(
                        INFORMATIONAL_MODIFIER_POSITION,
                        at(m),
                        format!("{modifier} is informational and belongs after the pricing modifier"),
                        "put the pricing modifier first and this one after it",
                    )
                }
                Ok(ModifierCategory::PhysicalStatus) => {
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
                Ok(_) => {}
            }
        }
        if has(line, "GC") && !has(line, "AA") && !has(line, "QK") {
            out.add(
                GC_WITHOUT_AA_OR_QK,
                FieldPath::line(i).key("modifiers"),
                "GC is reported with AA or QK, never alone",
                "add AA (teaching rules) or QK",
            );
        }
        if let Some(modifier) = pricing_modifier(line) {
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
        let allowed = match modifier.as_str() {
            "QX" | "QZ" => matches!(role, ProviderRole::Crna | ProviderRole::AnesthesiologistAssistant),
            _ => role.is_physician(),
        };
        if !allowed {
            let position = line.modifiers.iter().position(|m| *m == modifier).unwrap_or(0);
            let who = match modifier.as_str() {
                "QX" | "QZ" => "a CRNA or anesthesiologist assistant",
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

    fn check_relevance(&self, claim: &Claim, i: usize, line: &ClaimLine, out: &mut Findings) {
        let typical = || self.families_of(line.procedure_code).flat_map(|f| &f.diagnoses);
        if typical().next().is_none() {
            return; // nothing curated for this code: no opinion
        }
        let pointed =
            || line.diagnosis_pointers.iter().filter_map(|&p| claim.diagnoses.get((p as usize).checked_sub(1)?));
        if pointed().next().is_none() || pointed().any(|d| typical().any(|t| Some(&t.code) == d.icd10())) {
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

fn check_npi(field: &'static str, npi: &Npi, out: &mut Findings) {
    if !npi.is_well_formed() {
        out.add(
            edit::NPI_FORMAT,
            field,
            format!("{:?} is not an NPI: an NPI is 10 digits starting with 1 or 2", npi.as_str()),
            "re-key the NPI from NPPES",
        );
    } else if !npi.check_digit_ok() {
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
    if minutes <= rust_decimal::Decimal::ZERO {
        out.add(
            MINUTES_NOT_POSITIVE,
            at("quantity"),
            format!("{minutes} minutes"),
            "report the anesthesia time in minutes",
        );
        return;
    }
    if minutes > rust_decimal::Decimal::from(MAX_MINUTES) {
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
        let elapsed = rust_decimal::Decimal::from((end - start).whole_minutes());
        if minutes > elapsed {
            out.add(
                MINUTES_EXCEED_TIMES,
                at("quantity"),
                format!("{minutes} minutes billed but start to end is {elapsed} minutes"),
                "bill the documented anesthesia time",
            );
        } else if minutes < elapsed {
            out.add(
                MINUTES_BELOW_TIMES,
                at("quantity"),
                format!("{minutes} minutes billed but start to end is {elapsed} minutes"),
                "fine if care was interrupted; otherwise bill the full time",
            );
        }
    }
}

fn same_service(a: &ClaimLine, b: &ClaimLine) -> bool {
    a.procedure_code == b.procedure_code
        && a.modifiers == b.modifiers
        && a.date_of_service == b.date_of_service
        && a.quantity == b.quantity
        && a.case_id == b.case_id
        && a.start_time == b.start_time
}

/// One base anesthesia code per anesthetic: the one with the highest base units carries all the time.
fn check_cases(reference: &Reference, claim: &Claim, out: &mut Findings) {
    if claim.lines.len() < 2 {
        return; // most claims: nothing to compare
    }
    // (case id, date) -> (line index, code, base units)
    type Case = Vec<(usize, CptCode, u32)>;
    let mut cases: BTreeMap<(&str, Date), Case> = BTreeMap::new();
    for (i, line) in claim.lines.iter().enumerate() {
        if let Some(entry) = reference.codes.get(&line.procedure_code)
            && entry.service_type == ServiceType::Anesthesia
        {
            cases.entry((line.case_id.as_str(), line.date_of_service)).or_default().push((
                i,
                entry.code,
                entry.base_units,
            ));
        }
    }
    for lines in cases.values().filter(|l| l.len() > 1) {
        let Some(&(_, top_code, top_units)) = lines.iter().max_by_key(|(i, _, units)| (*units, std::cmp::Reverse(*i)))
        else {
            continue;
        };
        for &(i, code, units) in lines.iter().filter(|(_, code, _)| *code != top_code) {
            out.add(
                edit::MULTIPLE_BASE_CODES,
                FieldPath::line(i).key("procedure_code"),
                format!("{code} ({units} base units) is a second base anesthesia code for the same anesthetic as {top_code} ({top_units} base units)"),
                format!("report only {top_code} with the total time of all procedures (add-ons 01953, 01968, 01969 excepted)"),
            );
        }
    }
}

/// Edits across claims: medical direction must pair up by case, and direction is at most four cases.
/// Returns (claim index, finding).
fn batch_findings(claims: &[Claim]) -> Vec<(usize, Finding)> {
    let mut by_case: BTreeMap<&str, Vec<(usize, usize, ModifierCode)>> = BTreeMap::new();
    for (c, claim) in claims.iter().enumerate() {
        for (l, line) in claim.lines.iter().enumerate() {
            if let Some(modifier) = pricing_modifier(line).filter(|_| !line.case_id.is_empty()) {
                by_case.entry(line.case_id.as_str()).or_default().push((c, l, modifier));
            }
        }
    }
    let mut out = Vec::new();
    for (case, lines) in &by_case {
        let directed = lines.iter().any(|(_, _, m)| m.is_any(&DIRECTING));
        for &(c, l, modifier) in lines {
            match modifier.as_str() {
                "QX" if !directed => out.push((
                    c,
                    batch_finding(
                        edit::QX_WITHOUT_DIRECTION,
                        l,
                        format!("case {case}: QX needs a QK, QY or AD line from the directing physician"),
                        "bill the physician's line, or QZ if the CRNA was not medically directed",
                    ),
                )),
                "QZ" if directed => out.push((
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
    }
    out.extend(direction_over_four(claims));
    out
}

fn batch_finding(edit: Edit, line: usize, message: String, hint: &str) -> Finding {
    Finding::new(edit, FieldPath::line(line).key("modifiers").index(0), message, hint)
}

/// A physician billing QK/QY on more than four overlapping anesthetics was supervising, not directing.
fn direction_over_four(claims: &[Claim]) -> Vec<(usize, Finding)> {
    type Interval = (usize, usize, time::PrimitiveDateTime, time::PrimitiveDateTime);
    let mut per_physician: BTreeMap<&str, Vec<Interval>> = BTreeMap::new();
    for (c, claim) in claims.iter().enumerate() {
        for (l, line) in claim.lines.iter().enumerate() {
            if let (Some(start), Some(end), true) = (line.start_time, line.end_time, has(line, "QK") || has(line, "QY"))
            {
                per_physician.entry(claim.rendering_provider.npi.as_str()).or_default().push((c, l, start, end));
            }
        }
    }
    let mut out = Vec::new();
    for (npi, cases) in per_physician {
        for &(c, l, start, end) in &cases {
            let concurrent = cases.iter().filter(|(_, _, s, e)| *s < end && start < *e).count();
            if concurrent > 4 {
                out.push((
                    c,
                    batch_finding(
                        edit::DIRECTION_OVER_FOUR,
                        l,
                        format!("physician {npi} directs {concurrent} overlapping anesthetics at this time"),
                        "medical direction covers at most four concurrent cases: bill AD (supervision)",
                    ),
                ));
            }
        }
    }
    out
}
