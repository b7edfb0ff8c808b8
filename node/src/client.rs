//! The CLI's HTTP client for a node's API.

use nexus_raft::Sandbox;
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::api::types::{
    CallRequest, CallResponse, CloneRequest, CreateJoinToken, CreateKey, CreateTenant, ErrorBody,
    JoinTokenCreated, JoinTokenList, KeyCreated, KeyList, KeyRevoked, MoveRequest, NodeList,
    NodeRemoved, NodeUndrained, Readiness, Removed, SandboxList, SandboxLogs, TenantCreated,
    TenantList, TenantRemoved, TransitionRequest,
};
use crate::cluster::status::ClusterStatus;
use crate::dataplane::drain::DrainEvent;
use crate::dataplane::migrate::MoveReport;
use crate::fabric::{JobRequest, JobStatus, ResultLine, ResultOrder};
use crate::sandbox::{SandboxInfo, Verb};
use nexus_errors::{ErrorCode, UserError};

/// Where a docked sandbox goes: a node, labels its home must carry, or
/// (both empty) wherever the cluster has most room.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The node to place it on.
    pub node: Option<u64>,
    /// `key=value` labels the home must carry.
    pub labels: Vec<String>,
    /// How many copies the cluster keeps (the home's included).
    pub factor: Option<u32>,
    /// `sync` or `async`.
    pub durability: Option<String>,
}

/// How long a call keeps being retried while its sandbox's home is down or
/// fenced (a failover gives it a new home within seconds).
const FAILOVER_RETRY: std::time::Duration = std::time::Duration::from_secs(15);
/// The pause between those retries (the nodes' `Retry-After`).
const FAILOVER_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The refusals a failover ends: the home is unreachable, or it lost its
/// lease and a replica is taking over.
fn passes_with_failover(e: &UserError) -> bool {
    e.is(ErrorCode::SandboxHomeUnreachable) || e.is(ErrorCode::SandboxHomeFenced)
}

/// Bodies up to this size skip the `/health` limit check ([`NodeClient`]'s
/// preflight).
const PREFLIGHT_ABOVE: usize = 64 << 10;

/// A client of one node's HTTP API, authenticated with one key.
pub struct NodeClient {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl NodeClient {
    /// A client for the plain-HTTP node at `base` (e.g. `http://127.0.0.1:2026`).
    pub fn new(base: &str, key: Option<String>) -> NodeClient {
        NodeClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            key,
        }
    }

