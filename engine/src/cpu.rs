//! CPU time accounting by epoch interruption.
//!
//! The store's deadline is always one epoch ahead. Each time the ticker
//! crosses it while the guest runs, the callback charges the time since the
//! guest last resumed (at most one [`TICK`](super::TICK)) and yields to the
//! async executor, so a busy guest never hogs a worker; once the budget is
//! spent the guest is stopped. Time spent queued behind other tasks is not
//! charged (the charge starts when the guest resumes), nor is time blocked
//! in a host call beyond one tick (the deadline is only checked in wasm).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use super::error::fmt_duration;
use super::ticker::TICK;

/// The CPU budget of one call.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    limit: Duration,
    used: Duration,
    origin: Instant,
    /// When the guest last started or resumed running, in nanoseconds since
    /// `origin`; written by the yield future as the guest resumes.
    resumed: Arc<AtomicU64>,
    exhausted: bool,
}

impl CpuMeter {
    /// A meter allowing `limit` of running time, starting at `now`.
    pub(crate) fn new(limit: Duration, now: Instant) -> CpuMeter {
        CpuMeter {
            limit,
            used: Duration::ZERO,
            origin: now,
            resumed: Arc::new(AtomicU64::new(0)),
            exhausted: false,
        }
    }

    /// Starts a fresh budget of `limit` at `now` (the guest is about to
    /// run), reusing this meter's allocation (a kernel's next call).
    pub(crate) fn restart(&mut self, limit: Duration, now: Instant) {
        self.limit = limit;
        self.used = Duration::ZERO;
        self.origin = now;
        self.resumed.store(0, Ordering::Relaxed);
        self.exhausted = false;
    }

    /// Whether the guest was stopped for using up its budget.
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Running time charged so far.
    pub(crate) fn used(&self) -> Duration {
        self.used
    }

    /// Charges the time run since the last resume, up to one tick, as of
    /// `now`; `false` once the budget is spent.
    fn charge(&mut self, now: Instant) -> bool {
        let resumed = self.origin + Duration::from_nanos(self.resumed.load(Ordering::Relaxed));
        let ran = now.saturating_duration_since(resumed).min(TICK);
        self.used = self.used.saturating_add(ran);
        if self.used >= self.limit {
            self.exhausted = true;
        }
        !self.exhausted
    }

    /// A future that yields to the executor once, then notes the resume.
    fn yield_then_resume(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let resumed = self.resumed.clone();
        let origin = self.origin;
        Box::pin(async move {
            tokio::task::yield_now().await;
            let nanos = u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
            resumed.store(nanos, Ordering::Relaxed);
        })
    }
}

/// Arms epoch-based CPU accounting on `store`; `meter` finds the store's
/// [`CpuMeter`]. Must be called before anything runs in the store: without a
/// deadline wasm traps at once. Only for async calls (`*_async`).
pub(crate) fn install<T: 'static>(
    store: &mut Store<T>,
    meter: impl Fn(&mut T) -> &mut CpuMeter + Send + Sync + 'static,
) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |mut cx| {
        let meter = meter(cx.data_mut());
        if meter.charge(Instant::now()) {
            Ok(UpdateDeadline::YieldCustom(1, meter.yield_then_resume()))
        } else {
            Err(wasmtime::format_err!(
                "guest used its {} CPU time limit",
                fmt_duration(meter.limit)
            ))
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_at_most_a_tick_per_check() {
        let mut m = CpuMeter::new(TICK * 2, Instant::now());
        let t0 = m.origin;
        // A long host call (or a slow ticker) is charged as one tick.
        assert!(m.charge(t0 + Duration::from_secs(3)));
        assert_eq!(m.used(), TICK);
        assert!(!m.exhausted());
        assert!(!m.charge(t0 + Duration::from_secs(4)));
        assert!(m.exhausted());
    }

    #[test]
    fn charges_from_the_last_resume() {
        let mut m = CpuMeter::new(Duration::from_secs(1), Instant::now());
        let t0 = m.origin;
        m.resumed.store(7_000_000, Ordering::Relaxed);
        assert!(m.charge(t0 + Duration::from_millis(10)));
        assert_eq!(m.used(), Duration::from_millis(3));
        assert!(m.charge(t0 + Duration::from_millis(5)));
        assert_eq!(m.used(), Duration::from_millis(3));
    }

    #[tokio::test]
    async fn resume_is_noted_after_the_yield() {
        let m = CpuMeter::new(Duration::from_secs(1), Instant::now());
        std::thread::sleep(Duration::from_millis(2));
        m.yield_then_resume().await;
        assert!(m.resumed.load(Ordering::Relaxed) >= 2_000_000);
    }
}
