//! The claim model: an anesthesia professional claim as cptkit reads it. Its JSON form maps one-to-one
//! to `cptkit.v1.Claim` (snake_case names, money in integer cents, decimals as strings).

use std::fmt;

use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use time::{Date, PrimitiveDateTime};

use crate::error::{Error, ErrorKind, Result};
use crate::ids::{CptCode, DiagnosisCode, LocalityId, ModifierCode, Npi, PosCode, PostalCode, TaxonomyCode, UsState};

/// A claim's short text (ids, codes as written): inline up to 24 bytes, so reading a claim costs no heap
/// block per field; longer text (X12 allows an 80-character payer id) spills to the heap, never truncated.
/// Serialised as a plain string.
pub type ShortText = CompactString;

/// The claim's diagnoses: up to 4 inline (most claims), more on the heap (X12 allows 12). A JSON list.
pub type Diagnoses = SmallVec<[DiagnosisCode; 4]>;

/// A line's modifiers: X12 allows 4, all inline. A JSON list.
pub type Modifiers = SmallVec<[ModifierCode; 4]>;

/// A line's 1-based diagnosis pointers: X12 allows 4, all inline. A JSON list.
pub type DiagnosisPointers = SmallVec<[u32; 4]>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// CLM01, the patient control number; read through [`required_id`].
    #[serde(deserialize_with = "required_id_de")]
    pub claim_id: ShortText,
    pub payer: Payer,
    pub place_of_service: PosCode,
    /// CLM05-3: 1 original, 7 replacement, 8 void; read through [`frequency_code`].
    #[serde(default = "original_claim", deserialize_with = "frequency_code_de")]
    pub frequency_code: ShortText,
    pub patient: Patient,
    pub billing_provider_npi: Npi,
    pub rendering_provider: RenderingProvider,
    /// Medicare carrier and locality (`13202-01`), for the locality conversion factor.
    #[serde(default, deserialize_with = "optional_text_de")]
    pub medicare_locality: Option<LocalityId>,
    /// Diagnoses in claim order (ICD-10-CM; ICD-9-CM is kept and reported); line pointers are
    /// 1-based into this list.
    pub diagnoses: Diagnoses,
    pub lines: Vec<ClaimLine>,
    /// Where the service was given (X12 2310C), when the claim says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_facility_location: Option<Location>,
    /// The billing provider's address (X12 2010AA N4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_provider_location: Option<Location>,
}

/// The state and postal code of an address: what pricing needs of it (state rules, ZIP to locality).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "optional_text_de")]
    pub state: Option<UsState>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "optional_text_de")]
    pub zip: Option<PostalCode>,
}

/// CLM05-3 as any face reads it: no value (absent, null or empty) means an original claim (1). Proto3
/// cannot tell an empty string from an absent one, so every face must read the empty code alike.
pub fn frequency_code(text: &str) -> &str {
    if text.is_empty() { "1" } else { text }
}

/// The claim's id or its payer's as any face reads it: empty or blank text is no id, and a claim
/// without one cannot be read. Proto3 cannot tell an empty string from an absent one, X12 requires CLM01
/// (and trims its elements, so a blank one is empty), and a table's empty required text is TBL001: so
/// an id that is not there is refused alike everywhere, never judged on one face and refused on another.
// Inlined into the faces' readers: outlined, the call and the id it gave back cost over a third of
// the reading.
#[inline(always)]
pub fn required_id(text: &str) -> Result<ShortText> {
    // An id that starts with a visible ASCII character is not blank: known without a trim's pass over
    // its characters.
    let blank = !text.as_bytes().first().is_some_and(u8::is_ascii_graphic) && text.trim().is_empty();
    if blank { Err(Error::new(ErrorKind::InvalidInput, "is required")) } else { Ok(text.into()) }
}

