//! The volumes as WASI preopened directories, through a real node and the
//! `files` guest (plain `std::fs`): reads and writes land in the workbook,
//! survive suspend, freeze and resume (`/tmp` is emptied, after every
//! kind of suspend and resume), paths cannot
//! escape, links are refused, quotas answer `EDQUOT`, a read-only
//! `/workspace` refuses writes, and a failed call keeps nothing.

use crate::common;

use common::{call_args, dock_built, volume_contents, TestNode};
use nexus_node::client::NodeClient;
use nexus_node::sandbox::Verb;

/// WASI errno `dquot`.
const EDQUOT: &str = "error 19";
/// WASI errno `perm`.
const EPERM: &str = "error 63";

/// A node with the profiles `small` (1 MiB per volume) and `readonly`
/// (`/workspace` read-only).
async fn node() -> TestNode {
    TestNode::start_with(|config| {
        for (name, spec) in [
            ("small", "volume_mib = 1\n"),
            ("readonly", "workspace_read_only = true\n"),
        ] {
            let spec = toml::from_str(spec).expect("profile spec");
            config.profiles.insert(name.to_string(), spec);
        }
    })
    .await
}

/// The `files` guest docked under `profile`.
async fn files(node: &TestNode, client: &NodeClient, profile: Option<&str>) -> String {
    let dir = common::repo_root().join("node/tests/guests/files");
    assert!(
        dir.join("files.wasm").exists(),
        "the files guest is missing: run scripts/setup.sh"
    );
    dock_built(client, &dir, node.data_dir.path(), profile).await
}

/// Runs `args`; the guest's one line of output.
async fn run(client: &NodeClient, id: &str, args: &[&str]) -> String {
    let out = call_args(client, id, args).await.expect("call");
    assert_eq!(out.exit_code, 0, "{args:?}: {}", out.stderr);
    out.stdout.trim_end().to_string()
}

/// What the sandbox's live workbook holds in `volume`: (path, contents).
fn stored(node: &TestNode, id: &str, volume: &str) -> Vec<(String, String)> {
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{id}.workbook"));
    volume_contents(&live)
        .into_iter()
        .filter(|(v, _, _)| v == volume)
        .map(|(_, path, data)| (path, String::from_utf8_lossy(&data).into_owned()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn std_fs_works_on_the_volumes_and_lands_in_the_workbook() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, None).await;

    // A volume keeps files; a directory lasts while a file is under it.
    assert_eq!(run(&admin, &id, &["mkdir", "/workspace/notes"]).await, "ok");
    assert_eq!(run(&admin, &id, &["ls", "/workspace"]).await, "");
    assert_eq!(
        run(&admin, &id, &["write", "/workspace/notes/a.txt", "alpha"]).await,
        "error 44"
    );
    assert_eq!(
        run(
            &admin,
            &id,
            &["write-in", "/workspace/notes", "a.txt", "alpha"]
        )
        .await,
        "ok"
    );

    assert_eq!(
        run(&admin, &id, &["append", "/workspace/notes/a.txt", "+beta"]).await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["read", "/workspace/notes/a.txt"]).await,
        "alpha+beta"
    );
    assert_eq!(
        run(&admin, &id, &["write", "/workspace/old.txt", "x"]).await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["ls", "/workspace"]).await,
        "notes/ old.txt"
    );
    assert_eq!(
        run(
            &admin,
            &id,
            &["mv", "/workspace/old.txt", "/workspace/new.txt"]
        )
        .await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["poke", "/workspace/new.txt", "3", "yz"]).await,
        "wrote at 3"
    );
    assert_eq!(run(&admin, &id, &["size", "/workspace/new.txt"]).await, "5");
    assert_eq!(
        run(&admin, &id, &["truncate", "/workspace/new.txt", "2"]).await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["write", "/memory/state", "kept"]).await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["rmdir", "/workspace/notes"]).await,
        "error 55",
        "not empty"
    );
    assert_eq!(
        run(&admin, &id, &["read", "/workspace/missing"]).await,
        "error 44"
    );

    assert_eq!(
        stored(&node, &id, "workspace"),
        pairs(&[("new.txt", "x\0"), ("notes/a.txt", "alpha+beta")])
    );
    assert_eq!(stored(&node, &id, "memory"), pairs(&[("state", "kept")]));
    assert_eq!(run(&admin, &id, &["rm", "/workspace/new.txt"]).await, "ok");
    assert_eq!(
        stored(&node, &id, "workspace"),
        pairs(&[("notes/a.txt", "alpha+beta")])
    );
    // The nexus_v1 vfs imports see the same files.
    assert_eq!(
        run(&admin, &id, &["vfs-read-all"]).await,
        "1 files, 10 bytes"
    );
    let info = admin.sandbox(&id).await.expect("info");
    let workspace = &info.volumes[0];
    assert_eq!(
        (workspace.volume.as_str(), workspace.files, workspace.bytes),
        ("workspace", 1, 10)
    );
    assert_eq!(workspace.quota_bytes, 256 << 20);
    // Nothing of the calls is left on the host.
    let mounts = node.data_dir.path().join("mounts");
    assert_eq!(std::fs::read_dir(mounts).expect("mounts").count(), 0);
}

