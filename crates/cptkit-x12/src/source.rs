//! Where each claim field came from: a side table from field path (`lines[0].quantity`) to the segment
//! and element it was read from, so a validation finding can point back into the file.

use std::fmt;

use cptkit_core::FieldPath;
use serde::{Serialize, Serializer};

use crate::error::SegmentRef;

/// A field of a core `Claim`, compactly: its [`ClaimField::path`] is the path validation findings use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClaimField {
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
    ServiceFacilityState,
    ServiceFacilityZip,
    BillingProviderState,
    BillingProviderZip,
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

impl ClaimField {
    /// The field's path in the core claim (`["lines", 0, "modifiers", 1]`).
    pub fn path(&self) -> FieldPath {
        let field = FieldPath::field;
        match *self {
            ClaimField::ClaimId => field("claim_id"),
            ClaimField::PayerId => field("payer").key("id"),
            ClaimField::PayerPlanType => field("payer").key("plan_type"),
            ClaimField::PlaceOfService => field("place_of_service"),
            ClaimField::FrequencyCode => field("frequency_code"),
            ClaimField::PatientBirthDate => field("patient").key("birth_date"),
            ClaimField::PatientMemberId => field("patient").key("member_id"),
            ClaimField::BillingProviderNpi => field("billing_provider_npi"),
            ClaimField::RenderingProviderNpi => field("rendering_provider").key("npi"),
            ClaimField::RenderingProviderTaxonomy => field("rendering_provider").key("taxonomy"),
            ClaimField::RenderingProviderRole => field("rendering_provider").key("role"),
            ClaimField::MedicareLocality => field("medicare_locality"),
            ClaimField::ServiceFacilityState => field("service_facility_location").key("state"),
            ClaimField::ServiceFacilityZip => field("service_facility_location").key("zip"),
            ClaimField::BillingProviderState => field("billing_provider_location").key("state"),
            ClaimField::BillingProviderZip => field("billing_provider_location").key("zip"),
            ClaimField::Diagnosis(i) => field("diagnoses").index(usize::from(i)),
            ClaimField::Line(i, line_field) => {
                let line = FieldPath::line(usize::from(i));
                match line_field {
                    LineField::Line => line,
                    LineField::ProcedureCode => line.key("procedure_code"),
                    LineField::Modifier(m) => line.key("modifiers").index(usize::from(m)),
                    LineField::UnitBasis => line.key("unit_basis"),
                    LineField::Quantity => line.key("quantity"),
                    LineField::StartTime => line.key("start_time"),
                    LineField::EndTime => line.key("end_time"),
                    LineField::DiagnosisPointer(p) => line.key("diagnosis_pointers").index(usize::from(p)),
                    LineField::ChargeCents => line.key("charge_cents"),
                    LineField::DateOfService => line.key("date_of_service"),
                    LineField::CaseId => line.key("case_id"),
                    LineField::PresentAtInduction => line.key("present_at_induction"),
                }
            }
        }
    }
}

impl fmt::Display for ClaimField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.path().fmt(f)
    }
}

impl Serialize for ClaimField {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The side table of one claim: field path -> segment, plus the claim's CLM segment. One list of
/// entries in the order read: a single allocation per claim, sized once by the reader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimSource {
    /// The claim's CLM segment: the answer for any path nothing more specific is known for.
    pub claim: SegmentRef,
    entries: Vec<Placed<ClaimField>>,
}

/// A field and its place, copied field by field: the places are fresh copies with one element byte
/// changed, and copying them whole (two overlapping 16-byte moves) stalled on store forwarding. The
/// reader keeps a line's entries (`Placed<LineField>`) this way too, until the line's index in its
/// claim is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed<F> {
    segment_number: u64,
    byte_offset: u64,
    field: F,
    id: [u8; 3],
    element: u8,
    component: u8,
}

impl<F: Copy> Placed<F> {
    pub(crate) fn new(field: F, at: SegmentRef) -> Placed<F> {
        Placed {
            segment_number: at.segment_number,
            byte_offset: at.byte_offset,
            field,
            id: at.id_bytes(),
            element: at.element,
            component: at.component,
        }
    }

