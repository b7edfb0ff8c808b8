;; Asks for almost 4 GiB at once; traps if refused.
(module $grow_huge
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 0xffff)) (i32.const -1))
      (then (unreachable)))))
