//! Test nodes: in-process on a loopback port (here) or as a `nexus up`
//! process ([`process`]), and workbook fixtures.

pub mod process;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nexus_node::api::types::{CallRequest, CallResponse};
use nexus_node::client::NodeClient;
use nexus_node::config::Config;
use nexus_node::daemon::{Node, ADMIN_KEY_FILE};
use nexus_workbook::Workbook;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running node with its own data dir.
pub struct TestNode {
    pub addr: SocketAddr,
    pub admin_key: String,
    pub data_dir: tempfile::TempDir,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<nexus_node::daemon::Stopped, nexus_errors::UserError>>>,
}

impl TestNode {
    /// Starts a node on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> TestNode {
        TestNode::start_with(|_| {}).await
    }

    /// Starts a node after `tweak` adjusted its configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestNode {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.path().to_path_buf(),
            ..Config::default()
        };
        tweak(&mut config);
        TestNode::start_in(data_dir, config).await
    }

    async fn start_in(data_dir: tempfile::TempDir, config: Config) -> TestNode {
        let node = start_when_unlocked(&config).await;
        let addr = node.local_addr().expect("bound address");
        let admin_key = std::fs::read_to_string(data_dir.path().join(ADMIN_KEY_FILE))
            .expect("admin key written")
            .trim()
            .to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(node.serve(async move {
            let _ = stopped.await;
        }));
        TestNode {
            addr,
            admin_key,
            data_dir,
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client with the admin key.
    pub fn admin(&self) -> NodeClient {
        NodeClient::new(&self.url(), Some(self.admin_key.clone()))
    }

    /// The body of `GET path` with the admin key, as text.
    pub async fn admin_get_text(&self, path: &str) -> String {
        reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(&self.admin_key)
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("body")
    }

    /// A client with any key (or none).
    pub fn client(&self, key: Option<&str>) -> NodeClient {
        NodeClient::new(&self.url(), key.map(str::to_string))
    }

    /// Stops the node gracefully and starts it again on the same data dir.
    pub async fn restart(mut self) -> TestNode {
        self.shutdown().await;
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap());
        TestNode::start_in(data_dir, self.config.clone()).await
    }

    /// Stops the node gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("node task").expect("node stops cleanly");
        }
    }
}

/// Starts a node on `config`, waiting (up to 5 s) while its data dir's lock
/// is still held. A node stopped in this process released the lock, but a
/// child that another test was spawning at that moment holds a copy of the
/// lock file's descriptor from its fork until its exec closes it.
async fn start_when_unlocked(config: &Config) -> Node {
    for _ in 0..100 {
        match Node::start(config.clone()).await {
            Err(e) if e.is(nexus_errors::ErrorCode::DataDirLocked) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            started => return started.expect("node starts"),
        }
    }
    panic!(
        "the data dir {} stayed locked for 5 s",
        config.data_dir.display()
    );
}

/// Makes a workbook file from WAT source (one module, the entry).
pub fn wat_workbook(dir: &Path, name: &str, wat: &str) -> PathBuf {
    wasm_workbook(dir, name, &wat::parse_str(wat).expect("valid WAT"))
}

/// Makes a workbook file from a binary module (one module, the entry).
pub fn wasm_workbook(dir: &Path, name: &str, wasm: &[u8]) -> PathBuf {
    let path = dir.join(format!("{name}.workbook"));
    let workbook = Workbook::create(&path, name).expect("create workbook");
    workbook.add_module(name, wasm).expect("add module");
    workbook.set_meta("entry", name).expect("set entry");
    workbook.checkpoint().expect("checkpoint");
    drop(workbook);
    path
}

/// Makes a workbook from WAT in `dir` and docks it; returns the sandbox id.
pub async fn dock_wat(client: &NodeClient, dir: &Path, name: &str, wat: &str) -> String {
    let file = wat_workbook(dir, name, wat);
    let bytes = std::fs::read(file).expect("read workbook");
    client.dock(bytes, None, None).await.expect("dock").id
}

