//! Reference values kept for the life of the process, so that priced lines name them without a count.
//!
//! Every priced line names the rule set, base-unit source, conversion factor, fee-schedule release and
//! locality it was priced by. Held as `Arc`s, each line's clone and drop changed reference counts that
//! every worker thread shares, on one cache line (issue 13: 30% of `price_valid`'s time on two cores).
//! These values are few and small, and loaded once: each distinct one is kept here, and lines hold plain
//! `&'static` references. Loading the same data again (a second `Reference` or `RuleBook` of the same
//! files) finds the values kept the first time, so what is kept is bounded by the distinct values ever
//! loaded, not by how often they are. The cost of that choice: a process that makes many different rule
//! sets (a sweep of one payer's shares, say) keeps each one, a few KB apiece, until it exits.

use std::sync::{Mutex, PoisonError};

/// Distinct values of one type, each kept once. Compared by value, one at a time: a book holds a
/// handful of rule sets, a year a few hundred conversion factors and locality names, all kept at load
/// time.
pub(crate) struct Kept<T: 'static>(Mutex<Vec<&'static T>>);

impl<T: PartialEq> Kept<T> {
    pub(crate) const fn new() -> Kept<T> {
        Kept(Mutex::new(Vec::new()))
    }

    /// The kept value equal to `value`, keeping `value` if there is none.
    pub(crate) fn keep(&self, value: T) -> &'static T {
        // Nothing kept is ever half-written: a panic elsewhere while the lock was held leaves it usable.
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&found) = kept.iter().find(|&&k| *k == value) {
            return found;
        }
        let new: &'static T = Box::leak(Box::new(value));
        kept.push(new);
        new
    }
}

/// The kept text equal to `text`, keeping a copy if there is none.
pub(crate) fn text(text: &str) -> &'static str {
    static TEXTS: Kept<Box<str>> = Kept::new();
    TEXTS.keep(Box::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_are_kept_once() {
        let a = text("RVU25D");
        let b = text(&String::from("RVU25D"));
        assert!(std::ptr::eq(a, b));
        assert_ne!(text("RVU25A"), a);

        static NUMBERS: Kept<Vec<u32>> = Kept::new();
        let one = NUMBERS.keep(vec![1, 2]);
        assert!(std::ptr::eq(one, NUMBERS.keep(vec![1, 2])));
        assert_eq!(NUMBERS.keep(vec![3]), &vec![3]);
        assert!(!std::ptr::eq(one, NUMBERS.keep(vec![3])));
    }
}
