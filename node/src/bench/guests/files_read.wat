;; Reads the 1,000 files f0000..f0999 of /workspace (preopened as fd 3)
;; through WASI: path_open, fd_read to the end, fd_close. Exits 1 or 2 on
;; an error.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "f0000")
  ;; The name of file $i at 16: `f` and four digits.
  (func $name (param $i i32)
    (i32.store8 (i32.const 20) (i32.add (i32.const 48) (i32.rem_u (local.get $i) (i32.const 10))))
    (i32.store8 (i32.const 19)
      (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 10)) (i32.const 10))))
    (i32.store8 (i32.const 18)
      (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 100)) (i32.const 10))))
    (i32.store8 (i32.const 17)
      (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 1000)) (i32.const 10)))))
  (func (export "_start") (local $i i32) (local $fd i32)
    ;; One iovec: 64 KiB at 1024.
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $file
      (call $name (local.get $i))
      ;; path_open(dir 3, no flags, name, no oflags, FD_READ, 0, 0, fd out at 32)
      (if (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 0)
            (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32))
        (then (call $exit (i32.const 1))))
      (local.set $fd (i32.load (i32.const 32)))
      (block $end
        (loop $chunk
          (if (call $read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 64))
            (then (call $exit (i32.const 2))))
          (br_if $end (i32.eqz (i32.load (i32.const 64))))
          (br $chunk)))
      (drop (call $close (local.get $fd)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $file (i32.lt_u (local.get $i) (i32.const 1000))))))
