;; Grows memory one page at a time until growth fails, then traps.
(module $grow_loop
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $grow
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
        (then (unreachable)))
      (br $grow))))
