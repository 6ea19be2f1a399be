//! What the services answer from, as one snapshot that a reload replaces atomically.
//!
//! Each request takes the snapshot current when it starts and keeps it to its end (a ProcessClaims
//! stream, for its whole life), so a reload never changes the data under a request: requests in
//! flight finish on the old data, new ones see the new. The old snapshot is freed when its last
//! request ends.

use std::sync::Arc;

use arc_swap::ArcSwap;
use cptkit_core::{Claim, JudgeOptions, Judgement, PayerBenchmarks, Reference, RuleBook};

use crate::config::Config;
use crate::prepared::PreparedProfiles;
use crate::service::SharedReference;
use crate::{load_benchmarks, load_reference, load_rules};

/// The reference data, payer rule sets and payer rate benchmarks of one load, with the GetCode
/// responses prepared from them.
#[derive(Debug)]
pub struct ServerData {
    pub reference: SharedReference,
    pub rules: Arc<RuleBook>,
    pub benchmarks: Arc<PayerBenchmarks>,
    pub(crate) prepared: PreparedProfiles,
}

impl ServerData {
    pub fn new(reference: SharedReference, rules: Arc<RuleBook>, benchmarks: Arc<PayerBenchmarks>) -> Self {
        let prepared = PreparedProfiles::for_reference(&reference);
        ServerData { reference, rules, benchmarks, prepared }
    }

    /// Reads everything `config` names: the data directory over the embedded tables, the rule-set
    /// files beside the embedded rule sets, the benchmark stores. An error names the file and why.
    pub fn load(config: &Config) -> Result<ServerData, String> {
        let reference = load_reference(config.data_dir.as_deref()).map_err(|e| match &config.data_dir {
            Some(dir) => format!("cannot load data dir {}: {e}", dir.display()),
            None => format!("embedded reference data: {e}"),
        })?;
        let rules = load_rules(&config.rule_sets).map_err(|e| e.to_string())?;
        // A TicError names the file: "benchmark store DIR/x.parquet: ...".
        let benchmarks = load_benchmarks(config.benchmarks_dir.as_deref()).map_err(|e| {
            let dir = config.benchmarks_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
            format!("cannot load benchmarks dir {dir}: {e}")
        })?;
        Ok(ServerData::new(reference, rules, benchmarks))
    }

    /// The core's one judge over this snapshot's reference data and rule sets.
    pub(crate) fn judge(&self, claim: &Claim, options: &JudgeOptions) -> cptkit_core::Result<Judgement> {
        self.reference.judge(claim, options, &self.rules)
    }

    /// The versions of what is served, for the metrics.
    fn record_versions(&self) {
        crate::metrics::record_data_versions(&self.reference, &self.rules, &self.benchmarks);
    }

    /// The reference data itself.
    pub(crate) fn reference(&self) -> &Reference {
        &self.reference
    }
}

/// The current [`ServerData`], shared by every service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DataStore(Arc<ArcSwap<ServerData>>);

impl DataStore {
    pub fn new(data: ServerData) -> Self {
        data.record_versions();
        DataStore(Arc::new(ArcSwap::from_pointee(data)))
    }

    /// The snapshot for a request that starts now.
    pub fn current(&self) -> Arc<ServerData> {
        self.0.load_full()
    }

    /// Serves `data` to every request that starts from now on.
    pub fn replace(&self, data: ServerData) {
        data.record_versions();
        self.0.store(Arc::new(data));
    }
}
