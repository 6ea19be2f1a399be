//! Core claims to 837P (005010X222A1). What the core claim does not hold (names, addresses) is
//! written from [`WriteOptions`] or as placeholders; what the 837 cannot hold is refused with the
//! field path, never dropped silently.

use std::io::Write;

use cptkit_core::{
    Claim, ClaimLine, DiagnosisCode, Error, ErrorKind, Location, Npi, PlanType, PostalCode, ProviderRole,
    RenderingProvider, UnitBasis, UsState,
};
use time::{Date, Duration};

use crate::p837::case_id_for;
use crate::segment::{DelimiterClash, Delimiters};
use crate::values::{format_cents, format_date8, format_decimal};

/// Envelope and sender details for writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    pub delimiters: Delimiters,
    /// Write a line break after each segment terminator (CRLF when `crlf`).
    pub line_breaks: bool,
    pub crlf: bool,
    /// ISA05/ISA06 and ISA07/ISA08 (qualifier, id); ids are padded to 15.
    pub sender: (String, String),
    pub receiver: (String, String),
    /// ISA13, and GS06 of the group; ST02 counts up from `first_transaction_control`.
    pub interchange_control: u32,
    pub group_control: u32,
    pub first_transaction_control: u32,
    /// ISA09/GS04 and ISA10/GS05.
    pub date: Date,
    pub time: (u8, u8),
    /// ISA15: P production, T test.
    pub usage: char,
    /// GS08 and ST03.
    pub implementation: String,
    pub submitter_name: String,
    pub receiver_name: String,
    pub billing_provider_name: String,
    pub billing_tax_id: String,
    /// 2010AA N3 and N4's city: the core claim holds no street or city, and the reader reads none back.
    pub billing_street: String,
    pub billing_city: String,
    /// 2010AA N4's state and ZIP for a claim without a `billing_provider_location`. The reader reads
    /// them back as the claim's own, and the ZIP sets the Medicare locality, so they are never made up:
    /// a claim without them, and none given here, is refused.
    pub billing_location: Option<Location>,
    /// PRV*BI*PXC in 2000A, when given.
    pub billing_taxonomy: Option<String>,
    /// Claims per ST/SE (the guide recommends at most 5000).
    pub claims_per_transaction: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            delimiters: Delimiters::default(),
            line_breaks: true,
            crlf: false,
            sender: ("ZZ".into(), "CPTKIT".into()),
            receiver: ("ZZ".into(), "RECEIVER".into()),
            interchange_control: 1,
            group_control: 1,
            first_transaction_control: 1,
            date: Date::from_calendar_date(2025, time::Month::January, 1).unwrap_or(Date::MIN),
            time: (12, 0),
            usage: 'P',
            implementation: "005010X222A1".into(),
            submitter_name: "CPTKIT".into(),
            receiver_name: "RECEIVER".into(),
            billing_provider_name: "BILLING PROVIDER".into(),
            billing_tax_id: "000000000".into(),
            billing_street: "1 MAIN ST".into(),
            billing_city: "ANYTOWN".into(),
            billing_location: None,
            billing_taxonomy: None,
            claims_per_transaction: 5000,
        }
    }
}

impl WriteOptions {
    /// The billing provider's state and postal code written for a claim (2010AA N4, required): the
    /// claim's location, else these options' [`WriteOptions::billing_location`], never one part from
    /// each (a ZIP given for another state would set another locality); an error naming the claim's
    /// field when the location used lacks a part.
    pub fn billing_location(&self, claim: &Claim) -> Result<Location, Error> {
        let location = claim.billing_provider_location.or(self.billing_location).unwrap_or_default();
        let missing = |name: &str| {
            Error::invalid(
                format!("billing_provider_location.{name}"),
                "is required in an 837 (2010AA N4): give the claim's billing location, or one to write for \
                 claims without one",
            )
        };
        location.state.ok_or_else(|| missing("state"))?;
        location.zip.ok_or_else(|| missing("zip"))?;
        Ok(location)
    }
}

struct Out<W: Write> {
    w: W,
    d: Delimiters,
    eol: &'static [u8],
    segments: u64,
    buf: Vec<u8>,
}

fn io(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("writing the 837 failed: {e}"))
}

