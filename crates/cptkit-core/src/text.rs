//! Numbers and dates worded as their own `Display` words them, without its general machinery. Explaining a
//! priced line writes a dozen decimals and dates, and `rust_decimal`'s and `time`'s `Display` (digit
//! buffers, padding) cost more than pricing the line: these write the same text directly. And a claim's
//! dates read the same way: a plain `YYYY-MM-DD` directly, anything else by `time`'s parser.

use std::fmt;

use rust_decimal::Decimal;
use time::Date;

/// A decimal, written exactly as `Decimal`'s `Display` writes it: `12.50`, `0.05`, `-3`, `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalText(pub Decimal);

impl DecimalText {
    /// The text `Display` writes (with no width, precision or flags), without the formatting machinery:
    /// for a writer that would copy it anyway, such as a protobuf string field.
    // Inlined into the writer that copies the digits: the 40-byte text is then not returned by copy.
    #[inline]
    pub fn digits(self) -> DecimalDigits {
        let value = self.0;
        let mut text = DecimalDigits { bytes: [0; 32], start: 32 };
        let mantissa = value.mantissa().unsigned_abs();
        // A u64's division is a multiplication; a u128's is a library call. Nearly every amount fits.
        match u64::try_from(mantissa) {
            Ok(small) => text.push_digits(small, value.scale()),
            Err(_) => text.push_digits(mantissa, value.scale()),
        }
        if value.is_sign_negative() {
            text.push(b'-');
        }
        text
    }
}

impl fmt::Display for DecimalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Width, precision or flags: `Decimal` pads and rounds by them.
        if f.width().is_some() || f.precision().is_some() || f.sign_plus() || f.alternate() {
            return fmt::Display::fmt(&self.0, f);
        }
        f.write_str(self.digits().as_str())
    }
}

/// A decimal's text, written backwards into one buffer: at most 29 digits, a leading zero, the point
/// and the sign.
#[derive(Debug, Clone, Copy)]
pub struct DecimalDigits {
    bytes: [u8; 32],
    start: usize,
}

impl DecimalDigits {
    fn push(&mut self, byte: u8) {
        self.start -= 1;
        self.bytes[self.start] = byte;
    }

    /// The digits of `mantissa` at `scale`: the fraction's (zeros when the mantissa runs out first: 5
    /// at scale 2 is 0.05), then the whole part's, at least one.
    fn push_digits<T>(&mut self, mut mantissa: T, mut scale: u32)
    where
        T: Copy + PartialEq + From<u8> + TryInto<u8> + std::ops::Div<Output = T> + std::ops::Rem<Output = T>,
    {
        let (zero, ten) = (T::from(0), T::from(10));
        loop {
            let digit = (mantissa % ten).try_into().unwrap_or(0);
            mantissa = mantissa / ten;
            self.push(b'0' + digit);
            if scale > 0 {
                scale -= 1;
                if scale == 0 {
                    self.push(b'.');
                    if mantissa == zero {
                        self.push(b'0');
                    }
                }
            }
            if scale == 0 && mantissa == zero {
                break;
            }
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, '.' and '-' are pushed, so this never falls back.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The text's bytes (ASCII), for a writer that takes bytes: no UTF-8 check.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

/// A text written as `{:?}` writes it, quoted and escaped: a plain one (printable ASCII, no quote or
/// backslash), as most ids are, at once, without escaping it character by character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedText<'a>(pub &'a str);

impl QuotedText<'_> {
    /// Whether the text is written as it is between the quotes: printable ASCII, no quote or backslash.
    fn is_plain(self) -> bool {
        self.0.bytes().all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    }

    /// Appends the text as `Display` writes it: a plain one without the formatting machinery.
    pub(crate) fn push_to(self, out: &mut String) {
        if self.is_plain() {
            out.extend(["\"", self.0, "\""]);
        } else {
            // Writing into a String cannot fail.
            let _ = fmt::Write::write_fmt(out, format_args!("{self}"));
        }
    }
}

impl fmt::Display for QuotedText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_plain() || f.width().is_some() || f.precision().is_some() {
            return fmt::Debug::fmt(self.0, f);
        }
        f.write_str("\"")?;
        f.write_str(self.0)?;
        f.write_str("\"")
    }
}

