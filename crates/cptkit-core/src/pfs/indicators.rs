//! Every payment indicator of the RVU file in words, as CMS's file documentation (RVU25D, Attachment A
//! and the record layout; `data/pfs/RVU25D_file_documentation.txt`) defines it.

use serde::Serialize;

use super::RvuRow;

/// One indicator of a code: the field, its value and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub field: &'static str,
    pub value: String,
    pub meaning: &'static str,
}

pub fn describe_status(status: u8) -> &'static str {
    match status {
        b'A' => "Active: paid separately under the fee schedule, if covered",
        b'B' => "Bundled: payment is always bundled into other services; RVUs shown are not used for payment",
        b'C' => "Contractor priced: the Medicare contractor sets the payment, case by case",
        b'D' => "Deleted code",
        b'E' => {
            "Excluded from the fee schedule by regulation: no fee schedule payment; when covered, generally paid under reasonable charge procedures"
        }
        b'F' => "Deleted or discontinued code (no grace period)",
        b'G' => "Not valid for Medicare: Medicare uses another code (90-day grace period)",
        b'H' => "Deleted modifier: this component was deleted",
        b'I' => "Not valid for Medicare: Medicare uses another code for these services",
        b'J' => "Anesthesia service: paid by base and time units, not RVUs",
        b'M' => "Measurement code: reporting only, no payment",
        b'N' => "Non-covered service: not covered by Medicare",
        b'P' => "Bundled or excluded: no separate fee schedule payment",
        b'R' => {
            "Restricted coverage: special coverage instructions; paid when covered (contractor priced when the file gives no RVUs)"
        }
        b'T' => "Injection: paid only when no other fee schedule service is billed that day by the same provider",
        b'X' => {
            "Statutory exclusion: not a physician service; no fee schedule payment (paid, if at all, outside the fee schedule: e.g. ambulance, clinical laboratory)"
        }
        _ => "unknown status",
    }
}

pub fn describe_global(global: &str) -> &'static str {
    match global {
        "000" => "0-day global: pre- and post-operative work on the day of the procedure is included",
        "010" => "10-day global: minor procedure; the day of the procedure and 10 days after are included",
        "090" => "90-day global: major surgery with a 1-day pre-operative and 90-day post-operative period",
        "MMM" => "Maternity: the usual global period does not apply",
        "XXX" => "The global concept does not apply",
        "YYY" => "The contractor sets the global period",
        "ZZZ" => "Add-on code: always billed with, and within the global period of, a primary service",
        _ => "unknown global period",
    }
}

fn pctc(value: u8) -> &'static str {
    match value {
        b'0' => "Physician service: modifiers 26 and TC cannot be used",
        b'1' => "Diagnostic test with professional (26) and technical (TC) components",
        b'2' => "Professional component only code: modifiers 26 and TC cannot be used",
        b'3' => "Technical component only code: modifiers 26 and TC cannot be used",
        b'4' => "Global test only code: modifiers 26 and TC cannot be used",
        b'5' => "Incident-to code: not paid for hospital patients; modifiers 26 and TC cannot be used",
        b'6' => "Laboratory physician interpretation code: modifier TC cannot be used",
        b'7' => "Physical therapy service not paid when furnished in a hospital by an independent therapist",
        b'8' => "Physician interpretation of an abnormal smear for a hospital inpatient",
        b'9' => "PC/TC concept does not apply",
        _ => "unknown",
    }
}

fn multiple_procedure(value: u8) -> &'static str {
    match value {
        b'0' => "No multiple procedure reduction",
        b'1' => "Pre-1995 multiple procedure rules (100%, 50%, 25%, 25%, 25%)",
        b'2' => "Standard multiple procedure reduction: 100% for the highest, 50% for the second to fifth",
        b'3' => "Multiple endoscopy rules within a family sharing an endoscopic base code",
        b'4' => "Diagnostic imaging: 50% of the TC and 5% off the PC for subsequent services in a session",
        b'5' => "Therapy: 50% of the practice expense for subsequent units and procedures",
        b'6' => "Diagnostic cardiovascular: 25% off the TC of subsequent services",
        b'7' => "Diagnostic ophthalmology: 20% off the TC of subsequent services",
        b'9' => "Multiple procedure concept does not apply",
        _ => "unknown",
    }
}

