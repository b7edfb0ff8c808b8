//! Limits against hostile guests: CPU, memory, stack, output, wall time,
//! traps, and that the engine keeps serving while and after they run.

use std::time::Duration;

use crate::support::{compile, engine, guest, guest_source, run, with_cpu};
use nexus_engine::{CallError, CommandInput, Profile};
use nexus_errors::{Coded, ErrorCode};

#[tokio::test]
async fn unreachable_traps_naming_the_function() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "unreachable"))
        .await
        .expect_err("traps");
    assert_eq!(err.code(), ErrorCode::CallTrapped);
    assert_eq!(
        err.to_string(),
        "wasm trap: wasm `unreachable` instruction executed, in function `boom`"
    );
}

#[tokio::test]
async fn trap_message_quotes_the_end_of_stderr() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "panic"))
        .await
        .expect_err("panics");
    assert!(matches!(err, CallError::Trapped(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "wasm trap: wasm `unreachable` instruction executed, in function `abort`; \
         guest stderr: thread 'main' panicked at src/main.rs:5:9: | boom"
    );
}

#[tokio::test]
async fn deep_recursion_is_a_stack_overflow_trap() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "recurse"))
        .await
        .expect_err("overflows");
    assert!(matches!(err, CallError::Trapped(_)), "{err:?}");
    assert!(err.to_string().contains("stack overflow"), "{err}");
    assert!(err.to_string().contains("`recurse`"), "{err}");
}

#[tokio::test]
async fn runaway_loop_hits_the_cpu_limit_then_the_engine_serves_on() {
    let engine = engine();
    let profile = with_cpu(Duration::from_millis(200));
    let err = engine
        .run_command(&guest(&engine, "spin"), &profile, CommandInput::default())
        .await
        .expect_err("spins forever");
    assert_eq!(
        err,
        CallError::CpuLimit {
            limit: Duration::from_millis(200)
        }
    );
    assert_eq!(err.to_string(), "guest used its 200ms CPU time limit");
    assert_eq!(err.code(), ErrorCode::CallCpuLimit);

    let out = run(&engine, &guest(&engine, "hello"))
        .await
        .expect("hello after");
    assert_eq!(out.stdout, b"hello\n");
}

/// Runaways on every worker; a normal call started while they run answers
/// before they are stopped, and every runaway is stopped by its CPU limit.
async fn runaways_do_not_starve_a_normal_call(runaways: usize) {
    let engine = engine();
    let spin = guest(&engine, "spin");
    let hello = guest(&engine, "hello");
    let profile = with_cpu(Duration::from_millis(500));
    let tasks: Vec<_> = (0..runaways)
        .map(|_| {
            let (engine, spin, profile) = (engine.clone(), spin.clone(), profile.clone());
            tokio::spawn(async move {
                engine
                    .run_command(&spin, &profile, CommandInput::default())
                    .await
            })
        })
        .collect();
    // Only wakes up if the runaways yield.
    tokio::time::sleep(Duration::from_millis(30)).await;

    // Spawned, so it queues on the same workers as the runaways.
    let normal = tokio::spawn(async move { run(&engine, &hello).await });
    let out = normal.await.expect("task").expect("normal call answers");
    assert_eq!(out.stdout, b"hello\n");
    let finished = tasks.iter().filter(|t| t.is_finished()).count();
    assert_eq!(
        finished, 0,
        "the normal call waited for runaways to be stopped"
    );

    for task in tasks {
        let err = task.await.expect("task").expect_err("runaway stopped");
        assert!(matches!(err, CallError::CpuLimit { .. }), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_runaways_on_a_pool_does_not_starve() {
    runaways_do_not_starve_a_normal_call(8).await;
}

#[tokio::test(flavor = "current_thread")]
async fn runaways_on_one_thread_do_not_starve() {
    runaways_do_not_starve_a_normal_call(3).await;
}

#[tokio::test]
async fn sleeping_is_not_charged_as_cpu() {
    let engine = engine();
    let source = guest_source("sleep").replace("SLEEP_MS", "300");
    let profile = with_cpu(Duration::from_millis(100));
    let out = engine
        .run_command(
            &compile(&engine, &source),
            &profile,
            CommandInput::default(),
        )
        .await
        .expect("a sleeping guest is within its CPU time");
    assert_eq!(out.exit_code, 0);
    assert!(
        out.elapsed >= Duration::from_millis(300),
        "{:?}",
        out.elapsed
    );
}

#[tokio::test]
async fn wall_clock_deadline_stops_a_sleeping_guest() {
    let engine = engine();
    let source = guest_source("sleep").replace("SLEEP_MS", "600000");
    let profile = Profile {
        wall_time: Duration::from_millis(200),
        ..Profile::compute()
    };
    let err = engine
        .run_command(
            &compile(&engine, &source),
            &profile,
            CommandInput::default(),
        )
        .await
        .expect_err("sleeps past the deadline");
    assert_eq!(
        err,
        CallError::Timeout {
            limit: Duration::from_millis(200)
        }
    );
    assert_eq!(err.code(), ErrorCode::CallTimeout);
    assert_eq!(
        err.to_string(),
        "call did not finish within its 200ms wall-clock limit"
    );
}

#[tokio::test]
async fn wall_clock_deadline_stops_a_spinning_guest() {
    let engine = engine();
    let profile = Profile {
        wall_time: Duration::from_millis(200),
        ..Profile::compute()
    };
    let err = engine
        .run_command(&guest(&engine, "spin"), &profile, CommandInput::default())
        .await
        .expect_err("spins past the deadline");
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn growing_memory_page_by_page_hits_the_memory_limit() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "grow_loop"))
        .await
        .expect_err("grows");
    assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::CallMemoryLimit);
    assert!(err.to_string().contains("limit of 64 MiB"), "{err}");
    // 64 MiB is 1024 pages: the 1025th page is the one refused.
    assert!(err.to_string().contains("67174400 bytes"), "{err}");
}

