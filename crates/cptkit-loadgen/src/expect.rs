//! What every request must answer, read once from the repository's fixtures:
//!
//! - GetCode: 00632 gives the golden profile (`code_profile_00632/profile.json`), 99999 NOT_FOUND,
//!   ABCDE INVALID_ARGUMENT;
//! - PriceClaim and ProcessClaims: every golden claim (`claims/*/claim.json`) gives the totals, lines
//!   and findings of its `expected.json`, or its error's status;
//! - ParseClaims: every 837 fixture (`x12/837p_*.x12`) gives what `cptkit_x12::read_837` reads from
//!   the same bytes.
//!
//! Answers describe a server on the embedded reference data (no `--data-dir` or `--benchmarks-dir`).
//! A mismatch is described by case name and field, never by claim contents.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cptkit_proto::pb;
use cptkit_proto::pb::parse_claims_response::Item;
use serde_json::Value;
use tonic::{Code, Status};

/// Why the fixtures could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

fn file_error(path: &Path, message: impl ToString) -> FixtureError {
    FixtureError::File { path: path.to_owned(), message: message.to_string() }
}

fn read_json(path: &Path) -> Result<Value, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    serde_json::from_str(&text).map_err(|e| file_error(path, e))
}

/// How one answer compared with what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The right answer (a value, or the status the case must give).
    Right,
    /// An answer that differs from the expected one: what differed.
    Wrong(String),
    /// A status the case does not give when served normally (shedding, transport, deadline, ...),
    /// and its message.
    Status(Code, String),
}

impl Outcome {
    pub(crate) fn from_check(result: Result<(), String>) -> Outcome {
        match result {
            Ok(()) => Outcome::Right,
            Err(why) => Outcome::Wrong(why),
        }
    }

    /// An error status: the right answer when it is the one the case gives, else counted by status.
    pub(crate) fn from_status(status: &Status, want: Option<Code>) -> Outcome {
        match want {
            Some(code) if code == status.code() => Outcome::Right,
            _ => Outcome::Status(status.code(), status.message().to_owned()),
        }
    }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want { Ok(()) } else { Err(format!("{what}: got {got:?}, want {want:?}")) }
}

/// Every request case and its answer.
#[derive(Debug)]
pub struct Expectations {
    pub get_code: Vec<GetCodeCase>,
    pub claims: Vec<ClaimCase>,
    pub x12: Vec<X12Case>,
}

impl Expectations {
    /// Reads `fixtures` (the repository's `tests/fixtures`); each 837 file is repeated `x12_repeat`
    /// times in one request (one interchange after another), to make ParseClaims requests heavier.
    pub fn load(fixtures: &Path, x12_repeat: usize) -> Result<Expectations, FixtureError> {
        Ok(Expectations {
            get_code: GetCodeCase::load(fixtures)?,
            claims: ClaimCase::load(&fixtures.join("claims"))?,
            x12: X12Case::load(&fixtures.join("x12"), x12_repeat.max(1))?,
        })
    }
}

/// A GetCode request and its answer.
#[derive(Debug)]
pub struct GetCodeCase {
    pub name: String,
    pub request: pb::GetCodeRequest,
    want: CodeWant,
}

#[derive(Debug)]
enum CodeWant {
    /// The golden profile as JSON; the first answer equal to it is kept, and later answers are
    /// compared with that one (the same message, without a JSON conversion per answer).
    Profile {
        golden: Value,
        verified: Box<OnceLock<pb::CodeProfile>>,
    },
    Status(Code),
}

impl GetCodeCase {
    fn load(fixtures: &Path) -> Result<Vec<GetCodeCase>, FixtureError> {
        let golden = read_json(&fixtures.join("code_profile_00632/profile.json"))?;
        let request =
            |code: &str| pb::GetCodeRequest { code: code.to_owned(), localities: Vec::new(), ..Default::default() };
        Ok(vec![
            GetCodeCase {
                name: "00632".into(),
                request: request("00632"),
                want: CodeWant::Profile { golden, verified: Box::default() },
            },
            GetCodeCase { name: "99999".into(), request: request("99999"), want: CodeWant::Status(Code::NotFound) },
            GetCodeCase {
                name: "ABCDE".into(),
                request: request("ABCDE"),
                want: CodeWant::Status(Code::InvalidArgument),
            },
        ])
    }

