//! The X12 tokenizer: delimiters from each ISA, segments as byte slices into one reusable buffer.

use std::cell::Cell;
use std::io::Read;
use std::ops::Range;

use memchr::memchr;

use crate::error::{SegmentRef, X12Error, X12ErrorKind};

/// The four delimiters of an interchange, read from its ISA segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// The byte after `ISA` (ISA byte 4).
    pub element: u8,
    /// ISA11 in 5010; None when ISA11 is a letter (the 4010 `U`).
    pub repetition: Option<u8>,
    /// ISA16.
    pub component: u8,
    /// The byte after ISA16.
    pub segment: u8,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters { element: b'*', repetition: Some(b'^'), component: b':', segment: b'~' }
    }
}

impl Delimiters {
    /// True when `byte` is one of the four delimiters.
    pub fn contains(&self, byte: u8) -> bool {
        byte == self.element || byte == self.component || byte == self.segment || Some(byte) == self.repetition
    }

    fn check(&self, at: SegmentRef) -> Result<(), X12Error> {
        let message = match self.clash() {
            None => return Ok(()),
            Some(DelimiterClash::LetterOrDigit { byte, .. }) => {
                format!("delimiter {:?} is a letter or digit", char::from(byte))
            }
            Some(DelimiterClash::Shared { byte, .. }) => {
                format!("the ISA uses {:?} for two different delimiters", char::from(byte))
            }
        };
        Err(X12Error::new(X12ErrorKind::Syntax, at, message))
    }

    /// The first delimiter, in ISA order, that cannot delimit: a letter or digit, or a byte an earlier
    /// delimiter already is. The reader refuses such an ISA, so the writer refuses to write one.
    pub(crate) fn clash(&self) -> Option<DelimiterClash> {
        let named = [
            ("element_separator", Some(self.element)),
            ("repetition_separator", self.repetition),
            ("component_separator", Some(self.component)),
            ("segment_terminator", Some(self.segment)),
        ];
        named.iter().enumerate().find_map(|(i, &(field, byte))| {
            let byte = byte?;
            if byte.is_ascii_alphanumeric() {
                return Some(DelimiterClash::LetterOrDigit { field, byte });
            }
            let (earlier, _) = named[..i].iter().find(|(_, b)| *b == Some(byte))?;
            Some(DelimiterClash::Shared { field, earlier, byte })
        })
    }
}

/// Why a set of delimiters cannot delimit an interchange (see [`Delimiters::clash`]); fields are named
/// as `WriteOptions` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DelimiterClash {
    LetterOrDigit { field: &'static str, byte: u8 },
    Shared { field: &'static str, earlier: &'static str, byte: u8 },
}

/// One segment: a view into the reader's buffer, valid until the next call to the reader.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    data: &'a [u8],
    /// The id, kept as found: every segment's id is read several times (envelope checks, dispatch, each
    /// location), and finding it again from `bounds` cost ~20 instructions each time.
    id: &'a [u8],
    /// The reader's buffer as text, when it is (see [`Buffer`]), and where `data` starts in it: values
    /// are sliced from it with no check of their own.
    text: Option<&'a str>,
    start: usize,
    /// Start of each element (index 0 = the id), then `data.len() + 1`.
    bounds: &'a [u32],
    delims: Delimiters,
    /// Where the segment is (its number, offset and id), made once: most segments are located
    /// several times (each value's source, each error).
    at: SegmentRef,
    /// The first value read as text that was not UTF-8 (see [`Segment::not_text`]).
    not_text: Cell<Option<u64>>,
}

