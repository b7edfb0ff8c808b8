;; Writes 64 MiB to the workspace volume through the nexus_v1 vfs_write
;; import: 8 files b0..b7 of 8 MiB (the import's largest file). Exits 1 on
;; an error.
(module
  (import "nexus_v1" "vfs_write" (func $vwrite (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 130)
  (data (i32.const 16) "b0")
  (func (export "_start") (local $i i32)
    (loop $file
      (i32.store8 (i32.const 17) (i32.add (i32.const 48) (local.get $i)))
      (if (call $vwrite (i32.const 0) (i32.const 16) (i32.const 2) (i32.const 65536)
            (i32.const 8388608))
        (then (call $exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $file (i32.lt_u (local.get $i) (i32.const 8))))))
