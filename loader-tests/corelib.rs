//! The core library and the page allocator through `kload run` on the
//! datastructs and pages samples (both kernels): the deliberate mistakes
//! behind their `bug` parameters are reported as the kernel (refcount_t
//! and ida WARNs) or kload's checks (page leaks, double frees) report them.
//! Their clean runs are held to the real kernels by the replayer.

use crate::common::*;

fn run(file: &str, bug: u32) -> (Vec<String>, std::process::Output) {
    let bug = format!("bug={bug}");
    let out = kload(&["run", file, bug.as_str()]);
    (kernel_lines(&out), out)
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l.contains(want))
}

fn each_module(name: &str, f: impl Fn(&str, &str)) {
    for series in SERIES {
        for dir in module_dirs(series) {
            let file = dir.join(name);
            f(series, file.to_str().unwrap());
        }
    }
}

#[test]
fn pages_clean_run_frees_everything() {
    each_module("pages.ko", |series, file| {
        let (lines, out) = run(file, 0);
        assert!(has(&lines, "pages: done"), "{series}: {lines:?}");
        assert!(
            has(
                &lines,
                "pages: order 2: aligned 1, zeroed 1, next page 1, pfn step 1, head 0"
            ),
            "{series}: {lines:?}"
        );
        assert!(
            !has(&lines, "kmemleak") && !has(&lines, "BUG "),
            "{series}: {lines:?}"
        );
        assert!(out.status.success(), "{series}: {}", stderr(&out));
    });
}

#[test]
fn leaked_pages_are_reported_at_unload() {
    each_module("pages.ko", |series, file| {
        let (lines, out) = run(file, 1);
        let head = lines
            .iter()
            .position(|l| {
                l == "kload: kmemleak: 1 new suspected memory leaks (module pages unloaded)"
            })
            .unwrap_or_else(|| panic!("{series}: {lines:?}"));
        let exit = lines.iter().position(|l| l == "pages: exit").unwrap();
        assert!(exit < head, "{series}: reported after exit ran");
        assert!(
            lines[head + 1].starts_with("unreferenced object 0x")
                && lines[head + 1].ends_with("(size 8192):"),
            "{series}: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("    [<")
                && l.contains("] pages_init+0x")
                && l.ends_with(" [pages]")),
            "{series}: {lines:?}"
        );
        assert!(!out.status.success(), "{series}: a leak fails the run");
    });
}

#[test]
fn double_free_of_pages_is_reported_and_the_module_goes_on() {
    each_module("pages.ko", |series, file| {
        let (lines, out) = run(file, 2);
        assert!(has(&lines, "BUG pages (Tainted: "), "{series}: {lines:?}");
        assert!(has(&lines, "): Object already free"), "{series}: {lines:?}");
        assert!(
            has(&lines, "kload: double free: free_pages(0x")
                && has(&lines, "object of size 4096 already freed"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "pages: done"),
            "{series}: the module went on: {lines:?}"
        );
        assert!(
            !out.status.success(),
            "{series}: a double free fails the run"
        );
    });
}

#[test]
fn refcount_underflow_and_increment_from_zero_warn_once_each() {
    each_module("datastructs.ko", |series, file| {
        let (lines, out) = run(file, 1);
        for msg in [
            "refcount_t: underflow; use-after-free.",
            "refcount_t: addition on 0; use-after-free.",
        ] {
            let at = lines
                .iter()
                .position(|l| l == msg)
                .unwrap_or_else(|| panic!("{series}: {msg} missing: {lines:?}"));
            assert_eq!(lines[at - 1], "------------[ cut here ]------------");
            assert!(
                lines[at + 1].starts_with("WARNING: CPU: 0 PID: ")
                    && lines[at + 1].contains(" at lib/refcount.c"),
                "{series}: {lines:?}"
            );
            assert_eq!(lines.iter().filter(|l| *l == msg).count(), 1, "{series}");
        }
        // Saturated: REFCOUNT_SATURATED is INT_MIN / 2.
        assert!(
            has(&lines, "datastructs: saturated at -1073741824"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "datastructs: inc from zero gives -1073741824"),
            "{series}: {lines:?}"
        );
        assert!(has(&lines, "datastructs: done"), "{series}: {lines:?}");
        // A WARN does not fail `kload run` (the kernel goes on, tainted W).
        assert!(out.status.success(), "{series}: {}", stderr(&out));
    });
}

#[test]
fn ida_free_of_a_free_id_is_the_kernels_warning() {
    each_module("datastructs.ko", |series, file| {
        let (lines, _) = run(file, 2);
        let at = lines
            .iter()
            .position(|l| l == "ida_free called for id=7 which is not allocated.")
            .unwrap_or_else(|| panic!("{series}: {lines:?}"));
        assert_eq!(lines[at - 1], "------------[ cut here ]------------");
        assert!(
            lines[at + 1].contains(" at lib/idr.c"),
            "{series}: {lines:?}"
        );
        assert!(
            has(&lines, "datastructs: ida empty after destroy 1"),
            "{series}: {lines:?}"
        );
    });
}
