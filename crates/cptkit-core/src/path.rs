//! Field paths as data. `lines[0].modifiers[1]` is the path `["lines", 0, "modifiers", 1]`: findings and
//! errors carry it as items (`FieldPath::items`) and render the text form with `Display`, so no face
//! has to take a path string apart again.

use std::borrow::Cow;
use std::fmt;

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

/// One step of a [`FieldPath`]: a field name or a 0-based index into a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathItem {
    Field(Cow<'static, str>),
    Index(usize),
}

/// Where in a claim (or a request) a finding or an error points.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<PathItem>);

impl FieldPath {
    /// The empty path: the claim (or request) as a whole.
    pub const fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// The top-level field `name`.
    pub fn field(name: &'static str) -> FieldPath {
        FieldPath::starting([PathItem::Field(Cow::Borrowed(name))])
    }

    /// `lines[i]`, the start of every line-level path.
    pub fn line(i: usize) -> FieldPath {
        FieldPath::starting([PathItem::Field(Cow::Borrowed("lines")), PathItem::Index(i)])
    }

    /// A path of `items`, with room for the items most paths go on to add (`lines[0].modifiers[1]`):
    /// a path grown item by item would otherwise be reallocated as it grows.
    fn starting<const N: usize>(items: [PathItem; N]) -> FieldPath {
        const DEEPEST_USUAL: usize = 4;
        let mut path = Vec::with_capacity(DEEPEST_USUAL);
        path.extend(items);
        FieldPath(path)
    }

    /// This path, then the field `name`.
    pub fn key(mut self, name: &'static str) -> FieldPath {
        self.0.push(PathItem::Field(Cow::Borrowed(name)));
        self
    }

    /// This path, then a field whose name is data (a payer id).
    pub fn key_owned(mut self, name: String) -> FieldPath {
        self.0.push(PathItem::Field(Cow::Owned(name)));
        self
    }

    /// This path, then the list index `i`.
    pub fn index(mut self, i: usize) -> FieldPath {
        self.0.push(PathItem::Index(i));
        self
    }

    /// `outer`, then this path: how an error found inside a value is named from outside it.
    pub fn within(mut self, outer: &FieldPath) -> FieldPath {
        self.0.splice(0..0, outer.0.iter().cloned());
        self
    }

    pub fn items(&self) -> &[PathItem] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The line a line-level path is about (`lines[2].quantity` -> 2).
    pub fn line_index(&self) -> Option<usize> {
        match self.0.as_slice() {
            [PathItem::Field(lines), PathItem::Index(i), ..] if lines == "lines" => Some(*i),
            _ => None,
        }
    }

    /// The path without its leading `lines[i]` (`lines[2].modifiers[0]` -> `modifiers[0]`).
    pub fn within_line(&self) -> Option<&[PathItem]> {
        self.line_index().map(|_| &self.0[2..])
    }

    /// Reads the text form (`lines[0].modifiers[1]`, `rendering_provider.npi`, a quoted key such as
    /// `conversion_factor[""]`). For field names written in code and paths from serde's error reports;
    /// `.` alone (serde's root) is the root.
    pub fn parse(text: &str) -> FieldPath {
        let mut items = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match c {
                '.' => rest = &rest[1..],
                '[' => {
                    let inner = &rest[1..];
                    if let Some((key, after)) = inner.strip_prefix('"').and_then(quoted_key) {
                        items.push(PathItem::Field(Cow::Owned(key)));
                        rest = after.strip_prefix(']').unwrap_or(after);
                        continue;
                    }
                    let (index, after) = inner.split_once(']').unwrap_or((inner, ""));
                    match index.parse() {
                        Ok(i) => items.push(PathItem::Index(i)),
                        Err(_) => items.push(PathItem::Field(Cow::Owned(index.to_owned()))),
                    }
                    rest = after;
                }
                _ => {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    items.push(PathItem::Field(Cow::Owned(rest[..end].to_owned())));
                    rest = &rest[end..];
                }
            }
        }
        FieldPath(items)
    }
}

/// Whether a field name is written bare (`cigna`, `bcbs-ok`) rather than quoted (`[""]`, `["a.b"]`):
/// a name that is empty, or holds a separator, a quote or a space, would not read back as itself.
fn is_bare(name: &str) -> bool {
    let plain = |c: char| !(matches!(c, '.' | '[' | ']' | '"') || c.is_whitespace() || c.is_control());
    // Byte by byte first, with no char to decode (a name written in code is ASCII): an ASCII char
    // that is graphic is neither a space nor a control.
    let plain_ascii = |b: u8| b.is_ascii_graphic() && plain(char::from(b));
    !name.is_empty() && (name.bytes().all(plain_ascii) || !name.is_ascii() && name.chars().all(plain))
}

/// The key of a quoted name, after its opening quote: the JSON string up to its closing quote, and the
/// text after that quote. None when it does not close.
fn quoted_key(text: &str) -> Option<(String, &str)> {
    let mut escaped = false;
    let close = text.char_indices().find_map(|(i, c)| match (escaped, c) {
        (false, '"') => Some(i),
        (false, '\\') => {
            escaped = true;
            None
        }
        _ => {
            escaped = false;
            None
        }
    })?;
    let key = serde_json::from_str(&format!("\"{}\"", &text[..close])).ok()?;
    Some((key, &text[close + 1..]))
}

