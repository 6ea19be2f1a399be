//! Reading X12 data element values: dates, money, decimals, times, and the anesthesia line note.

use cptkit_core::date_digits;
use rust_decimal::Decimal;
use time::{Date, Month};

/// `CCYYMMDD` (D8). The 8 digits are read as one 64-bit word (every claim has a few dates: a byte loop
/// per part cost ~3 times as much).
pub(crate) fn date8(raw: &[u8]) -> Option<Date> {
    const EACH: u64 = 0x0101_0101_0101_0101;
    let word = u64::from_le_bytes(trim(raw).try_into().ok()?);
    // Every byte 0x30-0x39: high nibble 3, and still 3 after adding 6 (0x3a-0x3f would carry to 4).
    if word & (0xf0 * EACH) != 0x30 * EACH || (word + 6 * EACH) & (0xf0 * EACH) != 0x30 * EACH {
        return None;
    }
    let digits = word - 0x30 * EACH;
    // Byte 2k (the first of each pair: the lower byte) becomes 10 * digit 2k + digit 2k+1.
    let pairs = (digits * 10 + (digits >> 8)) & (0xff * 0x0001_0001_0001_0001);
    let pair = |k: u32| (pairs >> (16 * k)) as u8;
    let year = i32::from(pair(0)) * 100 + i32::from(pair(1));
    let month = Month::try_from(pair(2)).ok()?;
    Date::from_calendar_date(year, month, pair(3)).ok()
}

/// `CCYYMMDD-CCYYMMDD` (RD8): the first and last date.
pub(crate) fn date_range8(raw: &[u8]) -> Option<(Date, Date)> {
    let raw = trim(raw);
    let dash = raw.iter().position(|&b| b == b'-')?;
    let from = date8(&raw[..dash])?;
    let to = date8(&raw[dash + 1..])?;
    (from <= to).then_some((from, to))
}

pub(crate) fn trim(raw: &[u8]) -> &[u8] {
    raw.trim_ascii()
}

/// Why an X12 amount is not a number of cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotCents {
    /// Not a number, or too large for cents in an i64.
    NotANumber,
    /// A number with a digit other than 0 past the cents (`12.345`): a fraction of a cent.
    SubCent,
}

impl NotCents {
    /// Why, worded to follow the element's name.
    pub(crate) fn why(self) -> &'static str {
        match self {
            NotCents::NotANumber => "is not an amount",
            NotCents::SubCent => "has more than two decimals (a fraction of a cent, not rounded)",
        }
    }
}

/// A money amount (X12 type R) in exact cents. Zeros past the cents are cents (`12.3400` is 1234);
/// any other digit there is `SubCent`, never rounded here: the caller decides.
pub(crate) fn exact_cents(raw: &[u8]) -> Result<i64, NotCents> {
    let raw = trim(raw);
    let (negative, digits) = match raw.first() {
        Some(b'-') => (true, &raw[1..]),
        _ => (false, raw),
    };
    let mut whole: i64 = 0;
    let mut frac: i64 = 0;
    let mut frac_digits = 0;
    let mut seen_dot = false;
    let mut any = false;
    let mut sub_cent = false;
    for &b in digits {
        match b {
            b'0'..=b'9' if !seen_dot => {
                whole = whole
                    .checked_mul(10)
                    .and_then(|w| w.checked_add(i64::from(b - b'0')))
                    .ok_or(NotCents::NotANumber)?;
                any = true;
            }
            b'0'..=b'9' if frac_digits < 2 => {
                frac = frac * 10 + i64::from(b - b'0');
                frac_digits += 1;
                any = true;
            }
            // Past the cents: read on, so that `12.345x` is no number rather than a fraction of a cent.
            b'0'..=b'9' => sub_cent |= b != b'0',
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(NotCents::NotANumber),
        }
    }
    if !any {
        return Err(NotCents::NotANumber);
    }
    if sub_cent {
        return Err(NotCents::SubCent);
    }
    if frac_digits == 1 {
        frac *= 10;
    }
    let value = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or(NotCents::NotANumber)?;
    Ok(if negative { -value } else { value })
}

