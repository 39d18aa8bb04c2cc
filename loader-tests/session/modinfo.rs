//! `kload modinfo` held byte for byte to Debian's real modinfo (kmod 30):
//! the expected/ files are its output, with the file name replaced by
//! `@FILE@`. Regenerate them, after the sample modules change, with:
//!
//!   cd sample-modules && for s in 6.1 6.12; do for m in hello-1 hello-2 init-fail printk-basics params user versioned; do
//!     /sbin/modinfo "$PWD/$s/$m.ko" | sed "s|$PWD/$s/$m.ko|@FILE@|" > ../loader-tests/session/expected/modinfo-$m-$s.txt; done; done
//!
//! and, for the signature fields (hello-2 of 6.1 signed by kbuild's
//! sign-file with a throw-away key, `CN=kload test key`), keep the
//! trailer sign-file appended as expected/signature-trailer.bin and the
//! `sig_id:`..end lines of modinfo's output as expected/signature-fields.txt.

use std::path::Path;

use crate::common::*;

const MODULES: [&str; 7] = [
    "hello-1",
    "hello-2",
    "init-fail",
    "printk-basics",
    "params",
    "user",
    "versioned",
];

fn expected(name: &str) -> String {
    std::fs::read_to_string(root().join("loader-tests/session/expected").join(name)).unwrap()
}

#[test]
fn file_output_matches_kmods_modinfo() {
    let env = Env::new();
    for series in SERIES {
        for m in MODULES {
            let file = sample(series, &format!("{m}.ko"));
            let want = expected(&format!("modinfo-{m}-{series}.txt")).replace("@FILE@", &file);
            assert_eq!(env.ok(&["modinfo", &file]), want, "{file}");
        }
    }
}

#[test]
fn fields_null_separators_and_relative_names() {
    let env = Env::new();
    let file = sample("6.12", "params.ko");
    let want = expected("modinfo-params-6.12.txt").replace("@FILE@", &file);
    let parms: String = want
        .lines()
        .filter_map(|l| l.strip_prefix("parm:           "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(env.ok(&["modinfo", "-p", &file]), parms);
    assert_eq!(env.ok(&["modinfo", "-F", "license", &file]), "GPL\n");
    assert_eq!(env.ok(&["modinfo", "-n", &file]), format!("{file}\n"));
    let null = env.ok(&["modinfo", "-0", "-F", "name", &file]);
    assert_eq!(null, "params\0");
    let all0 = env.ok(&["modinfo", "-0", &file]);
    assert!(
        all0.starts_with(&format!("filename:       {file}\0description=")),
        "{all0:?}"
    );
    // A relative name is made absolute the way kmod does (cwd + '/' + arg).
    let dir = root().join("sample-modules/6.1");
    let o = env
        .cmd(&["modinfo", "./hello-2.ko"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let first = text(&o.stdout).lines().next().unwrap().to_owned();
    assert_eq!(
        first,
        format!("filename:       {}/./hello-2.ko", dir.display())
    );
    assert_eq!(
        env.fails(&["modinfo"]),
        "modinfo: ERROR: missing module or filename.\n"
    );
}

#[test]
fn signed_and_compressed_files_show_the_signature() {
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let mut signed = std::fs::read(sample("6.1", "hello-2.ko")).unwrap();
    signed.extend(
        std::fs::read(root().join("loader-tests/session/expected/signature-trailer.bin")).unwrap(),
    );
    let ko = tmp.path().join("hello-2.ko");
    std::fs::write(&ko, &signed).unwrap();
    let file = ko.display().to_string();
    let want = expected("modinfo-hello-2-6.1.txt").replace("@FILE@", &file)
        + &expected("signature-fields.txt");
    assert_eq!(env.ok(&["modinfo", &file]), want);
    let signer = env.ok(&["modinfo", "-F", "signer", &file]);
    assert_eq!(signer, "kload test key\n");
    // Debian ships xz-compressed signed modules.
    let xz = tmp.path().join("hello-2.ko.xz");
    let o = std::process::Command::new("xz")
        .args(["-k", "-c"])
        .arg(&ko)
        .output()
        .expect("xz must be installed");
    std::fs::write(&xz, o.stdout).unwrap();
    let file = xz.display().to_string();
    let want = expected("modinfo-hello-2-6.1.txt").replace("@FILE@", &file)
        + &expected("signature-fields.txt");
    assert_eq!(env.ok(&["modinfo", &file]), want);
}

#[test]
fn a_loaded_module_by_name_comes_from_the_session_kernel() {
    let env = Env::new();
    assert_eq!(
        env.fails(&["modinfo", "hello_2"]),
        "modinfo: ERROR: Module hello_2 not found.\n"
    );
    let file = sample("6.12", "versioned.ko");
    env.ok(&["insmod", &file]);
    let by_file = env.ok(&["modinfo", &file]);
    assert_eq!(env.ok(&["modinfo", "versioned"]), by_file);
    assert_eq!(
        env.ok(&["modinfo", "-F", "version", "versioned"]),
        "1.2.3\n"
    );
    assert!(!Path::new("versioned").exists());
}
