;; queue, sign and net calls with hostile pointers and arguments; each must
;; return its error code. Exits with the number of the first call that did
;; not. Run under `network` for a sandbox with a tenant and a key store.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "nexus_v1" "queue_push" (func $push (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "queue_pop" (func $pop (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "queue_len" (func $len (param i32 i32) (result i32)))
  (import "nexus_v1" "sign_message" (func $sign (param i32 i32 i32) (result i32)))
  (import "nexus_v1" "sign_public_key" (func $pubkey (param i32) (result i32)))
  (import "nexus_v1" "net_fetch" (func $fetch (param i32 i32) (result i32)))
  (import "nexus_v1" "net_read" (func $read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "q")
  (data (i32.const 8) "hello")
  (func $expect (param $got i32) (param $want i32) (param $code i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $code)))))
  (func (export "_start")
    ;; queue name past the end of memory: ERR_BOUNDS
    (call $expect (call $push (i32.const 65535) (i32.const 4) (i32.const 8) (i32.const 5)) (i32.const -1) (i32.const 1))
    ;; empty queue name: ERR_INVALID
    (call $expect (call $push (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 5)) (i32.const -5) (i32.const 2))
    ;; queue name over 128 bytes: ERR_TOO_LARGE (counted)
    (call $expect (call $len (i32.const 0) (i32.const 129)) (i32.const -3) (i32.const 3))
    ;; message of 2 GiB: ERR_TOO_LARGE (counted)
    (call $expect (call $push (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 0x7fffffff)) (i32.const -3) (i32.const 4))
    ;; push, then pop into a 2-byte buffer: the length, message kept
    (call $expect (call $push (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 5)) (i32.const 0) (i32.const 5))
    (call $expect (call $pop (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 2)) (i32.const 5) (i32.const 6))
    (call $expect (call $len (i32.const 0) (i32.const 1)) (i32.const 1) (i32.const 7))
    ;; pop with its buffer past the end: ERR_BOUNDS, message kept
    (call $expect (call $pop (i32.const 0) (i32.const 1) (i32.const 65534) (i32.const 5)) (i32.const -1) (i32.const 8))
    (call $expect (call $pop (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 5)) (i32.const 5) (i32.const 9))
    ;; now empty: ERR_NOT_FOUND
    (call $expect (call $pop (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 5)) (i32.const -4) (i32.const 10))
    ;; signature buffer (64 bytes) straddling the end: ERR_BOUNDS
    (call $expect (call $sign (i32.const 8) (i32.const 5) (i32.const 65500)) (i32.const -1) (i32.const 11))
    ;; public key at 4 GiB - 1: ERR_BOUNDS
    (call $expect (call $pubkey (i32.const -1)) (i32.const -1) (i32.const 12))
    (call $expect (call $sign (i32.const 8) (i32.const 5) (i32.const 200)) (i32.const 0) (i32.const 13))
    (call $expect (call $pubkey (i32.const 300)) (i32.const 0) (i32.const 14))
    ;; a request that does not decode: ERR_INVALID
    (call $expect (call $fetch (i32.const 8) (i32.const 5)) (i32.const -5) (i32.const 15))
    ;; nothing fetched: ERR_NOT_FOUND
    (call $expect (call $read (i32.const 100) (i32.const 10)) (i32.const -4) (i32.const 16))
    ;; request of 2 GiB: ERR_TOO_LARGE (counted)
    (call $expect (call $fetch (i32.const 0) (i32.const 0x7fffffff)) (i32.const -3) (i32.const 17))))
