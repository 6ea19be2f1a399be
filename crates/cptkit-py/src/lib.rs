//! cptkit Python module.
