//! Typed identifiers. Parse, don't validate: a value of these types is well-formed by construction,
//! and parsing names the field and what was wrong.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Implements Hash as one word of the value (`$word`), not as a slice (its length, then byte by byte):
/// every line's codes are looked up in hash maps. Equal values give equal words.
macro_rules! word_hash {
    ($name:ident, $word:expr) => {
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                let word: fn(&$name) -> u64 = $word;
                state.write_u64(word(self));
            }
        }
    };
}

/// Implements Display, FromStr (naming `$field` on error) and string serde for an identifier type
/// that has `parse(&str) -> Result<Self, String>` and `as_str()`.
macro_rules! id_traits {
    ($name:ident, $field:literal) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $name {
            type Err = Error;
            // Inlined into the faces' readers: the call cost as much as a short id's parsing.
            #[inline]
            fn from_str(s: &str) -> Result<Self> {
                $name::parse(s).map_err(|message| Error::invalid($field, message))
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                d.deserialize_string(IdVisitor($name::parse))
            }
        }
    };
}

/// Reads an identifier from the borrowed text, with no `String` in between (a claim has a dozen ids);
/// it takes what a `String` takes, with the same errors.
struct IdVisitor<T>(fn(&str) -> std::result::Result<T, String>);

impl<T> serde::de::Visitor<'_> for IdVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<T, E> {
        (self.0)(text).map_err(E::custom)
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> std::result::Result<T, E> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(bytes), &self)),
        }
    }
}

/// `raw` without surrounding whitespace. Every table cell and claim field goes through here, and
/// nearly all have nothing to trim: that is seen at their two ends, without a pass over the text (an
/// end that is a visible ASCII character is neither whitespace nor part of a longer character).
/// Inlined, the trimming apart: its call cost as much as its test.
#[inline]
pub(crate) fn trimmed(raw: &str) -> &str {
    let visible = |end: Option<&u8>| end.is_some_and(u8::is_ascii_graphic);
    if visible(raw.as_bytes().first()) && visible(raw.as_bytes().last()) { raw } else { trimmed_ends(raw) }
}

fn trimmed_ends(raw: &str) -> &str {
    // The ASCII trim is much cheaper than the Unicode one, and serves all but odd input.
    if raw.is_ascii() { raw.trim_ascii() } else { raw.trim() }
}

/// Each byte's upper case when it is an ASCII letter or digit, else 0: a code's byte is checked and
/// upper-cased with one load, where the three range tests and the case test cost ten instructions.
const UPPER_ALNUM: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        if (byte as u8).is_ascii_alphanumeric() {
            table[byte] = (byte as u8).to_ascii_uppercase();
        }
        byte += 1;
    }
    table
};

/// The byte upper-cased when it is an ASCII letter or digit.
#[inline]
fn upper_alnum(byte: u8) -> Option<u8> {
    Some(UPPER_ALNUM[usize::from(byte)]).filter(|&upper| upper != 0)
}

/// `text` upper-cased when it is exactly `N` ASCII letters and digits (as an array, the bytes are
/// read over a known length).
fn upper_code<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let code = <&[u8; N]>::try_from(text).ok()?.map(|byte| UPPER_ALNUM[usize::from(byte)]);
    code.iter().all(|&upper| upper != 0).then_some(code)
}

/// The input quoted for a message, its first 40 characters when long: an error must not carry
/// megabytes of bad input back (gRPC sends it in a trailer that clients cap).
pub(crate) fn describe(raw: &str) -> String {
    const SHOWN: usize = 40;
    if raw.is_empty() {
        return "an empty value".to_owned();
    }
    match raw.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}... ({} bytes)", &raw[..cut], raw.len()),
        None => format!("{raw:?}"),
    }
}

/// A code's message for `raw`, which is not `what`. Made out of line: the code's parse, left with its
/// test alone, is inlined into the faces' readers, where its call cost as much as the test.
#[cold]
#[inline(never)]
fn expected(what: &str, raw: &str) -> String {
    format!("expected {what}, got {}", describe(raw))
}

