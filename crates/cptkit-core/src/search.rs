//! Listing and searching every code cptkit profiles (the CMS anesthesia codes and every code of the
//! newest Medicare Physician Fee Schedule release), with offset-based page tokens. The summaries are
//! built once, on first use, and searched in place.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::CptCode;
use crate::model::{Known, ServiceType};
use crate::profile::section_label;
use crate::reference::Reference;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

/// The status codes of the RVU file (RVU25D documentation, Attachment A).
const STATUSES: &[u8] = b"ABCDEFGHIJMNPRTX";

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
    /// Words that must all begin a word of the code, its descriptor (anesthesia paraphrase, CMS Level II
    /// descriptor or a user's descriptor file), category (not its "(except ...)" note) or section
    /// (case-insensitive; `lumb` finds "lumbar").
    pub text: String,
    /// Exact category name, case-insensitive (e.g. "Spine and spinal cord", "Surgery: Digestive System").
    pub category: Option<String>,
    /// Base units: only anesthesia codes have them, so these match anesthesia codes only.
    pub min_base_units: Option<u32>,
    pub max_base_units: Option<u32>,
    /// `true`: codes on Medicare's inpatient-only list; `false`: codes known not to be. A code whose
    /// status cptkit has not checked (`Known::Unknown`) matches neither.
    pub inpatient_only: Option<bool>,
    pub service_type: Option<ServiceType>,
    /// Codes and ranges, separated by spaces or commas (`99202-99215`, `72148 72149`); empty for any.
    pub codes: String,
    /// Fee schedule status code in the newest release (`A`, `C`, `I`, ...), case-insensitive.
    pub status: Option<String>,
    /// CPT section or subsection, or the HCPCS Level II heading or group, case-insensitive
    /// ("Radiology", "Evaluation and Management", "Digestive System", "HCPCS Level II").
    pub section: Option<String>,
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
    /// Fee schedule status in the newest release (`A`, `J`, ...); empty when the release does not list it.
    pub status: String,
    /// The CPT section or HCPCS Level II heading ("Radiology", "HCPCS Level II"); empty when unknown.
    pub section: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// Matches across all pages.
    pub total_size: u32,
}

/// Every code's summary in code order, with what search reads.
#[derive(Debug, Clone)]
pub(crate) struct CodeIndex(Vec<Indexed>);

#[derive(Debug, Clone)]
struct Indexed {
    summary: CodeSummary,
    subsection: String,
    /// Lower-case code, descriptor (when there is one), category and section.
    haystack: String,
}

/// Digits as `0`, letters as themselves: `0001F` and `30000` differ in shape though `3000F` sorts
/// between 30000 and 32999.
fn shape(code: CptCode) -> [u8; 5] {
    let mut shape = [0u8; 5];
    for (s, b) in shape.iter_mut().zip(code.as_str().bytes()) {
        *s = if b.is_ascii_digit() { b'0' } else { b };
    }
    shape
}

/// `code` is within `first..=last` and of the same form as the bounds.
pub(crate) fn in_range(code: CptCode, first: CptCode, last: CptCode) -> bool {
    first <= code && code <= last && shape(code) == shape(first)
}

/// `99202-99215, 72148` as ranges; an error names the field `codes`.
fn parse_codes(text: &str) -> Result<Vec<(CptCode, CptCode)>> {
    let code = |text: &str| text.parse::<CptCode>().map_err(|e| Error::invalid("codes", e.message()));
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (first, last) = item.split_once('-').unwrap_or((item, item));
            let (first, last) = (code(first)?, code(last)?);
            if shape(first) != shape(last) {
                return Err(Error::invalid(
                    "codes",
                    format!("{item}: both ends of a range must have the same form, e.g. 99202-99215 or J1000-J1999"),
                ));
            }
            if first > last {
                return Err(Error::invalid("codes", format!("{item}: the range ends before it starts")));
            }
            Ok((first, last))
        })
        .collect()
}

fn parse_status(text: &str) -> Result<u8> {
    match text.trim().as_bytes() {
        [b] if STATUSES.contains(&b.to_ascii_uppercase()) => Ok(b.to_ascii_uppercase()),
        _ => Err(Error::invalid(
            "status",
            format!("expected one fee schedule status code of {}, got {text:?}", String::from_utf8_lossy(STATUSES)),
        )),
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

fn paginate(matches: Vec<&CodeSummary>, page: &PageRequest) -> Result<Page<CodeSummary>> {
    let (offset, size) = page.bounds()?;
    let total = matches.len();
    if offset > total {
        return Err(Error::invalid("page_token", "points past the last result"));
    }
    let end = (offset + size).min(total);
    Ok(Page {
        next_page_token: if end < total { end.to_string() } else { String::new() },
        total_size: u32::try_from(total).unwrap_or(u32::MAX),
        items: matches[offset..end].iter().map(|s| (*s).clone()).collect(),
    })
}

/// A query with its text parts parsed.
struct Filters<'q> {
    query: &'q CodeQuery,
    words: Vec<String>,
    codes: Vec<(CptCode, CptCode)>,
    status: Option<String>,
}

impl Filters<'_> {
    fn matches(&self, entry: &Indexed) -> bool {
        let q = self.query;
        let s = &entry.summary;
        let anesthesia = s.service_type != ServiceType::FeeSchedule;
        let same = |want: &String, have: &str| want.trim().eq_ignore_ascii_case(have);
        q.category.as_ref().is_none_or(|c| same(c, &s.category))
            && q.min_base_units.is_none_or(|min| anesthesia && s.base_units >= min)
            && q.max_base_units.is_none_or(|max| anesthesia && s.base_units <= max)
            && q.inpatient_only
                .is_none_or(|want| s.medicare_inpatient_only == if want { Known::Yes } else { Known::No })
            && q.service_type.is_none_or(|t| t == s.service_type)
            && self.status.as_ref().is_none_or(|status| *status == s.status)
            && q.section
                .as_ref()
                .is_none_or(|want| same(want, &s.section) || same(want, &entry.subsection) || same(want, &s.category))
            && (self.codes.is_empty() || self.codes.iter().any(|&(first, last)| in_range(s.code, first, last)))
            && self.words.iter().all(|w| starts_a_word(&entry.haystack, w))
    }
}

