//! A byte scanner over a JSON stream: it finds the byte span of one value at a time by tracking strings,
//! escapes and bracket nesting, without building the value. Only the spans the caller wants are kept in
//! the (reusable) buffer; the bytes of a skipped value are dropped as soon as they are scanned, so a
//! many-GB array is read in the memory of its largest kept element.
//!
//! Offsets are absolute byte positions in the (uncompressed) stream.

use std::io::{self, Read};

/// Initial buffer size; it grows only to hold a kept value larger than this.
const CHUNK: usize = 1 << 20;

/// Byte classes outside strings: everything else (digits, commas, colons, whitespace, literals) is skipped.
const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b'"' as usize] = QUOTE;
    t[b'{' as usize] = OPEN;
    t[b'[' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    t
};

/// Bytes that end a run of plain string content.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// What to do with the value being scanned.
#[derive(Clone, Copy)]
pub(crate) enum Watch<'f> {
    /// Keep the whole value in the buffer (its span is returned).
    Keep,
    /// Drop the bytes as they are scanned.
    Skip,
    /// An `in_network` record: keep it until its `billing_code` is read, then keep it only if
    /// `wanted(code)`; also notice a record that starts before this one closed (a truncated record).
    Record { wanted: &'f dyn Fn(&[u8]) -> bool },
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Watch::Keep => "Keep",
            Watch::Skip => "Skip",
            Watch::Record { .. } => "Record",
        })
    }
}

/// The result of scanning one value.
#[derive(Debug)]
pub(crate) enum Scanned {
    /// The value is in `buffer()[range]` (until the next call) and started at `offset`.
    Kept { offset: u64, range: std::ops::Range<usize> },
    /// A skipped value (not wanted).
    Skipped,
    /// The record is broken; the scanner stands where reading can resume (see `Resume`).
    Broken { offset: u64, at: u64, message: String, resume: Resume },
}

/// Where the scanner stands after a broken record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
    /// At the `{` of the next record: the broken one never closed before it.
    NextRecord,
    /// Just after the `]` that closed the enclosing array.
    AfterArray,
    /// Nowhere safe: the rest of the stream cannot be read as records.
    Lost,
}

pub(crate) struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    /// Next byte to scan.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// The first byte that must survive a refill (the start of a kept value), if any.
    mark: Option<usize>,
    eof: bool,
    /// Open brackets of the value being scanned: the byte and its absolute offset.
    stack: Vec<(u8, u64)>,
}

impl<R> std::fmt::Debug for Scanner<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("offset", &(self.base + self.pos as u64))
            .field("buffer", &self.buf.len())
            .finish()
    }
}

/// A syntax error at a byte offset, carried inside an `io::Error` (kind InvalidData) so that reading and
/// scanning share one error path; `ingest` takes it back out with [`SyntaxAt::of`].
#[derive(Debug, thiserror::Error)]
#[error("byte {offset}: {message}")]
pub(crate) struct SyntaxAt {
    pub offset: u64,
    pub message: String,
}

impl SyntaxAt {
    pub(crate) fn of(e: &io::Error) -> Option<&SyntaxAt> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<SyntaxAt>())
    }
}

fn syntax(offset: u64, message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, SyntaxAt { offset, message: message.into() })
}

fn shown(byte: u8) -> String {
    if byte.is_ascii_graphic() { format!("'{}'", byte as char) } else { format!("byte 0x{byte:02x}") }
}

impl<R: Read> Scanner<R> {
    pub(crate) fn new(src: R) -> Self {
        Scanner {
            src,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            base: 0,
            mark: None,
            eof: false,
            stack: Vec::with_capacity(32),
        }
    }

