//! The reference data every Python function answers from: the embedded set, or a data directory's
//! tables over it (`cptkit.load_data`), e.g. a CY2026 fee schedule release in `pfs/releases.csv`.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use cptkit_core::Reference;
use pyo3::prelude::*;

use crate::errors::{Subject, to_py_err};

/// `None`: the embedded data. A loaded set lives for the rest of the process: work on other threads
/// may still hold it when another set replaces it.
static LOADED: RwLock<Option<&'static Reference>> = RwLock::new(None);

/// The reference data in use.
pub(crate) fn reference() -> &'static Reference {
    LOADED.read().unwrap_or_else(PoisonError::into_inner).unwrap_or_else(Reference::embedded)
}

/// Loads `dir`'s tables over the embedded ones for every later call (`None`: back to the embedded
/// data). Each table and fee schedule release is read and checked now, so a bad file raises here,
/// naming it, and the data in use does not change.
#[pyfunction]
fn load_data(py: Python<'_>, dir: Option<PathBuf>) -> PyResult<()> {
    let loaded = match dir {
        None => None,
        Some(dir) => {
            let reference = py.detach(|| Reference::from_dir(&dir).and_then(|r| r.warm().map(|()| r)));
            Some(&*Box::leak(Box::new(reference.map_err(|e| to_py_err(py, &e, Subject::Other))?)))
        }
    };
    *LOADED.write().unwrap_or_else(PoisonError::into_inner) = loaded;
    crate::clear_caches(py);
    Ok(())
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(load_data, module)?)
}