/// Whether a claim field (`patient.birth_date`) holds patient data, which no message repeats: messages
/// reach logs, and patient data must not.
pub fn is_patient_field(field: &str) -> bool {
    field.strip_prefix("patient").is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// A claim field that cannot be read, as every face reports it: `message` says why, except for patient
/// data, whose value a reader's message may quote ("got \"1958-02-30\""): there it only says so.
pub fn unreadable_field(field: &str, message: impl std::fmt::Display) -> Error {
    let message = message.to_string();
    // serde_path_to_error writes the root as `.` and a place it could not name (inside an object cut
    // short, before its key was read) as `?`: the field is the deepest named place.
    let field = field.trim_end_matches(['?', '.']);
    // serde names a missing field in its message, at its parent's path: the field is the path.
    if let Some(missing) = message.strip_prefix("missing field `").and_then(|rest| rest.split_once('`')) {
        let path = if field.is_empty() { missing.0.to_owned() } else { format!("{field}.{}", missing.0) };
        return Error::new(ErrorKind::InvalidInput, format!("missing field `{}`", missing.0)).at(path);
    }
    // Field names only, never a value: said even of patient data.
    let message = if is_patient_field(field) && !message.starts_with("unknown field `") {
        "cannot be read (patient data: the value is not shown)".to_owned()
    } else {
        message
    };
    let err = Error::new(ErrorKind::InvalidInput, message);
    if field.is_empty() { err } else { err.at(field) }
}

fn required_id_de<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<ShortText, D::Error> {
    required_id(&ShortText::deserialize(d)?).map_err(|e| serde::de::Error::custom(e.message()))
}

fn original_claim() -> ShortText {
    frequency_code("").into()
}

/// An optional claim field given as text: no value (empty) is `None`, as on the wire, where proto3
/// cannot tell an empty string from an absent one; any other text must parse.
pub fn optional_text<T: std::str::FromStr<Err = Error>>(text: &str) -> Result<Option<T>> {
    if text.is_empty() { Ok(None) } else { text.parse().map(Some) }
}

/// A null is no value, as an absent field is: proto3 and X12 cannot send one, and a table's null cell
/// is no value, so a null is read alike on every face.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn optional_text_de<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = Error>,
{
    let text = Option::<ShortText>::deserialize(d)?;
    optional_text(text.as_deref().unwrap_or_default()).map_err(|e| serde::de::Error::custom(e.message()))
}

/// A line's quantity as every face holds it: the number, without the text's trailing zeros, so that
/// "90.00" minutes is judged and worded as 90 wherever the claim came from (tables and X12 read numbers).
pub fn quantity(value: Decimal) -> Decimal {
    value.normalize()
}

/// A decimal string, or a whole number (exact, as a table's integer column is read); never a float,
/// whose binary value is not the decimal the sender meant.
fn quantity_de<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Decimal, D::Error> {
    struct Quantity;
    impl serde::de::Visitor<'_> for Quantity {
        type Value = Decimal;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a decimal string (\"90\") or a whole number")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<Decimal, E> {
            // As rust_decimal's string reader, which this replaces, reads it: scientific notation too.
            text.parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(text))
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(text), &self))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> std::result::Result<Decimal, E> {
            Ok(Decimal::from(n))
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> std::result::Result<Decimal, E> {
            Ok(Decimal::from(n))
        }
    }
    d.deserialize_any(Quantity).map(quantity)
}

fn frequency_code_de<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<ShortText, D::Error> {
    Ok(frequency_code(Option::<ShortText>::deserialize(d)?.as_deref().unwrap_or_default()).into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payer {
    /// The payer's identifier (e.g. `medicare`, `cigna`); selects the commercial rule set. Read through
    /// [`required_id`].
    #[serde(deserialize_with = "required_id_de")]
    pub id: ShortText,
    pub plan_type: PlanType,
}

/// An enum with one text spelling per variant: `as_str`, `FromStr` (the error lists the choices),
/// `Display` and serde all use it, so JSON, tables and X12 spell the values alike.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),*];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err(Error::invalid(
                        stringify!($name),
                        format!("{text:?} is not one of {}", [$($text),*].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                d.deserialize_str(TextVisitor(std::marker::PhantomData))
            }
        }
    };
}

