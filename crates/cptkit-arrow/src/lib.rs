//! cptkit claim lines as Arrow record batches.
//!
//! The layout ([`layout`]): one row per service line, claim-level fields repeated on every line of a
//! claim, lines of a claim in adjacent rows. [`read`] turns a batch into core claims with per-row
//! issues; [`write`] turns claims into a batch; [`judge`] validates and prices a batch into a result
//! batch with one row per input row. Arrow lives here and in the Python binding, never in the core.

pub mod judge;
pub mod layout;
pub mod read;
pub mod write;

pub use judge::{ClaimStream, TablePricing, price_batch, validate_batch};
pub use layout::{CLAIM_LINE_COLUMNS, claim_lines_schema, pricing_schema, validation_schema};
pub use read::{LineColumns, RowIssue, TableClaim};
pub use write::{claims_to_batch, has_rows};
