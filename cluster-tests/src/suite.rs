//! The fault suite over the docker-compose cluster: bring it up (timed),
//! dock a counter workbook, run the [`workload`](crate::workload) while the
//! [`Nemesis`] injects every [`FaultKind`] round after round, then check the
//! history and summarize.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::checker::availability::longest_gap;
use crate::checker::counter::{self, CounterReport};
use crate::checker::registry::{self, RegistryReport};
use crate::compose::{wait_for, Compose, Container};
use crate::history::{Call, History, Op, Outcome};
use crate::nemesis::{FaultKind, Nemesis};
use crate::workload::{self, Target, Workload};

/// What the suite runs.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The compose files (`docker-compose.yml`, maybe with the five-node file).
    pub files: Vec<PathBuf>,
    /// How many node containers they start.
    pub nodes: usize,
    /// Rounds: each injects every fault kind once.
    pub rounds: usize,
    /// How long a fault lasts before it is healed.
    pub hold: Duration,
    /// A packed `examples/counter` workbook.
    pub counter_workbook: PathBuf,
    /// The clients.
    pub workload: Workload,
}

/// One injected fault and how the cluster took it.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    /// Its kind.
    pub kind: FaultKind,
    /// When it began and when it was healed (history time, µs).
    pub injected_us: u64,
    /// When it was healed.
    pub healed_us: u64,
    /// When every node was ready and a registry write went through again.
    pub recovered_us: u64,
}

/// The suite's result.
#[derive(Debug)]
pub struct Summary {
    /// `docker-compose up -d` to every node a voter and the example
    /// answering through each container.
    pub ready_in: Duration,
    /// Every fault injected.
    pub faults: Vec<FaultRecord>,
    /// Every operation.
    pub ops: Vec<Op>,
    /// The registry check.
    pub registry: RegistryReport,
    /// The counter check.
    pub counter: CounterReport,
}

/// How long the cluster may take to come back after a fault is healed.
const RECOVERY_LIMIT: Duration = Duration::from_secs(120);

/// Runs the suite; the cluster is taken down afterwards either way.
pub async fn run(options: &SuiteOptions) -> Result<Summary, String> {
    let compose = Compose::new(options.files.clone(), options.nodes);
    let _ = compose.down();
    let result = run_on(&compose, options).await;
    compose.down()?;
    result
}

