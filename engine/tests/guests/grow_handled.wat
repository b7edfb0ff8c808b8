;; Asks for 128 MiB, copes with the refusal and exits 0 (or 1 if granted).
(module $grow_handled
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit
      (i32.ne (memory.grow (i32.const 2048)) (i32.const -1)))))