    pub fn check(&self, answer: Result<pb::GetCodeResponse, Status>) -> Outcome {
        let response = match (answer, &self.want) {
            (Err(status), CodeWant::Status(code)) => return Outcome::from_status(&status, Some(*code)),
            (Err(status), CodeWant::Profile { .. }) => return Outcome::from_status(&status, None),
            (Ok(_), CodeWant::Status(code)) => return Outcome::Wrong(format!("answered, want {code:?}")),
            (Ok(response), CodeWant::Profile { .. }) => response,
        };
        let CodeWant::Profile { golden, verified } = &self.want else {
            return Outcome::Wrong("unreachable case".into());
        };
        let Some(profile) = response.profile else {
            return Outcome::Wrong("no profile".into());
        };
        if let Some(known) = verified.get() {
            return Outcome::from_check(expect_eq("profile", &profile == known, true));
        }
        let json = cptkit_core::CodeProfile::try_from(profile.clone())
            .map_err(|e| format!("profile does not convert back: {e}"))
            .and_then(|core| serde_json::to_value(&core).map_err(|e| e.to_string()));
        match json {
            Ok(json) if &json == golden => {
                let _ = verified.set(profile);
                Outcome::Right
            }
            Ok(_) => Outcome::Wrong("profile differs from the golden profile.json".into()),
            Err(why) => Outcome::Wrong(why),
        }
    }
}

/// A golden claim: its PriceClaim request and answer (also one ProcessClaims request of a stream).
#[derive(Debug)]
pub struct ClaimCase {
    pub name: String,
    pub claim: pb::Claim,
    pub options: pb::PriceOptions,
    pub today: String,
    findings: BTreeSet<(String, String)>,
    want: PriceWant,
}

#[derive(Debug)]
enum PriceWant {
    Priced {
        total_cents: i64,
        lines: Vec<LineWant>,
    },
    /// The status PriceClaim gives, and its name in a ProcessClaims error.
    Error {
        code: Code,
        name: &'static str,
    },
}

#[derive(Debug)]
struct LineWant {
    allowed_cents: i64,
    total_units: String,
    conversion_factor: String,
    share: String,
    status: String,
}

/// "264.13" -> 26413.
fn cents(amount: &str) -> Result<i64, String> {
    let bad = || format!("amount {amount:?} is not a decimal with two places");
    let (units, fraction) = amount.split_once('.').ok_or_else(bad)?;
    if fraction.len() != 2 {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let fraction: i64 = fraction.parse().map_err(|_| bad())?;
    Ok(units * 100 + fraction)
}

/// expected.json's error kind -> the status and its canonical name.
fn code_for_kind(kind: &str) -> Option<(Code, &'static str)> {
    match kind {
        "invalid_input" => Some((Code::InvalidArgument, "INVALID_ARGUMENT")),
        "not_found" => Some((Code::NotFound, "NOT_FOUND")),
        "unsupported" | "conflict" => Some((Code::FailedPrecondition, "FAILED_PRECONDITION")),
        _ => None,
    }
}

fn finding_set<'a>(findings: impl IntoIterator<Item = &'a pb::Finding>) -> BTreeSet<(String, String)> {
    findings.into_iter().map(|f| (f.edit_id.clone(), f.field.clone())).collect()
}

impl ClaimCase {
    /// Every folder of `dir` with a claim.json and expected.json, by name.
    fn load(dir: &Path) -> Result<Vec<ClaimCase>, FixtureError> {
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| file_error(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("claim.json").is_file())
            .collect();
        folders.sort();
        let cases = folders.iter().map(|dir| ClaimCase::read(dir)).collect::<Result<Vec<_>, _>>()?;
        if cases.is_empty() {
            return Err(file_error(dir, "no claim.json cases"));
        }
        Ok(cases)
    }

