//! File modes: everything a node writes in its data dir is 0600 (files)
//! or 0700 (directories), whatever the shell's umask; a file an operator
//! loosened is named in a warning at the next start.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::built_example;
use common::process::{ready, UpProcess, NEXUS};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every entry under `dir` whose mode is not 0600 (files) / 0700 (dirs).
fn loose_entries(dir: &Path) -> Vec<String> {
    let mut loose = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        // A stale copy is deleted in the background after a transition.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            if mode != 0o700 {
                loose.push(format!("{} {mode:o}", path.display()));
            }
            pending.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if meta.is_file() && mode != 0o600 {
            loose.push(format!("{} {mode:o}", path.display()));
        }
    }
    loose
}

#[test]
fn every_file_a_node_writes_is_private_and_a_loosened_one_is_reported() {
    let outside = tempfile::tempdir().unwrap();
    let up = UpProcess::start_in(tempfile::tempdir().unwrap(), &[]);
    let file = outside.path().join("hello.workbook");
    let packed = Command::new(NEXUS)
        .args(["workbook", "pack"])
        .arg(built_example("hello"))
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(packed.status.success(), "{}", text(&packed.stderr));
    let docked = up.nexus(&["dock", file.to_str().unwrap()], None);
    assert!(docked.status.success(), "{}", text(&docked.stderr));
    let id = text(&docked.stdout).trim().to_string();
    let called = up.nexus(&["call", &id, "--", "Ada"], None);
    assert!(called.status.success(), "{}", text(&called.stderr));
    for verb in ["suspend", "freeze"] {
        let out = up.nexus(&["sandbox", verb, &id], None);
        assert!(out.status.success(), "{verb}: {}", text(&out.stderr));
    }
    let data = up.data_dir.path();
    assert_eq!(loose_entries(data), Vec::<String>::new());
    assert!(std::fs::read_dir(data.join("cold")).unwrap().count() > 0);

    // An operator loosens the cold copy; the next start names it.
    let cold = std::fs::read_dir(data.join("cold"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::set_permissions(&cold, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, data_dir) = stop(up);
    let log = outside.path().join("second-start.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(NEXUS)
        .args(["up", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(&format!("127.0.0.1:{port}")) {
        assert!(Instant::now() < deadline, "second start not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("data dir entries are readable by other users")
            && log.contains(&format!("{} (644)", cold.display()))
            && log.contains("chmod -R go-rwx"),
        "{log}"
    );
}

/// Stops `up` with SIGTERM and hands back its data dir.
fn stop(mut up: UpProcess) -> (std::process::ExitStatus, tempfile::TempDir) {
    let status = up.terminate();
    let dir = std::mem::replace(&mut up.data_dir, tempfile::tempdir().unwrap());
    (status, dir)
}