    /// A client for the node at `base` that verifies an HTTPS node's
    /// certificate with the PEM CA certificate `ca` (and trusts nothing
    /// else).
    pub fn with_ca(base: &str, key: Option<String>, ca: Option<&[u8]>) -> Result<Self, UserError> {
        let mut builder = reqwest::Client::builder().tls_built_in_root_certs(false);
        if let Some(pem) = ca {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                UserError::new(
                    ErrorCode::ConfigInvalid,
                    format!("the CA certificate is not a PEM certificate: {e}"),
                )
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
        Ok(NodeClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            key,
        })
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The API key requests carry.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Uploads a workbook file and docks it.
    pub async fn dock(
        &self,
        workbook: Vec<u8>,
        name: Option<&str>,
        profile: Option<&str>,
    ) -> Result<Sandbox, UserError> {
        self.dock_on(workbook, name, profile, &Placement::default())
            .await
    }

    /// [`NodeClient::dock`] placing the sandbox as `placement` says.
    pub async fn dock_on(
        &self,
        workbook: Vec<u8>,
        name: Option<&str>,
        profile: Option<&str>,
        placement: &Placement,
    ) -> Result<Sandbox, UserError> {
        let mut query = Vec::new();
        if let Some(name) = name {
            query.push(("name", name.to_owned()));
        }
        if let Some(profile) = profile {
            query.push(("profile", profile.to_owned()));
        }
        if let Some(node) = placement.node {
            query.push(("node", node.to_string()));
        }
        if !placement.labels.is_empty() {
            query.push(("where", placement.labels.join(",")));
        }
        if let Some(factor) = placement.factor {
            query.push(("factor", factor.to_string()));
        }
        if let Some(durability) = &placement.durability {
            query.push(("durability", durability.clone()));
        }
        self.fits(workbook.len(), BodyKind::Upload).await?;
        self.send(self.post("/v1/sandboxes").query(&query).body(workbook))
            .await
    }

    /// The caller's sandboxes.
    pub async fn sandboxes(&self) -> Result<SandboxList, UserError> {
        self.send(self.get("/v1/sandboxes")).await
    }

    /// One sandbox, with the node's view of its activity.
    pub async fn sandbox(&self, id: &str) -> Result<SandboxInfo, UserError> {
        self.send(self.get(&format!("/v1/sandboxes/{id}"))).await
    }

    /// The sandbox's log entries after `after` (its home's recent stderr and events).
    pub async fn logs(&self, id: &str, after: u64) -> Result<SandboxLogs, UserError> {
        self.send(self.get(&format!("/v1/sandboxes/{id}/logs?after={after}")))
            .await
    }

    /// Applies a lifecycle verb.
    pub async fn transit(
        &self,
        id: &str,
        verb: Verb,
        expected_generation: Option<u64>,
    ) -> Result<Sandbox, UserError> {
        let body = TransitionRequest {
            expected_generation,
        };
        let path = format!("/v1/sandboxes/{id}/{}", verb.as_str());
        self.send(self.post(&path).json(&body)).await
    }

    /// Moves a sandbox to node `to` (live migration).
    pub async fn move_sandbox(&self, id: &str, to: u64) -> Result<MoveReport, UserError> {
        let path = format!("/v1/sandboxes/{id}/move");
        self.send(self.post(&path).json(&MoveRequest { to })).await
    }

    /// Clones a sandbox (into another tenant with the admin key).
    pub async fn clone_sandbox(
        &self,
        id: &str,
        request: &CloneRequest,
    ) -> Result<Sandbox, UserError> {
        self.send(
            self.post(&format!("/v1/sandboxes/{id}/clone"))
                .json(request),
        )
        .await
    }

    /// Removes a sandbox.
    pub async fn remove(&self, id: &str) -> Result<Removed, UserError> {
        let url = format!("{}/v1/sandboxes/{id}", self.base);
        self.send(self.authed(self.http.delete(url))).await
    }

    /// Calls a sandbox's entry module.
    pub async fn call(&self, id: &str, request: &CallRequest) -> Result<CallResponse, UserError> {
        let body = serde_json::to_vec(request).map_err(|e| {
            UserError::new(ErrorCode::Internal, format!("cannot encode the call: {e}"))
        })?;
        self.fits(body.len(), BodyKind::Request).await?;
        let started = std::time::Instant::now();
        loop {
            let request = self
                .post(&format!("/v1/sandboxes/{id}/call"))
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
            match self.send(request).await {
                Err(e) if passes_with_failover(&e) && started.elapsed() < FAILOVER_RETRY => {
                    tokio::time::sleep(FAILOVER_PAUSE).await;
                }
                answer => return answer,
            }
        }
    }

    /// Refuses a body larger than the limit the node advertises in
    /// `/health`, before sending it: a node refusing a body mid-upload
    /// closes the connection, which can hide its answer. A body of at most
    /// [`PREFLIGHT_ABOVE`] bytes is sent without asking (the node's own
    /// refusal of it reaches the client: it reads and discards up to 8 MiB
    /// after refusing), which saves a connection per small call. A node that
    /// does not advertise limits is left to judge for itself.
    async fn fits(&self, size: usize, kind: BodyKind) -> Result<(), UserError> {
        if size <= PREFLIGHT_ABOVE {
            return Ok(());
        }
        let Ok(response) = self.http.get(format!("{}/health", self.base)).send().await else {
            return Ok(());
        };
        let Ok(health) = response.json::<Health>().await else {
            return Ok(());
        };
        let (limit, code, setting) = match kind {
            BodyKind::Upload => (
                health.limits.max_upload_bytes,
                ErrorCode::UploadTooLarge,
                "max_upload_bytes",
            ),
            BodyKind::Request => (
                health.limits.max_request_bytes,
                ErrorCode::RequestTooLarge,
                "max_request_bytes",
            ),
        };
        if size <= limit {
            return Ok(());
        }
        Err(UserError::new(
            code,
            format!(
                "the body is {size} bytes; the node at {} accepts at most {limit} ({setting})",
                self.base
            ),
        ))
    }

    /// Creates a tenant (admin key needed).
    pub async fn create_tenant(&self, name: &str) -> Result<TenantCreated, UserError> {
        let body = CreateTenant {
            name: name.to_string(),
        };
        self.send(self.post("/v1/tenants").json(&body)).await
    }

    /// Every tenant (admin key needed).
    pub async fn tenants(&self) -> Result<TenantList, UserError> {
        self.send(self.get("/v1/tenants")).await
    }

    /// Removes a tenant (by name or id) and its keys; with `force`, its
    /// sandboxes too (admin key needed).
    pub async fn remove_tenant(
        &self,
        tenant: &str,
        force: bool,
    ) -> Result<TenantRemoved, UserError> {
        let url = self.url(&["v1", "tenants", tenant])?;
        let mut request = self.http.delete(url);
        if force {
            request = request.query(&[("force", "true")]);
        }
        self.send(self.authed(request)).await
    }

    /// Makes an API key (shown once in the answer).
    pub async fn create_key(&self, request: &CreateKey) -> Result<KeyCreated, UserError> {
        self.send(self.post("/v1/keys").json(request)).await
    }

    /// The live keys the caller may see.
    pub async fn keys(&self) -> Result<KeyList, UserError> {
        self.send(self.get("/v1/keys")).await
    }

    /// Revokes a key by id, or by name within the caller's tenant (or
    /// `tenant`, admin key only).
    pub async fn revoke_key(
        &self,
        id_or_name: &str,
        tenant: Option<&str>,
    ) -> Result<KeyRevoked, UserError> {
        let url = self.url(&["v1", "keys", id_or_name])?;
        let mut request = self.http.delete(url);
        if let Some(tenant) = tenant {
            request = request.query(&[("tenant", tenant)]);
        }
        self.send(self.authed(request)).await
    }

    /// Mints a join token (admin key needed).
    pub async fn create_join_token(
        &self,
        request: &CreateJoinToken,
    ) -> Result<JoinTokenCreated, UserError> {
        self.send(self.post("/v1/cluster/tokens").json(request))
            .await
    }

    /// Every join token (admin key needed).
    pub async fn join_tokens(&self) -> Result<JoinTokenList, UserError> {
        self.send(self.get("/v1/cluster/tokens")).await
    }

    /// Revokes a join token (admin key needed).
    pub async fn revoke_join_token(&self, id: &str) -> Result<Removed, UserError> {
        let url = format!("{}/v1/cluster/tokens/{id}", self.base);
        self.send(self.authed(self.http.delete(url))).await
    }

    /// Every node of the cluster (admin key needed).
    pub async fn nodes(&self) -> Result<NodeList, UserError> {
        self.send(self.get("/v1/cluster/nodes")).await
    }

    /// Removes node `id` from the cluster (admin key needed).
    pub async fn remove_node(&self, id: u64, force: bool) -> Result<NodeRemoved, UserError> {
        let url = format!("{}/v1/cluster/nodes/{id}", self.base);
        let mut request = self.authed(self.http.delete(url));
        if force {
            request = request.query(&[("force", "true")]);
        }
        self.send(request).await
    }

    /// `GET /ready`: the node takes calls (an error while it starts or
    /// shuts down).
    pub async fn ready(&self) -> Result<Readiness, UserError> {
        self.send(self.get("/ready")).await
    }

    /// The answering node's view of the cluster.
    pub async fn cluster_status(&self) -> Result<ClusterStatus, UserError> {
        self.send(self.get("/v1/cluster/status")).await
    }

    /// `GET /v1/net/status`: the node's WireGuard mesh.
    pub async fn net_status(&self) -> Result<crate::mesh::NetStatus, UserError> {
        self.send(self.get("/v1/net/status")).await
    }

    /// The node's URL with these path segments, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, UserError> {
        let invalid = || {
            UserError::new(
                ErrorCode::RequestInvalid,
                format!("{:?} is not a usable node address", self.base),
            )
        };
        let mut url = reqwest::Url::parse(&self.base).map_err(|_| invalid())?;
        url.path_segments_mut()
            .map_err(|_| invalid())?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.get(format!("{}{path}", self.base)))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.post(format!("{}{path}", self.base)))
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Drains node `id`, calling `on_event` with each step as the node
    /// reports it; returns the last one.
    pub async fn drain_node(
        &self,
        id: u64,
        mut on_event: impl FnMut(&DrainEvent),
    ) -> Result<Option<DrainEvent>, UserError> {
        let request = self.post(&format!("/v1/cluster/nodes/{id}/drain"));
        let mut last = None;
        self.read_lines(request, "drain", |event: DrainEvent| {
            on_event(&event);
            last = Some(event);
        })
        .await?;
        Ok(last)
    }

    /// The bytes of file `path` in `volume` of sandbox `id`.
    pub async fn read_file(
        &self,
        id: &str,
        volume: &str,
        path: &str,
    ) -> Result<Vec<u8>, UserError> {
        let mut segments = vec!["v1", "sandboxes", id, "files", volume];
        segments.extend(path.split('/'));
        let url = self.url(&segments)?;
        let response = self
            .authed(self.http.get(url))
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        if !response.status().is_success() {
            return Err(error_of(response).await);
        }
        let bytes = response.bytes().await.map_err(|e| {
            UserError::new(
                ErrorCode::NodeUnreachable,
                format!("the node at {} closed the response: {e}", self.base),
            )
        })?;
        Ok(bytes.to_vec())
    }

    /// Starts a fabric job: on the sandbox's home when it names one.
    pub async fn fabric_submit(&self, request: &JobRequest) -> Result<JobStatus, UserError> {
        let body = serde_json::to_vec(request).map_err(|e| {
            UserError::new(ErrorCode::Internal, format!("cannot encode the job: {e}"))
        })?;
        self.fits(body.len(), BodyKind::Request).await?;
        let path = match &request.sandbox {
            Some(id) => format!("/v1/sandboxes/{id}/fabric"),
            None => "/v1/fabric/jobs".to_owned(),
        };
        let request = self
            .post(&path)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        self.send(request).await
    }

    /// A fabric job's status.
    pub async fn fabric_job(&self, id: &str) -> Result<JobStatus, UserError> {
        self.send(self.get(&format!("/v1/fabric/jobs/{id}"))).await
    }

    /// The caller's fabric jobs on this node.
    pub async fn fabric_jobs(&self) -> Result<Vec<JobStatus>, UserError> {
        self.send(self.get("/v1/fabric/jobs")).await
    }

    /// Cancels a fabric job.
    pub async fn fabric_cancel(&self, id: &str) -> Result<JobStatus, UserError> {
        self.send(self.post(&format!("/v1/fabric/jobs/{id}/cancel")))
            .await
    }

    /// Streams a fabric job's results in `order` to `on_result` until the
    /// job ends.
    pub async fn fabric_results(
        &self,
        id: &str,
        order: ResultOrder,
        on_result: impl FnMut(ResultLine),
    ) -> Result<(), UserError> {
        let order = match order {
            ResultOrder::Completion => "completion",
            ResultOrder::Input => "input",
        };
        let request = self.get(&format!("/v1/fabric/jobs/{id}/results?order={order}"));
        self.read_lines(request, "results", on_result).await
    }

    /// Sends `request` and hands each line of its newline-delimited JSON
    /// answer to `on_line` as it arrives.
    async fn read_lines<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
        mut on_line: impl FnMut(T),
    ) -> Result<(), UserError> {
        let mut response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        if !response.status().is_success() {
            return Err(error_of(response).await);
        }
        let closed = |e: reqwest::Error| {
            UserError::new(
                ErrorCode::NodeUnreachable,
                format!("the node at {} closed the {what} stream: {e}", self.base),
            )
        };
        let mut pending = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(closed)? {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let item = serde_json::from_slice(&line)
                    .map_err(|e| malformed(StatusCode::OK, &e.to_string()))?;
                on_line(item);
            }
        }
        Ok(())
    }

    /// Undrains node `id`: it takes new sandboxes again.
    pub async fn undrain_node(&self, id: u64) -> Result<NodeUndrained, UserError> {
        self.send(self.post(&format!("/v1/cluster/nodes/{id}/undrain")))
            .await
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, UserError> {
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            UserError::new(
                ErrorCode::NodeUnreachable,
                format!("the node at {} closed the response: {e}", self.base),
            )
        })?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| malformed(status, &e.to_string()));
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => Err(error),
            Err(_) => Err(malformed(status, &String::from_utf8_lossy(&body))),
        }
    }
}

