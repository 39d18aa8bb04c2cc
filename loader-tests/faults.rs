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
    ("oops-deep", "oops_deep"),
];

/// The lines of a fault report the comparison holds to the kernel: the
/// report's kernel-independent lines (everything `machine_independent`
/// keeps, the call trace's reliable module frames included), and the
/// `RIP: 0010:` line of module code (function, offset, size, module).
/// kload's own `kload: ` lines are not the kernel's.
fn held(line: &str) -> bool {
    if line.starts_with("RIP: 0010:") {
        return line.ends_with(']');
    }
    machine_independent(line) && !kload_only(line)
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
            ("stub-fault", "stub_fault", 137, "Killed"),
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
        assert!(log.contains("Oops: 0000 [#3]"), "{log}");
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

/// The frames of the first call trace in `lines`, between `<TASK>` and
/// `</TASK>`.
fn first_trace(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .skip_while(|l| *l != " <TASK>")
        .skip(1)
        .take_while(|l| *l != " </TASK>")
        .cloned()
        .collect()
}

/// The ORC unwinder: a fault two calls below init shows both callers in
/// order, reliable (no `? `), exactly as the real kernel's trace starts,
/// and then kload's own entry into module code, where the trace ends.
#[test]
fn call_trace_unwinds_module_frames_with_orc() {
    for series in SERIES {
        for dir in module_dirs(series) {
            let file = dir.join("oops-deep.ko");
            let out = kload(&["run", file.to_str().unwrap()]);
            let trace = first_trace(&kernel_lines(&out));
            let (real, _) = golden_run(series, "oops-deep", "oops_deep");
            let real_frames: Vec<String> = first_trace(&real)
                .into_iter()
                .filter(|l| reliable_module_frame(l))
                .collect();
            assert_eq!(real_frames.len(), 2, "{series}: {real:#?}");
            assert!(real_frames[0].starts_with(" oops_deep_outer"));
            assert!(real_frames[1].starts_with(" oops_deep_init+"));
            assert_eq!(trace[..2], real_frames[..], "{}", file.display());
            assert!(
                trace[2].starts_with(" kload_enter+0x"),
                "{}: {trace:#?}",
                file.display()
            );
            assert_eq!(trace.len(), 3, "{trace:#?}");
        }
    }
}

/// A WARN in a helper: the trace's first frame is the helper's caller.
#[test]
fn warn_trace_names_the_caller_of_the_warning_function() {
    for series in SERIES {
        let out = kload(&["run", &sample(series, "warn-on")]);
        let lines = kernel_lines(&out);
        let second_warning = lines
            .iter()
            .position(|l| l.starts_with("WARNING: ") && l.contains(" warn_once_site+"))
            .expect("the WARN_ON_ONCE report");
        let trace = first_trace(&lines[second_warning..]);
        assert!(trace[0].starts_with(" warn_on_init+0x"), "{trace:#?}");
        let real = golden_kernel_lines(series, "warn-on", "insmod warn-on.ko");
        assert!(real.contains(&trace[0]), "{series}: {:?}", trace[0]);
    }
}

/// `strlen(NULL)` from init: the fault is inside a stub of the kernel. It
/// becomes the page-fault Oops the kernel's strlen raises, RIP naming
/// strlen (kload's symbol) and the trace the module's call; the task is
/// killed as by the real kernel.
#[test]
fn fault_inside_a_stub_is_an_oops_naming_the_stub() {
    for series in SERIES {
        for dir in module_dirs(series) {
            // As the scenario ran on the real kernel: hello-1 first.
            let s = PrivateSession::new(Some(series)).in_dir(dir.clone());
            assert!(s.run(&["insmod", "hello-1.ko"]).status.success());
            s.run(&["dmesg", "-c"]);
            let out = s.run(&["insmod", "stub-fault.ko"]);
            assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
            assert!(stderr(&out).contains("Killed"), "{}", stderr(&out));
            let dmesg = s.run(&["dmesg"]);
            let lines: Vec<String> = stdout_lines(&dmesg)
                .iter()
                .map(|l| strip_timestamp(l).unwrap_or(l).to_owned())
                .collect();
            let real = golden_kernel_lines(series, "stub-fault", "insmod stub-fault.ko");
            assert_eq!(held_lines(&lines), held_lines(&real), "{}", dir.display());
            let rip = lines.iter().find(|l| l.starts_with("RIP: 0010:")).unwrap();
            assert!(rip.starts_with("RIP: 0010:strlen+0x0/0x"), "{rip}");
            assert!(
                lines
                    .iter()
                    .any(|l| l == "kload: strlen: cannot access 1 bytes of a string at 0x0"),
                "{lines:#?}"
            );
            let trace = first_trace(&lines);
            assert!(trace[0].starts_with(" stub_fault_init+0x"), "{trace:#?}");
            // The kernel goes on: the module loaded before still unloads.
            assert!(s.run(&["rmmod", "hello_1"]).status.success());
            let log = String::from_utf8_lossy(&s.run(&["dmesg"]).stdout).into_owned();
            assert!(log.contains("Goodbye world 1."), "{log}");
        }
    }
}

/// `kload run -v`: after the `Code:` line, its bytes disassembled, each
/// line a `kload: ` line, the faulting instruction marked; not without -v.
#[test]
fn verbose_run_disassembles_the_code_bytes() {
    for series in SERIES {
        let file = sample(series, "oops-deep");
        let quiet = kernel_lines(&kload(&["run", &file]));
        assert!(!quiet.iter().any(|l| l.starts_with("kload: > ")));
        let lines = kernel_lines(&kload(&["run", "-v", &file]));
        let code = lines.iter().position(|l| l.starts_with("Code: ")).unwrap();
        assert!(
            lines[code + 1].starts_with("kload: Code: disassembly from oops_deep_inner"),
            "{:#?}",
            &lines[code..]
        );
        let rip = lines[code - 1]
            .strip_prefix("RIP: 0010:")
            .and_then(|r| r.split('/').next())
            .unwrap()
            .to_owned();
        let marked: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("kload: > "))
            .collect();
        // Two register dumps in an Oops, one marked instruction in each.
        assert_eq!(marked.len(), 2, "{lines:#?}");
        let want = format!("kload: > {rip}: c7 40 08 2a 00 00 00");
        assert!(marked[0].starts_with(&want), "{} vs {want}", marked[0]);
        assert!(
            marked[0].contains("movl $0x2a,8(%rax)")
                && marked[0].ends_with("<-- trapping instruction"),
            "{}",
            marked[0]
        );
        // The instructions before it are decoded from the function start.
        assert!(
            lines[code + 2].contains("call __fentry__"),
            "{}",
            lines[code + 2]
        );
    }
}

