;; Imports a function this node does not provide.
(module $import_env_foo
  (import "env" "foo" (func $foo))
  (memory (export "memory") 1)
  (func (export "_start") (call $foo)))