/// Up to `N` ASCII bytes stored inline (no allocation), ordered and compared as the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InlineText<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> InlineText<N> {
    /// `text` when it is 1..=N visible ASCII characters (no blanks or control characters).
    pub(crate) fn new(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.is_empty() || b.len() > N {
            return None;
        }
        let mut bytes = [0u8; N];
        // Eight bytes or more (an NPI): checked and copied as the two words at their ends, which
        // overlap, where a byte at a time cost seven instructions a byte.
        if let (Some(head), Some(tail)) = (b.first_chunk::<8>(), b.last_chunk::<8>()) {
            if !(visible_ascii(head) && visible_ascii(tail)) {
                return None;
            }
            bytes[..8].copy_from_slice(head);
            bytes[b.len() - 8..b.len()].copy_from_slice(tail);
        } else {
            // Checked and copied in one pass: a copy of a slice of a few bytes is a `memcpy` call.
            for (to, &from) in bytes.iter_mut().zip(b) {
                if !from.is_ascii_graphic() {
                    return None;
                }
                *to = from;
            }
        }
        Some(InlineText { bytes, len: b.len() as u8 })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Whether eight bytes are all visible ASCII (0x21-0x7E), tested at once: with no byte's high bit set,
/// adding 0x5F to each sets it just when the byte is 0x21 or more, and adding 1 just when it is 0x7F
/// (no byte carries into the next).
fn visible_ascii(bytes: &[u8; 8]) -> bool {
    const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);
    let word = u64::from_le_bytes(*bytes);
    let from_21 = word.wrapping_add(u64::from_le_bytes([0x5F; 8]));
    let from_7f = word.wrapping_add(u64::from_le_bytes([0x01; 8]));
    word & HIGH_BITS == 0 && from_21 & !from_7f & HIGH_BITS == HIGH_BITS
}

/// Why text cannot be kept as a short identifier: empty, too long, or holding blanks or non-ASCII.
fn unreadable(raw: &str, what: &str, max: usize) -> String {
    if raw.is_empty() {
        format!("expected {what}, got an empty value")
    } else if raw.chars().count() > max {
        format!("expected {what}, got {raw:?} ({} characters; at most {max} are kept)", raw.chars().count())
    } else {
        format!("expected {what}, got {raw:?} (only visible ASCII characters are kept)")
    }
}

/// A National Provider Identifier as written on a claim. Any short text is kept: a mistyped NPI
/// (wrong length or prefix, NPI002; wrong check digit, NPI001) is a finding on the claim, not a claim
/// lost. [`Npi::is_well_formed`] and [`Npi::check_digit_ok`] say whether it is a real NPI.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Npi {
    text: InlineText<15>,
    /// The check digit's verdict, made once when the text is read: validation asks it of both NPIs of
    /// every claim, where a table's reader keeps the NPI it read for the claim before. A function of
    /// the text, so equal texts still make equal NPIs, ordered as their texts.
    check_digit_ok: bool,
}

impl Npi {
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        match InlineText::new(s) {
            Some(text) => Ok(Npi { text, check_digit_ok: check_digit_ok(text.as_bytes()) }),
            None => Err(unreadable(s, "an NPI (10 digits)", 15)),
        }
    }

    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Ten digits, the first 1 or 2 (CMS NPI standard).
    pub fn is_well_formed(&self) -> bool {
        npi_digits(self.as_bytes()).is_some()
    }

    /// Well formed, and the Luhn check digit over the first nine digits prefixed by 80840
    /// (equivalently, +24) is right, per CMS.
    #[inline]
    pub fn check_digit_ok(&self) -> bool {
        self.check_digit_ok
    }
}

/// A well-formed NPI's digit values: the first eight as the bytes of one little-endian word (0-9
/// each), then the ninth and the check digit. A word at a time: a digit at a time cost about a
/// hundred instructions an NPI.
fn npi_digits(text: &[u8]) -> Option<(u64, u32, u32)> {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    const HIGH_NIBBLES: u64 = u64::from_le_bytes([0xF0; 8]);
    const SIXES: u64 = u64::from_le_bytes([6; 8]);
    let bytes: &[u8; 10] = text.try_into().ok()?;
    let [b0, b1, b2, b3, b4, b5, b6, b7, b8, b9] = *bytes;
    let head = u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
    // A byte is 0x30-0x39 when its high nibble is 3 and stays 3 once 6 is added (no byte carries
    // into the next: at most 0x3F + 6).
    let head_digits = head & HIGH_NIBBLES == ZEROS && (head + SIXES) & HIGH_NIBBLES == ZEROS;
    let (ninth, check) = (b8.wrapping_sub(b'0'), b9.wrapping_sub(b'0'));
    (head_digits && ninth <= 9 && check <= 9 && matches!(b0, b'1' | b'2'))
        .then(|| (head - ZEROS, u32::from(ninth), u32::from(check)))
}

