//! Faults in module code: a NULL dereference, BUG(), a divide error and
//! WARN_ON()/WARN() become the kernel's own reports; the task dies (or,
//! for a WARN, goes on) and the emulated kernel survives.

use crate::common::*;

/// (module file stem, module name) of the fault scenarios, each recorded on
/// the real kernels as `insmod FILE`, `cat /proc/modules`, `rmmod NAME`.
const FAULTS: &[(&str, &str)] = &[
    ("null-deref", "null_deref"),
    ("warn-on", "warn_on"),
    ("bug-on", "bug_on"),
    ("div-zero", "div_zero"),
];

/// The lines of a fault report the comparison holds to the kernel: the
/// report's kernel-independent lines (everything `machine_independent`
/// keeps), and the `RIP: 0010:` line of module code (function, offset,
/// size, module).
fn held(line: &str) -> bool {
    if line.starts_with("RIP: 0010:") {
        return line.ends_with(']');
    }
    machine_independent(line)
}

/// `__FILE__` of an out-of-tree build is the absolute path of the build
/// directory, which differs between the committed and rebuilt modules.
fn normalise_path(line: &str) -> String {
    let Some(at) = line.find(" at /") else {
        return line.to_owned();
    };
    let rest = &line[at + 4..];
    let end = rest.find(':').unwrap_or(rest.len());
    let file = &rest[..end];
    let base = file.rsplit('/').next().unwrap_or(file);
    format!("{} at <dir>/{base}{}", &line[..at], &rest[end..])
}

fn held_lines(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| held(l))
        .map(|l| normalise_pid(&normalise_path(l)))
        .collect()
}

#[test]
fn fault_reports_match_the_real_kernel() {
    for series in SERIES {
        for dir in module_dirs(series) {
            for (module, name) in FAULTS {
                let file = dir.join(format!("{module}.ko"));
                let out = kload(&["run", file.to_str().unwrap()]);
                let (expected, status) = golden_run(series, module, name);
                let expected = held_lines(&expected);
                let actual = held_lines(&kernel_lines(&out));
                assert_eq!(actual, expected, "{}", file.display());
                // A page-fault Oops kills insmod with SIGKILL (137,
                // "Killed"); die() (BUG, divide error) with SIGSEGV (139,
                // "Segmentation fault"): the same statuses as the real shell's.
                match status {
                    0 => assert!(out.status.success(), "{}", stderr(&out)),
                    status => {
                        assert_eq!(out.status.code(), Some(status), "{}", file.display());
                        let said = if status == 139 {
                            "Segmentation fault"
                        } else {
                            "Killed"
                        };
                        assert!(stderr(&out).contains(said), "{}", stderr(&out));
                    }
                }
            }
        }
    }
}

/// The Oops counter counts per kernel, and a WARN_ON_ONCE site reports once.
#[test]
fn warn_on_once_reports_once_and_taints_w() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/warn-on.ko"));
        let out = kload(&["run", file.to_str().unwrap()]);
        let lines = kernel_lines(&out);
        let warnings = lines.iter().filter(|l| l.starts_with("WARNING: ")).count();
        assert_eq!(warnings, 3, "{lines:#?}");
        let w_taint = lines
            .iter()
            .filter(|l| l.starts_with("CPU: ") && l.contains("Tainted: G        W  OE"))
            .count();
        assert_eq!(w_taint, 2, "the first WARNING comes before the W taint");
        assert!(lines.iter().any(|l| l == "warn-on: exit"), "{lines:#?}");
    }
}

fn sample(series: &str, stem: &str) -> String {
    root()
        .join("sample-modules")
        .join(series)
        .join(format!("{stem}.ko"))
        .display()
        .to_string()
}

fn lsmod_line(s: &PrivateSession, name: &str) -> Option<String> {
    let out = s.run(&["lsmod"]);
    assert!(out.status.success(), "lsmod: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .map(str::to_owned)
}

/// One faulting module must not take the session's kernel down: a module
/// loaded before keeps working, the faulting one stays listed (loading,
/// busy), and later commands and loads still work.
#[test]
fn session_survives_faulting_modules() {
    for series in SERIES {
        let s = PrivateSession::new(None);
        let ok = s.run(&["insmod", &sample(series, "hello-2")]);
        assert!(ok.status.success(), "{}", stderr(&ok));
        for (stem, name, status, said) in [
            ("null-deref", "null_deref", 137, "Killed"),
            ("bug-on", "bug_on", 139, "Segmentation fault"),
        ] {
            let out = s.run(&["insmod", &sample(series, stem)]);
            assert_eq!(out.status.code(), Some(status), "{stem}: {}", stderr(&out));
            assert!(stderr(&out).contains(said), "{}", stderr(&out));
            assert!(lsmod_line(&s, name).is_some(), "{name} not listed");
            let rm = s.run(&["rmmod", name]);
            assert!(
                !rm.status.success(),
                "rmmod {name} of a module stuck loading"
            );
        }
        // WARN goes on: the module becomes live and unloads normally.
        let warn = s.run(&["insmod", &sample(series, "warn-on")]);
        assert!(warn.status.success(), "{}", stderr(&warn));
        let dmesg = s.run(&["dmesg"]);
        let log = String::from_utf8_lossy(&dmesg.stdout).into_owned();
        assert!(log.contains("] Oops: 0002 [#1]") || log.contains("] Oops: Oops: 0002 [#1]"));
        assert!(log.contains("invalid opcode: 0000 [#2]"), "{log}");
        assert!(log.contains("warn-on: init returns 0"), "{log}");
        // The healthy module loaded first still runs its exit.
        for name in ["warn_on", "hello_2"] {
            let rm = s.run(&["rmmod", name]);
            assert!(rm.status.success(), "rmmod {name}: {}", stderr(&rm));
        }
        let dmesg = s.run(&["dmesg"]);
        let log = String::from_utf8_lossy(&dmesg.stdout).into_owned();
        assert!(log.contains("warn-on: exit"), "{log}");
        assert!(log.contains("Goodbye, world 2"), "{log}");
        assert!(lsmod_line(&s, "hello_2").is_none());
        // And a fresh load of a healthy module works after the Oopses.
        let again = s.run(&["insmod", &sample(series, "hello-2")]);
        assert!(again.status.success(), "{}", stderr(&again));
    }
}