fn bilateral(value: u8) -> &'static str {
    match value {
        b'0' => "No bilateral adjustment: both sides together are paid at 100% of one",
        b'1' => "Bilateral adjustment: 150% of one side with modifier 50, RT and LT, or 2 units",
        b'2' => "Already bilateral: the RVUs cover both sides; 100% of one",
        b'3' => "Each side paid at 100% (usually radiology and other diagnostic tests)",
        b'9' => "Bilateral concept does not apply",
        _ => "unknown",
    }
}

fn assistant(value: u8) -> &'static str {
    match value {
        b'0' => "Assistant at surgery paid only with documentation of medical necessity",
        b'1' => "Assistant at surgery may not be paid (statutory restriction)",
        b'2' => "Assistant at surgery may be paid",
        b'9' => "Assistant concept does not apply",
        _ => "unknown",
    }
}

fn co_surgeons(value: u8) -> &'static str {
    match value {
        b'0' => "Co-surgeons not permitted",
        b'1' => "Co-surgeons paid with documentation of medical necessity",
        b'2' => "Co-surgeons permitted (two specialties), no documentation required",
        b'9' => "Co-surgeon concept does not apply",
        _ => "unknown",
    }
}

fn team_surgery(value: u8) -> &'static str {
    match value {
        b'0' => "Team surgeons not permitted",
        b'1' => "Team surgeons paid by report with documentation of medical necessity",
        b'2' => "Team surgeons permitted; paid by report",
        b'9' => "Team surgery concept does not apply",
        _ => "unknown",
    }
}

fn supervision(value: &str) -> &'static str {
    match value {
        "01" => "General supervision of a physician",
        "02" => "Direct supervision of a physician",
        "03" => "Personal supervision of a physician",
        "04" => "General supervision, unless furnished by a qualified or clinical psychologist",
        "05" => "General supervision, unless furnished by a qualified audiologist",
        "06" => "A physician or an ABPTS-certified electrophysiologic clinical specialist physical therapist",
        "21" => "A certified technician under general supervision; else direct supervision",
        "22" => "A technician with on-line real-time contact with a physician",
        "66" => "A physician or an ABPTS-certified physical therapist certified in this procedure",
        "6A" => "Level 66; an ABPTS-certified PT may supervise another PT",
        "77" => "An ABPTS-certified PT, an uncertified PT under direct supervision, or a certified technician",
        "7A" => "Level 77; an ABPTS-certified PT may supervise another PT",
        "09" => "Supervision concept does not apply",
        _ => "unknown",
    }
}

fn imaging_family(value: &str) -> &'static str {
    match value {
        "88" => "Subject to the diagnostic imaging TC and PC reductions",
        "99" => "Imaging family concept does not apply",
        _ => "Diagnostic imaging family (before 2011)",
    }
}

fn ch(value: u8) -> String {
    char::from(value).to_string()
}

impl RvuRow {
    /// Every indicator of the row in words, in the file's order.
    pub fn indicators(&self) -> Vec<Indicator> {
        let endo = self.endoscopic_base.map(|c| c.to_string()).unwrap_or_default();
        vec![
            Indicator { field: "status", value: ch(self.status), meaning: describe_status(self.status) },
            Indicator { field: "pctc", value: ch(self.pctc), meaning: pctc(self.pctc) },
            Indicator {
                field: "global",
                value: self.global_str().to_owned(),
                meaning: describe_global(self.global_str()),
            },
            Indicator {
                field: "multiple_procedure",
                value: ch(self.multiple_procedure),
                meaning: multiple_procedure(self.multiple_procedure),
            },
            Indicator { field: "bilateral", value: ch(self.bilateral), meaning: bilateral(self.bilateral) },
            Indicator { field: "assistant", value: ch(self.assistant), meaning: assistant(self.assistant) },
            Indicator { field: "co_surgeons", value: ch(self.co_surgeons), meaning: co_surgeons(self.co_surgeons) },
            Indicator { field: "team_surgery", value: ch(self.team_surgery), meaning: team_surgery(self.team_surgery) },
            Indicator {
                field: "endoscopic_base",
                meaning: if endo.is_empty() {
                    "No endoscopic base code"
                } else {
                    "The base procedure of its endoscopy family"
                },
                value: endo,
            },
            Indicator {
                field: "supervision",
                value: self.supervision_str().to_owned(),
                meaning: supervision(self.supervision_str()),
            },
            Indicator {
                field: "imaging_family",
                value: self.imaging_family_str().to_owned(),
                meaning: imaging_family(self.imaging_family_str()),
            },
        ]
    }
}
