//! The kmod-like verbs against one session kernel, each a separate
//! process: insmod, lsmod, rmmod, dmesg, cat, write, shutdown.

use crate::common::*;

#[test]
fn insmod_lsmod_rmmod_across_processes() {
    for series in SERIES {
        for dir in module_dirs(series) {
            let env = Env::new();
            let ko = dir.join("hello-2.ko").display().to_string();
            assert_eq!(
                env.ok(&["lsmod"]),
                "Module                  Size  Used by\n"
            );
            assert_eq!(env.ok(&["insmod", &ko]), "");
            let out = env.ok(&["lsmod"]);
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 2, "{out}");
            // kmod: "%-19s %8lu  %d", no holders.
            let row = lines[1];
            assert!(row.starts_with("hello_2             "), "{row:?}");
            let (size, refcnt) = row[20..].split_at(8);
            assert!(size.trim_start().parse::<u64>().unwrap() > 0, "{row:?}");
            assert_eq!(refcnt, "  0", "{row:?}");
            assert_eq!(env.ok(&["rmmod", "hello-2"]), "");
            assert_eq!(
                env.ok(&["lsmod"]),
                "Module                  Size  Used by\n"
            );
            let log = kernel_lines(&env.ok(&["dmesg"]));
            assert!(log.contains(&"Hello, world 2".to_owned()), "{log:?}");
            assert_eq!(log.last().unwrap(), "Goodbye, world 2");
        }
    }
}

#[test]
fn second_insmod_is_file_exists_and_missing_file_is_kmods_message() {
    let env = Env::new();
    let ko = sample("6.12", "hello-2.ko");
    env.ok(&["insmod", &ko]);
    let err = env.fails(&["insmod", &ko]);
    assert_eq!(
        err.lines().next().unwrap(),
        format!("insmod: ERROR: could not insert module {ko}: File exists")
    );
    assert!(err.lines().nth(1).unwrap().starts_with("kload: "), "{err}");
    assert_eq!(
        env.fails(&["insmod", "/nonexistent/x.ko"]),
        "insmod: ERROR: could not load module /nonexistent/x.ko: No such file or directory\n"
    );
    assert_eq!(env.fails(&["insmod"]), "insmod: ERROR: missing filename.\n");
    assert_eq!(
        env.fails(&["insmod", "-"]),
        "insmod: ERROR: this tool does not support loading from stdin!\n"
    );
    // A relative path is the client's, not the daemon's.
    let o = env
        .cmd(&["insmod", "hello-1.ko"])
        .current_dir(root().join("sample-modules/6.12"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(env.lsmod_names(), ["hello_1", "hello_2"]);
}

#[test]
fn init_failure_is_reported_with_kmods_words() {
    let env = Env::new();
    let ko = sample("6.1", "init-fail.ko");
    let err = env.fails(&["insmod", &ko]);
    assert_eq!(
        err.lines().next().unwrap(),
        format!("insmod: ERROR: could not insert module {ko}: No such device")
    );
    assert!(env.lsmod_names().is_empty());
    // The kernel still works afterwards.
    env.ok(&["insmod", &sample("6.1", "hello-2.ko")]);
    assert_eq!(env.lsmod_names(), ["hello_2"]);
}

#[test]
fn rmmod_checks_like_kmod() {
    let env = Env::new();
    assert_eq!(
        env.fails(&["rmmod", "nosuch"]),
        "rmmod: ERROR: Module nosuch is not currently loaded\n"
    );
    assert_eq!(
        env.fails(&["rmmod"]),
        "rmmod: ERROR: missing module name.\n"
    );
    // -f skips the checks; the kernel's answer is then reported twice, as
    // Debian's kmod does (libkmod's log line, then rmmod's).
    let err = env.fails(&["rmmod", "-f", "nosuch"]);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "rmmod: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could not remove 'nosuch': No such file or directory",
            "rmmod: ERROR: could not remove module nosuch: No such file or directory",
        ]
    );
    // Several names: each is tried, the failure is reported, status 1.
    let ko = sample("6.1", "hello-2.ko");
    env.ok(&["insmod", &ko]);
    let err = env.fails(&["rmmod", "nosuch", &ko]);
    assert_eq!(err, "rmmod: ERROR: Module nosuch is not currently loaded\n");
    assert!(
        env.lsmod_names().is_empty(),
        "the path argument was removed by its name"
    );
    assert_eq!(
        env.fails(&["rmmod", "-x"]),
        "rmmod: invalid option -- 'x'\n"
    );
}

