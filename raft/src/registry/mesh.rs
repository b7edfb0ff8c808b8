//! The WireGuard mesh in the registry: each node's public key, underlay
//! endpoint and mesh address, and the address allocator (IPAM).
//!
//! A node records itself ([`Command::SetMeshPeer`](super::Command)) when it
//! starts and whenever its key or endpoint differs from its record. Its
//! first record gets the next address of the mesh prefix; later records
//! keep it. Addresses are handed out in order and never again: the
//! allocator only moves forward, so a removed node's address (its record
//! is deleted with the node) is never given to another node, whose packets
//! a stale peer list could otherwise still route to it. The first record
//! fixes the cluster's prefix; a node proposing another one is refused.

use std::net::Ipv4Addr;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::RegistryError;
use super::store::{from_db, to_db};

/// The ports a node serves on its mesh address when it advertises it
/// (`[cluster] advertise = "mesh"`): Raft, API and the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshPorts {
    /// Raft and node-to-node gRPC (TCP).
    pub raft: u16,
    /// The HTTP API (TCP).
    pub api: u16,
    /// The data plane (QUIC, UDP).
    pub bulk: u16,
}

/// One node's place in the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshPeer {
    /// The node.
    pub node_id: u64,
    /// Its WireGuard public key (base64).
    pub public_key: String,
    /// Where its device listens on the underlay (`host:port`).
    pub endpoint: String,
    /// Its mesh address.
    pub address: Ipv4Addr,
    /// The ports it serves on its mesh address, when it advertises it.
    pub advertise: Option<MeshPorts>,
    /// When it last changed its record, ms since the Unix epoch.
    pub updated_at_ms: u64,
}

impl MeshPeer {
    /// Its Raft, API and data-plane addresses on the mesh, when it
    /// advertises them.
    pub fn advertised(&self) -> Option<(String, String, String)> {
        self.advertise.map(|p| {
            (
                format!("{}:{}", self.address, p.raft),
                format!("{}:{}", self.address, p.api),
                format!("{}:{}", self.address, p.bulk),
            )
        })
    }
}

/// Why a mesh record was refused. Deterministic: every replica reaches the
/// same verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum MeshRefusal {
    /// The prefix is not an IPv4 `a.b.c.d/n` with room for two nodes.
    #[error("mesh prefix {cidr:?} is not an IPv4 prefix of /30 or wider")]
    CidrInvalid {
        /// The prefix proposed.
        cidr: String,
    },
    /// The cluster's mesh uses another prefix.
    #[error("the cluster's mesh prefix is {cluster}, not {proposed}")]
    CidrMismatch {
        /// The prefix the registry fixed.
        cluster: String,
        /// The prefix proposed.
        proposed: String,
    },
    /// The public key is not 32 bytes of standard base64.
    #[error("mesh public key {public_key:?} is not a WireGuard key")]
    KeyInvalid {
        /// The key proposed.
        public_key: String,
    },
    /// Another node has this public key.
    #[error("mesh public key {public_key} belongs to node {node_id}")]
    KeyTaken {
        /// The key proposed.
        public_key: String,
        /// The node that has it.
        node_id: u64,
    },
    /// Every address of the prefix was handed out.
    #[error("mesh prefix {cidr} has no address left (addresses are never reused)")]
    Exhausted {
        /// The prefix.
        cidr: String,
    },
}

/// A parsed IPv4 prefix: its network address and length.
fn parse_cidr(cidr: &str) -> Option<(u32, u8)> {
    let (ip, len) = cidr.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    if len > 30 {
        return None;
    }
    let mask = u32::MAX.checked_shl(u32::from(32 - len)).unwrap_or(0);
    Some((u32::from(ip) & mask, len))
}

/// The standard base64 of 32 bytes: 43 characters of the alphabet and `=`.
fn is_key(s: &str) -> bool {
    s.len() == 44
        && s.ends_with('=')
        && s[..43]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        // The last character carries 2 bits of padding that must be zero.
        && "AEIMQUYcgkosw048".contains(char::from(s.as_bytes()[42]))
}