impl<W: Write> Out<W> {
    /// Writes one segment from its elements; components inside an element are joined by the caller
    /// with [`Out::comp`]. Trailing empty elements are dropped, as X12 requires.
    fn seg(&mut self, elements: &[&str]) -> Result<(), Error> {
        let mut n = elements.len();
        while n > 1 && elements[n - 1].is_empty() {
            n -= 1;
        }
        self.buf.clear();
        for (i, e) in elements[..n].iter().enumerate() {
            if i > 0 {
                self.buf.push(self.d.element);
            }
            self.buf.extend_from_slice(e.as_bytes());
        }
        self.buf.push(self.d.segment);
        self.buf.extend_from_slice(self.eol);
        self.segments += 1;
        self.w.write_all(&self.buf).map_err(io)
    }

    fn comp(&self, parts: &[&str]) -> String {
        let mut n = parts.len();
        while n > 1 && parts[n - 1].is_empty() {
            n -= 1;
        }
        parts[..n].join(&char::from(self.d.component).to_string())
    }
}

/// Refuses text that holds a delimiter (X12 has no escape).
fn clean<'a>(d: &Delimiters, field: impl Fn() -> String, text: &'a str) -> Result<&'a str, Error> {
    if text.bytes().any(|b| d.contains(b) || b == b'\r' || b == b'\n') {
        return Err(Error::invalid(field(), format!("{text:?} holds an X12 delimiter or a line break")));
    }
    if text.trim() != text {
        // X12 readers trim elements: " 1" would be read back as "1", a different claim.
        return Err(Error::invalid(field(), format!("{text:?} has blanks around it, which X12 does not keep")));
    }
    Ok(text)
}

/// A claim's payer as SBR09 + NM1*PR: the payer id upper-cased as both name and identifier.
fn filing_indicator(plan: PlanType) -> &'static str {
    match plan {
        PlanType::MedicareFfs => "MB",
        PlanType::MedicareAdvantage => "16",
        PlanType::Commercial => "CI",
    }
}

/// True when `b` can be written in the same CLM as `a` (another part of the same split claim: same
/// header, another rendering provider).
fn same_claim(a: &Claim, b: &Claim) -> bool {
    a.claim_id == b.claim_id
        && a.payer == b.payer
        && a.place_of_service == b.place_of_service
        && a.frequency_code == b.frequency_code
        && a.patient == b.patient
        && a.billing_provider_npi == b.billing_provider_npi
        && a.diagnoses == b.diagnoses
        && a.service_facility_location == b.service_facility_location
        && a.billing_provider_location == b.billing_provider_location
        && a.rendering_provider != b.rendering_provider
}