#[test]
fn rmmod_refuses_a_module_in_use_and_lsmod_shows_holders() {
    let env = Env::new();
    env.ok(&["insmod", &sample("6.1", "exporter.ko")]);
    env.ok(&["insmod", &sample("6.1", "user.ko")]);
    let out = env.ok(&["lsmod"]);
    let exporter = out.lines().find(|l| l.starts_with("exporter ")).unwrap();
    assert!(exporter.ends_with("  1 user"), "{out}");
    assert_eq!(
        env.fails(&["rmmod", "exporter"]),
        "rmmod: ERROR: Module exporter is in use by: user\n"
    );
    env.ok(&["rmmod", "user", "exporter"]);
    assert!(env.lsmod_names().is_empty());
}

#[test]
fn dmesg_shows_the_modules_lines_and_c_clears() {
    let env = Env::new();
    assert_eq!(env.ok(&["dmesg"]), "", "no kernel before the first insmod");
    env.ok(&["insmod", &sample("6.1", "hello-2.ko")]);
    let out = env.ok(&["dmesg"]);
    assert_eq!(
        kernel_lines(&out),
        [
            "hello_2: loading out-of-tree module taints kernel.",
            "hello_2: module verification failed: signature and/or required key missing - tainting kernel",
            "Hello, world 2",
        ]
    );
    // -x: util-linux's "facility:level : " prefix.
    let x = env.ok(&["dmesg", "-x"]);
    let levels: Vec<&str> = x.lines().map(|l| &l[..15]).collect();
    assert_eq!(
        levels,
        ["kern  :warn  : ", "kern  :notice: ", "kern  :info  : "]
    );
    let warn = env.ok(&["dmesg", "--level", "warn,err"]);
    assert_eq!(
        kernel_lines(&warn),
        ["hello_2: loading out-of-tree module taints kernel."]
    );
    assert_eq!(
        env.fails(&["dmesg", "--level", "loud"]),
        "dmesg: unknown level 'loud'\n"
    );
    // -c prints, then clears.
    assert_eq!(env.ok(&["dmesg", "-c"]), out);
    assert_eq!(env.ok(&["dmesg"]), "");
    env.ok(&["rmmod", "hello_2"]);
    assert_eq!(kernel_lines(&env.ok(&["dmesg"])), ["Goodbye, world 2"]);
}

#[test]
fn cat_and_write_reach_proc_and_sys() {
    let env = Env::new();
    assert_eq!(env.ok(&["cat", "/proc/modules"]), "");
    env.ok(&["insmod", &sample("6.12", "params.ko"), "p_int=5"]);
    let modules = env.ok(&["cat", "/proc/modules"]);
    assert!(modules.starts_with("params "), "{modules}");
    assert_eq!(
        env.ok(&["cat", "/sys/module/params/parameters/p_int"]),
        "5\n"
    );
    env.ok(&["write", "/sys/module/params/parameters/p_int", "-7"]);
    assert_eq!(
        env.ok(&["cat", "/sys/module/params/parameters/p_int"]),
        "-7\n"
    );
    // Like `echo abc > p_string`: the newline is written too, and a string
    // parameter keeps it (the real kernel then shows "abc\n\n").
    env.ok(&["write", "/sys/module/params/parameters/p_string", "abc"]);
    assert_eq!(
        env.ok(&["cat", "/sys/module/params/parameters/p_string"]),
        "abc\n\n"
    );
    env.ok(&[
        "write",
        "-n",
        "/sys/module/params/parameters/p_string",
        "xy",
    ]);
    assert_eq!(
        env.ok(&["cat", "/sys/module/params/parameters/p_string"]),
        "xy\n"
    );
    let err = env.fails(&["cat", "/proc/nope"]);
    assert_eq!(err, "cat: /proc/nope: No such file or directory\n");
    let err = env.fails(&["write", "/proc/modules", "x"]);
    assert_eq!(err, "write: /proc/modules: Permission denied\n");
}