/// A decimal number (X12 type R); None when not a number.
pub(crate) fn decimal(raw: &[u8]) -> Option<Decimal> {
    let raw = trim(raw);
    if !raw.is_empty() && raw.len() <= 18 && raw.iter().all(u8::is_ascii_digit) {
        let n = raw.iter().fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'));
        return Some(Decimal::from(n));
    }
    let text = std::str::from_utf8(raw).ok()?;
    if text.is_empty() || text.contains(['e', 'E']) {
        return None;
    }
    text.parse::<Decimal>().ok().map(|d| d.normalize())
}

/// Cents as an X12 amount: `1500`, `1500.5`, `-12.25`.
pub(crate) fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (whole, frac) = (abs / 100, abs % 100);
    match frac {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

/// A decimal as X12 writes it: no trailing zeros (`90`, `1.5`).
pub(crate) fn format_decimal(d: Decimal) -> String {
    d.normalize().to_string()
}

pub(crate) fn format_date8(d: Date) -> String {
    String::from_utf8_lossy(&date_digits(d)).into_owned()
}

/// What cptkit reads from an anesthesia note (`NTE*ADD*START 0800 STOP 0931`): start and stop as
/// hour and minute, an explicit case id (`CASE 123`), presence at induction (`INDUCTION`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AnesthesiaNote {
    pub start: Option<Result<(u8, u8), String>>,
    pub stop: Option<Result<(u8, u8), String>>,
    pub case_id: Option<cptkit_core::ShortText>,
    pub induction: bool,
}

impl AnesthesiaNote {
    pub fn is_empty(&self) -> bool {
        self.start.is_none() && self.stop.is_none() && self.case_id.is_none() && !self.induction
    }

    /// A later note of the same line or claim fills what the earlier one left out; it replaces nothing.
    pub fn merge(&mut self, later: AnesthesiaNote) {
        self.start = self.start.take().or(later.start);
        self.stop = self.stop.take().or(later.stop);
        self.case_id = self.case_id.take().or(later.case_id);
        self.induction |= later.induction;
    }
}

/// `0800`, `800`, `08:00`, `8.00`: hour and minute; Err(text) when it is not a time of day.
fn time_of_day(token: &str) -> Result<(u8, u8), String> {
    let mut digits = [0u8; 4];
    let mut n = 0;
    let mut separators = 0;
    for b in token.bytes() {
        match b {
            b'0'..=b'9' if n < 4 => {
                digits[n] = b - b'0';
                n += 1;
            }
            b':' | b'.' | b'H' | b'h' if separators == 0 => separators += 1,
            _ => return Err(token.to_owned()),
        }
    }
    if n < 3 {
        return Err(token.to_owned());
    }
    let (h, m) = if n == 3 {
        (digits[0], digits[1] * 10 + digits[2])
    } else {
        (digits[0] * 10 + digits[1], digits[2] * 10 + digits[3])
    };
    if h < 24 && m < 60 { Ok((h, m)) } else { Err(token.to_owned()) }
}

fn keyword(token: &str) -> Option<&'static str> {
    ["START", "BEGIN", "STOP", "END", "CASE"].into_iter().find(|k| {
        token.len() >= k.len()
            && token.as_bytes()[..k.len()].eq_ignore_ascii_case(k.as_bytes())
            && token.as_bytes().get(k.len()).is_none_or(|c| matches!(c, b':' | b'='))
    })
}

/// Reads a note's text. Keywords are case-insensitive; `START`/`BEGIN`, `STOP`/`END`, `CASE`,
/// `INDUCTION`. A value may follow after a blank, `:` or `=` (`START:0800`, `STOP=0931`).
///
/// NTE02 is free text, and narrative holds these words too ("PT TOLERATED CASE WELL", "MD NOT PRESENT AT
/// INDUCTION", "END OF CASE"). So a note with any other word than the keywords, their values, `TIME`
/// and `ANESTHESIA`, or with a word where a time belongs, is narrative: only the times that read as
/// times of day are taken from it, never a case id or the induction flag, and no unreadable time is
/// reported.
pub(crate) fn anesthesia_note(text: &str) -> AnesthesiaNote {
    start_stop_note(text).unwrap_or_else(|| note_from_words(text))
}