/// Writes claims as one interchange with one functional group and as many transaction sets as
/// `claims_per_transaction` needs. Consecutive parts of a split claim (same claim id and header,
/// different rendering provider) are written back as one CLM with 2420A line providers.
pub fn write_837<W: Write>(w: W, claims: &[Claim], options: &WriteOptions) -> Result<(), Error> {
    let d = options.delimiters;
    let eol: &'static [u8] = match (options.line_breaks, options.crlf) {
        (false, _) => b"",
        (true, false) => b"\n",
        (true, true) => b"\r\n",
    };
    // Each delimiter its own, as the reader requires of an ISA (else the file does not read back).
    match d.clash() {
        None => {}
        Some(DelimiterClash::LetterOrDigit { field, byte }) => {
            return Err(Error::invalid(field, format!("{:?} is a letter or digit", char::from(byte))));
        }
        Some(DelimiterClash::Shared { field, earlier, byte }) => {
            let earlier = earlier.replace('_', " ");
            return Err(Error::invalid(field, format!("{:?} is also the {earlier}", char::from(byte))));
        }
    }
    if options.line_breaks && (d.contains(b'\n') || d.contains(b'\r')) && d.segment != b'\n' {
        return Err(Error::invalid("delimiters", "a line break cannot be both a delimiter and a line break"));
    }
    let eol: &'static [u8] = if d.segment == b'\n' { b"" } else { eol };
    for (field, value, max) in [
        ("sender", &options.sender.1, 15),
        ("receiver", &options.receiver.1, 15),
        ("sender", &options.sender.0, 2),
        ("receiver", &options.receiver.0, 2),
    ] {
        if value.len() > max || value.bytes().any(|b| d.contains(b) || !b.is_ascii_graphic() && b != b' ') {
            return Err(Error::invalid(field, format!("{value:?}: at most {max} printable characters, no delimiters")));
        }
    }
    if options.interchange_control > 999_999_999 {
        return Err(Error::invalid("interchange_control", "ISA13 holds at most 9 digits"));
    }
    let mut out = Out { w, d, eol, segments: 0, buf: Vec::with_capacity(256) };
    let date = format_date8(options.date);
    let time = format!("{:02}{:02}", options.time.0, options.time.1);
    let pad = |s: &str, n: usize| format!("{s:<n$}");
    let rep = d.repetition.map_or("U".to_owned(), |r| char::from(r).to_string());
    let isa13 = format!("{:09}", options.interchange_control);
    let comp = char::from(d.component).to_string();
    out.seg(&[
        "ISA",
        "00",
        &pad("", 10),
        "00",
        &pad("", 10),
        &pad(&options.sender.0, 2),
        &pad(&options.sender.1, 15),
        &pad(&options.receiver.0, 2),
        &pad(&options.receiver.1, 15),
        &date[2..],
        &time,
        &rep,
        "00501",
        &isa13,
        "0",
        &options.usage.to_string(),
        &comp,
    ])?;
    let gs06 = options.group_control.to_string();
    out.seg(&["GS", "HC", &options.sender.1, &options.receiver.1, &date, &time, &gs06, "X", &options.implementation])?;
    // Group claim parts into CLMs, then CLMs into transactions.
    // A part joins the CLM before it when the header is the same and its rendering provider is new to
    // that CLM (a reader groups lines by provider, so a provider seen twice would merge two parts).
    let mut clms: Vec<&[Claim]> = Vec::new();
    let mut start = 0;
    for i in 1..=claims.len() {
        let joins = i < claims.len() && claims[start..i].iter().all(|p| same_claim(p, &claims[i]));
        if !joins {
            clms.push(&claims[start..i]);
            start = i;
        }
    }
    let per = options.claims_per_transaction.max(1);
    let mut transactions = 0u32;
    let mut claim_index = 0usize;
    for chunk in clms.chunks(per) {
        let st02 = format!("{:04}", options.first_transaction_control + transactions);
        transactions += 1;
        let first_segment = out.segments;
        out.seg(&["ST", "837", &st02, &options.implementation])?;
        out.seg(&["BHT", "0019", "00", &st02, &date, &time, "CH"])?;
        out.seg(&["NM1", "41", "2", &options.submitter_name, "", "", "", "", "46", &options.sender.1])?;
        out.seg(&["PER", "IC", &options.submitter_name, "TE", "8005550100"])?;
        out.seg(&["NM1", "40", "2", &options.receiver_name, "", "", "", "", "46", &options.receiver.1])?;
        let mut hl = 0u32;
        let mut billing: Option<(BillingKey, u32)> = None;
        for parts in chunk {
            write_claim(&mut out, parts, claim_index, options, &mut hl, &mut billing)?;
            claim_index += parts.len();
        }
        let count = (out.segments - first_segment + 1).to_string();
        out.seg(&["SE", &count, &st02])?;
    }
    out.seg(&["GE", &transactions.to_string(), &gs06])?;
    out.seg(&["IEA", "1", &isa13])?;
    out.w.flush().map_err(io)
}

