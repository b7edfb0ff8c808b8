;; The mark guest: adds one to the 8-byte little-endian counter stored under the kv key it
;; reads from stdin (a retried call of the same key shows as a 2). Used by the replica tests
;; (cluster-tests/tests/replicas.rs) and scripts/replication-bench.py.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $len i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 1024))
    (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16))
      (then unreachable))
    (local.set $len (i32.load (i32.const 16)))
    (i64.store (i32.const 32) (i64.const 0))
    (if (i32.lt_s (call $kv_get (i32.const 64) (local.get $len) (i32.const 32) (i32.const 8))
                  (i32.const 0))
      (then (i64.store (i32.const 32) (i64.const 0))))
    (i64.store (i32.const 32) (i64.add (i64.load (i32.const 32)) (i64.const 1)))
    (if (call $kv_set (i32.const 64) (local.get $len) (i32.const 32) (i32.const 8))
      (then unreachable))))