/// [`Npi::check_digit_ok`] of an NPI's text.
fn check_digit_ok(text: &[u8]) -> bool {
    const DOUBLED: u64 = u64::from_le_bytes([0xFF, 0, 0xFF, 0, 0xFF, 0, 0xFF, 0]);
    const THREES: u64 = u64::from_le_bytes([3; 8]);
    const EIGHTS: u64 = u64::from_le_bytes([8; 8]);
    let Some((head, ninth, check)) = npi_digits(text) else { return false };
    // From the rightmost of the first nine digits, every other digit is doubled: the 1st, 3rd, 5th,
    // 7th and 9th. Doubling d gives 2d, less 9 when d >= 5, and d + 3 has its 8 bit set just then.
    // Each byte of the head becomes its digit's term of the sum (0-9: no byte carries or borrows),
    // so the eight terms are summed at once.
    let doubled = head & DOUBLED;
    let terms = 2 * doubled - 9 * (((doubled + THREES) & EIGHTS) >> 3) + (head & !DOUBLED);
    let head_sum = (terms.wrapping_mul(0x0101_0101_0101_0101) >> 56) as u32;
    let ninth_term = if ninth >= 5 { 2 * ninth - 9 } else { 2 * ninth };
    let sum = head_sum + ninth_term + 24;
    // The check digit brings the sum to a multiple of ten.
    (sum + check).is_multiple_of(10)
}

impl fmt::Debug for Npi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Npi").field(&self.as_str()).finish()
    }
}
id_traits!(Npi, "npi");

/// A CPT or HCPCS Level II code: five digits (00632), four digits and F/T/U (category II/III, PLA),
/// or a letter and four digits (J1100).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CptCode([u8; 5]);

word_hash!(CptCode, CptCode::key);

impl Ord for CptCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Integer compare instead of memcmp: codes are looked up in every validation and price.
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for CptCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl CptCode {
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        let b = s.as_bytes();
        // Counted in characters, "００６３２" has 5 and is still no code: say why instead.
        let non_ascii = || {
            format!(
                "expected a 5-character CPT/HCPCS code such as 00632, got {} (only ASCII letters and digits are \
                 accepted)",
                describe(s)
            )
        };
        if b.len() != 5 {
            if !s.is_ascii() {
                return Err(non_ascii());
            }
            return Err(format!(
                "expected a 5-character CPT/HCPCS code such as 00632, got {} ({} characters)",
                describe(s),
                s.chars().count()
            ));
        }
        let mut code = [0u8; 5];
        for (dst, src) in code.iter_mut().zip(b) {
            *dst = src.to_ascii_uppercase();
        }
        let digits = |r: std::ops::Range<usize>| code[r].iter().all(u8::is_ascii_digit);
        let well_formed = digits(0..5)
            || (digits(0..4) && matches!(code[4], b'F' | b'T' | b'U'))
            || (code[0].is_ascii_uppercase() && digits(1..5));
        if !well_formed {
            if !s.is_ascii() {
                return Err(non_ascii());
            }
            return Err(format!(
                "{} is not a CPT/HCPCS code: expected 5 digits (00632), 4 digits and F/T/U (0001F), \
                 or a letter and 4 digits (J1100)",
                describe(s)
            ));
        }
        Ok(CptCode(code))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("?????")
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes.
    pub fn as_bytes(&self) -> &[u8; 5] {
        &self.0
    }

    /// The bytes read big-endian into one word: ordered as the text is (a byte fold costs 4x as much).
    pub(crate) fn key(&self) -> u64 {
        let [a, b, c, d, e] = self.0;
        u64::from_be_bytes([0, 0, 0, a, b, c, d, e])
    }

    /// Numeric value for range checks (anesthesia codes are 00100..=01999); None for alphanumeric codes.
    pub fn number(&self) -> Option<u32> {
        // From the bytes: this runs for every line, and `as_str` re-checks the UTF-8 each time.
        self.0.iter().try_fold(0, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    }

    /// True for the CPT anesthesia range 00100–01999.
    pub fn is_anesthesia(&self) -> bool {
        self.number().is_some_and(|n| (100..=1999).contains(&n))
    }
}

impl fmt::Debug for CptCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CptCode({})", self.as_str())
    }
}
id_traits!(CptCode, "code");

/// An ICD-10-CM code in its dotted form (M54.50). Accepts the undotted claim form (M5450) too.
/// Stored inline: at most 8 ASCII bytes (S72.001A), zero-padded, so the derived order is the
/// string's byte order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Icd10Code {
    bytes: [u8; 8],
    len: u8,
}

// The zero padding makes the bytes alone tell codes apart.
word_hash!(Icd10Code, Icd10Code::key);

