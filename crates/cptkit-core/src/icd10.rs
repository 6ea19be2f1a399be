//! The ICD-10-CM code set as a sorted TSV (`code<TAB>billable<TAB>title`), indexed by line start so a
//! lookup is one hash probe keyed by the packed code: no per-code allocation for ~98,000 codes.

use foldhash::{HashMap, HashMapExt};

use crate::ids::Icd10Code;

/// One row of the code set, borrowed from the table text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Icd10Entry<'a> {
    pub code: &'a str,
    pub billable: bool,
    pub title: &'a str,
}

#[derive(Debug)]
pub(crate) struct Icd10Table {
    /// Byte offset of every data line, in code order.
    line_starts: Vec<u32>,
    /// Each line's index by its code packed big-endian into a u64 (codes are at most 8 bytes): every
    /// diagnosis of every claim is looked up, and one probe costs a fifth of a binary search over 98,000.
    positions: HashMap<u64, u32>,
    /// Each line's billable flag: validation asks only this, without reading the line's text.
    billable: Vec<bool>,
    /// Each line marked by [`Icd10Table::mark_dated`]: the same probe tells validation whether to look
    /// for dates beside the code set's own.
    dated: Vec<bool>,
}

/// What the code set tells of a code it holds, from one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeSetStatus {
    pub billable: bool,
    /// Marked by [`Icd10Table::mark_dated`].
    pub dated: bool,
}

/// The code's bytes zero-padded into one word, as [`Icd10Code::key`] packs a parsed code.
fn pack(bytes: &[u8]) -> Option<u64> {
    (bytes.len() <= 8).then(|| bytes.iter().enumerate().fold(0u64, |key, (i, &b)| key | u64::from(b) << (56 - 8 * i)))
}

impl Icd10Table {
    /// Indexes the text, checking each line's shape and that codes are strictly increasing.
    pub fn index(text: &str) -> Result<Icd10Table, String> {
        let mut line_starts = Vec::with_capacity(100_000);
        let mut positions = HashMap::with_capacity(100_000);
        let mut billable = Vec::with_capacity(100_000);
        let mut previous: Option<&str> = None;
        let mut offset = 0usize;
        for (number, line) in text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line).ok_or_else(|| format!("line {}: expected code, 0/1 and title", number + 1))?;
            if previous.is_some_and(|p| p >= entry.code) {
                return Err(format!("line {}: {} is out of order", number + 1, entry.code));
            }
            previous = Some(entry.code);
            let start = u32::try_from(start).map_err(|_| "table larger than 4 GiB".to_owned())?;
            let key = pack(entry.code.as_bytes())
                .ok_or_else(|| format!("line {}: code longer than 8 characters", number + 1))?;
            // Strictly increasing codes (of visible characters) pack to distinct keys; a line index fits
            // in u32 as its offset did.
            positions.insert(key, line_starts.len() as u32);
            line_starts.push(start);
            billable.push(entry.billable);
        }
        let dated = vec![false; billable.len()];
        Ok(Icd10Table { line_starts, positions, billable, dated })
    }

    pub fn len(&self) -> usize {
        self.line_starts.len()
    }

    fn position(&self, code: &Icd10Code) -> Option<usize> {
        self.positions.get(&code.key()).map(|&found| found as usize)
    }

    /// Marks a code that has dates of its own (deleted, or replacing a deleted one); a code not in the
    /// set is left as it is.
    pub fn mark_dated(&mut self, code: &Icd10Code) {
        if let Some(dated) = self.position(code).and_then(|i| self.dated.get_mut(i)) {
            *dated = true;
        }
    }

    /// Whether the code is billable and marked dated; `None` when it is not in the code set.
    pub fn status(&self, code: &Icd10Code) -> Option<CodeSetStatus> {
        let i = self.position(code)?;
        Some(CodeSetStatus { billable: *self.billable.get(i)?, dated: *self.dated.get(i)? })
    }

    pub fn get<'a>(&self, text: &'a str, code: &Icd10Code) -> Option<Icd10Entry<'a>> {
        let start = self.line_starts[self.position(code)?] as usize;
        parse_line(text[start..].split(['\n', '\r']).next().unwrap_or(""))
    }
}

fn parse_line(line: &str) -> Option<Icd10Entry<'_>> {
    let mut fields = line.splitn(3, '\t');
    let code = fields.next()?;
    let billable = match fields.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let title = fields.next()?;
    (!code.is_empty() && !title.is_empty()).then_some(Icd10Entry { code, billable, title })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# header\nM48.06\t0\tSpinal stenosis, lumbar region\nM48.061\t1\tSpinal stenosis, lumbar region without neurogenic claudication\nM54.5\t0\tLow back pain\r\nM54.50\t1\tLow back pain, unspecified\n";

    fn code(text: &str) -> Icd10Code {
        text.parse().expect(text)
    }

    #[test]
    fn looks_codes_up_by_their_packed_key() {
        let table = Icd10Table::index(SAMPLE).expect("valid");
        assert_eq!(table.len(), 4);
        let entry = table.get(SAMPLE, &code("M54.5")).expect("present");
        assert_eq!((entry.billable, entry.title), (false, "Low back pain"));
        assert!(table.get(SAMPLE, &code("M54.50")).expect("present").billable);
        let billable = |text: &str| table.status(&code(text)).map(|s| s.billable);
        assert_eq!((billable("M54.5"), billable("m5450"), billable("M54.9")), (Some(false), Some(true), None));
        assert!(table.get(SAMPLE, &code("M48.0")).is_none());
        assert!(table.get(SAMPLE, &code("Z99")).is_none());
        // The table packs its text as a parsed code packs itself.
        assert_eq!(pack(b"S72.001A"), Some(code("s72001a").key()));
        assert_eq!(pack(b"R61"), Some(code("R61").key()));
    }

    #[test]
    fn marks_dated_codes() {
        let mut table = Icd10Table::index(SAMPLE).expect("valid");
        table.mark_dated(&code("M54.5"));
        table.mark_dated(&code("Z99")); // not in the set: nothing to mark
        let status = CodeSetStatus { billable: false, dated: true };
        assert_eq!(table.status(&code("M54.5")), Some(status));
        assert_eq!(table.status(&code("M54.50")), Some(CodeSetStatus { billable: true, dated: false }));
        assert_eq!(table.status(&code("Z99")), None);
    }

    #[test]
    fn rejects_disorder_and_bad_lines() {
        assert!(Icd10Table::index("B01\t1\tx\nA01\t1\ty\n").unwrap_err().contains("out of order"));
        assert!(Icd10Table::index("A01\tyes\tx\n").unwrap_err().contains("line 1"));
    }
}
