//! Module images as distributions ship them: compressed (`.ko.xz`,
//! `.ko.zst`, `.ko.gz`) and signed (the appended PKCS#7 trailer), made from
//! the sample modules with the real tools (xz, zstd, gzip, kbuild's
//! sign-file with an openssl key).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn tool(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (the test needs xz, zstd, gzip, openssl)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn plain_run(file: &Path) -> Vec<String> {
    let out = kload(&["run", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}: {}", file.display(), stderr(&out));
    kernel_lines(&out)
}

#[test]
fn compressed_modules_run_like_plain_ones() {
    let tmp = tempfile::tempdir().unwrap();
    for series in SERIES {
        let src = root().join(format!("sample-modules/{series}/hello-1.ko"));
        let expected = plain_run(&src);
        for (ext, cmd) in [("xz", "xz"), ("zst", "zstd"), ("gz", "gzip")] {
            let dst = tmp.path().join(format!("hello-1-{series}.ko.{ext}"));
            let mut c = Command::new(cmd);
            c.arg("-c")
                .arg(&src)
                .stdout(std::fs::File::create(&dst).unwrap());
            tool(&mut c);
            assert_eq!(plain_run(&dst), expected, "{}", dst.display());
        }
    }
}

fn sign_file() -> PathBuf {
    let found = ["/usr/src", "/usr/lib"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.path().join("scripts/sign-file"))
        .find(|p| p.is_file());
    found.expect("kbuild's scripts/sign-file (from linux-headers / linux-kbuild) is needed")
}

/// Debian signs its modules; kload strips the signature (it has no keys, so
/// it reports the module unsigned, as a kernel without the key would).
#[test]
fn signed_and_signed_compressed_modules_load() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, cert) = (tmp.path().join("key.pem"), tmp.path().join("cert.der"));
    tool(
        Command::new("openssl")
            .args([
                "req", "-new", "-nodes", "-utf8", "-sha256", "-days", "1", "-batch", "-x509",
            ])
            .args(["-outform", "DER", "-subj", "/CN=kload test key/"])
            .arg("-out")
            .arg(&cert)
            .arg("-keyout")
            .arg(&key),
    );
    for series in SERIES {
        let src = root().join(format!("sample-modules/{series}/hello-2.ko"));
        let expected = plain_run(&src);
        let signed = tmp.path().join(format!("hello-2-{series}.ko"));
        tool(
            Command::new(sign_file())
                .arg("sha256")
                .arg(&key)
                .arg(&cert)
                .arg(&src)
                .arg(&signed),
        );
        let bytes = std::fs::read(&signed).unwrap();
        assert!(bytes.ends_with(b"~Module signature appended~\n"));
        assert_eq!(plain_run(&signed), expected);
        let xz = tmp.path().join(format!("hello-2-{series}.ko.xz"));
        let mut c = Command::new("xz");
        c.arg("-c")
            .arg(&signed)
            .stdout(std::fs::File::create(&xz).unwrap());
        tool(&mut c);
        assert_eq!(plain_run(&xz), expected);
    }
}

#[test]
fn corrupt_compressed_image_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("broken.ko.xz");
    std::fs::write(&bad, b"\xfd7zXZ\0this is not xz data").unwrap();
    let out = kload(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: cannot decompress xz image", bad.display())),
        "{err}"
    );
}