fn write_claim<W: Write>(
    out: &mut Out<W>,
    parts: &[Claim],
    first_index: usize,
    options: &WriteOptions,
    hl: &mut u32,
    billing: &mut Option<(BillingKey, u32)>,
) -> Result<(), Error> {
    let d = out.d;
    let claim = &parts[0];
    let at = |field: &str| format!("claims[{first_index}].{field}");
    let npi = claim.billing_provider_npi.as_str();
    let key = (claim.billing_provider_npi, claim.billing_provider_location);
    let billing_hl = match billing {
        Some((b, n)) if *b == key => *n,
        _ => {
            *hl += 1;
            let n = *hl;
            out.seg(&["HL", &n.to_string(), "", "20", "1"])?;
            if let Some(t) = &options.billing_taxonomy {
                out.seg(&["PRV", "BI", "PXC", t])?;
            }
            out.seg(&["NM1", "85", "2", &options.billing_provider_name, "", "", "", "", "XX", npi])?;
            let location = options.billing_location(claim).map_err(|e| e.at(format!("claims[{first_index}]")))?;
            let state = location.state.as_ref().map_or("", UsState::as_str);
            let zip = location.zip.as_ref().map_or("", PostalCode::as_str);
            out.seg(&["N3", &options.billing_street])?;
            out.seg(&["N4", &options.billing_city, state, zip])?;
            out.seg(&["REF", "EI", &options.billing_tax_id])?;
            *billing = Some((key, n));
            n
        }
    };
    *hl += 1;
    out.seg(&["HL", &hl.to_string(), &billing_hl.to_string(), "22", "0"])?;
    out.seg(&["SBR", "P", "18", "", "", "", "", "", "", filing_indicator(claim.payer.plan_type)])?;
    let member = clean(&d, || at("patient.member_id"), &claim.patient.member_id)?;
    let qualifier = if member.is_empty() { "" } else { "MI" };
    out.seg(&["NM1", "IL", "1", "PATIENT", "", "", "", "", qualifier, member])?;
    let birth = format_date8(claim.patient.birth_date);
    out.seg(&["DMG", "D8", &birth, "U"])?;
    let payer = clean(&d, || at("payer.id"), &claim.payer.id)?.to_ascii_uppercase();
    if payer.is_empty() {
        return Err(Error::invalid(at("payer.id"), "the payer id is empty"));
    }
    out.seg(&["NM1", "PR", "2", &payer, "", "", "", "", "PI", &payer])?;
    let claim_id = clean(&d, || at("claim_id"), &claim.claim_id)?;
    if claim_id.is_empty() || claim_id.len() > 38 {
        return Err(Error::invalid(at("claim_id"), "CLM01 holds 1 to 38 characters"));
    }
    let total: i64 = parts.iter().flat_map(|p| &p.lines).map(|l| l.charge_cents).sum();
    let frequency = clean(&d, || at("frequency_code"), &claim.frequency_code)?;
    let clm05 = out.comp(&[claim.place_of_service.as_str(), "B", frequency]);
    out.seg(&["CLM", claim_id, &format_cents(total), "", "", &clm05, "Y", "A", "Y", "Y"])?;
    if claim.diagnoses.len() > 12 {
        return Err(Error::invalid(at("diagnoses"), "an 837P claim holds at most 12 diagnoses"));
    }
    if !claim.diagnoses.is_empty() {
        let mut hi: Vec<String> = Vec::with_capacity(13);
        hi.push("HI".into());
        for (i, dx) in claim.diagnoses.iter().enumerate() {
            let code: String = dx.as_str().chars().filter(|&c| c != '.').collect();
            let qualifier = match (dx, i) {
                (DiagnosisCode::Icd9(_), 0) => "BK",
                (DiagnosisCode::Icd9(_), _) => "BF",
                (_, 0) => "ABK",
                _ => "ABF",
            };
            hi.push(out.comp(&[qualifier, clean(&d, || at(&format!("diagnoses[{i}]")), &code)?]));
        }
        let refs: Vec<&str> = hi.iter().map(String::as_str).collect();
        out.seg(&refs)?;
    }
    write_rendering(out, &claim.rendering_provider, || at("rendering_provider.role"))?;
    if let Some(location) = &claim.service_facility_location {
        // 2310C: the address line and city are not on the core claim.
        out.seg(&["NM1", "77", "2", "SERVICE FACILITY"])?;
        out.seg(&["N3", "ADDRESS NOT GIVEN"])?;
        let state = location.state.as_ref().map_or("", UsState::as_str);
        let zip = location.zip.as_ref().map_or("", PostalCode::as_str);
        out.seg(&["N4", "CITY NOT GIVEN", state, zip])?;
    }
    // A part with no lines would vanish (its provider is written only beside its lines).
    if let Some(p) = parts.iter().position(|part| part.lines.is_empty()) {
        let field = format!("claims[{}].lines", first_index + p);
        return Err(Error::invalid(field, "an 837P claim needs at least one service line (LX/SV1)"));
    }
    let mut lx = 0u32;
    for (p, part) in parts.iter().enumerate() {
        for (i, line) in part.lines.iter().enumerate() {
            lx += 1;
            if lx > 50 {
                return Err(Error::invalid(at("lines"), "an 837P claim holds at most 50 lines"));
            }
            let field = |f: &str| format!("claims[{}].lines[{i}].{f}", first_index + p);
            write_line(out, part, line, lx, &field)?;
            if p > 0 {
                let role = || format!("claims[{}].rendering_provider.role", first_index + p);
                write_rendering(out, &part.rendering_provider, role)?;
            }
        }
    }
    Ok(())
}

