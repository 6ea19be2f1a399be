//! Listing and searching anesthesia codes, with offset-based page tokens.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::CptCode;
use crate::model::{AnesthesiaCode, Known, ServiceType};
use crate::reference::Reference;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

/// A request for one page. `page_token` is the opaque `next_page_token` of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// 0 means the default page size.
    pub page_size: u32,
    pub page_token: String,
}

/// Filters for [`Reference::search_codes`]; all given filters must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeQuery {
    /// Words that must all appear in the code, description or category (case-insensitive).
    pub text: String,
    /// Exact category name, case-insensitive (e.g. "Spine and spinal cord").
    pub category: Option<String>,
    pub min_base_units: Option<u32>,
    pub max_base_units: Option<u32>,
    pub inpatient_only: Option<bool>,
    pub service_type: Option<ServiceType>,
}

/// The short form of a code, as listed by search and list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeSummary {
    pub code: CptCode,
    pub description: String,
    pub category: String,
    pub base_units: u32,
    pub service_type: ServiceType,
    pub medicare_inpatient_only: Known,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// Matches across all pages.
    pub total_size: u32,
}

impl From<&AnesthesiaCode> for CodeSummary {
    fn from(c: &AnesthesiaCode) -> Self {
        CodeSummary {
            code: c.code,
            description: c.description.clone(),
            category: c.category.clone(),
            base_units: c.base_units,
            service_type: c.service_type,
            medicare_inpatient_only: c.medicare_inpatient_only,
        }
    }
}

impl PageRequest {
    fn bounds(&self) -> Result<(usize, usize)> {
        let size = match self.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(Error::invalid("page_size", format!("at most {MAX_PAGE_SIZE}, got {n}")));
            }
            n => n,
        };
        let offset = if self.page_token.is_empty() {
            0
        } else {
            self.page_token
                .parse::<usize>()
                .map_err(|_| Error::invalid("page_token", "not a page token returned by a previous call"))?
        };
        Ok((offset, size as usize))
    }
}

fn paginate<T>(matches: Vec<T>, page: &PageRequest) -> Result<Page<T>> {
    let (offset, size) = page.bounds()?;
    let total = matches.len();
    if offset > total {
        return Err(Error::invalid("page_token", "points past the last result"));
    }
    let end = (offset + size).min(total);
    Ok(Page {
        next_page_token: if end < total { end.to_string() } else { String::new() },
        total_size: u32::try_from(total).unwrap_or(u32::MAX),
        items: matches.into_iter().skip(offset).take(size).collect(),
    })
}

impl CodeQuery {
    fn matches(&self, code: &AnesthesiaCode, words: &[String]) -> bool {
        let haystack = || format!("{} {} {}", code.code, code.description, code.category).to_lowercase();
        self.category.as_ref().is_none_or(|c| c.eq_ignore_ascii_case(&code.category))
            && self.min_base_units.is_none_or(|min| code.base_units >= min)
            && self.max_base_units.is_none_or(|max| code.base_units <= max)
            && self.inpatient_only.is_none_or(|want| (code.medicare_inpatient_only == Known::Yes) == want)
            && self.service_type.is_none_or(|t| t == code.service_type)
            && (words.is_empty() || {
                let text = haystack();
                words.iter().all(|w| text.contains(w.as_str()))
            })
    }
}

impl Reference {
    /// All anesthesia codes in code order, one page at a time.
    pub fn list_codes(&self, page: &PageRequest) -> Result<Page<CodeSummary>> {
        paginate(self.codes().map(CodeSummary::from).collect(), page)
    }

    /// Codes matching every given filter, in code order.
    pub fn search_codes(&self, query: &CodeQuery, page: &PageRequest) -> Result<Page<CodeSummary>> {
        if let (Some(min), Some(max)) = (query.min_base_units, query.max_base_units)
            && min > max
        {
            return Err(Error::invalid("max_base_units", format!("{max} is below min_base_units {min}")));
        }
        let words: Vec<String> = query.text.split_whitespace().map(str::to_lowercase).collect();
        let matches = self.codes().filter(|c| query.matches(c, &words)).map(CodeSummary::from).collect();
        paginate(matches, page)
    }
}
