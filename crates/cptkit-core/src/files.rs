//! Reading the files a user gives (rule sets, data tables): one place, so a missing file is the
//! same error everywhere (not found, naming the file).

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// The file's text. A missing file is [`ErrorKind::NotFound`], any other failure (permissions, not
/// UTF-8) [`ErrorKind::InvalidInput`]; either names the file ([`Error::file`]).
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

/// A core error for an I/O error on `path`.
pub fn io_error(path: &Path, error: &std::io::Error) -> Error {
    let kind = match error.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::InvalidInput,
    };
    let message = match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::InvalidData => "the file is not UTF-8 text".to_owned(),
        _ => format!("cannot read the file: {error}"),
    };
    Error::new(kind, message).in_file(path)
}
