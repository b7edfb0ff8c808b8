;; Recurses without end.
(module $recurse
  (memory (export "memory") 1)
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "_start") (drop (call $recurse (i32.const 0)))))
