//! X12 errors and source locations. Every syntax or envelope problem names where it is: the segment's
//! number in the input (1-based, counted from the first byte), its id, the element (and component)
//! position and the byte offset of the segment's first byte.

use std::fmt;

use serde::{Serialize, Serializer};

/// A place in the input: one segment, and optionally one element (1-based; 0 = the whole segment) and
/// one component of it (1-based; 0 = the whole element).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SegmentRef {
    /// 1-based position of the segment in the input, counting every segment of every interchange.
    pub segment_number: u64,
    /// Byte offset of the segment's first byte (its id) from the start of the input.
    pub byte_offset: u64,
    id: [u8; 3],
    /// 1-based element position (`SV1` element 4 is SV104); 0 when the whole segment is meant.
    pub element: u8,
    /// 1-based component position inside a composite element (SV101-2 is the code); 0 for none.
    pub component: u8,
}

impl SegmentRef {
    pub(crate) fn new(segment_number: u64, byte_offset: u64, id: &[u8]) -> SegmentRef {
        let mut stored = [0u8; 3];
        for (dst, src) in stored.iter_mut().zip(id.iter().filter(|b| b.is_ascii_alphanumeric())) {
            *dst = *src;
        }
        SegmentRef { segment_number, byte_offset, id: stored, element: 0, component: 0 }
    }

    /// [`SegmentRef::new`] for a segment whose id is checked (2-3 upper-case letters or digits, which
    /// `new` would keep as they are): copied without its filter.
    pub(crate) fn of_segment(segment_number: u64, byte_offset: u64, id: &[u8]) -> SegmentRef {
        debug_assert!((2..=3).contains(&id.len()) && id.iter().all(u8::is_ascii_alphanumeric));
        let id = [id[0], id[1], id.get(2).copied().unwrap_or(0)];
        SegmentRef { segment_number, byte_offset, id, element: 0, component: 0 }
    }

    /// The stored id bytes (zero-padded), for compact side tables that keep the fields apart.
    pub(crate) fn id_bytes(&self) -> [u8; 3] {
        self.id
    }

    pub(crate) fn from_parts(segment_number: u64, byte_offset: u64, id: [u8; 3], element: u8, component: u8) -> Self {
        SegmentRef { segment_number, byte_offset, id, element, component }
    }

    /// The same segment, pointing at one element (1-based).
    pub fn element(mut self, element: usize) -> SegmentRef {
        self.element = u8::try_from(element).unwrap_or(u8::MAX);
        self.component = 0;
        self
    }

    /// The same segment, pointing at one component (both 1-based).
    pub fn component(mut self, element: usize, component: usize) -> SegmentRef {
        self.element = u8::try_from(element).unwrap_or(u8::MAX);
        self.component = u8::try_from(component).unwrap_or(u8::MAX);
        self
    }

    /// The segment id (`SV1`, `CLM`); empty when the segment had no readable id.
    pub fn segment_id(&self) -> &str {
        let len = self.id.iter().position(|&b| b == 0).unwrap_or(3);
        std::str::from_utf8(&self.id[..len]).unwrap_or("")
    }

    /// The element reference in X12 notation: `SV101-2`, `CLM05-3`, `SE01`; None for a whole segment.
    pub fn element_name(&self) -> Option<String> {
        if self.element == 0 {
            return None;
        }
        let id = self.segment_id();
        Some(if self.component == 0 {
            format!("{id}{:02}", self.element)
        } else {
            format!("{id}{:02}-{}", self.element, self.component)
        })
    }
}

impl fmt::Display for SegmentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.segment_id();
        let id = if id.is_empty() { "?" } else { id };
        write!(f, "segment {} ({id})", self.segment_number)?;
        if let Some(element) = self.element_name() {
            write!(f, ", element {element}")?;
        }
        write!(f, ", byte {}", self.byte_offset)
    }
}

impl fmt::Debug for SegmentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentRef({self})")
    }
}