#[tokio::test]
async fn one_huge_growth_hits_the_memory_limit() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "grow_huge"))
        .await
        .expect_err("grows");
    assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
    assert!(err.to_string().contains("limit of 64 MiB"), "{err}");
}

#[tokio::test]
async fn a_smaller_memory_cap_is_enforced() {
    let engine = engine();
    let profile = Profile {
        memory_bytes: 1 << 20,
        ..Profile::compute()
    };
    let err = engine
        .run_command(
            &guest(&engine, "grow_loop"),
            &profile,
            CommandInput::default(),
        )
        .await
        .expect_err("grows");
    assert!(err.to_string().contains("limit of 1 MiB"), "{err}");
}

#[tokio::test]
async fn too_much_initial_memory_fails_with_the_memory_limit() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "big_initial"))
        .await
        .expect_err("128 MiB");
    assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
}

#[tokio::test]
async fn a_refused_growth_the_guest_handles_is_not_an_error() {
    let engine = engine();
    let out = run(&engine, &guest(&engine, "grow_handled"))
        .await
        .expect("copes");
    assert_eq!(out.exit_code, 0, "memory.grow past the cap must return -1");
}

#[tokio::test]
async fn table_growth_past_the_cap_hits_the_memory_limit() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
             (table 1 funcref)
             (func (export "_start")
               (if (i32.eq (table.grow (ref.null func) (i32.const 1000000)) (i32.const -1))
                 (then (unreachable)))))"#,
    );
    let err = run(&engine, &module).await.expect_err("grows a table");
    assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
    assert!(err.to_string().contains("table"), "{err}");
}

#[tokio::test]
async fn stdout_flood_hits_the_output_limit() {
    let engine = engine();
    let profile = Profile {
        output_bytes: 64 << 10,
        cpu_time: Duration::from_millis(300),
        ..Profile::compute()
    };
    let err = engine
        .run_command(&guest(&engine, "flood"), &profile, CommandInput::default())
        .await
        .expect_err("floods");
    assert_eq!(
        err,
        CallError::OutputLimit {
            stream: "stdout",
            limit: 64 << 10
        }
    );
    assert_eq!(err.code(), ErrorCode::CallOutputLimit);
    assert_eq!(
        err.to_string(),
        "guest wrote more than its 64 KiB output limit to stdout"
    );
}

#[tokio::test]
async fn stderr_flood_hits_the_output_limit() {
    let engine = engine();
    let profile = with_cpu(Duration::from_millis(300));
    let err = engine
        .run_command(
            &guest(&engine, "flood_stderr"),
            &profile,
            CommandInput::default(),
        )
        .await
        .expect_err("floods");
    assert_eq!(
        err,
        CallError::OutputLimit {
            stream: "stderr",
            limit: 1 << 20
        }
    );
}

#[tokio::test]
async fn output_of_exactly_the_cap_is_allowed() {
    let engine = engine();
    let profile = Profile {
        output_bytes: 6,
        ..Profile::compute()
    };
    let module = guest(&engine, "hello");
    let out = engine
        .run_command(&module, &profile, CommandInput::default())
        .await
        .expect("6 bytes fit a 6 byte cap");
    assert_eq!(out.stdout, b"hello\n");

    let smaller = Profile {
        output_bytes: 5,
        ..Profile::compute()
    };
    let err = engine
        .run_command(&module, &smaller, CommandInput::default())
        .await
        .expect_err("6 bytes do not fit 5");
    assert!(
        matches!(
            err,
            CallError::OutputLimit {
                stream: "stdout",
                limit: 5
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn start_function_is_under_the_cpu_limit_too() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module
             (func $spin (loop $l (br $l)))
             (start $spin)
             (func (export "_start")))"#,
    );
    let err = engine
        .run_command(
            &module,
            &with_cpu(Duration::from_millis(100)),
            CommandInput::default(),
        )
        .await
        .expect_err("start function spins");
    assert!(matches!(err, CallError::CpuLimit { .. }), "{err:?}");
}
