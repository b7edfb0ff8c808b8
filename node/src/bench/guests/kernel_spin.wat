;; A kernel that spins 200,000 loop turns (about 0.1 ms), then echoes its input.
(module
  (memory (export "memory") 1)
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const 1024)))
  (func (export "process") (param $n i32) (result i32)
    (local $i i32)
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 200000))))
    (local.get $n)))