impl Icd10Code {
    /// A letter, a digit and a letter or digit, then up to 4 letters or digits, with or without a
    /// dot after the third (a dot must have something after it); stored upper-case and dotted.
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        Self::shaped(s.as_bytes()).ok_or_else(|| {
            format!(
                "{} is not an ICD-10-CM code: expected a letter, a digit, a third character, then up to \
                 4 more after a dot (M54.50)",
                describe(s)
            )
        })
    }

    /// The code when the trimmed text has its shape. One pass over at most 8 bytes, checking and
    /// upper-casing each with one load and copying it with no call (a slice copy of a few bytes is a
    /// `memcpy`): every diagnosis of every claim comes through here.
    #[inline]
    fn shaped(text: &[u8]) -> Option<Self> {
        let [a, b, c, tail @ ..] = text else { return None };
        let tail = match tail {
            [b'.', rest @ ..] if !rest.is_empty() => rest,
            _ => tail,
        };
        let a = upper_alnum(*a).filter(u8::is_ascii_uppercase)?;
        let c = upper_alnum(*c)?;
        if !b.is_ascii_digit() || tail.len() > 4 {
            return None;
        }
        let mut bytes = [a, *b, c, 0, 0, 0, 0, 0];
        if tail.is_empty() {
            return Some(Icd10Code { bytes, len: 3 });
        }
        bytes[3] = b'.';
        for (to, &from) in bytes[4..].iter_mut().zip(tail) {
            *to = upper_alnum(from)?;
        }
        Some(Icd10Code { bytes, len: 4 + tail.len() as u8 })
    }
}
impl Icd10Code {
    pub fn as_str(&self) -> &str {
        // Only validated ASCII is ever stored.
        std::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The zero-padded bytes read big-endian into one word: equal codes, equal words (the code set's
    /// index is keyed by it).
    pub(crate) fn key(&self) -> u64 {
        u64::from_be_bytes(self.bytes)
    }
}
impl fmt::Debug for Icd10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Icd10Code").field(&self.as_str()).finish()
    }
}
id_traits!(Icd10Code, "code");

/// A diagnosis as a claim gives it: an ICD-10-CM code (the code set since 2015-10-01), an ICD-9-CM code
/// (X12 qualifiers BK/BF, or a code shaped like ICD-9 and not like ICD-10), or other short text that
/// is neither. All three are kept on the claim; validation says what is wrong with them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiagnosisCode {
    Icd10(Icd10Code),
    Icd9(InlineText<8>),
    Other(InlineText<8>),
}

impl DiagnosisCode {
    /// The code set from the code's shape: ICD-10-CM first (`M54.50`, `M5450`), then ICD-9-CM
    /// (`36616`, `366.16`, `V70.0`, `E880.9`). Inlined, the rest of the reading apart: nearly every
    /// diagnosis is ICD-10-CM, and outlined, a third of the parse's cost was its call and the registers
    /// it saved.
    #[inline]
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        match Icd10Code::shaped(s.as_bytes()) {
            Some(code) => Ok(DiagnosisCode::Icd10(code)),
            None => Self::not_icd10(s),
        }
    }

    /// A trimmed code not shaped like ICD-10-CM: ICD-9-CM, or other text.
    #[cold]
    #[inline(never)]
    fn not_icd10(s: &str) -> std::result::Result<Self, String> {
        let text = Self::text(s)?;
        Ok(if is_icd9_shaped(text.as_bytes()) { DiagnosisCode::Icd9(dotted(text)) } else { DiagnosisCode::Other(text) })
    }

    /// A code the claim declares as ICD-9-CM (X12 HI qualifier BK or BF), whatever its shape.
    pub fn icd9(raw: &str) -> Result<Self> {
        let s = trimmed(raw);
        Self::text(s).map(|text| DiagnosisCode::Icd9(dotted(text))).map_err(|m| Error::invalid("code", m))
    }

    fn text(s: &str) -> std::result::Result<InlineText<8>, String> {
        let mut upper = [0u8; 8];
        let n = s.len().min(8);
        upper[..n].copy_from_slice(&s.as_bytes()[..n]);
        upper.make_ascii_uppercase();
        let candidate = if s.len() <= 8 { std::str::from_utf8(&upper[..n]).ok() } else { None };
        candidate.and_then(InlineText::new).ok_or_else(|| unreadable(s, "an ICD-10-CM or ICD-9-CM code", 8))
    }

    /// The ICD-10-CM code, when this is one.
    pub fn icd10(&self) -> Option<&Icd10Code> {
        match self {
            DiagnosisCode::Icd10(code) => Some(code),
            DiagnosisCode::Icd9(_) | DiagnosisCode::Other(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DiagnosisCode::Icd10(code) => code.as_str(),
            DiagnosisCode::Icd9(text) | DiagnosisCode::Other(text) => text.as_str(),
        }
    }
}

impl From<Icd10Code> for DiagnosisCode {
    fn from(code: Icd10Code) -> Self {
        DiagnosisCode::Icd10(code)
    }
}

