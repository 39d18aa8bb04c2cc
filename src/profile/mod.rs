//! Per-kernel profiles: release, vermagic, package version, the struct
//! layouts the stub kernel needs and vmlinux's exported symbols, measured
//! from each kernel's headers by the kbuild probe in tools/profile-probe/
//! (the files under generated/ are never edited by hand).
//!
//! Two Debian profiles are compiled in ([`DEBIAN_6_1`], [`DEBIAN_6_12`]).
//! `kload profile --headers DIR` ([`measure`]) measures any other kernel
//! build tree the same way at run time and writes a *user profile* file
//! ([`ProfileData`] documents the format); [`find_profile`] considers those
//! too, [`for_vermagic`] only the built-ins.
//!
//! A module picks its profile by vermagic. Debian bumps the ABI number of a
//! series (6.1.0-56 → 6.1.0-57) while the layouts stay put, so a newer or
//! older release of the same series and flavour is served by that series'
//! profile, and the choice says so.

#[rustfmt::skip]
mod generated {
    pub mod debian_6_1;
    pub mod debian_6_12;
    pub mod symvers_6_1;
    pub mod symvers_6_12;
}
mod file;
mod probe;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use thiserror::Error;

pub use file::{Export, ProfileData, FORMAT_VERSION};
pub use probe::{measure, ProbeOptions};

/// One vmlinux export: (name, CRC, `EXPORT_SYMBOL_GPL`?, namespace or "").
pub type ExportEntry = (&'static str, u32, bool, &'static str);

/// One kernel's measured facts.
#[derive(Debug)]
pub struct KernelProfile {
    /// "major.minor": "6.1" or "6.12".
    pub series: &'static str,
    pub release: &'static str,
    pub vermagic: &'static str,
    /// Version of the Debian package the headers came from
    /// (`dpkg-query -W linux-headers-<release>`), e.g. "6.1.192-2";
    /// "" when unknown (a user profile of a tree no package owns).
    pub package_version: &'static str,
    pub module_layout_crc: u32,
    version: (u32, u32),
    fields: &'static [(&'static str, u64)],
    exports: ExportTable,
    origin: Option<&'static Path>,
}

/// A kernel's exports: the built-in profiles keep them as one text with a
/// table of line offsets (no relocation per entry at start-up); user
/// profiles, read at run time, as entries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExportTable {
    /// Lines `NAME CRC G|- NAMESPACE|-`, sorted by name; `lines` holds
    /// where each starts.
    Packed {
        text: &'static str,
        lines: &'static [u32],
    },
    Entries(&'static [ExportEntry]),
}

impl ExportTable {
    fn len(&self) -> usize {
        match self {
            ExportTable::Packed { lines, .. } => lines.len(),
            ExportTable::Entries(e) => e.len(),
        }
    }

    fn name(&self, i: usize) -> &'static str {
        match *self {
            ExportTable::Packed { text, lines } => {
                let line = &text[lines[i] as usize..];
                &line[..line.find(' ').unwrap_or(line.len())]
            }
            ExportTable::Entries(e) => e[i].0,
        }
    }

    fn entry(&self, i: usize) -> ExportEntry {
        match *self {
            ExportTable::Packed { text, lines } => {
                let line = &text[lines[i] as usize..];
                let line = &line[..line.find('\n').unwrap_or(line.len())];
                let mut w = line.split(' ');
                let name = w.next().unwrap_or_default();
                let crc = u32::from_str_radix(w.next().unwrap_or_default(), 16).unwrap_or_default();
                let gpl = w.next() == Some("G");
                let ns = w.next().filter(|n| *n != "-").unwrap_or("");
                (name, crc, gpl, ns)
            }
            ExportTable::Entries(e) => e[i],
        }
    }
}

