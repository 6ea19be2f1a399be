//! The one error type of the core. Bindings map [`ErrorKind`] once each (gRPC status, Python exception).

use std::fmt;

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.display())]
pub struct Error {
    kind: ErrorKind,
    field: Option<String>,
    message: String,
    /// Every field at fault, when there is more than one (an invalid claim): (field path, message).
    violations: Vec<(String, String)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, field: None, message: message.into(), violations: Vec::new() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message).at(field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// Names the field this error is about; an outer field is prefixed (`lines[2]` + `code`).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        let outer = field.into();
        self.field = Some(match self.field.take() {
            Some(inner) if inner.starts_with('[') => format!("{outer}{inner}"),
            Some(inner) => format!("{outer}.{inner}"),
            None => outer,
        });
        self
    }

    /// An invalid-input error that lists each field at fault.
    pub fn with_violations(message: impl Into<String>, violations: Vec<(String, String)>) -> Self {
        Error { violations, ..Error::new(ErrorKind::InvalidInput, message) }
    }

    /// The fields at fault: the listed violations, or this error's own field.
    pub fn violations(&self) -> Vec<(String, String)> {
        match (&self.field, self.violations.is_empty()) {
            (_, false) => self.violations.clone(),
            (Some(field), true) => vec![(field.clone(), self.message.clone())],
            (None, true) => Vec::new(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    fn display(&self) -> String {
        match &self.field {
            Some(field) => format!("{field}: {}", self.message),
            None => self.message.clone(),
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
    }
}
