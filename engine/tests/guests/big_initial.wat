;; Declares 128 MiB of initial memory.
(module $big_initial
  (memory (export "memory") 2048)
  (func (export "_start")))
