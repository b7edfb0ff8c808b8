//! This node in the WireGuard mesh (`[mesh]`, crate `nexus-netctl`).
//!
//! At start the node loads (or makes) its key, creates its device and
//! records its public key and underlay endpoint in the registry, which
//! gives it a mesh address. A reconcile loop then turns the registry's
//! mesh records into the device: its own address and route, and one peer
//! per other node. When the device cannot be created (no `/dev/net/tun`,
//! no CAP_NET_ADMIN) the node runs without the mesh and says why: in its
//! log, in `nexus net status` and in `nexus status`.
//!
//! | module | what it holds |
//! |---|---|
//! | this file | [`MeshNode`]: the device (or why there is none) and what it was configured with. |
//! | `record` | This node's mesh record ([`MeshProposal`]), written when it differs. |
//! | `reconcile` | The loop from registry records to the device. |
//! | `status` | [`NetStatus`]: what `GET /v1/net/status` and `nexus net status` show. |

mod reconcile;
mod record;
mod status;

use std::net::Ipv4Addr;
use std::sync::Mutex;

use nexus_errors::{ErrorCode, UserError};
use nexus_netctl::{Device, MeshConfig, MeshError, MeshKey, PublicKeyBytes};
pub use nexus_transport::messages::MeshProposal;
use tracing::{error, info};

pub use reconcile::run as reconcile;
pub use record::keep_recorded;
pub use status::{NetPeer, NetReason, NetStatus};

use crate::cluster::join_record::JoinRecord;
use crate::config::Config;

/// This node's mesh: disabled, unavailable (with the reason) or up.
#[derive(Debug)]
pub struct MeshNode {
    node_id: u64,
    config: MeshConfig,
    state: State,
    /// The address the cluster granted at join (before this node's registry
    /// has caught up with its own record).
    granted: Option<Ipv4Addr>,
    /// The address the interface was given (once the registry gave one).
    address: Mutex<Option<Ipv4Addr>>,
}

#[derive(Debug)]
enum State {
    Disabled,
    Unavailable(MeshError),
    Up {
        device: Device,
        public_key: PublicKeyBytes,
        /// What this node records about itself.
        proposal: MeshProposal,
    },
}

impl MeshNode {
    /// Sets up the mesh of `config` (nothing when `[mesh] enabled` is
    /// false). A missing tun device or capability leaves the node running
    /// without the mesh; a setting that cannot work is an error.
    pub async fn start(config: &Config, api_port: u16) -> Result<MeshNode, UserError> {
        let mesh = config.mesh.clone();
        let node_id = config.node_id;
        if !mesh.enabled {
            return Ok(MeshNode::with(node_id, mesh, State::Disabled));
        }
        let key = MeshKey::load_or_create(&config.data_dir).map_err(|e| e.to_user_error())?;
        let proposal = config.mesh_proposal(key.public(), api_port)?;
        let state = match Device::create(&mesh, &key).await {
            Ok(device) => State::Up {
                device,
                public_key: key.public(),
                proposal,
            },
            Err(e) if e.code() == ErrorCode::MeshUnavailable => {
                error!(
                    code = e.code().as_str(),
                    reason = %e,
                    "the node runs without the mesh"
                );
                State::Unavailable(e)
            }
            Err(e) => return Err(e.to_user_error()),
        };
        if let State::Up { public_key, .. } = &state {
            info!(interface = %mesh.interface, %public_key, "mesh device up");
        }
        let granted = JoinRecord::load(&config.data_dir)?
            .and_then(|record| record.mesh_address)
            .and_then(|address| address.parse().ok());
        Ok(MeshNode {
            granted,
            ..MeshNode::with(node_id, mesh, state)
        })
    }

    fn with(node_id: u64, config: MeshConfig, state: State) -> MeshNode {
        MeshNode {
            node_id,
            config,
            state,
            granted: None,
            address: Mutex::new(None),
        }
    }

    /// What this node records in the registry, when its device is up.
    pub fn proposal(&self) -> Option<&MeshProposal> {
        match &self.state {
            State::Up { proposal, .. } => Some(proposal),
            _ => None,
        }
    }

    /// Why the mesh is enabled but not running, if it is not.
    pub fn unavailable(&self) -> Option<&MeshError> {
        match &self.state {
            State::Unavailable(e) => Some(e),
            _ => None,
        }
    }

    fn device(&self) -> Option<&Device> {
        match &self.state {
            State::Up { device, .. } => Some(device),
            _ => None,
        }
    }

    fn address(&self) -> Option<Ipv4Addr> {
        *self
            .address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_address(&self, address: Ipv4Addr) {
        *self
            .address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(address);
    }
}
