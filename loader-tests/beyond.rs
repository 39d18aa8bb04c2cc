//! Beyond the kernel: mistakes the real kernel lets pass silently (or
//! crashes on at random) that kload catches and names: init memory used
//! after init, `__ro_after_init` data written after init, locks held when
//! init or exit returns; and `rmmod -f` of a module an Oops left loading.

use std::process::Output;

use crate::common::*;

fn run(series: &str, stem: &str, args: &[&str]) -> (Output, Vec<String>) {
    let file = sample(series, stem);
    let mut argv = vec!["run", file.as_str()];
    argv.extend_from_slice(args);
    let out = kload(&argv);
    let lines = kernel_lines(&out);
    (out, lines)
}

fn position(lines: &[String], pred: impl Fn(&str) -> bool, what: &str) -> usize {
    lines
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no line {what}:\n{}", lines.join("\n")))
}

/// The page-fault Oops is the kernel's, with kload's line inside it: after
/// the `#PF` lines, before the end marker.
fn assert_named_oops(lines: &[String], pf: &str, named: &str) {
    let bug = position(
        lines,
        |l| l.starts_with("BUG: unable to handle page fault for address: "),
        "BUG: unable to handle page fault",
    );
    let access = position(lines, |l| l == pf, pf);
    let ours = position(lines, |l| l == named, named);
    let end = position(
        lines,
        |l| l == "---[ end trace 0000000000000000 ]---",
        "end trace",
    );
    assert!(bug < access && access < ours && ours < end, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Oops: 00") || l.starts_with("Oops: Oops: 00")),
        "{lines:#?}"
    );
}

