//! 835 (005010X221A1) health care claim payment/advice to remittance types.

use std::fmt;
use std::io::Read;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use time::Date;

use crate::envelope::{Driver, Envelope, Handler, Transaction};
use crate::error::{SegmentRef, X12Error};
use crate::segment::{Delimiters, Segment};
use crate::values;

/// CAS01: who the adjustment is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdjustmentGroup {
    /// Contractual obligation: the provider writes it off.
    Co,
    /// Patient responsibility (deductible, coinsurance, copay).
    Pr,
    /// Other adjustment.
    Oa,
    /// Payer-initiated reduction.
    Pi,
    /// Correction or reversal.
    Cr,
}

impl AdjustmentGroup {
    pub fn parse(code: &str) -> Option<AdjustmentGroup> {
        Some(match code {
            "CO" => AdjustmentGroup::Co,
            "PR" => AdjustmentGroup::Pr,
            "OA" => AdjustmentGroup::Oa,
            "PI" => AdjustmentGroup::Pi,
            "CR" => AdjustmentGroup::Cr,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentGroup::Co => "CO",
            AdjustmentGroup::Pr => "PR",
            AdjustmentGroup::Oa => "OA",
            AdjustmentGroup::Pi => "PI",
            AdjustmentGroup::Cr => "CR",
        }
    }
}

impl fmt::Display for AdjustmentGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AdjustmentGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One CAS reason/amount/quantity triplet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    pub group: AdjustmentGroup,
    /// CARC, e.g. `45`, `1`, `2`, `3`, `97`.
    pub reason: String,
    pub amount_cents: i64,
    pub quantity: Option<Decimal>,
    pub at: SegmentRef,
}

impl Adjustment {
    /// `CO-45`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.group, self.reason)
    }

    pub fn amount(&self) -> Decimal {
        Decimal::new(self.amount_cents, 2)
    }
}

/// A procedure as the 835 names it: `HC:00632:QK`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Procedure {
    pub qualifier: String,
    pub code: String,
    pub modifiers: Vec<String>,
}

impl fmt::Display for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)?;
        for m in &self.modifiers {
            write!(f, "-{m}")?;
        }
        Ok(())
    }
}

/// Loop 2110: one service line payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemitLine {
    /// SVC01 (as adjudicated).
    pub procedure: Procedure,
    /// SVC02; None when it could not be read (see `unreadable`).
    pub charge_cents: Option<i64>,
    /// SVC03; None when it could not be read (see `unreadable`).
    pub paid_cents: Option<i64>,
    /// SVC04 (institutional revenue code; rarely on professional remits).
    pub revenue_code: String,
    /// SVC05: units paid. For anesthesia this should be minutes, but some payers send time or total units.
    pub paid_units: Option<Decimal>,
    /// SVC06: the procedure as submitted, when the payer changed it.
    pub original_procedure: Option<Procedure>,
    /// SVC07: units as submitted, when they differ from the paid units.
    pub original_units: Option<Decimal>,
    /// DTM*472, or DTM*150 (start) when the payer sends a range.
    pub date_of_service: Option<Date>,
    /// DTM*151.
    pub service_end: Option<Date>,
    pub adjustments: Vec<Adjustment>,
    /// AMT*B6.
    pub allowed_cents: Option<i64>,
    /// REF*6R: the line item control number from the 837 (2400 REF*6R).
    pub control_number: Option<String>,
    /// LQ*HE remark codes.
    pub remarks: Vec<String>,
    /// Amount elements of this line that could not be read, or hold a fraction of a cent (SVC02/03, CAS,
    /// AMT): what the payer said about the line is then not known in full.
    pub unreadable: Vec<SegmentRef>,
    pub at: SegmentRef,
}

