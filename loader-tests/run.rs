//! `kload run` on real modules, held to what the real kernel printed.

use crate::common::*;

/// Scenarios of the form `insmod FILE` / `rmmod NAME`, recorded on the real
/// kernels: `kload run FILE` prints exactly the kernel's lines, except the
/// parts of reports that depend on the machine (registers, code bytes,
/// kernel-internal frames; see `machine_independent`).
const RUN_SCENARIOS: &[(&str, &str)] = &[
    ("hello-1", "hello_1"),
    ("hello-2", "hello_2"),
    ("init-fail", "init_fail"),
    ("printk-basics", "printk_basics"),
    ("preempt-leak", "preempt_leak"),
    ("core-lib", "core_lib"),
    ("cpu-data", "cpu_data"),
    ("warn-on", "warn_on"),
    ("null-deref", "null_deref"),
    ("bug-on", "bug_on"),
    ("div-zero", "div_zero"),
    ("oops-deep", "oops_deep"),
    ("dump-stack", "dump_stack"),
    ("datastructs", "datastructs"),
    ("pages", "pages"),
];

#[test]
fn run_prints_what_the_real_kernel_prints() {
    for series in SERIES {
        for dir in module_dirs(series) {
            for (module, name) in RUN_SCENARIOS {
                let file = dir.join(format!("{module}.ko"));
                let out = kload(&["run", file.to_str().unwrap()]);
                let (expected, status) = golden_run(series, module, name);
                let expected: Vec<String> = expected
                    .into_iter()
                    .filter(|l| machine_independent(l))
                    .map(|l| normalise_pid(&l))
                    .collect();
                let actual: Vec<String> = kernel_lines(&out)
                    .into_iter()
                    .filter(|l| machine_independent(l))
                    .map(|l| normalise_pid(&l))
                    .collect();
                assert_eq!(actual, expected, "{}", file.display());
                assert_eq!(
                    out.status.success(),
                    status == 0,
                    "{}: {}",
                    file.display(),
                    stderr(&out)
                );
            }
        }
    }
}

#[test]
fn seed_hello_1_prints_its_three_lines_as_dmesg() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/hello-1.ko"));
        let out = kload(&["run", file.to_str().unwrap()]);
        let lines = stdout_lines(&out);
        for want in ["Hello world 1.", "Dummy", "Goodbye world 1."] {
            let line = lines.iter().find(|l| strip_timestamp(l) == Some(want));
            assert!(
                line.is_some(),
                "{series}: no dmesg line {want:?} in {lines:?}"
            );
        }
    }
}

/// Parameters follow the file, as with insmod; an unknown one is ignored
/// with the kernel's warning and the load goes on.
#[test]
fn unknown_parameter_is_ignored_like_the_kernel() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/hello-1.ko"));
        let out = kload(&["run", file.to_str().unwrap(), "foo=1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let expected = golden_kernel_lines(series, "errors", "insmod /modules/hello-1.ko foo=1");
        assert_subsequence(&expected, &kernel_lines(&out), series);
    }
}

/// A negative init fails the load with kmod's words for the errno, and
/// exit is never called.
#[test]
fn failing_init_fails_the_run_without_calling_exit() {
    for series in SERIES {
        for dir in module_dirs(series) {
            let file = dir.join("init-fail.ko");
            let out = kload(&["run", file.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(1));
            let err = stderr(&out);
            assert!(
                err.contains(&format!(
                    "could not insert module {}: No such device",
                    file.display()
                )),
                "{err}"
            );
            let lines = kernel_lines(&out);
            // busybox insmod retries with init_module after finit_module
            // fails, so the real transcript runs init twice; kload runs it once.
            let mut expected = golden_kernel_lines(series, "init-fail", "insmod");
            expected.dedup();
            assert_eq!(lines, expected, "{}", file.display());
            assert!(
                !lines.iter().any(|l| l.contains("exit must never run")),
                "{lines:?}"
            );
        }
    }
}

/// PCI is not emulated, but its exports are named traps: the module loads
/// (no "Unknown symbol"), its init runs, and the call into PCI reports the
/// subsystem in an Oops-like report and kills the task.
#[test]
fn a_named_trap_lets_the_module_load_and_kills_the_caller() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/needs-pci.ko"));
        let out = kload(&["run", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
        let lines = kernel_lines(&out);
        assert!(
            !lines.iter().any(|l| l.contains("Unknown symbol")),
            "{lines:?}"
        );
        let called = lines
            .iter()
            .position(|l| l == "needs-pci: registering the driver")
            .expect("init ran");
        let bug = lines
            .iter()
            .position(|l| l == "BUG: kload: PCI is not emulated: __pci_register_driver called")
            .unwrap_or_else(|| panic!("no trap report: {lines:?}"));
        assert!(called < bug);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("CPU: 0 ") && l.contains("Comm: insmod")),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"Modules linked in: needs_pci(OE+)".to_owned()),
            "{lines:?}"
        );
    }
}