#[test]
fn a_call_into_init_code_after_init_is_named() {
    for series in SERIES {
        let (out, lines) = run(series, "init-after", &[]);
        assert!(!out.status.success(), "the exit task dies");
        assert!(lines.iter().any(|l| l == "init-after: helper says 22"));
        assert_named_oops(
            &lines,
            "#PF: supervisor instruction fetch in kernel mode",
            "kload: init_after: access to __init code init_after_helper+0x0 after init (freed at init end)",
        );
        assert!(
            stderr(&out).contains("the exit task died"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_read_of_initdata_after_init_is_named() {
    for series in SERIES {
        let (out, lines) = run(series, "init-after", &["what=read"]);
        assert!(!out.status.success(), "the exit task dies");
        assert_named_oops(
            &lines,
            "#PF: supervisor read access in kernel mode",
            "kload: init_after: access to __initdata init_table+0x8 after init (freed at init end)",
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("init-after: initdata holds")),
            "the freed initdata was read: {lines:#?}"
        );
    }
}

#[test]
fn a_write_to_ro_after_init_data_after_init_is_named() {
    for series in SERIES {
        let (out, lines) = run(series, "ro-after-init", &[]);
        assert!(!out.status.success(), "the exit task dies");
        // The kernel's own lines, as the real kernel printed them.
        let real = golden_kernel_lines(series, "ro-after-init", "rmmod ro_after_init");
        for want in [
            "#PF: supervisor write access in kernel mode",
            "#PF: error_code(0x0003) - permissions violation",
        ] {
            assert!(real.iter().any(|l| l == want), "{real:#?}");
        }
        assert_named_oops(
            &lines,
            "#PF: error_code(0x0003) - permissions violation",
            "kload: ro_after_init: write to __ro_after_init variable ro_setting+0x0 after init",
        );
        // Init could still write it.
        assert!(lines.iter().any(|l| l == "ro-after-init: setting is 2"));
        assert!(!lines.iter().any(|l| l == "ro-after-init: setting is now 3"));
    }
}

fn lockdep_lines(release_comm: &str, lock: &str, site: &str) -> Vec<String> {
    [
        "kload: ================================================".to_owned(),
        "kload: WARNING: lock held when returning to user space!".to_owned(),
        "kload: ------------------------------------------------".to_owned(),
        format!("kload: {release_comm} is leaving the kernel with locks still held!"),
        format!("kload: 1 lock held by {release_comm}:"),
        format!("kload:  #0: PTR ({lock}), at: {site}"),
        "kload: released PTR with mutex_unlock()".to_owned(),
    ]
    .into_iter()
    .collect()
}

/// `insmod/7` -> `insmod/N` (and rmmod's).
fn task_pids(line: &str) -> String {
    let mut out = line.to_owned();
    for comm in ["insmod/", "rmmod/"] {
        if let Some(i) = out.find(comm) {
            let start = i + comm.len();
            let digits = out[start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(out.len(), |d| start + d);
            if digits > start {
                out.replace_range(start..digits, "N");
            }
        }
    }
    out
}

fn normalised(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            // The acquire site's offset and size depend on the build.
            let l = task_pids(&strip_raw_pointers(l));
            match l.split_once(", at: ") {
                Some((a, site)) => {
                    let func = site.split('+').next().unwrap_or(site);
                    let module = site.rsplit(' ').next().unwrap_or("");
                    format!("{a}, at: {func} {module}")
                }
                None => l,
            }
        })
        .collect()
}

#[test]
fn a_lock_held_when_init_returns_is_reported_and_released() {
    for series in SERIES {
        let (out, lines) = run(series, "lock-held", &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let got = normalised(&lines);
        let want = lockdep_lines("insmod/N", "held_mutex", "lock_held_init [lock_held]");
        assert_subsequence(&want, &got, series);
        // The kernel-ident line names the release.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("kload: 6.") && l.contains(" #1 Tainted: ")),
            "{lines:#?}"
        );
        // Released: the module's exit still runs, and the real kernel's
        // lines are all there (it prints nothing about the lock).
        assert!(lines.iter().any(|l| l == "lock-held: exit"), "{lines:#?}");
        let mut real = golden_kernel_lines(series, "lock-held", "insmod lock-held.ko");
        real.extend(golden_kernel_lines(series, "lock-held", "rmmod lock_held"));
        let kernel_only: Vec<String> = lines.iter().filter(|l| !kload_only(l)).cloned().collect();
        assert_eq!(kernel_only, real, "{series}");
    }
}

#[test]
fn a_lock_held_when_exit_returns_is_reported_and_released() {
    for series in SERIES {
        let (out, lines) = run(series, "lock-held", &["exit_lock=1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let got = normalised(&lines);
        let want = lockdep_lines("rmmod/N", "exit_mutex", "lock_held_exit [lock_held]");
        let exit = position(&lines, |l| l == "lock-held: exit", "exit");
        assert_subsequence(&want, &got[exit..], series);
    }
}

fn listed(s: &PrivateSession, name: &str) -> bool {
    let out = s.run(&["lsmod"]);
    assert!(out.status.success(), "lsmod: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split(' ').next() == Some(name))
}

/// A module whose init task died stays listed as loading; `rmmod` refuses
/// it, `rmmod -f` removes it without calling exit, with kload's line and
/// the forced-removal taint; the session goes on.
#[test]
fn rmmod_force_removes_a_module_left_loading_by_an_oops() {
    for series in SERIES {
        let s = PrivateSession::new(Some(series));
        let out = s.run(&["insmod", &sample(series, "null-deref")]);
        assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
        assert!(listed(&s, "null_deref"));
        let rm = s.run(&["rmmod", "null_deref"]);
        assert!(!rm.status.success(), "rmmod without -f must refuse");
        assert!(listed(&s, "null_deref"));
        let _ = s.run(&["dmesg", "-c"]);
        let rm = s.run(&["rmmod", "-f", "null_deref"]);
        assert!(rm.status.success(), "rmmod -f: {}", stderr(&rm));
        assert!(!listed(&s, "null_deref"));
        let dmesg = s.run(&["dmesg"]);
        let log = String::from_utf8_lossy(&dmesg.stdout).into_owned();
        assert!(
            log.contains("] kload: null_deref: removed while still loading (its init task died)"),
            "{log}"
        );
        // exit was not called (null-deref's exit prints).
        assert!(!log.contains("null-deref: exit must never run"), "{log}");
        let tainted = s.run(&["cat", "/proc/sys/kernel/tainted"]);
        let t: u64 = String::from_utf8_lossy(&tainted.stdout)
            .trim()
            .parse()
            .unwrap();
        assert_ne!(t & (1 << 3), 0, "taint R (forced rmmod): {t}");
        // The name is free again, and the session still loads modules.
        let again = s.run(&["insmod", &sample(series, "hello-2")]);
        assert!(again.status.success(), "{}", stderr(&again));
    }
}
