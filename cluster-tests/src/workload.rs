//! The fault suite's clients: processes that create tenants and read the
//! tenant list (registry writes and linearizable reads) and processes that
//! call a counter workbook (kv increments through a sandbox), each one
//! operation at a time, spreading their operations over every node, and
//! recording each in a [`History`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::history::{tenant_key, tenant_name, Call, History, Op, Outcome, Value};

/// Where the clients send their operations.
#[derive(Clone)]
pub struct Target {
    /// Every node's API base URL (`https://HOST:PORT`).
    pub nodes: Vec<String>,
    /// A client trusting the cluster CA.
    pub http: reqwest::Client,
    /// The admin key.
    pub admin_key: String,
    /// The counter workbook's sandbox id.
    pub counter: String,
}

/// How many clients of each kind, and their pace.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Processes alternating a tenant creation and a tenant list.
    pub registry_clients: usize,
    /// Processes calling the counter.
    pub counter_clients: usize,
    /// A client gives up on an operation (outcome unknown) after this.
    pub timeout: Duration,
    /// Pause between two operations of one client.
    pub pause: Duration,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            registry_clients: 2,
            counter_clients: 2,
            timeout: Duration::from_secs(2),
            pause: Duration::from_millis(100),
        }
    }
}

/// Running clients; [`Clients::stop`] ends them after their current operation.
pub struct Clients {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Clients {
    /// Stops every client and waits for them.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the clients of `workload` against `target`, recording into `history`.
pub fn start(target: &Target, workload: &Workload, history: &Arc<History>) -> Clients {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let kinds = std::iter::repeat_n(false, workload.registry_clients)
        .chain(std::iter::repeat_n(true, workload.counter_clients));
    for (process, counter) in kinds.enumerate() {
        let client = Client {
            process,
            target: target.clone(),
            timeout: workload.timeout,
            history: Arc::clone(history),
        };
        let (stop, pause) = (Arc::clone(&stop), workload.pause);
        tasks.push(tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let call = match (counter, seq % 2) {
                    (true, _) => Call::Increment,
                    (false, 0) => Call::AddTenant(tenant_name(process, seq)),
                    (false, _) => Call::ReadTenants,
                };
                client.run(call, seq).await;
                seq += 1;
                tokio::time::sleep(pause).await;
            }
        }));
    }
    Clients { stop, tasks }
}

/// One client process.
pub struct Client {
    /// Its number in the history.
    pub process: usize,
    /// Where it sends operations.
    pub target: Target,
    /// When it gives up on one.
    pub timeout: Duration,
    /// Where it records them.
    pub history: Arc<History>,
}

impl Client {
    /// Runs `call` on the node its sequence number picks; records and
    /// returns the operation.
    pub async fn run(&self, call: Call, seq: u64) -> Op {
        let nodes = &self.target.nodes;
        let node = &nodes[self.process.wrapping_add(seq as usize) % nodes.len()];
        let invoke_us = self.history.now_us();
        let outcome = match tokio::time::timeout(self.timeout, self.send(node, &call)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Unknown(format!("no answer from {node} within {:?}", self.timeout)),
        };
        let op = Op {
            process: self.process,
            call,
            invoke_us,
            complete_us: self.history.now_us(),
            outcome,
        };
        self.history.record(op.clone());
        op
    }

    async fn send(&self, node: &str, call: &Call) -> Outcome {
        let http = &self.target.http;
        let request = match call {
            Call::AddTenant(name) => http
                .post(format!("{node}/v1/tenants"))
                .json(&json!({ "name": name })),
            Call::ReadTenants => http.get(format!("{node}/v1/tenants")),
            Call::Increment => http
                .post(format!("{node}/v1/sandboxes/{}/call", self.target.counter))
                .json(&json!({ "args": [] })),
        };
        let response = match request.bearer_auth(&self.target.admin_key).send().await {
            Ok(response) => response,
            // Refused before a byte of the request left: certainly not applied.
            Err(e) if e.is_connect() => return Outcome::Fail(format!("{node}: {e}")),
            Err(e) => return Outcome::Unknown(format!("{node}: {e}")),
        };
        let status = response.status();
        let body: Json = match response.json().await {
            Ok(body) => body,
            Err(e) => {
                return Outcome::Unknown(format!("{node}: {status} with an unreadable body: {e}"))
            }
        };
        if status.is_success() {
            return value_of(call, &body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("?").to_owned();
        let why = format!("{node}: {status} {code}");
        // A 4xx is a refusal (nothing proposed); a 408 or 5xx may come after
        // the write was proposed.
        if status.is_client_error() && status.as_u16() != 408 {
            Outcome::Fail(why)
        } else {
            Outcome::Unknown(why)
        }
    }
}

/// After the run: one increment and one read that succeed (retried until
/// they do); returns the final count, which counts the last increment.
pub async fn finish(
    target: &Target,
    history: &Arc<History>,
    timeout: Duration,
) -> Result<u64, String> {
    let client = Client {
        process: usize::MAX,
        target: target.clone(),
        timeout,
        history: Arc::clone(history),
    };
    let mut count = None;
    let mut read = false;
    for attempt in 0..60u64 {
        if count.is_none() {
            if let Outcome::Ok(Value::Count(n)) = client.run(Call::Increment, attempt).await.outcome
            {
                count = Some(n);
            }
        }
        if !read {
            read = client.run(Call::ReadTenants, attempt).await.is_ok();
        }
        if let (Some(count), true) = (count, read) {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err("the final increment and read did not succeed within 60 attempts".to_owned())
}

/// The value of a successful answer to `call`.
fn value_of(call: &Call, body: &Json) -> Outcome {
    match call {
        Call::AddTenant(_) => Outcome::Ok(Value::Done),
        Call::ReadTenants => {
            let keys: Option<Vec<u64>> = body["tenants"].as_array().map(|tenants| {
                let mut keys: Vec<u64> = tenants
                    .iter()
                    .filter_map(|t| t["name"].as_str().and_then(tenant_key))
                    .collect();
                keys.sort_unstable();
                keys
            });
            match keys {
                Some(keys) => Outcome::Ok(Value::Tenants(keys)),
                None => Outcome::Unknown(format!("a tenant list without tenants: {body}")),
            }
        }
        Call::Increment => {
            let count = body["stdout"]
                .as_str()
                .and_then(|out| out.trim().strip_prefix("count = "))
                .and_then(|n| n.parse().ok());
            match count {
                Some(count) => Outcome::Ok(Value::Count(count)),
                None => Outcome::Unknown(format!("the counter answered {body}")),
            }
        }
    }
}