/// Reads a [`text_enum!`] from borrowed text, without allocating.
struct TextVisitor<T>(std::marker::PhantomData<T>);

impl<T: std::str::FromStr<Err = Error>> serde::de::Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<T, E> {
        text.parse().map_err(|e: Error| E::custom(e.message()))
    }
}

text_enum! {
    pub enum PlanType {
        MedicareFfs = "medicare_ffs",
        MedicareAdvantage = "medicare_advantage",
        Commercial = "commercial",
    }
}

/// Patient data is PHI: it never reaches a log line, and `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    #[serde(with = "crate::text::iso_date")]
    pub birth_date: Date,
    #[serde(default, deserialize_with = "null_as_default")]
    pub member_id: ShortText,
}

impl fmt::Debug for Patient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Patient { .. }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderingProvider {
    pub npi: Npi,
    /// NUCC taxonomy (X12 PRV*PE, situational): the provider type, when given.
    #[serde(default, deserialize_with = "optional_text_de")]
    pub taxonomy: Option<TaxonomyCode>,
    /// The role as stated; the taxonomy's role wins when it implies one (see [`RenderingProvider::role`]).
    #[serde(default, deserialize_with = "optional_text_de")]
    pub role: Option<ProviderRole>,
    /// Medicare qualifying APM participant: selects the CY2026+ QP conversion factor.
    #[serde(default, deserialize_with = "null_as_default")]
    pub qualifying_apm: bool,
}

text_enum! {
    pub enum ProviderRole {
        Anesthesiologist = "anesthesiologist",
        Crna = "crna",
        AnesthesiologistAssistant = "anesthesiologist_assistant",
        OtherPhysician = "other_physician",
    }
}

impl RenderingProvider {
    /// The role cptkit judges by: what the taxonomy implies, else the stated role.
    pub fn role(&self) -> Option<ProviderRole> {
        self.taxonomy.and_then(ProviderRole::implied_by).or(self.role)
    }
}

impl Claim {
    /// The state whose payer rules apply: the service facility's, else the billing provider's.
    pub fn state(&self) -> Option<UsState> {
        let state = |l: &Option<Location>| l.as_ref().and_then(|l| l.state);
        state(&self.service_facility_location).or_else(|| state(&self.billing_provider_location))
    }
}

impl ProviderRole {
    /// The role a NUCC taxonomy implies, when cptkit knows it: CRNA 367500000X, anesthesiologist
    /// assistant 367H00000X, anesthesiologist 207L*, other physician 20* (allopathic and osteopathic).
    pub fn implied_by(taxonomy: TaxonomyCode) -> Option<ProviderRole> {
        match taxonomy.as_bytes() {
            b"367500000X" => Some(ProviderRole::Crna),
            b"367H00000X" => Some(ProviderRole::AnesthesiologistAssistant),
            [b'2', b'0', b'7', b'L', ..] => Some(ProviderRole::Anesthesiologist),
            [b'2', b'0', ..] => Some(ProviderRole::OtherPhysician),
            _ => None,
        }
    }

    pub fn is_physician(self) -> bool {
        matches!(self, ProviderRole::Anesthesiologist | ProviderRole::OtherPhysician)
    }
}

