//! The measured scenarios. Each returns figures with the performance target
//! beside them; none asserts anything (benchmarks measure, tests assert).

use std::time::{Duration, Instant};

use super::report::{percentile_us, Figure};
use super::{internal, wat_workbook, Rig};
use crate::sandbox::{DockRequest, Verb};
use nexus_engine::{CommandInput, Profile};
use nexus_errors::{Coded, UserError};
use nexus_workbook::{Volume, Workbook};

pub(super) const EMPTY_COMMAND: &str = r#"(module (func (export "_start")))"#;
const KERNEL: &str = include_str!("guests/kernel_upper.wat");
/// Freeze-thaw cycles, each beside a plain copy; the figures are medians.
const FREEZE_ROUNDS: usize = 7;
/// Rounds of kernel calls; the figure is the median round's mean, so one
/// round slowed by the machine does not move it.
const KERNEL_ROUNDS: usize = 5;

pub(super) fn figure(
    name: &str,
    value: f64,
    unit: &str,
    target: Option<f64>,
    note: &str,
) -> Figure {
    Figure {
        name: name.to_string(),
        value,
        unit: unit.to_string(),
        target,
        lower_is_better: true,
        note: note.to_string(),
    }
}

/// Store + WASI context + instantiate + `_start` of an empty module.
pub async fn command_call(rig: &Rig, calls: usize) -> Result<Vec<Figure>, UserError> {
    let wasm = wat::parse_str(EMPTY_COMMAND).map_err(|e| internal(&e.to_string()))?;
    let sha = nexus_workbook::sha256_hex(&wasm);
    let module = rig
        .engine
        .compile(&sha, &wasm)
        .map_err(|e| e.to_user_error())?;
    let profile = Profile::compute();
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        rig.engine
            .run_command(&module, &profile, CommandInput::default())
            .await
            .map_err(|e| e.to_user_error())?;
        samples.push(started.elapsed());
    }
    Ok(vec![figure(
        "instantiate + run empty command, p50",
        percentile_us(&mut samples, 50.0),
        "µs",
        Some(2.0),
        "fresh Store, WASI p1 context, InstancePre::instantiate_async, _start; pooling allocator",
    )])
}

/// One reused kernel instance, 64 bytes in and out per call.
pub async fn kernel_call(rig: &Rig, calls: usize) -> Result<Vec<Figure>, UserError> {
    let wasm = wat::parse_str(KERNEL).map_err(|e| internal(&e.to_string()))?;
    let sha = nexus_workbook::sha256_hex(&wasm);
    let module = rig
        .engine
        .compile(&sha, &wasm)
        .map_err(|e| e.to_user_error())?;
    let kernel = rig
        .engine
        .kernel(&module, &Profile::compute())
        .await
        .map_err(|e| e.to_user_error())?;
    let input = [b'a'; 64];
    let per_round = (calls / KERNEL_ROUNDS).max(1);
    let mut rounds = Vec::with_capacity(KERNEL_ROUNDS);
    for _ in 0..KERNEL_ROUNDS {
        let started = Instant::now();
        for _ in 0..per_round {
            kernel.call(&input).await.map_err(|e| e.to_user_error())?;
        }
        rounds.push(started.elapsed() / per_round as u32);
    }
    Ok(vec![figure(
        "kernel call, 64 B in/out, mean",
        median(&mut rounds) * 1e6,
        "µs",
        Some(0.2),
        &format!(
            "copy in, process() over 64 bytes, copy out; one instance reused; \
             median of {KERNEL_ROUNDS} rounds' means"
        ),
    )])
}

/// Suspended → first call answered (the call resumes the sandbox).
pub async fn resume(rig: &Rig, cycles: usize) -> Result<Vec<Figure>, UserError> {
    let bytes = wat_workbook(&rig.path("resume.workbook"), "resume", EMPTY_COMMAND)?;
    let m = &rig.manager;
    let s = m.dock(&rig.tenant, bytes, DockRequest::default()).await?;
    m.call(&rig.tenant, &s.id, CommandInput::default()).await?;
    let mut samples = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        m.transit(&rig.tenant, &s.id, Verb::Suspend, None).await?;
        let started = Instant::now();
        m.call(&rig.tenant, &s.id, CommandInput::default()).await?;
        samples.push(started.elapsed());
    }
    let p50 = percentile_us(&mut samples, 50.0) / 1000.0;
    let p99 = percentile_us(&mut samples, 99.0) / 1000.0;
    let note = "suspend, then one call: resume (module; tmp known empty) + run, beside the record";
    Ok(vec![
        figure(
            "resume suspended → first call, p50",
            p50,
            "ms",
            Some(1.0),
            note,
        ),
        figure("resume suspended → first call, p99", p99, "ms", None, note),
    ])
}

/// Freeze and thaw of a large workbook against a plain copy of its file.
pub async fn freeze_thaw(rig: &Rig, mib: usize) -> Result<Vec<Figure>, UserError> {
    let path = rig.path("big.workbook");
    wat_workbook(&path, "big", EMPTY_COMMAND)?;
    let workbook = Workbook::open(&path).map_err(|e| e.to_user_error())?;
    let blob: Vec<u8> = (0..mib << 20).map(|i| (i % 251) as u8).collect();
    workbook
        .write_file(Volume::Workspace, "blob.bin", &blob, 0o644)
        .map_err(|e| e.to_user_error())?;
    workbook.close().map_err(|e| e.to_user_error())?;
    let bytes = std::fs::read(&path).map_err(|e| internal(&e.to_string()))?;
    let m = &rig.manager;
    let s = m.dock(&rig.tenant, bytes, DockRequest::default()).await?;
    m.call(&rig.tenant, &s.id, CommandInput::default()).await?;
    let live = rig.path(&format!("sandboxes/{}.workbook", s.id));

    let (mut copies, mut freezes, mut thaws) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..FREEZE_ROUNDS {
        copies.push(timed_copy(&live, &rig.path("copy.workbook"))?);

        m.transit(&rig.tenant, &s.id, Verb::Suspend, None).await?;
        let started = Instant::now();
        m.transit(&rig.tenant, &s.id, Verb::Freeze, None).await?;
        freezes.push(started.elapsed());
        let started = Instant::now();
        m.transit(&rig.tenant, &s.id, Verb::Resume, None).await?;
        thaws.push(started.elapsed());
    }
    let copy = median(&mut copies);
    let note = format!(
        "{mib} MiB workbook; plain copy (copy + fsync) median {:.1} ms",
        copy * 1e3
    );
    Ok(vec![
        figure(
            "freeze / plain copy",
            median(&mut freezes) / copy,
            "×",
            Some(1.1),
            &note,
        ),
        figure(
            "thaw (resume from frozen) / plain copy",
            median(&mut thaws) / copy,
            "×",
            Some(1.1),
            &note,
        ),
    ])
}

/// How long a plain copy of `from` to `to` (copy + fsync) takes; the copy
/// is removed after.
pub(super) fn timed_copy(
    from: &std::path::Path,
    to: &std::path::Path,
) -> Result<Duration, UserError> {
    let started = Instant::now();
    std::fs::copy(from, to)
        .and_then(|_| std::fs::File::open(to)?.sync_all())
        .map_err(|e| internal(&e.to_string()))?;
    let took = started.elapsed();
    let _ = std::fs::remove_file(to);
    Ok(took)
}

/// The median of `samples`, in seconds.
pub(super) fn median(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples
        .get(samples.len() / 2)
        .map_or(0.0, Duration::as_secs_f64)
}
