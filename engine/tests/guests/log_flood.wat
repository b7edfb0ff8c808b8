;; Writes 150 log lines; returns the result of the last as its exit code
;; (negated): 7 means ERR_RATE.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "nexus_v1" "log_write" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from the guest")
  (func (export "_start")
    (local $i i32) (local $r i32)
    (loop $l
      (local.set $r (call $log (i32.const 2) (i32.const 0) (i32.const 20)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 150))))
    (call $exit (i32.sub (i32.const 0) (local.get $r)))))