/// A path written as text where it is made (`"rendering_provider.npi"`, a serde error's path).
impl From<&str> for FieldPath {
    fn from(text: &str) -> FieldPath {
        FieldPath::parse(text)
    }
}

impl From<String> for FieldPath {
    fn from(text: String) -> FieldPath {
        FieldPath::parse(&text)
    }
}

impl From<&FieldPath> for FieldPath {
    fn from(path: &FieldPath) -> FieldPath {
        path.clone()
    }
}

/// The indexes a path mostly has (a claim's first lines, modifiers, pointers), as written.
const SMALL_INDEXES: [&str; 10] = ["[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]"];

impl FieldPath {
    /// Writes the path as `Display` writes it, straight into `out`: every issue a table reports is
    /// worded through here, and the formatting machinery (`write!`) cost more than the text.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            match item {
                // A key that is data (a payer id) and would not read back bare is quoted, JSON-style.
                PathItem::Field(name) if !is_bare(name) => {
                    let quoted = serde_json::to_string(name.as_ref()).map_err(|_| fmt::Error)?;
                    write!(out, "[{quoted}]")?
                }
                PathItem::Field(name) if i == 0 => out.write_str(name)?,
                PathItem::Field(name) => {
                    out.write_str(".")?;
                    out.write_str(name)?
                }
                PathItem::Index(index) => match SMALL_INDEXES.get(*index) {
                    Some(text) => out.write_str(text)?,
                    None => write!(out, "[{index}]")?,
                },
            }
        }
        Ok(())
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({self})")
    }
}

/// As a list of names and indexes, `["lines", 0, "modifiers", 1]` (pydantic's `loc`).
impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in &self.0 {
            match item {
                PathItem::Field(name) => seq.serialize_element(name.as_ref())?,
                PathItem::Index(i) => seq.serialize_element(i)?,
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for text in [
            "lines[0].modifiers[1]",
            "rendering_provider.npi",
            "diagnoses[11]",
            "lines[9].modifiers[10]",
            "lines[123]",
            "code",
            "lines",
            "",
        ] {
            assert_eq!(FieldPath::parse(text).to_string(), text);
        }
        assert_eq!(FieldPath::parse(".").to_string(), "");
        let built = FieldPath::line(2).key("modifiers").index(0);
        assert_eq!(built, FieldPath::parse("lines[2].modifiers[0]"));
        assert_eq!(built.line_index(), Some(2));
        assert_eq!(FieldPath::from("diagnoses[1]").line_index(), None);
        assert_eq!(serde_json::to_string(&built).unwrap(), r#"["lines",2,"modifiers",0]"#);
        let nested = FieldPath::from("modifiers[0]").within(&FieldPath::line(1)).within(&"claim".into());
        assert_eq!(nested.to_string(), "claim.lines[1].modifiers[0]");
    }

    /// A key that is data is written bare when it reads back as itself (`conversion_factor.bcbs-ok`),
    /// else quoted as a JSON string: an empty payer id is `conversion_factor[""]`, not a trailing dot
    /// that names `conversion_factor` itself.
    #[test]
    fn keys_that_would_not_read_back_bare_are_quoted() {
        let key = |name: &str| FieldPath::field("conversion_factor").key_owned(name.to_owned());
        for (name, text) in [
            ("cigna", "conversion_factor.cigna"),
            ("bcbs-ok", "conversion_factor.bcbs-ok"),
            ("", r#"conversion_factor[""]"#),
            (" ", r#"conversion_factor[" "]"#),
            ("a.b", r#"conversion_factor["a.b"]"#),
            ("say \"hi\" [x]\\", r#"conversion_factor["say \"hi\" [x]\\"]"#),
        ] {
            let path = key(name);
            assert_eq!(path.to_string(), text, "{name:?}");
            assert_eq!(FieldPath::parse(text), path, "{text}");
        }
        let inside = FieldPath::parse(r#"options.payer_conversion_factors["a.b"].x[2]"#);
        assert_eq!(inside.items().len(), 5);
        assert_eq!(inside.to_string(), r#"options.payer_conversion_factors["a.b"].x[2]"#);
        assert_eq!(FieldPath::root().key_owned(String::new()).to_string(), r#"[""]"#);
    }

    /// The ASCII shortcut of `is_bare` says what the char-by-char check says, for every char alone,
    /// after an ASCII letter and after a non-ASCII one.
    #[test]
    fn bare_names_are_the_same_ascii_or_not() {
        let by_chars = |name: &str| {
            !name.is_empty()
                && !name.chars().any(|c| matches!(c, '.' | '[' | ']' | '"') || c.is_whitespace() || c.is_control())
        };
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            for name in [c.to_string(), format!("a{c}"), format!("é{c}")] {
                assert_eq!(is_bare(&name), by_chars(&name), "{name:?}");
            }
        }
        assert!(!is_bare(""));
    }
}