/// Loop 2100: one claim payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemitClaim {
    /// CLP01: the provider's claim id (CLM01 of the 837).
    pub claim_id: String,
    /// CLP02: 1 primary, 2 secondary, 3 tertiary, 4 denied, 19-23 forwarded/reversal...
    pub status: String,
    /// CLP03; None when it could not be read (see `unreadable`).
    pub charge_cents: Option<i64>,
    /// CLP04; None when it could not be read (see `unreadable`).
    pub paid_cents: Option<i64>,
    /// CLP05.
    pub patient_responsibility_cents: Option<i64>,
    /// CLP06.
    pub filing_indicator: String,
    /// CLP07: the payer's claim control number.
    pub payer_claim_control: String,
    /// CLP09.
    pub frequency_code: String,
    /// Claim-level CAS.
    pub adjustments: Vec<Adjustment>,
    pub lines: Vec<RemitLine>,
    /// NM1*82 NM109, when the payer names the rendering provider.
    pub rendering_npi: Option<String>,
    /// DTM dates of the claim: (qualifier, date), e.g. ("232", statement from), ("050", received).
    pub dates: Vec<(String, Date)>,
    /// AMT amounts of the claim: (qualifier, cents), e.g. ("AU", coverage amount).
    pub amounts: Vec<(String, i64)>,
    /// Claim-level amount elements that could not be read, or hold a fraction of a cent (CLP03/04/05,
    /// claim-level CAS, AMT).
    pub unreadable: Vec<SegmentRef>,
    pub at: SegmentRef,
}

impl RemitClaim {
    /// CLP02 1 or 19: processed as primary (19: and forwarded to the next payer).
    pub fn is_primary(&self) -> bool {
        matches!(self.status.as_str(), "1" | "19")
    }

    /// CLP02 2, 3, 20 or 21: processed as secondary or tertiary (20, 21: and forwarded).
    pub fn is_secondary_or_later(&self) -> bool {
        matches!(self.status.as_str(), "2" | "3" | "20" | "21")
    }

    /// CLP02 = 22: the payer takes back an earlier payment (amounts are negative).
    pub fn is_reversal(&self) -> bool {
        self.status == "22"
    }
}

/// PLB: a provider-level adjustment (not tied to a claim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderAdjustment {
    pub provider_id: String,
    pub fiscal_period_end: Option<Date>,
    /// PLB03-1, e.g. `WO` overpayment recovery, `L6` interest, `FB` forwarding balance.
    pub reason: String,
    /// PLB03-2.
    pub reference: String,
    /// Positive amounts reduce the payment. None when it could not be read (a problem of the
    /// remittance says where).
    pub amount_cents: Option<i64>,
    pub at: SegmentRef,
}

/// 1000A / 1000B.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RemitParty {
    pub name: String,
    /// N104 (payer id, or the payee's NPI when N103 = XX), else REF*2U / REF*TJ.
    pub identifier: String,
}

/// BPR and TRN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// BPR01: I remittance with payment, H notification only...
    pub handling: String,
    /// BPR02; None when it could not be read (a problem of the remittance says where).
    pub amount_cents: Option<i64>,
    /// BPR03: C credit, D debit.
    pub credit_debit: String,
    /// BPR04: ACH, CHK, NON...
    pub method: String,
    /// BPR16.
    pub date: Option<Date>,
    /// TRN02: check or EFT trace number.
    pub trace: String,
}

/// One 835 transaction set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Remittance {
    pub payer: RemitParty,
    pub payee: RemitParty,
    pub payment: Payment,
    /// DTM*405.
    pub production_date: Option<Date>,
    pub claims: Vec<RemitClaim>,
    pub provider_adjustments: Vec<ProviderAdjustment>,
    /// Segments that could not be read; the rest of the remittance is still read.
    pub problems: Vec<X12Error>,
}

impl Remittance {
    /// BPR02 should equal the claims' paid amounts less the provider adjustments; false when one of
    /// them (a CLP04, a PLB amount, BPR02) could not be read, since the balance is then not shown.
    pub fn balances(&self) -> bool {
        let paid: Option<i64> = self.claims.iter().map(|c| c.paid_cents).sum();
        let plb: Option<i64> = self.provider_adjustments.iter().map(|p| p.amount_cents).sum();
        match (paid, plb, self.payment.amount_cents) {
            (Some(paid), Some(plb), Some(bpr)) => paid - plb == bpr,
            _ => false,
        }
    }
}

