//! Density: thousands of sandboxes on one node. Many docked, a few thousand
//! of them called over and over while the idle ladder suspends the rest,
//! and as many calls in flight at once as there are active sandboxes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::{percentile_us, rss_mib, Figure};
use super::scenarios::{figure, EMPTY_COMMAND};
use super::{wat_workbook, Rig};
use crate::lifecycle::ladder::LifecycleConfig;
use crate::sandbox::DockRequest;
use nexus_engine::CommandInput;
use nexus_errors::UserError;

const SLEEP: &str = include_str!("guests/sleep.wat");

/// Tasks calling the active sandboxes in turn.
const CALLERS: usize = 64;

/// How the density run is sized.
#[derive(Debug, Clone, Copy)]
pub struct DensityRun {
    /// Sandboxes docked (and each called once).
    pub docked: usize,
    /// Of those, how many are called round-robin (and how many sleeping
    /// calls are put in flight at once).
    pub active: usize,
    /// How long the round-robin load runs.
    pub seconds: u64,
}

/// Docks `run.docked` sandboxes, calls each once, then calls the first
/// `run.active` round-robin from [`CALLERS`] tasks for `run.seconds` while
/// the idle ladder (suspend after a second idle) demotes the others; then
/// puts `run.active` sleeping calls in flight at once.
pub async fn density(rig: &Rig, run: DensityRun) -> Result<Vec<Figure>, UserError> {
    let m = &rig.manager;
    let before_dock = rss_mib();
    let started = Instant::now();
    let bytes = wat_workbook(&rig.path("tiny.workbook"), "tiny", EMPTY_COMMAND)?;
    let mut ids = Vec::with_capacity(run.docked);
    for i in 0..run.docked {
        let request = DockRequest {
            name: Some(format!("d{i}")),
            ..DockRequest::default()
        };
        ids.push(m.dock(&rig.tenant, bytes.clone(), request).await?.id);
    }
    let dock_rate = run.docked as f64 / started.elapsed().as_secs_f64();
    let after_dock = rss_mib();
    for id in &ids {
        m.call(&rig.tenant, id, CommandInput::default()).await?;
    }

    let hot: Arc<Vec<String>> = Arc::new(ids.iter().take(run.active).cloned().collect());
    let stop = Arc::new(AtomicBool::new(false));
    let ladder = tokio::spawn(idle_ladder(rig.manager.clone(), stop.clone()));
    let failed = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(run.seconds);
    let mut callers = tokio::task::JoinSet::new();
    for first in 0..CALLERS.min(hot.len()) {
        let (m, tenant) = (m.clone(), rig.tenant.clone());
        let (hot, failed) = (hot.clone(), failed.clone());
        callers.spawn(async move {
            let mut samples = Vec::new();
            let mut next = first;
            while Instant::now() < deadline {
                let began = Instant::now();
                match m.call(&tenant, &hot[next], CommandInput::default()).await {
                    Ok(_) => samples.push(began.elapsed()),
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                next = (next + CALLERS) % hot.len();
            }
            samples
        });
    }
    let mut samples = Vec::new();
    while let Some(done) = callers.join_next().await {
        samples.extend(done.map_err(|e| super::internal(&e.to_string()))?);
    }
    stop.store(true, Ordering::Relaxed);
    let suspended = ladder
        .await
        .map_err(|e| super::internal(&e.to_string()))??;
    let loaded_rss = rss_mib();
    let fds = open_fds();
    let calls = samples.len();
    let p50 = percentile_us(&mut samples, 50.0) / 1000.0;
    let p99 = percentile_us(&mut samples, 99.0) / 1000.0;

    let (answered, peak, before_active) = all_in_flight(rig, run.active).await?;
    let per_instance = (peak - before_active) / run.active.max(1) as f64;
    let load = format!(
        "{} of {} docked called round-robin by {CALLERS} tasks for {} s: {:.0} calls/s, \
         {} failed; the idle ladder suspended {suspended} meanwhile",
        hot.len(),
        run.docked,
        run.seconds,
        calls as f64 / run.seconds.max(1) as f64,
        failed.load(Ordering::Relaxed),
    );
    Ok(vec![
        Figure {
            name: "docked sandboxes".into(),
            value: run.docked as f64,
            unit: "count".into(),
            target: None,
            lower_is_better: false,
            note: format!("{dock_rate:.0} docks/s; RSS {before_dock:.0} → {after_dock:.0} MiB"),
        },
        figure("round-robin call, p50", p50, "ms", None, &load),
        figure("round-robin call, p99", p99, "ms", None, &load),
        figure(
            "node RSS under the round-robin load",
            loaded_rss,
            "MiB",
            Some(1024.0),
            &format!("{} docked, {} active", run.docked, hot.len()),
        ),
        figure(
            "file descriptors held",
            fds as f64,
            "count",
            None,
            "after the round-robin load: workbooks kept open (limits.max_open_workbooks) and more",
        ),
        Figure {
            name: "concurrently active instances answered".into(),
            value: answered as f64,
            unit: "count".into(),
            target: Some(run.active as f64),
            lower_is_better: false,
            note: format!(
                "{} calls sleeping 1 s each, all in flight together (instance ceiling {})",
                run.active,
                rig.engine.config().pool_instances
            ),
        },
        figure(
            "RSS per active instance",
            per_instance,
            "MiB",
            None,
            &format!(
                "peak {peak:.0} MiB with {} in flight, {before_active:.0} MiB before",
                run.active
            ),
        ),
    ])
}

/// Runs the idle ladder (suspend after 1 s idle) every 500 ms until `stop`;
/// returns how many sandboxes it demoted.
async fn idle_ladder(
    manager: Arc<crate::sandbox::SandboxManager>,
    stop: Arc<AtomicBool>,
) -> Result<usize, UserError> {
    let config = LifecycleConfig {
        suspend_after_ms: 1_000,
        ..LifecycleConfig::default()
    };
    let mut demoted = 0;
    while !stop.load(Ordering::Relaxed) {
        demoted += manager.ladder_tick(&config).await?.demoted.len();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(demoted)
}

/// Docks `active` sleeping sandboxes and calls them all at once; returns
/// how many answered, the RSS at the peak and the RSS before.
async fn all_in_flight(rig: &Rig, active: usize) -> Result<(usize, f64, f64), UserError> {
    let m = &rig.manager;
    let sleeper = SLEEP.replace("SLEEP_MS", "1000");
    let bytes = wat_workbook(&rig.path("sleep.workbook"), "sleep", &sleeper)?;
    let mut ids = Vec::with_capacity(active);
    for i in 0..active {
        let request = DockRequest {
            name: Some(format!("a{i}")),
            ..DockRequest::default()
        };
        ids.push(m.dock(&rig.tenant, bytes.clone(), request).await?.id);
    }
    let before = rss_mib();
    let mut calls = tokio::task::JoinSet::new();
    for id in ids {
        let (m, tenant) = (m.clone(), rig.tenant.clone());
        calls.spawn(async move { m.call(&tenant, &id, CommandInput::default()).await });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = rss_mib();
    let mut answered = 0;
    while let Some(result) = calls.join_next().await {
        if matches!(result, Ok(Ok(_))) {
            answered += 1;
        }
    }
    Ok((answered, peak, before))
}

/// File descriptors this process holds (Linux; 0 elsewhere).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}
