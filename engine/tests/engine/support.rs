//! Helpers shared by the engine tests: WAT guests from tests/guests/.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nexus_engine::{
    CallError, CommandInput, CommandOutput, CompiledModule, Engine, Profile, SignerError,
    TenantSigner,
};
use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `bytes`.
pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The text of tests/guests/`name`.wat.
pub fn guest_source(name: &str) -> String {
    let path = format!("{}/tests/guests/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Compiles WAT source text.
pub fn compile(engine: &Engine, source: &str) -> Arc<CompiledModule> {
    engine
        .compile(&sha(source.as_bytes()), source.as_bytes())
        .unwrap_or_else(|e| panic!("compiling guest: {e}"))
}

/// Compiles tests/guests/`name`.wat.
pub fn guest(engine: &Engine, name: &str) -> Arc<CompiledModule> {
    compile(engine, &guest_source(name))
}

/// A new engine.
pub fn engine() -> Engine {
    Engine::new().expect("engine")
}

/// The compute profile with another CPU time.
pub fn with_cpu(cpu: Duration) -> Profile {
    Profile {
        cpu_time: cpu,
        ..Profile::compute()
    }
}

/// Input with these args and no stdin.
pub fn args(args: &[&str]) -> CommandInput {
    CommandInput {
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: Vec::new(),
        ..Default::default()
    }
}

/// Runs `module` with no args or stdin under the compute profile.
pub async fn run(engine: &Engine, module: &CompiledModule) -> Result<CommandOutput, CallError> {
    engine
        .run_command(module, &Profile::compute(), CommandInput::default())
        .await
}

/// A [`TenantSigner`] with a fixed key that counts its uses; signatures are
/// not real (the tests check plumbing, the node's key store is tested there).
#[derive(Debug, Default)]
pub struct CountingSigner {
    uses: AtomicUsize,
}

impl CountingSigner {
    /// How often the signer was asked for a signature or a key.
    pub fn uses(&self) -> usize {
        self.uses.load(Ordering::SeqCst)
    }
}

impl TenantSigner for CountingSigner {
    fn sign(&self, _tenant: &str, message: &[u8]) -> Result<[u8; 64], SignerError> {
        self.uses.fetch_add(1, Ordering::SeqCst);
        let digest = Sha256::digest(message);
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&digest);
        Ok(signature)
    }

    fn public_key(&self, _tenant: &str) -> Result<[u8; 32], SignerError> {
        self.uses.fetch_add(1, Ordering::SeqCst);
        Ok([7u8; 32])
    }
}