text_enum! {
    /// SV103: minutes for anesthesia, units for everything else.
    pub enum UnitBasis {
        Minutes = "MJ",
        Units = "UN",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimLine {
    pub procedure_code: CptCode,
    #[serde(default, deserialize_with = "null_as_default")]
    pub modifiers: Modifiers,
    pub unit_basis: UnitBasis,
    /// Minutes (MJ) or units (UN), as a decimal string; read through [`quantity`].
    #[serde(serialize_with = "rust_decimal::serde::str::serialize", deserialize_with = "quantity_de")]
    pub quantity: Decimal,
    #[serde(default, with = "local_time")]
    pub start_time: Option<PrimitiveDateTime>,
    #[serde(default, with = "local_time")]
    pub end_time: Option<PrimitiveDateTime>,
    /// 1-based pointers into `Claim::diagnoses`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diagnosis_pointers: DiagnosisPointers,
    pub charge_cents: i64,
    #[serde(with = "crate::text::iso_date")]
    pub date_of_service: Date,
    /// Ties the physician's and the anesthetist's lines for the same anesthetic together.
    #[serde(default, deserialize_with = "null_as_default")]
    pub case_id: ShortText,
    /// AD lines: the physician documented presence at induction (+1 unit under Medicare).
    #[serde(default, deserialize_with = "null_as_default")]
    pub present_at_induction: bool,
}

impl ClaimLine {
    pub fn charge(&self) -> Decimal {
        Decimal::new(self.charge_cents, 2)
    }

    /// Whether the line carries `modifier` (in any position).
    pub fn has_modifier(&self, modifier: &str) -> bool {
        self.modifiers.iter().any(|m| m.is_any(&[modifier]))
    }
}

/// The case id an 837P line gets when its note names none: `x12-` and 16 hex digits of a stable hash
/// (FNV-1a) of the subscriber's member id, the patient's birth date and the date of service. Physician
/// and anesthetist claims for the same patient and day get the same id, so medical-direction pairing
/// (BAT001/BAT002) works across claims; no PHI appears in the id. It names a patient's day, not an
/// anesthetic: CPT003 treats it as no case id ([`Claim::names_case`]).
pub fn derived_case_id(member_id: &str, birth: Option<Date>, dos: Date) -> ShortText {
    // FNV-1a (see `fnv1a` in the tests) over the member id, the birth date's digits (none when unknown)
    // and the date of service's digits, in one pass: this runs for nearly every 837P line, and a loop over
    // the parts cost more than the hashing.
    const PRIME: u64 = 0x0100_0000_01b3;
    let step = |h: u64, b: u8| (h ^ u64::from(b)).wrapping_mul(PRIME);
    let end_part = |h: u64| step(h, 0xff);
    let hash_date = |h: u64, d: Date| end_part(date_digits(d).into_iter().fold(h, step));
    let mut h = end_part(member_id.bytes().fold(0xcbf2_9ce4_8422_2325, step));
    h = match birth {
        Some(birth) => hash_date(h, birth),
        None => end_part(h),
    };
    h = hash_date(h, dos);
    // 20 characters: inline, no allocation; written by hand (the formatter cost 600 instructions a line),
    // eight hex digits at a time: each nibble spread to a byte of its own, then `0`-`9` or `a`-`f` added.
    let hex8 = |half: u32| {
        let mut x = u64::from(half);
        x = (x | x << 16) & 0x0000_ffff_0000_ffff;
        x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
        x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
        // 0x06 added to a nibble above 9 carries into bit 4: those get `a` - 10, the others `0`.
        let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        (x + 0x3030_3030_3030_3030 + letters * 0x27).to_be_bytes()
    };
    let mut id = *b"x12-0000000000000000";
    id[4..12].copy_from_slice(&hex8((h >> 32) as u32));
    id[12..].copy_from_slice(&hex8(h as u32));
    ShortText::from_utf8(id).unwrap_or_default()
}

/// A date as the 8 ASCII digits of CCYYMMDD, without allocating.
pub fn date_digits(d: Date) -> [u8; 8] {
    // Each digit by itself, in one straight run: no loop over the parts (this runs for a few dates of
    // every 837P claim and line, and the loops cost more than the digits).
    let (year, month, day) = d.to_calendar_date();
    let year = u32::try_from(year).unwrap_or(0) % 10000;
    let (month, day) = (u32::from(u8::from(month)), u32::from(day));
    [year / 1000, year / 100 % 10, year / 10 % 10, year % 10, month / 10, month % 10, day / 10, day % 10]
        .map(|digit| b'0' + digit as u8)
}

/// FNV-1a, 64 bits, over each part and a 0xff after it: the stable hash of derived case ids (the same on
/// every platform and release), written out plainly; [`derived_case_id`] computes it in one pass and is
/// tested against this.
#[cfg(test)]
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Claim {
    /// Reads the JSON form; an error names the field path (`lines[0].procedure_code`).
    pub fn from_json(json: &str) -> Result<Claim> {
        // The fast read first; only a claim that fails is read again to learn the failing field's path.
        if let Ok(claim) = serde_json::from_str(json) {
            return Ok(claim);
        }
        // serde reads a struct from an array too (its fields in order), so an array of claims would be
        // refused for its first element's first field ("[0]: invalid type: map, expected a string").
        if json.trim_start().starts_with('[') {
            return Err(Error::new(ErrorKind::InvalidInput, "expected one claim (a JSON object), got an array"));
        }
        let de = &mut serde_json::Deserializer::from_str(json);
        let claim = serde_path_to_error::deserialize(&mut *de)
            .map_err(|e| unreadable_field(&e.path().to_string(), e.into_inner()))?;
        // What failed the fast read is text after the claim (a second claim, a stray word): one claim is
        // one JSON value, and nothing after it may be dropped unread.
        de.end().map_err(|e| Error::new(ErrorKind::InvalidInput, format!("text after the claim: {e}")))?;
        Ok(claim)
    }

    /// Whether `case_id`, on a line of `date_of_service`, names an anesthetic: not empty, and not the id
    /// the 837 reader derives for the patient's whole day ([`derived_case_id`]).
    pub fn names_case(&self, case_id: &str, date_of_service: Date) -> bool {
        if case_id.is_empty() {
            return false;
        }
        // The cheap look first: a derived id is `x12-` and 16 hex digits.
        let looks_derived = case_id.len() == "x12-0000000000000000".len() && case_id.starts_with("x12-");
        !(looks_derived
            && case_id == derived_case_id(&self.patient.member_id, Some(self.patient.birth_date), date_of_service))
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Anesthesia start and end as local date-times, `2025-03-04T08:00` (seconds optional).
pub mod local_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::PrimitiveDateTime;
    use time::macros::format_description;

    /// `2025-03-04T08:00`, with seconds or without, and a space for the `T` as RFC 3339 allows
    /// (pandas writes one to CSV); no zone: the time is the local clock's.
    pub fn parse(text: &str) -> Result<PrimitiveDateTime, String> {
        let with_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let without = format_description!("[year]-[month]-[day]T[hour]:[minute]");
        let spaced_with_seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let spaced = format_description!("[year]-[month]-[day] [hour]:[minute]");
        [with_seconds, without, spaced_with_seconds, spaced]
            .into_iter()
            .find_map(|format| PrimitiveDateTime::parse(text, format).ok())
            .ok_or_else(|| format!("expected a local date-time as YYYY-MM-DDTHH:MM, got {text:?}"))
    }

    pub fn format(value: &PrimitiveDateTime) -> String {
        let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        value.format(f).unwrap_or_default()
    }

    pub fn serialize<S: Serializer>(value: &Option<PrimitiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(&format(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PrimitiveDateTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) if !text.is_empty() => parse(&text).map(Some).map_err(serde::de::Error::custom),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_case_ids_are_x12_and_16_lowercase_hex_digits_of_the_hash() {
        let dos = time::macros::date!(2025 - 03 - 04);
        assert_eq!(&date_digits(dos), b"20250304");
        let birth_1960 = Some(time::macros::date!(1960 - 01 - 01));
        let mut members = vec!["M0000000001", "", "A", "ZZ9999", "M0000000002", "M0000000003", "é€"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        // Enough hashes for every hex digit in every position.
        members.extend((0..300).map(|i| format!("member {i}")));
        let days = [dos, time::macros::date!(0001 - 12 - 31), time::macros::date!(9999 - 01 - 09)];
        for day in days {
            let written = format!("{:04}{:02}{:02}", day.year(), u8::from(day.month()), day.day());
            assert_eq!(date_digits(day), written.as_bytes(), "{day}");
        }
        for (member, birth) in members.iter().flat_map(|m| [(m, birth_1960), (m, None), (m, Some(days[2]))]) {
            for dos in days {
                let birth_digits = birth.map(date_digits);
                let parts = [member.as_bytes(), birth_digits.as_ref().map_or(&[][..], |b| &b[..]), &date_digits(dos)];
                let id = derived_case_id(member, birth, dos);
                assert_eq!(id, format!("x12-{:016x}", fnv1a(&parts)));
                assert!(!id.is_heap_allocated());
            }
        }
    }

    #[test]
    fn npi_check_digit_vectors() {
        // shared/domain/anesthesia-billing.md section 10.
        for good in ["1234567893", "1558598797"] {
            assert!(good.parse::<Npi>().unwrap().check_digit_ok(), "{good}");
        }
        assert!(!"1234567890".parse::<Npi>().unwrap().check_digit_ok());
        // Mistyped NPIs are kept (findings NPI002 / NPI001), not refused.
        for kept in ["0234567893", "123456789", "5678912345"] {
            let npi = kept.parse::<Npi>().unwrap();
            assert!(!npi.is_well_formed() && !npi.check_digit_ok(), "{kept}");
        }
        assert!("".parse::<Npi>().is_err());
        assert!("1234567893123456".parse::<Npi>().is_err());
    }

    #[test]
    fn diagnoses_keep_icd9_and_other_text() {
        let dx = |s: &str| s.parse::<DiagnosisCode>().unwrap();
        assert!(matches!(dx("m5450"), DiagnosisCode::Icd10(c) if c.as_str() == "M54.50"));
        for icd9 in ["36616", "366.16", "E880.9", "250", "4019"] {
            assert!(matches!(dx(icd9), DiagnosisCode::Icd9(_)), "{icd9}");
        }
        // V and E codes can look like ICD-10-CM: without the X12 qualifier, ICD-10-CM wins.
        assert!(matches!(dx("V70.0"), DiagnosisCode::Icd10(_)));
        assert!(matches!(dx("12"), DiagnosisCode::Other(_)));
        assert!(matches!(dx("36616123"), DiagnosisCode::Other(_)));
        assert!("M54.50.1.2.3".parse::<DiagnosisCode>().is_err());
        // ICD-9-CM is stored dotted, as ICD-10-CM is: X12 writes codes without the dot.
        assert_eq!(DiagnosisCode::icd9("V7010").unwrap().as_str(), "V70.10");
        for (given, stored) in [("36616", "366.16"), ("366.16", "366.16"), ("4019", "401.9"), ("250", "250")] {
            assert_eq!(dx(given).as_str(), stored);
            assert_eq!(DiagnosisCode::icd9(given).unwrap().as_str(), stored);
        }
        assert_eq!(DiagnosisCode::icd9("E8809").unwrap().as_str(), "E880.9");
        assert_eq!(DiagnosisCode::icd9("XYZ12").unwrap().as_str(), "XYZ12", "not ICD-9 shaped: kept");
    }

    #[test]
    fn local_times_take_a_t_or_a_space_and_no_zone() {
        for text in ["2025-03-04T08:00", "2025-03-04T08:00:00", "2025-03-04 08:00", "2025-03-04 08:00:00"] {
            assert_eq!(local_time::format(&local_time::parse(text).unwrap()), "2025-03-04T08:00:00", "{text}");
        }
        for text in ["2025-03-04T08:00:00+05:00", "2025-03-04", "2025-3-4T08:00", "08:00"] {
            assert!(local_time::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let err = Claim::from_json(r#"{"claim_id": 5}"#).unwrap_err();
        assert_eq!(err.field(), Some("claim_id"));
        let json = r#"{"claim_id":"c","payer":{"id":"medicare","plan_type":"medicare_ffs"},"place_of_service":"21",
            "patient":{"birth_date":"1960-01-01"},"billing_provider_npi":"1234567893",
            "rendering_provider":{"npi":"1234567893","taxonomy":"207L00000X","role":"anesthesiologist"},
            "diagnoses":["M54.50"],"lines":[{"procedure_code":"ABCDE","unit_basis":"MJ","quantity":"90",
            "charge_cents":100,"date_of_service":"2025-03-04"}]}"#;
        let err = Claim::from_json(json).unwrap_err();
        assert_eq!(err.field(), Some("lines[0].procedure_code"), "{err}");
        let fixed = json.replace("ABCDE", "00632");
        let claim = Claim::from_json(&fixed).unwrap();
        assert_eq!(claim.lines[0].quantity, Decimal::from(90));
        assert!(!format!("{:?}", claim.patient).contains("1960"), "no PHI in Debug");
        assert_eq!(Claim::from_json(&claim.to_json()).unwrap(), claim);
        // One claim is one JSON value: text after it is refused, never dropped unread.
        for after in [" x", ",{}", "\n{\"claim_id\":\"d\"}", " null"] {
            let err = Claim::from_json(&format!("{fixed}{after}")).unwrap_err();
            assert!(err.message().starts_with("text after the claim"), "{after:?}: {err}");
        }
        assert_eq!(Claim::from_json(&format!(" {fixed}\n")).unwrap(), claim);
        // JSON cut short: the deepest place named, never serde's `?` for the place it could not name.
        let cut = fixed.find("\"procedure_code\"").unwrap();
        for (text, field) in [("{", None), (r#"{"claim_id":"c","#, None), (&fixed[..cut], Some("lines[0]"))] {
            let err = Claim::from_json(text).unwrap_err();
            assert_eq!(err.field(), field, "{text:?}: {err}");
            assert!(err.message().contains("EOF while parsing"), "{text:?}: {err}");
        }
        // An array (of claims, or empty) is not one claim, and is said so, not as its first field's type.
        for array in [format!("[{fixed}]"), format!(" \n[{fixed}, {fixed}]"), "[]".to_owned()] {
            let err = Claim::from_json(&array).unwrap_err();
            assert_eq!((err.field(), err.message()), (None, "expected one claim (a JSON object), got an array"));
        }
        // A patient's value that cannot be read is not repeated (messages reach logs); others are.
        for (given, bad) in [
            (r#""birth_date":"1960-01-01""#, r#""birth_date":"1958-02-30""#),
            (r#""birth_date":"1960-01-01""#, r#""birth_date":"1960-01-01","member_id":12345"#),
        ] {
            let err = Claim::from_json(&fixed.replace(given, bad)).unwrap_err();
            assert!(err.field().is_some_and(|f| f.starts_with("patient.")), "{err}");
            assert!(!err.message().contains("1958") && !err.message().contains("12345"), "{err}");
        }
        // The quantity reads as before: decimal text, scientific notation too, and now a whole number.
        for (quantity, minutes) in [(r#""90""#, 90), (r#""9e1""#, 90), ("90", 90)] {
            let text = fixed.replacen(r#""quantity":"90""#, &format!(r#""quantity":{quantity}"#), 1);
            assert!(text.contains(&format!(r#""quantity":{quantity}"#)), "{text}");
            let read = Claim::from_json(&text);
            assert_eq!(read.unwrap().lines[0].quantity, Decimal::from(minutes), "{quantity}");
        }
        // A null is no value, as in tables (a null cell) and on the wire.
        let nulls = fixed.replace(r#""charge_cents":100"#, r#""charge_cents":100,"modifiers":null,"case_id":null,"diagnosis_pointers":null,"present_at_induction":null"#)
            .replace(r#""role":"anesthesiologist""#, r#""role":"anesthesiologist","qualifying_apm":null"#)
            .replace(r#""birth_date":"1960-01-01""#, r#""birth_date":"1960-01-01","member_id":null"#);
        assert_ne!(nulls, fixed);
        assert_eq!(Claim::from_json(&nulls).unwrap(), claim);
        // An empty id is no id: the claim cannot be read (as on the wire, in tables and in X12).
        for (given, field) in [(r#""claim_id":"c""#, "claim_id"), (r#""id":"medicare""#, "payer.id")] {
            for blank in ["", " "] {
                let empty = given.split(':').next().map(|key| format!("{key}:\"{blank}\"")).unwrap();
                let err = Claim::from_json(&fixed.replace(given, &empty)).unwrap_err();
                assert_eq!(err.field(), Some(field), "{err}");
                assert!(err.message().starts_with("is required"), "{err}");
            }
        }
    }

    #[test]
    fn inline_fields_spill_when_long_and_keep_their_json_form() {
        // X12 allows a 38-character CLM01 and an 80-character payer id: kept whole, on the heap.
        let claim_id = "C".repeat(38);
        let payer_id = "p".repeat(80);
        let json = format!(
            r#"{{"claim_id":"{claim_id}","payer":{{"id":"{payer_id}","plan_type":"commercial"}},"place_of_service":"21","frequency_code":"7","patient":{{"birth_date":"1960-01-01","member_id":"M1"}},"billing_provider_npi":"1234567893","rendering_provider":{{"npi":"1234567893","taxonomy":"207L00000X","role":"anesthesiologist","qualifying_apm":false}},"medicare_locality":null,"diagnoses":["M54.50","M48.062","M48.061","M54.17","G90.521","R61"],"lines":[{{"procedure_code":"00632","modifiers":["AA","P2","QS","GC"],"unit_basis":"MJ","quantity":"90","start_time":null,"end_time":null,"diagnosis_pointers":[1,2,3,4],"charge_cents":100,"date_of_service":"2025-03-04","case_id":"{claim_id}-case","present_at_induction":false}},{{"procedure_code":"99100","modifiers":[],"unit_basis":"UN","quantity":"1","start_time":null,"end_time":null,"diagnosis_pointers":[],"charge_cents":5,"date_of_service":"2025-03-04","case_id":"","present_at_induction":false}}]}}"#
        );
        let claim = Claim::from_json(&json).expect("a valid claim");
        assert_eq!(claim.claim_id, claim_id.as_str());
        assert!(claim.claim_id.is_heap_allocated());
        assert_eq!(claim.payer.id.len(), 80);
        assert_eq!(claim.lines[0].case_id, format!("{claim_id}-case"));
        assert!(!claim.patient.member_id.is_heap_allocated(), "short text stays inline");
        assert_eq!(claim.diagnoses.len(), 6);
        assert!(claim.diagnoses.spilled(), "more than 4 diagnoses go to the heap");
        assert!(!claim.lines[0].modifiers.spilled() && !claim.lines[0].diagnosis_pointers.spilled());
        // The same JSON out, byte for byte: strings and lists, as before the inline types.
        assert_eq!(claim.to_json(), json);
        // The frequency code still defaults to 1 (original), and no value is no code on every face.
        let without = json.replace(r#""frequency_code":"7","#, "");
        assert_eq!(Claim::from_json(&without).expect("a valid claim").frequency_code, "1");
        for none in [r#""frequency_code":"","#, r#""frequency_code":null,"#] {
            let empty = json.replace(r#""frequency_code":"7","#, none);
            assert_eq!(Claim::from_json(&empty).expect("a valid claim").frequency_code, "1", "{none}");
        }
        // An optional text field given empty is no value, as on the wire; other text must parse.
        let empty = json
            .replace(r#""taxonomy":"207L00000X","role":"anesthesiologist""#, r#""taxonomy":"","role":"""#)
            .replace(r#""medicare_locality":null"#, r#""medicare_locality":"""#)
            .replace(r#""lines":"#, r#""service_facility_location":{"state":"","zip":""},"lines":"#);
        let claim = Claim::from_json(&empty).expect("a valid claim");
        assert_eq!((claim.rendering_provider.taxonomy, claim.rendering_provider.role), (None, None));
        assert_eq!((claim.medicare_locality, claim.service_facility_location), (None, Some(Location::default())));
        let bad = Claim::from_json(&empty.replace(r#""taxonomy":"""#, r#""taxonomy":"207""#)).unwrap_err();
        assert_eq!(bad.field(), Some("rendering_provider.taxonomy"), "{bad}");
    }
}
