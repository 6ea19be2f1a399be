//! Where each claim field came from: a side table from field path (`lines[0].quantity`) to the segment
//! and element it was read from, so a validation finding can point back into the file.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::SegmentRef;

/// A field of a core `Claim`, named the way validation findings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldPath {
    ClaimId,
    PayerId,
    PayerPlanType,
    PlaceOfService,
    FrequencyCode,
    PatientBirthDate,
    PatientMemberId,
    BillingProviderNpi,
    RenderingProviderNpi,
    RenderingProviderTaxonomy,
    RenderingProviderRole,
    MedicareLocality,
    Diagnosis(u16),
    Line(u16, LineField),
}

/// A field of a claim line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineField {
    /// The line as a whole (its LX segment).
    Line,
    ProcedureCode,
    Modifier(u8),
    UnitBasis,
    Quantity,
    StartTime,
    EndTime,
    DiagnosisPointer(u8),
    ChargeCents,
    DateOfService,
    CaseId,
    PresentAtInduction,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::ClaimId => f.write_str("claim_id"),
            FieldPath::PayerId => f.write_str("payer.id"),
            FieldPath::PayerPlanType => f.write_str("payer.plan_type"),
            FieldPath::PlaceOfService => f.write_str("place_of_service"),
            FieldPath::FrequencyCode => f.write_str("frequency_code"),
            FieldPath::PatientBirthDate => f.write_str("patient.birth_date"),
            FieldPath::PatientMemberId => f.write_str("patient.member_id"),
            FieldPath::BillingProviderNpi => f.write_str("billing_provider_npi"),
            FieldPath::RenderingProviderNpi => f.write_str("rendering_provider.npi"),
            FieldPath::RenderingProviderTaxonomy => f.write_str("rendering_provider.taxonomy"),
            FieldPath::RenderingProviderRole => f.write_str("rendering_provider.role"),
            FieldPath::MedicareLocality => f.write_str("medicare_locality"),
            FieldPath::Diagnosis(i) => write!(f, "diagnoses[{i}]"),
            FieldPath::Line(i, field) => {
                write!(f, "lines[{i}]")?;
                match field {
                    LineField::Line => Ok(()),
                    LineField::ProcedureCode => f.write_str(".procedure_code"),
                    LineField::Modifier(m) => write!(f, ".modifiers[{m}]"),
                    LineField::UnitBasis => f.write_str(".unit_basis"),
                    LineField::Quantity => f.write_str(".quantity"),
                    LineField::StartTime => f.write_str(".start_time"),
                    LineField::EndTime => f.write_str(".end_time"),
                    LineField::DiagnosisPointer(p) => write!(f, ".diagnosis_pointers[{p}]"),
                    LineField::ChargeCents => f.write_str(".charge_cents"),
                    LineField::DateOfService => f.write_str(".date_of_service"),
                    LineField::CaseId => f.write_str(".case_id"),
                    LineField::PresentAtInduction => f.write_str(".present_at_induction"),
                }
            }
        }
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The side table of one claim: field path -> segment, plus the claim's CLM segment. Stored compactly
/// (each segment once, each field as an index into them) since every claim of a file has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimSource {
    /// The claim's CLM segment: the answer for any path nothing more specific is known for.
    pub claim: SegmentRef,
    segments: Vec<SegmentRef>,
    entries: Vec<(FieldPath, u16, u8, u8)>,
}

impl ClaimSource {
    pub(crate) fn with_capacity(claim: SegmentRef, fields: usize) -> ClaimSource {
        ClaimSource { claim, segments: Vec::with_capacity(fields / 2 + 4), entries: Vec::with_capacity(fields) }
    }

    pub(crate) fn set(&mut self, field: FieldPath, at: SegmentRef) {
        let found = self.segments.iter().rposition(|s| s.segment_number == at.segment_number);
        let index = match found {
            Some(i) => i,
            None => {
                let mut whole = at;
                whole.element = 0;
                whole.component = 0;
                self.segments.push(whole);
                self.segments.len() - 1
            }
        };
        let Ok(index) = u16::try_from(index) else { return };
        self.entries.push((field, index, at.element, at.component));
    }

    fn at(&self, (_, index, element, component): &(FieldPath, u16, u8, u8)) -> SegmentRef {
        let mut at = self.segments.get(usize::from(*index)).copied().unwrap_or(self.claim);
        at.element = *element;
        at.component = *component;
        at
    }

    /// Every recorded field and where it came from, in the order read.
    pub fn entries(&self) -> impl Iterator<Item = (FieldPath, SegmentRef)> + '_ {
        self.entries.iter().map(|e| (e.0, self.at(e)))
    }

    /// Where exactly this field was read, if recorded.
    pub fn get(&self, field: FieldPath) -> Option<SegmentRef> {
        self.entries.iter().rev().find(|e| e.0 == field).map(|e| self.at(e))
    }

    /// Where a field path such as `lines[0].modifiers[1]` (as in a validation finding) came from:
    /// the field itself, else the nearest recorded field under it (`diagnoses` -> `diagnoses[0]`),
    /// else its parent (`lines[0].modifiers[3]` -> `lines[0].modifiers` -> `lines[0]`), else the
    /// claim's CLM segment.
    pub fn locate(&self, path: &str) -> SegmentRef {
        let rendered: Vec<(String, SegmentRef)> = self.entries().map(|(f, at)| (f.to_string(), at)).collect();
        let mut candidate = path.trim();
        while !candidate.is_empty() {
            if let Some((_, at)) = rendered.iter().rev().find(|(p, _)| p == candidate) {
                return *at;
            }
            let under =
                |p: &str| p.strip_prefix(candidate).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['));
            if let Some((_, at)) = rendered.iter().find(|(p, _)| under(p)) {
                return *at;
            }
            candidate = parent(candidate);
        }
        self.claim
    }
}

fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

impl Serialize for ClaimSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.entries.len() + 1))?;
        map.serialize_entry("claim", &self.claim)?;
        for (f, at) in self.entries() {
            map.serialize_entry(&f.to_string(), &at)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_falls_back_sensibly() {
        let clm = SegmentRef::new(10, 500, b"CLM");
        let hi = SegmentRef::new(11, 540, b"HI").component(1, 2);
        let sv1 = SegmentRef::new(15, 700, b"SV1");
        let mut source = ClaimSource::with_capacity(clm, 4);
        source.set(FieldPath::Diagnosis(0), hi);
        source.set(FieldPath::Line(0, LineField::Line), SegmentRef::new(14, 690, b"LX"));
        source.set(FieldPath::Line(0, LineField::Quantity), sv1.element(4));
        source.set(FieldPath::Line(0, LineField::Modifier(0)), sv1.component(1, 3));
        assert_eq!(source.locate("lines[0].quantity"), sv1.element(4));
        assert_eq!(source.locate("diagnoses"), hi);
        assert_eq!(source.locate("lines[0].modifiers"), sv1.component(1, 3));
        assert_eq!(source.locate("lines[0].modifiers[3]"), sv1.component(1, 3));
        assert_eq!(source.locate("lines[0].end_time").segment_id(), "LX");
        assert_eq!(source.locate("payer.id"), clm);
        assert_eq!(FieldPath::Line(2, LineField::DiagnosisPointer(1)).to_string(), "lines[2].diagnosis_pointers[1]");
    }
}