#[test]
fn shutdown_then_a_new_command_starts_a_fresh_kernel() {
    let env = Env::new();
    assert_eq!(env.ok(&["shutdown"]), "", "no daemon: nothing to do");
    let ko = sample("6.1", "hello-2.ko");
    env.ok(&["insmod", &ko]);
    let pid1 = std::fs::read_to_string(env.path().join("t.pid")).unwrap();
    env.ok(&["shutdown"]);
    assert!(!env.socket().exists(), "the socket is removed");
    assert!(env.lsmod_names().is_empty());
    assert_eq!(env.ok(&["dmesg"]), "");
    let pid2 = std::fs::read_to_string(env.path().join("t.pid")).unwrap();
    assert_ne!(pid1, pid2);
    // A fresh kernel is tainted anew: its first out-of-tree module says so.
    env.ok(&["insmod", &ko]);
    let log = kernel_lines(&env.ok(&["dmesg"]));
    assert_eq!(log[0], "hello_2: loading out-of-tree module taints kernel.");
}

#[test]
fn two_sessions_side_by_side() {
    let a = Env::named("a");
    let b = a.other_session("b");
    a.ok(&["insmod", &sample("6.1", "hello-1.ko")]);
    b.ok(&["insmod", &sample("6.12", "hello-2.ko")]);
    assert_eq!(a.lsmod_names(), ["hello_1"]);
    assert_eq!(b.lsmod_names(), ["hello_2"]);
    // KLOAD_SESSION selects a session; --session wins over it.
    let o = a
        .cmd(&["lsmod"])
        .env("KLOAD_SESSION", "b")
        .output()
        .unwrap();
    assert!(text(&o.stdout).contains("hello_1"), "{o:?}");
    let o = std::process::Command::new(bin())
        .env("KLOAD_RUNTIME_DIR", a.path())
        .env("KLOAD_SESSION", "b")
        .arg("lsmod")
        .output()
        .unwrap();
    assert!(text(&o.stdout).contains("hello_2"), "{o:?}");
    a.ok(&["shutdown"]);
    assert_eq!(b.lsmod_names(), ["hello_2"], "b outlives a");
}

#[test]
fn kmod_names_through_symlinks() {
    let env = Env::new();
    let bindir = tempfile::tempdir().unwrap();
    for name in ["insmod", "rmmod", "lsmod", "modinfo", "modprobe"] {
        std::os::unix::fs::symlink(bin(), bindir.path().join(name)).unwrap();
    }
    let tool = |name: &str, args: &[&str]| {
        std::process::Command::new(bindir.path().join(name))
            .env("KLOAD_RUNTIME_DIR", env.path())
            .env("KLOAD_SESSION", &env.session)
            .args(args)
            .output()
            .unwrap()
    };
    let ko = sample("6.12", "hello-2.ko");
    assert!(tool("insmod", &[&ko]).status.success());
    let ls = tool("lsmod", &[]);
    assert!(text(&ls.stdout).contains("hello_2 "), "{ls:?}");
    let info = tool("modinfo", &["-F", "name", "hello_2"]);
    assert_eq!(text(&info.stdout), "hello_2\n");
    assert!(tool("rmmod", &["hello_2"]).status.success());
    let err = tool("rmmod", &["hello_2"]);
    assert_eq!(
        text(&err.stderr),
        "rmmod: ERROR: Module hello_2 is not currently loaded\n"
    );
    assert_eq!(text(&tool("lsmod", &["x"]).stderr), "Usage: lsmod\n");
}

/// A task killed in init (here by the PCI named trap) is
/// reported as the shell reports a killed insmod; the module stays listed,
/// still loading, as the kernel leaves it, and the kernel keeps working.
#[test]
fn an_init_killed_by_a_trap_reports_killed() {
    let env = Env::new();
    for series in ["6.1", "6.12"] {
        let env = env.other_session(&format!("killed-{}", series.replace('.', "-")));
        let o = env.run(&["insmod", "--allow-missing", &sample(series, "needs-pci.ko")]);
        assert_eq!(o.status.code(), Some(137), "{o:?}");
        assert!(
            text(&o.stderr).starts_with("Killed\n"),
            "{}",
            text(&o.stderr)
        );
        assert!(env
            .ok(&["dmesg"])
            .contains("BUG: kload: PCI is not emulated: __pci_register_driver called"));
        let modules = env.ok(&["cat", "/proc/modules"]);
        assert!(
            modules.starts_with("needs_pci ") && modules.contains(" 1 - Loading 0x"),
            "{modules}"
        );
        assert!(modules.trim_end().ends_with("(OE+)"), "{modules}");
        env.ok(&["insmod", &sample(series, "hello-2.ko")]);
        env.ok(&["shutdown"]);
    }
}
