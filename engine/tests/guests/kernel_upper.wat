;; A kernel that upper-cases ASCII letters of its input in place.
(module
  (memory (export "memory") 1)
  ;; arena: offset 1024, capacity 4096 (capacity << 32 | offset)
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const 1024)))
  (func (export "process") (param $n i32) (result i32)
    (local $i i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u offset=1024 (local.get $i)))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                     (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 offset=1024 (local.get $i)
                  (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n)))
