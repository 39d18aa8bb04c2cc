//! Module parameters, held to what the real kernels printed for the same
//! command lines (loader-tests/oracle/scenarios/param-types.sh, recorded in
//! golden/<series>/param-types.txt): every standard type, arrays, strings,
//! the module's own ops, quoting, `-`/`_`, hex and octal, unknown
//! parameters, `--`, the error messages and errnos of bad values, and the
//! /sys/module/param_types/parameters files (formats, writes, permissions).
//!
//! `insmod` lines run through the `kload run` CLI; the sysfs commands run
//! through the library (`kernel::fs`) on a module kept loaded.

use std::sync::Arc;

use kload::kernel::fs::{self, FsError};
use kload::kernel::Kernel;
use kload::module::{self, LoadOptions, ModuleImage};
use kload::profile::{DEBIAN_6_1, DEBIAN_6_12};

use crate::common::*;

const SCENARIO: &str = "param-types";
const NAME: &str = "param_types";
const PARAMS: &str = "/sys/module/param_types/parameters";

/// What the scenario's `$(printf '%1025s' | tr ' ' x)` expands to.
const LONG_ARG: &str = "$(printf '%1025s' | tr ' ' x)";

/// The first load of a boot taints the kernel; `kload run` boots a fresh
/// kernel each time, so these lines are left out of the comparisons.
fn is_taint_line(l: &str) -> bool {
    l.ends_with("loading out-of-tree module taints kernel.")
        || l.ends_with(
            "module verification failed: signature and/or required key missing - tainting kernel",
        )
}

/// kload's printk keeps 6.1's record size (989 characters of text after a
/// level prefix) on both kernels; 6.12 keeps 1021. Only the overlong charp
/// message reaches it; compare such lines on their first 989 characters.
fn norm(l: &str) -> String {
    l.chars().take(989).collect()
}

fn lines(v: impl IntoIterator<Item = String>) -> Vec<String> {
    v.into_iter()
        .filter(|l| !is_taint_line(l))
        .map(|l| norm(&l))
        .collect()
}

/// busybox insmod retries a failed `finit_module` with `init_module`, so the
/// real kernel printed a failing load's messages twice; keep the first run.
fn first_attempt(v: &[String]) -> Vec<String> {
    match v.iter().skip(1).position(|l| *l == v[0]) {
        Some(i) => v[..=i].to_vec(),
        None => v.to_vec(),
    }
}

