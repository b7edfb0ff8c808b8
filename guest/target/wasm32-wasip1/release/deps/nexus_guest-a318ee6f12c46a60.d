/work/wt3/guest/target/wasm32-wasip1/release/deps/nexus_guest-a318ee6f12c46a60.d: src/lib.rs src/error.rs src/message.rs src/sys.rs src/arena.rs src/clock.rs src/http.rs src/kv.rs src/log.rs src/net.rs src/queue.rs src/random.rs src/sign.rs src/vfs.rs Cargo.toml

/work/wt3/guest/target/wasm32-wasip1/release/deps/libnexus_guest-a318ee6f12c46a60.rmeta: src/lib.rs src/error.rs src/message.rs src/sys.rs src/arena.rs src/clock.rs src/http.rs src/kv.rs src/log.rs src/net.rs src/queue.rs src/random.rs src/sign.rs src/vfs.rs Cargo.toml

src/lib.rs:
src/error.rs:
src/message.rs:
src/sys.rs:
src/arena.rs:
src/clock.rs:
src/http.rs:
src/kv.rs:
src/log.rs:
src/net.rs:
src/queue.rs:
src/random.rs:
src/sign.rs:
src/vfs.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
