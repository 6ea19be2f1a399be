//! The payer rule sets the server prices with: the embedded ones, plus the files given with
//! `--rule-set` / `CPTKIT_RULE_SETS`, read once at start-up. A bad file stops start-up with a
//! message naming the file and the field.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cptkit_core::RuleBook;

/// A rule-set file that cannot be used: which file, and why (the field at fault, when there is one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load rule set {}: {reason}", path.display())]
pub struct RuleSetError {
    pub path: PathBuf,
    pub reason: String,
}

/// The embedded rule sets plus each file's, in order, by the core's one loader
/// ([`RuleBook::with_files`]): a file whose id is an embedded rule set's replaces it; two files with
/// the same id are an error.
pub fn load_rules(files: &[PathBuf]) -> Result<Arc<RuleBook>, RuleSetError> {
    let book = RuleBook::embedded().with_files(files).map_err(|e| {
        let path = e.file().map(Path::to_path_buf).unwrap_or_default();
        // The error names its file; the reason is the rest (field: message).
        let reason = match e.field() {
            Some(field) => format!("{field}: {}", e.message()),
            None => e.message().to_owned(),
        };
        RuleSetError { path, reason }
    })?;
    for (file, id) in book.files() {
        tracing::info!(file = %file.display(), rule_set = %id, "rule set loaded");
    }
    Ok(Arc::new(book))
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
        let acme = embedded_json("cigna-2023-03").replace("cigna-2023-03", "acme-2025");
        let replacing = embedded_json("cigna-2023-03");
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
            &embedded_json("cigna-2023-03").replace("\"unit_minutes\":15", "\"unit_minutes\":\"15\""),
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
            &embedded_json("cigna-2023-03").replace("\"unit_minutes\":15", "\"unit_minutes\":0"),
        );
        let err = load_rules(&[zero]).expect_err("zero minutes");
        assert!(err.reason.starts_with("time_units.unit_minutes: "), "{err}");
        assert!(err.to_string().contains("zero.json"), "{err}");

        let missing = dir.join("missing.json");
        let err = load_rules(std::slice::from_ref(&missing)).expect_err("missing");
        assert_eq!(err.path, missing);

        let twice = write(&dir, "twice.json", &embedded_json("cigna-2023-03").replace("cigna-2023-03", "acme"));
        let err = load_rules(&[twice.clone(), twice]).expect_err("same id twice");
        assert!(err.reason.starts_with("id: rule set id \"acme\""), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
