;; A kernel whose arena lies past the end of its memory.
(module
  (memory (export "memory") 1)
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const 65000)))
  (func (export "process") (param i32) (result i32) (local.get 0)))