/// NM1*82 and, when the taxonomy is known, PRV*PE (2310B, or 2420A for a line). The 837 carries no
/// role, only the taxonomy the reader takes it from: a stated role the taxonomy does not imply would be
/// lost (and PRV001's or PRV003's answer with it), so it is refused, `role_field` naming it.
fn write_rendering<W: Write>(
    out: &mut Out<W>,
    r: &RenderingProvider,
    role_field: impl Fn() -> String,
) -> Result<(), Error> {
    let implied = r.taxonomy.and_then(ProviderRole::implied_by);
    if let Some(stated) = r.role.filter(|&stated| Some(stated) != implied) {
        let message = match r.taxonomy {
            Some(taxonomy) => format!(
                "role {stated} cannot be written: an 837P carries only the taxonomy ({taxonomy}), which does not imply it"
            ),
            None => format!(
                "role {stated} cannot be written: an 837P carries only a taxonomy (PRV*PE), and the claim gives none"
            ),
        };
        return Err(Error::invalid(role_field(), message));
    }
    out.seg(&["NM1", "82", "1", "RENDERING", "", "", "", "", "XX", r.npi.as_str()])?;
    if let Some(taxonomy) = r.taxonomy {
        out.seg(&["PRV", "PE", "PXC", taxonomy.as_str()])?;
    }
    Ok(())
}

/// What makes a new 2000A billing provider loop: the NPI and the address the claim gives.
type BillingKey = (Npi, Option<Location>);

fn write_line<W: Write>(
    out: &mut Out<W>,
    claim: &Claim,
    line: &ClaimLine,
    lx: u32,
    field: &dyn Fn(&str) -> String,
) -> Result<(), Error> {
    let d = out.d;
    out.seg(&["LX", &lx.to_string()])?;
    if line.modifiers.len() > 4 {
        return Err(Error::invalid(field("modifiers"), "an 837P line holds at most 4 modifiers"));
    }
    let mut sv101: Vec<&str> = vec!["HC", line.procedure_code.as_str()];
    sv101.extend(line.modifiers.iter().map(|m| m.as_str()));
    let sv101 = out.comp(&sv101);
    let unit = match line.unit_basis {
        UnitBasis::Minutes => "MJ",
        UnitBasis::Units => "UN",
    };
    if line.diagnosis_pointers.len() > 4 {
        return Err(Error::invalid(field("diagnosis_pointers"), "an 837P line holds at most 4 pointers"));
    }
    let pointers: Vec<String> = line.diagnosis_pointers.iter().map(u32::to_string).collect();
    let pointers: Vec<&str> = pointers.iter().map(String::as_str).collect();
    let sv107 = out.comp(&pointers);
    out.seg(&["SV1", &sv101, &format_cents(line.charge_cents), unit, &format_decimal(line.quantity), "", "", &sv107])?;
    out.seg(&["DTP", "472", "D8", &format_date8(line.date_of_service)])?;
    // The anesthesia note: times, a case id the reader would not derive, presence at induction.
    let mut note: Vec<String> = Vec::new();
    match (line.start_time, line.end_time) {
        (None, None) => {}
        (Some(start), Some(end)) => {
            let dos = line.date_of_service;
            let ok = start.date() == dos
                && end >= start
                && end - start < Duration::DAY
                && (end.date() == dos || (end.time() < start.time() && end.date() == dos.next_day().unwrap_or(dos)));
            if !ok {
                return Err(Error::invalid(
                    field("end_time"),
                    "an 837 note carries times on the date of service, ending within 24 hours",
                ));
            }
            note.push(format!("START {:02}{:02}", start.hour(), start.minute()));
            note.push(format!("STOP {:02}{:02}", end.hour(), end.minute()));
        }
        _ => return Err(Error::invalid(field("end_time"), "start and end time come together or not at all")),
    }
    let derived = case_id_for(&claim.patient.member_id, claim.patient.birth_date, line.date_of_service);
    if !line.case_id.is_empty() && line.case_id != derived {
        let case = clean(&d, || field("case_id"), &line.case_id)?;
        if case.contains(char::is_whitespace) {
            return Err(Error::invalid(field("case_id"), "a case id written to an 837 note has no blanks"));
        }
        note.push(format!("CASE {case}"));
    }
    if line.present_at_induction {
        note.push("INDUCTION".into());
    }
    if !note.is_empty() {
        let text = note.join(" ");
        if text.len() > 80 {
            return Err(Error::invalid(field("case_id"), "the line note would be longer than 80 characters"));
        }
        out.seg(&["NTE", "ADD", &text])?;
    }
    Ok(())
}

