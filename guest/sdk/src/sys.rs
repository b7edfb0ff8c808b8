//! The raw `nexus_v1` imports (pointers and lengths are guest addresses).

#[link(wasm_import_module = "nexus_v1")]
extern "C" {
    pub fn log_write(level: i32, ptr: *const u8, len: usize) -> i32;
    pub fn clock_now_ms() -> i64;
    pub fn clock_monotonic_ns() -> i64;
    pub fn random_fill(ptr: *mut u8, len: usize) -> i32;
    pub fn kv_get(key: *const u8, key_len: usize, out: *mut u8, out_cap: usize) -> i32;
    pub fn kv_set(key: *const u8, key_len: usize, val: *const u8, val_len: usize) -> i32;
    pub fn kv_delete(key: *const u8, key_len: usize) -> i32;
    pub fn vfs_read(vol: i32, path: *const u8, path_len: usize, out: *mut u8, cap: usize) -> i32;
    pub fn vfs_write(
        vol: i32,
        path: *const u8,
        path_len: usize,
        data: *const u8,
        len: usize,
    ) -> i32;
    pub fn vfs_list(vol: i32, prefix: *const u8, len: usize, out: *mut u8, cap: usize) -> i32;
    pub fn vfs_stat(vol: i32, path: *const u8, path_len: usize, out: *mut u8) -> i32;
    pub fn vfs_delete(vol: i32, path: *const u8, path_len: usize) -> i32;
    pub fn queue_push(name: *const u8, name_len: usize, msg: *const u8, msg_len: usize) -> i32;
    pub fn queue_pop(name: *const u8, name_len: usize, out: *mut u8, out_cap: usize) -> i32;
    pub fn queue_len(name: *const u8, name_len: usize) -> i32;
    pub fn sign_message(msg: *const u8, msg_len: usize, out: *mut u8) -> i32;
    pub fn sign_public_key(out: *mut u8) -> i32;
    pub fn net_fetch(req: *const u8, req_len: usize) -> i32;
    pub fn net_read(out: *mut u8, out_cap: usize) -> i32;
    pub fn fabric_map(req: *const u8, req_len: usize) -> i32;
    pub fn fabric_read(out: *mut u8, out_cap: usize) -> i32;
}