/// An ICD-9-CM code in its dotted form (36616 -> 366.16, E8809 -> E880.9, V700 -> V70.0), as ICD-10
/// codes are stored: X12 writes codes without the dot, and a code must read the same from every face.
/// Text not shaped like ICD-9 is kept as given.
fn dotted(text: InlineText<8>) -> InlineText<8> {
    let code = text.as_bytes();
    let head = if code.first() == Some(&b'E') { 4 } else { 3 };
    if !is_icd9_shaped(code) || code.contains(&b'.') || code.len() <= head {
        return text;
    }
    let mut bytes = [0u8; 8];
    bytes[..head].copy_from_slice(&code[..head]);
    bytes[head] = b'.';
    bytes[head + 1..=code.len()].copy_from_slice(&code[head..]);
    std::str::from_utf8(&bytes[..=code.len()]).ok().and_then(InlineText::new).unwrap_or(text)
}

/// ICD-9-CM shapes: three digits then up to two more (a dot after the third allowed), V and two
/// digits then up to two more, E and three digits then up to one more.
fn is_icd9_shaped(code: &[u8]) -> bool {
    // (the code after any letter, digits before the dot, most digits after it)
    let (body, head, most_after) = match code.first() {
        Some(b'V') => (&code[1..], 2, 2),
        Some(b'E') => (&code[1..], 3, 1),
        _ => (code, 3, 2),
    };
    let (digits, after) = match body.iter().position(|&b| b == b'.') {
        Some(dot) if dot == head => (&body[..dot], &body[dot + 1..]),
        None if body.len() >= head => body.split_at(head),
        _ => return false,
    };
    digits.iter().all(u8::is_ascii_digit) && after.len() <= most_after && after.iter().all(u8::is_ascii_digit)
}

impl fmt::Debug for DiagnosisCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagnosisCode::Icd10(code) => write!(f, "Icd10({})", code.as_str()),
            DiagnosisCode::Icd9(text) => write!(f, "Icd9({})", text.as_str()),
            DiagnosisCode::Other(text) => write!(f, "Other({})", text.as_str()),
        }
    }
}
id_traits!(DiagnosisCode, "code");

/// A US state or territory as its two-letter USPS code (`OH`), from a service or billing address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsState([u8; 2]);

impl UsState {
    #[inline]
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(UsState([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => Err(expected("a two-letter state code such as OH", s)),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Debug for UsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UsState").field(&self.as_str()).finish()
    }
}
id_traits!(UsState, "state");

/// A postal code as written (X12 N403 allows up to 15 characters). `zip5` reads a US ZIP code
/// (`43215`, `43215-1234`, `432151234`) out of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostalCode(InlineText<15>);

impl PostalCode {
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        InlineText::new(s).map(PostalCode).ok_or_else(|| unreadable(s, "a postal code such as 43215", 15))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The five-digit ZIP and, when given, the four-digit extension.
    pub fn zip(&self) -> Option<(&str, Option<&str>)> {
        let s = self.as_str();
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        match s.len() {
            5 if digits(s, 5) => Some((s, None)),
            9 if digits(s, 9) => Some((&s[..5], Some(&s[5..]))),
            10 if digits(&s[..5], 5) && s.as_bytes()[5] == b'-' && digits(&s[6..], 4) => Some((&s[..5], Some(&s[6..]))),
            _ => None,
        }
    }
}

impl fmt::Debug for PostalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PostalCode").field(&self.as_str()).finish()
    }
}
id_traits!(PostalCode, "zip");

/// A two-character procedure modifier (QK, P3, 47).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModifierCode([u8; 2]);

word_hash!(ModifierCode, |c: &ModifierCode| u64::from(u16::from_be_bytes(c.0)));

impl ModifierCode {
    /// True when this is one of `codes` (compared as bytes, without building a str).
    pub fn is_any(&self, codes: &[&str]) -> bool {
        codes.iter().any(|c| c.as_bytes() == self.0)
    }

    #[inline]
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        match upper_code(s.as_bytes()) {
            Some(code) => Ok(ModifierCode(code)),
            None => Err(expected("a 2-character modifier such as QK or P3", s)),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes.
    pub fn as_bytes(&self) -> &[u8; 2] {
        &self.0
    }
}

id_traits!(ModifierCode, "code");

/// A CMS place-of-service code: two digits (21).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PosCode([u8; 2]);

impl PosCode {
    #[inline]
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        if let [a, b] = *s.as_bytes()
            && a.is_ascii_digit()
            && b.is_ascii_digit()
        {
            Ok(PosCode([a, b]))
        } else {
            Err(expected("a 2-digit place-of-service code such as 21", s))
        }
    }
}
impl PosCode {
    /// How many codes there can be: 00-99.
    pub(crate) const COUNT: usize = 100;

