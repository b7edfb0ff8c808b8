;; Loops forever without calling the host.
(module $spin
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))
