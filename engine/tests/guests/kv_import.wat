;; A command importing nexus_v1.kv_get (needs capability `kv`).
(module
  (import "nexus_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
