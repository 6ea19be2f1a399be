//! cptkit X12: a streaming X12 reader, 837P (005010X222A1) to core claims and back, 835 (005010X221A1)
//! remittances, and reconciliation of remittances against priced claims. See README.md.

mod envelope;
mod error;
mod p835;
mod p837;
mod par837;
mod reconcile;
mod segment;
mod source;
mod values;
mod write837;

pub use envelope::{Envelope, Transaction};
pub use error::{Control, SegmentRef, X12Error, X12ErrorKind};
pub use p835::{
    Adjustment, AdjustmentGroup, File835, Payment, Procedure, ProviderAdjustment, Reader835, RemitClaim, RemitLine,
    RemitParty, Remittance, Transaction835, read_835,
};
pub use p837::{
    BillingProvider, ClaimDates, ClaimInfo, ClaimPart, Claims837, File837, LineOrigin, LineOrigins, ParsedClaim,
    ReadOptions, Reader837, RejectedClaim, Transaction837, case_id_for, edit, read_837, read_837_threads,
};
pub use reconcile::{
    ClaimLevelResult, ClaimReconciliation, LineFlag, LineReconciliation, MatchedBy, ReconcileOptions, Reconciliation,
    Totals, UnmatchedRemitLine, core_pricer, parsed_from_claims, reconcile,
};
pub use segment::{Delimiters, MAX_SEGMENT_LEN, Segment, SegmentReader};
pub use source::{ClaimField, ClaimSource, LineField};
pub use write837::{WriteOptions, write_837, write_837_to_vec};
