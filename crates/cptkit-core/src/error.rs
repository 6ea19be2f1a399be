//! The one error type of the core. Bindings map [`ErrorKind`] once each (gRPC status, Python exception).

use std::fmt;
use std::sync::OnceLock;

use crate::path::FieldPath;

/// What went wrong, coarse enough for a transport to map exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller sent something malformed; `field` names it.
    InvalidInput,
    /// Well-formed, but not in the reference data.
    NotFound,
    /// Well-formed and known, but not something cptkit handles.
    Unsupported,
    /// Contradicts other input or loaded data.
    Conflict,
    /// A bug or broken embedded data.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A core error: a kind, an optional field path (`code`, `claim.lines[2].modifiers[0]`) and a plain message.
/// Boxed: a `Result` of the core stays one pointer wide on its error side, whatever the error holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.display())]
pub struct Error(Box<Details>);

#[derive(Debug, Clone)]
struct Details {
    kind: ErrorKind,
    /// The field at fault, as data; the root when the error is about no one field.
    loc: FieldPath,
    /// `loc` as text, made when first asked for and kept (read more often than it changes, but many
    /// errors are never asked: a table's refusals are worded from the message alone).
    field: OnceLock<Option<String>>,
    message: String,
    /// Every field at fault, when there is more than one (an invalid claim).
    violations: Vec<Violation>,
    /// The file the error is about (a rule set, a data table), when it is about one.
    file: Option<std::path::PathBuf>,
    /// What a NotFound error did not find, when it is one thing asked for by name.
    resource: Option<Resource>,
}

/// `field` is `loc` as text: it says nothing more, and may not be made yet.
impl PartialEq for Details {
    fn eq(&self, other: &Self) -> bool {
        let Details { kind, loc, field: _, message, violations, file, resource } = self;
        (kind, loc, message, violations, file, resource)
            == (&other.kind, &other.loc, &other.message, &other.violations, &other.file, &other.resource)
    }
}

impl Eq for Details {}

/// One field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub loc: FieldPath,
    pub message: String,
}

impl Violation {
    /// The path's text form (`lines[0].modifiers[1]`).
    pub fn field(&self) -> String {
        self.loc.to_string()
    }
}

/// What a NotFound error did not find: the kind of thing and the name it was asked for by, as data for
/// a transport to carry (gRPC's `google.rpc.ResourceInfo`); the message says the same for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// One of the kinds below.
    pub kind: &'static str,
    /// As asked for: the code, the id.
    pub name: String,
}

