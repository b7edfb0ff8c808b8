//! Glue between the node and the cluster's control plane. Today a node is a
//! cluster of one that applies registry commands directly; the replicated
//! registry slots in behind [`RegistryHandle`] without changing its callers.

mod registry;

pub use registry::RegistryHandle;
