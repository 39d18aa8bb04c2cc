//! Kernel tasks: timers, workqueues, kthreads, completions and wait queues
//! on the one emulated CPU, held to what the real kernels printed for the
//! same modules (loader-tests/golden/*/{timers,workq,kthread,work-oops}.txt,
//! loader-tests/faults2-real/*-timer-oops.txt); modules that leave timers,
//! work or kthreads behind at unload; Oopses in callbacks.

use std::time::Duration;

use crate::common::*;

/// Every kernel line of a scenario's transcript, all commands in order.
fn golden_all(series: &str, scenario: &str) -> Vec<String> {
    golden(series, scenario)
        .into_iter()
        .flat_map(|c| c.kernel)
        .collect()
}

/// The lines a comparison holds kload to.
fn held(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| machine_independent(l) && !kload_only(l))
        .map(|l| strip_raw_pointers(&normalise_pid(l)))
        .collect()
}

/// `kload run [--wait=MS] MODULE` prints what the real kernel printed for
/// the scenario's insmod, sleep and rmmod, line for line.
fn run_matches(scenario: &str, stem: &str, wait_ms: u64) {
    for series in SERIES {
        let wait = format!("--wait={wait_ms}");
        let o = kload(&["run", &wait, &sample(series, stem)]);
        assert!(o.status.success(), "{series}: {}", stderr(&o));
        let want = held(&golden_all(series, scenario));
        let got = held(&kernel_lines(&o));
        assert_eq!(got, want, "{series} {scenario}");
    }
}

/// kthread_run, completions (wait_for_completion, its timeout,
/// completion_done), a wait queue (wait_event_interruptible,
/// wake_up_interruptible, waitqueue_active), schedule() until
/// kthread_stop, whose return value is the thread's.
#[test]
fn kthread_completions_and_wait_queues_match_the_real_kernels() {
    run_matches("kthread", "kthread", 0);
}

/// alloc_workqueue with a formatted name, queue_work (pending bit),
/// flush_workqueue, schedule_work, flush_work, destroy_workqueue.
#[test]
fn workqueues_match_the_real_kernels() {
    run_matches("workq", "workq", 0);
}

/// A timer re-armed from its callback (softirq context, timer_pending),
/// a delayed work on system_wq, del_timer_sync and cancel_delayed_work_sync
/// at exit; `--wait` lets the time pass between init and exit.
#[test]
fn timers_and_delayed_work_match_the_real_kernels() {
    run_matches("timers", "timers", 2000);
}

/// Without `--wait` the timer never fires: exit finds it pending and
/// deletes it (del_timer_sync returns 1), the delayed work is cancelled.
#[test]
fn exit_deletes_a_pending_timer() {
    for series in SERIES {
        let o = kload(&["run", &sample(series, "timers")]);
        assert!(o.status.success(), "{series}: {}", stderr(&o));
        let lines = kernel_lines(&o);
        assert!(
            lines.contains(&"timers: exit, ticks=0 del_timer_sync=1 cancel=1".to_owned()),
            "{series}: {lines:#?}"
        );
    }
}

/// A module whose exit leaves its timer armed and its delayed work queued:
/// each is named in a `kload:` line, dropped (never called into freed
/// memory), and the run fails.
#[test]
fn unload_with_a_pending_timer_and_queued_work_is_reported() {
    for series in SERIES {
        let o = kload(&["run", &sample(series, "timers"), "leak=1"]);
        assert_eq!(o.status.code(), Some(1), "{series}: {}", stderr(&o));
        let lines = kernel_lines(&o);
        for want in [
            "kload: timers: timer timers_tick [timers] is still pending after the module's exit",
            "kload: timers: delayed work timers_work [timers] is still queued after the module's exit",
        ] {
            assert!(
                lines.iter().any(|l| l.starts_with(want)),
                "{series}: no {want:?} in {lines:#?}"
            );
        }
    }
}

