//! The device's configuration socket: the WireGuard cross-platform UAPI
//! text protocol over `/var/run/wireguard/<interface>.sock`, the same
//! socket `wg show` and `wg set` use.
//!
//! A request is `get=1` or `set=1`, `key=value` lines and a blank line; the
//! answer ends with `errno=N` (0 is success). One request per connection.
//! boringtun panics when a `set` names a peer it already has, and it does
//! not reset a peer's `remove` flag between two sections of one request,
//! so a changed peer is removed in one request and added in the next
//! ([`crate::plan`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::MeshError;
use crate::key::PublicKeyBytes;

/// Where boringtun serves the UAPI of each device (fixed by boringtun).
pub const SOCKET_DIR: &str = "/var/run/wireguard";

/// How long one UAPI request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Largest answer read from the socket (a `get` of a few thousand peers).
const MAX_ANSWER_BYTES: u64 = 4 << 20;

/// The UAPI socket of `interface`.
pub fn socket_path(interface: &str) -> PathBuf {
    Path::new(SOCKET_DIR).join(format!("{interface}.sock"))
}

/// One peer as the device reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerState {
    /// Its public key.
    pub public_key: PublicKeyBytes,
    /// Where the device sends its packets (learned or configured).
    pub endpoint: Option<String>,
    /// The addresses routed to it (`a.b.c.d/n`).
    pub allowed_ips: Vec<String>,
    /// Seconds between keepalives, if set.
    pub persistent_keepalive: Option<u16>,
    /// Time since the last completed handshake, if any.
    pub since_handshake: Option<Duration>,
    /// Bytes received from it.
    pub rx_bytes: u64,
    /// Bytes sent to it.
    pub tx_bytes: u64,
}

/// The device as `get=1` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// Its own public key, once a private key is set.
    pub public_key: Option<PublicKeyBytes>,
    /// Its UDP listen port.
    pub listen_port: Option<u16>,
    /// Its peers, in the device's order.
    pub peers: Vec<PeerState>,
}

/// A client of one device's UAPI socket.
#[derive(Debug, Clone)]
pub struct Uapi {
    path: PathBuf,
}

impl Uapi {
    /// The client of `interface`'s socket.
    pub fn new(interface: &str) -> Uapi {
        Uapi {
            path: socket_path(interface),
        }
    }

    /// Reads the device's configuration and peer statistics.
    pub async fn get(&self) -> Result<DeviceState, MeshError> {
        let answer = self.request("get=1\n\n").await?;
        parse_get(&answer)
    }

    /// Sends one `set` request made of `lines` (`key=value`, no newlines).
    pub async fn set(&self, lines: &[String]) -> Result<(), MeshError> {
        let mut request = String::from("set=1\n");
        for line in lines {
            request.push_str(line);
            request.push('\n');
        }
        request.push('\n');
        let answer = self.request(&request).await?;
        errno(&answer).and_then(|n| match n {
            0 => Ok(()),
            n => Err(MeshError::Uapi(format!(
                "{} refused a set request (errno={n})",
                self.path.display()
            ))),
        })
    }

    async fn request(&self, request: &str) -> Result<String, MeshError> {
        let exchange = async {
            let mut stream = UnixStream::connect(&self.path).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut answer = String::new();
            stream
                .take(MAX_ANSWER_BYTES)
                .read_to_string(&mut answer)
                .await?;
            Ok::<_, std::io::Error>(answer)
        };
        match tokio::time::timeout(TIMEOUT, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(MeshError::Uapi(format!("{}: {e}", self.path.display()))),
            Err(_) => Err(MeshError::Uapi(format!(
                "{} did not answer within {TIMEOUT:?}",
                self.path.display()
            ))),
        }
    }
}

/// The `errno=N` an answer ends with.
fn errno(answer: &str) -> Result<i32, MeshError> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("errno="))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| MeshError::Uapi(format!("answer without errno: {answer:?}")))
}

/// Parses the answer to `get=1`.
pub fn parse_get(answer: &str) -> Result<DeviceState, MeshError> {
    match errno(answer)? {
        0 => {}
        n => return Err(MeshError::Uapi(format!("get refused (errno={n})"))),
    }
    let mut state = DeviceState::default();
    let mut handshake_sec: Option<u64> = None;
    for line in answer.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| MeshError::Uapi(format!("{key}={value:?} is not a number")))
        };
        match key {
            "own_public_key" => state.public_key = Some(PublicKeyBytes::from_hex(value)?),
            "listen_port" => state.listen_port = value.parse().ok(),
            "public_key" => state.peers.push(PeerState {
                public_key: PublicKeyBytes::from_hex(value)?,
                endpoint: None,
                allowed_ips: Vec::new(),
                persistent_keepalive: None,
                since_handshake: None,
                rx_bytes: 0,
                tx_bytes: 0,
            }),
            _ => {
                let Some(peer) = state.peers.last_mut() else {
                    continue;
                };
                match key {
                    "endpoint" => peer.endpoint = Some(value.to_owned()),
                    "allowed_ip" => peer.allowed_ips.push(value.to_owned()),
                    "persistent_keepalive_interval" => {
                        peer.persistent_keepalive = value.parse().ok()
                    }
                    "last_handshake_time_sec" => handshake_sec = Some(number()?),
                    "last_handshake_time_nsec" => {
                        let nanos = u32::try_from(number()?).unwrap_or(0);
                        peer.since_handshake =
                            Some(Duration::new(handshake_sec.take().unwrap_or(0), nanos));
                    }
                    "rx_bytes" => peer.rx_bytes = number()?,
                    "tx_bytes" => peer.tx_bytes = number()?,
                    _ => {}
                }
            }
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_answer_is_parsed_into_peers_and_statistics() {
        let a = "0a".repeat(32);
        let b = "0b".repeat(32);
        let answer = format!(
            "own_public_key={a}\nlisten_port=51820\npublic_key={b}\n\
             persistent_keepalive_interval=25\nendpoint=192.0.2.2:51820\n\
             allowed_ip=10.99.0.2/32\nlast_handshake_time_sec=3\n\
             last_handshake_time_nsec=500\nrx_bytes=92\ntx_bytes=148\nerrno=0\n\n"
        );
        let state = parse_get(&answer).unwrap();
        assert_eq!(state.public_key, Some(PublicKeyBytes([10; 32])));
        assert_eq!(state.listen_port, Some(51820));
        assert_eq!(
            state.peers,
            vec![PeerState {
                public_key: PublicKeyBytes([11; 32]),
                endpoint: Some("192.0.2.2:51820".to_owned()),
                allowed_ips: vec!["10.99.0.2/32".to_owned()],
                persistent_keepalive: Some(25),
                since_handshake: Some(Duration::new(3, 500)),
                rx_bytes: 92,
                tx_bytes: 148,
            }]
        );
    }

    #[test]
    fn a_refused_request_names_its_errno() {
        assert_eq!(
            parse_get("errno=22\n\n").unwrap_err().to_string(),
            "mesh uapi failed: get refused (errno=22)"
        );
        assert_eq!(
            parse_get("").unwrap_err().to_string(),
            "mesh uapi failed: answer without errno: \"\""
        );
    }
}
