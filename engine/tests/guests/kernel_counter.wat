;; A kernel with state: returns its call count as 4 little-endian bytes.
;; The first input byte picks misbehaviour: 0xFF traps, 0xFE spins forever,
;; 0xFD returns more than the arena holds, 0xFC returns -7, 0xFB grows
;; memory far past any cap.
(module
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 256) (i64.const 32)) (i64.const 512)))
  (func $spin (loop $l (br $l)))
  (func $boom unreachable)
  (func (export "process") (param $n i32) (result i32)
    (local $op i32)
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then (local.set $op (i32.load8_u (i32.const 512)))))
    (if (i32.eq (local.get $op) (i32.const 0xff)) (then (call $boom)))
    (if (i32.eq (local.get $op) (i32.const 0xfe)) (then (call $spin)))
    (if (i32.eq (local.get $op) (i32.const 0xfd)) (then (return (i32.const 257))))
    (if (i32.eq (local.get $op) (i32.const 0xfc)) (then (return (i32.const -7))))
    (if (i32.eq (local.get $op) (i32.const 0xfb))
      (then (drop (memory.grow (i32.const 30000))) (unreachable)))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store (i32.const 512) (global.get $count))
    (i32.const 4)))
