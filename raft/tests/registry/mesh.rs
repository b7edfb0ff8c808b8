//! The mesh records: addresses handed out in order and never reused, the
//! cluster's one prefix, keys unique, records of removed nodes gone.

use std::net::Ipv4Addr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use nexus_raft::{Command, MeshPorts, MeshRefusal, Registry, RegistryError, Response};

use super::fresh;

/// A key made of byte `n` (standard base64 of 32 bytes).
fn key(n: u8) -> String {
    STANDARD.encode([n; 32])
}

fn set(node_id: u64, public_key: &str, endpoint: &str, cidr: &str) -> Command {
    Command::SetMeshPeer {
        node_id,
        public_key: public_key.to_owned(),
        endpoint: endpoint.to_owned(),
        cidr: cidr.to_owned(),
        advertise: None,
        at_ms: 1,
    }
}

fn address(reg: &mut Registry, cmd: &Command) -> Ipv4Addr {
    match reg.apply(cmd).unwrap() {
        Response::MeshPeerSet(Some(peer)) => peer.address,
        other => panic!("expected a mesh record, got {other:?}"),
    }
}

fn refused(reg: &mut Registry, cmd: &Command) -> MeshRefusal {
    match reg.apply(cmd) {
        Err(RegistryError::Mesh(refusal)) => refusal,
        other => panic!("expected a mesh refusal, got {other:?}"),
    }
}

#[test]
fn addresses_are_handed_out_in_order_and_kept_across_records() {
    let mut reg = fresh();
    let cidr = "10.99.0.0/16";
    assert_eq!(
        address(&mut reg, &set(1, &key(1), "192.0.2.1:51820", cidr)),
        Ipv4Addr::new(10, 99, 0, 1)
    );
    assert_eq!(
        address(&mut reg, &set(2, &key(2), "192.0.2.2:51820", cidr)),
        Ipv4Addr::new(10, 99, 0, 2)
    );
    // A new endpoint (roaming) keeps the address.
    assert_eq!(
        address(&mut reg, &set(1, &key(1), "192.0.2.11:51820", cidr)),
        Ipv4Addr::new(10, 99, 0, 1)
    );
    let peers = reg.mesh_peers().unwrap();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0].endpoint, "192.0.2.11:51820");
    assert_eq!(reg.mesh_cidr().unwrap().as_deref(), Some(cidr));
}

#[test]
fn a_removed_nodes_address_is_freed_and_never_handed_out_again() {
    let mut reg = fresh();
    let cidr = "10.99.0.0/16";
    address(&mut reg, &set(1, &key(1), "192.0.2.1:51820", cidr));
    address(&mut reg, &set(2, &key(2), "192.0.2.2:51820", cidr));
    reg.apply(&Command::RemoveNode {
        node_id: 2,
        at_ms: 2,
    })
    .unwrap();
    assert_eq!(reg.mesh_peer(2).unwrap(), None);
    assert_eq!(
        address(&mut reg, &set(3, &key(3), "192.0.2.3:51820", cidr)),
        Ipv4Addr::new(10, 99, 0, 3)
    );
    // The removed node cannot record itself again.
    assert_eq!(
        reg.apply(&set(2, &key(2), "192.0.2.2:51820", cidr))
            .unwrap(),
        Response::MeshPeerSet(None)
    );
}

#[test]
fn the_first_record_fixes_the_prefix_and_others_are_refused() {
    let mut reg = fresh();
    address(
        &mut reg,
        &set(1, &key(1), "192.0.2.1:51820", "10.99.7.7/16"),
    );
    assert_eq!(
        refused(
            &mut reg,
            &set(2, &key(2), "192.0.2.2:51820", "10.98.0.0/16")
        ),
        MeshRefusal::CidrMismatch {
            cluster: "10.99.0.0/16".to_owned(),
            proposed: "10.98.0.0/16".to_owned()
        }
    );
    assert_eq!(
        refused(
            &mut reg,
            &set(2, &key(2), "192.0.2.2:51820", "10.99.0.0/31")
        ),
        MeshRefusal::CidrInvalid {
            cidr: "10.99.0.0/31".to_owned()
        }
    );
}

#[test]
fn keys_must_be_keys_and_belong_to_one_node() {
    let mut reg = fresh();
    let cidr = "10.99.0.0/16";
    address(&mut reg, &set(1, &key(1), "192.0.2.1:51820", cidr));
    assert_eq!(
        refused(&mut reg, &set(2, &key(1), "192.0.2.2:51820", cidr)),
        MeshRefusal::KeyTaken {
            public_key: key(1),
            node_id: 1
        }
    );
    assert_eq!(
        refused(&mut reg, &set(2, "short", "192.0.2.2:51820", cidr)),
        MeshRefusal::KeyInvalid {
            public_key: "short".to_owned()
        }
    );
}

#[test]
fn a_small_prefix_runs_out_and_says_so() {
    let mut reg = fresh();
    let cidr = "10.99.0.0/30";
    address(&mut reg, &set(1, &key(1), "192.0.2.1:51820", cidr));
    address(&mut reg, &set(2, &key(2), "192.0.2.2:51820", cidr));
    assert_eq!(
        refused(&mut reg, &set(3, &key(3), "192.0.2.3:51820", cidr)),
        MeshRefusal::Exhausted {
            cidr: cidr.to_owned()
        }
    );
}

#[test]
fn advertised_ports_give_the_nodes_mesh_addresses() {
    let mut reg = fresh();
    let cmd = Command::SetMeshPeer {
        node_id: 1,
        public_key: key(1),
        endpoint: "192.0.2.1:51820".to_owned(),
        cidr: "10.99.0.0/16".to_owned(),
        advertise: Some(MeshPorts {
            raft: 2027,
            api: 2026,
            bulk: 2027,
        }),
        at_ms: 1,
    };
    address(&mut reg, &cmd);
    let peer = reg.mesh_peer(1).unwrap().unwrap();
    assert_eq!(
        peer.advertised(),
        Some((
            "10.99.0.1:2027".to_owned(),
            "10.99.0.1:2026".to_owned(),
            "10.99.0.1:2027".to_owned()
        ))
    );
}
