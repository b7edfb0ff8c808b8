//! The fabric: the per-input overhead of a trivial kernel on the instance,
//! process and node tiers, and inputs/s against width. The instance and
//! process tiers run on one node in this process; the node tier on two
//! whole nodes over QUIC with mTLS (the data-plane scenario's pair), with
//! one input in flight per node, so the peer's inputs are timed round trips.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::dataplane::Pair;
use super::report::Figure;
use super::scenarios::figure;
use super::{internal, Rig};
use crate::encoding::Encoding;
use crate::fabric::request::InputRange;
use crate::fabric::{Fabric, JobRequest, JobState, ResultOrder, Tier};
use nexus_errors::UserError;

const TRIVIAL: &str = include_str!("guests/kernel_upper.wat");
const SPIN: &str = include_str!("guests/kernel_spin.wat");

fn job(wat: &str, inputs: usize, width: usize, tier: Tier) -> Result<JobRequest, UserError> {
    let wasm = wat::parse_str(wat).map_err(|e| internal(&e.to_string()))?;
    Ok(JobRequest {
        kernel: "bench".into(),
        sandbox: None,
        module: Some(BASE64.encode(wasm)),
        profile: None,
        inputs: Vec::new(),
        inputs_encoding: Encoding::Utf8,
        range: Some(InputRange {
            start: 0,
            end: inputs as u64,
        }),
        width,
        tier,
        fail_fast: true,
    })
}

/// Runs `request` on `fabric` to its end; how long it took.
async fn timed(fabric: &Fabric, tenant: &str, request: JobRequest) -> Result<Duration, UserError> {
    let started = Instant::now();
    let status = fabric.submit(tenant, request).await?;
    let job = fabric.get(tenant, &status.id)?;
    let mut changes = job.subscribe();
    while job.is_running() {
        changes
            .changed()
            .await
            .map_err(|_| internal("the job vanished"))?;
    }
    let end = job.status();
    if end.state != JobState::Done || end.failed > 0 {
        return Err(internal(&format!(
            "fabric job ended {:?}: {:?}",
            end.state, end.error
        )));
    }
    Ok(started.elapsed())
}

/// Per-input overhead of the instance and process tiers, and inputs/s of a
/// 0.1 ms kernel against width, on one node.
pub async fn local_tiers(rig: &Rig, inputs: usize) -> Result<Vec<Figure>, UserError> {
    let fabric = Fabric::new(1, rig.manager.clone(), None);
    let tenant = &rig.tenant;
    let mut figures = Vec::new();
    let per_input = |elapsed: Duration, n: usize| elapsed.as_secs_f64() * 1e6 / n as f64;
    let elapsed = timed(&fabric, tenant, job(TRIVIAL, inputs, 1, Tier::Instance)?).await?;
    figures.push(figure(
        "fabric instance tier, per input",
        per_input(elapsed, inputs),
        "µs",
        Some(20.0),
        &format!("trivial kernel, {inputs} inputs, width 1, submit to last result"),
    ));
    let fresh = inputs / 10;
    let elapsed = timed(&fabric, tenant, job(TRIVIAL, fresh, 1, Tier::Process)?).await?;
    figures.push(figure(
        "fabric process tier, per input",
        per_input(elapsed, fresh),
        "µs",
        None,
        &format!("trivial kernel, {fresh} inputs, a fresh instance each, width 1"),
    ));
    let spins = inputs / 10;
    for width in [1, 2, 4, 16] {
        let elapsed = timed(&fabric, tenant, job(SPIN, spins, width, Tier::Instance)?).await?;
        let mut rate = figure(
            &format!("fabric inputs/s, 0.1 ms kernel, width {width}"),
            spins as f64 / elapsed.as_secs_f64(),
            "count",
            None,
            &format!("{spins} inputs, instance tier, one node"),
        );
        rate.lower_is_better = false;
        figures.push(rate);
    }
    Ok(figures)
}

/// Per-input time of the node tier: two nodes, one input in flight on each.
pub async fn node_tier(inputs: usize) -> Result<Vec<Figure>, UserError> {
    let dir = tempfile::tempdir().map_err(|e| internal(&format!("temp dir: {e}")))?;
    let pair = Pair::start(dir.path(), 16).await?;
    let result = measure_node_tier(&pair, inputs).await;
    pair.stop().await;
    result
}

async fn measure_node_tier(pair: &Pair, inputs: usize) -> Result<Vec<Figure>, UserError> {
    let client = pair.client(0)?;
    // First jobs ship and compile the modules on the peer; 500 inputs of
    // 0.1 ms keep this node busy while the peer gets ready.
    for wat in [SPIN, TRIVIAL] {
        let first = client.fabric_submit(&job(wat, 500, 2, Tier::Node)?).await?;
        client
            .fabric_results(&first.id, ResultOrder::Completion, |_| {})
            .await?;
    }
    // On a loaded machine this node may finish a trivial job before the
    // peer's first pull: measure again (a few times) until the peer ran some.
    let mut attempts = 0;
    let (elapsed, on_peer) = loop {
        attempts += 1;
        let started = Instant::now();
        let status = client
            .fabric_submit(&job(TRIVIAL, inputs, 2, Tier::Node)?)
            .await?;
        client
            .fabric_results(&status.id, ResultOrder::Completion, |_| {})
            .await?;
        let elapsed = started.elapsed();
        let end = client.fabric_job(&status.id).await?;
        let on_peer = end.per_node.get(&2).copied().unwrap_or(0);
        if end.state != JobState::Done || (on_peer == 0 && attempts == 5) {
            return Err(internal(&format!(
                "node-tier job ended {:?} with {on_peer} inputs on the peer (attempt {attempts})",
                end.state
            )));
        }
        if on_peer > 0 {
            break (elapsed, on_peer);
        }
    };
    Ok(vec![figure(
        "fabric node tier, per input on a peer",
        elapsed.as_secs_f64() * 1e6 / on_peer as f64,
        "µs",
        Some(300.0),
        &format!(
            "trivial kernel, {inputs} inputs over 2 nodes, 1 in flight each; {on_peer} ran on the peer (QUIC round trips)"
        ),
    )])
}