    fn read(dir: &Path) -> Result<ClaimCase, FixtureError> {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let claim_path = dir.join("claim.json");
        let json = std::fs::read_to_string(&claim_path).map_err(|e| file_error(&claim_path, e))?;
        let claim = cptkit_core::Claim::from_json(&json).map_err(|e| file_error(&claim_path, e))?;
        let expected_path = dir.join("expected.json");
        let expected = read_json(&expected_path)?;
        let bad = |what: &str| file_error(&expected_path, what);

        let text = |key: &str| expected["price_options"][key].as_str().unwrap_or_default().to_owned();
        let payer_conversion_factors = expected["price_options"]["payer_conversion_factors"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(payer, cf)| (payer.clone(), cf.as_str().unwrap_or_default().to_owned()))
            .collect();
        let options = pb::PriceOptions {
            rule_set: text("rule_set"),
            conversion_factor: text("conversion_factor"),
            payer_conversion_factors,
            percent_of_medicare: text("percent_of_medicare"),
        };
        let findings = expected["findings"]
            .as_array()
            .ok_or_else(|| bad("findings: not a list"))?
            .iter()
            .map(|f| {
                (
                    f["edit_id"].as_str().unwrap_or_default().to_owned(),
                    f["field"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let want = match (&expected["priced"], &expected["price_error"]) {
            (Value::Object(priced), Value::Null) => {
                let string = |v: &Value, key: &str| {
                    v[key].as_str().map(str::to_owned).ok_or_else(|| bad(&format!("priced: no {key}")))
                };
                let total_cents = cents(&string(&expected["priced"], "total_allowed")?).map_err(|e| bad(&e))?;
                let lines = priced["lines"].as_array().ok_or_else(|| bad("priced.lines: not a list"))?;
                let case_status = expected["status"].as_str();
                let lines = lines
                    .iter()
                    .map(|line| {
                        // A line's own status, else the case's, else priced.
                        let status = line["status"].as_str().or(case_status).unwrap_or("priced");
                        Ok(LineWant {
                            allowed_cents: cents(&string(line, "allowed")?).map_err(|e| bad(&e))?,
                            total_units: string(line, "total_units")?,
                            conversion_factor: string(line, "conversion_factor")?,
                            share: string(line, "share")?,
                            status: format!("LINE_STATUS_{}", status.to_uppercase()),
                        })
                    })
                    .collect::<Result<Vec<_>, FixtureError>>()?;
                PriceWant::Priced { total_cents, lines }
            }
            (Value::Null, Value::Object(error)) => {
                let kind = error["kind"].as_str().unwrap_or_default();
                let (code, name) = code_for_kind(kind).ok_or_else(|| bad(&format!("price_error.kind {kind:?}")))?;
                PriceWant::Error { code, name }
            }
            _ => return Err(bad("needs priced or price_error")),
        };
        let today = expected["today"].as_str().ok_or_else(|| bad("no today"))?.to_owned();
        Ok(ClaimCase { name, claim: claim.into(), options, today, findings, want })
    }

    pub fn price_request(&self) -> pb::PriceClaimRequest {
        pb::PriceClaimRequest {
            claim: Some(self.claim.clone()),
            options: Some(self.options.clone()),
            today: self.today.clone(),
        }
    }

    pub fn process_request(&self, request_id: String) -> pb::ProcessClaimsRequest {
        pb::ProcessClaimsRequest {
            request_id,
            claim: Some(self.claim.clone()),
            price: true,
            options: Some(self.options.clone()),
            today: self.today.clone(),
        }
    }

    fn check_priced(&self, priced: Option<&pb::PricedClaim>) -> Result<(), String> {
        let PriceWant::Priced { total_cents, lines } = &self.want else {
            return Err("priced, want an error".into());
        };
        let priced = priced.ok_or("no priced claim")?;
        expect_eq("total_allowed_cents", priced.total_allowed_cents, *total_cents)?;
        expect_eq("lines", priced.lines.len(), lines.len())?;
        for (i, (line, want)) in priced.lines.iter().zip(lines).enumerate() {
            expect_eq(&format!("lines[{i}].allowed_cents"), line.allowed_cents, want.allowed_cents)?;
            expect_eq(&format!("lines[{i}].total_units"), &line.total_units, &want.total_units)?;
            expect_eq(&format!("lines[{i}].conversion_factor"), &line.conversion_factor, &want.conversion_factor)?;
            expect_eq(&format!("lines[{i}].share"), &line.share, &want.share)?;
            expect_eq(&format!("lines[{i}].status"), line.status().as_str_name(), want.status.as_str())?;
        }
        Ok(())
    }

    fn check_findings(&self, report: Option<&pb::ValidationReport>) -> Result<(), String> {
        let report = report.ok_or("no validation report")?;
        expect_eq("findings", finding_set(&report.findings), self.findings.clone())
    }

    pub fn check_price(&self, answer: Result<pb::PriceClaimResponse, Status>) -> Outcome {
        match (answer, &self.want) {
            (Err(status), PriceWant::Error { code, .. }) => Outcome::from_status(&status, Some(*code)),
            (Err(status), PriceWant::Priced { .. }) => Outcome::from_status(&status, None),
            (Ok(_), PriceWant::Error { code, .. }) => Outcome::Wrong(format!("priced, want {code:?}")),
            (Ok(response), PriceWant::Priced { .. }) => Outcome::from_check(
                self.check_priced(response.priced.as_ref())
                    .and_then(|()| self.check_findings(response.report.as_ref())),
            ),
        }
    }

    /// One answer of a ProcessClaims stream (its request id checked by the caller).
    pub fn check_process(&self, response: &pb::ProcessClaimsResponse) -> Result<(), String> {
        self.check_findings(response.report.as_ref())?;
        match (&self.want, &response.error) {
            (PriceWant::Priced { .. }, None) => self.check_priced(response.priced.as_ref()),
            (PriceWant::Priced { .. }, Some(error)) => Err(format!("error {}, want priced", error.code)),
            (PriceWant::Error { name, .. }, Some(error)) => expect_eq("error.code", error.code.as_str(), *name),
            (PriceWant::Error { name, .. }, None) => Err(format!("no error, want {name}")),
        }
    }
}

/// A ParseClaims request and every item it must stream.
#[derive(Debug)]
pub struct X12Case {
    pub name: String,
    pub request: pb::ParseClaimsRequest,
    want: Parsed,
}

/// The items of one ParseClaims answer, by kind (order kept within each kind).
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub transactions: usize,
    pub claims: Vec<pb::X12ParsedClaim>,
    pub rejected: Vec<pb::X12RejectedClaim>,
    pub errors: Vec<pb::X12Error>,
}

impl Parsed {
    pub fn push(&mut self, response: pb::ParseClaimsResponse) -> Result<(), String> {
        match response.item.ok_or("an answer with no item")? {
            Item::Transaction(_) => self.transactions += 1,
            Item::Claim(claim) => self.claims.push(claim),
            Item::Rejected(rejected) => self.rejected.push(rejected),
            Item::Error(error) => self.errors.push(error),
        }
        Ok(())
    }
}

/// The date validation would judge "the future" against; the reads here do not validate.
const X12_TODAY: &str = "2026-11-27";

impl X12Case {
    fn load(dir: &Path, repeat: usize) -> Result<Vec<X12Case>, FixtureError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| file_error(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("837p_")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(file_error(dir, "no 837p_*.x12 files"));
        }
        let mut cases = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|e| file_error(&path, e))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            cases.push(X12Case::new(name, bytes.repeat(repeat)));
        }
        Ok(cases)
    }