    /// The same place for another field.
    pub(crate) fn with_field<G>(&self, field: G) -> Placed<G> {
        let Placed { segment_number, byte_offset, id, element, component, .. } = *self;
        Placed { segment_number, byte_offset, field, id, element, component }
    }

    pub(crate) fn field(&self) -> F {
        self.field
    }

    fn at(&self) -> SegmentRef {
        SegmentRef::from_parts(self.segment_number, self.byte_offset, self.id, self.element, self.component)
    }
}

impl ClaimSource {
    pub(crate) fn with_capacity(claim: SegmentRef, fields: usize) -> ClaimSource {
        ClaimSource { claim, entries: Vec::with_capacity(fields) }
    }

    /// A copy with room for `more` entries (a clone's room is what it holds).
    pub(crate) fn copy_with_room(&self, more: usize) -> ClaimSource {
        let mut entries = Vec::with_capacity(self.entries.len() + more);
        entries.extend_from_slice(&self.entries);
        ClaimSource { claim: self.claim, entries }
    }

    pub(crate) fn set(&mut self, field: ClaimField, at: SegmentRef) {
        self.entries.push(Placed::new(field, at));
    }

    /// [`ClaimSource::set`] for each of `fields`: given a slice's iterator, one capacity check for them all
    /// instead of one a field (a claim's lines add ~15).
    pub(crate) fn set_all(&mut self, fields: impl Iterator<Item = Placed<ClaimField>>) {
        self.entries.extend(fields);
    }

    /// Every recorded field and where it came from, in the order read.
    pub fn entries(&self) -> impl Iterator<Item = (ClaimField, SegmentRef)> + '_ {
        self.entries.iter().map(|e| (e.field, e.at()))
    }

    /// Where exactly this field was read, if recorded.
    pub fn get(&self, field: ClaimField) -> Option<SegmentRef> {
        self.entries.iter().rev().find(|e| e.field == field).map(Placed::at)
    }

    /// Where a finding's field (`lines[0].modifiers[1]`) came from: the field itself, else the first
    /// recorded field under it (`diagnoses` -> `diagnoses[0]`), else its parent (`lines[0].modifiers[3]`
    /// -> `lines[0].modifiers` -> `lines[0]`), else the claim's CLM segment.
    pub fn locate(&self, path: &FieldPath) -> SegmentRef {
        let recorded: Vec<(FieldPath, SegmentRef)> = self.entries().map(|(f, at)| (f.path(), at)).collect();
        let mut candidate = path.items();
        while !candidate.is_empty() {
            if let Some((_, at)) = recorded.iter().rev().find(|(p, _)| p.items() == candidate) {
                return *at;
            }
            if let Some((_, at)) = recorded.iter().find(|(p, _)| p.items().starts_with(candidate)) {
                return *at;
            }
            candidate = &candidate[..candidate.len() - 1];
        }
        self.claim
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
        source.set(ClaimField::Diagnosis(0), hi);
        source.set(ClaimField::Line(0, LineField::Line), SegmentRef::new(14, 690, b"LX"));
        source.set(ClaimField::Line(0, LineField::Quantity), sv1.element(4));
        source.set(ClaimField::Line(0, LineField::Modifier(0)), sv1.component(1, 3));
        let locate = |text: &str| source.locate(&FieldPath::parse(text));
        assert_eq!(locate("lines[0].quantity"), sv1.element(4));
        assert_eq!(locate("diagnoses"), hi);
        assert_eq!(locate("lines[0].modifiers"), sv1.component(1, 3));
        assert_eq!(locate("lines[0].modifiers[3]"), sv1.component(1, 3));
        assert_eq!(locate("lines[0].end_time").segment_id(), "LX");
        assert_eq!(locate("payer.id"), clm);
        assert_eq!(ClaimField::Line(2, LineField::DiagnosisPointer(1)).to_string(), "lines[2].diagnosis_pointers[1]");
    }
}
