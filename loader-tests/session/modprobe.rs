//! `kload modprobe` on a module tree: a synthetic modules.dep (as depmod
//! writes it: dependencies last-loaded first) pointing at the sample
//! modules, in the layout of an unpacked Debian linux-image package.

use std::path::Path;

use crate::common::*;

/// `root/lib/modules/<release>/` with exporter and user (which needs
/// exporter), one of them xz-compressed, and modules.dep.
fn tree(root: &Path, release: &str, series: &str) {
    let dir = root.join("lib/modules").join(release);
    let kdir = dir.join("kernel/test");
    std::fs::create_dir_all(&kdir).unwrap();
    std::fs::copy(sample(series, "exporter.ko"), kdir.join("exporter.ko")).unwrap();
    let xz = std::process::Command::new("xz")
        .args(["-c", &sample(series, "user.ko")])
        .output()
        .expect("xz must be installed");
    std::fs::write(kdir.join("user.ko.xz"), xz.stdout).unwrap();
    std::fs::copy(sample(series, "hello-2.ko"), kdir.join("hello-2.ko")).unwrap();
    std::fs::write(
        dir.join("modules.dep"),
        "kernel/test/user.ko.xz: kernel/test/exporter.ko\n\
         kernel/test/exporter.ko:\n\
         kernel/test/hello-2.ko:\n",
    )
    .unwrap();
}

#[test]
fn modprobe_loads_dependencies_first_and_removes_unused_ones() {
    let env = Env::new();
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), "6.1.0-56-amd64", "6.1");
    let d = root.path().display().to_string();
    let out = env.ok(&["modprobe", "-d", &d, "-v", "user"]);
    let base = format!("{d}/lib/modules/6.1.0-56-amd64/kernel/test");
    assert_eq!(
        out,
        format!("insmod {base}/exporter.ko \ninsmod {base}/user.ko.xz \n")
    );
    assert_eq!(env.lsmod_names(), ["user", "exporter"]);
    // Loaded already: nothing to do.
    assert_eq!(env.ok(&["modprobe", "-d", &d, "user"]), "");
    // In use: refused.
    assert_eq!(
        env.fails(&["modprobe", "-d", &d, "-r", "exporter"]),
        "modprobe: FATAL: Module exporter is in use.\n"
    );
    // -r: the module, then the dependencies nothing uses any more.
    assert_eq!(
        env.ok(&["modprobe", "-d", &d, "-r", "-v", "user"]),
        "rmmod user\nrmmod exporter\n"
    );
    assert!(env.lsmod_names().is_empty());
    // '-' and '_' are the same.
    env.ok(&["modprobe", "-d", &d, "hello-2"]);
    assert_eq!(env.lsmod_names(), ["hello_2"]);
    env.ok(&["modprobe", "-d", &d, "-r", "hello_2"]);
    assert_eq!(
        env.fails(&["modprobe", "-d", &d, "nosuch"]),
        format!("modprobe: FATAL: Module nosuch not found in directory {d}/lib/modules/6.1.0-56-amd64\n")
    );
    assert_eq!(
        env.fails(&["modprobe", "-d", &d, "-r", "nosuch"]),
        "modprobe: FATAL: Module nosuch not found.\n"
    );
    assert_eq!(
        env.fails(&["modprobe"]),
        "modprobe: ERROR: missing parameters. See -h.\n"
    );
}

#[test]
fn modprobe_picks_the_release() {
    let env = Env::new();
    let root = tempfile::tempdir().unwrap();
    tree(root.path(), "6.12.117+deb12-amd64", "6.12");
    tree(root.path(), "6.1.0-56-amd64", "6.1");
    let d = root.path().display().to_string();
    // Two releases, no kernel running yet (and not the host's): ask.
    let err = env.fails(&["modprobe", "-d", &d, "hello-2"]);
    assert!(
        err.contains("several releases") && err.contains("choose one with -S"),
        "{err}"
    );
    env.ok(&[
        "modprobe",
        "-d",
        &d,
        "-S",
        "6.12.117+deb12-amd64",
        "hello-2",
    ]);
    // Now the session kernel runs 6.12: that release is chosen.
    let out = env.ok(&["modprobe", "-d", &d, "-v", "user"]);
    assert!(
        out.contains("6.12.117+deb12-amd64/kernel/test/exporter.ko"),
        "{out}"
    );
}