/// `--allow-missing` changes nothing for a named trap: it resolves before
/// any missing-symbol trap is considered.
#[test]
fn allow_missing_keeps_the_named_trap() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/needs-pci.ko"));
        let out = kload(&["run", "--allow-missing", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
        let lines = kernel_lines(&out);
        assert!(
            lines.contains(
                &"BUG: kload: PCI is not emulated: __pci_register_driver called".to_owned()
            ),
            "{lines:?}"
        );
    }
}

/// The trace buffer reads like /sys/kernel/tracing/trace after rmmod:
/// same header, same entry layout (pids, times and addresses aside).
#[test]
fn trace_printk_entries_read_like_the_kernels_trace_file() {
    // Addresses become "ADDR" and other digit runs "#": what remains is the layout.
    let normalize = |l: &str| {
        let words = l.split_whitespace().map(|w| {
            if let Some(hex) = w.strip_prefix("0x") {
                let tail = hex.trim_start_matches(|c: char| c.is_ascii_hexdigit());
                return format!("ADDR{tail}");
            }
            hash_digits(w)
        });
        words.collect::<Vec<_>>().join(" ")
    };
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/hello-1.ko"));
        let out = kload(&["run", "--trace", file.to_str().unwrap()]);
        let lines = stdout_lines(&out);
        let trace: Vec<String> = lines
            .iter()
            .skip_while(|l| !l.starts_with("# tracer"))
            .map(|l| normalize(l))
            .collect();
        let real = golden(series, "hello-1");
        let last = real
            .iter()
            .rev()
            .find(|c| c.command.contains("/sys/kernel/tracing/trace"))
            .unwrap();
        let expected: Vec<String> = last.output.iter().map(|l| normalize(l)).collect();
        assert_eq!(trace, expected, "{series}");
    }
}

/// A file that is not there is reported as insmod reports it.
#[test]
fn missing_file_is_reported() {
    let out = kload(&["run", "/nonexistent/hello.ko"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "insmod: ERROR: could not load module /nonexistent/hello.ko: No such file or directory"
        ),
        "{err}"
    );
}

/// A kernel export that kload neither implements nor traps: the load fails
/// with one kernel message per symbol; with `--allow-missing` the module
/// loads and the call lands on a trap that names the function.
#[test]
fn unknown_symbols_fail_the_load_or_trap_with_allow_missing() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/needs-missing.ko"));
        let out = kload(&["run", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let lines = kernel_lines(&out);
        for sym in ["register_reboot_notifier", "unregister_reboot_notifier"] {
            assert!(
                lines.contains(&format!("needs_missing: Unknown symbol {sym} (err -2)")),
                "{lines:?}"
            );
        }
        assert!(
            stderr(&out).contains("Unknown symbol in module"),
            "{}",
            stderr(&out)
        );
        let out = kload(&["run", "--allow-missing", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
        let lines = kernel_lines(&out);
        let called = lines
            .iter()
            .position(|l| l == "needs-missing: registering a reboot notifier")
            .expect("init ran");
        let bug = lines
            .iter()
            .position(|l| {
                l == "BUG: kload: call to unimplemented kernel function register_reboot_notifier"
            })
            .unwrap_or_else(|| panic!("no trap report: {lines:?}"));
        assert!(called < bug);
    }
}
