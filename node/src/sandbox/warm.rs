//! The warm set: engine contexts of recently called sandboxes, each holding
//! its workbook open. Capped and evicted least-recently-used, so a node with
//! thousands of active sandboxes keeps a bounded number of open files; an
//! evicted sandbox simply reopens its workbook on its next call.

use std::collections::HashMap;
use std::sync::Arc;

use nexus_engine::SandboxContext;

/// Open contexts by sandbox id, at most `cap` of them when none is in use.
#[derive(Debug)]
pub struct WarmSet {
    cap: usize,
    clock: u64,
    entries: HashMap<String, (u64, Arc<SandboxContext>)>,
}

impl WarmSet {
    /// An empty set keeping at most `cap` (≥ 1) idle contexts.
    pub fn new(cap: usize) -> WarmSet {
        WarmSet {
            cap: cap.max(1),
            clock: 0,
            entries: HashMap::new(),
        }
    }

    /// The context of `sandbox_id`, made by `make` if it is not warm; marks
    /// it most recently used and evicts idle ones beyond the cap.
    pub fn get_or_insert_with(
        &mut self,
        sandbox_id: &str,
        make: impl FnOnce() -> Arc<SandboxContext>,
    ) -> Arc<SandboxContext> {
        self.clock += 1;
        let clock = self.clock;
        let context = match self.entries.get_mut(sandbox_id) {
            Some(entry) => {
                entry.0 = clock;
                entry.1.clone()
            }
            None => {
                let context = make();
                self.entries
                    .insert(sandbox_id.to_string(), (clock, context.clone()));
                context
            }
        };
        self.evict();
        context
    }

    /// Drops a sandbox's context (closing its workbook when no call holds it).
    pub fn remove(&mut self, sandbox_id: &str) {
        self.entries.remove(sandbox_id);
    }

    /// Contexts kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes least-recently-used contexts that no call holds until the
    /// set is within its cap (contexts in use are never evicted).
    fn evict(&mut self) {
        while self.entries.len() > self.cap {
            let idle = self
                .entries
                .iter()
                .filter(|(_, (_, context))| Arc::strong_count(context) == 1)
                .min_by_key(|(_, (used, _))| *used)
                .map(|(id, _)| id.clone());
            match idle {
                Some(id) => self.entries.remove(&id),
                None => return,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_engine::Profile;

    fn context() -> Arc<SandboxContext> {
        Arc::new(SandboxContext::ephemeral(&Profile::compute()))
    }

    #[test]
    fn evicts_the_least_recently_used_idle_context() {
        let mut warm = WarmSet::new(2);
        let a = warm.get_or_insert_with("a", context);
        warm.get_or_insert_with("b", context);
        drop(a);
        warm.get_or_insert_with("a", || panic!("a is still warm"));
        warm.get_or_insert_with("c", context);
        assert_eq!(warm.len(), 2);
        let mut made = false;
        warm.get_or_insert_with("b", || {
            made = true;
            context()
        });
        assert!(made, "b was the least recently used and was evicted");
    }

    #[test]
    fn contexts_in_use_are_never_evicted() {
        let mut warm = WarmSet::new(1);
        let held_a = warm.get_or_insert_with("a", context);
        let held_b = warm.get_or_insert_with("b", context);
        assert_eq!(warm.len(), 2, "both are in use, so the cap waits");
        drop((held_a, held_b));
        warm.get_or_insert_with("c", context);
        assert_eq!(warm.len(), 1);
    }
}
