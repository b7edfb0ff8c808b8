;; Tries to open /etc/passwd relative to fd 3 and exits with the errno.
(module $path_open
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "/etc/passwd")
  (func (export "_start")
    (call $proc_exit
      (call $path_open
        (i32.const 3)          ;; dirfd
        (i32.const 1)          ;; lookupflags: symlink_follow
        (i32.const 16)         ;; path
        (i32.const 11)         ;; path length
        (i32.const 0)          ;; oflags
        (i64.const 2)          ;; rights: fd_read
        (i64.const 0)          ;; inheriting rights
        (i32.const 0)          ;; fdflags
        (i32.const 8)))))      ;; opened fd out
