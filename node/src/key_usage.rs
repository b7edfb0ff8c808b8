//! When each API key was last used, without a registry write per request.
//!
//! Authentication records the key's use in memory ([`KeyUsage::record`]);
//! once a minute ([`FLUSH_INTERVAL`]) the node reports the keys used since
//! its last report in one registry command, `TouchApiKeys`, and once more
//! when it shuts down gracefully. A key's listed last use is therefore the
//! latest use any node has reported: up to a minute (plus the time to commit
//! the report) behind, and a use on a node that crashes before its next
//! report (or stops while no leader commits the last one within
//! [`EXIT_REPORT_TIMEOUT`]) is not recorded. The map is bounded ([`MAX_TRACKED_KEYS`]): a key
//! first used while it is full waits for the next interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nexus_raft::KeyUse;
use tracing::{debug, warn};

use crate::cluster::RegistryHandle;
use nexus_errors::{ErrorCode, UserError};

/// How often a node reports key uses.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// How long a stopping node waits for its last report to commit. With the
/// rest of the cluster already down the write would wait out the whole
/// write timeout (10 s by default), past a container runtime's grace period.
pub const EXIT_REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Keys a node tracks between two reports (and so the most one report holds).
pub const MAX_TRACKED_KEYS: usize = 1024;

/// Key id → latest use (ms since the Unix epoch) since the last report.
#[derive(Debug, Default)]
pub struct KeyUsage {
    seen: Mutex<HashMap<String, u64>>,
}

impl KeyUsage {
    /// Notes that `key_id` was used at `at_ms`. Dropped when the map is full
    /// and the key is not in it yet.
    pub fn record(&self, key_id: &str, at_ms: u64) {
        let mut seen = self.lock();
        let full = seen.len() >= MAX_TRACKED_KEYS;
        match seen.get_mut(key_id) {
            Some(last) => *last = (*last).max(at_ms),
            None if !full => {
                seen.insert(key_id.to_owned(), at_ms);
            }
            None => {}
        }
    }

    /// Empties the map into one report, ordered by key id.
    pub fn take(&self) -> Vec<KeyUse> {
        let mut uses: Vec<KeyUse> = self
            .lock()
            .drain()
            .map(|(key_id, at_ms)| KeyUse { key_id, at_ms })
            .collect();
        uses.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        uses
    }

    /// Puts back a report that could not be written (for the next one).
    pub fn put_back(&self, uses: Vec<KeyUse>) {
        for u in uses {
            self.record(&u.key_id, u.at_ms);
        }
    }

    /// The map is whole after any panic (each update is one insert).
    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reports the uses recorded since the last report, if any, in one
/// command; a failed report is kept for the next one.
pub async fn flush(usage: &KeyUsage, registry: &RegistryHandle) -> Result<(), UserError> {
    let uses = usage.take();
    if uses.is_empty() {
        return Ok(());
    }
    match registry.touch_api_keys(uses.clone()).await {
        Ok(updated) => {
            debug!(reported = uses.len(), updated, "reported API key uses");
            Ok(())
        }
        Err(e) => {
            usage.put_back(uses);
            Err(e)
        }
    }
}

/// The last report, as the node stops: [`flush`], given up after
/// [`EXIT_REPORT_TIMEOUT`] (the uses are then lost).
pub async fn flush_on_exit(usage: &KeyUsage, registry: &RegistryHandle) -> Result<(), UserError> {
    let limit = EXIT_REPORT_TIMEOUT;
    tokio::time::timeout(limit, flush(usage, registry))
        .await
        .unwrap_or_else(|_| {
            Err(UserError::new(
                ErrorCode::ClusterNoLeader,
                format!(
                    "no leader committed the last API key uses within {} s of stopping; \
                     they are not recorded",
                    limit.as_secs()
                ),
            ))
        })
}

/// Reports key uses every [`FLUSH_INTERVAL`] until aborted.
pub async fn run_flusher(usage: Arc<KeyUsage>, registry: RegistryHandle) {
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    loop {
        tick.tick().await;
        if let Err(e) = flush(&usage, &registry).await {
            warn!(error = %e, "reporting API key uses failed; kept for the next report");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_use_per_key_and_drains_in_order() {
        let usage = KeyUsage::default();
        usage.record("k2", 5);
        usage.record("k1", 9);
        usage.record("k2", 3);
        usage.record("k2", 7);
        let uses = usage.take();
        assert_eq!(
            uses,
            vec![
                KeyUse {
                    key_id: "k1".into(),
                    at_ms: 9
                },
                KeyUse {
                    key_id: "k2".into(),
                    at_ms: 7
                },
            ]
        );
        assert!(usage.take().is_empty(), "a report empties the map");
        usage.record("k1", 10);
        usage.put_back(uses);
        assert_eq!(usage.take().len(), 2, "a failed report merges back");
    }

    #[test]
    fn the_map_is_bounded() {
        let usage = KeyUsage::default();
        for i in 0..MAX_TRACKED_KEYS + 10 {
            usage.record(&format!("k{i}"), 1);
        }
        usage.record("k0", 2);
        let uses = usage.take();
        assert_eq!(uses.len(), MAX_TRACKED_KEYS);
        assert!(uses.iter().any(|u| u.key_id == "k0" && u.at_ms == 2));
    }
}
