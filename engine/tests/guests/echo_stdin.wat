;; Copies stdin to stdout until end of file.
(module $echo_stdin
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (loop $more
      ;; iovec at 0: { buf = 1024, len = 65536 }; nread at 8
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 65536))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (unreachable)))
      (if (i32.eqz (i32.load (i32.const 8))) (then (return)))
      ;; write exactly what was read
      (i32.store (i32.const 4) (i32.load (i32.const 8)))
      (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12))
        (then (unreachable)))
      (br $more))))
