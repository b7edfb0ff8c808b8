;; Traps on `unreachable` inside a named function.
(module $unreachable
  (memory (export "memory") 1)
  (func $boom (unreachable))
  (func (export "_start") (call $boom)))