#[tokio::test]
async fn files_survive_suspend_and_freeze_and_tmp_is_emptied_on_resume() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, None).await;
    assert_eq!(
        run(&admin, &id, &["write", "/workspace/w", "work"]).await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["write", "/memory/m", "mind"]).await,
        "ok"
    );
    assert_eq!(
        run(&admin, &id, &["write", "/tmp/t", "scratch"]).await,
        "ok"
    );
    assert_eq!(run(&admin, &id, &["read", "/tmp/t"]).await, "scratch");

    admin
        .transit(&id, Verb::Suspend, None)
        .await
        .expect("suspend");
    admin
        .transit(&id, Verb::Freeze, None)
        .await
        .expect("freeze");
    admin
        .transit(&id, Verb::Resume, None)
        .await
        .expect("resume");
    assert_eq!(run(&admin, &id, &["read", "/workspace/w"]).await, "work");
    assert_eq!(run(&admin, &id, &["read", "/memory/m"]).await, "mind");
    assert_eq!(run(&admin, &id, &["ls", "/tmp"]).await, "");
}

/// A resume skips opening the file for `tmp` when its suspend saw the
/// volume empty; whatever the suspend saw, and across a restart, a resumed
/// sandbox finds `/tmp` empty.
#[tokio::test]
async fn tmp_is_empty_after_every_resume_whatever_its_suspend_saw() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, None).await;
    let scratch = ["write", "/tmp/t", "scratch"];
    assert_eq!(run(&admin, &id, &["ls", "/tmp"]).await, "", "active now");
    for resume_by_call in [true, false] {
        // Suspended with an empty tmp: the resume may skip the file...
        suspend(&admin, &id, !resume_by_call).await;
        assert_eq!(run(&admin, &id, &scratch).await, "ok");
        assert_eq!(run(&admin, &id, &["ls", "/tmp"]).await, "t");
        // ...but not the next one: this suspend saw `t`.
        suspend(&admin, &id, !resume_by_call).await;
        assert_eq!(run(&admin, &id, &["ls", "/tmp"]).await, "");
        assert!(stored(&node, &id, "tmp").is_empty());
    }
    // A restart forgets what suspends saw: the file is checked.
    assert_eq!(run(&admin, &id, &scratch).await, "ok");
    suspend(&admin, &id, false).await;
    let node = node.restart().await;
    let admin = node.admin();
    assert_eq!(run(&admin, &id, &["ls", "/tmp"]).await, "");
    node.stop().await;
}

/// Suspends sandbox `id`, then resumes it with the verb if `resume`
/// (else the next call resumes it).
async fn suspend(admin: &NodeClient, id: &str, resume: bool) {
    let verbs: &[Verb] = match resume {
        true => &[Verb::Suspend, Verb::Resume],
        false => &[Verb::Suspend],
    };
    for verb in verbs {
        if let Err(e) = admin.transit(id, *verb, None).await {
            panic!("{}: {e:?}", verb.as_str());
        }
    }
}

