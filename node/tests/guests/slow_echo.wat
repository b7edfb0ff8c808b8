(module
  ;; A kernel that spins 3,000,000 loop turns (a few milliseconds), then
  ;; echoes its input: fabric jobs slow enough to cancel or to kill a node in.
  (memory (export "memory") 1)
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const 1024)))
  (func (export "process") (param $n i32) (result i32)
    (local $i i32)
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 3000000))))
    (local.get $n)))