    /// The code as a number, 0-99 (both bytes are digits).
    pub(crate) fn number(&self) -> usize {
        usize::from(self.0[0] - b'0') * 10 + usize::from(self.0[1] - b'0')
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}
impl fmt::Debug for PosCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PosCode").field(&self.as_str()).finish()
    }
}
id_traits!(PosCode, "code");

/// A NUCC Health Care Provider Taxonomy code: 10 characters ending in X (207L00000X).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TaxonomyCode([u8; 10]);

word_hash!(TaxonomyCode, |c: &TaxonomyCode| {
    let [a, b, c, d, e, f, g, h, i, j] = c.0;
    u64::from_be_bytes([a, b, c, d, e, f, g, h]) ^ u64::from(u16::from_be_bytes([i, j])).rotate_left(48)
});

impl TaxonomyCode {
    #[inline]
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        match upper_code(s.as_bytes()).filter(|code: &[u8; 10]| code[9] == b'X') {
            Some(code) => Ok(TaxonomyCode(code)),
            None => Err(expected("a 10-character NUCC taxonomy code ending in X such as 207L00000X", s)),
        }
    }
}
impl TaxonomyCode {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??????????")
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes.
    pub fn as_bytes(&self) -> &[u8; 10] {
        &self.0
    }
}
impl fmt::Debug for TaxonomyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaxonomyCode").field(&self.as_str()).finish()
    }
}
id_traits!(TaxonomyCode, "code");

/// A Medicare payment locality: the MAC contractor number and the locality number, `13202-01`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalityId([u8; 8]);

word_hash!(LocalityId, |c: &LocalityId| u64::from_be_bytes(c.0));

impl LocalityId {
    #[inline]
    fn parse(raw: &str) -> std::result::Result<Self, String> {
        let s = trimmed(raw);
        let b = s.as_bytes();
        // Five digits, a dash, two digits (split at the first dash, as MAC-locality).
        let ok = b.len() == 8
            && b[5] == b'-'
            && b[..5].iter().all(u8::is_ascii_digit)
            && b[6..].iter().all(u8::is_ascii_digit);
        if ok {
            let mut id = [0u8; 8];
            id.copy_from_slice(b);
            Ok(LocalityId(id))
        } else {
            Err(expected("a Medicare locality as MAC-locality such as 13202-01 (Manhattan)", s))
        }
    }

    pub fn new(mac: &str, locality: &str) -> Result<Self> {
        format!("{mac}-{locality}").parse()
    }
}
impl LocalityId {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("????????")
    }

    /// The text's bytes, without the UTF-8 check `as_str` makes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}
