;; Writes 64 MiB to /workspace/big (preopened as fd 3) through WASI, 1 MiB
;; per fd_write. Exits 1 or 2 on an error.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 18)
  (data (i32.const 16) "big")
  (func (export "_start") (local $i i32) (local $fd i32)
    ;; One iovec: 1 MiB at 65536.
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 1048576))
    ;; path_open(dir 3, no flags, "big", CREAT|TRUNC, FD_WRITE, 0, 0, fd out at 32)
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 3) (i32.const 9)
          (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 32))
      (then (call $exit (i32.const 1))))
    (local.set $fd (i32.load (i32.const 32)))
    (loop $mib
      (if (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 64))
        (then (call $exit (i32.const 2))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $mib (i32.lt_u (local.get $i) (i32.const 64))))
    (drop (call $close (local.get $fd)))))
