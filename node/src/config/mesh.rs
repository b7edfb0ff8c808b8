//! `[mesh]` in `nexus.toml` ([`MeshConfig`], from `nexus-netctl`) and what
//! a node so configured records about itself in the mesh.

use nexus_errors::{ErrorCode, UserError};
use nexus_netctl::PublicKeyBytes;
use nexus_raft::MeshPorts;
use nexus_transport::messages::MeshProposal;

use super::{Advertise, Config};

impl Config {
    /// What this node, with this public key and API port, records about
    /// itself in the mesh.
    pub fn mesh_proposal(
        &self,
        public_key: PublicKeyBytes,
        api_port: u16,
    ) -> Result<MeshProposal, UserError> {
        let advertise = match self.cluster.advertise {
            Advertise::Mesh => {
                let raft = self.cluster.raft_listen.map(|a| a.port()).ok_or_else(|| {
                    invalid("[cluster] advertise = \"mesh\" needs [cluster] raft_listen")
                })?;
                Some(MeshPorts {
                    raft,
                    api: api_port,
                    bulk: raft,
                })
            }
            Advertise::Underlay => None,
        };
        Ok(MeshProposal {
            public_key: public_key.to_base64(),
            endpoint: self.mesh_endpoint()?,
            cidr: self.mesh.cidr.to_string(),
            advertise,
        })
    }

    /// Where peers reach this node's device: `[mesh] endpoint`, or the host
    /// of the advertised (or listened-on) Raft address with `[mesh]
    /// listen_port`.
    fn mesh_endpoint(&self) -> Result<String, UserError> {
        if let Some(endpoint) = &self.mesh.endpoint {
            return Ok(endpoint.clone());
        }
        let from_raft = self
            .cluster
            .advertise_raft
            .as_deref()
            .and_then(|a| a.rsplit_once(':').map(|(host, _)| host.to_owned()))
            .or_else(|| {
                self.cluster
                    .raft_listen
                    .map(|a| a.ip())
                    .filter(|ip| !ip.is_unspecified())
                    .map(|ip| ip.to_string())
            });
        match from_raft {
            Some(host) => Ok(format!("{host}:{}", self.mesh.listen_port)),
            None => Err(invalid(
                "[mesh] endpoint is unset and no [cluster] advertise_raft or specific raft_listen \
                 address says where peers reach this node",
            )),
        }
    }
}

fn invalid(message: &str) -> UserError {
    UserError::new(ErrorCode::MeshConfigInvalid, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_defaults_to_the_raft_host_and_the_mesh_port() {
        let mut config = Config::default();
        config.cluster.advertise_raft = Some("192.0.2.7:2027".to_owned());
        let proposal = config.mesh_proposal(PublicKeyBytes([1; 32]), 2026).unwrap();
        assert_eq!(proposal.endpoint, "192.0.2.7:51820");
        assert_eq!(proposal.cidr, "10.99.0.0/16");
        assert_eq!(proposal.advertise, None);
    }

    #[test]
    fn a_node_without_a_reachable_address_is_told_to_set_the_endpoint() {
        let err = Config::default()
            .mesh_proposal(PublicKeyBytes([1; 32]), 2026)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::MeshConfigInvalid);
        assert!(
            err.message.starts_with("[mesh] endpoint is unset"),
            "{}",
            err.message
        );
    }

    #[test]
    fn advertising_the_mesh_needs_the_raft_port() {
        let mut config = Config::default();
        config.mesh.endpoint = Some("192.0.2.7:51820".to_owned());
        config.cluster.advertise = Advertise::Mesh;
        let err = config
            .mesh_proposal(PublicKeyBytes([1; 32]), 2026)
            .unwrap_err();
        assert_eq!(
            err.message,
            "[cluster] advertise = \"mesh\" needs [cluster] raft_listen"
        );
        config.cluster.raft_listen = Some("0.0.0.0:2027".parse().unwrap());
        let ports = config
            .mesh_proposal(PublicKeyBytes([1; 32]), 2026)
            .unwrap()
            .advertise;
        assert_eq!(
            ports,
            Some(MeshPorts {
                raft: 2027,
                api: 2026,
                bulk: 2027
            })
        );
    }
}
