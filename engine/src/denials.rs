//! Denial accounting: every refusal of a guest (an ungranted import at
//! instantiate, a refused path, an oversized key or value, a log flood) is
//! logged with its sandbox, capability and target, and counted per sandbox.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// How many recent denials a counter keeps for display.
pub const RECENT_DENIALS: usize = 16;

/// Longest target kept in a denial record, in bytes.
const MAX_TARGET: usize = 200;

/// One refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Denial {
    /// The capability involved (`kv`, `vfs`, ...; `abi` for an import that
    /// is not part of the host ABI).
    pub capability: String,
    /// What was refused: the import, path or key, and why.
    pub target: String,
}

/// Counts so far, as shown by `nexus sandbox info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Denials {
    /// All denials.
    pub total: u64,
    /// Denials by capability name.
    pub by_capability: BTreeMap<String, u64>,
    /// The latest denials, oldest first (at most [`RECENT_DENIALS`]).
    #[schema(value_type = Vec<Denial>)]
    pub recent: VecDeque<Denial>,
}

/// Told of every denial a counter records, by capability (a node's metrics).
pub trait DenialObserver: Send + Sync {
    /// One more denial of `capability`.
    fn denied(&self, capability: &str);
}

/// The denial counter of one sandbox; share it (in an `Arc`) between calls.
#[derive(Default)]
pub struct DenialCounter {
    inner: Mutex<Denials>,
    observer: Option<Arc<dyn DenialObserver>>,
}

impl std::fmt::Debug for DenialCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenialCounter")
            .field("denials", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl DenialCounter {
    /// A counter at zero.
    pub fn new() -> DenialCounter {
        DenialCounter::default()
    }

    /// A counter at zero that also tells `observer` of each denial.
    pub fn observed(observer: Arc<dyn DenialObserver>) -> DenialCounter {
        DenialCounter {
            observer: Some(observer),
            ..DenialCounter::default()
        }
    }

    /// Logs and counts a denial for `sandbox`.
    pub fn record(&self, sandbox: &str, capability: &str, target: &str) {
        let target = clip(target);
        tracing::warn!(sandbox, capability, target = %target, "guest denied");
        if let Some(observer) = &self.observer {
            observer.denied(capability);
        }
        let mut d = self.lock();
        d.total = d.total.saturating_add(1);
        let n = d.by_capability.entry(capability.to_string()).or_default();
        *n = n.saturating_add(1);
        if d.recent.len() == RECENT_DENIALS {
            d.recent.pop_front();
        }
        d.recent.push_back(Denial {
            capability: capability.to_string(),
            target,
        });
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Denials {
        self.lock().clone()
    }

    /// All denials so far.
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, Denials> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `target` cut to [`MAX_TARGET`] bytes on a character boundary.
fn clip(target: &str) -> String {
    if target.len() <= MAX_TARGET {
        return target.to_string();
    }
    let mut end = MAX_TARGET;
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &target[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_capability_and_keeps_recent() {
        let c = DenialCounter::new();
        for i in 0..20 {
            c.record("sb", "vfs", &format!("path ../{i}"));
        }
        c.record("sb", "kv", &"k".repeat(500));
        let d = c.snapshot();
        assert_eq!(d.total, 21);
        assert_eq!(d.by_capability["vfs"], 20);
        assert_eq!(d.by_capability["kv"], 1);
        assert_eq!(d.recent.len(), RECENT_DENIALS);
        assert_eq!(d.recent.back().map(|r| r.target.len()), Some(203));
    }

    #[test]
    fn an_observer_hears_each_denial_by_capability() {
        #[derive(Default)]
        struct Heard(Mutex<Vec<String>>);
        impl DenialObserver for Heard {
            fn denied(&self, capability: &str) {
                self.0.lock().unwrap().push(capability.to_string());
            }
        }
        let heard = Arc::new(Heard::default());
        let c = DenialCounter::observed(heard.clone());
        c.record("sb", "vfs", "../etc");
        c.record("sb", "net", "10.0.0.1:80");
        assert_eq!(*heard.0.lock().unwrap(), ["vfs", "net"]);
        assert_eq!(c.total(), 2);
    }
}