/// True when `word` begins a word of `haystack` (`lumb` finds "lumbar"; `hip` does not find "Whipple").
fn starts_a_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(at, _)| !haystack[..at].chars().next_back().is_some_and(char::is_alphanumeric))
}

/// A category without its "(except ...)" notes: "Upper leg (except knee)" is not about the knee.
fn without_exceptions(category: &str) -> String {
    let mut kept = String::with_capacity(category.len());
    let mut rest = category;
    while let Some(at) = rest.find("(except") {
        kept.push_str(&rest[..at]);
        rest = rest[at..].find(')').map_or("", |close| &rest[at + close + 1..]);
    }
    kept.push_str(rest);
    kept
}

impl Reference {
    /// All codes in code order, one page at a time.
    pub fn list_codes(&self, page: &PageRequest) -> Result<Page<CodeSummary>> {
        paginate(self.code_index()?.0.iter().map(|e| &e.summary).collect(), page)
    }

    /// Codes matching every given filter, in code order.
    pub fn search_codes(&self, query: &CodeQuery, page: &PageRequest) -> Result<Page<CodeSummary>> {
        if let (Some(min), Some(max)) = (query.min_base_units, query.max_base_units)
            && min > max
        {
            return Err(Error::invalid("max_base_units", format!("{max} is below min_base_units {min}")));
        }
        let filters = Filters {
            query,
            words: query.text.split_whitespace().map(str::to_lowercase).collect(),
            codes: parse_codes(&query.codes)?,
            status: query.status.as_deref().map(parse_status).transpose()?.map(|b| char::from(b).to_string()),
        };
        let index = self.code_index()?;
        paginate(index.0.iter().filter(|e| filters.matches(e)).map(|e| &e.summary).collect(), page)
    }

    /// Every code's summary, in code order (built on first use).
    pub fn code_summaries(&self) -> Result<impl ExactSizeIterator<Item = &CodeSummary>> {
        Ok(self.code_index()?.0.iter().map(|e| &e.summary))
    }

    fn code_index(&self) -> Result<&CodeIndex> {
        self.code_index.get_or_init(|| self.build_code_index()).as_ref().map_err(Clone::clone)
    }

    fn build_code_index(&self) -> Result<CodeIndex> {
        let tables = self.fee_schedule().latest()?.tables;
        // The first row of a code is its own row when it has one (26, TC and 53 sort after it).
        let mut statuses: BTreeMap<CptCode, u8> = BTreeMap::new();
        for row in tables.rows() {
            statuses.entry(row.code).or_insert(row.status);
        }
        let codes: std::collections::BTreeSet<CptCode> = self.codes.keys().chain(statuses.keys()).copied().collect();
        let entries = codes
            .into_iter()
            .map(|code| {
                let section = self.section_of(code);
                let (description, is_descriptor) = self.description_of(code, section);
                let anesthesia = self.codes.get(&code);
                let summary = CodeSummary {
                    code,
                    category: match (anesthesia, section) {
                        (Some(entry), _) => entry.category.clone(),
                        (None, Some(section)) => section_label(section),
                        (None, None) => String::new(),
                    },
                    base_units: anesthesia.map_or(0, |e| e.base_units),
                    service_type: anesthesia.map_or(ServiceType::FeeSchedule, |e| e.service_type),
                    medicare_inpatient_only: anesthesia.map_or(Known::Unknown, |e| e.medicare_inpatient_only),
                    status: statuses.get(&code).map(|&s| char::from(s).to_string()).unwrap_or_default(),
                    section: section.map(|s| s.section.clone()).unwrap_or_default(),
                    description,
                };
                let descriptor = if is_descriptor { summary.description.as_str() } else { "" };
                let category = without_exceptions(&summary.category);
                let haystack = format!("{} {} {} {}", code, descriptor, category, summary.section).to_lowercase();
                Indexed { subsection: section.map(|s| s.subsection.clone()).unwrap_or_default(), haystack, summary }
            })
            .collect();
        Ok(CodeIndex(entries))
    }
}