/// The coded error of a failed response.
async fn error_of(response: reqwest::Response) -> UserError {
    let status = response.status();
    match response.bytes().await {
        Ok(body) => match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => error,
            Err(_) => malformed(status, &String::from_utf8_lossy(&body)),
        },
        Err(e) => malformed(status, &e.to_string()),
    }
}

/// Which limit a request body falls under.
enum BodyKind {
    Upload,
    Request,
}

/// The part of `GET /health` the client reads.
#[derive(Deserialize)]
struct Health {
    limits: AdvertisedLimits,
}

#[derive(Deserialize)]
struct AdvertisedLimits {
    max_upload_bytes: usize,
    max_request_bytes: usize,
}

/// The error of a request that got no answer: `NODE_TLS_UNTRUSTED` when the
/// node's certificate did not verify, else `NODE_UNREACHABLE` naming the
/// address tried.
fn unreachable(base: &str, error: &reqwest::Error) -> UserError {
    if let Some(tls) = rustls_cause(error) {
        return UserError::new(
            ErrorCode::NodeTlsUntrusted,
            format!("cannot verify the HTTPS certificate of the node at {base}: {tls}"),
        );
    }
    let detail = nexus_errors::error_chain(error);
    UserError::new(
        ErrorCode::NodeUnreachable,
        format!("cannot reach the node at {base}: {detail}"),
    )
    .with_hint(format!(
        "is a node listening on {base}? Start one with `nexus up`, or point --node, \
         NEXUS_NODE or --config at a running one"
    ))
}

/// The rustls error under a failed request, if TLS failed (hyper-rustls
/// wraps it in I/O errors, which hide what they wrap from `source()`).
fn rustls_cause(error: &reqwest::Error) -> Option<&rustls::Error> {
    let mut source = std::error::Error::source(error);
    while let Some(mut cause) = source {
        while let Some(inner) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            cause = inner;
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        source = cause.source();
    }
    None
}

fn malformed(status: StatusCode, detail: &str) -> UserError {
    UserError::new(
        ErrorCode::Internal,
        format!("the node answered {status} with an unexpected body: {detail}"),
    )
}
