//! The one mapping from core errors to gRPC statuses.

use cptkit_core::{Error, ErrorKind};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

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

/// A status for a core error. The message names the field (`code: expected a 5-character ...`);
/// INVALID_ARGUMENT also carries a `google.rpc.BadRequest` violation on the field path.
pub fn to_status(error: &Error) -> Status {
    let code = code_for(error.kind());
    let message = error.to_string();
    match code {
        Code::InvalidArgument => {
            let details = ErrorDetails::with_bad_request_violation(error.field().unwrap_or_default(), error.message());
            Status::with_error_details(code, message, details)
        }
        _ => Status::new(code, message),
    }
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
    fn other_kinds_map_without_details() {
        let status = to_status(&Error::not_found("00101 is not there"));
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.get_error_details().bad_request().is_none());
        assert_eq!(code_for(ErrorKind::Internal), Code::Internal);
        assert_eq!(code_for(ErrorKind::Unsupported), Code::FailedPrecondition);
        assert_eq!(code_for(ErrorKind::Conflict), Code::FailedPrecondition);
    }
}
