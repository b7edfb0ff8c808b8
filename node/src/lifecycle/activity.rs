//! Per-sandbox activity: the idle clock, calls in flight, and the gate that
//! keeps lifecycle work (suspend, freeze...) from running under a call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{
    Mutex as AsyncMutex, OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock,
};

use super::journal::SandboxLog;
use crate::clock::now_ms;
use nexus_engine::{DenialCounter, DenialObserver};

/// What this node knows about one sandbox's use.
#[derive(Debug)]
pub struct Activity {
    last_active_ms: AtomicU64,
    in_flight: AtomicUsize,
    gate: Arc<RwLock<()>>,
    /// Held while a resume served calls before the registry recorded it
    /// (see [`Activity::hold_unrecorded_resume`]).
    unrecorded_resume: Arc<AsyncMutex<()>>,
    not_demoted: Mutex<Option<String>>,
    /// The generation + 1 at which this node suspended the sandbox with an
    /// empty `tmp` volume; 0 when not known (see [`Activity::take_tmp_empty`]).
    tmp_empty_at: AtomicU64,
    denials: Arc<DenialCounter>,
    log: SandboxLog,
}

/// Held while a call runs: counts it and blocks lifecycle work.
pub struct CallGuard {
    activity: Arc<Activity>,
    _gate: OwnedRwLockReadGuard<()>,
}

/// Held while lifecycle work runs: no call can start or be running.
pub struct ExclusiveGuard {
    _gate: OwnedRwLockWriteGuard<()>,
}

impl Activity {
    fn new(last_active_ms: u64, observer: Option<Arc<dyn DenialObserver>>) -> Activity {
        Activity {
            last_active_ms: AtomicU64::new(last_active_ms),
            in_flight: AtomicUsize::new(0),
            gate: Arc::new(RwLock::new(())),
            unrecorded_resume: Arc::new(AsyncMutex::new(())),
            not_demoted: Mutex::new(None),
            tmp_empty_at: AtomicU64::new(0),
            denials: Arc::new(match observer {
                Some(observer) => DenialCounter::observed(observer),
                None => DenialCounter::new(),
            }),
            log: SandboxLog::default(),
        }
    }

    /// Resets the idle clock.
    pub fn touch(&self) {
        self.last_active_ms.fetch_max(now_ms(), Ordering::SeqCst);
    }

    /// Milliseconds since the last call, schedule firing or resume.
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_active_ms.load(Ordering::SeqCst))
    }

    /// Capability denials of this sandbox since the node started.
    pub fn denials(&self) -> &Arc<DenialCounter> {
        &self.denials
    }

    /// Its recent stderr and lifecycle events on this node.
    pub fn log(&self) -> &SandboxLog {
        &self.log
    }

    /// Calls running now.
    pub fn calls_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Why the idle ladder last left this sandbox where it was, if it did.
    pub fn not_demoted_reason(&self) -> Option<String> {
        self.reason_slot().clone()
    }

    /// Records (or clears) why the ladder did not demote this sandbox.
    pub fn set_not_demoted_reason(&self, reason: Option<String>) {
        *self.reason_slot() = reason;
    }

    fn reason_slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.not_demoted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that the sandbox was suspended here at `generation` with an
    /// empty `tmp` volume.
    pub fn note_tmp_empty(&self, generation: u64) {
        self.tmp_empty_at
            .store(generation.wrapping_add(1), Ordering::SeqCst);
    }

    /// Whether the sandbox, resuming at `generation`, is known to have an
    /// empty `tmp` volume: noted at a suspend of that same generation (no
    /// call runs in a suspended sandbox and every move bumps the
    /// generation, so its file has not changed since). The note is used
    /// up: a resume whose record fails leaves a suspended sandbox whose
    /// calls may have written `tmp`.
    pub fn take_tmp_empty(&self, generation: u64) -> bool {
        self.tmp_empty_at.swap(0, Ordering::SeqCst) == generation.wrapping_add(1)
    }

    /// Waits until no lifecycle work runs, then counts a call in.
    pub async fn enter_call(self: &Arc<Self>) -> CallGuard {
        let gate = self.gate.clone().read_owned().await;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        CallGuard {
            activity: self.clone(),
            _gate: gate,
        }
    }

    /// Counts a call in without waiting: `None` when lifecycle work holds
    /// the sandbox or waits for it (a call made from inside another call
    /// of the sandbox must not queue behind work that waits for that call).
    pub fn try_enter_call(self: &Arc<Self>) -> Option<CallGuard> {
        let gate = self.gate.clone().try_read_owned().ok()?;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        Some(CallGuard {
            activity: self.clone(),
            _gate: gate,
        })
    }

    /// Waits until no call runs and no resume awaits its record, and takes
    /// the sandbox for lifecycle work (which then reads the recorded state).
    pub async fn exclusive(&self) -> ExclusiveGuard {
        let gate = self.gate.clone().write_owned().await;
        drop(self.unrecorded_resume.lock().await);
        ExclusiveGuard { _gate: gate }
    }

    /// Takes the sandbox for lifecycle work only if nothing runs in it and
    /// no resume awaits its record.
    pub fn try_exclusive(&self) -> Option<ExclusiveGuard> {
        let gate = self.gate.clone().try_write_owned().ok()?;
        let settled = self.unrecorded_resume.try_lock().is_ok();
        settled.then_some(ExclusiveGuard { _gate: gate })
    }

    /// Marks a resume as done on this node but not yet recorded in the
    /// registry, until the guard is dropped: calls may run meanwhile
    /// ([`Activity::resume_unrecorded`]), lifecycle work waits for it. Take
    /// it while holding [`Activity::exclusive`] (it is free then).
    pub async fn hold_unrecorded_resume(&self) -> OwnedMutexGuard<()> {
        self.unrecorded_resume.clone().lock_owned().await
    }

    /// Whether a resume runs ahead of its record (the registry still says
    /// `suspended`).
    pub fn resume_unrecorded(&self) -> bool {
        self.unrecorded_resume.try_lock().is_err()
    }
}

