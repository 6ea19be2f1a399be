//! The one mapping from core errors to gRPC statuses.

use cptkit_core::{Error, ErrorKind, Finding, Severity, ValidationReport};
use cptkit_proto::pb;
use prost::Message as _;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// `google.rpc.ResourceInfo.resource_type` of a NOT_FOUND about a file (a data directory's table).
const FILE_RESOURCE: &str = "file";

/// Most `google.rpc.BadRequest` field violations one status carries. The details travel in a
/// trailer, and proxies and clients cap header sizes (often 8-64 KiB), so a 4 MiB claim with an error
/// on each of thousands of lines must not put every one there; the message then says how many there
/// were, and `ValidateClaim` (or `ProcessClaims`, whose errors travel in the message body) lists all.
pub const MAX_FIELD_VIOLATIONS: usize = 100;

/// Most bytes of the message and of the violations together: both travel in trailers, which clients
/// cap (grpcio at 8-16 KiB), so a request that quotes megabytes of bad input back must not lose its
/// INVALID_ARGUMENT to RESOURCE_EXHAUSTED on the way.
pub const MAX_STATUS_TEXT_BYTES: usize = 4 * 1024;

/// Longest message or violation description, in bytes, before it is cut.
const MAX_TEXT_BYTES: usize = 512;

/// The gRPC code for each kind of core error. Exhaustive on purpose: a new kind stops the build here.
///
/// - `Unsupported` is FAILED_PRECONDITION, not UNIMPLEMENTED: the method exists and the request is
///   well-formed, but the loaded reference data or rules do not cover it (a data directory or a later
///   release may). Clients and proxies read UNIMPLEMENTED as "this server has no such method" (gRPC
///   itself sends it for unknown methods) and fall back or give up on the whole RPC, which would be wrong.
/// - `Conflict` is FAILED_PRECONDITION: the request contradicts loaded data or other input, so it must
///   not be retried unchanged. ALREADY_EXISTS is for creating an entity that exists; cptkit creates none.
pub fn code_for(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::Unsupported => Code::FailedPrecondition,
        ErrorKind::Conflict => Code::FailedPrecondition,
        ErrorKind::Internal => Code::Internal,
    }
}

/// A status for a core error. The message names the field (`code: expected a 5-character ...`), and
/// the details say the same as data (AIP-193):
/// - INVALID_ARGUMENT: `google.rpc.BadRequest` with one field violation per field at fault
///   ([`Error::violations`]: the error's own field, or each error finding of a rejected claim with the
///   description `EDIT: message`): at most [`MAX_FIELD_VIOLATIONS`] of them, and as many as fit
///   [`MAX_STATUS_TEXT_BYTES`] with the message, each text cut to 512 bytes.
/// - NOT_FOUND: `google.rpc.ResourceInfo`: what was not found ([`Error::resource`]: its kind and the
///   name it was asked for, such as `procedure code` `00101`; a missing file is `file` and its path),
///   described by the message without the field.
/// - FAILED_PRECONDITION: `google.rpc.PreconditionFailure` with one violation: the core kind as its
///   type (`UNSUPPORTED`, `CONFLICT`), the field at fault as its subject (empty when none), the
///   message without the field as its description.
pub fn to_status(error: &Error) -> Status {
    let code = code_for(error.kind());
    let mut message = clip(error.to_string());
    match code {
        Code::InvalidArgument => {
            let mut violations: Vec<(String, String)> =
                error.violations().into_iter().map(|v| (clip(v.field()), clip(v.message))).collect();
            if violations.is_empty() {
                violations.push((String::new(), clip(error.message().to_owned())));
            }
            // As many as fit both limits, in order, leaving room to say how many were left out.
            let mut room = MAX_STATUS_TEXT_BYTES.saturating_sub(message.len() + 64);
            let fit = violations
                .iter()
                .take(MAX_FIELD_VIOLATIONS)
                .take_while(|(field, description)| {
                    let size = field.len() + description.len();
                    room = room.saturating_sub(size);
                    room > 0
                })
                .count()
                .max(1);
            if violations.len() > fit {
                message.push_str(&format!(" ({} field violations; the first {fit} are listed)", violations.len()));
                violations.truncate(fit);
            }
            let violations: Vec<FieldViolation> =
                violations.into_iter().map(|(field, description)| FieldViolation::new(field, description)).collect();
            Status::with_error_details(code, message, ErrorDetails::with_bad_request(violations))
        }
        Code::NotFound => {
            let (resource_type, resource_name) = match (error.resource(), error.file()) {
                (Some(resource), _) => (resource.kind, resource.name.clone()),
                (None, Some(file)) => (FILE_RESOURCE, file.display().to_string()),
                (None, None) => ("", String::new()),
            };
            let description = clip(error.message().to_owned());
            let info = ErrorDetails::with_resource_info(resource_type, clip(resource_name), "", description);
            Status::with_error_details(code, message, info)
        }
        Code::FailedPrecondition => {
            let violation_type = error.kind().as_str().to_ascii_uppercase();
            let subject = clip(error.field().unwrap_or_default().to_owned());
            let description = clip(error.message().to_owned());
            let failure = ErrorDetails::with_precondition_failure_violation(violation_type, subject, description);
            Status::with_error_details(code, message, failure)
        }
        _ => Status::new(code, message),
    }
}

