//! The payer rule sets the server prices with: the embedded ones, plus the files given with
//! `--rule-set` / `CPTKIT_RULE_SETS`, read once at start-up. A bad file stops start-up with a
//! message naming the file and the field.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cptkit_core::{RuleBook, RuleSet};

/// A rule-set file that cannot be used: which file, and why (the field at fault, when there is one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load rule set {}: {reason}", path.display())]
pub struct RuleSetError {
    pub path: PathBuf,
    pub reason: String,
}

/// The embedded rule sets plus each file's, in order. A file whose id is an embedded rule set's
/// replaces it; two files with the same id are an error (one of them would be silently ignored).
pub fn load_rules(files: &[PathBuf]) -> Result<Arc<RuleBook>, RuleSetError> {
    let mut book = RuleBook::embedded().clone();
    let mut loaded: Vec<(String, &Path)> = Vec::with_capacity(files.len());
    for path in files {
        let error = |reason: String| RuleSetError { path: path.clone(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let rule_set = RuleSet::from_json(&text).and_then(check).map_err(|e| error(e.to_string()))?;
        if let Some((_, first)) = loaded.iter().find(|(id, _)| *id == rule_set.id) {
            return Err(error(format!("id: rule set id {:?} is also the id of {}", rule_set.id, first.display())));
        }
        let replaces = book.rule_sets().any(|r| r.id == rule_set.id);
        tracing::info!(
            file = %path.display(),
            rule_set = %rule_set.id,
            payer = %rule_set.payer,
            replaces_embedded = replaces,
            "rule set loaded"
        );
        loaded.push((rule_set.id.clone(), path));
        book = book.with(rule_set);
    }
    Ok(Arc::new(book))
}

/// What the core reads without complaint but cannot price with: a zero-minute time unit would divide
/// by zero on the first claim instead of failing at start-up.
fn check(rule_set: RuleSet) -> cptkit_core::Result<RuleSet> {
    let units = &rule_set.time_units;
    let zero = |field: &str| {
        cptkit_core::Error::invalid(field, "rule set: a time unit must be at least one minute").at("time_units")
    };
    if units.unit_minutes == 0 {
        return Err(zero("unit_minutes"));
    }
    if units.unit_minutes_after_break == Some(0) {
        return Err(zero("unit_minutes_after_break"));
    }
    Ok(rule_set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded_json(id: &str) -> String {
        let rule_set = RuleBook::embedded().rule_sets().find(|r| r.id == id).expect("embedded rule set").clone();
        serde_json::to_string(&rule_set).expect("json")
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cptkit-server-rules-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn files_add_and_replace_rule_sets() {
        let dir = temp_dir("ok");
        let embedded = RuleBook::embedded().rule_sets().count();
        let acme = embedded_json("cigna-2021-05").replace("cigna-2021-05", "acme-2025");
        let replacing = embedded_json("cigna-2021-05");
        let files = [write(&dir, "acme.json", &acme), write(&dir, "cigna.json", &replacing)];
        let book = load_rules(&files).expect("loads");
        assert_eq!(book.rule_sets().count(), embedded + 1);
        assert!(book.rule_sets().any(|r| r.id == "acme-2025"));
        assert_eq!(load_rules(&[]).expect("embedded only").rule_sets().count(), embedded);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let dir = temp_dir("bad");
        let bad_type = write(
            &dir,
            "bad.json",
            &embedded_json("cigna-2021-05").replace("\"unit_minutes\":15", "\"unit_minutes\":\"15\""),
        );
        let err = load_rules(std::slice::from_ref(&bad_type)).expect_err("string minutes");
        assert_eq!(err.path, bad_type);
        assert!(
            err.to_string()
                .starts_with(&format!("cannot load rule set {}: time_units.unit_minutes: ", bad_type.display())),
            "{err}"
        );

        let zero = write(
            &dir,
            "zero.json",
            &embedded_json("cigna-2021-05").replace("\"unit_minutes\":15", "\"unit_minutes\":0"),
        );
        let err = load_rules(&[zero]).expect_err("zero minutes");
        assert!(err.reason.starts_with("time_units.unit_minutes: "), "{err}");

        let missing = dir.join("missing.json");
        let err = load_rules(std::slice::from_ref(&missing)).expect_err("missing");
        assert_eq!(err.path, missing);

        let twice = write(&dir, "twice.json", &embedded_json("cigna-2021-05").replace("cigna-2021-05", "acme"));
        let err = load_rules(&[twice.clone(), twice]).expect_err("same id twice");
        assert!(err.reason.starts_with("id: rule set id \"acme\""), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