/// How vmlinux exports a symbol (a Module.symvers line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportInfo {
    /// The modversions CRC modules record in `__versions`.
    pub crc: u32,
    /// `EXPORT_SYMBOL_GPL` (else `EXPORT_SYMBOL`).
    pub gpl: bool,
    /// The symbol namespace exactly as Module.symvers writes it ("" when
    /// none; never quoted on 6.1 and 6.12; "module:NAME" for
    /// `EXPORT_SYMBOL_GPL_FOR_MODULES`).
    pub namespace: &'static str,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("kernel profile {release} has no measurement for {key}")]
pub struct MissingField {
    pub release: &'static str,
    pub key: String,
}

/// A user profile that cannot be read, or a probe run that failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// A bad line in a profile file.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A profile file whose lines parse but whose content is inconsistent.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// `measure` could not build or read the probe against a tree.
    #[error("{}: {message}", headers.display())]
    Probe { headers: PathBuf, message: String },
}

impl KernelProfile {
    /// A measured size or offset, by probe key (`"module.init"`, `"sizeof(struct module)"`).
    pub fn field(&self, key: &str) -> Result<u64, MissingField> {
        self.get(key).ok_or_else(|| MissingField {
            release: self.release,
            key: key.to_owned(),
        })
    }

    pub fn get(&self, key: &str) -> Option<u64> {
        self.fields
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| self.fields[i].1)
    }

    pub fn fields(&self) -> &'static [(&'static str, u64)] {
        self.fields
    }

    /// 6.2+ keeps `current`, the preempt count and the CPU number in `pcpu_hot`.
    pub fn has_pcpu_hot(&self) -> bool {
        self.get("sizeof(struct pcpu_hot)").is_some()
    }

    /// How vmlinux exports `name`, if it does (modules' exports are not listed).
    pub fn export(&self, name: &str) -> Option<ExportInfo> {
        let t = self.exports;
        let (mut lo, mut hi) = (0, t.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match t.name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let (_, crc, gpl, namespace) = t.entry(mid);
                    return Some(ExportInfo {
                        crc,
                        gpl,
                        namespace,
                    });
                }
            }
        }
        None
    }

    /// Every vmlinux export, sorted by name (byte order).
    pub fn exports(&self) -> Vec<ExportEntry> {
        (0..self.exports.len())
            .map(|i| self.exports.entry(i))
            .collect()
    }

    /// (major, minor) of the release: (6, 1), (6, 12).
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// The file a user profile was loaded from; `None` for a built-in one.
    pub fn origin(&self) -> Option<&'static Path> {
        self.origin
    }
}

/// "6.1.0-56-amd64" → (6, 1); "6.12.117+deb12-amd64" → (6, 12): the two
/// leading dot-separated numbers (anything may follow the second).
pub const fn parse_version(release: &str) -> Option<(u32, u32)> {
    let b = release.as_bytes();
    let (major, i) = match leading_number(b, 0) {
        Some(v) => v,
        None => return None,
    };
    if i >= b.len() || b[i] != b'.' {
        return None;
    }
    match leading_number(b, i + 1) {
        Some((minor, _)) => Some((major, minor)),
        None => None,
    }
}

/// The decimal number starting at `b[i]` and the index after it.
const fn leading_number(b: &[u8], mut i: usize) -> Option<(u32, usize)> {
    let start = i;
    let mut n: u32 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = match n.checked_mul(10) {
            Some(m) => match m.checked_add((b[i] - b'0') as u32) {
                Some(v) => v,
                None => return None,
            },
            None => return None,
        };
        i += 1;
    }
    if i == start {
        None
    } else {
        Some((n, i))
    }
}

/// `parse_version` for the built-in profiles: a bad release fails the build.
const fn version_of(release: &str) -> (u32, u32) {
    match parse_version(release) {
        Some(v) => v,
        None => panic!("built-in profile release has no major.minor"),
    }
}

