//! The printk machinery through the session: `dmesg -w` (a streamed reply,
//! a follower killed mid-stream) and dynamic debug's control file and
//! `dyndbg=` parameter.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::*;

/// The lines a spawned `kload dmesg -w` prints, as they arrive.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Wait (at most 10 s) for a line ending with `want`; the lines before it.
fn wait_for(rx: &Receiver<String>, want: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.ends_with(want) => return seen,
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    panic!("dmesg -w never printed {want:?}; it printed {seen:?}");
}

#[test]
fn dmesg_follow_prints_the_log_then_new_lines_and_a_killed_follower_changes_nothing() {
    let env = Env::named("follow");
    // A follower started before any kernel exists gets the first one's lines.
    let mut early = env.spawn(&["dmesg", "-w"]);
    let early_lines = lines_of(&mut early);
    env.ok(&["insmod", &sample("6.1", "hello-2.ko")]);
    wait_for(&early_lines, "] Hello, world 2");
    // A second follower: the log so far first, with -x and --level applied.
    let mut child = env.spawn(&["dmesg", "-w", "-x", "--level", "info"]);
    let lines = lines_of(&mut child);
    let before = wait_for(&lines, "] Hello, world 2");
    assert_eq!(before, Vec::<String>::new(), "only info lines, in order");
    // The daemon serves other clients while both follow.
    assert_eq!(env.lsmod_names(), ["hello_2"]);
    env.ok(&["insmod", &sample("6.1", "hello-1.ko")]);
    let skipped = wait_for(&lines, "] Hello world 1.");
    assert!(
        skipped.is_empty(),
        "warn/notice lines filtered: {skipped:?}"
    );
    // The unfiltered follower gets it too, after hello_1's trace_printk
    // notice (KERN_WARNING lines, which the info-only follower skipped).
    let notice = wait_for(&early_lines, "] Hello world 1.");
    assert!(
        notice
            .iter()
            .any(|l| l.contains("trace_printk() being used")),
        "{notice:?}"
    );
    // Kill both followers mid-stream: the kernel and its log go on.
    child.kill().unwrap();
    child.wait().unwrap();
    early.kill().unwrap();
    early.wait().unwrap();
    env.ok(&["rmmod", "hello_1"]);
    let all = kernel_lines(&env.ok(&["dmesg"]));
    assert_eq!(all.last().map(String::as_str), Some("Goodbye world 1."));
    // A new follower after the killed ones works, and -x decorates it.
    let mut again = env.spawn(&["dmesg", "-w", "-x"]);
    let again_lines = lines_of(&mut again);
    env.ok(&["rmmod", "hello_2"]);
    let line_before = wait_for(&again_lines, "] Goodbye, world 2");
    assert!(line_before
        .iter()
        .all(|l| l.is_empty() || l.starts_with("kern  :")));
    again.kill().unwrap();
    again.wait().unwrap();
    // Shutdown ends a follower's stream: it exits 0.
    let mut last = env.spawn(&["dmesg", "-w"]);
    let last_lines = lines_of(&mut last);
    wait_for(&last_lines, "] Goodbye, world 2");
    env.ok(&["shutdown"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = last.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "dmesg -w outlived its daemon");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dyndbg_parameter_control_file_and_queries() {
    for series in ["6.1", "6.12"] {
        let env = Env::named(&format!("dyndbg-{}", series.replace('.', "-")));
        let ko = sample(series, "dyndbg.ko");
        // Off by default: the call sites' jump labels are NOPs.
        env.ok(&["insmod", &ko]);
        assert!(!env.ok(&["dmesg"]).contains("pr_debug round"));
        let control = env.ok(&["cat", "/proc/dynamic_debug/control"]);
        let mut rows = control.lines();
        assert_eq!(
            rows.next(),
            Some("# filename:lineno [module]function flags format")
        );
        let rows: Vec<&str> = rows.collect();
        assert_eq!(rows.len(), 3, "{control}");
        assert!(rows[0].ends_with(":27 [dyndbg]dyndbg_sites =_ \"pr_debug round %d\\n\""));
        assert!(rows[1]
            .ends_with(":28 [dyndbg]dyndbg_sites =_ \"dev_dbg round %d \"quoted\"\\ttab\\n\""));
        assert!(rows[2].ends_with(":58 [dyndbg]dyndbg_exit =_ \"exit\\n\""));
        // A query turns the pr_debug site on, with module and line prefixes.
        env.ok(&[
            "write",
            "/proc/dynamic_debug/control",
            "module dyndbg format ^pr_debug +pml",
        ]);
        env.ok(&["dmesg", "-c"]);
        env.ok(&["write", "/sys/module/dyndbg/parameters/poke", "5"]);
        assert_eq!(
            kernel_lines(&env.ok(&["dmesg", "-c"])),
            ["dyndbg:27: pr_debug round 5", "sites ran, round 5"]
        );
        // A bad query: EINVAL and the kernel's words.
        let err = env.fails(&["write", "/proc/dynamic_debug/control", "module dyndbg +z"]);
        assert!(err.contains("Invalid argument"), "{err}");
        assert_eq!(
            kernel_lines(&env.ok(&["dmesg", "-c"])),
            ["dyndbg: unknown flag 'z'", "dyndbg: flags parse failed"]
        );
        // Off again: the site's jump is a NOP again.
        env.ok(&["write", "/proc/dynamic_debug/control", "module dyndbg -p"]);
        env.ok(&["write", "/sys/module/dyndbg/parameters/poke", "6"]);
        assert_eq!(
            kernel_lines(&env.ok(&["dmesg", "-c"])),
            ["sites ran, round 6"]
        );
        env.ok(&["rmmod", "dyndbg"]);
        // dyndbg= at load time, for this module only.
        env.ok(&["dmesg", "-c"]);
        env.ok(&["insmod", &ko, "dyndbg=\"func dyndbg_exit +pf\""]);
        env.ok(&["rmmod", "dyndbg"]);
        let lines = kernel_lines(&env.ok(&["dmesg"]));
        assert!(lines.iter().any(|l| l == "dyndbg_exit: exit"), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("pr_debug round")));
        assert!(!lines.iter().any(|l| l.contains("unknown parameter")));
    }
}
