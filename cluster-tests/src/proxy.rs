//! [`FaultProxy`]: a TCP proxy in front of one node's Raft port that drops
//! the links a test cuts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which side of a partition each node is on; nodes on different sides
/// cannot talk. Shared by every proxy of a cluster.
#[derive(Clone, Default)]
pub struct Partition {
    sides: Arc<Mutex<HashMap<u64, u32>>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Partition {
    /// Puts `node` on a side of its own.
    pub fn isolate(&self, node: u64) {
        self.sides.lock().unwrap().insert(node, node as u32 + 1);
        self.changed.send_modify(|v| *v += 1);
    }

    /// Every node back on one side.
    pub fn heal(&self) {
        self.sides.lock().unwrap().clear();
        self.changed.send_modify(|v| *v += 1);
    }

    /// Whether `a` and `b` may talk.
    pub fn linked(&self, a: u64, b: u64) -> bool {
        let sides = self.sides.lock().unwrap();
        sides.get(&a).copied().unwrap_or(0) == sides.get(&b).copied().unwrap_or(0)
    }
}

/// Forwards connections to node `target` unless the sender (known by its
/// source address, `127.0.1.{id}`) is cut off from it.
pub struct FaultProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `listen` and forwards to `upstream`, node `target`'s port.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        target: u64,
        partition: Partition,
    ) -> FaultProxy {
        let listener = TcpListener::bind(listen).await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let task = tokio::spawn(async move {
            while let Ok((inbound, peer)) = listener.accept().await {
                let Some(sender) = node_of(peer.ip()) else {
                    continue;
                };
                let partition = partition.clone();
                tokio::spawn(relay(inbound, upstream, sender, target, partition));
            }
        });
        FaultProxy { addr, task }
    }

    /// The address peers dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The node id of a `127.0.1.{id}` address.
fn node_of(ip: IpAddr) -> Option<u64> {
    match ip {
        IpAddr::V4(v4) if v4.octets()[..3] == [127, 0, 1] => Some(u64::from(v4.octets()[3])),
        _ => None,
    }
}

/// Copies bytes both ways until either side closes or the link is cut.
async fn relay(
    mut inbound: TcpStream,
    upstream: SocketAddr,
    sender: u64,
    target: u64,
    partition: Partition,
) {
    let mut changes = partition.changed.subscribe();
    if !partition.linked(sender, target) {
        return;
    }
    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    loop {
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
            changed = changes.changed() => {
                if changed.is_err() || !partition.linked(sender, target) {
                    return;
                }
            }
        }
    }
}