pub static DEBIAN_6_1: KernelProfile = KernelProfile {
    series: "6.1",
    release: generated::debian_6_1::RELEASE,
    vermagic: generated::debian_6_1::VERMAGIC,
    package_version: generated::debian_6_1::PACKAGE_VERSION,
    module_layout_crc: generated::debian_6_1::MODULE_LAYOUT_CRC,
    version: version_of(generated::debian_6_1::RELEASE),
    fields: generated::debian_6_1::FIELDS,
    exports: ExportTable::Packed {
        text: generated::symvers_6_1::TEXT,
        lines: generated::symvers_6_1::LINES,
    },
    origin: None,
};

pub static DEBIAN_6_12: KernelProfile = KernelProfile {
    series: "6.12",
    release: generated::debian_6_12::RELEASE,
    vermagic: generated::debian_6_12::VERMAGIC,
    package_version: generated::debian_6_12::PACKAGE_VERSION,
    module_layout_crc: generated::debian_6_12::MODULE_LAYOUT_CRC,
    version: version_of(generated::debian_6_12::RELEASE),
    fields: generated::debian_6_12::FIELDS,
    exports: ExportTable::Packed {
        text: generated::symvers_6_12::TEXT,
        lines: generated::symvers_6_12::LINES,
    },
    origin: None,
};

/// Every profile kload ships.
pub static PROFILES: [&KernelProfile; 2] = [&DEBIAN_6_1, &DEBIAN_6_12];

/// How a profile was chosen for a vermagic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The release is the one the profile was measured on.
    Exact,
    /// Another ABI release of the same series and flavour.
    SameSeries,
}

/// Choose the built-in profile serving a module's vermagic, if any. Pure:
/// no files or environment are consulted (see [`find_profile`] for that).
pub fn for_vermagic(vermagic: &str) -> Option<(&'static KernelProfile, Match)> {
    select(vermagic, &PROFILES)
}

/// Choose the profile serving a module's vermagic among the built-in and
/// the user profiles ([`user_profiles`]): an exact release match first
/// (built-ins before user profiles), then another release of the same
/// major.minor and flavour. `Err` when a user profile file is malformed.
pub fn find_profile(
    vermagic: &str,
) -> Result<Option<(&'static KernelProfile, Match)>, ProfileError> {
    let user = user_profiles()?;
    let all: Vec<&'static KernelProfile> = PROFILES
        .iter()
        .copied()
        .chain(user.iter().copied())
        .collect();
    Ok(select(vermagic, &all))
}

/// Pick from `candidates` (in preference order) for `vermagic`.
pub fn select(
    vermagic: &str,
    candidates: &[&'static KernelProfile],
) -> Option<(&'static KernelProfile, Match)> {
    let (release, flags) = vermagic.split_once(' ').unwrap_or((vermagic, ""));
    let mut compatible = candidates.iter().copied().filter(|p| {
        let (_, p_flags) = p.vermagic.split_once(' ').unwrap_or((p.vermagic, ""));
        flags == p_flags
    });
    if let Some(p) = compatible.clone().find(|p| p.release == release) {
        return Some((p, Match::Exact));
    }
    let version = parse_version(release)?;
    compatible
        .find(|p| p.version == version && flavour_of(release) == flavour_of(p.release))
        .map(|p| (p, Match::SameSeries))
}

/// The Debian flavour: the text after the last '-' ("amd64", "cloud-amd64" → "amd64").
fn flavour_of(release: &str) -> &str {
    release.rsplit_once('-').map_or("", |(_, f)| f)
}

/// The environment variable naming extra user-profile directories
/// (colon-separated), searched before [`default_profile_dir`].
pub const PROFILE_PATH_VAR: &str = "KLOAD_PROFILE_PATH";

/// Where `kload profile` writes by default and [`find_profile`] looks last:
/// `$XDG_DATA_HOME/kload/profiles` (an absolute `XDG_DATA_HOME` only, as the
/// XDG spec says), else `$HOME/.local/share/kload/profiles`.
pub fn default_profile_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(data.join("kload/profiles"))
}

