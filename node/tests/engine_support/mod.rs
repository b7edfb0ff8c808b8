//! Helpers shared by the engine tests: WAT guests from tests/guests/.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use nexus_node::engine::{CallError, CommandInput, CommandOutput, CompiledModule, Engine, Profile};
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
    }
}

/// Runs `module` with no args or stdin under the compute profile.
pub async fn run(engine: &Engine, module: &CompiledModule) -> Result<CommandOutput, CallError> {
    engine
        .run_command(module, &Profile::compute(), CommandInput::default())
        .await
}
