//! The WireGuard mesh on real network namespaces: three `nexus` processes,
//! each in its own namespace with only an underlay veth to a bridge; the
//! mesh comes up, every node pings the others' mesh addresses, `wg show`
//! reads each device, the cluster commits writes over the mesh, a node
//! whose underlay address changed is reached again, and a removed node's
//! peer leaves every device.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_cluster_tests::mesh::MeshCluster;
use nexus_cluster_tests::netns::Underlay;

/// `ping -c1 -W2 ADDR` from slot's namespace.
fn ping(cluster: &MeshCluster, slot: u8, address: &str) -> Result<(), String> {
    let out = cluster
        .underlay
        .exec(slot, "ping", &["-c1", "-W2", address]);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ping {address} from node {slot}: {}",
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// `wg show IFACE latest-handshakes` in slot's namespace: key → epoch s.
fn handshakes(cluster: &MeshCluster, slot: u8) -> Result<Vec<(String, u64)>, String> {
    let iface = cluster.node(slot).interface.clone();
    let out = cluster
        .underlay
        .exec(slot, "wg", &["show", &iface, "latest-handshakes"]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (key, at) = line.split_once('\t')?;
            Some((key.to_owned(), at.trim().parse().ok()?))
        })
        .collect())
}

/// The public key slot's node records (from `nexus net status`).
fn public_key(cluster: &MeshCluster, slot: u8) -> String {
    let status = cluster.cli_json(slot, &["net", "status"]).unwrap();
    status["public_key"].as_str().unwrap().to_owned()
}

/// Waits until every slot in `slots` pings every other slot's mesh address.
fn wait_pings(cluster: &MeshCluster, slots: &[u8]) {
    for &from in slots {
        for &to in slots.iter().filter(|&&to| to != from) {
            let address = cluster.node(to).mesh_address();
            cluster.wait(
                from,
                &format!("a ping to {address}"),
                Duration::from_secs(30),
                || ping(cluster, from, &address),
            );
        }
    }
}

/// Waits until slot's `wg show` lists exactly `keys`, each with a
/// handshake in the last three minutes.
fn wait_wg_peers(cluster: &MeshCluster, slot: u8, keys: &[String]) {
    cluster.wait(
        slot,
        "wg show to list its peers with recent handshakes",
        Duration::from_secs(30),
        || {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let mut seen = handshakes(cluster, slot)?;
            seen.sort();
            let mut want: Vec<&String> = keys.iter().collect();
            want.sort();
            let listed: Vec<&String> = seen.iter().map(|(k, _)| k).collect();
            if listed != want {
                return Err(format!("peers {listed:?}, want {want:?}"));
            }
            // boringtun answers the time *since* the handshake where the UAPI
            // asks for its Unix time; either way a recent one is under 180 s.
            let recent = |at: u64| at > 0 && (at < 180 || now.saturating_sub(at) < 180);
            match seen.iter().find(|(_, at)| !recent(*at)) {
                Some((key, at)) => Err(format!("peer {key} last handshake at {at}")),
                None => Ok(()),
            }
        },
    );
}