/// The user-profile directories in search order: each non-empty entry of
/// `$KLOAD_PROFILE_PATH`, then [`default_profile_dir`]; repeats dropped.
pub fn profile_search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let listed = std::env::var_os(PROFILE_PATH_VAR).unwrap_or_default();
    for dir in std::env::split_paths(&listed).chain(default_profile_dir()) {
        if !dir.as_os_str().is_empty() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// The user profiles in [`profile_search_path`], loaded on the first call
/// and kept for the life of the process (a failure is kept too).
pub fn user_profiles() -> Result<&'static [&'static KernelProfile], ProfileError> {
    static USER: OnceLock<Result<Vec<&'static KernelProfile>, ProfileError>> = OnceLock::new();
    match USER.get_or_init(|| load_profile_dirs(&profile_search_path())) {
        Ok(v) => Ok(v),
        Err(e) => Err(e.clone()),
    }
}

/// Load every `*.profile` file in `dirs` (each directory's files in name
/// order). A missing directory is skipped; of two files with the same
/// release the first found wins. Each call leaks what it loads.
pub fn load_profile_dirs(dirs: &[PathBuf]) -> Result<Vec<&'static KernelProfile>, ProfileError> {
    let mut found: Vec<ProfileData> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(dir, &e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| io_error(dir, &e))?.path();
            if path.extension().is_some_and(|x| x == "profile") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let data = ProfileData::read(&path)?;
            if let Some(i) = found.iter().position(|d| d.release == data.release) {
                log::debug!(
                    "profile {} shadowed by {}",
                    path.display(),
                    paths[i].display()
                );
                continue;
            }
            found.push(data);
            paths.push(path);
        }
    }
    Ok(found
        .into_iter()
        .zip(paths)
        .map(|(d, p)| d.leak(Some(p)))
        .collect())
}

/// Load one profile file (leaked for the life of the process).
pub fn load_profile_file(path: &Path) -> Result<&'static KernelProfile, ProfileError> {
    Ok(ProfileData::read(path)?.leak(Some(path.to_owned())))
}

