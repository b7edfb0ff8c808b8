/work/main/guest/target/wasm32-wasip1/release/deps/nexus_guest-a318ee6f12c46a60.d: src/lib.rs src/error.rs src/sys.rs src/clock.rs src/kv.rs src/log.rs src/random.rs src/vfs.rs Cargo.toml

/work/main/guest/target/wasm32-wasip1/release/deps/libnexus_guest-a318ee6f12c46a60.rmeta: src/lib.rs src/error.rs src/sys.rs src/clock.rs src/kv.rs src/log.rs src/random.rs src/vfs.rs Cargo.toml

src/lib.rs:
src/error.rs:
src/sys.rs:
src/clock.rs:
src/kv.rs:
src/log.rs:
src/random.rs:
src/vfs.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