impl<'a> Segment<'a> {
    /// The segment id (`CLM`).
    pub fn id(&self) -> &'a [u8] {
        self.id
    }

    /// The raw bytes of the segment, without its terminator.
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    pub fn delimiters(&self) -> Delimiters {
        self.delims
    }

    /// 1-based position of the segment in the input.
    pub fn number(&self) -> u64 {
        self.at.segment_number
    }

    /// Byte offset of the segment's first byte in the input.
    pub fn offset(&self) -> u64 {
        self.at.byte_offset
    }

    /// Number of elements after the id.
    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(2)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` (1-based; 0 is the id); empty when absent.
    pub fn element(&self, i: usize) -> &'a [u8] {
        self.data.get(self.element_range(i)).unwrap_or(&[])
    }

    /// Where element `i` is in `data`; empty when absent.
    fn element_range(&self, i: usize) -> Range<usize> {
        match (self.bounds.get(i), self.bounds.get(i + 1)) {
            (Some(&start), Some(&end)) => start as usize..(end as usize).saturating_sub(1),
            _ => 0..0,
        }
    }

    /// The bytes at `range` as trimmed text; empty when not UTF-8, which [`Segment::not_text`] then tells.
    #[inline]
    fn text_at(&self, range: Range<usize>) -> &'a str {
        // Already checked: a slice (unless the range cuts a character, which `checked_text_at` reports).
        if let Some(text) = self.text
            && range.end <= self.data.len()
            && let Some(text) = text.get(self.start + range.start..self.start + range.end)
        {
            return text.trim_ascii();
        }
        self.checked_text_at(range)
    }

    /// [`Segment::text_at`] with a UTF-8 check of its own.
    #[inline(never)]
    fn checked_text_at(&self, range: Range<usize>) -> &'a str {
        let bytes = self.data.get(range).unwrap_or(&[]).trim_ascii();
        std::str::from_utf8(bytes).unwrap_or_else(|e| {
            if self.not_text.get().is_none() {
                // The first bad byte, as an offset from the start of the input.
                let at = bytes.as_ptr() as usize - self.data.as_ptr() as usize + e.valid_up_to();
                self.not_text.set(Some(self.offset() + at as u64));
            }
            ""
        })
    }

    /// Where a value read as text was not UTF-8 (read as empty instead), as a byte offset in the input.
    pub(crate) fn not_text(&self) -> Option<u64> {
        self.not_text.get()
    }

    /// Element `i` as text, trimmed; empty when absent or not UTF-8.
    #[inline]
    pub fn text(&self, i: usize) -> &'a str {
        self.text_at(self.element_range(i))
    }

    /// Element `i`, trimmed, as bytes: for comparing with code values without a UTF-8 check.
    pub fn code(&self, i: usize) -> &'a [u8] {
        self.element(i).trim_ascii()
    }

    /// Component `j` (1-based) of element `i`; the whole element when it is not a composite and j = 1.
    pub fn component(&self, i: usize, j: usize) -> &'a [u8] {
        component_of(self.element(i), self.delims.component, j)
    }

    /// Component `j` of element `i` as trimmed text.
    #[inline]
    pub fn component_text(&self, i: usize, j: usize) -> &'a str {
        let element = self.element_range(i);
        let within = component_range(self.data.get(element.clone()).unwrap_or(&[]), self.delims.component, j);
        self.text_at(element.start + within.start..element.start + within.end)
    }

    /// The first `N` components of element `i` as trimmed text (missing ones empty): one pass over
    /// the element instead of one per component.
    #[inline]
    pub fn component_texts<const N: usize>(&self, i: usize) -> [&'a str; N] {
        let components = self.components_of::<N>(i);
        std::array::from_fn(|j| components.text(j + 1))
    }

    /// Where the first `N` components of element `i` are (missing ones empty), found in one pass over
    /// the element: [`Segment::component`] and [`Segment::component_text`] each scan from its start.
    #[inline]
    pub(crate) fn components_of<const N: usize>(&self, i: usize) -> Components<'_, 'a, N> {
        let element = self.element_range(i);
        let bytes = &self.data[element.clone()];
        let mut ranges = [const { 0..0 }; N];
        let mut start = 0;
        for range in &mut ranges {
            if start > bytes.len() {
                break;
            }
            // An index loop over the element: `position` on each component's rest cost 7 instructions a byte.
            let mut end = start;
            while end < bytes.len() && bytes[end] != self.delims.component {
                end += 1;
            }
            *range = element.start + start..element.start + end;
            start = end + 1;
        }
        Components { segment: self, ranges }
    }

    /// The components of element `i`.
    pub fn components(&self, i: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
        let sep = self.delims.component;
        self.element(i).split(move |&b| b == sep)
    }

    /// Where this segment is, for errors and source tables.
    #[inline]
    pub fn at(&self) -> SegmentRef {
        self.at
    }

    /// Where element `i` of this segment is.
    #[inline]
    pub fn at_element(&self, i: usize) -> SegmentRef {
        self.at().element(i)
    }

    /// Where component `j` of element `i` is.
    #[inline]
    pub fn at_component(&self, i: usize, j: usize) -> SegmentRef {
        self.at().component(i, j)
    }
}

/// The first components of an element, found in one pass ([`Segment::components_of`]).
pub(crate) struct Components<'s, 'a, const N: usize> {
    segment: &'s Segment<'a>,
    ranges: [Range<usize>; N],
}

impl<'a, const N: usize> Components<'_, 'a, N> {
    /// Component `j` (1-based) as trimmed text, as [`Segment::component_text`] reads it.
    #[inline]
    pub(crate) fn text(&self, j: usize) -> &'a str {
        let range = &self.ranges[j - 1];
        // A missing or empty component is empty text: no slice to check.
        if range.is_empty() {
            return "";
        }
        self.segment.text_at(range.clone())
    }

    /// Component `j` (1-based), trimmed, as bytes: for comparing with code values without a UTF-8 check.
    #[inline]
    pub(crate) fn code(&self, j: usize) -> &'a [u8] {
        self.segment.data.get(self.ranges[j - 1].clone()).unwrap_or(&[]).trim_ascii()
    }
}

pub(crate) fn component_of(element: &[u8], sep: u8, j: usize) -> &[u8] {
    &element[component_range(element, sep, j)]
}

/// The first component separator in `bytes`. Components are a few bytes: a byte loop is cheaper than a
/// `memchr` call, and than [`find_byte`]'s words (measured on `bench_837`).
#[inline]
fn component_end(bytes: &[u8], sep: u8) -> Option<usize> {
    bytes.iter().position(|&b| b == sep)
}

/// Where component `j` (1-based; 0 = the whole element) is in `element`; empty when absent.
fn component_range(element: &[u8], sep: u8, j: usize) -> Range<usize> {
    if j == 0 {
        return 0..element.len();
    }
    let find = |from: usize| component_end(&element[from..], sep).map(|n| from + n);
    let mut start = 0;
    for _ in 1..j {
        match find(start) {
            Some(end) => start = end + 1,
            None => return 0..0,
        }
    }
    start..find(start).unwrap_or(element.len())
}

/// Finds the segment terminator in `window` (the segment's length) and records where each element
/// starts on the way (for the segments [`scan_in_blocks`] leaves): segments average ~25 bytes and 5
/// elements, so a branch per byte or a `memchr` call per element and another for the terminator cost
/// more. A segment that ends within 48 bytes (nearly all: ISA and long names do not) takes one mask of
/// its first 48 bytes' terminators and one of their separators ([`byte_mask`]); a longer one is
/// scanned 8 bytes at a time.
/// `bounds` gets 0 and each element start; None (and partial `bounds`) when there is no terminator.
// Inlined into `next_segment`, its one hot caller: the call cost ~20 instructions a segment.
#[inline(always)]
fn scan_segment(window: &[u8], delims: Delimiters, bounds: &mut Vec<u32>) -> Option<usize> {
    bounds.clear();
    bounds.push(0);
    if let Some(block) = window.first_chunk::<48>() {
        let ends = byte_mask(block, delims.segment);
        if ends != 0 {
            let len = ends.trailing_zeros();
            // Only separators before the terminator belong to this segment.
            let mut separators = byte_mask(block, delims.element) & ((1 << len) - 1);
            while separators != 0 {
                bounds.push(separators.trailing_zeros() + 1);
                separators &= separators - 1;
            }
            return Some(len as usize);
        }
    }
    let element = u64::from_ne_bytes([delims.element; 8]);
    let terminator = u64::from_ne_bytes([delims.segment; 8]);
    let (words, rest) = window.as_chunks::<8>();
    for (w, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word);
        let mut separators = zero_bytes(word ^ element);
        let ends = zero_bytes(word ^ terminator);
        // Only separators before the terminator belong to this segment.
        let first_end = ends & ends.wrapping_neg();
        if first_end != 0 {
            separators &= first_end - 1;
        }
        while separators != 0 {
            bounds.push((w * 8) as u32 + separators.trailing_zeros() / 8 + 1);
            separators &= separators - 1;
        }
        if first_end != 0 {
            return Some(w * 8 + first_end.trailing_zeros() as usize / 8);
        }
    }
    let base = words.len() * 8;
    for (i, &b) in rest.iter().enumerate() {
        if b == delims.segment {
            return Some(base + i);
        }
        if b == delims.element {
            bounds.push((base + i + 1) as u32);
        }
    }
    None
}

/// Where the terminators and the element separators are in the 64 bytes of the buffer from `at`
/// (bit i: byte `at + i`).
#[derive(Debug, Clone, Copy)]
struct BlockMasks {
    at: usize,
    ends: u64,
    separators: u64,
}

impl BlockMasks {
    /// The masks of `buf[at..at + 64]`; None when the buffer ends before.
    #[inline(always)]
    fn of(buf: &[u8], at: usize, delims: Delimiters) -> Option<BlockMasks> {
        let block = buf.get(at..)?.first_chunk::<64>()?;
        Some(BlockMasks { at, ends: byte_mask(block, delims.segment), separators: byte_mask(block, delims.element) })
    }
}

/// [`scan_segment`] for the segment at `buf[start..]` when it ends within 64 bytes, from the masks of
/// whole 64-byte blocks kept in `masks` across segments: a segment averages ~25 bytes, so one block's
/// masks serve two or three segments, where [`scan_segment`] makes two masks of 48 bytes for each.
/// Its length, with 0 and its element starts written at the start of `bounds`, and how many those are.
/// None for a longer segment or one too near the end of `buf`: the caller scans it with
/// [`scan_segment`].
#[inline(always)]
fn scan_in_blocks(
    buf: &[u8],
    start: usize,
    delims: Delimiters,
    masks: &mut Option<BlockMasks>,
    bounds: &mut [u32; SHORT_BOUNDS],
) -> Option<(usize, usize)> {
    let block = match *masks {
        // `start` in the block (the subtraction wraps for a start before it).
        Some(block) if start.wrapping_sub(block.at) < 64 => block,
        _ => {
            let block = BlockMasks::of(buf, start, delims)?;
            *masks = Some(block);
            block
        }
    };
    let offset = start - block.at;
    let mut ends = block.ends >> offset;
    let mut separators = block.separators >> offset;
    if ends == 0 && offset > 0 {
        // No terminator in the rest of this block: the next block's masks continue its bits.
        let next = BlockMasks::of(buf, block.at + 64, delims)?;
        *masks = Some(next);
        ends |= next.ends << (64 - offset);
        separators |= next.separators << (64 - offset);
    }
    if ends == 0 {
        return None;
    }
    let len = ends.trailing_zeros();
    // Only separators before the terminator belong to this segment.
    separators &= (1 << len) - 1;
    bounds[0] = 0;
    let mut used = 1;
    // At most 63 separators (`len` < 64): each has a slot below 64, and one is left for the end. `& 63`
    // changes no index, but tells the compiler so: no bounds check and no count of slots each separator.
    while separators != 0 {
        bounds[used & 63] = separators.trailing_zeros() + 1;
        separators &= separators - 1;
        used += 1;
    }
    Some((len as usize, used))
}

/// Room in [`SegmentReader::short_bounds`] for 0, the element starts of a segment of at most 63 bytes
/// and its end.
const SHORT_BOUNDS: usize = 65;

/// The first `byte` in `window`, 8 bytes at a time: for a segment of ~25 bytes this is cheaper than a
/// `memchr` call (the splitter's `skip_body` calls it once per segment).
fn find_byte(window: &[u8], byte: u8) -> Option<usize> {
    let pattern = u64::from_ne_bytes([byte; 8]);
    let (words, rest) = window.as_chunks::<8>();
    for (w, word) in words.iter().enumerate() {
        let found = zero_bytes(u64::from_le_bytes(*word) ^ pattern);
        if found != 0 {
            return Some(w * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    rest.iter().position(|&b| b == byte).map(|i| words.len() * 8 + i)
}

/// The high bit of each byte of `x` that is zero, and no other bit (exact, unlike the cheaper
/// `(x - 0x01..) & !x & 0x80..` which can flag a 0x01 byte after a zero byte).
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

const DEFAULT_BUFFER: usize = 64 * 1024;
/// Longest segment accepted; anything longer is reported and skipped.
pub const MAX_SEGMENT_LEN: usize = 64 * 1024;
/// ISA is 106 bytes; tolerate padding mistakes up to this length while looking for ISA16.
const MAX_ISA_LEN: usize = 512;

/// The reader's buffer, its length the bytes read into it. Held as a `String` when they are UTF-8 (the
/// usual case, checked once a read): a value is then a slice of it, where a check of each value costs
/// ~100 instructions (`str::from_utf8` on a few bytes). Else values are checked one by one.
#[derive(Debug)]
enum Buffer {
    Bytes(Vec<u8>),
    Text(String),
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::Bytes(Vec::new())
    }
}

impl Buffer {
    fn checked(bytes: Vec<u8>) -> Buffer {
        String::from_utf8(bytes).map_or_else(|e| Buffer::Bytes(e.into_bytes()), Buffer::Text)
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Bytes(bytes) => bytes,
            Buffer::Text(text) => text.as_bytes(),
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Buffer::Bytes(_) => None,
            Buffer::Text(text) => Some(text),
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        match self {
            Buffer::Bytes(bytes) => bytes,
            Buffer::Text(text) => text.into_bytes(),
        }
    }
}

/// Reads segments from any `Read` through one reusable buffer (64 KiB, never more than
/// `MAX_SEGMENT_LEN` + the read chunk). Delimiters are taken from each ISA.
#[derive(Debug)]
pub struct SegmentReader<R> {
    src: R,
    /// Holds `end` bytes; `start..end` not yet read.
    buf: Buffer,
    /// How many bytes `buf` may hold before it grows.
    size: usize,
    start: usize,
    end: usize,
    eof: bool,
    /// Input offset of `buf[0]`.
    base: u64,
    delims: Option<Delimiters>,
    count: u64,
    bounds: Vec<u32>,
    /// `bounds` for a segment [`scan_in_blocks`] found (under 64 bytes): written by index, where each
    /// push to `bounds` checked its capacity.
    short_bounds: [u32; SHORT_BOUNDS],
    /// The masks of the 64-byte block the last segment ended in (see [`scan_in_blocks`]); None when
    /// the buffer moved or the delimiters changed since.
    masks: Option<BlockMasks>,
    /// After an over-long segment: drop bytes up to the next terminator.
    skipping: bool,
    /// Input bytes consumed so far (for throughput figures).
    last_segment_end: u64,
    /// Skim mode (the parallel reader's splitter): [`SegmentReader::skip_body`] passes over body
    /// segments, counting them, without splitting their elements.
    skim: bool,
    /// While capturing: the input offset of the next byte to copy, and the bytes copied so far.
    capture: Option<(u64, Vec<u8>)>,
    /// The length of the last capture: the next is likely as long (one allocation, no regrowth).
    capture_hint: usize,
    /// Buffers of finished captures given back (see [`SegmentReader::recycle`]): reused by the next
    /// captures instead of fresh allocations, which cost a page fault per 4 KiB on every transaction.
    spare: Vec<Vec<u8>>,
}

/// How many given-back capture buffers are kept, and the largest kept (memory stays bounded).
const MAX_SPARE: usize = 2;
const MAX_SPARE_BYTES: usize = 4 << 20;

/// What the reader produced.
pub(crate) enum Next<'a> {
    Segment(Segment<'a>),
    /// Damage confined to one segment (reading goes on at the next one): a fragment that is not a
    /// segment (a stray terminator split one, or two terminators in a row), not in the sender's segment
    /// count; or a segment too long to hold, skipped, which is.
    Damaged {
        error: X12Error,
        counted: bool,
    },
    Error(X12Error),
    End,
}

impl SegmentReader<std::io::Empty> {
    /// [`SegmentReader::resume`] over bytes already in memory: they become the buffer (no copy).
    pub(crate) fn over(bytes: Vec<u8>, base: u64, segments: u64, delims: Delimiters) -> Self {
        let mut reader = SegmentReader::resume(std::io::empty(), base, segments, delims);
        reader.end = bytes.len();
        reader.size = bytes.len();
        reader.buf = Buffer::checked(bytes);
        reader.eof = true;
        reader
    }
}

impl<R: Read> SegmentReader<R> {
    pub fn new(src: R) -> SegmentReader<R> {
        SegmentReader {
            src,
            buf: Buffer::default(),
            size: DEFAULT_BUFFER,
            start: 0,
            end: 0,
            eof: false,
            base: 0,
            delims: None,
            count: 0,
            bounds: Vec::with_capacity(32),
            short_bounds: [0; SHORT_BOUNDS],
            masks: None,
            skipping: false,
            last_segment_end: 0,
            skim: false,
            capture: None,
            capture_hint: 0,
            spare: Vec::new(),
        }
    }

    /// A reader that starts in the middle of an input: `src` begins at input offset `base`, after
    /// `segments` segments, inside an interchange with `delims`. Locations are those of the whole input.
    pub(crate) fn resume(src: R, base: u64, segments: u64, delims: Delimiters) -> SegmentReader<R> {
        let mut reader = SegmentReader::new(src);
        reader.base = base;
        reader.last_segment_end = base;
        reader.count = segments;
        reader.delims = Some(delims);
        reader
    }

    /// Skim mode: see the `skim` field.
    pub(crate) fn set_skim(&mut self, skim: bool) {
        self.skim = skim;
    }

    /// Starts copying the input from offset `from` (not yet dropped from the buffer) on.
    pub(crate) fn start_capture(&mut self, from: u64) {
        let bytes = match self.spare.pop() {
            Some(mut bytes) => {
                bytes.clear();
                bytes.reserve(self.capture_hint);
                bytes
            }
            None => Vec::with_capacity(self.capture_hint),
        };
        self.capture = Some((from.max(self.base), bytes));
    }

    /// Gives back a buffer [`SegmentReader::take_capture`] returned, once done with, for reuse.
    pub(crate) fn recycle(&mut self, bytes: Vec<u8>) {
        if self.spare.len() < MAX_SPARE && bytes.capacity() <= MAX_SPARE_BYTES {
            self.spare.push(bytes);
        }
    }

    /// The buffer of a reader made by [`SegmentReader::over`], to give back with `recycle`.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf.into_bytes()
    }

    /// Stops capturing; drops what was copied.
    pub(crate) fn stop_capture(&mut self) {
        if let Some((_, bytes)) = self.capture.take() {
            self.recycle(bytes);
        }
    }

    /// Bytes captured so far, up to the end of the last segment read (some may still be in the buffer
    /// only; the bytes read into the buffer past it are not counted).
    pub(crate) fn captured_len(&self) -> u64 {
        self.capture
            .as_ref()
            .map_or(0, |(next, bytes)| bytes.len() as u64 + self.last_segment_end.saturating_sub(*next))
    }

    /// Stops capturing and returns the input from the capture's start up to offset `upto` (which must
    /// still be in the buffer: the start of a segment just read, or the end of the last one).
    pub(crate) fn take_capture(&mut self, upto: u64) -> Vec<u8> {
        let Some((next, mut bytes)) = self.capture.take() else { return Vec::new() };
        let from = usize::try_from(next.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.end);
        let upto = usize::try_from(upto.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.end);
        if from < upto {
            bytes.extend_from_slice(&self.buf.bytes()[from..upto]);
        }
        // A little over the last length: sizes vary a little between transactions.
        self.capture_hint = (bytes.len() + bytes.len() / 8).min(crate::par837::MAX_JOB_BYTES as usize);
        bytes
    }

    /// The delimiters of the current interchange.
    pub fn delimiters(&self) -> Option<Delimiters> {
        self.delims
    }

    /// Bytes of input consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.last_segment_end
    }

    /// Segments produced so far.
    pub fn segments_read(&self) -> u64 {
        self.count
    }

    /// Reads more input into the buffer; compacts first. Returns false at end of input.
    fn fill(&mut self) -> Result<bool, X12Error> {
        if self.eof {
            return Ok(false);
        }
        let mut buf = std::mem::take(&mut self.buf).into_bytes();
        self.masks = None;
        if self.start > 0 {
            // Bytes before `start` are about to go: copy them first when capturing.
            if let Some((next, bytes)) = &mut self.capture {
                let from = usize::try_from(next.saturating_sub(self.base)).unwrap_or(usize::MAX);
                if from < self.start {
                    bytes.extend_from_slice(&buf[from..self.start]);
                    *next = self.base + self.start as u64;
                }
            }
            buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.size {
            let grown = (self.size * 2).min(MAX_SEGMENT_LEN + DEFAULT_BUFFER);
            if grown <= self.size {
                self.buf = Buffer::Bytes(buf);
                return Ok(true); // full: the caller decides (segment too long)
            }
            self.size = grown;
        }
        let kept = self.end;
        // Bytes past `end` are read over; zeroed only where a short read (or growth) left none.
        buf.resize(self.size, 0);
        let read = loop {
            match self.src.read(&mut buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    break Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.eof = true;
                    let at = SegmentRef::new(self.count + 1, self.base + self.end as u64, b"");
                    break Err(X12Error::new(X12ErrorKind::Io, at, format!("reading the input failed: {e}")));
                }
            }
        };
        buf.truncate(self.end);
        // Checked whole when the read at least doubled what the buffer held: a stream of small reads
        // into a long segment would otherwise check it again for every few bytes. Not when skimming:
        // the splitter reads few values (its workers check each transaction they are given).
        let check = self.end - kept >= kept && !self.skim;
        self.buf = if check { Buffer::checked(buf) } else { Buffer::Bytes(buf) };
        read
    }

    fn here(&self, id: &[u8]) -> SegmentRef {
        SegmentRef::new(self.count + 1, self.base + self.start as u64, id)
    }

    /// The next segment (a view into the buffer, valid until the next call), an error after which
    /// reading goes on, or None at the end of the input. No envelope checks: see `Reader837`/`Reader835`.
    pub fn read_segment(&mut self) -> Option<Result<Segment<'_>, X12Error>> {
        match self.next_segment() {
            Next::Segment(s) => Some(Ok(s)),
            Next::Damaged { error: e, .. } | Next::Error(e) => Some(Err(e)),
            Next::End => None,
        }
    }

    /// The next segment, an error (after which reading goes on), or the end.
    // Inlined into its callers (the driver's loop): a call of its own cost ~20 instructions a segment.
    #[inline(always)]
    pub(crate) fn next_segment(&mut self) -> Next<'_> {
        match self.short_segment() {
            Some((len, used, delims)) => self.emit(len, delims, Some(used)),
            None => self.read_segment_slowly(),
        }
    }

    /// The usual segment, found without `read_segment_slowly`'s rarer paths (reads, ISAs, skipping,
    /// errors, long segments): its length, how many of `short_bounds` it has, and the delimiters. None
    /// for anything else, which `read_segment_slowly` reads from the same start (the blanks skipped
    /// here are skipped there too). Apart, the usual path is a small function: inside the full loop it
    /// paid that loop's prologue, frame and register spills on every segment.
    #[inline(always)]
    fn short_segment(&mut self) -> Option<(usize, usize, Delimiters)> {
        let bytes = &self.buf.bytes()[..self.end];
        self.start = skip_blanks(bytes, self.start);
        let delims = self.delims.filter(|_| !self.skipping)?;
        let window = &bytes[self.start..];
        // An ISA (re)defines the delimiters; a segment of under 4 bytes may be one cut by the read.
        if window.len() < 4 || opens_interchange(window) {
            return None;
        }
        let (len, used) = scan_in_blocks(bytes, self.start, delims, &mut self.masks, &mut self.short_bounds)?;
        Some((len, used, delims))
    }

    /// [`SegmentReader::next_segment`] for anything `short_segment` does not read.
    #[inline(never)]
    fn read_segment_slowly(&mut self) -> Next<'_> {
        loop {
            // Skip line breaks (and stray blanks) between segments.
            self.start = skip_blanks(&self.buf.bytes()[..self.end], self.start);
            if self.start == self.end {
                match self.fill() {
                    Ok(true) => continue,
                    Ok(false) => {
                        self.last_segment_end = self.base + self.end as u64;
                        return Next::End;
                    }
                    Err(e) => return Next::Error(e),
                }
            }
            if self.skipping {
                let terminator = self.delims.map_or(b'~', |d| d.segment);
                match memchr(terminator, &self.buf.bytes()[self.start..self.end]) {
                    Some(i) => {
                        self.start += i + 1;
                        self.skipping = false;
                    }
                    None => {
                        self.start = self.end;
                    }
                }
                continue;
            }
            // An ISA (re)defines the delimiters.
            if self.end - self.start < 4 && !self.eof {
                match self.fill() {
                    Ok(_) => continue,
                    Err(e) => return Next::Error(e),
                }
            }
            let window = &self.buf.bytes()[self.start..self.end];
            if opens_interchange(window) {
                match self.read_isa() {
                    Ok(true) => {}
                    Ok(false) => continue, // more input was read
                    Err(e) => return Next::Error(e),
                }
            } else if self.delims.is_none() {
                return Next::Error(self.resync_to_isa());
            }
            let Some(delims) = self.delims else { continue };
            let bytes = &self.buf.bytes()[..self.end];
            let window = &bytes[self.start..];
            let scanned = match scan_in_blocks(bytes, self.start, delims, &mut self.masks, &mut self.short_bounds) {
                Some((len, bounds)) => Some((len, Some(bounds))),
                None => scan_segment(window, delims, &mut self.bounds).map(|len| (len, None)),
            };
            let Some((len, short_bounds)) = scanned else {
                if self.eof {
                    let at = self.here(segment_id_prefix(window, delims.element));
                    let tail = window.len();
                    self.start = self.end;
                    self.last_segment_end = self.base + self.end as u64;
                    return Next::Error(X12Error::new(
                        X12ErrorKind::Truncated,
                        at,
                        format!("the input ends inside a segment ({tail} bytes with no segment terminator)"),
                    ));
                }
                if self.end - self.start >= MAX_SEGMENT_LEN {
                    let at = self.here(segment_id_prefix(window, delims.element));
                    self.count += 1;
                    self.skipping = true;
                    self.start = self.end;
                    let error = X12Error::new(
                        X12ErrorKind::Syntax,
                        at,
                        format!("segment longer than {MAX_SEGMENT_LEN} bytes: skipped"),
                    );
                    return Next::Damaged { error, counted: true };
                }
                match self.fill() {
                    Ok(_) => continue,
                    Err(e) => return Next::Error(e),
                }
            };
            return self.emit(len, delims, short_bounds);
        }
    }

    /// Emits the `len` bytes at `start` as one segment; `bounds`, or the first `short_bounds` of
    /// `short_bounds` when given, already holds its element starts.
    // Inlined into `next_segment`, its hot caller: a call of its own cost ~20 instructions a segment.
    #[inline(always)]
    fn emit(&mut self, len: usize, delims: Delimiters, short_bounds: Option<usize>) -> Next<'_> {
        let seg_start = self.start;
        self.start += len + 1;
        self.count += 1;
        self.last_segment_end = self.base + self.start as u64;
        let raw = &self.buf.bytes()[seg_start..seg_start + len];
        let (data, bounds, id_end) = match short_bounds {
            Some(used) => {
                let (data, used, id_end) = complete_bounds(raw, delims, &mut self.short_bounds, used);
                (data, &self.short_bounds[..used], id_end)
            }
            None => {
                self.bounds.push(0); // room for the end
                let used = self.bounds.len() - 1;
                let (data, used, id_end) = complete_bounds(raw, delims, &mut self.bounds, used);
                self.bounds.truncate(used);
                (data, &self.bounds[..], id_end)
            }
        };
        let offset = self.base + seg_start as u64;
        let id = &data[..id_end];
        if !is_segment_id(id) {
            // Not quoted, nor kept as the segment's id: what stands where an id should is most often
            // the rest of a value (a name, a member id) cut off by a stray terminator.
            let at = SegmentRef::new(self.count, offset, &[]);
            let message = match len {
                0 => "an empty segment (two segment terminators in a row)".to_owned(),
                _ => format!(
                    "the {len} bytes here are not a segment (no segment id of 2-3 upper-case letters or digits): the \
                     segment before may hold a stray segment terminator"
                ),
            };
            let error = X12Error::new(X12ErrorKind::Syntax, at, message);
            return Next::Damaged { error, counted: false };
        }
        Next::Segment(Segment {
            data,
            id,
            text: self.buf.text(),
            start: seg_start,
            bounds,
            delims,
            at: SegmentRef::of_segment(self.count, offset, id),
            not_text: Cell::new(None),
        })
    }

    /// Skim mode, inside a transaction: passes over the body segments already in the buffer (each a
    /// valid segment that is not an envelope one: what `next_segment` would return and the envelope
    /// checks would only count) without returning them; how many. Stops before anything else (an
    /// envelope segment, an error, a segment not wholly in the buffer) for `next_segment` to read.
    pub(crate) fn skip_body(&mut self) -> u64 {
        let Some(delims) = self.delims.filter(|_| self.skim && !self.skipping) else { return 0 };
        let (start, skipped) = skim(&self.buf.bytes()[..self.end], self.start, delims);
        self.start = start;
        if skipped > 0 {
            self.count += skipped;
            self.last_segment_end = self.base + start as u64;
        }
        skipped
    }

    /// Reads the delimiters from the ISA at `start`. Ok(false): more input was read, call again.
    fn read_isa(&mut self) -> Result<bool, X12Error> {
        self.masks = None; // made with the delimiters of the interchange before
        let window = &self.buf.bytes()[self.start..self.end];
        let element = window[3];
        // ISA has 16 elements: ISA16 is the byte after the 16th element separator.
        let mut seps = 0;
        let mut isa16 = None;
        for (i, &b) in window.iter().enumerate().take(MAX_ISA_LEN).skip(3) {
            if b == element {
                seps += 1;
                if seps == 16 {
                    isa16 = Some(i + 1);
                    break;
                }
            }
        }
        let at = self.here(b"ISA");
        let Some(isa16) = isa16.filter(|&i| i + 1 < window.len()) else {
            if !self.eof && window.len() < MAX_ISA_LEN {
                return match self.fill()? {
                    true => Ok(false),
                    false => Err(self.truncated_isa(at)),
                };
            }
            return Err(self.truncated_isa(at));
        };
        let component = window[isa16];
        let segment = window[isa16 + 1];
        // ISA11: element 11, between separators 10 and 11.
        let isa11 = window[3..isa16]
            .split(|&b| b == element)
            .nth(11)
            .filter(|e| e.len() == 1 && !e[0].is_ascii_alphanumeric())
            .map(|e| e[0]);
        let delims = Delimiters { element, repetition: isa11, component, segment };
        if let Err(e) = delims.check(at) {
            self.start += isa16 + 2;
            self.count += 1;
            self.delims = None;
            return Err(e);
        }
        self.delims = Some(delims);
        Ok(true)
    }

    fn truncated_isa(&mut self, at: SegmentRef) -> X12Error {
        let err = if self.eof {
            X12Error::new(X12ErrorKind::Truncated, at, "the input ends inside the ISA segment")
        } else {
            X12Error::new(X12ErrorKind::Syntax, at, "ISA segment without 16 elements and a segment terminator")
        };
        // Skip this "ISA" so the next call looks for the next one.
        self.start += 3;
        self.count += 1;
        err
    }

    /// Before the first ISA (or after a broken one): skips to the next `ISA`.
    fn resync_to_isa(&mut self) -> X12Error {
        let at = self.here(b"");
        // The bytes here are not a usable ISA: drop at least one, so the search always moves on.
        self.start = (self.start + 1).min(self.end);
        let mut skipped: u64 = 1;
        loop {
            let window = &self.buf.bytes()[self.start..self.end];
            if let Some(i) = memchr::memmem::find(window, b"ISA") {
                self.start += i;
                skipped += i as u64;
                break;
            }
            // Keep the last two bytes: "IS" may continue in the next read.
            let keep = window.len().min(2);
            let drop = window.len() - keep;
            self.start += drop;
            skipped += drop as u64;
            match self.fill() {
                Ok(true) => {}
                Ok(false) => {
                    skipped += (self.end - self.start) as u64;
                    self.start = self.end;
                    break;
                }
                Err(_) => break,
            }
        }
        X12Error::new(X12ErrorKind::Syntax, at, format!("expected an ISA segment; skipped {skipped} bytes"))
    }
}

/// A segment's data without a CR before an LF terminator, how many of `bounds` it has, and where its id
/// ends, from the bytes before its terminator: the `used` element starts from a scan at the start of
/// `bounds` (0 first), which has room for one more, get the end of the last element.
fn complete_bounds<'b>(
    raw: &'b [u8],
    delims: Delimiters,
    bounds: &mut [u32],
    mut used: usize,
) -> (&'b [u8], usize, usize) {
    let mut data = raw;
    // A CR before an LF terminator belongs to the line break, not to the last element.
    if delims.segment == b'\n' && data.last() == Some(&b'\r') {
        data = &data[..data.len() - 1];
        if bounds[used - 1] as usize > data.len() {
            used -= 1; // the CR was the element separator: not a separator of this segment
        }
    }
    bounds[used] = data.len() as u32 + 1;
    used += 1;
    let id_end = (bounds[1] as usize).saturating_sub(1).min(data.len());
    (data, used, id_end)
}

/// Whether `window` begins an ISA segment: "ISA" and then its element separator (any byte that is not a
/// letter or digit), which the ISA itself defines.
#[inline]
fn opens_interchange(window: &[u8]) -> bool {
    matches!(window, [b'I', b'S', b'A', separator, ..] if !separator.is_ascii_alphanumeric())
}

/// ISA, GS, ST, SE, GE or IEA: the envelope's own segments (every other one is a transaction's body).
pub(crate) fn is_envelope_segment(id: &[u8]) -> bool {
    matches!(id, b"ISA" | b"GS" | b"ST" | b"SE" | b"GE" | b"IEA")
}

/// What `SegmentReader::skip_body` passes over in `buf` from `start`: where it stops (past the blanks
/// before the first segment it does not pass over) and how many segments it passed over. Whole
/// 64-byte blocks first, a block's terminators found at once ([`skim_blocks`]); the rest one segment
/// at a time ([`skim_segments`]), which also ends wherever the blocks stopped, with the same checks.
fn skim(buf: &[u8], start: usize, delims: Delimiters) -> (usize, u64) {
    let (start, in_blocks) = skim_blocks(buf, start, delims);
    let (start, one_by_one) = skim_segments(buf, start, delims);
    (start, in_blocks + one_by_one)
}

/// [`skim`] one segment at a time, each terminator found with [`find_byte`].
fn skim_segments(buf: &[u8], mut start: usize, delims: Delimiters) -> (usize, u64) {
    let mut skipped = 0;
    loop {
        start = skip_blanks(buf, start);
        let Some(window) = buf.get(start..).filter(|w| w.len() >= 5) else { break };
        let Some(id_len) = body_id_len(window, delims) else { break };
        let Some(len) = find_byte(&window[id_len + 1..], delims.segment) else { break };
        start += id_len + 1 + len + 1;
        skipped += 1;
    }
    (start, skipped)
}

/// [`skim`] over whole 64-byte blocks: each block's terminators are found in one pass
/// ([`byte_mask`]), and each segment then costs its id check and a bit scan, not a search (the
/// splitter's thread runs this over the whole input; segments average ~25 bytes). Stops at the start
/// of a segment (before its blanks): one [`skim_segments`] stops at too, or one whose terminator is
/// past the last whole block, for [`skim_segments`] to go on from.
fn skim_blocks(buf: &[u8], mut start: usize, delims: Delimiters) -> (usize, u64) {
    // A segment's terminator must be the first terminator after its start: no blank before the id
    // (skipped), no id byte and no element separator may be one. Never so for an ISA the reader took.
    let terminator = delims.segment;
    if is_blank(terminator) || ID_CLASS[usize::from(terminator)] & ID != 0 || terminator == delims.element {
        return (start, 0);
    }
    let mut block = start;
    let Some(first) = buf.get(block..).and_then(|b| b.first_chunk::<64>()) else { return (start, 0) };
    // The terminators in `block..block + 64` at or after `start`.
    let mut ends = byte_mask(first, terminator);
    let mut skipped = 0;
    loop {
        let at = skip_blanks(buf, start);
        let Some(window) = buf.get(at..at + 5) else { break };
        if body_id_len(window, delims).is_none() {
            break;
        }
        while ends == 0 {
            block += 64;
            let Some(next) = buf.get(block..).and_then(|b| b.first_chunk::<64>()) else { return (start, skipped) };
            ends = byte_mask(next, terminator);
        }
        start = block + ends.trailing_zeros() as usize + 1;
        ends &= ends - 1;
        skipped += 1;
    }
    (start, skipped)
}

/// Bit `i` set when `block[i] == byte` (`N` a multiple of 8, at most 64). The compiler does the comparisons 16 bytes at
/// a time; the multiplication gathers each 8 results (0 or 1, one a byte) into the 8 bits of one byte.
#[inline(always)]
fn byte_mask<const N: usize>(block: &[u8; N], byte: u8) -> u64 {
    let equal: [u8; N] = std::array::from_fn(|i| u8::from(block[i] == byte));
    let mut mask = 0;
    for (i, word) in equal.as_chunks::<8>().0.iter().enumerate() {
        mask |= (u64::from_le_bytes(*word).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    mask
}

/// `start` moved past the blanks `next_segment` skips between segments.
#[inline(always)]
fn skip_blanks(buf: &[u8], mut start: usize) -> usize {
    while let Some(&b) = buf.get(start)
        && is_blank(b)
    {
        start += 1;
    }
    start
}

fn is_blank(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0)
}

/// The id length of the segment starting `window` (5 bytes at least) when it is one `skip_body`
/// passes over: an id of 2-3 upper-case letters or digits, followed by the element separator, that is
/// not an envelope segment's. None for anything else, which `next_segment` reads.
#[inline(always)]
fn body_id_len(window: &[u8], delims: Delimiters) -> Option<usize> {
    let &[b0, b1, b2, b3, _] = window.first_chunk::<5>()?;
    let class = |b: u8| ID_CLASS[usize::from(b)];
    // The id ends at the first element separator, at byte 2 or 3 (else: not for this fast path).
    // A separator is never a letter or digit, so the id check also rules out an earlier one,
    // and a CR trimmed off the end (LF terminators) cannot touch an id followed by a separator.
    let id_len = if b2 == delims.element {
        2
    } else if b3 == delims.element && class(b2) & ID != 0 {
        3
    } else {
        return None;
    };
    let first = class(b0);
    if first & class(b1) & ID == 0 || (first & ENVELOPE_FIRST != 0 && is_envelope_segment(&window[..id_len])) {
        return None;
    }
    Some(id_len)
}

/// [`ID_CLASS`] bits: a byte a segment id is made of (an upper-case letter or a digit), and the first
/// byte of an envelope segment's id.
const ID: u8 = 1;
const ENVELOPE_FIRST: u8 = 2;

/// The [`ID`] and [`ENVELOPE_FIRST`] bits of each byte, as a table: one load a byte.
const ID_CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        if (b as u8).is_ascii_uppercase() || (b as u8).is_ascii_digit() {
            table[b] = ID;
        }
        if matches!(b as u8, b'I' | b'G' | b'S') {
            table[b] |= ENVELOPE_FIRST;
        }
        b += 1;
    }
    table
};

/// 2-3 upper-case letters or digits ([`ID_CLASS`]: one load a byte instead of two range checks; each
/// length spelled out, not a loop: this runs for every segment).
fn is_segment_id(id: &[u8]) -> bool {
    let class = |b: u8| ID_CLASS[usize::from(b)];
    match *id {
        [a, b] => class(a) & class(b) & ID != 0,
        [a, b, c] => class(a) & class(b) & class(c) & ID != 0,
        _ => false,
    }
}

fn segment_id_prefix(window: &[u8], element: u8) -> &[u8] {
    let end = memchr(element, window).unwrap_or(window.len()).min(3);
    &window[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISA: &str =
        "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *250305*1200*^*00501*000000001*0*P*:~";

    fn segment_ids(input: &[u8]) -> (Vec<String>, Vec<X12Error>) {
        let mut r = SegmentReader::new(input);
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        loop {
            match r.next_segment() {
                Next::Segment(s) => ids.push(String::from_utf8_lossy(s.id()).into_owned()),
                Next::Damaged { error: e, .. } | Next::Error(e) => errors.push(e),
                Next::End => break,
            }
        }
        (ids, errors)
    }

    #[test]
    fn delimiters_come_from_the_isa() {
        assert_eq!(ISA.len(), 107 - 1);
        let text = format!("{ISA}\r\nGS*HC*A*B~\r\nST*837*0001~");
        let mut r = SegmentReader::new(text.as_bytes());
        let Next::Segment(isa) = r.next_segment() else { panic!() };
        assert_eq!(isa.text(13), "000000001");
        assert_eq!(isa.len(), 16);
        assert_eq!(r.delimiters(), Some(Delimiters::default()));
        let Next::Segment(gs) = r.next_segment() else { panic!() };
        assert_eq!(gs.id(), b"GS");
        assert_eq!(gs.offset(), 108);
        assert_eq!(gs.number(), 2);
        let piped = ISA.replace('*', "|").replace(":~", ">\n");
        let (ids, errors) = segment_ids(format!("{piped}GS|HC\nSV1|HC>00632>AA|10\n").as_bytes());
        assert_eq!(ids, ["ISA", "GS", "SV1"]);
        assert!(errors.is_empty());
    }

    #[test]
    fn components_and_missing_elements() {
        let text = format!("{ISA}SV1*HC:00632:AA:P2*1500*MJ*90***1:2~");
        let mut r = SegmentReader::new(text.as_bytes());
        let _ = r.next_segment();
        let Next::Segment(s) = r.next_segment() else { panic!() };
        assert_eq!(s.component(1, 2), b"00632");
        assert_eq!(s.component(1, 4), b"P2");
        assert_eq!(s.component(1, 5), b"");
        assert_eq!(s.text(4), "90");
        assert_eq!(s.element(5), b"");
        assert_eq!(s.component(7, 2), b"2");
        assert_eq!(s.element(99), b"");
        assert_eq!(s.len(), 7);
    }

    /// Component `j` is the `j`-th piece of the element split at the separator (0: all of it), and
    /// empty past the last; the texts are the same pieces, trimmed.
    #[test]
    fn components_are_the_pieces_between_separators() {
        for element in ["", ":", "HC", "HC:00632", "HC:00632:AA:P2", "::X:", " A : B :C"] {
            let pieces: Vec<&str> = element.split(':').collect();
            for j in 0..6 {
                let expected = match j {
                    0 => element,
                    _ => pieces.get(j - 1).copied().unwrap_or(""),
                };
                assert_eq!(component_of(element.as_bytes(), b':', j), expected.as_bytes(), "{element:?} {j}");
            }
            let text = format!("{ISA}SV1*{element}*1~");
            let mut r = SegmentReader::new(text.as_bytes());
            let _ = r.next_segment();
            let Next::Segment(s) = r.next_segment() else { panic!("{element:?}") };
            let texts: [&str; 5] = s.component_texts(1);
            for (j, text) in texts.iter().enumerate() {
                assert_eq!(*text, pieces.get(j).map_or("", |p| p.trim()), "{element:?} {j}");
            }
            // One pass reads what one scan per component reads.
            let components = s.components_of::<5>(1);
            for j in 1..=5 {
                assert_eq!(components.text(j), s.component_text(1, j), "{element:?} {j}");
                assert_eq!(components.code(j), s.component(1, j).trim_ascii(), "{element:?} {j}");
            }
        }
    }

    #[test]
    fn junk_and_truncation_are_errors_not_panics() {
        let (ids, errors) = segment_ids(b"hello");
        assert!(ids.is_empty());
        assert_eq!(errors.len(), 1);
        let (ids, errors) = segment_ids(format!("junk{ISA}GS*HC").as_bytes());
        assert_eq!(ids, ["ISA"]);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].kind, X12ErrorKind::Truncated);
        for cut in 0..ISA.len() {
            let _ = segment_ids(&ISA.as_bytes()[..cut]);
        }
    }

    /// An endless stream of segments: the buffer stays at its initial size (bounded memory), and a
    /// segment longer than the limit is reported and skipped without growing past it.
    #[test]
    fn memory_stays_bounded() {
        struct Repeat {
            body: Vec<u8>,
            at: usize,
            left: usize,
        }
        impl Read for Repeat {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let mut n = 0;
                while n < buf.len() && self.left > 0 {
                    buf[n] = self.body[self.at];
                    self.at = (self.at + 1) % self.body.len();
                    self.left -= 1;
                    n += 1;
                }
                Ok(n)
            }
        }
        let body = b"SV1*HC:00632:AA*1500*MJ*90***1:2~\n".to_vec();
        let len = 34 * 600_000;
        let mut head = ISA.as_bytes().to_vec();
        head.extend_from_slice(b"NTE*ADD*");
        head.extend(std::iter::repeat_n(b'X', MAX_SEGMENT_LEN + 10));
        head.extend_from_slice(b"~");
        let stream = head.as_slice().chain(Repeat { body, at: 0, left: len });
        let mut r = SegmentReader::new(stream);
        let (mut segments, mut errors) = (0, 0);
        loop {
            match r.next_segment() {
                Next::Segment(_) => segments += 1,
                Next::Damaged { error: e, .. } | Next::Error(e) => {
                    assert!(e.message.contains("longer than"), "{e}");
                    errors += 1;
                }
                Next::End => break,
            }
        }
        assert_eq!(errors, 1);
        assert_eq!(segments, 1 + len / 34);
        assert!(r.size <= MAX_SEGMENT_LEN + DEFAULT_BUFFER, "{}", r.size);
    }

    /// The word-at-a-time scan agrees with a plain byte loop for every length and position.
    #[test]
    fn find_byte_matches_position() {
        let bytes: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37) % 11 + b'a').collect();
        for start in 0..20 {
            for end in start..bytes.len() {
                for byte in [b'a', b'f', b'k', b'z'] {
                    let window = &bytes[start..end];
                    assert_eq!(find_byte(window, byte), window.iter().position(|&b| b == byte));
                }
            }
        }
    }

    #[test]
    fn scan_matches_a_byte_loop() {
        let delims = Delimiters::default();
        let short = b"SV1*HC:00632*1500**MJ*+*\x80\xff\x01*~NM1*+~".iter().copied().cycle().take(200);
        // Segments longer than the 64 bytes of one mask, and terminators at either end of one.
        let long = b"NTE*ADD*START 0800 STOP 0931 CASE 1234567890**1234567890*1234567890*123456789~~*~"
            .iter()
            .copied()
            .cycle()
            .take(300);
        for bytes in [short.collect::<Vec<u8>>(), long.collect()] {
            for start in 0..90 {
                for end in start..bytes.len() {
                    let window = &bytes[start..end];
                    let mut bounds = Vec::new();
                    let len = scan_segment(window, delims, &mut bounds);
                    let expected_len = window.iter().position(|&b| b == b'~');
                    assert_eq!(len, expected_len, "{start}..{end}");
                    if let Some(len) = len {
                        let mut expected = vec![0];
                        expected.extend((0..len).filter(|&i| window[i] == b'*').map(|i| i as u32 + 1));
                        assert_eq!(bounds, expected, "{start}..{end}");
                    }
                }
            }
        }
    }

    /// The block scan, with its masks kept from one segment to the next as the reader keeps them (and
    /// from starts anywhere, before or after the kept block), finds what `scan_segment` finds, or leaves
    /// the segment to it.
    #[test]
    fn block_scan_matches_scan_segment() {
        let delims = Delimiters::default();
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..300 {
            let len = (next() % 400) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| [b'~', b'*', b'A', b':', b'\n'][(next() % 5) as usize]).collect();
            let mut masks = None;
            let mut start = 0;
            while start < bytes.len() {
                let mut short = [0; SHORT_BOUNDS];
                let mut bounds = Vec::new();
                let expected = scan_segment(&bytes[start..], delims, &mut bounds);
                match scan_in_blocks(&bytes, start, delims, &mut masks, &mut short) {
                    Some((len, used)) => {
                        assert_eq!(Some(len), expected, "from {start}");
                        assert_eq!(&short[..used], &bounds[..], "from {start}");
                    }
                    None => assert!(expected.is_none_or(|len| len >= 64 || start + 128 > bytes.len()), "from {start}"),
                }
                // On to the next segment, or now and then to a start elsewhere (back, or far on).
                start = match next() % 8 {
                    0 => (next() as usize) % bytes.len(),
                    _ => start + expected.map_or(1, |len| len + 1),
                };
            }
        }
    }

    #[test]
    fn byte_mask_matches_a_byte_loop() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 % 7 + b'a').collect();
        for start in 0..bytes.len() - 64 {
            let block = bytes[start..].first_chunk::<64>().unwrap();
            for byte in [b'a', b'c', b'g', b'z'] {
                let expected = (0..64).filter(|&i| block[i] == byte).fold(0u64, |m, i| m | 1 << i);
                assert_eq!(byte_mask(block, byte), expected, "{start} {byte}");
                let first_48 = block.first_chunk::<48>().unwrap();
                assert_eq!(byte_mask(first_48, byte), expected & ((1 << 48) - 1), "{start} {byte}");
            }
        }
    }

    /// Skimming a block at a time passes over exactly the segments (and stops exactly where) skimming
    /// one at a time does, from every start, on inputs full of what stops or trips a skim: blanks and
    /// line breaks between segments, stray and doubled terminators, ids too short, too long, lower-case
    /// or without an element, envelope segments, an ISA, segments longer than a block, and cut-off ends.
    #[test]
    fn skimming_in_blocks_matches_one_at_a_time() {
        let pieces: &[&[u8]] = &[
            b"NM1*85*2*CLINIC*****XX*1234567893~",
            b"N3*1 MAIN ST~",
            b"HL*1**20*1~",
            b"SV1*HC:99213*200*UN*1***1:2~",
            b"SBR*P*18*******MB~",
            b"\n",
            b"\r\n",
            b" ",
            b"\t",
            b"\0",
            b"~",
            b"~~",
            b"LX~",
            b"A*1~",
            b"ABCD*1~",
            b"nm1*x~",
            b"SE*25*0001~",
            b"ST*837*0002~",
            b"GE*1*1~",
            b"GS*HC~",
            b"IEA*1*1~",
            b"ISA*00~",
            b"SE~",
            b"STC*1~",
            b"IS*1~",
            b"NTE*ADD*A NOTE LONGER THAN ONE 64-BYTE BLOCK OF THE SKIM, WHICH SPANS TWO OF THEM~",
            b"REF*6R*L1~\n",
            b"DTP*472*D8*20250102",
        ];
        let mut seed = 12_345u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        let piped = Delimiters { element: b'|', repetition: None, component: b'>', segment: b'!' };
        for round in 0..3_000 {
            // Mostly ordinary segments (long runs for the blocks), with some of everything else.
            let mut input = Vec::new();
            while input.len() < 200 + round % 400 {
                let piece = if next() % 4 == 0 { pieces[next() % pieces.len()] } else { pieces[next() % 5] };
                input.extend_from_slice(piece);
                if round % 3 == 0 {
                    input.push(b'\n');
                }
            }
            for delims in [Delimiters::default(), piped] {
                let input: Vec<u8> = if delims == piped {
                    input
                        .iter()
                        .map(|&b| match b {
                            b'*' => b'|',
                            b'~' => b'!',
                            b':' => b'>',
                            b => b,
                        })
                        .collect()
                } else {
                    input.clone()
                };
                for start in (0..input.len()).step_by(1 + next() % 7) {
                    for end in [input.len(), input.len() - next() % 70] {
                        let buf = &input[..end.max(start)];
                        assert_eq!(
                            skim(buf, start, delims),
                            skim_segments(buf, start, delims),
                            "round {round}, {start}..{end}: {:?}",
                            String::from_utf8_lossy(buf)
                        );
                    }
                }
            }
        }
        // Line breaks as terminators (blanks): the blocks are not used, the answer is the same.
        let lines = Delimiters { segment: b'\n', ..Delimiters::default() };
        let text = b"NM1*85*2*X\nN3*1 MAIN ST\n\nHL*1**20*1\nSE*4*1\n".repeat(10);
        assert_eq!(skim_blocks(&text, 0, lines), (0, 0));
        assert_eq!(skim(&text, 0, lines), skim_segments(&text, 0, lines));
    }

    /// Gives its bytes in reads of at most `.1` bytes.
    struct Chunks<'a>(&'a [u8], usize);
    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A reader in skim mode that skips what `skip_body` passes over counts and places every segment
    /// as the reader that reads each one, whatever the size of the reads (segments cut by refills).
    #[test]
    fn skipping_bodies_keeps_counts_and_offsets() {
        let mut text = format!("{ISA}\r\nGS*HC*A~\nST*837*1~\n");
        for i in 0..3_000 {
            text.push_str(
                ["NM1*85*2*CLINIC*****XX*1234567893~\n", "N3*1 MAIN ST~", "lx*1~", "~", "HL*1**20*1~\r\n"][i % 5],
            );
            if i % 997 == 0 {
                text.push_str("SE*5*1~ST*837*2~");
            }
        }
        text.push_str("SE*9*1~GE*1*1~IEA*1*1~");
        let every = |r: &mut SegmentReader<Chunks<'_>>, skim: bool| {
            let mut seen = Vec::new();
            loop {
                if skim {
                    r.skip_body();
                }
                match r.next_segment() {
                    Next::Segment(s) if !skim || is_envelope_segment(s.id()) || !is_segment_id(s.id()) => {
                        seen.push((s.number(), s.offset(), r.bytes_read()))
                    }
                    Next::Segment(_) => {}
                    Next::Damaged { error, .. } | Next::Error(error) => {
                        seen.push((error.at.segment_number, error.at.byte_offset, 0))
                    }
                    Next::End => break,
                }
            }
            (seen, r.segments_read())
        };
        for read in [3, 61, 4096, 1 << 20] {
            let mut plain = SegmentReader::new(Chunks(text.as_bytes(), read));
            let (plain_seen, plain_count) = every(&mut plain, false);
            let mut skimming = SegmentReader::new(Chunks(text.as_bytes(), read));
            skimming.set_skim(true);
            let (skim_seen, skim_count) = every(&mut skimming, true);
            assert_eq!(plain_count, skim_count, "{read}");
            let envelope_and_damage: Vec<_> =
                plain_seen.iter().copied().filter(|&(n, ..)| skim_seen.iter().any(|&(m, ..)| m == n)).collect();
            assert_eq!(envelope_and_damage, skim_seen, "{read}");
            assert!(skim_seen.len() > 10, "{read}");
        }
    }

    #[test]
    fn small_reads_give_the_same_segments() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = format!("{ISA}GS*HC*A~ST*837*1~SE*2*1~");
        let mut r = SegmentReader::new(Trickle(text.as_bytes()));
        let mut n = 0;
        while let Next::Segment(_) = r.next_segment() {
            n += 1;
        }
        assert_eq!(n, 4);
    }

    /// Values read as text are what a check of each value gives (the same text, or empty and the same
    /// `not_text` offset), whatever the sizes of the reads: with characters of several bytes cut by
    /// reads and by delimiters, and bytes that are not UTF-8 (see `Buffer`).
    #[test]
    fn texts_do_not_depend_on_the_reads() {
        let pieces: [&[u8]; 12] = [
            b"NM1",
            b"*",
            b"*",
            b":",
            b" AB ",
            b"\xc3\xa9",
            b"\xe2\x82\xac",
            b"\xf0\x9f\x98\x80",
            b"\xc3",
            b"\xff",
            b"~\n",
            b"12",
        ];
        let mut seed = 7u64;
        let mut input = ISA.as_bytes().to_vec();
        let mut clean = input.clone();
        for i in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let piece = pieces[(seed >> 33) as usize % pieces.len()];
            input.extend_from_slice(piece);
            // A second input with no bytes that are not UTF-8: it is read as text throughout.
            if !matches!(piece, b"\xc3" | b"\xff") {
                clean.extend_from_slice(piece);
            }
            if i % 7 == 0 {
                input.extend_from_slice(b"~SV1*");
                clean.extend_from_slice(b"~SV1*");
            }
        }
        type Seen = Vec<(u64, Vec<String>, Option<u64>)>;
        fn texts<R: Read>(mut r: SegmentReader<R>) -> Seen {
            let mut seen = Vec::new();
            loop {
                match r.next_segment() {
                    Next::Segment(s) => {
                        let mut texts = Vec::new();
                        for i in 0..=s.len() + 1 {
                            let expected = std::str::from_utf8(s.element(i).trim_ascii()).unwrap_or("");
                            assert_eq!(s.text(i), expected, "segment {}", s.number());
                            texts.push(s.text(i).to_owned());
                            texts.extend(s.component_texts::<3>(i).map(str::to_owned));
                            texts.push(s.component_text(i, 2).to_owned());
                        }
                        seen.push((s.number(), texts, s.not_text()));
                    }
                    Next::Damaged { .. } | Next::Error(_) => {}
                    Next::End => break,
                }
            }
            seen
        }
        for input in [&input, &clean] {
            let whole = texts(SegmentReader::new(Chunks(input, usize::MAX)));
            assert!(whole.len() > 2_000, "{}", whole.len());
            assert_eq!(input == &clean, whole.iter().all(|(.., bad)| bad.is_none()));
            for read in [1, 2, 3, 7, 61, 4096, 65_535] {
                assert!(texts(SegmentReader::new(Chunks(input, read))) == whole, "{read}");
            }
            let over = SegmentReader::over(input[ISA.len()..].to_vec(), ISA.len() as u64, 1, Delimiters::default());
            assert!(texts(over) == whole[1..], "over");
        }
    }
}
