//! The Nexus mesh network: a userspace WireGuard device (boringtun) per
//! node, its key pair, and reconciling its peers with what the registry
//! says. The registry (in `nexus-raft`) holds each node's public key,
//! underlay endpoint and mesh address; the node crate runs the loop that
//! reads it and calls [`Device::reconcile`].
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `config` | [`MeshConfig`]: `[mesh]` in `nexus.toml`. |
//! | `key` | [`MeshKey`]: the node's x25519 key pair, its private half in a 0600 file of the data dir; [`PublicKeyBytes`] in base64 and hex. |
//! | `device` | [`Device`]: the boringtun device, its UAPI socket (what `wg show` reads), key and port. |
//! | `link` | The interface's address, MTU and route over rtnetlink. |
//! | `uapi` | [`Uapi`]: the WireGuard UAPI text protocol over the device's unix socket; [`DeviceState`] as `get=1` reports it. |
//! | `plan` | [`plan`]: the remove/add steps from the device's peers to the desired ones (never an in-place update). |
//! | `error` | [`MeshError`]: what failed, mapped to catalog codes. |

#![deny(missing_docs)]

mod config;
mod device;
mod error;
mod key;
mod link;
mod plan;
mod uapi;

pub use config::MeshConfig;
pub use device::Device;
pub use error::MeshError;
pub use key::{MeshKey, PublicKeyBytes, KEY_FILE};
pub use plan::{plan, DesiredPeer, Step};
pub use uapi::{parse_get, socket_path, DeviceState, PeerState, Uapi, SOCKET_DIR};