/// [`anesthesia_note`], word by word.
fn note_from_words(text: &str) -> AnesthesiaNote {
    let mut note = AnesthesiaNote::default();
    let mut narrative = false;
    let mut tokens = text.split_ascii_whitespace().peekable();
    while let Some(token) = tokens.next() {
        if token.eq_ignore_ascii_case("INDUCTION") {
            note.induction = true;
            continue;
        }
        let Some(keyword) = keyword(token) else {
            narrative |= !token.eq_ignore_ascii_case("ANESTHESIA");
            continue;
        };
        let rest = token[keyword.len()..].trim_start_matches([':', '=']);
        let value = if !rest.is_empty() {
            Some(rest)
        } else {
            // `START TIME 0800`: skip the word TIME.
            if tokens.peek().is_some_and(|t| t.eq_ignore_ascii_case("TIME") || t.eq_ignore_ascii_case("TIME:")) {
                tokens.next();
            }
            tokens.next().map(|t| t.trim_start_matches([':', '=']))
        };
        // "END OF CASE": a time keyword followed by a word, not by an attempt at a time, is prose.
        narrative |=
            keyword != "CASE" && value.is_some_and(|v| !v.is_empty() && !v.bytes().any(|b| b.is_ascii_digit()));
        match (keyword, value) {
            ("CASE", Some(v)) => note.case_id = Some(v.into()),
            ("START" | "BEGIN", v) => note.start = Some(v.map_or(Err(String::new()), time_of_day)),
            ("STOP" | "END", v) => note.stop = Some(v.map_or(Err(String::new()), time_of_day)),
            _ => {}
        }
    }
    if narrative {
        note.start = note.start.filter(Result::is_ok);
        note.stop = note.stop.filter(Result::is_ok);
        note.case_id = None;
        note.induction = false;
    }
    note
}