/// `text` cut to [`MAX_TEXT_BYTES`] at a character boundary, saying how long it was.
fn clip(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let whole = text.len();
        let cut = (0..=MAX_TEXT_BYTES).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push_str(&format!("... (cut: {whole} bytes)"));
    }
    text
}

/// A core error as the `ClaimError` of one `ProcessClaims` answer: the status code name the unary RPC
/// would return, the same message, and for INVALID_ARGUMENT the fields at fault as findings, named as
/// the error names them. For a claim rejected for its findings (`report` is invalid), those are the
/// report's error findings, with edit ids and hints, each at the field of its violation in `error`
/// (`rejection(report)` named in the request: one violation per error finding, in order); otherwise
/// the error's own violations (edit id and hint empty). `details` are the unary status's.
pub fn to_claim_error(error: &Error, report: Option<&ValidationReport>) -> pb::ClaimError {
    let code = code_for(error.kind());
    let findings = report
        .filter(|r| !r.is_valid())
        .map(|r| r.findings.iter().filter(|f| f.severity == Severity::Error).collect::<Vec<_>>());
    let fields = error.violations();
    let violations = match (code, findings) {
        (Code::InvalidArgument, Some(findings)) if findings.len() == fields.len() => findings
            .into_iter()
            .zip(fields)
            .map(|(f, v)| pb::Finding::from(Finding { loc: v.loc, ..f.clone() }))
            .collect(),
        (Code::InvalidArgument, _) => fields
            .into_iter()
            .map(|v| pb::Finding {
                edit_id: String::new(),
                severity: pb::Severity::Error.into(),
                field: v.field(),
                loc: cptkit_proto::path(&v.loc),
                message: v.message,
                hint: String::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    // The unary status's details, decoded back from the one place that builds them.
    let details = tonic_types::Status::decode(to_status(error).details()).map(|s| s.details).unwrap_or_default();
    pb::ClaimError { code: code_name(code).to_owned(), message: error.to_string(), violations, details }
}

/// The canonical upper-case name of a status code, as logged.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_carries_a_bad_request_violation() {
        let error = "0063".parse::<cptkit_core::CptCode>().expect_err("too short");
        let status = to_status(&error);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("code: "), "{}", status.message());
        let violations = status.get_error_details().bad_request().expect("bad request").field_violations.clone();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "code");
        assert_eq!(violations[0].description, error.message());
    }

    #[test]
    fn every_violation_of_a_rejected_claim_is_listed_up_to_the_cap() {
        let violations = |n: usize| {
            let violation = |i| cptkit_core::Violation {
                loc: cptkit_core::FieldPath::line(i).key("modifiers"),
                message: format!("MOD001: {i}"),
            };
            (0..n).map(violation).collect()
        };
        let status = to_status(&Error::with_violations("claim C is not valid", violations(3)));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "claim C is not valid");
        let listed = status.get_error_details().bad_request().expect("bad request").field_violations.clone();
        let fields: Vec<&str> = listed.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["lines[0].modifiers", "lines[1].modifiers", "lines[2].modifiers"]);
        assert_eq!(listed[2].description, "MOD001: 2");

        let status = to_status(&Error::with_violations("claim C is not valid", violations(250)));
        let listed = status.get_error_details().bad_request().expect("bad request").field_violations.clone();
        assert_eq!(listed.len(), MAX_FIELD_VIOLATIONS);
        assert!(status.message().contains("250 field violations"), "{}", status.message());
    }

    #[test]
    fn claim_errors_carry_the_code_name_and_the_fields() {
        let error = Error::invalid("conversion_factor", "pass one").at("lines[0]");
        let claim_error = to_claim_error(&error, None);
        assert_eq!(claim_error.code, "INVALID_ARGUMENT");
        assert_eq!(claim_error.message, "lines[0].conversion_factor: pass one");
        assert_eq!(claim_error.violations.len(), 1);
        assert_eq!(claim_error.violations[0].field, "lines[0].conversion_factor");
        let not_found = to_claim_error(&Error::not_found("no rules").at("payer.id"), None);
        assert_eq!((not_found.code.as_str(), not_found.violations.len()), ("NOT_FOUND", 0));
    }

    #[test]
    fn not_found_carries_the_resource_not_found() {
        let error = Error::missing(cptkit_core::Resource::PROCEDURE_CODE, "00101", "00101 is not there").at("code");
        let status = to_status(&error);
        assert_eq!((status.code(), status.message()), (Code::NotFound, "code: 00101 is not there"));
        let details = status.get_error_details();
        assert!(details.bad_request().is_none());
        let info = details.resource_info().expect("resource info");
        assert_eq!(
            (info.resource_type.as_str(), info.resource_name.as_str(), info.owner.as_str()),
            ("procedure code", "00101", "")
        );
        assert_eq!(info.description, "00101 is not there");
        // A missing file is named by its path; a NOT_FOUND about nothing by name still says what.
        let file = Error::new(ErrorKind::NotFound, "no such file").in_file("/data/gpci.csv");
        let info = to_status(&file).get_error_details().resource_info().cloned().expect("file");
        assert_eq!((info.resource_type.as_str(), info.resource_name.as_str()), ("file", "/data/gpci.csv"));
        let info = to_status(&Error::not_found("gone")).get_error_details().resource_info().cloned().expect("info");
        assert_eq!((info.resource_type.as_str(), info.description.as_str()), ("", "gone"));
    }

    #[test]
    fn failed_precondition_carries_the_kind_and_the_field() {
        let error = Error::new(ErrorKind::Unsupported, "no factor for CY2019").at("date_of_service").at("claim");
        let status = to_status(&error);
        assert_eq!(status.code(), Code::FailedPrecondition);
        let failure = status.get_error_details().precondition_failure().cloned().expect("precondition failure");
        let violations: Vec<_> = failure
            .violations
            .iter()
            .map(|v| (v.r#type.as_str(), v.subject.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(violations, [("UNSUPPORTED", "claim.date_of_service", "no factor for CY2019")]);
        let conflict = to_status(&Error::new(ErrorKind::Conflict, "contradicts the data"));
        let failure = conflict.get_error_details().precondition_failure().cloned().expect("conflict");
        assert_eq!((failure.violations[0].r#type.as_str(), failure.violations[0].subject.as_str()), ("CONFLICT", ""));
    }

    #[test]
    fn every_kind_has_its_code() {
        assert_eq!(code_for(ErrorKind::Internal), Code::Internal);
        assert_eq!(code_for(ErrorKind::Unsupported), Code::FailedPrecondition);
        assert_eq!(code_for(ErrorKind::Conflict), Code::FailedPrecondition);
        assert!(to_status(&Error::internal("a bug")).details().is_empty());
    }
}
