//! [`knock`]: a real TLS client (`openssl s_client`) at a node's port.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

/// What `openssl s_client` made of a handshake.
#[derive(Debug)]
pub struct Knock {
    /// Whether s_client exited successfully.
    pub success: bool,
    /// Its stdout and stderr.
    pub output: String,
}

/// Connects to `port` asking for ALPN h2 and server name `n{node}`,
/// presenting the certificate and key in `identity` (a `tls/` dir) if
/// given. In TLS 1.3 the client finishes its side of the handshake before
/// the server has checked the client's certificate, so a refusal arrives
/// as an alert afterwards: `until_closed` keeps reading (`-ign_eof`) until
/// the server hangs up, bounded by 10 s.
pub fn knock(port: SocketAddr, node: u64, identity: Option<&Path>, until_closed: bool) -> Knock {
    let mut command = Command::new("timeout");
    command
        .args(["10", "openssl", "s_client", "-connect", &port.to_string()])
        .args([
            "-servername",
            &format!("n{node}.nexus.internal"),
            "-alpn",
            "h2",
        ])
        .stdin(Stdio::null());
    if until_closed {
        command.arg("-ign_eof");
    }
    if let Some(dir) = identity {
        command
            .arg("-cert")
            .arg(dir.join("node.pem"))
            .arg("-key")
            .arg(dir.join("node.key"));
    }
    let out = command.output().expect("run openssl s_client");
    Knock {
        success: out.status.success(),
        output: combined(&out),
    }
}

/// A finished process's stdout followed by its stderr, as text.
pub(crate) fn combined(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether a knock's output shows the server refusing the client's
/// certificate (unknown CA, or a node it no longer admits).
pub fn refused_certificate(knock: &Knock) -> bool {
    [
        "alert certificate unknown",
        "alert unknown ca",
        "alert bad certificate",
    ]
    .iter()
    .any(|alert| knock.output.contains(alert))
}
