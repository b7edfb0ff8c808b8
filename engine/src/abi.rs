//! Host ABI v1: the import module, its functions by capability group, the
//! error codes they return and their limits. docs/guest-abi.md is the
//! guest-facing description of the same.

use super::capability::Capability;

/// The import module of host ABI v1.
pub const MODULE: &str = "nexus_v1";

/// A pointer/length pair is outside the guest's memory (or overflows), or
/// the module exports no `memory`.
pub const ERR_BOUNDS: i32 = -1;
/// Refused by policy: a path outside the volume, a capability not granted.
pub const ERR_DENIED: i32 = -2;
/// A key, value, path, message or buffer is over its cap.
pub const ERR_TOO_LARGE: i32 = -3;
/// No such key or file.
pub const ERR_NOT_FOUND: i32 = -4;
/// An argument is invalid: not UTF-8, unknown volume or log level, empty key.
pub const ERR_INVALID: i32 = -5;
/// The host's storage failed; the details are in the node's log.
pub const ERR_IO: i32 = -6;
/// Too many calls of this kind in this call (log lines).
pub const ERR_RATE: i32 = -7;
/// The queue is full, or the tenant has its maximum of queues.
pub const ERR_FULL: i32 = -8;
/// `net`: the host is (or resolves to) a loopback address.
pub const ERR_NET_LOOPBACK: i32 = -10;
/// `net`: a private address (RFC 1918, CGNAT, ULA).
pub const ERR_NET_PRIVATE: i32 = -11;
/// `net`: a link-local address (169.254/16 with cloud metadata, fe80::/10).
pub const ERR_NET_LINK_LOCAL: i32 = -12;
/// `net`: an unspecified, multicast, broadcast or reserved address.
pub const ERR_NET_RESERVED: i32 = -13;
/// `net`: not an `http://` URL.
pub const ERR_NET_SCHEME: i32 = -14;
/// `net`: the name does not resolve.
pub const ERR_NET_RESOLVE: i32 = -15;
/// `net`: connecting or talking HTTP failed.
pub const ERR_NET_CONNECT: i32 = -16;
/// `net`: the fetch passed its deadline.
pub const ERR_NET_TIMEOUT: i32 = -17;
/// `net`: too many redirects.
pub const ERR_NET_REDIRECTS: i32 = -18;

/// Longest `kv` key, in bytes.
pub const MAX_KEY: usize = 1024;
/// Largest `kv` value, in bytes.
pub const MAX_VALUE: usize = 1 << 20;
/// Longest `vfs` path, in bytes.
pub const MAX_PATH: usize = 1024;
/// Largest file written through `vfs_write`, in bytes.
pub const MAX_FILE: usize = 8 << 20;
/// Longest log message, in bytes.
pub const MAX_LOG: usize = 4096;
/// Most bytes one `random_fill` call fills.
pub const MAX_RANDOM: usize = 64 << 10;
/// Longest queue name, in bytes.
pub const MAX_QUEUE_NAME: usize = 128;
/// Longest message `sign_message` signs, in bytes.
pub const MAX_SIGN_MESSAGE: usize = 1 << 20;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Volume numbers of `vfs_*`: workspace, memory, tmp.
pub const VOLUMES: [&str; 3] = ["workspace", "memory", "tmp"];

/// Every function of host ABI v1 and the capability it needs.
pub const FUNCTIONS: &[(&str, Capability)] = &[
    ("log_write", Capability::Log),
    ("clock_now_ms", Capability::Clock),
    ("clock_monotonic_ns", Capability::Clock),
    ("random_fill", Capability::Random),
    ("kv_get", Capability::Kv),
    ("kv_set", Capability::Kv),
    ("kv_delete", Capability::Kv),
    ("vfs_read", Capability::Vfs),
    ("vfs_write", Capability::Vfs),
    ("vfs_list", Capability::Vfs),
    ("vfs_stat", Capability::Vfs),
    ("vfs_delete", Capability::Vfs),
    ("queue_push", Capability::Queue),
    ("queue_pop", Capability::Queue),
    ("queue_len", Capability::Queue),
    ("sign_message", Capability::Sign),
    ("sign_public_key", Capability::Sign),
    ("net_fetch", Capability::Net),
    ("net_read", Capability::Net),
];

/// The capability an import of [`MODULE`] needs: `Ok` for a function of
/// the ABI; otherwise `Err` with the capability named by its prefix, if any.
pub fn capability_of(name: &str) -> Result<Capability, Option<Capability>> {
    if let Some((_, cap)) = FUNCTIONS.iter().find(|(f, _)| *f == name) {
        return Ok(*cap);
    }
    let prefix = name.split('_').next().unwrap_or(name);
    Err(prefix.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_prefixed_by_their_group() {
        for (name, cap) in FUNCTIONS {
            assert!(name.starts_with(&format!("{cap}_")), "{name}");
            assert_eq!(capability_of(name), Ok(*cap));
        }
        assert_eq!(capability_of("queue_peek"), Err(Some(Capability::Queue)));
        assert_eq!(capability_of("kv_frob"), Err(Some(Capability::Kv)));
        assert_eq!(capability_of("exec_run"), Err(None));
    }
}
