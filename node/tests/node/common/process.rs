//! `nexus up` as its own process, for CLI, signal and crash tests.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The `nexus` binary under test.
pub const NEXUS: &str = env!("CARGO_BIN_EXE_nexus");

/// A `nexus up` process with its own data dir and port.
pub struct UpProcess {
    child: Child,
    pub url: String,
    pub data_dir: tempfile::TempDir,
}

impl UpProcess {
    /// Starts a node on a fresh data dir.
    pub fn start() -> UpProcess {
        UpProcess::start_in(tempfile::tempdir().unwrap(), &[])
    }

    /// Starts a node on `data_dir` with extra environment variables.
    pub fn start_in(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> UpProcess {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let path = data_dir.path().to_path_buf();
        let args: [&OsStr; 4] = [
            "--listen".as_ref(),
            listen.as_ref(),
            "--data-dir".as_ref(),
            path.as_os_str(),
        ];
        UpProcess::start_with(data_dir, port, &args, env)
    }

    /// Starts `nexus up ARGS`, which must make it listen on `port`; `dir`
    /// (its data dir, or holding it) lives as long as the process.
    pub fn start_with(
        dir: tempfile::TempDir,
        port: u16,
        args: &[&OsStr],
        env: &[(&str, &str)],
    ) -> UpProcess {
        let child = Command::new(NEXUS)
            .arg("up")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nexus up");
        let up = UpProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data_dir: dir,
        };
        up.wait_ready();
        up
    }

    /// Waits until `GET /ready` answers 200 (the port is bound before the
    /// node has finished starting).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ready(self.url.trim_start_matches("http://")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nexus up was not ready on {} within 60 s", self.url);
    }

    /// The CLI with `args`, aimed at this node with its data dir (so the
    /// admin key is found), every stream piped.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(NEXUS);
        command
            .args(args)
            .env("NEXUS_NODE", &self.url)
            .env("NEXUS_DATA_DIR", self.data_dir.path())
            .env_remove("NEXUS_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs the CLI against this node and waits for it.
    pub fn nexus(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = self.command(args).spawn().expect("spawn nexus");
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.unwrap_or_default()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// Sends SIGTERM and waits for the process.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }

    /// Waits for the process to end by itself (e.g. at a crash point).
    pub fn wait_exit(mut self) -> (ExitStatus, tempfile::TempDir) {
        let status = self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap());
        (status, dir)
    }
}

impl Drop for UpProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the node at `addr` answers `GET /ready` with 200.
pub fn ready(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}
