//! Python's cyclic garbage collector, paused while a batch builds its results.
//!
//! pyo3 registers every `#[pyclass]` type with the collector (its type flags always include
//! `Py_TPFLAGS_HAVE_GC`), so each result object a batch makes counts towards the next collection, and
//! the full collections that follow walk every tracked object the program holds: the caller's input
//! dicts included. On 100,000 one-line claim dicts `price_many` spent about 40% of its time in them.
//! The results hold no reference cycles (a priced claim, its lines, a report, its findings), so there is
//! nothing for the collector to find: it is paused while they are made and resumed when the batch
//! returns, raises or is interrupted. A collector the caller had turned off stays off.

use pyo3::prelude::*;
use pyo3::types::PyModule;

/// While alive, the collector is paused (if it was running); dropped, it runs again.
pub(crate) struct CollectorPaused<'py> {
    /// The `gc` module, when this guard paused the collector.
    paused: Option<Bound<'py, PyModule>>,
}

impl<'py> CollectorPaused<'py> {
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(CollectorPaused { paused: None });
        }
        gc.call_method0("disable")?;
        Ok(CollectorPaused { paused: Some(gc) })
    }
}

impl Drop for CollectorPaused<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.paused {
            // `gc.enable()` does not fail; should it, the collector stays paused rather than panic here.
            let _ = gc.call_method0("enable");
        }
    }
}

impl std::fmt::Debug for CollectorPaused<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorPaused").field("paused", &self.paused.is_some()).finish()
    }
}