pub type Transaction835 = Transaction<Remittance>;

/// Streams 835 transactions from any reader.
#[derive(Debug)]
pub struct Reader835<R: Read> {
    driver: Driver<R, Handler835>,
}

impl<R: Read> Reader835<R> {
    pub fn new(src: R) -> Self {
        Reader835 { driver: Driver::new(src, Handler835::default()) }
    }

    pub fn bytes_read(&self) -> u64 {
        self.driver.bytes_read()
    }

    pub fn delimiters(&self) -> Option<Delimiters> {
        self.driver.delimiters()
    }
}

impl<R: Read> Iterator for Reader835<R> {
    type Item = Result<Transaction835, X12Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.driver.next_item()
    }
}

/// Everything in an 835 input.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct File835 {
    pub transactions: Vec<Transaction835>,
    pub errors: Vec<X12Error>,
}

impl File835 {
    pub fn remittances(&self) -> impl Iterator<Item = &Remittance> {
        self.transactions.iter().map(|t| &t.body)
    }
}

pub fn read_835<R: Read>(src: R) -> File835 {
    let mut file = File835::default();
    for item in Reader835::new(src) {
        match item {
            Ok(t) => file.transactions.push(t),
            Err(e) => file.errors.push(e),
        }
    }
    file
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Party {
    #[default]
    None,
    Payer,
    Payee,
}

#[derive(Debug, Default)]
pub(crate) struct Handler835 {
    out: Remittance,
    claim: Option<RemitClaim>,
    party: Party,
}

/// Caps what one transaction may collect, so garbage input cannot grow memory without bound.
const MAX_CLAIMS: usize = 200_000;
const MAX_LINES: usize = 999;

impl Handler for Handler835 {
    type Output = Remittance;
    const SET: &'static str = "835";

    fn accepts(implementation: &str) -> bool {
        implementation == "005010X221A1" || implementation == "005010X221"
    }

    fn begin(&mut self, _envelope: &Envelope) {
        *self = Handler835::default();
    }

    fn segment(&mut self, seg: &Segment<'_>) {
        self.on_segment(seg);
        if let Some(byte) = seg.not_text() {
            self.problem(seg.at(), format!("a value is not UTF-8 text at byte {byte}: read as empty"));
        }
    }

    /// A remittance missing a segment could lose a payment or an adjustment without a word: the
    /// transaction is rejected whole.
    fn damaged(&mut self, _error: &X12Error) -> bool {
        false
    }

    fn finish(&mut self) -> Remittance {
        self.end_claim();
        std::mem::take(self).out
    }

    fn abort(&mut self) {
        *self = Handler835::default();
    }
}

fn procedure(seg: &Segment<'_>, i: usize) -> Option<Procedure> {
    let qualifier = seg.component_text(i, 1);
    let code = seg.component_text(i, 2);
    if qualifier.is_empty() && code.is_empty() {
        return None;
    }
    let modifiers = (3..=6).map(|j| seg.component_text(i, j)).filter(|m| !m.is_empty()).map(str::to_owned).collect();
    Some(Procedure { qualifier: qualifier.to_owned(), code: code.to_owned(), modifiers })
}

impl Handler835 {
    fn problem(&mut self, at: SegmentRef, message: String) {
        if self.out.problems.len() < 1000 {
            self.out.problems.push(X12Error::value(at, message));
        }
    }

    /// Element `i` as cents: the one rule for every 835 amount (BPR, CLP, SVC, CAS, AMT, PLB). An amount
    /// that cannot be read (or is missing) is a problem naming the element, never 0: the caller keeps it
    /// unknown. So is one with a fraction of a cent (`12.345`; `12.3400` is cents): rounding it would
    /// report an amount the payer did not send. The text is not shown (a stray delimiter can put any
    /// data here).
    fn money(&mut self, seg: &Segment<'_>, i: usize) -> Result<i64, SegmentRef> {
        let raw = seg.element(i);
        let why = match values::exact_cents(raw) {
            Ok(cents) => return Ok(cents),
            Err(why) => why,
        };
        let at = seg.at_element(i);
        let name = at.element_name().unwrap_or_default();
        self.problem(at, format!("{name} {} ({} bytes; value not shown)", why.why(), raw.len()));
        Err(at)
    }

    /// Element `i` as units (SVC05, SVC07: X12 type R, at most 15 digits); None when absent. Units that
    /// cannot be read are a problem naming the element, and stay unknown (the minutes checks skip them).
    fn units(&mut self, seg: &Segment<'_>, i: usize) -> Option<Decimal> {
        let raw = seg.element(i);
        if raw.trim_ascii().is_empty() {
            return None;
        }
        let digits = raw.iter().filter(|b| b.is_ascii_digit()).count();
        let units = values::decimal(raw).filter(|_| digits <= 15);
        if units.is_none() {
            let at = seg.at_element(i);
            let name = at.element_name().unwrap_or_default();
            let message =
                format!("{name} is not a number of units of at most 15 digits ({} bytes; value not shown)", raw.len());
            self.problem(at, message);
        }
        units
    }

    /// Where the amounts of the current claim's last line (or of the claim, before its first SVC)
    /// that could not be read are recorded.
    fn unreadable_here(&mut self) -> Option<&mut Vec<SegmentRef>> {
        let claim = self.claim.as_mut()?;
        Some(match claim.lines.last_mut() {
            Some(line) => &mut line.unreadable,
            None => &mut claim.unreadable,
        })
    }

    /// Records an amount that could not be read on the line or claim it belongs to.
    fn mark_unreadable(&mut self, at: SegmentRef) {
        if let Some(list) = self.unreadable_here()
            && list.len() < 99
        {
            list.push(at);
        }
    }

    fn end_claim(&mut self) {
        if let Some(claim) = self.claim.take()
            && self.out.claims.len() < MAX_CLAIMS
        {
            self.out.claims.push(claim);
        }
    }

    fn on_segment(&mut self, seg: &Segment<'_>) {
        match seg.id() {
            b"BPR" if self.claim.is_none() => {
                let amount = self.money(seg, 2).ok();
                self.out.payment = Payment {
                    handling: seg.text(1).to_owned(),
                    amount_cents: amount,
                    credit_debit: seg.text(3).to_owned(),
                    method: seg.text(4).to_owned(),
                    date: values::date8(seg.element(16)),
                    trace: self.out.payment.trace.clone(),
                };
            }
            b"TRN" if self.claim.is_none() => self.out.payment.trace = seg.text(2).to_owned(),
            b"DTM" => self.on_dtm(seg),
            b"N1" => {
                // Payee N1 loops repeated inside claims (seen in real files) do not end the claim.
                if self.claim.is_some() {
                    return;
                }
                self.party = match seg.text(1) {
                    "PR" => {
                        self.out.payer =
                            RemitParty { name: seg.text(2).to_owned(), identifier: seg.text(4).to_owned() };
                        Party::Payer
                    }
                    "PE" => {
                        self.out.payee =
                            RemitParty { name: seg.text(2).to_owned(), identifier: seg.text(4).to_owned() };
                        Party::Payee
                    }
                    _ => Party::None,
                };
            }
            b"REF" => self.on_ref(seg),
            b"LX" => {
                self.end_claim();
                self.party = Party::None;
            }
            b"CLP" => self.on_clp(seg),
            b"CAS" => self.on_cas(seg),
            b"NM1" => {
                if let Some(claim) = &mut self.claim
                    && seg.text(1) == "82"
                    && seg.text(8) == "XX"
                {
                    claim.rendering_npi = Some(seg.text(9).to_owned());
                }
            }
            b"SVC" => self.on_svc(seg),
            b"AMT" => self.on_amt(seg),
            b"LQ" => {
                if let Some(line) = self.claim.as_mut().and_then(|c| c.lines.last_mut())
                    && line.remarks.len() < 99
                {
                    line.remarks.push(seg.text(2).to_owned());
                }
            }
            b"PLB" => {
                self.end_claim();
                self.on_plb(seg);
            }
            _ => {}
        }
    }

    fn on_ref(&mut self, seg: &Segment<'_>) {
        let (qualifier, value) = (seg.text(1), seg.text(2));
        if let Some(claim) = &mut self.claim {
            if qualifier == "6R"
                && let Some(line) = claim.lines.last_mut()
            {
                line.control_number = Some(value.to_owned());
            }
            return;
        }
        match (self.party, qualifier) {
            (Party::Payer, "2U") if self.out.payer.identifier.is_empty() => {
                self.out.payer.identifier = value.to_owned();
            }
            (Party::Payee, "TJ" | "PQ") if self.out.payee.identifier.is_empty() => {
                self.out.payee.identifier = value.to_owned();
            }
            _ => {}
        }
    }

    fn on_dtm(&mut self, seg: &Segment<'_>) {
        let qualifier = seg.text(1);
        let date = values::date8(seg.element(2));
        let Some(claim) = &mut self.claim else {
            if qualifier == "405" {
                self.out.production_date = date;
            }
            return;
        };
        let Some(date) = date else {
            let text = seg.text(2).to_owned();
            self.problem(seg.at_element(2), format!("DTM02 {text:?} is not CCYYMMDD"));
            return;
        };
        match (claim.lines.last_mut(), qualifier) {
            (Some(line), "472" | "150") => line.date_of_service = Some(date),
            (Some(line), "151") => line.service_end = Some(date),
            (Some(_), _) => {}
            (None, _) => {
                if claim.dates.len() < 16 {
                    claim.dates.push((qualifier.to_owned(), date));
                }
            }
        }
    }

    fn on_clp(&mut self, seg: &Segment<'_>) {
        self.end_claim();
        let (charge, paid) = (self.money(seg, 3), self.money(seg, 4));
        // CLP05 is situational: absent is no amount, not an unreadable one.
        let patient = match seg.element(5) {
            b"" => Ok(None),
            _ => self.money(seg, 5).map(Some),
        };
        let unreadable: Vec<SegmentRef> = [charge.err(), paid.err(), patient.err()].into_iter().flatten().collect();
        if seg.text(1).is_empty() {
            self.problem(seg.at_element(1), "CLP01 (claim id) is empty".into());
        }
        self.claim = Some(RemitClaim {
            claim_id: seg.text(1).to_owned(),
            status: seg.text(2).to_owned(),
            charge_cents: charge.ok(),
            paid_cents: paid.ok(),
            patient_responsibility_cents: patient.ok().flatten(),
            filing_indicator: seg.text(6).to_owned(),
            payer_claim_control: seg.text(7).to_owned(),
            frequency_code: seg.text(9).to_owned(),
            adjustments: Vec::new(),
            lines: Vec::new(),
            rendering_npi: None,
            dates: Vec::new(),
            amounts: Vec::new(),
            unreadable,
            at: seg.at(),
        });
    }

    fn on_cas(&mut self, seg: &Segment<'_>) {
        let at = seg.at();
        let Some(group) = AdjustmentGroup::parse(seg.text(1)) else {
            let text = seg.text(1).to_owned();
            self.problem(seg.at_element(1), format!("CAS01 {text:?} is not CO, PR, OA, PI or CR"));
            return;
        };
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        // Up to six triplets: CAS02-04, 05-07, ... 17-19.
        for t in 0..6 {
            let i = 2 + t * 3;
            let reason = seg.text(i);
            if reason.is_empty() {
                // An amount without its reason is an adjustment that cannot be read, not none: left out,
                // it would make the allowed amount (paid plus patient responsibility) wrong.
                if !seg.element(i + 1).trim_ascii().is_empty() {
                    let at = seg.at_element(i);
                    let name = at.element_name().unwrap_or_default();
                    self.problem(at, format!("{name} (the reason code) is empty, but its adjustment has an amount"));
                    unreadable.push(at);
                }
                continue;
            }
            let amount = match self.money(seg, i + 1) {
                Ok(amount) => amount,
                Err(at) => {
                    unreadable.push(at);
                    continue;
                }
            };
            let quantity = values::decimal(seg.element(i + 2));
            found.push(Adjustment {
                group,
                reason: reason.to_owned(),
                amount_cents: amount,
                quantity,
                at: at.element(i),
            });
        }
        for at in unreadable {
            self.mark_unreadable(at);
        }
        let Some(claim) = &mut self.claim else {
            self.problem(at, "CAS outside a claim (no CLP before it)".into());
            return;
        };
        let target = match claim.lines.last_mut() {
            Some(line) => &mut line.adjustments,
            None => &mut claim.adjustments,
        };
        if target.len() < 99 {
            target.extend(found);
        }
    }

    fn on_svc(&mut self, seg: &Segment<'_>) {
        let (charge, paid) = (self.money(seg, 2), self.money(seg, 3));
        let (paid_units, original_units) = (self.units(seg, 5), self.units(seg, 7));
        let unreadable: Vec<SegmentRef> = [charge.err(), paid.err()].into_iter().flatten().collect();
        let Some(claim) = &mut self.claim else {
            self.problem(seg.at(), "SVC outside a claim (no CLP before it)".into());
            return;
        };
        if claim.lines.len() >= MAX_LINES {
            return;
        }
        claim.lines.push(RemitLine {
            procedure: procedure(seg, 1).unwrap_or_default(),
            charge_cents: charge.ok(),
            paid_cents: paid.ok(),
            revenue_code: seg.text(4).to_owned(),
            paid_units,
            original_procedure: procedure(seg, 6),
            original_units,
            date_of_service: None,
            service_end: None,
            adjustments: Vec::new(),
            allowed_cents: None,
            control_number: None,
            remarks: Vec::new(),
            unreadable,
            at: seg.at(),
        });
    }

    fn on_amt(&mut self, seg: &Segment<'_>) {
        let qualifier = seg.text(1).to_owned();
        let amount = match self.money(seg, 2) {
            Ok(amount) => amount,
            Err(at) => {
                self.mark_unreadable(at);
                return;
            }
        };
        let Some(claim) = &mut self.claim else { return };
        match claim.lines.last_mut() {
            Some(line) if qualifier == "B6" => line.allowed_cents = Some(amount),
            Some(_) => {}
            None => {
                if claim.amounts.len() < 16 {
                    claim.amounts.push((qualifier, amount));
                }
            }
        }
    }

    fn on_plb(&mut self, seg: &Segment<'_>) {
        let provider_id = seg.text(1).to_owned();
        let fiscal = values::date8(seg.element(2));
        // Up to six pairs: PLB03/04 ... PLB13/14.
        for p in 0..6 {
            let i = 3 + p * 2;
            if seg.element(i).is_empty() {
                continue;
            }
            // Kept when its amount cannot be read (unknown, and a problem): the balance is then unknown too.
            let amount = self.money(seg, i + 1).ok();
            if self.out.provider_adjustments.len() >= 9999 {
                return;
            }
            self.out.provider_adjustments.push(ProviderAdjustment {
                provider_id: provider_id.clone(),
                fiscal_period_end: fiscal,
                reason: seg.component_text(i, 1).to_owned(),
                reference: seg.component_text(i, 2).to_owned(),
                amount_cents: amount,
                at: seg.at_element(i),
            });
        }
    }
}
