;; The mib guest: writes a 1 MiB value under the kv key "blob", every byte the first byte of
;; stdin (scripts/replication-bench.py: what shipping a 1 MiB change costs).
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 17)
  (data (i32.const 0) "blob")
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 8))
    (i32.store (i32.const 20) (i32.const 1))
    (drop (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
    (memory.fill (i32.const 65536) (i32.load8_u (i32.const 8)) (i32.const 1048576))
    (if (call $kv_set (i32.const 0) (i32.const 4) (i32.const 65536) (i32.const 1048576))
      (then unreachable))))