/// Writes claims to a byte vector.
pub fn write_837_to_vec(claims: &[Claim], options: &WriteOptions) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_837(&mut out, claims, options)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ReadOptions, read_837};

    /// Options that write a billing location for claims without one (a test's, not a default).
    fn written_in_ny() -> WriteOptions {
        let location = Location { state: Some("NY".parse().unwrap()), zip: Some("100010001".parse().unwrap()) };
        WriteOptions { billing_location: Some(location), ..WriteOptions::default() }
    }

    /// The billing provider's state and ZIP are read back as the claim's own, and the ZIP sets the
    /// Medicare locality: never made up. Each comes from the claim, else the options, else the claim is
    /// refused naming the field.
    #[test]
    fn the_billing_location_is_the_claims_or_given_never_made_up() {
        let json = r#"{"claim_id":"C1","payer":{"id":"medicare","plan_type":"medicare_ffs"},"place_of_service":"21",
            "patient":{"birth_date":"1960-01-01"},"billing_provider_npi":"1234567893",
            "rendering_provider":{"npi":"1234567893","taxonomy":"207L00000X"},
            "diagnoses":["M54.16"],"lines":[{"procedure_code":"00630","unit_basis":"MJ","quantity":"90",
            "date_of_service":"2025-03-04","modifiers":["AA"],"diagnosis_pointers":[1],"charge_cents":100}]}"#;
        let mut claim = Claim::from_json(json).unwrap();
        let err = write_837_to_vec(std::slice::from_ref(&claim), &WriteOptions::default()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].billing_provider_location.state"), "{err}");
        let own = Location { state: Some("CA".parse().unwrap()), zip: Some("94105".parse().unwrap()) };
        for (claims_own, written) in [(None, written_in_ny().billing_location), (Some(own), Some(own))] {
            claim.billing_provider_location = claims_own;
            let bytes = write_837_to_vec(std::slice::from_ref(&claim), &written_in_ny()).unwrap();
            let back = read_837(&bytes[..], ReadOptions::default()).core_claims();
            assert_eq!(back[0].billing_provider_location, written);
        }
        // A claim's location without its ZIP is refused, not completed from the options' (a ZIP given
        // for another state would set another locality).
        claim.billing_provider_location = Some(Location { zip: None, ..own });
        let err = write_837_to_vec(std::slice::from_ref(&claim), &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].billing_provider_location.zip"), "{err}");
    }

    /// Found by the fuzzer: parts A, B, C, B' of one claim id (B and B' with the same rendering
    /// provider) must not be merged into one CLM, or B and B' would read back as one part.
    #[test]
    fn parts_with_a_repeated_provider_start_a_new_clm() {
        let json = r#"{"claim_id":"C1","payer":{"id":"medicare","plan_type":"medicare_ffs"},"place_of_service":"21",
            "patient":{"birth_date":"1960-01-01","member_id":"M1"},"billing_provider_npi":"1234567893",
            "rendering_provider":{"npi":"1234567893","taxonomy":"207L00000X","role":"anesthesiologist"},
            "diagnoses":["M54.16"],"lines":[{"procedure_code":"00632","modifiers":["QK"],"unit_basis":"MJ",
            "quantity":"90","diagnosis_pointers":[1],"charge_cents":100,"date_of_service":"2025-03-04",
            "case_id":"K"}]}"#;
        let a = Claim::from_json(json).unwrap();
        let mut b = a.clone();
        b.rendering_provider.npi = "1558598797".parse().unwrap();
        b.rendering_provider.taxonomy = Some("367500000X".parse().unwrap());
        b.rendering_provider.role = Some(cptkit_core::ProviderRole::Crna);
        let mut c = a.clone();
        c.rendering_provider.npi = "1558598797".parse().unwrap();
        c.rendering_provider.npi = "2234567893".parse().unwrap();
        let mut claims = vec![a, b.clone(), c, b];
        let options = written_in_ny();
        let bytes = write_837_to_vec(&claims, &options).unwrap();
        let back = read_837(&bytes[..], ReadOptions::default());
        for claim in &mut claims {
            claim.billing_provider_location = Some(options.billing_location(claim).unwrap());
        }
        assert_eq!(back.core_claims(), claims);
        assert_eq!(back.claims().filter(|p| p.part.is_some()).count(), 3);
    }

    /// Delimiters that clash would write a file the reader refuses: refused, naming the field.
    #[test]
    fn clashing_delimiters_are_refused_with_the_field() {
        let claim = Claim::from_json(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/claims/medicare_00632_aa_90min_2025/claim.json"
            ))
            .unwrap(),
        )
        .unwrap();
        for (component, field, message) in [
            (b'^', "component_separator", "'^' is also the repetition separator"),
            (b'*', "component_separator", "'*' is also the element separator"),
            (b'A', "component_separator", "'A' is a letter or digit"),
        ] {
            let mut options = written_in_ny();
            options.delimiters.component = component;
            let err = write_837_to_vec(std::slice::from_ref(&claim), &options).unwrap_err();
            assert_eq!((err.field(), err.message()), (Some(field), message), "{err}");
        }
    }

    #[test]
    fn values_with_delimiters_are_refused_with_the_field() {
        let json = r#"{"claim_id":"C*1","payer":{"id":"medicare","plan_type":"medicare_ffs"},"place_of_service":"21",
            "patient":{"birth_date":"1960-01-01"},"billing_provider_npi":"1234567893",
            "rendering_provider":{"npi":"1234567893","taxonomy":"207L00000X","role":"anesthesiologist"},
            "diagnoses":["M54.16"],"lines":[{"procedure_code":"00630","unit_basis":"MJ","quantity":"90",
            "date_of_service":"2025-03-04","modifiers":["AA"],"diagnosis_pointers":[1],"charge_cents":100}]}"#;
        let claim = Claim::from_json(json).unwrap();
        let err = write_837_to_vec(std::slice::from_ref(&claim), &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].claim_id"));
        // Blanks around a value would be trimmed on reading: " 1" is CLM002 in JSON, "1" from X12.
        let mut blanks = claim;
        blanks.claim_id = "C1".into();
        blanks.frequency_code = " 1".into();
        let err = write_837_to_vec(std::slice::from_ref(&blanks), &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].frequency_code"), "{err}");
        // The 837 carries the taxonomy, not a role: a stated role it does not imply would be lost.
        let mut role = blanks;
        role.frequency_code = "1".into();
        role.rendering_provider.role = Some(ProviderRole::Crna);
        let err = write_837_to_vec(std::slice::from_ref(&role), &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].rendering_provider.role"), "{err}");
        role.rendering_provider.taxonomy = None;
        let err = write_837_to_vec(std::slice::from_ref(&role), &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].rendering_provider.role"), "{err}");
        role.rendering_provider.role = None;
        write_837_to_vec(std::slice::from_ref(&role), &written_in_ny()).expect("no role: nothing lost");
        // Nor a part of a split claim (another rendering provider) with no lines.
        let mut empty_part = role.clone();
        empty_part.lines.clear();
        empty_part.rendering_provider.npi = "1558598797".parse().unwrap();
        let err = write_837_to_vec(&[role.clone(), empty_part], &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[1].lines"), "{err}");
        // A claim with no lines would be written, then refused by every reader (2400 is required).
        role.lines.clear();
        let err = write_837_to_vec(&[role], &written_in_ny()).unwrap_err();
        assert_eq!(err.field(), Some("claims[0].lines"), "{err}");
    }
}
