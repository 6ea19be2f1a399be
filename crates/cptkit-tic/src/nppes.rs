//! NPI -> primary taxonomy, from a file in the column layout of the CMS NPPES full dissemination file
//! (`NPI`, `Healthcare Provider Taxonomy Code_1..15`, `Healthcare Provider Primary Taxonomy Switch_1..15`).
//! Other columns are ignored, so the 330-column public file and a trimmed extract both load.

use std::collections::HashMap;
use std::path::Path;

use crate::TicError;

/// The NPPES file holds up to 15 taxonomies per provider.
const TAXONOMY_SLOTS: usize = 15;

/// Primary taxonomy per NPI. Taxonomy codes are interned (a few hundred distinct codes, millions of NPIs).
#[derive(Debug, Default, Clone)]
pub struct Nppes {
    primary: HashMap<u64, u32>,
    codes: Vec<String>,
}

/// Field `i` of a record as trimmed text; None when absent or not UTF-8.
fn text(record: &csv::ByteRecord, i: usize) -> Option<&str> {
    record.get(i).and_then(|field| std::str::from_utf8(field).ok()).map(str::trim)
}

impl Nppes {
    /// Loads the file. A provider's primary taxonomy is the slot whose switch is `Y`; providers with no
    /// slot marked `Y` are left out (cptkit does not guess which taxonomy is primary).
    pub fn load(path: &Path) -> Result<Nppes, TicError> {
        let fail = |message: String| TicError::Nppes { path: path.to_owned(), message };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(|e| fail(e.to_string()))?;
        // Read as bytes: the file's name and address columns are not always UTF-8 (a Latin-1 "É"), and
        // they are not read; only the NPI and taxonomy columns are, as text.
        let headers = reader.byte_headers().map_err(|e| fail(e.to_string()))?.clone();
        let column = |name: &str| headers.iter().position(|h| h.trim_ascii() == name.as_bytes());
        let npi_column = column("NPI").ok_or_else(|| fail("no NPI column".to_owned()))?;
        let slots: Vec<(usize, usize)> = (1..=TAXONOMY_SLOTS)
            .filter_map(|i| {
                Some((
                    column(&format!("Healthcare Provider Taxonomy Code_{i}"))?,
                    column(&format!("Healthcare Provider Primary Taxonomy Switch_{i}"))?,
                ))
            })
            .collect();
        if slots.is_empty() {
            return Err(fail("no Healthcare Provider Taxonomy Code_N / Primary Taxonomy Switch_N columns".to_owned()));
        }
        let mut nppes = Nppes::default();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).map_err(|e| fail(e.to_string()))? {
            let Some(npi) = text(&record, npi_column).and_then(|n| n.parse::<u64>().ok()) else { continue };
            let primary = slots.iter().find_map(|&(code, switch)| {
                let code = text(&record, code)?;
                (text(&record, switch)?.eq_ignore_ascii_case("Y") && !code.is_empty()).then_some(code)
            });
            if let Some(code) = primary {
                let id = match index.get(code) {
                    Some(&id) => id,
                    None => {
                        let id = nppes.codes.len() as u32;
                        nppes.codes.push(code.to_owned());
                        index.insert(code.to_owned(), id);
                        id
                    }
                };
                nppes.primary.insert(npi, id);
            }
        }
        Ok(nppes)
    }

    pub fn len(&self) -> usize {
        self.primary.len()
    }

    pub fn is_empty(&self) -> bool {
        self.primary.is_empty()
    }

    /// The primary taxonomy of an NPI, if the file has one.
    pub fn primary_taxonomy(&self, npi: u64) -> Option<&str> {
        self.taxonomy_id(npi).map(|id| self.code(id))
    }

    pub(crate) fn taxonomy_id(&self, npi: u64) -> Option<u32> {
        self.primary.get(&npi).copied()
    }

    pub(crate) fn code(&self, id: u32) -> &str {
        self.codes.get(id as usize).map_or("", String::as_str)
    }
}
