//! Host ABI v1 as the engine sees it: the functions of the import module by
//! capability group. The codes, limits, volumes and message codec shared
//! with guests live in the `nexus-abi` crate (re-exported here);
//! docs/guest-abi.md is the guest-facing description of the same.

pub use nexus_abi::error::*;
pub use nexus_abi::limits::*;
pub use nexus_abi::MODULE;

use super::capability::Capability;

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
    ("fabric_map", Capability::Fabric),
    ("fabric_read", Capability::Fabric),
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