impl Serialize for SegmentRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("SegmentRef", 5)?;
        out.serialize_field("segment_number", &self.segment_number)?;
        out.serialize_field("segment_id", self.segment_id())?;
        out.serialize_field("byte_offset", &self.byte_offset)?;
        out.serialize_field("element", &self.element)?;
        out.serialize_field("component", &self.component)?;
        out.end()
    }
}

/// What kind of X12 problem this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum X12ErrorKind {
    /// Not well-formed X12: no ISA, a bad segment id, an over-long segment.
    Syntax,
    /// Envelope counts or control numbers disagree, or envelope segments are out of order.
    Envelope,
    /// The input ended inside an interchange, group, transaction or segment.
    Truncated,
    /// Well-formed, but a value cannot be read (an invalid NPI, a date that does not exist).
    Value,
    /// Well-formed, but not something this crate reads (another transaction set or version).
    Unsupported,
    /// The underlying reader failed.
    Io,
}

impl X12ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            X12ErrorKind::Syntax => "syntax",
            X12ErrorKind::Envelope => "envelope",
            X12ErrorKind::Truncated => "truncated",
            X12ErrorKind::Value => "value",
            X12ErrorKind::Unsupported => "unsupported",
            X12ErrorKind::Io => "io",
        }
    }
}

/// Control numbers of the envelope an error happened in, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Control {
    /// ISA13.
    pub interchange: Option<String>,
    /// GS06.
    pub group: Option<String>,
    /// ST02.
    pub transaction: Option<String>,
}

/// An X12 problem with its place in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct X12Error {
    pub kind: X12ErrorKind,
    pub message: String,
    pub at: SegmentRef,
    /// Boxed: it keeps the error small (results carry it through hot paths).
    pub control: Box<Control>,
}

impl X12Error {
    pub fn new(kind: X12ErrorKind, at: SegmentRef, message: impl Into<String>) -> X12Error {
        X12Error { kind, message: message.into(), at, control: Box::default() }
    }

    pub(crate) fn value(at: SegmentRef, message: impl Into<String>) -> X12Error {
        X12Error::new(X12ErrorKind::Value, at, message)
    }

    pub(crate) fn with_control(mut self, control: &Control) -> X12Error {
        *self.control = control.clone();
        self
    }
}

impl fmt::Display for X12Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error at {}: {}", self.kind.as_str(), self.at, self.message)?;
        if let Some(st) = &self.control.transaction {
            write!(f, " (transaction ST02 {st})")?;
        }
        Ok(())
    }
}

impl std::error::Error for X12Error {}

impl From<X12Error> for cptkit_core::Error {
    fn from(e: X12Error) -> cptkit_core::Error {
        use cptkit_core::ErrorKind;
        let kind = match e.kind {
            X12ErrorKind::Syntax | X12ErrorKind::Envelope | X12ErrorKind::Truncated | X12ErrorKind::Value => {
                ErrorKind::InvalidInput
            }
            X12ErrorKind::Unsupported => ErrorKind::Unsupported,
            X12ErrorKind::Io => ErrorKind::Internal,
        };
        let field = match e.at.element_name() {
            Some(element) => format!("x12.segment[{}].{element}", e.at.segment_number),
            None => format!("x12.segment[{}]", e.at.segment_number),
        };
        cptkit_core::Error::new(kind, format!("{} (byte {})", e.message, e.at.byte_offset)).at(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_like_the_guides() {
        let at = SegmentRef::new(42, 1234, b"SV1").component(1, 2);
        assert_eq!(at.element_name().as_deref(), Some("SV101-2"));
        assert_eq!(at.to_string(), "segment 42 (SV1), element SV101-2, byte 1234");
        let err = X12Error::new(X12ErrorKind::Envelope, SegmentRef::new(9, 500, b"SE").element(1), "count");
        let core: cptkit_core::Error = err.into();
        assert_eq!(core.field(), Some("x12.segment[9].SE01"));
        assert_eq!(core.kind(), cptkit_core::ErrorKind::InvalidInput);
    }
}
