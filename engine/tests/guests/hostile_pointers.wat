;; Host calls with hostile pointers and lengths; each must return its error
;; code. Exits with the number of the first call that did not.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "nexus_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "vfs_write" (func $vfs_write (param i32 i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "vfs_stat" (func $vfs_stat (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "log_write" (func $log (param i32 i32 i32) (result i32)))
  (import "nexus_v1" "random_fill" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (data (i32.const 8) "a.txt")
  (func $expect (param $got i32) (param $want i32) (param $code i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $code)))))
  (func (export "_start")
    ;; key runs past the end of memory: ERR_BOUNDS (-1)
    (call $expect (call $kv_set (i32.const 65530) (i32.const 10) (i32.const 0) (i32.const 1)) (i32.const -1) (i32.const 1))
    ;; pointer near 4 GiB: ERR_BOUNDS
    (call $expect (call $kv_get (i32.const -16) (i32.const 32) (i32.const 0) (i32.const 10)) (i32.const -1) (i32.const 2))
    ;; output buffer at 4 GiB - 1: ERR_BOUNDS
    (call $expect (call $kv_get (i32.const 0) (i32.const 1) (i32.const -1) (i32.const 100)) (i32.const -1) (i32.const 3))
    ;; path length of 4 GiB - 1: ERR_TOO_LARGE (-3)
    (call $expect (call $vfs_write (i32.const 0) (i32.const -1) (i32.const -1) (i32.const 0) (i32.const 1)) (i32.const -3) (i32.const 4))
    ;; value length of 2 GiB - 1: ERR_TOO_LARGE
    (call $expect (call $kv_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x7fffffff)) (i32.const -3) (i32.const 5))
    ;; value inside the cap but past the end of memory: ERR_BOUNDS
    (call $expect (call $kv_set (i32.const 0) (i32.const 1) (i32.const 60000) (i32.const 10000)) (i32.const -1) (i32.const 6))
    ;; stat output (16 bytes) straddling the end: ERR_BOUNDS
    (call $expect (call $vfs_stat (i32.const 0) (i32.const 8) (i32.const 5) (i32.const 65530)) (i32.const -1) (i32.const 7))
    (call $expect (call $log (i32.const 2) (i32.const 65535) (i32.const 2)) (i32.const -1) (i32.const 8))
    (call $expect (call $random (i32.const 65000) (i32.const 1000)) (i32.const -1) (i32.const 9))
    ;; unknown volume, unknown log level: ERR_INVALID (-5)
    (call $expect (call $vfs_write (i32.const 7) (i32.const 8) (i32.const 5) (i32.const 0) (i32.const 1)) (i32.const -5) (i32.const 10))
    (call $expect (call $log (i32.const 9) (i32.const 0) (i32.const 1)) (i32.const -5) (i32.const 11))
    ;; and a good call still works afterwards
    (call $expect (call $kv_set (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 5)) (i32.const 0) (i32.const 12))))