impl fmt::Debug for LocalityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LocalityId").field(&self.as_str()).finish()
    }
}
id_traits!(LocalityId, "locality");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Well formed: ten ASCII digits, the first 1 or 2, whatever visible character stands in any place.
    #[test]
    fn npi_well_formed_is_ten_digits_from_1_or_2() {
        for place in 0..10 {
            for byte in b'!'..=b'~' {
                let mut text = *b"1234567893";
                text[place] = byte;
                let text = std::str::from_utf8(&text).unwrap();
                let expected = text.bytes().all(|b| b.is_ascii_digit()) && text.starts_with(['1', '2']);
                assert_eq!(text.parse::<Npi>().unwrap().is_well_formed(), expected, "{text}");
            }
        }
        for short_or_long in ["123456789", "12345678931", "1"] {
            assert!(!short_or_long.parse::<Npi>().unwrap().is_well_formed());
        }
    }

    /// Short text is kept when every byte is visible ASCII, whatever its length and wherever a bad byte
    /// stands (a text of eight bytes or more is checked a word at a time).
    #[test]
    fn inline_text_keeps_only_visible_ascii() {
        for len in 1..=15 {
            for place in 0..len {
                for byte in 0..=0x7Fu8 {
                    let mut text = vec![b'7'; len];
                    text[place] = byte;
                    let text = std::str::from_utf8(&text).unwrap();
                    let kept = InlineText::<15>::new(text);
                    assert_eq!(kept.is_some(), byte.is_ascii_graphic(), "{text:?}");
                    assert!(kept.is_none_or(|kept| kept.as_str() == text), "{text:?}");
                }
                let mut text = "7".repeat(len - 1);
                text.insert(place, '\u{e9}');
                assert!(InlineText::<15>::new(&text).is_none(), "{text:?}");
            }
        }
        for byte in 0..=u8::MAX {
            for place in 0..8 {
                let mut word = *b"1234567X";
                word[place] = byte;
                assert_eq!(visible_ascii(&word), byte.is_ascii_graphic(), "{byte:#x} at {place}");
            }
        }
    }

    /// The check digit agrees with the textbook Luhn check over `80840` and the ten digits, for one
    /// and only one last digit of each prefix (CMS's example: 1234567893).
    #[test]
    fn npi_check_digits_are_luhn_over_the_prefixed_number() {
        let luhn = |npi: &str| {
            let sum: u32 = format!("80840{npi}")
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, b)| {
                    let d = u32::from(b - b'0');
                    if i % 2 == 1 { (d * 2) / 10 + (d * 2) % 10 } else { d }
                })
                .sum();
            sum.is_multiple_of(10)
        };
        assert!("1234567893".parse::<Npi>().unwrap().check_digit_ok());
        // Every digit in every place: the edges, and a stride across all prefixes.
        let edges = (100_000_000..100_002_000).chain(199_999_000..200_001_000).chain(299_999_000..300_000_000);
        for prefix in edges.chain((100_000_000..300_000_000).step_by(9_973)) {
            let passing: Vec<String> = (0..10)
                .map(|d| format!("{prefix}{d}"))
                .filter(|npi| {
                    let ours = npi.parse::<Npi>().unwrap().check_digit_ok();
                    assert_eq!(ours, luhn(npi) && npi.starts_with(['1', '2']), "{npi}");
                    ours
                })
                .collect();
            assert_eq!(passing.len(), 1, "{prefix}: {passing:?}");
        }
    }

    /// Reading an id from borrowed text takes what reading a `String` and parsing it took, with the
    /// same errors (the position serde_json adds aside).
    #[test]
    fn ids_read_from_json_as_a_string_then_parsed() {
        fn without_position(message: String) -> String {
            message.split(" at line ").next().unwrap_or_default().to_owned()
        }
        fn check<T: serde::de::DeserializeOwned + PartialEq + fmt::Debug>(
            json: &str,
            parse: fn(&str) -> std::result::Result<T, String>,
        ) {
            let before = serde_json::from_str::<String>(json).map_err(|e| e.to_string()).and_then(|raw| parse(&raw));
            let now = serde_json::from_str::<T>(json).map_err(|e| e.to_string());
            assert_eq!(now.map_err(without_position), before.map_err(without_position), "{json}");
        }
        for json in [r#""00632""#, r#"" 00632 ""#, r#""0063""#, r#""""#, "5", "null", "[1]", r#""\u00e9""#, "true"] {
            check(json, CptCode::parse);
            check(json, Npi::parse);
            check(json, DiagnosisCode::parse);
        }
    }

    #[test]
    fn cpt_codes_parse_and_reject_with_a_field() {
        assert_eq!("00632".parse::<CptCode>().map(|c| c.to_string()), Ok("00632".to_owned()));
        assert_eq!("0001f".parse::<CptCode>().map(|c| c.to_string()), Ok("0001F".to_owned()));
        assert!("J1100".parse::<CptCode>().is_ok());
        for bad in ["0063", "ABCDE", "", "006321", "0063 "] {
            let err = bad.parse::<CptCode>().expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(err.field(), Some("code"));
        }
        assert!("".parse::<CptCode>().unwrap_err().message().contains("empty"));
    }

    #[test]
    fn cpt_codes_in_other_scripts_are_refused_for_their_characters() {
        // Full-width digits (5 characters, 15 bytes); "é063" is 5 bytes, so it reaches the shape check.
        for bad in ["００６３２", "é0632", "é063", "Ｊ1100"] {
            let err = bad.parse::<CptCode>().expect_err(bad);
            assert_eq!(err.field(), Some("code"));
            assert_eq!(
                err.message(),
                format!(
                    "expected a 5-character CPT/HCPCS code such as 00632, got {bad:?} (only ASCII letters and \
                     digits are accepted)"
                )
            );
        }
        // Long input is still quoted clipped.
        let long = "０".repeat(100);
        let message = long.parse::<CptCode>().expect_err("long").message().to_owned();
        assert!(message.contains("... (300 bytes) (only ASCII"), "{message}");
        // Plain ASCII keeps its wording.
        let err = "0063".parse::<CptCode>().expect_err("short");
        assert!(err.message().ends_with("got \"0063\" (4 characters)"), "{}", err.message());
    }

    #[test]
    fn anesthesia_range() {
        let code = |s: &str| s.parse::<CptCode>().expect(s);
        assert!(code("00100").is_anesthesia());
        assert!(code("01999").is_anesthesia());
        assert!(!code("99100").is_anesthesia());
        assert!(!code("J1100").is_anesthesia());
    }

    #[test]
    fn icd10_codes_normalise_to_dotted_form() {
        let icd = |s: &str| s.parse::<Icd10Code>().map(|c| c.to_string());
        assert_eq!(icd("m5450"), Ok("M54.50".to_owned()));
        assert_eq!(icd("M54.50"), Ok("M54.50".to_owned()));
        assert_eq!(icd("R61"), Ok("R61".to_owned()));
        assert_eq!(icd("S72001A"), Ok("S72.001A".to_owned()));
        for bad in ["", "M5", "M54.", "54.50", "M54.50.1", "M5.450", "M54.50123"] {
            assert!(bad.parse::<Icd10Code>().is_err(), "{bad}");
        }
    }

    #[test]
    fn other_identifiers() {
        assert_eq!("qk".parse::<ModifierCode>().map(|m| m.to_string()), Ok("QK".to_owned()));
        assert!("Q".parse::<ModifierCode>().is_err());
        assert!("21".parse::<PosCode>().is_ok());
        assert!("2A".parse::<PosCode>().is_err());
        assert!("207l00000x".parse::<TaxonomyCode>().is_ok());
        assert!("207L00000".parse::<TaxonomyCode>().is_err());
        assert!("13202-01".parse::<LocalityId>().is_ok());
        assert_eq!("1320201".parse::<LocalityId>().unwrap_err().field(), Some("locality"));
    }

    /// The ICD-10-CM shape as the code-set rules word it, checked against the parser on every string of
    /// up to six characters over an alphabet of its edge cases.
    #[test]
    fn icd10_parse_agrees_with_the_shape_rule_on_every_short_string() {
        fn by_rule(raw: &str) -> Option<String> {
            let upper = raw.trim().to_ascii_uppercase();
            let (head, rest) = (upper.get(..3)?, upper.get(3..)?);
            let tail = rest.strip_prefix('.').filter(|t| !t.is_empty()).unwrap_or(rest);
            let mut chars = head.chars();
            let shaped = chars.next()?.is_ascii_uppercase()
                && chars.next()?.is_ascii_digit()
                && chars.next()?.is_ascii_alphanumeric()
                && tail.len() <= 4
                && tail.chars().all(|c| c.is_ascii_alphanumeric());
            shaped.then(|| if tail.is_empty() { head.to_owned() } else { format!("{head}.{tail}") })
        }
        let alphabet = ["m", "Z", "0", "9", ".", " ", "é"];
        let mut texts = vec![String::new()];
        let mut checked = 0;
        for _ in 0..6 {
            texts = texts.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            for text in &texts {
                let parsed = text.parse::<Icd10Code>().ok().map(|c| c.as_str().to_owned());
                assert_eq!(parsed, by_rule(text), "{text:?}");
                checked += 1;
            }
        }
        for long in ["M54.5012", "M5450123", " s72.001a ", "S72001A"] {
            assert_eq!(long.parse::<Icd10Code>().ok().map(|c| c.to_string()), by_rule(long), "{long:?}");
        }
        assert!(checked > 100_000);
    }

    /// Looking at the two ends first trims exactly as trimming every value did.
    #[test]
    fn trimming_looks_at_the_ends_and_trims_as_before() {
        fn before(raw: &str) -> &str {
            if raw.is_ascii() { raw.trim_ascii() } else { raw.trim() }
        }
        let pieces = ["", " ", "\t", "\n", "\u{b}", "\u{a0}", "\u{7f}", "a", "QK", "é", "1234567893"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let raw = format!("{a}{b}{c}");
                    assert_eq!(trimmed(&raw), before(&raw), "{raw:?}");
                }
            }
        }
    }

    #[test]
    fn inline_identifiers_order_debug_and_serialise_as_their_strings() {
        let mut codes: Vec<Icd10Code> =
            ["S72.001A", "R61", "M54.50", "R61.1", "M54.5", "A00"].iter().map(|s| s.parse().unwrap()).collect();
        codes.sort();
        let texts: Vec<&str> = codes.iter().map(Icd10Code::as_str).collect();
        let mut sorted = texts.clone();
        sorted.sort_unstable();
        assert_eq!(texts, sorted);
        assert_eq!(format!("{:?}", codes[0]), "Icd10Code(\"A00\")");
        assert_eq!(format!("{:?}", "21".parse::<PosCode>().unwrap()), "PosCode(\"21\")");
        let locality: LocalityId = " 13202-01 ".parse().unwrap();
        assert_eq!(serde_json::to_string(&locality).unwrap(), "\"13202-01\"");
        assert_eq!(serde_json::from_str::<LocalityId>("\"13202-01\"").unwrap(), locality);
        assert!(serde_json::from_str::<TaxonomyCode>("\"207L00000\"").is_err());
        assert_eq!("207l00000x".parse::<TaxonomyCode>().unwrap().as_str(), "207L00000X");
        assert!("13202_01".parse::<LocalityId>().is_err());
        assert!("13202-0a".parse::<LocalityId>().is_err());
    }
}
