//! The slab allocator's checks through `kload run` on the slab-checks
//! sample (both kernels): a clean run, a leak, a double free, a use after
//! free, an overflow, fault injection, and `--no-checks`.

use crate::common::*;

fn run_mode(file: &str, opts: &[&str], mode: u32) -> (Vec<String>, std::process::Output) {
    let mode = format!("mode={mode}");
    let mut args = vec!["run"];
    args.extend_from_slice(opts);
    args.extend([file, mode.as_str()]);
    let out = kload(&args);
    (kernel_lines(&out), out)
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l.contains(want))
}

fn each_module(f: impl Fn(&str, &str)) {
    for series in SERIES {
        for dir in module_dirs(series) {
            let file = dir.join("slab-checks.ko");
            f(series, file.to_str().unwrap());
        }
    }
}

#[test]
fn clean_run_reports_nothing_and_succeeds() {
    each_module(|series, file| {
        let (lines, out) = run_mode(file, &[], 0);
        assert!(
            has(&lines, "slab-checks: clean run done, bad=0x0"),
            "{series}: {lines:?}"
        );
        assert!(!has(&lines, "BUG "), "{series}: {lines:?}");
        assert!(!has(&lines, "kmemleak"), "{series}: {lines:?}");
        assert!(out.status.success(), "{series}: {}", stderr(&out));
    });
}

#[test]
fn leaks_are_reported_kmemleak_style_at_unload() {
    each_module(|series, file| {
        let (lines, out) = run_mode(file, &[], 1);
        let head = lines
            .iter()
            .position(|l| l.contains("kload: kmemleak: 2 new suspected memory leaks"))
            .unwrap_or_else(|| panic!("{series}: {lines:?}"));
        let exit = lines.iter().position(|l| l == "slab-checks: exit").unwrap();
        assert!(exit < head, "reported after the module's exit ran");
        let objects: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("unreferenced object 0x"))
            .collect();
        assert_eq!(objects.len(), 2, "{series}: {lines:?}");
        assert!(objects[0].ends_with("(size 32):"), "{series}: {lines:?}");
        assert!(objects[1].ends_with("(size 8192):"), "{series}: {lines:?}");
        let frames: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("    [<") && l.contains("] slab_checks_init+0x"))
            .collect();
        assert_eq!(frames.len(), 2, "{series}: {lines:?}");
        assert!(frames.iter().all(|l| l.ends_with(" [slab_checks]")));
        assert!(!out.status.success(), "{series}: a leak fails the run");
    });
}

#[test]
fn double_free_is_a_bug_report_and_the_module_goes_on() {
    each_module(|series, file| {
        let (lines, out) = run_mode(file, &[], 2);
        assert!(
            has(&lines, "BUG kmalloc-16 (Tainted: "),
            "{series}: {lines:?}"
        );
        assert!(has(&lines, "): Object already free"), "{series}: {lines:?}");
        assert!(
            has(&lines, "kload: double free: kfree(0x"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "Allocated in slab_checks_init+0x"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "Freed in slab_checks_init+0x"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "slab-checks: exit"),
            "{series}: the task lives on"
        );
        assert!(!out.status.success());
    });
}

#[test]
fn use_after_free_is_caught_by_the_poison() {
    each_module(|series, file| {
        let (lines, out) = run_mode(file, &[], 3);
        assert!(has(&lines, "BUG kmalloc-32 ("), "{series}: {lines:?}");
        assert!(has(&lines, "): Poison overwritten"), "{series}: {lines:?}");
        assert!(
            has(&lines, "@offset=3. First byte 0x78 instead of 0x6b"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "kload: use after free: object 0x"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "Freed in slab_checks_init+0x"),
            "{series}: {lines:?}"
        );
        assert!(!out.status.success());
    });
}

#[test]
fn a_write_past_the_end_hits_the_redzone() {
    each_module(|series, file| {
        let (lines, out) = run_mode(file, &[], 4);
        assert!(has(&lines, "BUG kmalloc-16 ("), "{series}: {lines:?}");
        assert!(
            has(&lines, "): Right Redzone overwritten"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "@offset=13. First byte 0x1 instead of 0xcc"),
            "{series}: {lines:?}"
        );
        assert!(
            has(
                &lines,
                "kload: out-of-bounds write: Right Redzone of object 0x"
            ),
            "{series}: {lines:?}"
        );
        assert!(!out.status.success());
    });
}

#[test]
fn fault_injection_makes_the_nth_allocation_fail() {
    each_module(|series, file| {
        let (lines, out) = run_mode(file, &[], 5);
        assert!(
            has(&lines, "slab-checks: 64 of 64 allocations succeeded"),
            "{series}: {lines:?}"
        );
        assert!(out.status.success());
        let (lines, out) = run_mode(file, &["--fail-alloc=10"], 5);
        assert!(
            has(&lines, "FAULT_INJECTION: forcing a failure."),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "slab-checks: 9 of 64 allocations succeeded"),
            "{series}: {lines:?}"
        );
        assert!(out.status.success(), "{series}: {}", stderr(&out));
        let a = run_mode(file, &["--fail-alloc-rate=0.1,42"], 5).0;
        let b = run_mode(file, &["--fail-alloc-rate=0.1,42"], 5).0;
        let count = |l: &[String]| {
            l.iter()
                .find(|l| l.ends_with("of 64 allocations succeeded"))
                .cloned()
        };
        assert_eq!(count(&a), count(&b), "{series}: the seed decides");
    });
}

#[test]
fn no_checks_turns_the_reports_off() {
    each_module(|series, file| {
        for mode in [1, 2, 4] {
            let (lines, out) = run_mode(file, &["--no-checks"], mode);
            assert!(!has(&lines, "BUG "), "{series} mode {mode}: {lines:?}");
            assert!(!has(&lines, "kmemleak"), "{series} mode {mode}: {lines:?}");
            assert!(out.status.success(), "{series} mode {mode}");
        }
    });
}