async fn run_on(compose: &Compose, options: &SuiteOptions) -> Result<Summary, String> {
    let started = Instant::now();
    compose.up()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let founder = &compose.containers[0];
    wait_for(Duration::from_secs(60), || async {
        compose.copy_out(&founder.name, "/data/admin.key", dir.path())?;
        compose
            .copy_out(&founder.name, "/data/tls/ca.pem", dir.path())
            .map(|_| ())
    })
    .await?;
    let read = |file: &str| std::fs::read(dir.path().join(file)).map_err(|e| e.to_string());
    let admin_key = String::from_utf8_lossy(&read("admin.key")?)
        .trim()
        .to_owned();
    let ca = reqwest::Certificate::from_pem(&read("ca.pem")?).map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let api = Api {
        http: &http,
        key: &admin_key,
    };
    wait_for(Duration::from_secs(120), || cluster_formed(&api, compose)).await?;
    let ready_in = started.elapsed();
    println!(
        "cluster up in {:.1} s: {} voters, the example answers through every container",
        ready_in.as_secs_f64(),
        options.nodes
    );

    let by_id = node_ids(&api, compose).await?;
    let counter = dock_counter(&api, founder, &options.counter_workbook).await?;
    let target = Target {
        nodes: compose.containers.iter().map(Container::url).collect(),
        http: http.clone(),
        admin_key: admin_key.clone(),
        counter,
    };
    let history = Arc::new(History::new());
    let clients = workload::start(&target, &options.workload, &history);
    let nemesis = Nemesis::new(compose, by_id.clone());
    let mut faults = Vec::new();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for round in 0..options.rounds {
        for kind in FaultKind::ALL {
            let leader = wait_for_leader(&api, &by_id).await?;
            let injected_us = history.now_us();
            let undo = nemesis.inject(kind, leader, round)?;
            tokio::time::sleep(options.hold).await;
            nemesis.heal(undo)?;
            let healed_us = history.now_us();
            let probe = format!("probe{}", faults.len());
            wait_for(RECOVERY_LIMIT, || recovered(&api, compose, &probe))
                .await
                .map_err(|e| {
                    format!(
                        "round {round}, {}: the cluster did not recover: {e}",
                        kind.name()
                    )
                })?;
            let recovered_us = history.now_us();
            println!(
                "round {round}: {:<26} leader {leader}, recovered {:.1} s after healing",
                kind.name(),
                (recovered_us - healed_us) as f64 / 1e6
            );
            faults.push(FaultRecord {
                kind,
                injected_us,
                healed_us,
                recovered_us,
            });
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    clients.stop().await;
    // Past every client's timeout: what was in doubt has landed or never will.
    tokio::time::sleep(options.workload.timeout + Duration::from_secs(1)).await;
    let final_count = workload::finish(&target, &history, options.workload.timeout).await?;
    let ops = history.ops();
    Ok(Summary {
        ready_in,
        faults,
        registry: registry::check(&ops),
        counter: counter::check(&ops, final_count),
        ops,
    })
}

/// Requests with the admin key.
struct Api<'a> {
    http: &'a reqwest::Client,
    key: &'a str,
}

impl Api<'_> {
    async fn get(&self, url: String) -> Result<Json, String> {
        self.send(self.http.get(url)).await
    }

    async fn post(&self, url: String, body: Json) -> Result<Json, String> {
        self.send(self.http.post(url).json(&body)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Json, String> {
        let response = request
            .bearer_auth(self.key)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Json = response.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    }
}

/// Every node a voter, a leader elected, and the example docked at
/// founding answering through every container.
async fn cluster_formed(api: &Api<'_>, compose: &Compose) -> Result<(), String> {
    let founder = &compose.containers[0];
    let status = api
        .get(format!("{}/v1/cluster/status", founder.url()))
        .await?;
    let voters = status["members"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["kind"] == "voter").count());
    if voters != compose.containers.len() || status["leader"].is_null() {
        return Err(format!("{voters} voters so far: {status}"));
    }
    let sandboxes = api.get(format!("{}/v1/sandboxes", founder.url())).await?;
    let hello = sandboxes["sandboxes"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["name"] == "hello"))
        .and_then(|s| s["id"].as_str())
        .ok_or("the hello example is not docked yet")?
        .to_owned();
    for container in &compose.containers {
        let url = format!("{}/v1/sandboxes/{hello}/call", container.url());
        let answer = api.post(url, json!({ "args": ["compose"] })).await?;
        let stdout = answer["stdout"].as_str().unwrap_or_default();
        if !stdout.contains("Hello, compose!") {
            return Err(format!("{} answered {answer}", container.name));
        }
    }
    Ok(())
}

/// The node id each container runs.
async fn node_ids(api: &Api<'_>, compose: &Compose) -> Result<BTreeMap<u64, Container>, String> {
    let mut by_id = BTreeMap::new();
    for container in &compose.containers {
        let ready = api.get(format!("{}/ready", container.url())).await?;
        let id = ready["node_id"]
            .as_u64()
            .ok_or_else(|| format!("{} answered {ready}", container.name))?;
        by_id.insert(id, container.clone());
    }
    Ok(by_id)
}