    /// Skips a UTF-8 byte order mark at the very start (some publishers write one; JSON forbids it).
    pub(crate) fn skip_bom(&mut self) -> io::Result<()> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        while self.end - self.pos < BOM.len() && self.refill()? {}
        if self.buf[self.pos..self.end].starts_with(BOM) {
            self.pos += BOM.len();
        }
        Ok(())
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// Reads more input, keeping `buf[mark..]` (or `buf[pos..]`). False at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let keep_from = self.mark.unwrap_or(self.pos);
        if keep_from > 0 {
            self.buf.copy_within(keep_from..self.end, 0);
            self.end -= keep_from;
            self.pos -= keep_from;
            self.base += keep_from as u64;
            if let Some(m) = &mut self.mark {
                *m -= keep_from;
            }
        }
        if self.end == self.buf.len() {
            // A kept value fills the buffer: grow it.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte that is not JSON whitespace, without consuming it; None at the end of the input.
    pub(crate) fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                    b => return Ok(Some(b)),
                }
            }
            if !self.refill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `expected` (after whitespace) or fails naming what was found.
    pub(crate) fn expect(&mut self, expected: u8, context: &str) -> io::Result<()> {
        let at = self.offset();
        match self.peek()? {
            Some(b) if b == expected => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(syntax(
                self.offset().max(at),
                format!("expected '{}' {context}, found {}", expected as char, shown(b)),
            )),
            None => Err(syntax(
                self.offset(),
                format!("expected '{}' {context}, found the end of the input", expected as char),
            )),
        }
    }

    /// The end of the input, after whitespace: reading to it also lets a gzip stream check its CRC.
    pub(crate) fn expect_end(&mut self, context: &str) -> io::Result<()> {
        match self.peek()? {
            None => Ok(()),
            Some(b) => {
                Err(syntax(self.offset(), format!("expected the end of the input {context}, found {}", shown(b))))
            }
        }
    }

    /// After an array element or object member: true if a `,` follows, false if `close` does (consumed).
    pub(crate) fn next_or_close(&mut self, close: u8, context: &str) -> io::Result<bool> {
        match self.peek()? {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) => {
                Err(syntax(self.offset(), format!("expected ',' or '{}' {context}, found {}", close as char, shown(b))))
            }
            None => Err(syntax(self.offset(), format!("unexpected end of the input {context}"))),
        }
    }

    /// Scans one string starting at `pos` (which holds the opening quote); returns its absolute start.
    fn scan_string(&mut self) -> io::Result<u64> {
        let start = self.offset();
        self.pos += 1;
        loop {
            let buf = &self.buf[..self.end];
            let mut p = self.pos;
            while p < buf.len() && !STRING_STOP[buf[p] as usize] {
                p += 1;
            }
            self.pos = p;
            if p < buf.len() {
                if buf[p] == b'"' {
                    self.pos += 1;
                    return Ok(start);
                }
                // A backslash: skip it and the escaped byte (a \u escape's hex digits are plain content).
                if p + 1 < buf.len() {
                    self.pos += 2;
                    continue;
                }
            }
            if !self.refill()? {
                return Err(syntax(start, "a string never closes before the end of the input"));
            }
        }
    }

    /// Reads one string value (a key, or a small scalar) and decodes it.
    pub(crate) fn read_string(&mut self, context: &str) -> io::Result<String> {
        match self.peek()? {
            Some(b'"') => {}
            Some(b) => return Err(syntax(self.offset(), format!("expected a string {context}, found {}", shown(b)))),
            None => {
                return Err(syntax(self.offset(), format!("expected a string {context}, found the end of the input")));
            }
        }
        self.mark = Some(self.pos);
        let start = self.scan_string();
        let kept = self.mark.take().unwrap_or(self.pos);
        let start = start?;
        serde_json::from_slice(&self.buf[kept..self.pos]).map_err(|e| syntax(start, format!("{context}: {e}")))
    }

    /// Scans one value of any kind. Strings, numbers and literals are kept or skipped like containers.
    pub(crate) fn scan_value(&mut self, watch: Watch<'_>) -> io::Result<Scanned> {
        let offset = self.offset();
        match self.peek()? {
            None => Err(syntax(offset, "expected a value, found the end of the input")),
            Some(b'{' | b'[') => self.scan_container(watch),
            Some(first) => {
                let keep = !matches!(watch, Watch::Skip);
                let offset = self.offset();
                if keep {
                    self.mark = Some(self.pos);
                }
                let result = if first == b'"' { self.scan_string().map(|_| ()) } else { self.scan_literal() };
                let start = self.mark.take();
                result?;
                Ok(match start {
                    Some(s) => Scanned::Kept { offset, range: s..self.pos },
                    None => Scanned::Skipped,
                })
            }
        }
    }

    /// A number or true/false/null: up to the next delimiter.
    fn scan_literal(&mut self) -> io::Result<()> {
        loop {
            while self.pos < self.end {
                match self.buf[self.pos] {
                    b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t' => return Ok(()),
                    _ => self.pos += 1,
                }
            }
            if !self.refill()? {
                return Ok(());
            }
        }
    }

    /// Scans an object or array starting at `pos`.
    fn scan_container(&mut self, watch: Watch<'_>) -> io::Result<Scanned> {
        let offset = self.offset();
        let (record, wanted) = match watch {
            Watch::Keep => (false, None),
            Watch::Skip => (false, None),
            Watch::Record { wanted } => (true, Some(wanted)),
        };
        // Kept: the bytes stay from here on. Record: kept until the code decides.
        let mut keep = !matches!(watch, Watch::Skip);
        self.mark = if keep { Some(self.pos) } else { None };
        // For records: the state of the `billing_code` search among the record's own members.
        let mut decided = !record;
        let mut code_key_seen = false;
        self.stack.clear();
        loop {
            if self.pos == self.end && !self.refill()? {
                self.mark = None;
                let message = match self.stack.last() {
                    Some(&(open, at)) => {
                        format!("the input ends inside this value: '{}' opened at byte {at} never closes", open as char)
                    }
                    None => "the input ends inside this value".to_owned(),
                };
                return Ok(Scanned::Broken { offset, at: self.offset(), message, resume: Resume::Lost });
            }
            let byte = self.buf[self.pos];
            match CLASS[byte as usize] {
                OTHER => {
                    // The common case: run over digits, commas, colons and whitespace.
                    let buf = &self.buf[..self.end];
                    let mut p = self.pos + 1;
                    while p < buf.len() && CLASS[buf[p] as usize] == OTHER {
                        p += 1;
                    }
                    self.pos = p;
                }
                QUOTE => {
                    let at_member_level = self.stack.len() == 1;
                    let start = match self.scan_string() {
                        Ok(start) => start,
                        Err(e) => {
                            let Some(at) = SyntaxAt::of(&e).map(|s| s.offset) else { return Err(e) };
                            self.mark = None;
                            let message =
                                format!("the input ends inside this value, in a string that starts at byte {at}");
                            return Ok(Scanned::Broken { offset, at: self.offset(), message, resume: Resume::Lost });
                        }
                    };
                    if !decided && at_member_level {
                        // Kept so far, so the string is still in the buffer.
                        let s = (start - self.base) as usize;
                        let text = &self.buf[s + 1..self.pos - 1];
                        if code_key_seen {
                            decided = true;
                            if !wanted.is_some_and(|w| w(text)) {
                                keep = false;
                                self.mark = None;
                            }
                        } else if text == b"billing_code" && self.colon_follows()? {
                            code_key_seen = true;
                        }
                    }
                }
                OPEN => {
                    let at = self.offset();
                    if record && byte == b'{' && !self.stack.is_empty() && self.record_starts_here()? {
                        self.mark = None;
                        let message = format!(
                            "truncated: a new in_network record starts at byte {at} before this one closed{}",
                            self.stack
                                .last()
                                .map(|&(o, p)| format!(" ('{}' opened at byte {p} is still open)", o as char))
                                .unwrap_or_default()
                        );
                        return Ok(Scanned::Broken { offset, at, message, resume: Resume::NextRecord });
                    }
                    if !decided && self.stack.len() == 1 && code_key_seen {
                        // billing_code holds an object or array: keep the record so parsing names the error.
                        decided = true;
                    }
                    self.stack.push((byte, at));
                    self.pos += 1;
                }
                _ => {
                    let at = self.offset();
                    let Some((open, opened_at)) = self.stack.pop() else {
                        return Err(syntax(at, "a closing bracket with nothing open"));
                    };
                    let matches = (open == b'{' && byte == b'}') || (open == b'[' && byte == b']');
                    self.pos += 1;
                    if !matches {
                        self.mark = None;
                        let message = format!(
                            "'{}' at byte {at} does not close '{}' opened at byte {opened_at}: the value is truncated",
                            byte as char, open as char
                        );
                        // A stray ']' most likely closes the array the broken record sat in.
                        let resume = if byte == b']' { Resume::AfterArray } else { Resume::Lost };
                        return Ok(Scanned::Broken { offset, at, message, resume });
                    }
                    if self.stack.is_empty() {
                        let start = self.mark.take();
                        return Ok(match (keep, start) {
                            (true, Some(s)) => Scanned::Kept { offset, range: s..self.pos },
                            _ => Scanned::Skipped,
                        });
                    }
                }
            }
        }
    }

    /// After a key string: is the next non-whitespace byte a colon? (Distinguishes a key from a value.)
    fn colon_follows(&mut self) -> io::Result<bool> {
        Ok(self.peek()? == Some(b':'))
    }

    /// At a `{` nested inside a record: does its first member name say it is an in_network record?
    /// Only `negotiation_arrangement` and `negotiated_rates` qualify: the schema uses them at record level
    /// only (`billing_code` and friends also appear in bundled_codes and covered_services).
    fn record_starts_here(&mut self) -> io::Result<bool> {
        const FIRST_KEYS: [&[u8]; 2] = [b"\"negotiation_arrangement\"", b"\"negotiated_rates\""];
        const LOOKAHEAD: usize = 64;
        // Make sure enough bytes follow the brace (refill keeps everything from the mark or pos).
        while self.end - self.pos < LOOKAHEAD && !self.eof {
            let before = self.end - self.pos;
            if !self.refill()? || self.end - self.pos == before {
                break;
            }
        }
        let rest = &self.buf[self.pos + 1..self.end];
        let skip = rest.iter().take_while(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')).count();
        let rest = &rest[skip..];
        Ok(FIRST_KEYS.iter().any(|k| rest.starts_with(k)))
    }

    /// Moves to the next `{` whose first member marks an in_network record, dropping what lies before.
    /// Used after a broken record when the scanner lost its place. False if none follows.
    pub(crate) fn seek_record(&mut self) -> io::Result<bool> {
        self.mark = None;
        loop {
            while self.pos < self.end {
                if self.buf[self.pos] == b'{' && self.record_starts_here()? {
                    return Ok(true);
                }
                self.pos += 1;
            }
            if !self.refill()? {
                return Ok(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A reader that hands out one byte at a time: every refill path gets exercised.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn kept_text<R: Read>(s: &mut Scanner<R>, watch: Watch<'_>) -> Option<String> {
        match s.scan_value(watch).unwrap() {
            Scanned::Kept { range, .. } => Some(String::from_utf8(s.buffer()[range].to_vec()).unwrap()),
            _ => None,
        }
    }

    #[test]
    fn spans_survive_refills_and_escapes() {
        let text = br#" {"a": "x\"}]", "b": [1, {"c": null}]}  [true]"#;
        let mut s = Scanner::new(Trickle(text));
        assert_eq!(kept_text(&mut s, Watch::Keep).unwrap(), r#"{"a": "x\"}]", "b": [1, {"c": null}]}"#);
        assert_eq!(kept_text(&mut s, Watch::Keep).unwrap(), "[true]");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_counted() {
        let mut s = Scanner::new(Trickle(b"\xEF\xBB\xBF{}"));
        s.skip_bom().unwrap();
        assert_eq!(s.offset(), 3);
        assert_eq!(kept_text(&mut s, Watch::Keep).unwrap(), "{}");
    }

    #[test]
    fn records_are_kept_only_when_their_code_is_wanted() {
        let text = br#"{"billing_code_type":"CPT","billing_code":"99213","x":[1]},{"billing_code":"00632","y":{}}"#;
        let wanted = |c: &[u8]| c == b"00632";
        let mut s = Scanner::new(Trickle(text));
        assert!(matches!(s.scan_value(Watch::Record { wanted: &wanted }).unwrap(), Scanned::Skipped));
        assert!(s.next_or_close(b']', "").unwrap());
        let kept = kept_text(&mut s, Watch::Record { wanted: &wanted }).unwrap();
        assert_eq!(kept, r#"{"billing_code":"00632","y":{}}"#);
    }

    #[test]
    fn a_record_that_never_closes_is_broken_at_the_next_record() {
        let text = br#"{"negotiation_arrangement":"ffs","negotiated_rates":[{"a":1},{"negotiation_arrangement":"ffs"}"#;
        let mut s = Scanner::new(&text[..]);
        let wanted = |_: &[u8]| true;
        match s.scan_value(Watch::Record { wanted: &wanted }).unwrap() {
            Scanned::Broken { offset, at, resume, .. } => {
                assert_eq!((offset, resume), (0, Resume::NextRecord));
                assert_eq!(at, text.iter().rposition(|&b| b == b'{').unwrap() as u64);
                assert_eq!(s.offset(), at);
            }
            other => panic!("{other:?}"),
        }
    }
}