    /// A case for `bytes`, answered as `cptkit_x12::read_837` reads them (payer id BCBSOK -> bcbs-ok).
    pub fn new(name: String, bytes: Vec<u8>) -> X12Case {
        let mut options = cptkit_x12::ReadOptions::default();
        options.payer_ids.insert("BCBSOK".into(), "bcbs-ok".into());
        let file = cptkit_x12::read_837(&bytes[..], options);
        let want = Parsed {
            transactions: file.transactions.len(),
            claims: file.claims().cloned().map(Into::into).collect(),
            rejected: file.rejected().cloned().map(Into::into).collect(),
            errors: file.errors.iter().cloned().map(Into::into).collect(),
        };
        let read_options = pb::X12ReadOptions {
            medicare_locality: String::new(),
            payer_ids: [("BCBSOK".to_owned(), "bcbs-ok".to_owned())].into(),
            qualifying_apm_npis: Vec::new(),
        };
        let request = pb::ParseClaimsRequest {
            x12: bytes,
            read_options: Some(read_options),
            today: X12_TODAY.into(),
            validate: false,
        };
        X12Case { name, request, want }
    }

    /// Claims (and rejected claims) the answer holds.
    pub fn claims(&self) -> usize {
        self.want.claims.len() + self.want.rejected.len()
    }

    pub fn check(&self, got: &Parsed) -> Result<(), String> {
        expect_eq("transactions", got.transactions, self.want.transactions)?;
        expect_eq("claims", got.claims.len(), self.want.claims.len())?;
        expect_eq("rejected", got.rejected.len(), self.want.rejected.len())?;
        expect_eq("errors", got.errors.len(), self.want.errors.len())?;
        if got.claims != self.want.claims {
            return Err("claims differ from read_837's".into());
        }
        if got.rejected != self.want.rejected || got.errors != self.want.errors {
            return Err("rejected claims or errors differ from read_837's".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
    }

    #[test]
    fn fixtures_load() {
        let expectations = Expectations::load(&fixtures(), 2).expect("fixtures");
        assert!(expectations.claims.len() >= 19);
        assert!(expectations.x12.len() >= 5);
        assert!(expectations.x12.iter().any(|c| c.claims() > 0));
    }

    #[test]
    fn cents_parse() {
        assert_eq!(cents("264.13"), Ok(26413));
        assert!(cents("264.1").is_err());
        assert!(cents("264").is_err());
    }

    #[test]
    fn a_status_is_right_only_when_the_case_gives_it() {
        let expectations = Expectations::load(&fixtures(), 1).expect("fixtures");
        let missing = expectations.get_code.iter().find(|c| c.name == "99999").expect("case");
        assert_eq!(missing.check(Err(Status::not_found("99999"))), Outcome::Right);
        let shed = missing.check(Err(Status::resource_exhausted("busy")));
        assert_eq!(shed, Outcome::Status(Code::ResourceExhausted, "busy".into()));
        let golden = expectations.get_code.iter().find(|c| c.name == "00632").expect("case");
        let empty = pb::GetCodeResponse { profile: Some(pb::CodeProfile::default()) };
        assert!(matches!(golden.check(Ok(empty)), Outcome::Wrong(_)));
    }
}
