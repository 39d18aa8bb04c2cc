//! `kload profile --headers DIR [-o FILE] [--package-version V] [--keep]`:
//! measure a kernel profile from a headers tree or kernel build directory
//! (builds the probe module with the tree's kbuild; needs make and gcc) and
//! write it as a user profile file. `kload profile --list`: the built-in
//! profiles and the user profiles kload finds, in preference order.

use std::path::PathBuf;

use kload::profile::{self, ProbeOptions, ProfileData};

const USAGE: &str = concat!(
    "usage: kload profile --headers DIR [-o FILE] [--package-version VERSION] [--keep]\n",
    "       kload profile --list"
);

pub fn main(args: &[String]) -> i32 {
    let mut headers: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut opts = ProbeOptions::default();
    let mut list = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| match it.next() {
            Some(v) => Ok(v.clone()),
            None => Err(format!("option '{name}' needs a value")),
        };
        let r = match a.as_str() {
            "--headers" => value(a).map(|v| headers = Some(v.into())),
            "-o" | "--output" => value(a).map(|v| out = Some(v.into())),
            "--package-version" => value(a).map(|v| opts.package_version = Some(v)),
            "--keep" => {
                opts.keep_build_dir = true;
                Ok(())
            }
            "--list" => {
                list = true;
                Ok(())
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            other => Err(format!("unexpected argument '{other}'")),
        };
        if let Err(e) = r {
            eprintln!("kload profile: {e}\n{USAGE}");
            return 2;
        }
    }
    match (list, headers) {
        (true, None) if out.is_none() => list_profiles(),
        (false, Some(h)) => generate(&h, out, &opts),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}

fn generate(headers: &std::path::Path, out: Option<PathBuf>, opts: &ProbeOptions) -> i32 {
    let data = match profile::measure(headers, opts) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kload profile: {e}");
            return 1;
        }
    };
    let path = match out {
        Some(p) => p,
        None => {
            let Some(dir) = profile::default_profile_dir() else {
                eprintln!("kload profile: neither XDG_DATA_HOME nor HOME is set; use -o FILE");
                return 1;
            };
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("kload profile: {}: {e}", dir.display());
                return 1;
            }
            dir.join(format!("{}.profile", data.release))
        }
    };
    let comment = [
        format!(
            "Measured by kload {} (`kload profile`) from {}",
            env!("CARGO_PKG_VERSION"),
            headers.display()
        ),
        "with the kbuild probe of tools/profile-probe/; do not edit.".to_owned(),
    ];
    if let Err(e) = data.write(&path, &comment) {
        eprintln!("kload profile: {e}");
        return 1;
    }
    // Read it back the way find_profile will.
    match ProfileData::read(&path) {
        Ok(back) if back == data => {}
        Ok(_) => {
            eprintln!(
                "kload profile: {}: does not read back as written",
                path.display()
            );
            return 1;
        }
        Err(e) => {
            eprintln!("kload profile: {e}");
            return 1;
        }
    }
    let package = if data.package_version.is_empty() {
        "no Debian package".to_owned()
    } else {
        format!("Debian {}", data.package_version)
    };
    println!(
        "kload profile: wrote {} ({}, {package}: {} fields, {} vmlinux exports)",
        path.display(),
        data.release,
        data.fields.len(),
        data.exports.len()
    );
    if let Some(b) = profile::PROFILES.iter().find(|p| p.release == data.release) {
        println!(
            "kload profile: note: kload has this release built in (Debian {}); \
             the built-in profile is preferred",
            b.package_version
        );
    }
    let dir = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d.to_owned()
        }
    });
    let searched = profile::profile_search_path();
    if !dir
        .as_ref()
        .is_some_and(|d| searched.iter().any(|s| same_dir(s, d)))
    {
        println!(
            "kload profile: note: {} is not searched; add its directory to ${}",
            path.display(),
            profile::PROFILE_PATH_VAR
        );
    }
    0
}

fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn list_profiles() -> i32 {
    let show = |p: &profile::KernelProfile| {
        let package = if p.package_version.is_empty() {
            "-".to_owned()
        } else {
            p.package_version.to_owned()
        };
        let origin = p
            .origin()
            .map_or("built-in".to_owned(), |o| o.display().to_string());
        println!("{:<28} {:<22} {origin}", p.release, package);
    };
    println!("{:<28} {:<22} FROM", "RELEASE", "PACKAGE");
    profile::PROFILES.iter().copied().for_each(show);
    let status = match profile::user_profiles() {
        Ok(user) => {
            user.iter().copied().for_each(show);
            0
        }
        Err(e) => {
            eprintln!("kload profile: {e}");
            1
        }
    };
    println!("searched:");
    for d in profile::profile_search_path() {
        println!("  {}", d.display());
    }
    status
}
