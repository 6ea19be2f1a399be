//! The tokens file (`--tokens-file`): who may call which services. It holds SHA-256 hashes of bearer
//! tokens, never the tokens, so reading the file does not reveal a credential:
//!
//! ```json
//! {"tokens": [
//!   {"name": "billing-api", "sha256": "<64 hex>", "services": ["cptkit.v1.ClaimService"]},
//!   {"name": "batch-worker", "client_subject": "batch-worker", "services": ["*"]}
//! ]}
//! ```
//!
//! An entry with `client_subject` instead of `sha256` names the caller of requests over a verified
//! client certificate (mutual TLS) whose subject common name is that value.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    client_subject: Option<String>,
    services: Vec<String>,
}

/// Who made a request: a tokens-file entry's name and the services it may call.
#[derive(Debug)]
pub(crate) struct Caller {
    pub(crate) name: String,
    /// Full gRPC service names; `None` means every service (`"*"`).
    services: Option<Vec<String>>,
}

impl Caller {
    pub(crate) fn may_call(&self, service: &str) -> bool {
        self.services.as_ref().is_none_or(|services| services.iter().any(|s| s == service))
    }
}

/// The parsed tokens file.
pub(crate) struct Tokens {
    hashed: Vec<([u8; 32], Arc<Caller>)>,
    subjects: HashMap<String, Arc<Caller>>,
}

impl std::fmt::Debug for Tokens {
    /// Names only: the hashes stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.hashed.iter().map(|(_, caller)| &caller.name).chain(self.subjects.values().map(|c| &c.name));
        f.debug_struct("Tokens").field("names", &names.collect::<Vec<_>>()).finish()
    }
}

impl Tokens {
    /// Reads `path`; an error names the file, and the entry and field when one is wrong.
    pub(crate) fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("tokens file {}: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| format!("tokens file {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Tokens, String> {
        let file: TokensFile = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
        let mut tokens = Tokens { hashed: Vec::new(), subjects: HashMap::new() };
        let mut names = std::collections::HashSet::new();
        for (i, entry) in file.tokens.into_iter().enumerate() {
            let at = |field: &str| format!("tokens[{i}].{field}");
            if entry.name.trim().is_empty() || entry.name.chars().any(|c| c.is_control()) {
                return Err(format!("{}: a name is required (printable text)", at("name")));
            }
            if !names.insert(entry.name.clone()) {
                return Err(format!("{}: {:?} names another entry too", at("name"), entry.name));
            }
            let services = parse_services(&entry.services).map_err(|e| format!("{}: {e}", at("services")))?;
            let caller = Arc::new(Caller { name: entry.name, services });
            match (entry.sha256, entry.client_subject) {
                (Some(hash), None) => {
                    let hash = parse_sha256(&hash).ok_or_else(|| {
                        format!(
                            "{}: expected 64 hexadecimal characters (`printf %s \"$TOKEN\" | sha256sum`)",
                            at("sha256")
                        )
                    })?;
                    tokens.hashed.push((hash, caller));
                }
                (None, Some(subject)) if !subject.is_empty() => {
                    if tokens.subjects.insert(subject.clone(), caller).is_some() {
                        return Err(format!("{}: {subject:?} is another entry's too", at("client_subject")));
                    }
                }
                (None, Some(_)) => return Err(format!("{}: must not be empty", at("client_subject"))),
                (Some(_), Some(_)) => {
                    return Err(format!("{}: give `sha256` or `client_subject`, not both", at("sha256")));
                }
                (None, None) => {
                    return Err(format!("{}: one of `sha256` or `client_subject` is required", at("sha256")));
                }
            }
        }
        Ok(tokens)
    }

    /// The caller whose token this is. Every entry is compared in constant time, so the time taken
    /// says nothing about which hash (or how much of it) matched.
    pub(crate) fn by_token(&self, token: &str) -> Option<&Arc<Caller>> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (known, caller) in &self.hashed {
            if bool::from(known.ct_eq(&hash)) {
                found = Some(caller);
            }
        }
        found
    }

    /// The caller for a verified client certificate with this subject common name.
    pub(crate) fn by_subject(&self, subject: &str) -> Option<&Arc<Caller>> {
        self.subjects.get(subject)
    }
}

/// `["*"]` is every service; otherwise full names such as `cptkit.v1.CodeService`.
fn parse_services(services: &[String]) -> Result<Option<Vec<String>>, String> {
    if services.is_empty() {
        return Err(
            "list at least one service (a full gRPC service name such as cptkit.v1.CodeService, or \"*\")".into()
        );
    }
    if services.iter().any(|s| s == "*") {
        return Ok(None);
    }
    for service in services {
        let valid = service.contains('.')
            && service
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid {
            return Err(format!("{service:?} is not a full gRPC service name such as cptkit.v1.CodeService"));
        }
    }
    Ok(Some(services.to_vec()))
}

fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; // sha256("test")

    #[test]
    fn finds_callers_by_token_and_subject() {
        let tokens = Tokens::parse(&format!(
            r#"{{"tokens": [
                {{"name": "api", "sha256": "{}", "services": ["cptkit.v1.CodeService"]}},
                {{"name": "worker", "client_subject": "worker-1", "services": ["*"]}}
            ]}}"#,
            TOKEN_HASH.to_uppercase()
        ))
        .expect("valid file");
        let api = tokens.by_token("test").expect("known token");
        assert_eq!(api.name, "api");
        assert!(api.may_call("cptkit.v1.CodeService") && !api.may_call("cptkit.v1.ClaimService"));
        assert!(tokens.by_token("tes").is_none());
        let worker = tokens.by_subject("worker-1").expect("known subject");
        assert!(worker.may_call("cptkit.v1.X12Service"));
        assert!(!format!("{tokens:?}").contains("9f86"), "{tokens:?}");
    }

    #[test]
    fn errors_name_the_entry_and_field() {
        let cases = [
            (r#"{"tokens": [{"name": "a", "sha256": "abc", "services": ["*"]}]}"#, "tokens[0].sha256: expected 64"),
            (r#"{"tokens": [{"name": "a", "services": ["*"]}]}"#, "tokens[0].sha256: one of"),
            (r#"{"tokens": [{"name": "a", "client_subject": "a", "services": []}]}"#, "tokens[0].services: list"),
            (
                r#"{"tokens": [{"name": "a", "client_subject": "a", "services": ["Code"]}]}"#,
                "tokens[0].services: \"Code\"",
            ),
            (
                r#"{"tokens": [{"name": "a", "client_subject": "a", "services": ["*"], "x": 1}]}"#,
                "tokens[0].x: unknown field `x`",
            ),
            (
                r#"{"tokens": [{"name": "a", "client_subject": "a", "services": ["*"]}, {"name": "a", "client_subject": "b", "services": ["*"]}]}"#,
                "tokens[1].name",
            ),
            (r#"{"tokens": [{"name": 3}]}"#, "tokens[0].name: invalid type"),
        ];
        for (text, expected) in cases {
            let error = Tokens::parse(text).expect_err(text);
            assert!(error.starts_with(expected), "{text}: {error}");
        }
    }
}