/// A date, written as `Date`'s `Display` writes it: `2026-03-01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateText(pub Date);

impl DateText {
    /// `YYYY-MM-DD` for a year of four digits; other years (signed, or more digits) `Date` words.
    fn digits(self) -> Option<[u8; 10]> {
        if !(1000..=9999).contains(&self.0.year()) {
            return None;
        }
        // The date's CCYYMMDD digits (`date_digits`), with the dashes put in.
        let [y1, y2, y3, y4, m1, m2, d1, d2] = crate::date_digits(self.0);
        Some([y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2])
    }

    /// Appends the date as `Display` writes it: a four-digit year's without the formatting machinery.
    pub(crate) fn push_to(self, out: &mut String) {
        match self.digits().as_ref().map(|digits| std::str::from_utf8(digits)) {
            Some(Ok(text)) => out.push_str(text),
            // Writing into a String cannot fail.
            _ => drop(fmt::Write::write_fmt(out, format_args!("{self}"))),
        }
    }
}

impl fmt::Display for DateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Other years and any padding: `Date` words them.
        match self.digits() {
            Some(text) if f.width().is_none() && f.precision().is_none() => {
                f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
            }
            _ => fmt::Display::fmt(&self.0, f),
        }
    }
}

/// A date as `YYYY-MM-DD`, read as `time` reads it (the same dates, the same errors): a plain one
/// directly ([`parse_iso_date`]), anything else by `time`'s format-description parser, which costs ten
/// times more.
pub fn parse_date(text: &str) -> Result<Date, time::error::Parse> {
    match parse_iso_date(text) {
        Some(date) => Ok(date),
        None => Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")),
    }
}

/// A plain `YYYY-MM-DD` that is a real date, read directly; `None` for anything else.
fn parse_iso_date(text: &str) -> Option<Date> {
    let b: &[u8; 10] = text.as_bytes().try_into().ok()?;
    let number =
        |digits: &[u8]| digits.iter().try_fold(0u16, |n, &d| d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0')));
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(&b[..4])?, number(&b[5..7])?, number(&b[8..])?);
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok()
}

/// `#[serde(with)]` for a claim's dates: read as `time` reads them (the same dates, the same errors, a
/// `(year, day of the year)` pair included), text by [`parse_date`]; written as `time` writes them.
pub(crate) mod iso_date {
    use std::fmt;

    use serde::de::value::SeqAccessDeserializer;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
    use time::Date;