/// The usual note, exactly `START hhmm STOP hhmm`, read as [`anesthesia_note`] reads it: checked in
/// place, without splitting it into words and matching each against the keywords (~600 instructions
/// of the ~850 a note cost).
fn start_stop_note(text: &str) -> Option<AnesthesiaNote> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 20 || !bytes.starts_with(b"START ") || &bytes[10..16] != b" STOP " {
        return None;
    }
    if !digits(6..10) || !digits(16..20) {
        return None;
    }
    let time = |range: std::ops::Range<usize>| Some(time_of_day(text.get(range).unwrap_or_default()));
    Some(AnesthesiaNote { start: time(6..10), stop: time(16..20), ..AnesthesiaNote::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_numbers() {
        assert_eq!(exact_cents(b"1500"), Ok(150_000));
        assert_eq!(exact_cents(b"1500.5"), Ok(150_050));
        assert_eq!(exact_cents(b"-12.25"), Ok(-1225));
        assert_eq!(exact_cents(b""), Err(NotCents::NotANumber));
        assert_eq!(exact_cents(b"1x"), Err(NotCents::NotANumber));
        assert_eq!(exact_cents(b"."), Err(NotCents::NotANumber));
        // Exact cents: zeros past the cents are cents, any other digit there is a fraction of a cent.
        assert_eq!(exact_cents(b"12.3400"), Ok(1234));
        assert_eq!(exact_cents(b"-12.340"), Ok(-1234));
        assert_eq!(exact_cents(b" 7.5 "), Ok(750));
        assert_eq!(exact_cents(b"12.345"), Err(NotCents::SubCent));
        assert_eq!(exact_cents(b"-0.001"), Err(NotCents::SubCent));
        assert_eq!(exact_cents(b"12.3450"), Err(NotCents::SubCent));
        assert_eq!(exact_cents(b"12.345x"), Err(NotCents::NotANumber));
        assert_eq!(exact_cents(b"12.3.4"), Err(NotCents::NotANumber));
        assert_eq!(exact_cents(b"-"), Err(NotCents::NotANumber));
        assert_eq!(exact_cents(b"99999999999999999999999"), Err(NotCents::NotANumber));
        assert_eq!(format_cents(150_050), "1500.5");
        assert_eq!(format_cents(-1225), "-12.25");
        assert_eq!(format_cents(7), "0.07");
        assert_eq!(decimal(b"90"), Some(Decimal::from(90)));
        assert_eq!(decimal(b"1.50"), Some(Decimal::new(15, 1)));
        assert_eq!(decimal(b"1e5"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date8(b"20250304").map(format_date8).as_deref(), Some("20250304"));
        assert_eq!(date8(b"20250230"), None);
        // The word read agrees with reading the digits one by one, for dates and near misses.
        let by_digits = |raw: &[u8]| -> Option<Date> {
            let raw = trim(raw);
            if raw.len() != 8 || !raw.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let n = |r: std::ops::Range<usize>| raw[r].iter().fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
            let month = Month::try_from(n(4..6) as u8).ok()?;
            Date::from_calendar_date(n(0..4) as i32, month, n(6..8) as u8).ok()
        };
        for raw in [&b"20240229"[..], b"20230229", b"99991231", b"00010101", b"00000101", b"19991300", b" 20250304 "] {
            assert_eq!(date8(raw), by_digits(raw), "{raw:?}");
        }
        for day in 0..40_000u32 {
            let raw = format!("{:04}{:02}{:02}", 1900 + day % 200, day / 200 % 14, day % 33);
            assert_eq!(date8(raw.as_bytes()), by_digits(raw.as_bytes()), "{raw}");
            for (i, b) in [b'/', b':', b'0' - 1, b'9' + 1, b'\xb0', b'\xf9', b' '].into_iter().enumerate() {
                let mut bad = raw.clone().into_bytes();
                bad[(day as usize + i) % 8] = b;
                assert_eq!(date8(&bad), by_digits(&bad), "{bad:?}");
            }
        }
        assert_eq!(date8(b"2025034"), None);
        assert!(date_range8(b"20250304-20250305").is_some());
        assert!(date_range8(b"20250305-20250304").is_none());
    }

    #[test]
    fn notes() {
        let n = anesthesia_note("START 0800 STOP 0931");
        assert_eq!(n.start, Some(Ok((8, 0))));
        assert_eq!(n.stop, Some(Ok((9, 31))));
        // The usual form, read in place, reads as word by word.
        for text in ["START 0800 STOP 0931", "START 2400 STOP 0960", "START 0000 STOP 2359", "START 9999 STOP 0100"] {
            assert_eq!(start_stop_note(text), Some(note_from_words(text)), "{text}");
        }
        for text in ["START 0800 STOP 093", "start 0800 STOP 0931", "START 08:0 STOP 0931", "START 0800  STOP 093"] {
            assert_eq!(start_stop_note(text), None, "{text}");
        }
        let n = anesthesia_note("anesthesia start:07:45 end=9:15 CASE A-17 induction");
        assert_eq!(n.start, Some(Ok((7, 45))));
        assert_eq!(n.stop, Some(Ok((9, 15))));
        assert_eq!(n.case_id.as_deref(), Some("A-17"));
        assert!(n.induction);
        assert_eq!(anesthesia_note("START 2575 STOP 0931").start, Some(Err("2575".into())));
        assert_eq!(anesthesia_note("START TIME 0800 STOP TIME 0900").stop, Some(Ok((9, 0))));
        assert_eq!(anesthesia_note("STOP").stop, Some(Err(String::new())));
        assert_eq!(anesthesia_note("START 800 STOP 8h30").stop, Some(Ok((8, 30))));
        assert_eq!(anesthesia_note("START 0860").start, Some(Err("0860".into())));
        assert!(anesthesia_note("PATIENT TOLERATED WELL").is_empty());
        assert!(anesthesia_note("STARTED LATE").is_empty());
        // Narrative: the times of day are taken, never a case id, the induction flag or a bad time.
        let n = anesthesia_note("START 0800 STOP 0900 MD NOT PRESENT AT INDUCTION");
        assert_eq!((n.start, n.stop, n.induction), (Some(Ok((8, 0))), Some(Ok((9, 0))), false));
        assert_eq!(anesthesia_note("START 0800 STOP 0900 PT TOLERATED CASE WELL").case_id, None);
        assert!(anesthesia_note("END OF CASE NOTE").is_empty());
        // A later note fills what the earlier left out and replaces nothing.
        let mut first = anesthesia_note("START 0800 STOP 0900");
        first.merge(anesthesia_note("CASE K1 STOP 1000"));
        assert_eq!((first.stop, first.case_id.as_deref()), (Some(Ok((9, 0))), Some("K1")));
    }
}