/// CR2 in a register dump is the last page-fault address, as on the real
/// kernel (whose WARN dumps show the address where its own read of the
/// code bytes faulted): through a WARN, an Oops and a WARN again, every
/// CR2 register line shows the address of the latest fault before it.
#[test]
fn register_dumps_show_the_last_page_fault_address() {
    for series in SERIES {
        let s = PrivateSession::new(None);
        assert!(s
            .run(&["insmod", &sample(series, "warn-on")])
            .status
            .success());
        s.run(&["insmod", &sample(series, "oops-deep")]);
        assert!(s.run(&["rmmod", "warn_on"]).status.success());
        assert!(s
            .run(&["insmod", &sample(series, "warn-on")])
            .status
            .success());
        let log = String::from_utf8_lossy(&s.run(&["dmesg"]).stdout).into_owned();
        let mut last = 0u64;
        let mut dumps = 0;
        let mut after_oops = false;
        for line in log.lines().filter_map(strip_timestamp) {
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            if let Some(a) = line.strip_prefix("BUG: kernel NULL pointer dereference, address: ") {
                last = hex(a);
                after_oops = true;
            } else if let Some(a) = line.strip_prefix("Code: Unable to access opcode bytes at ") {
                last = hex(a.trim_end_matches('.'));
            } else if let Some(v) = line.strip_prefix("CR2: ").and_then(|v| v.split(' ').next()) {
                if line.contains(" CR3: ") {
                    assert_eq!(hex(v), last, "{series}: {line}\n{log}");
                    dumps += 1;
                    if after_oops && log.contains("WARNING") {
                        assert_ne!(last, 0, "{line}");
                    }
                }
            }
        }
        // 3 WARNINGs, twice; the Oops's two dumps.
        assert_eq!(dumps, 8, "{log}");
    }
}

/// Without ORC data (the sections stripped with objcopy) the unwinder
/// has nothing to go on: the module's frames are still found by the
/// stack scan, but only as the kernel prints guesses, with `? `.
#[test]
fn call_trace_without_orc_data_falls_back_to_the_stack_scan() {
    let tmp = tempfile::tempdir().unwrap();
    for series in SERIES {
        let stripped = tmp.path().join(format!("oops-deep-{series}.ko"));
        let status = std::process::Command::new("objcopy")
            .args([
                "--remove-section",
                ".orc_unwind",
                "--remove-section",
                ".orc_unwind_ip",
                "--remove-section",
                ".rela.orc_unwind_ip",
                &sample(series, "oops-deep"),
            ])
            .arg(&stripped)
            .status()
            .expect("run objcopy (binutils)");
        assert!(status.success());
        let out = kload(&["run", stripped.to_str().unwrap()]);
        let trace = first_trace(&kernel_lines(&out));
        assert_eq!(trace.len(), 2, "{trace:#?}");
        assert!(trace[0].starts_with(" ? oops_deep_outer"), "{trace:#?}");
        assert!(trace[1].starts_with(" ? oops_deep_init+"), "{trace:#?}");
    }
}
