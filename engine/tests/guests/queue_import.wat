;; A command importing a function of the queue group (granted by `standard`).
(module
  (import "nexus_v1" "queue_push" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