impl CallGuard {
    /// The activity of the sandbox the call runs in.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.activity.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.activity.touch();
    }
}

/// Activity of every sandbox this node has seen.
#[derive(Default)]
pub struct ActivityTable {
    entries: Mutex<HashMap<String, Arc<Activity>>>,
    /// Told of every sandbox's denials (the node's metrics).
    observer: Option<Arc<dyn DenialObserver>>,
}

impl ActivityTable {
    /// A table whose sandboxes' denials are also told to `observer`.
    pub fn observed(observer: Arc<dyn DenialObserver>) -> ActivityTable {
        ActivityTable {
            entries: Mutex::default(),
            observer: Some(observer),
        }
    }

    /// The activity of `sandbox_id`; a sandbox first seen starts its idle
    /// clock at `since_ms` (its last registry update).
    pub fn get(&self, sandbox_id: &str, since_ms: u64) -> Arc<Activity> {
        self.map()
            .entry(sandbox_id.to_string())
            .or_insert_with(|| Arc::new(Activity::new(since_ms, self.observer.clone())))
            .clone()
    }

    /// Forgets a removed sandbox.
    pub fn remove(&self, sandbox_id: &str) {
        self.map().remove(sandbox_id);
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Activity>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_block_exclusive_and_count() {
        let table = ActivityTable::default();
        let a = table.get("sb_1", 0);
        assert!(a.idle_ms(now_ms()) > 1_000_000, "starts at the given time");
        let call = a.enter_call().await;
        assert_eq!(a.calls_in_flight(), 1);
        assert!(
            a.try_exclusive().is_none(),
            "a call in flight blocks demotion"
        );
        drop(call);
        assert_eq!(a.calls_in_flight(), 0);
        assert!(a.idle_ms(now_ms()) < 1_000, "a call resets the idle clock");
        let held = a.try_exclusive().expect("free once the call ended");
        drop(held);
        assert!(Arc::ptr_eq(&a, &table.get("sb_1", 5)));
    }

    #[test]
    fn an_empty_tmp_is_known_once_and_only_at_its_generation() {
        let a = ActivityTable::default().get("sb_1", 0);
        assert!(!a.take_tmp_empty(0), "nothing noted: not known");
        a.note_tmp_empty(4);
        assert!(!a.take_tmp_empty(5), "another generation: not known");
        assert!(!a.take_tmp_empty(4), "a look used the note up");
        a.note_tmp_empty(4);
        assert!(a.take_tmp_empty(4));
        assert!(!a.take_tmp_empty(4), "used up");
    }

    #[tokio::test]
    async fn a_call_from_inside_a_call_does_not_queue_behind_lifecycle_work() {
        let a = ActivityTable::default().get("sb_1", 0);
        let outer = a.enter_call().await;
        let inner = a.try_enter_call().expect("nothing waits: it enters");
        assert_eq!(a.calls_in_flight(), 2);
        drop(inner);
        // Lifecycle work queues for the outer call...
        let waiting = a.clone();
        let work = tokio::spawn(async move { waiting.exclusive().await });
        while a.gate.try_read().is_ok() {
            tokio::task::yield_now().await;
        }
        // ...so a call made from inside it is refused instead of waiting.
        assert!(a.try_enter_call().is_none());
        drop(outer);
        drop(work.await.expect("the work gets the sandbox"));
        assert_eq!(a.calls_in_flight(), 0);
    }

    #[tokio::test]
    async fn calls_run_ahead_of_a_resume_record_and_lifecycle_work_waits_for_it() {
        let a = ActivityTable::default().get("sb_1", 0);
        let pending = {
            let _held = a.exclusive().await;
            a.hold_unrecorded_resume().await
        };
        assert!(a.resume_unrecorded());
        // Calls are not held up by the record...
        drop(a.enter_call().await);
        // ...lifecycle work is, until it lands.
        assert!(a.try_exclusive().is_none());
        let waiting = a.clone();
        let mut work = tokio::spawn(async move { drop(waiting.exclusive().await) });
        let early = tokio::time::timeout(std::time::Duration::from_millis(50), &mut work).await;
        assert!(early.is_err(), "exclusive waits for the record");
        drop(pending);
        work.await.expect("the work gets the sandbox once recorded");
        assert!(!a.resume_unrecorded());
        assert!(a.try_exclusive().is_some());
    }
}