/// Records `node_id`'s key and endpoint (and advertised ports), giving it
/// an address on its first record. `None` for a removed node.
pub(crate) fn set(
    conn: &Connection,
    peer: PeerProposal<'_>,
    at_ms: u64,
) -> Result<Option<MeshPeer>, RegistryError> {
    let removed: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM revoked_nodes WHERE id = ?1)")?
        .query_row([to_db(peer.node_id)], |r| r.get(0))?;
    if removed {
        return Ok(None);
    }
    let Some((network, len)) = parse_cidr(peer.cidr) else {
        return Err(MeshRefusal::CidrInvalid {
            cidr: peer.cidr.to_owned(),
        }
        .into());
    };
    let canonical = format!("{}/{len}", Ipv4Addr::from(network));
    if !is_key(peer.public_key) {
        return Err(MeshRefusal::KeyInvalid {
            public_key: peer.public_key.to_owned(),
        }
        .into());
    }
    let holder: Option<i64> = conn
        .query_row(
            "SELECT id FROM mesh_peers WHERE public_key = ?1 AND id <> ?2",
            (peer.public_key, to_db(peer.node_id)),
            |r| r.get(0),
        )
        .optional()?;
    if let Some(holder) = holder {
        return Err(MeshRefusal::KeyTaken {
            public_key: peer.public_key.to_owned(),
            node_id: from_db(holder),
        }
        .into());
    }
    let ipam: Option<(String, i64)> = conn
        .query_row("SELECT cidr, next_offset FROM mesh_ipam", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((cluster, _)) = &ipam {
        if *cluster != canonical {
            return Err(MeshRefusal::CidrMismatch {
                cluster: cluster.clone(),
                proposed: canonical,
            }
            .into());
        }
    }
    let address = match get(conn, peer.node_id)? {
        Some(existing) => existing.address,
        None => {
            let next = ipam.map_or(1, |(_, next)| from_db(next));
            // The network's last address is its broadcast address.
            let hosts = (1u64 << (32 - u32::from(len))) - 2;
            if next > hosts {
                return Err(MeshRefusal::Exhausted { cidr: canonical }.into());
            }
            conn.prepare_cached(
                "INSERT INTO mesh_ipam (id, cidr, next_offset) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET next_offset = ?2",
            )?
            .execute((&canonical, to_db(next + 1)))?;
            Ipv4Addr::from(network + u32::try_from(next).unwrap_or(0))
        }
    };
    let record = MeshPeer {
        node_id: peer.node_id,
        public_key: peer.public_key.to_owned(),
        endpoint: peer.endpoint.to_owned(),
        address,
        advertise: peer.advertise,
        updated_at_ms: at_ms,
    };
    let ports = record
        .advertise
        .map(|p| serde_json::to_string(&p))
        .transpose()
        .map_err(|e| RegistryError::Codec(format!("mesh ports: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO mesh_peers (id, public_key, endpoint, address, advertise, updated_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO UPDATE SET public_key = ?2, endpoint = ?3, advertise = ?5, \
         updated_at_ms = ?6",
    )?
    .execute((
        to_db(record.node_id),
        &record.public_key,
        &record.endpoint,
        record.address.to_string(),
        ports,
        to_db(at_ms),
    ))?;
    Ok(Some(record))
}

/// What a node proposes about itself.
pub(crate) struct PeerProposal<'a> {
    pub node_id: u64,
    pub public_key: &'a str,
    pub endpoint: &'a str,
    pub cidr: &'a str,
    pub advertise: Option<MeshPorts>,
}

/// Deletes a removed node's record (its address stays used).
pub(crate) fn forget(conn: &Connection, node_id: u64) -> Result<(), RegistryError> {
    conn.prepare_cached("DELETE FROM mesh_peers WHERE id = ?1")?
        .execute([to_db(node_id)])?;
    Ok(())
}

const COLS: &str = "id, public_key, endpoint, address, advertise, updated_at_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(MeshPeer, Option<String>)> {
    let address: String = r.get(3)?;
    let peer = MeshPeer {
        node_id: from_db(r.get(0)?),
        public_key: r.get(1)?,
        endpoint: r.get(2)?,
        address: address.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
        advertise: None,
        updated_at_ms: from_db(r.get(5)?),
    };
    Ok((peer, r.get(4)?))
}

fn decode((peer, ports): (MeshPeer, Option<String>)) -> Result<MeshPeer, RegistryError> {
    let advertise = ports
        .map(|p| serde_json::from_str(&p))
        .transpose()
        .map_err(|e| RegistryError::Codec(format!("mesh ports of node {}: {e}", peer.node_id)))?;
    Ok(MeshPeer { advertise, ..peer })
}

/// One node's record.
pub(crate) fn get(conn: &Connection, node_id: u64) -> Result<Option<MeshPeer>, RegistryError> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM mesh_peers WHERE id = ?1"))?
        .query_row([to_db(node_id)], row)
        .optional()?
        .map(decode)
        .transpose()
}

/// Every node's record, by node id.
pub(crate) fn list(conn: &Connection) -> Result<Vec<MeshPeer>, RegistryError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM mesh_peers ORDER BY id"))?;
    let rows = stmt.query_map([], row)?;
    rows.map(|r| decode(r?)).collect()
}

/// The cluster's mesh prefix, once a node recorded itself.
pub(crate) fn cidr(conn: &Connection) -> Result<Option<String>, RegistryError> {
    Ok(conn
        .query_row("SELECT cidr FROM mesh_ipam", [], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_parsed_to_their_network() {
        assert_eq!(
            parse_cidr("10.99.1.7/16"),
            Some((u32::from(Ipv4Addr::new(10, 99, 0, 0)), 16))
        );
        assert_eq!(parse_cidr("10.99.0.0/31"), None);
        assert_eq!(parse_cidr("fd00::/64"), None);
        assert_eq!(parse_cidr("10.99.0.0"), None);
    }

    #[test]
    fn only_32_byte_base64_keys_are_keys() {
        assert!(is_key("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="));
        assert!(!is_key("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgJ="));
        assert!(!is_key("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=="));
        assert!(!is_key("not a key"));
    }
}