fn io_error(path: &Path, e: &std::io::Error) -> ProfileError {
    ProfileError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_sorted_and_carry_the_struct_module_facts() {
        for p in PROFILES {
            assert!(
                p.fields.windows(2).all(|w| w[0].0 < w[1].0),
                "{} fields unsorted",
                p.release
            );
            assert!(
                p.exports().windows(2).all(|w| w[0].0 < w[1].0),
                "{} exports unsorted",
                p.release
            );
            assert_eq!(p.field("module.init").unwrap(), 0x138);
            assert!(p.vermagic.starts_with(p.release));
            assert_eq!(p.origin(), None);
            let mut data = ProfileData::from_profile(p);
            data.normalize().unwrap();
        }
        assert_eq!(DEBIAN_6_1.field("module.exit").unwrap(), 0x350);
        assert_eq!(DEBIAN_6_12.field("module.exit").unwrap(), 0x4b0);
        assert!(DEBIAN_6_12.has_pcpu_hot() && !DEBIAN_6_1.has_pcpu_hot());
    }

    #[test]
    fn versions_and_package_versions() {
        assert_eq!(DEBIAN_6_1.version(), (6, 1));
        assert_eq!(DEBIAN_6_12.version(), (6, 12));
        assert!(DEBIAN_6_12.version() > DEBIAN_6_1.version());
        for p in PROFILES {
            let (major, minor) = p.version();
            assert_eq!(p.series, format!("{major}.{minor}"));
        }
        assert_eq!(DEBIAN_6_1.package_version, "6.1.192-2");
        assert_eq!(DEBIAN_6_12.package_version, "6.12.117-1~deb12u1");
        assert_eq!(parse_version("6.10.0-rc1-amd64"), Some((6, 10)));
        assert_eq!(parse_version("5.4"), Some((5, 4)));
        for bad in ["", "6", "6.", ".1", "x6.1", "6-1", "99999999999.1"] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn exports_by_name() {
        for p in PROFILES {
            let printk = p.export("_printk").unwrap();
            assert!(!printk.gpl && printk.namespace.is_empty());
            assert!(p.export("__pci_register_driver").is_some_and(|e| !e.gpl));
            assert_eq!(
                p.export("module_layout").map(|e| e.crc),
                Some(p.module_layout_crc)
            );
            assert!(p.export("kthread_create_on_node").is_some());
            assert!(p.export("platform_device_register").unwrap().gpl);
            assert!(p.export("devm_kmalloc").unwrap().gpl);
            let cxl = p.export("insert_resource_expand_to_fit").unwrap();
            assert_eq!((cxl.gpl, cxl.namespace), (true, "CXL"));
            assert_eq!(p.export("dma_buf_get").unwrap().namespace, "DMA_BUF");
            assert!(p.export("kload_no_such_symbol").is_none());
            assert!(p.export("").is_none());
        }
        assert_eq!(
            DEBIAN_6_1.export("_printk"),
            Some(ExportInfo {
                crc: 0x92997ed8,
                gpl: false,
                namespace: ""
            })
        );
        assert_eq!(DEBIAN_6_12.export("_printk").unwrap().crc, 0x122c3a7e);
        // vmlinux's exports and those of the CRC library modules kload
        // has built in (11 on 6.1, 9 on 6.12, where crc-t10dif is vmlinux's).
        assert_eq!(DEBIAN_6_1.exports().len(), 10503 + 11);
        assert_eq!(DEBIAN_6_12.exports().len(), 11245 + 9);
        // 6.12's Module.symvers writes namespaces unquoted, like 6.1's.
        assert_eq!(
            DEBIAN_6_12
                .export("anon_inode_make_secure_inode")
                .unwrap()
                .namespace,
            "module:kvm"
        );
        assert!(DEBIAN_6_12.exports().iter().all(|e| !e.3.contains('"')));
    }

    #[test]
    fn vermagic_selects_by_release_then_series() {
        let (p, m) = for_vermagic(DEBIAN_6_1.vermagic).unwrap();
        assert_eq!((p.series, m), ("6.1", Match::Exact));
        let (p, m) = for_vermagic("6.1.0-99-amd64 SMP preempt mod_unload modversions ").unwrap();
        assert_eq!((p.series, m), ("6.1", Match::SameSeries));
        let (p, _) =
            for_vermagic("6.12.1+deb12-amd64 SMP preempt mod_unload modversions ").unwrap();
        assert_eq!(p.series, "6.12");
        assert!(for_vermagic("6.1.0-56-amd64 SMP mod_unload ").is_none());
        assert!(for_vermagic("5.10.0-1-amd64 SMP preempt mod_unload modversions ").is_none());
        assert!(for_vermagic("6.1.0-56-rt-amd64x SMP preempt mod_unload modversions ").is_none());
        assert!(for_vermagic("").is_none());
    }

    /// A user profile of another 6.1 ABI release beats the built-in 6.1 for
    /// its exact release only; a user profile of a new series serves it.
    #[test]
    fn user_profiles_join_the_selection() {
        let user_profile = |release: &str| {
            let mut d = ProfileData::from_profile(&DEBIAN_6_1);
            d.vermagic = d.vermagic.replacen(&d.release, release, 1);
            d.release = release.to_owned();
            d.normalize().unwrap();
            d.leak(Some(PathBuf::from(format!("/p/{release}.profile"))))
        };
        let (u57, u68) = (
            user_profile("6.1.0-57-amd64"),
            user_profile("6.8.0-1-amd64"),
        );
        let all = [&DEBIAN_6_1, &DEBIAN_6_12, u57, u68];
        let flags = " SMP preempt mod_unload modversions ";
        let pick = |r: &str| {
            let (p, m) = select(&format!("{r}{flags}"), &all).unwrap();
            (p.release, m)
        };
        assert_eq!(pick("6.1.0-57-amd64"), ("6.1.0-57-amd64", Match::Exact));
        assert_eq!(pick("6.1.0-56-amd64"), ("6.1.0-56-amd64", Match::Exact));
        assert_eq!(
            pick("6.1.0-58-amd64"),
            ("6.1.0-56-amd64", Match::SameSeries)
        );
        assert_eq!(pick("6.8.0-1-amd64"), ("6.8.0-1-amd64", Match::Exact));
        assert_eq!(pick("6.8.0-4-amd64"), ("6.8.0-1-amd64", Match::SameSeries));
        assert!(select(&format!("6.9.0-1-amd64{flags}"), &all).is_none());
        assert_eq!(u68.series, "6.8");
        assert_eq!(u68.version(), (6, 8));
        assert_eq!(u68.origin(), Some(Path::new("/p/6.8.0-1-amd64.profile")));
    }

    #[test]
    fn profile_dirs_are_searched_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let mut d = ProfileData::from_profile(&DEBIAN_6_12);
        d.vermagic = d.vermagic.replacen(&d.release, "6.12.1+x-amd64", 1);
        d.release = "6.12.1+x-amd64".into();
        d.package_version = "first".into();
        d.write(&a.join("one.profile"), &[]).unwrap();
        d.package_version = "second".into();
        d.write(&b.join("two.profile"), &[]).unwrap();
        std::fs::write(b.join("ignored.txt"), "not a profile").unwrap();
        let dirs = [tmp.path().join("missing"), a.clone(), b.clone()];
        let found = load_profile_dirs(&dirs).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].package_version, "first");
        assert_eq!(found[0].origin(), Some(a.join("one.profile").as_path()));
        assert_eq!(found[0].export("_printk"), DEBIAN_6_12.export("_printk"));

        std::fs::write(
            b.join("bad.profile"),
            "kload-profile 1\nrelease 6.1\nbogus 1\n",
        )
        .unwrap();
        let err = load_profile_dirs(&dirs).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:3: unknown keyword \"bogus\"",
                b.join("bad.profile").display()
            )
        );
    }

    /// The run-time probe (the Rust port of gen.sh/extract.py/symvers.py)
    /// measures exactly the built-in profiles from the same headers trees,
    /// and the profile file it writes reads back to the same profile.
    #[test]
    fn measured_user_profiles_equal_the_built_ins() {
        std::thread::scope(|s| {
            for (builtin, tree) in [
                (&DEBIAN_6_1, "/usr/src/linux-headers-6.1.0-56-amd64"),
                (&DEBIAN_6_12, "/usr/src/linux-headers-6.12.117+deb12-amd64"),
            ] {
                s.spawn(move || {
                    let measured = measure(Path::new(tree), &ProbeOptions::default())
                        .unwrap_or_else(|e| panic!("{e}"));
                    let tmp = tempfile::tempdir().unwrap();
                    let path = tmp.path().join(format!("{}.profile", measured.release));
                    measured.write(&path, &[format!("from {tree}")]).unwrap();
                    let loaded = load_profile_file(&path).unwrap();
                    assert_same_profile(loaded, builtin);
                    assert_eq!(loaded.origin(), Some(path.as_path()));
                });
            }
        });
    }

    fn assert_same_profile(got: &KernelProfile, want: &KernelProfile) {
        assert_eq!(got.release, want.release);
        assert_eq!(got.series, want.series);
        assert_eq!(got.vermagic, want.vermagic);
        assert_eq!(got.package_version, want.package_version);
        assert_eq!(got.module_layout_crc, want.module_layout_crc);
        assert_eq!(got.version(), want.version());
        assert_eq!(got.has_pcpu_hot(), want.has_pcpu_hot());
        assert_eq!(got.fields(), want.fields());
        assert_eq!(
            got.exports().len(),
            want.exports().len(),
            "{}",
            want.release
        );
        for (g, w) in got.exports().into_iter().zip(want.exports()) {
            assert_eq!(g, w, "{}", want.release);
        }
    }
}
