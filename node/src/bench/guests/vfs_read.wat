;; Reads the 1,000 files f0000..f0999 of the workspace volume through the
;; nexus_v1 vfs_read import. Exits 1 on an error.
(module
  (import "nexus_v1" "vfs_read" (func $vread (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "f0000")
  (func $name (param $i i32)
    (i32.store8 (i32.const 20) (i32.add (i32.const 48) (i32.rem_u (local.get $i) (i32.const 10))))
    (i32.store8 (i32.const 19)
      (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 10)) (i32.const 10))))
    (i32.store8 (i32.const 18)
      (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 100)) (i32.const 10))))
    (i32.store8 (i32.const 17)
      (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 1000)) (i32.const 10)))))
  (func (export "_start") (local $i i32)
    (loop $file
      (call $name (local.get $i))
      ;; vfs_read(workspace, name, out 1024, cap 64 KiB)
      (if (i32.lt_s (call $vread (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 1024)
                      (i32.const 65536)) (i32.const 0))
        (then (call $exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $file (i32.lt_u (local.get $i) (i32.const 1000))))))