/// Docks the counter workbook through the founder under the `serial`
/// profile of docker/nexus.toml (one call at a time: the counter's read
/// and write are two kv calls); its sandbox id.
async fn dock_counter(
    api: &Api<'_>,
    founder: &Container,
    workbook: &PathBuf,
) -> Result<String, String> {
    let bytes = std::fs::read(workbook).map_err(|e| format!("{}: {e}", workbook.display()))?;
    let request = api
        .http
        .post(format!("{}/v1/sandboxes", founder.url()))
        .query(&[("name", "counter"), ("profile", "serial")])
        .body(bytes);
    let docked = api.send(request).await?;
    docked["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("dock answered {docked}"))
}

/// The leader a majority of the nodes name (waiting up to a minute): a
/// node cut off or just restarted may name a stale one.
async fn wait_for_leader(api: &Api<'_>, by_id: &BTreeMap<u64, Container>) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let majority = by_id.len() / 2 + 1;
    while Instant::now() < deadline {
        let mut named: BTreeMap<u64, usize> = BTreeMap::new();
        for container in by_id.values() {
            if let Ok(status) = api
                .get(format!("{}/v1/cluster/status", container.url()))
                .await
            {
                if let Some(id) = status["leader"]
                    .as_u64()
                    .filter(|id| by_id.contains_key(id))
                {
                    *named.entry(id).or_default() += 1;
                }
            }
        }
        if let Some((leader, _)) = named.into_iter().find(|(_, votes)| *votes >= majority) {
            return Ok(leader);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("no leader named by a majority of the nodes within 60 s".to_owned())
}

/// Every node ready and a registry write through.
async fn recovered(api: &Api<'_>, compose: &Compose, probe: &str) -> Result<(), String> {
    for container in &compose.containers {
        api.get(format!("{}/ready", container.url())).await?;
    }
    let founder = &compose.containers[0];
    match api
        .post(
            format!("{}/v1/tenants", founder.url()),
            json!({ "name": probe }),
        )
        .await
    {
        // A retry after a write whose answer was lost finds the name taken.
        Err(e) if !e.contains("TENANT_NAME_TAKEN") => Err(e),
        _ => Ok(()),
    }
}

impl Summary {
    /// Anomalies found by both checks (must be 0).
    pub fn anomalies(&self) -> usize {
        self.registry.anomalies.len() + self.counter.anomalies.len()
    }

    /// The summary as a Markdown report.
    pub fn report(&self) -> String {
        let count = |ok: fn(&Outcome) -> bool| self.ops.iter().filter(|op| ok(&op.outcome)).count();
        let ok = count(|o| matches!(o, Outcome::Ok(_)));
        let failed = count(|o| matches!(o, Outcome::Fail(_)));
        let unknown = count(|o| matches!(o, Outcome::Unknown(_)));
        let completions = |counter: bool| {
            let mut at: Vec<u64> = self
                .ops
                .iter()
                .filter(|op| {
                    op.is_ok() && op.call.is_write() && (op.call == Call::Increment) == counter
                })
                .map(|op| op.complete_us)
                .collect();
            at.sort_unstable();
            at
        };
        let (registry_writes, counter_calls) = (completions(false), completions(true));
        let mut out = format!(
            "cluster up (3 voters, example answering through every container): {:.1} s\n\n\
             | fault | injected | longest without a registry write | longest without a counter call | slowest recovery after heal |\n\
             |---|---|---|---|---|\n",
            self.ready_in.as_secs_f64()
        );
        for kind in FaultKind::ALL {
            let of_kind: Vec<&FaultRecord> =
                self.faults.iter().filter(|f| f.kind == kind).collect();
            if of_kind.is_empty() {
                continue;
            }
            let worst = |times: &[u64]| {
                of_kind
                    .iter()
                    .map(|f| longest_gap(times, f.injected_us, f.recovered_us))
                    .max()
                    .unwrap_or(0) as f64
                    / 1e6
            };
            let recovery = of_kind
                .iter()
                .map(|f| f.recovered_us - f.healed_us)
                .max()
                .unwrap_or(0) as f64
                / 1e6;
            out.push_str(&format!(
                "| {} | {} | {:.1} s | {:.1} s | {:.1} s |\n",
                kind.name(),
                of_kind.len(),
                worst(&registry_writes),
                worst(&counter_calls),
                recovery
            ));
        }
        out.push_str(&format!(
            "\noperations: {} ({ok} ok, {failed} failed, {unknown} unknown)\n\
             registry: {} tenant creations, {} reads checked for linearizability, {} undecided\n\
             counter: {} acknowledged, {} unknown, {} failed increments; final count {}\n\
             anomalies: {}\n",
            self.ops.len(),
            self.registry.elements,
            self.registry.reads,
            self.registry.undecided,
            self.counter.acknowledged,
            self.counter.unknown,
            self.counter.failed,
            self.counter.final_count,
            self.anomalies()
        ));
        for anomaly in self
            .registry
            .anomalies
            .iter()
            .chain(&self.counter.anomalies)
            .take(20)
        {
            out.push_str(&format!("  - {anomaly}\n"));
        }
        out
    }
}