/// The words of a scenario command (single quotes group; no escapes).
fn shell_words(cmd: &str) -> Vec<String> {
    let cmd = cmd.replace(LONG_ARG, &"x".repeat(1025));
    let (mut words, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in cmd.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    s.split(" (os error").next().unwrap_or(&s).to_owned()
}

/// kmod's words for an errno (what `kload run` prints, like insmod).
fn kmod_words(errno: i32) -> String {
    match errno {
        libc::EINVAL => "Invalid parameters".into(),
        e => strerror(e),
    }
}

/// Every `insmod param-types.ko ...` of the scenario through `kload run`:
/// the same kernel lines as the real kernel (init's values, the messages of
/// bad values, unknown parameters, `--`), then exit's lines when the real
/// module was removed with nothing written to it in between; failing loads
/// fail with the kernel's errno.
#[test]
fn kload_run_parses_parameters_like_the_kernel() {
    for series in SERIES {
        let real = golden(series, SCENARIO);
        for dir in module_dirs(series) {
            let file = dir.join("param-types.ko");
            let file = file.to_str().unwrap();
            for (n, cmd) in real.iter().enumerate() {
                let Some(rest) = cmd.command.strip_prefix("insmod param-types.ko") else {
                    continue;
                };
                // busybox joins the arguments with a space after each one;
                // an empty last argument makes kload's string the same.
                let mut args = vec!["run".to_owned(), file.to_owned()];
                args.extend(shell_words(rest));
                args.push(String::new());
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = kload(&argv);
                let what = format!("{series}: {}", cmd.command);
                let actual = lines(kernel_lines(&out));
                if cmd.status == 0 {
                    let mut expected = lines(cmd.kernel.clone());
                    let later = &real[n + 1..];
                    let rmmod = later
                        .iter()
                        .position(|c| c.command == format!("rmmod {NAME}"));
                    let written =
                        rmmod.is_none_or(|r| later[..r].iter().any(|c| c.command.contains("echo")));
                    assert!(out.status.success(), "{what}: {}", stderr(&out));
                    if written {
                        assert_eq!(actual[..expected.len()], expected[..], "{what}");
                    } else {
                        expected.extend(lines(later[rmmod.unwrap()].kernel.clone()));
                        assert_eq!(actual, expected, "{what}");
                    }
                } else {
                    // The retry's last message can arrive after busybox
                    // returned, in the next command's dmesg: drop it there.
                    let mut own = lines(cmd.kernel.clone());
                    if let Some(prev) = n.checked_sub(1).map(|p| &real[p]).filter(|p| p.status != 0)
                    {
                        let prev = lines(prev.kernel.clone());
                        let first = first_attempt(&prev);
                        let retried = prev.len() - first.len();
                        let missing = &first[retried.min(first.len())..];
                        if own.starts_with(missing) {
                            own.drain(..missing.len());
                        }
                    }
                    let expected = first_attempt(&own);
                    assert_eq!(actual, expected, "{what}");
                    assert_eq!(out.status.code(), Some(1), "{what}");
                    // busybox exits with the errno.
                    let want =
                        format!("could not insert module {file}: {}", kmod_words(cmd.status));
                    assert!(stderr(&out).contains(&want), "{what}: {}", stderr(&out));
                }
            }
        }
    }
}

/// `dyndbg` belongs to dynamic debug, not to the module: a well-formed
/// query on a module without call sites prints nothing (and no "unknown
/// parameter"), a bad one prints the kernel's errors and the load goes on;
/// on a module with sites it turns them on (dyndbg.ko).
#[test]
fn dyndbg_is_dynamic_debugs_parameter() {
    for series in SERIES {
        let file = root().join(format!("sample-modules/{series}/param-types.ko"));
        let out = kload(&["run", file.to_str().unwrap(), "dyndbg=+p", "i=3"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let k = kernel_lines(&out);
        assert!(!k.iter().any(|l| l.contains("dyndbg")), "{k:?}");
        assert!(k.iter().any(|l| l.contains(" i=3 ")), "{k:?}");
        let out = kload(&["run", file.to_str().unwrap(), "dyndbg=+w"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let k = kernel_lines(&out);
        let errors: Vec<&String> = k.iter().filter(|l| l.starts_with("dyndbg: ")).collect();
        assert_eq!(
            errors,
            ["dyndbg: unknown flag 'w'", "dyndbg: flags parse failed"],
            "{k:?}"
        );
        let file = root().join(format!("sample-modules/{series}/dyndbg.ko"));
        let quiet = kernel_lines(&kload(&["run", file.to_str().unwrap()]));
        assert!(
            !quiet.iter().any(|l| l.contains("pr_debug round")),
            "{quiet:?}"
        );
        let on = kernel_lines(&kload(&["run", file.to_str().unwrap(), "dyndbg"]));
        assert!(on.iter().any(|l| l == "pr_debug round 0"), "{on:?}");
        assert!(on.iter().any(|l| l == "exit"), "{on:?}");
    }
}

fn boot(series: &str) -> Arc<Kernel> {
    Kernel::boot(if series == "6.1" {
        &DEBIAN_6_1
    } else {
        &DEBIAN_6_12
    })
    .unwrap()
}

fn insmod(k: &Arc<Kernel>, file: &std::path::Path, args: &str) {
    let opts = LoadOptions {
        args: args.to_owned(),
        ..LoadOptions::default()
    };
    module::load_module(k, ModuleImage::open(file).unwrap(), &opts).unwrap();
}

/// The kernel log lines stored since record `mark`, as dmesg shows them.
fn log_since(k: &Kernel, mark: usize) -> Vec<String> {
    k.log.records()[mark..]
        .iter()
        .flat_map(|r| r.dmesg_lines())
        .map(|l| strip_timestamp(&l).unwrap_or(&l).to_owned())
        .collect()
}

/// Run one scenario line made of `echo [-n] DATA > FILE` and `cat FILE`
/// parts through kload's /sys, printing what busybox would.
fn shell(k: &Arc<Kernel>, line: &str) -> String {
    let mut out = String::new();
    for part in line.split("; ") {
        if let Some(path) = part.strip_prefix("cat ") {
            match fs::read(Some(k), path) {
                Ok(text) => out.push_str(&text),
                Err(FsError::Invalid { errno, .. }) => {
                    out.push_str(&format!("cat: read error: {}\n", strerror(errno)))
                }
                Err(e) => out.push_str(&format!(
                    "cat: can't open '{path}': {}\n",
                    strerror(e.errno())
                )),
            }
        } else if let Some(rest) = part.strip_prefix("echo ") {
            let (rest, newline) = match rest.strip_prefix("-n ") {
                Some(r) => (r, ""),
                None => (rest, "\n"),
            };
            let (data, path) = rest.split_once(" > ").expect("echo DATA > FILE");
            match fs::write(Some(k), path, &format!("{data}{newline}")) {
                Ok(()) => {}
                Err(FsError::Invalid { errno, .. }) => {
                    out.push_str(&format!("sh: write error: {}\n", strerror(errno)))
                }
                Err(e) => out.push_str(&format!(
                    "sh: can't create {path}: {}\n",
                    strerror(e.errno())
                )),
            }
        } else {
            panic!("unexpected scenario command {part:?}");
        }
    }
    out
}

/// What `for f in parameters/*; do printf '%s=' ${f##*/}; cat $f; done`
/// prints, for the files `ls` listed.
fn dump(k: &Arc<Kernel>, names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    names
        .iter()
        .map(|n| {
            format!(
                "{n}={}",
                fs::read(Some(k), &format!("{PARAMS}/{n}")).unwrap()
            )
        })
        .collect()
}

fn output_text(c: &GoldenCmd) -> String {
    c.output.iter().map(|l| format!("{l}\n")).collect()
}

/// The parameter files: which exist (perm 0 has none), and what each one
/// shows, with the defaults and with every type at its limits.
#[test]
fn sysfs_parameter_files_match_the_kernel() {
    for series in SERIES {
        let real = golden(series, SCENARIO);
        let ls = real
            .iter()
            .find(|c| c.command == format!("ls {PARAMS}"))
            .unwrap();
        let names: Vec<String> = ls
            .output
            .iter()
            .flat_map(|l| l.split_whitespace().map(str::to_owned))
            .collect();
        assert!(names.len() > 15 && !names.contains(&"hidden".to_owned()));
        for dir in module_dirs(series) {
            let file = dir.join("param-types.ko");
            for (i, cmd) in real.iter().enumerate() {
                let Some(args) = cmd.command.strip_prefix("insmod param-types.ko") else {
                    continue;
                };
                let Some(next) = real
                    .get(i + 1)
                    .filter(|c| c.command.starts_with("for f in"))
                else {
                    continue;
                };
                let k = boot(series);
                insmod(&k, &file, args.trim());
                let shown = dump(&k, &names);
                assert_eq!(
                    shown.lines().collect::<Vec<_>>(),
                    next.output,
                    "{series}: after {}",
                    cmd.command
                );
                let hidden = fs::read(Some(&k), &format!("{PARAMS}/hidden"));
                assert!(matches!(hidden, Err(FsError::NoEntry(_))), "{hidden:?}");
                assert!(matches!(fs::read(Some(&k), PARAMS), Err(FsError::IsDir(_))));
                module::delete_module(&k, NAME, false).unwrap();
            }
        }
    }
}

/// Writes and reads of the parameter files, in the scenario's order, on one
/// loaded module: output and errors as busybox showed them, the kernel's
/// messages, the values exit prints afterwards, and the taint of an unsafe
/// parameter.
#[test]
fn sysfs_writes_match_the_kernel() {
    for series in SERIES {
        let real = golden(series, SCENARIO);
        let start = real
            .iter()
            .rposition(|c| c.command.starts_with("insmod") && c.status == 0)
            .unwrap();
        for dir in module_dirs(series) {
            let k = boot(series);
            let args = real[start]
                .command
                .strip_prefix("insmod param-types.ko")
                .unwrap();
            insmod(&k, &dir.join("param-types.ko"), args.trim());
            for cmd in &real[start + 1..] {
                let mark = k.log.records().len();
                let what = format!("{series}: {}", cmd.command);
                if cmd.command == format!("rmmod {NAME}") {
                    module::delete_module(&k, NAME, false).unwrap();
                    assert_eq!(log_since(&k, mark), cmd.kernel, "{what}");
                    continue;
                }
                if cmd.command == "cat /proc/sys/kernel/tainted" {
                    let tainted = fs::read(Some(&k), "/proc/sys/kernel/tainted").unwrap();
                    assert_eq!(tainted, output_text(cmd), "{what}");
                    continue;
                }
                assert_eq!(shell(&k, &cmd.command), output_text(cmd), "{what}");
                assert_eq!(log_since(&k, mark), cmd.kernel, "{what}");
            }
        }
    }
}

/// A getter's output is cut at a page, and an unknown attribute or module
/// is not there.
#[test]
fn sysfs_paths_that_do_not_exist() {
    for series in SERIES {
        let k = boot(series);
        let file = root().join(format!("sample-modules/{series}/param-types.ko"));
        insmod(&k, &file, "");
        for p in [
            format!("{PARAMS}/nope"),
            format!("{PARAMS}/i/x"),
            "/sys/module/nope/parameters/i".to_owned(),
        ] {
            assert!(
                matches!(fs::read(Some(&k), &p), Err(FsError::NoEntry(_))),
                "{p}"
            );
            assert!(
                matches!(fs::write(Some(&k), &p, "1"), Err(FsError::NoEntry(_))),
                "{p}"
            );
        }
        // Writing nothing calls no setter.
        fs::write(Some(&k), &format!("{PARAMS}/i"), "").unwrap();
        assert_eq!(fs::read(Some(&k), &format!("{PARAMS}/i")).unwrap(), "-4\n");
        module::delete_module(&k, NAME, false).unwrap();
    }
}
