//! Work the node does on its own sandboxes without being asked: start-up
//! recovery and the idle ladder's ticks.

use std::collections::HashSet;
use std::path::Path;

use nexus_raft::Sandbox;
use tracing::{error, info, warn};

use super::SandboxManager;
use crate::clock::now_ms;
use crate::lifecycle::ladder::{due, LifecycleConfig, TickReport};
use crate::lifecycle::recovery::{plan, RecoveryReport, Repair};
use crate::lifecycle::storage;
use nexus_errors::UserError;

impl SandboxManager {
    /// Makes every local sandbox's files agree with its recorded state and
    /// removes files no sandbox owns. Run once at start, before serving.
    pub fn recover(&self) -> Result<RecoveryReport, UserError> {
        let mut report = RecoveryReport::default();
        let sandboxes = self.local_sandboxes()?;
        let known: HashSet<String> = sandboxes.iter().map(|s| s.id.clone()).collect();
        *self.homed_set() = known.clone();
        for sandbox in &sandboxes {
            // A failover made this node the home before the copy was placed.
            self.adopt_copy(sandbox)?;
            let live = self.files.path(&sandbox.id);
            let cold = self.files.cold_path(&sandbox.id);
            let repair = plan(sandbox.state, live.exists(), cold.exists());
            match repair {
                Repair::Nothing => continue,
                Repair::Lost => {
                    error!(sandbox = %sandbox.id, state = %sandbox.state, "sandbox file missing from live and cold storage");
                    report.lost.push(sandbox.id.clone());
                    continue;
                }
                Repair::RemoveLive => storage::remove_durably(&live),
                Repair::RemoveCold => storage::remove_durably(&cold),
                Repair::RemoveBoth => {
                    storage::remove_durably(&live);
                    storage::remove_durably(&cold);
                }
                Repair::RestoreLive => storage::durable_copy(&cold, &live)?,
                Repair::RestoreCold => storage::durable_copy(&live, &cold)?,
            }
            warn!(sandbox = %sandbox.id, state = %sandbox.state, ?repair, "recovered");
            report.repaired.push((sandbox.id.clone(), repair));
        }
        let (live_dir, cold_dir) = self.files.dirs();
        for dir in [live_dir, cold_dir] {
            report.removed_orphans.extend(remove_orphans(dir, &known));
        }
        Ok(report)
    }

    /// Deletes the files (and drops the in-memory state) of sandboxes of
    /// this node whose records were removed by someone else — by a forced
    /// tenant removal, possibly proposed on another node. `gone` names them
    /// when this node made the removal; otherwise the records that were
    /// homed here at the previous reconciliation and are now absent are
    /// gone. (A sandbox being docked has no record yet and was not homed
    /// here before, so it is never taken for gone.) Waits for calls in
    /// flight on each. Returns the ids reaped.
    pub async fn reconcile(&self, gone: &[Sandbox]) -> Result<Vec<String>, UserError> {
        let current: HashSet<String> = self.local_sandboxes()?.into_iter().map(|s| s.id).collect();
        let previous = std::mem::replace(&mut *self.homed_set(), current.clone());
        let mut reaped: Vec<String> = previous.difference(&current).cloned().collect();
        reaped.extend(
            gone.iter()
                .filter(|s| s.home_node == self.node_id && !current.contains(&s.id))
                .map(|s| s.id.clone()),
        );
        reaped.sort();
        reaped.dedup();
        for id in &reaped {
            let activity = self.activity.get(id, 0);
            let _held = activity.exclusive().await;
            self.drop_local(id);
            info!(sandbox = %id, "record removed elsewhere; files deleted");
        }
        Ok(reaped)
    }

    fn homed_set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.homed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One pass of the idle ladder over the local sandboxes, after a
    /// [`reconcile`](SandboxManager::reconcile) pass.
    pub async fn ladder_tick(&self, config: &LifecycleConfig) -> Result<TickReport, UserError> {
        self.reconcile(&[]).await?;
        let mut report = TickReport::default();
        let now = now_ms();
        for sandbox in self.local_sandboxes()? {
            let activity = self.activity_of(&sandbox);
            let Some(verb) = due(sandbox.state, activity.idle_ms(now), config) else {
                continue;
            };
            let Some(_held) = activity.try_exclusive() else {
                let reason = format!(
                    "not {}ed at {now} ms: {} call(s) in flight",
                    verb.as_str().trim_end_matches('e'),
                    activity.calls_in_flight()
                );
                activity.set_not_demoted_reason(Some(reason.clone()));
                report.skipped.push((sandbox.id.clone(), reason));
                continue;
            };
            let id = sandbox.id.clone();
            match self.transit_held(sandbox, verb, None).await {
                Ok(_) => {
                    activity.set_not_demoted_reason(None);
                    report.demoted.push((id, verb));
                }
                Err(e) => {
                    let reason = format!("{} failed at {now} ms: {}", verb.as_str(), e.message);
                    activity.set_not_demoted_reason(Some(reason.clone()));
                    report.skipped.push((id, reason));
                }
            }
        }
        if !report.demoted.is_empty() {
            info!(demoted = report.demoted.len(), "idle ladder");
        }
        Ok(report)
    }
}

/// Removes `*.workbook` files whose sandbox is unknown, `*.partial` copies
/// and files a transition set aside for removal (`*.dropped`).
fn remove_orphans(dir: &Path, known: &HashSet<String>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owned = name
            .strip_suffix(".workbook")
            .is_some_and(|id| known.contains(id));
        let side_file = [".workbook-wal", ".workbook-shm"]
            .iter()
            .any(|s| name.strip_suffix(s).is_some_and(|id| known.contains(id)));
        if owned || side_file {
            continue;
        }
        if name.ends_with(nexus_durable::TEMP_SUFFIX) || name.contains(".workbook") {
            let _ = std::fs::remove_file(entry.path());
            removed.push(name);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphans_partial_copies_and_set_aside_files_go_and_owned_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "sb_known.workbook",
            "sb_known.workbook-wal",
            "sb_gone.workbook",
            ".sb_known.workbook.1.partial",
            ".sb_known.workbook.77.3.dropped",
            ".sb_known.workbook-wal.77.4.dropped",
            "notes.txt",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let known = HashSet::from(["sb_known".to_owned()]);
        let mut removed = remove_orphans(dir.path(), &known);
        removed.sort();
        assert_eq!(
            removed,
            [
                ".sb_known.workbook-wal.77.4.dropped",
                ".sb_known.workbook.1.partial",
                ".sb_known.workbook.77.3.dropped",
                "sb_gone.workbook",
            ]
        );
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["notes.txt", "sb_known.workbook", "sb_known.workbook-wal"]
        );
    }
}
