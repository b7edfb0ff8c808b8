;; A library-style module: no `_start`.
(module $no_start
  (memory (export "memory") 1)
  (func (export "run")))