impl Resource {
    /// A CPT or HCPCS code (`00101`).
    pub const PROCEDURE_CODE: &'static str = "procedure code";
    pub const MODIFIER: &'static str = "modifier";
    pub const PLACE_OF_SERVICE: &'static str = "place of service";
    pub const TAXONOMY: &'static str = "taxonomy";
    /// An ICD-10-CM code.
    pub const DIAGNOSIS_CODE: &'static str = "diagnosis code";
    /// A Medicare payment locality id (`13202-01`).
    pub const MEDICARE_LOCALITY: &'static str = "Medicare locality";
    /// A rule set asked for by its id.
    pub const RULE_SET: &'static str = "rule set";
    /// The rule set for a payer, named by the payer id: none is loaded, or none for the claim's plan
    /// type, state and date.
    pub const PAYER_RULE_SET: &'static str = "payer rule set";
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Details {
            kind,
            loc: FieldPath::root(),
            field: OnceLock::new(),
            message: message.into(),
            violations: Vec::new(),
            file: None,
            resource: None,
        }))
    }

    pub fn invalid(field: impl Into<FieldPath>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message).at(field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    /// NotFound: no `kind` (a [`Resource`] kind) by the name `name`; `message` says so for people.
    pub fn missing(kind: &'static str, name: impl Into<String>, message: impl Into<String>) -> Self {
        let mut error = Error::not_found(message);
        error.0.resource = Some(Resource { kind, name: name.into() });
        error
    }

    /// What a NotFound error did not find, when it is one thing asked for by name.
    pub fn resource(&self) -> Option<&Resource> {
        self.0.resource.as_ref()
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// Names the field this error is about; an outer field is prefixed (`lines[2]` + `code`). An error
    /// that lists its fields (a claim rejected for its findings) has the outer field prefixed to each.
    pub fn at(mut self, field: impl Into<FieldPath>) -> Self {
        let outer = field.into();
        let details = &mut *self.0;
        if details.violations.is_empty() {
            // Most errors are made about the whole value and named once: the outer path is theirs as it is.
            details.loc = if details.loc.is_root() { outer } else { std::mem::take(&mut details.loc).within(&outer) };
            details.field = OnceLock::new();
        } else {
            for violation in &mut details.violations {
                violation.loc = std::mem::take(&mut violation.loc).within(&outer);
            }
        }
        self
    }

    /// Says which file the error is about; its field, if any, is a field of that file.
    pub fn in_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.0.file = Some(path.as_ref().to_owned());
        self
    }

    pub fn file(&self) -> Option<&std::path::Path> {
        self.0.file.as_deref()
    }

    /// An invalid-input error that lists each field at fault.
    pub fn with_violations(message: impl Into<String>, violations: Vec<Violation>) -> Self {
        let mut error = Error::new(ErrorKind::InvalidInput, message);
        error.0.violations = violations;
        error
    }

    /// The fields at fault: the listed violations, or this error's own field.
    pub fn violations(&self) -> Vec<Violation> {
        let d = &self.0;
        match (d.loc.is_root(), d.violations.is_empty()) {
            (_, false) => d.violations.clone(),
            (false, true) => vec![Violation { loc: d.loc.clone(), message: d.message.clone() }],
            (true, true) => Vec::new(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    pub fn field(&self) -> Option<&str> {
        let d = &self.0;
        d.field.get_or_init(|| (!d.loc.is_root()).then(|| d.loc.to_string())).as_deref()
    }

    /// The field at fault as data (the root when none).
    pub fn loc(&self) -> &FieldPath {
        &self.0.loc
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The field at fault and the message, taken out of the error rather than copied: a table face
    /// writes a refused claim's error as an issue and keeps nothing else of it.
    pub fn into_loc_and_message(self) -> (FieldPath, String) {
        let Details { loc, message, .. } = *self.0;
        (loc, message)
    }

    fn display(&self) -> String {
        let d = &self.0;
        let file = d.file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default();
        match self.field() {
            Some(field) => format!("{file}{field}: {}", d.message),
            None => format!("{file}{}", d.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_nest_outward() {
        let err = Error::invalid("modifiers[0]", "bad").at("lines[2]").at("claim");
        assert_eq!(err.field(), Some("claim.lines[2].modifiers[0]"));
        assert_eq!(err.to_string(), "claim.lines[2].modifiers[0]: bad");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // An error that lists its fields names each under the outer field, and keeps its own message.
        let listed = |field: &str| Violation { loc: FieldPath::parse(field), message: "bad".into() };
        let err = Error::with_violations("claim C is not valid", vec![listed("lines[0].code"), listed("diagnoses[1]")])
            .at("claim");
        let fields: Vec<String> = err.violations().iter().map(Violation::field).collect();
        assert_eq!(fields, ["claim.lines[0].code", "claim.diagnoses[1]"]);
        assert_eq!((err.field(), err.to_string().as_str()), (None, "claim C is not valid"));
    }

    /// The field's text is made when first asked for: asked or not, an error is the same error, and
    /// nesting it further names the whole path.
    #[test]
    fn an_error_is_equal_whether_its_field_was_read_or_not() {
        let read = Error::invalid("code", "bad").at("lines[0]");
        let unread = read.clone();
        assert_eq!(read.field(), Some("lines[0].code"));
        assert_eq!(read, unread);
        assert_ne!(read, Error::invalid("code", "bad"));
        assert_eq!(read.at("claim").field(), Some("claim.lines[0].code"));
        assert_eq!(Error::not_found("gone").field(), None);
    }

    /// A NotFound error can say what it did not find, as data; naming its field keeps that.
    #[test]
    fn a_missing_resource_is_data() {
        let err = Error::missing(Resource::RULE_SET, "nope", "no rule set with id \"nope\"").at("rule_set");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.resource(), Some(&Resource { kind: "rule set", name: "nope".into() }));
        assert_eq!(err.to_string(), "rule_set: no rule set with id \"nope\"");
        assert_ne!(err, Error::not_found("no rule set with id \"nope\"").at("rule_set"));
        assert_eq!(Error::not_found("gone").resource(), None);
    }
}
