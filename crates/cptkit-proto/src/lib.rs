//! Generated protobuf types for package `cptkit.v1` and every conversion between them and the core.
//!
//! `From<core::X> for pb::X` is total. `TryFrom<pb::X> for core::X` parses and names the field that
//! fails. Both destructure every field, so a new proto or core field stops the build until it is mapped.

#[allow(clippy::all, missing_debug_implementations, unreachable_pub)]
pub mod pb {
    tonic::include_proto!("cptkit.v1");
}

/// The encoded file descriptor set of `proto/cptkit/v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cptkit_descriptor.bin"));

mod claims;
pub mod codec;
mod codes;
mod convert;
mod encode;
mod rates;
mod read;
mod x12;

pub use claims::{path, price_options, today};
pub use codes::{code_query, locality_selection, page_request};
pub use encode::PricedClaimEncoder;
pub use rates::benchmarks_request;
pub use read::{ClaimRequest, read_process_claims_request};
pub use x12::{located_finding, parsed_claim, read_options, tolerance, transaction_summary, unmatched_remit_claim};
