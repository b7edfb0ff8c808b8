;; A command importing a function of a group host ABI v1 does not have.
(module
  (import "nexus_v1" "exec_run" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