/// A WASI command that prints `text` and exits 0.
pub fn print_wat(text: &str) -> String {
    write_wat(1, text)
}

/// A WASI command that writes `text` to stderr and exits 0.
pub fn stderr_wat(text: &str) -> String {
    write_wat(2, text)
}

/// A WASI command that writes `text` to file descriptor `fd` and exits 0.
fn write_wat(fd: u32, text: &str) -> String {
    let escaped: String = text.bytes().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $w (i32.const {fd}) (i32.const 0) (i32.const 1) (i32.const 16)))))"#,
        len = text.len()
    )
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// An example workbook's directory (`examples/NAME`); its Rust module must
/// have been built by scripts/setup.sh (the README's test command runs it):
/// `NAME.wasm` there is a link into the guest workspace's `guest/target`.
pub fn built_example(name: &str) -> PathBuf {
    built_crate(repo_root().join("examples").join(name), name)
}

/// The hostile guest's directory (`node/tests/guests/hostile`), built by
/// scripts/setup.sh.
pub fn built_hostile() -> PathBuf {
    built_crate(repo_root().join("node/tests/guests/hostile"), "hostile")
}

/// Packs the built workbook in `dir` (into `scratch`) and docks it, under
/// `profile` if given; returns the sandbox id.
pub async fn dock_built(
    client: &NodeClient,
    dir: &Path,
    scratch: &Path,
    profile: Option<&str>,
) -> String {
    let name = dir.file_name().expect("crate dir").to_string_lossy();
    let out = scratch.join(format!("{name}-{}.workbook", rand_suffix()));
    nexus_workbook::pack(dir, &out).expect("pack the built guest");
    let bytes = std::fs::read(&out).expect("read packed workbook");
    client.dock(bytes, None, profile).await.expect("dock").id
}

/// A `call` with `args` and no stdin.
pub async fn call_args(
    client: &NodeClient,
    id: &str,
    args: &[&str],
) -> Result<CallResponse, nexus_errors::UserError> {
    let request = CallRequest {
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: String::new(),
        ..Default::default()
    };
    client.call(id, &request).await
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn built_crate(dir: PathBuf, name: &str) -> PathBuf {
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(
        wasm.exists(),
        "{} is missing: run scripts/setup.sh (it builds the example guests)",
        wasm.display()
    );
    dir
}

/// Every file of every volume of a workbook: (volume, path, bytes).
pub fn volume_contents(path: &Path) -> Vec<(String, String, Vec<u8>)> {
    use nexus_workbook::Volume;
    let workbook = Workbook::open_read_only(path).expect("open workbook");
    let mut out = Vec::new();
    for volume in [Volume::Workspace, Volume::Memory, Volume::Tmp] {
        for entry in workbook.list_files(volume).expect("list files") {
            let data = workbook
                .read_file(volume, &entry.path)
                .expect("read file")
                .expect("listed file exists");
            out.push((volume.as_str().to_string(), entry.path, data));
        }
    }
    out
}

/// A workbook from WAT with files in all three volumes.
pub fn stateful_workbook(dir: &Path, name: &str) -> PathBuf {
    use nexus_workbook::Volume;
    let path = wat_workbook(dir, name, &print_wat("alive\n"));
    let workbook = Workbook::open(&path).expect("open");
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    workbook
        .write_file(Volume::Workspace, "notes/plan.txt", b"the plan", 0o644)
        .unwrap();
    workbook
        .write_file(Volume::Workspace, "data.bin", &big, 0o600)
        .unwrap();
    workbook
        .write_file(Volume::Memory, "learned.json", b"{\"k\":1}", 0o644)
        .unwrap();
    workbook
        .write_file(Volume::Tmp, "scratch", b"gone on resume", 0o644)
        .unwrap();
    workbook.close().expect("close");
    path
}

/// `volume_contents` without the `tmp` volume.
pub fn without_tmp(files: Vec<(String, String, Vec<u8>)>) -> Vec<(String, String, Vec<u8>)> {
    files.into_iter().filter(|(v, _, _)| v != "tmp").collect()
}
