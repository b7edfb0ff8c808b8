//! Capabilities: groups of host imports a profile may grant. A group is
//! reachable by a guest only when its profile grants it; a module importing a
//! function of an ungranted group fails to instantiate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One capability group of host ABI v1 (see docs/guest-abi.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Files in the sandbox's own volumes.
    Vfs,
    /// The sandbox's key-value store.
    Kv,
    /// The node's structured log, tagged with the sandbox id.
    Log,
    /// Wall and monotonic clocks.
    Clock,
    /// Cryptographically secure random bytes.
    Random,
    /// Bounded per-tenant FIFO queues.
    Queue,
    /// Signing with a host-held per-tenant key.
    Sign,
    /// HTTP through the SSRF-guarded broker.
    Net,
    /// Fanning a kernel of the workbook out over inputs (the node's fabric).
    Fabric,
}

impl Capability {
    /// Every capability, in display order.
    pub const ALL: [Capability; 9] = [
        Capability::Vfs,
        Capability::Kv,
        Capability::Log,
        Capability::Clock,
        Capability::Random,
        Capability::Queue,
        Capability::Sign,
        Capability::Net,
        Capability::Fabric,
    ];

    /// The name used in profiles and as the import-name prefix (`kv_get`).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Vfs => "vfs",
            Capability::Kv => "kv",
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Random => "random",
            Capability::Queue => "queue",
            Capability::Sign => "sign",
            Capability::Net => "net",
            Capability::Fabric => "fabric",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown capability name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown capability `{0}`; use one of vfs, kv, log, clock, random, queue, sign, net, fabric"
)]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCapability(s.to_string()))
    }
}

/// A set of capabilities; serialized as a list of names.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u16);

impl Capabilities {
    /// No capabilities.
    pub const NONE: Capabilities = Capabilities(0);

    /// The set of `caps`.
    pub fn of(caps: &[Capability]) -> Capabilities {
        caps.iter().fold(Capabilities::NONE, |s, c| s.with(*c))
    }

    /// This set plus `cap`.
    pub fn with(self, cap: Capability) -> Capabilities {
        Capabilities(self.0 | cap.bit())
    }

    /// This set plus every capability of `other`.
    pub fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// The capabilities in the set, in display order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|c| c.as_str()))
            .finish()
    }
}

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|c| c.as_str()))
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names.iter().try_fold(Capabilities::NONE, |set, name| {
            let cap = name
                .parse::<Capability>()
                .map_err(serde::de::Error::custom)?;
            Ok(set.with(cap))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.as_str().parse::<Capability>(), Ok(c));
        }
        assert!("exec".parse::<Capability>().is_err());
    }

    #[test]
    fn sets_serialize_as_name_lists() {
        let set = Capabilities::of(&[Capability::Kv, Capability::Vfs]);
        assert_eq!(
            serde_json::to_value(set).expect("json"),
            serde_json::json!(["vfs", "kv"])
        );
        let back: Capabilities = serde_json::from_str(r#"["kv","vfs","kv"]"#).expect("parse");
        assert_eq!(back, set);
        assert!(serde_json::from_str::<Capabilities>(r#"["root"]"#).is_err());
    }
}