/// The same in the session kernel: rmmod reports the timer; time passes
/// and nothing calls into the freed module; the daemon goes on.
#[test]
fn rmmod_with_a_pending_timer_is_reported_and_survived() {
    for series in SERIES {
        let s = PrivateSession::new(Some(series));
        let o = s.run(&["insmod", &sample(series, "timers"), "leak=1"]);
        assert!(o.status.success(), "{series}: {}", stderr(&o));
        let o = s.run(&["rmmod", "timers"]);
        assert!(o.status.success(), "{series}: {}", stderr(&o));
        std::thread::sleep(Duration::from_millis(600));
        let d = s.run(&["dmesg"]);
        let text = String::from_utf8_lossy(&d.stdout).into_owned();
        assert!(
            text.contains("kload: timers: timer timers_tick [timers] is still pending"),
            "{series}: {text}"
        );
        assert!(!text.contains("Oops"), "{series}: {text}");
        // Nothing of the module runs after its unload.
        let after = text
            .split("is still pending after the module's exit")
            .nth(1)
            .unwrap_or("");
        assert!(
            !after.contains("timers: tick") && !after.contains("delayed work ran"),
            "{series}: {text}"
        );
        let l = s.run(&["lsmod"]);
        assert!(l.status.success(), "{series}: {}", stderr(&l));
    }
}

/// A kthread still running at unload is reported and ended.
#[test]
fn unload_with_a_running_kthread_is_reported() {
    for series in SERIES {
        let o = kload(&["run", &sample(series, "kthread"), "leak=1"]);
        assert_eq!(o.status.code(), Some(1), "{series}: {}", stderr(&o));
        let lines = kernel_lines(&o);
        let want = "kload: kthread: kthread kload-kt3 (kt_fn [kthread]) is still running after the module's exit";
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "{series}: {lines:#?}"
        );
    }
}

/// A work function writing through NULL: the kernel's Oops, with the
/// "Workqueue:" line, the kworker's exit note; the rest goes on (exit
/// runs and destroys the workqueue). Held to the real kernels' report.
#[test]
fn an_oops_in_a_work_function_is_reported_like_the_real_kernel() {
    for series in SERIES {
        let o = kload(&["run", "--wait=300", &sample(series, "workq"), "oops=1"]);
        assert_eq!(o.status.code(), Some(1), "{series}: {}", stderr(&o));
        let lines = kernel_lines(&o);
        let want = held(&golden_all(series, "work-oops"));
        let got = held(&lines);
        let got = &got[..got.len().min(want.len())];
        assert_eq!(got, &want[..], "{series}");
        assert!(
            lines
                .iter()
                .any(|l| l == "Workqueue: kload_wq7 workq_fn [workq]"),
            "{series}: {lines:#?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("workq: exit"),
            "{series}"
        );
    }
}

/// A timer callback writing through NULL: the Oops, then (interrupt
/// context) the panic line instead of the task's exit note, as the real
/// kernels print it; kload ends only the callback: the delayed work still
/// runs and exit still runs.
#[test]
fn an_oops_in_a_timer_callback_is_reported_like_the_real_kernel() {
    for series in SERIES {
        let real = real_excerpt(series, "timer-oops");
        let pick = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter(|l| !kload_only(l))
                .filter(|l| {
                    l.starts_with("BUG: ")
                        || l.starts_with("#PF: ")
                        || l.contains("Oops: ")
                        || l.starts_with("Kernel panic")
                        || l.starts_with("Modules linked in:")
                        || l.starts_with("---[ end trace")
                        || l.starts_with("note: ")
                })
                .cloned()
                .collect()
        };
        let o = kload(&["run", "--wait=1200", &sample(series, "timers"), "oops=1"]);
        assert_eq!(o.status.code(), Some(1), "{series}: {}", stderr(&o));
        let lines = kernel_lines(&o);
        assert_eq!(pick(&lines), pick(&real), "{series}");
        let after: Vec<&String> = lines
            .iter()
            .skip_while(|l| !l.starts_with("Kernel panic"))
            .collect();
        assert!(
            after
                .iter()
                .any(|l| l.starts_with("timers: delayed work ran")),
            "{series}: {lines:#?}"
        );
        assert!(
            after.iter().any(|l| l.starts_with("timers: exit, ticks=1")),
            "{series}: {lines:#?}"
        );
    }
}