#[tokio::test]
async fn paths_cannot_escape_and_links_are_refused() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, None).await;
    assert_eq!(
        run(&admin, &id, &["write", "/workspace/inside", "in"]).await,
        "ok"
    );
    for path in [
        "/workspace/../registry.db",
        "/workspace/../../admin.key",
        "/tmp/../workspace/inside",
        "/etc/passwd",
        "registry.db",
        "../admin.key",
    ] {
        let out = run(&admin, &id, &["read", path]).await;
        assert!(out.starts_with("error "), "{path}: {out}");
    }
    assert_eq!(
        run(&admin, &id, &["symlink", "../../admin.key", "key"]).await,
        EPERM
    );
    assert_eq!(
        run(&admin, &id, &["symlink", "inside", "alias"]).await,
        EPERM
    );
    assert_eq!(
        run(
            &admin,
            &id,
            &["link", "/workspace/inside", "/workspace/twin"]
        )
        .await,
        EPERM
    );
    assert_eq!(stored(&node, &id, "workspace"), pairs(&[("inside", "in")]));
    let denials = admin.sandbox(&id).await.expect("info").denials;
    assert_eq!(denials.by_capability.get("vfs"), Some(&3), "{denials:?}");
    assert!(
        denials
            .recent
            .iter()
            .any(|d| d.target.contains("symbolic link")),
        "{denials:?}"
    );
}

#[tokio::test]
async fn a_volume_quota_answers_edquot_and_an_overfull_call_keeps_nothing() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, Some("small")).await;
    // 16 chunks of 64 KiB fill the 1 MiB quota exactly; the 17th is refused.
    assert_eq!(
        run(&admin, &id, &["fill", "/workspace/big", "2000000"]).await,
        format!("wrote 1048576, then {EDQUOT}")
    );
    assert_eq!(
        run(&admin, &id, &["write", "/workspace/more", "x"]).await,
        EDQUOT
    );
    // Other volumes have their own quota.
    assert_eq!(
        run(&admin, &id, &["write", "/memory/m", "fine"]).await,
        "ok"
    );
    let info = admin.sandbox(&id).await.expect("info");
    let sizes: Vec<(String, u64, u64)> = info
        .volumes
        .iter()
        .map(|v| (v.volume.clone(), v.bytes, v.quota_bytes))
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("workspace".to_string(), 1 << 20, 1 << 20),
            ("memory".to_string(), 4, 1 << 20),
            ("tmp".to_string(), 0, 1 << 20),
        ]
    );

    // Growth that writes no bytes (a write far past the end) is caught
    // when the call's changes are written back: the call fails, nothing
    // it did is kept.
    assert_eq!(run(&admin, &id, &["rm", "/workspace/big"]).await, "ok");
    let err = call_args(&admin, &id, &["poke", "/tmp/sparse", "5000000", "x"])
        .await
        .expect_err("over quota");
    assert_eq!(err.code, "CALL_VOLUME_FULL");
    assert_eq!(
        err.message,
        "/tmp holds 5000001 bytes after the call, over its 1048576-byte quota; \
         nothing the call wrote was kept"
    );
    assert!(stored(&node, &id, "tmp").is_empty());
}

#[tokio::test]
async fn a_read_only_workspace_refuses_writes_and_tmp_stays_writable() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, Some("readonly")).await;
    let refused = run(&admin, &id, &["write", "/workspace/x", "no"]).await;
    assert_eq!(refused, EPERM);
    assert_eq!(run(&admin, &id, &["write", "/tmp/x", "yes"]).await, "ok");
    assert_eq!(run(&admin, &id, &["read", "/tmp/x"]).await, "yes");
    // The vfs imports respect it too.
    assert_eq!(
        run(&admin, &id, &["vfs-write-mib", "big", "1"]).await,
        "wrote 0 MiB, then error -2"
    );
    assert!(stored(&node, &id, "workspace").is_empty());
    let info = admin.sandbox(&id).await.expect("info");
    assert!(info.volumes[0].read_only && !info.volumes[2].read_only);
}

#[tokio::test]
async fn a_call_that_traps_keeps_none_of_its_writes() {
    let node = node().await;
    let admin = node.admin();
    let id = files(&node, &admin, None).await;
    let err = call_args(&admin, &id, &["write-then-trap", "/workspace/half", "done"])
        .await
        .expect_err("trap");
    assert_eq!(err.code, "CALL_TRAPPED");
    assert!(err.message.contains("trap after writing: Ok(())"), "{err}");
    assert!(stored(&node, &id, "workspace").is_empty());
    assert_eq!(
        run(&admin, &id, &["read", "/workspace/half"]).await,
        "error 44"
    );
}