#[test]
fn three_namespaced_nodes_mesh_commit_over_it_roam_and_drop_a_removed_peer() {
    let mut cluster = MeshCluster::start(3);
    let keys: Vec<String> = (1..=3).map(|slot| public_key(&cluster, slot)).collect();

    // The mesh comes up: addresses in join order, pings both ways, and
    // `wg show` reads each device through its UAPI socket.
    for slot in 1..=3u8 {
        cluster.wait(slot, "its mesh address", Duration::from_secs(30), || {
            let status = cluster.cli_json(slot, &["net", "status"])?;
            match status["address"].as_str() {
                Some(a) if a == cluster.node(slot).mesh_address() => Ok(()),
                other => Err(format!("address {other:?}")),
            }
        });
    }
    wait_pings(&cluster, &[1, 2, 3]);
    for slot in 1..=3u8 {
        let others: Vec<String> = (1..=3u8)
            .filter(|&s| s != slot)
            .map(|s| keys[usize::from(s) - 1].clone())
            .collect();
        wait_wg_peers(&cluster, slot, &others);
    }
    let status = cluster.cli_json(1, &["net", "status"]).unwrap();
    let peers = status["peers"].as_array().unwrap();
    let mut ids: Vec<u64> = peers
        .iter()
        .map(|p| p["node_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(status["interface"], cluster.node(1).interface.as_str());

    // Every member advertises its mesh address, and writes commit over it.
    cluster.wait(
        1,
        "every member on its mesh address",
        Duration::from_secs(30),
        || {
            let status = cluster.cli_json(1, &["status"])?;
            let raft: Vec<String> = status["members"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| m["raft_addr"].as_str().unwrap_or_default().to_owned())
                .collect();
            let want: Vec<String> = (1..=3u8)
                .map(|s| format!("{}:2027", cluster.node(s).mesh_address()))
                .collect();
            if raft == want {
                Ok(())
            } else {
                Err(format!("members at {raft:?}"))
            }
        },
    );
    let sent_before = tx_bytes(&cluster, 2);
    let created = cluster
        .cli_json(2, &["tenant", "create", "over-the-mesh"])
        .unwrap();
    assert_eq!(created["tenant"]["name"], "over-the-mesh", "{created}");
    cluster.wait(3, "the tenant replicated", Duration::from_secs(30), || {
        let list = cluster.cli_json(3, &["tenant", "ls"])?;
        if list.to_string().contains("over-the-mesh") {
            Ok(())
        } else {
            Err(list.to_string())
        }
    });
    assert!(
        tx_bytes(&cluster, 2) > sent_before,
        "the write did not cross the mesh"
    );

    // Roaming: node 3's underlay moves to .13; restarted there, it records
    // its new endpoint and every node reaches it again.
    cluster.readdress_and_restart(3, 13);
    cluster.wait(
        3,
        "node 1 to learn node 3's new endpoint",
        Duration::from_secs(60),
        || {
            let status = cluster.cli_json(1, &["net", "status"])?;
            let peer = status["peers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["node_id"] == 3);
            match peer.and_then(|p| p["endpoint"].as_str()) {
                Some("172.31.250.13:51820") => Ok(()),
                other => Err(format!("endpoint {other:?}")),
            }
        },
    );
    wait_pings(&cluster, &[1, 2, 3]);

    // Removing node 3 removes its peer from every device.
    let removed = cluster.cli_json(1, &["node", "remove", "3"]).unwrap();
    assert_eq!(removed["id"], 3, "{removed}");
    for slot in 1..=2u8 {
        let other = keys[usize::from(3 - slot) - 1].clone();
        cluster.wait(slot, "node 3's peer gone", Duration::from_secs(15), || {
            let listed: Vec<String> = handshakes(&cluster, slot)?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            if listed == [other.clone()] {
                Ok(())
            } else {
                Err(format!("peers {listed:?}"))
            }
        });
    }
}

/// Bytes slot's device sent to its peers.
fn tx_bytes(cluster: &MeshCluster, slot: u8) -> u64 {
    let status = cluster.cli_json(slot, &["net", "status"]).unwrap();
    status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tx_bytes"].as_u64().unwrap())
        .sum()
}

#[test]
fn without_cap_net_admin_a_node_runs_without_the_mesh_and_says_why() {
    let underlay = Underlay::new(1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nexus.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"172.31.250.1:2026\"\ndata_dir = \"{}\"\n\n[mesh]\nenabled = true\n\
             interface = \"nxw{}-x\"\nendpoint = \"172.31.250.1:51820\"\n",
            dir.path().join("data").display(),
            underlay.suffix
        ),
    )
    .unwrap();
    let nexus = nexus_cluster_tests::nexus();
    let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
    let mut node = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            underlay.ns(1),
            "setpriv",
            "--bounding-set",
            "-net_admin",
            "--inh-caps",
            "-net_admin",
        ])
        .arg(&nexus)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let out = underlay.exec(
            1,
            nexus.to_str().unwrap(),
            &[
                "net",
                "status",
                "--json",
                "--config",
                config.to_str().unwrap(),
            ],
        );
        if out.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no net status: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = node.kill();
    let _ = node.wait();
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    assert_eq!(status["state"], "unavailable", "{status}");
    assert_eq!(status["reason"]["code"], "MESH_UNAVAILABLE", "{status}");
    let message = status["reason"]["message"].as_str().unwrap();
    assert!(message.contains("needs CAP_NET_ADMIN"), "{message}");
    assert!(log.contains("the node runs without the mesh"), "{log}");
}