    pub(crate) fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        date.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        // As `time` does: text (or a pair) when the format is human-readable, its own tuple otherwise.
        if d.is_human_readable() { d.deserialize_any(Visitor) } else { Date::deserialize(d) }
    }

    struct Visitor;

    impl<'de> de::Visitor<'de> for Visitor {
        type Value = Date;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // `time`'s words, so an error reads as before.
            f.write_str("a `Date`")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Date, E> {
            super::parse_date(text).map_err(E::custom)
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Date, A::Error> {
            Date::deserialize(SeqAccessDeserializer::new(seq))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_quoted_as_debug_quotes_them() {
        for text in
            ["", "aetna", "Blue Cross 00", "a'b", "a\"b", "a\\b", "tab\there", "new\nline", "café", "\u{7f}", "~ !"]
        {
            assert_eq!(QuotedText(text).to_string(), format!("{text:?}"), "{text:?}");
            let mut pushed = String::from("after ");
            QuotedText(text).push_to(&mut pushed);
            assert_eq!(pushed, format!("after {text:?}"));
        }
    }

    #[test]
    fn decimals_are_written_as_decimal_writes_them() {
        let mut values: Vec<Decimal> = [
            "0",
            "0.00",
            "-0",
            "-0.0",
            "1",
            "-1",
            "0.05",
            "12.50",
            "-3.007",
            "100",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7922816251426433759354395.0335",
            "18446744073709551615",
            "18446744073709551616",
            "1844674407370955161.6",
            "64.4445",
            "2.1",
        ]
        .iter()
        .map(|s| s.parse().expect("a decimal"))
        .collect();
        values.push(Decimal::MAX);
        values.push(Decimal::MIN);
        values.push(Decimal::from_parts(0, 0, 0, true, 3));
        // Every scale of a spread of mantissas, both signs.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (lo, mid, hi) = (seed as u32, (seed >> 32) as u32, if i % 3 == 0 { (seed >> 16) as u32 } else { 0 });
            let mid = if i % 2 == 0 { 0 } else { mid };
            values.push(Decimal::from_parts(lo >> (i % 32), mid, hi, i % 5 == 0, (i % 29) as u32));
        }
        for value in values {
            assert_eq!(DecimalText(value).to_string(), value.to_string(), "{:?}", value.unpack());
            assert_eq!(format!("{:>8.2}", DecimalText(value)), format!("{value:>8.2}"));
        }
    }

    #[test]
    fn dates_are_written_as_date_writes_them() {
        let day = |y, m, d| Date::from_calendar_date(y, m, d).expect("a date");
        // Written and pushed alike.
        let check = |date: Date| {
            assert_eq!(DateText(date).to_string(), date.to_string());
            let mut pushed = String::from("on ");
            DateText(date).push_to(&mut pushed);
            assert_eq!(pushed, format!("on {date}"));
        };
        let end = day(2101, time::Month::January, 10);
        // Every day of the years claims have, and across the first four-digit year.
        for (mut date, last) in [
            (day(999, time::Month::December, 20), day(1000, time::Month::January, 10)),
            (day(1890, time::Month::January, 1), end),
        ] {
            while date < last {
                check(date);
                date = date.next_day().expect("a next day");
            }
        }
        for date in [Date::MIN, Date::MAX, Date::from_calendar_date(9999, time::Month::December, 31).expect("a date")] {
            check(date);
        }
        assert_eq!(format!("{:>12}", DateText(end)), format!("{end:>12}"));
    }

    #[test]
    fn plain_dates_read_as_time_reads_them_and_nothing_else_is_taken() {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let mut texts: Vec<String> = [
            "2025-03-04",
            "2024-02-29",
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-04-31",
            "2025-04-00",
            "0000-01-01",
            "9999-12-31",
            "2025-3-04",
            "2025-03-4",
            "+2025-03-04",
            "-2025-03-04",
            "2025/03/04",
            "20250304",
            " 2025-03-04",
            "2025-03-04 ",
            "2025-03-0a",
            "２０２５-03-04",
            "",
            "2025-03-04T00:00",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let mut day = Date::from_calendar_date(1899, time::Month::December, 1).expect("a date");
        while day.year() < 2102 {
            texts.push(day.to_string());
            day = day.next_day().expect("a next day");
        }
        for text in &texts {
            let fast = parse_iso_date(text);
            assert!(fast.is_none() || fast == Date::parse(text, format).ok(), "{text:?}");
            let same_error = |r: Result<Date, time::error::Parse>| r.map_err(|e| e.to_string());
            assert_eq!(same_error(parse_date(text)), same_error(Date::parse(text, format)), "{text:?}");
            // Through serde, every text gives what `time` gives: the date, or the same error.
            let ours: Result<Date, serde::de::value::Error> =
                iso_date::deserialize(serde::de::value::StrDeserializer::new(text));
            let theirs: Result<Date, serde::de::value::Error> =
                serde::Deserialize::deserialize(serde::de::value::StrDeserializer::new(text));
            assert_eq!(ours, theirs, "{text:?}");
        }
        assert_eq!(
            parse_iso_date("2024-02-29"),
            Some(Date::from_calendar_date(2024, time::Month::February, 29).expect("a date"))
        );
        assert_eq!(parse_iso_date("2025-02-29"), None);
    }
}
