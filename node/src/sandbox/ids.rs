//! Identifiers chosen by the proposer of a registry command.

/// A fresh sandbox id: `sb_` and 16 random hex digits.
pub fn new_sandbox_id() -> String {
    format!("sb_{:016x}", rand::random::<u64>())
}
