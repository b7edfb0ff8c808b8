//! The userspace WireGuard device: a boringtun [`DeviceHandle`] with its
//! UAPI socket at `/var/run/wireguard/<interface>.sock` (so `wg show`
//! reads it), this node's private key and listen port set through that
//! socket, and its address and route set over netlink once the registry
//! has given it one.
//!
//! Creating the device needs `/dev/net/tun` and CAP_NET_ADMIN; without
//! them [`Device::create`] says which is missing ([`MeshError::NoTun`],
//! [`MeshError::NotPermitted`]). boringtun's `drop_privileges` is never
//! called (it fails in containers and would stop the node reconfiguring
//! the device).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use boringtun::device::{DeviceConfig, DeviceHandle};
use ipnet::Ipv4Net;
use tracing::info;

use crate::config::MeshConfig;
use crate::error::MeshError;
use crate::key::{MeshKey, PublicKeyBytes};
use crate::link;
use crate::plan::{plan, DesiredPeer, Step};
use crate::uapi::{DeviceState, Uapi};

/// The character device every tun interface is made through.
const TUN_PATH: &str = "/dev/net/tun";

/// A running mesh device; dropping it stops the device and removes the
/// interface and its UAPI socket.
pub struct Device {
    interface: String,
    uapi: Uapi,
    /// The endpoint each peer was last added with (a peer's endpoint as
    /// the device reports it may be one it learned by roaming).
    configured: Mutex<BTreeMap<PublicKeyBytes, String>>,
    _handle: DeviceHandle,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Creates the interface, sets the private key and listen port.
    pub async fn create(config: &MeshConfig, key: &MeshKey) -> Result<Device, MeshError> {
        check_tun()?;
        let device_config = DeviceConfig {
            n_threads: config.threads.max(1),
            use_connected_socket: true,
            use_multi_queue: true,
            uapi_fd: -1,
        };
        let handle = DeviceHandle::new(&config.interface, device_config)
            .map_err(|e| create_error(&config.interface, e))?;
        let device = Device {
            interface: config.interface.clone(),
            uapi: Uapi::new(&config.interface),
            configured: Mutex::new(BTreeMap::new()),
            _handle: handle,
        };
        device
            .uapi
            .set(&[
                format!("private_key={}", key.private_hex()),
                format!("listen_port={}", config.listen_port),
            ])
            .await
            .map_err(|e| match e {
                MeshError::Uapi(m) => MeshError::Device(format!(
                    "cannot listen on UDP port {} (in use?): {m}",
                    config.listen_port
                )),
                other => other,
            })?;
        info!(interface = %config.interface, port = config.listen_port, "mesh device created");
        Ok(device)
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Gives the interface its mesh address, brings it up and routes the
    /// mesh prefix into it.
    pub async fn set_address(
        &self,
        address: Ipv4Addr,
        cidr: Ipv4Net,
        mtu: u32,
    ) -> Result<(), MeshError> {
        link::configure(&self.interface, address, cidr, mtu).await
    }

    /// The device's state and peer statistics.
    pub async fn state(&self) -> Result<DeviceState, MeshError> {
        self.uapi.get().await
    }

    /// Makes the device's peers equal `desired` (removing, then adding);
    /// returns the steps taken.
    pub async fn reconcile(&self, desired: &[DesiredPeer]) -> Result<Vec<Step>, MeshError> {
        let current = self.uapi.get().await?;
        let configured = self.configured_endpoints();
        let steps = plan(desired, &current.peers, &configured);
        for step in &steps {
            self.uapi.set(&step.lines()).await?;
            let mut configured = self
                .configured
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match step {
                Step::Remove(key) => {
                    configured.remove(key);
                }
                Step::Add(peer) => {
                    configured.insert(peer.public_key, peer.endpoint.clone());
                }
            }
        }
        Ok(steps)
    }

    fn configured_endpoints(&self) -> BTreeMap<PublicKeyBytes, String> {
        self.configured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Whether the tun device node exists and can be opened.
fn check_tun() -> Result<(), MeshError> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TUN_PATH)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(MeshError::NoTun(format!(
            "{TUN_PATH} does not exist (in a container: --device /dev/net/tun)"
        ))),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(MeshError::NoTun(format!(
            "{TUN_PATH} cannot be opened: {e} (the node's user needs read and write access)"
        ))),
        Err(e) => Err(MeshError::NoTun(format!(
            "{TUN_PATH} cannot be opened: {e}"
        ))),
    }
}

fn create_error(interface: &str, e: boringtun::device::Error) -> MeshError {
    let os = match &e {
        boringtun::device::Error::IOCtl(io)
        | boringtun::device::Error::Socket(io)
        | boringtun::device::Error::IoError(io) => io.raw_os_error(),
        _ => None,
    };
    if os == Some(1) {
        return MeshError::NotPermitted(format!(
            "cannot create interface {interface}: operation not permitted (the node needs CAP_NET_ADMIN)"
        ));
    }
    MeshError::Device(format!("cannot create interface {interface}: {e}"))
}
