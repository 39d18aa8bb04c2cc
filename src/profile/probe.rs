//! Measure a profile from any kernel build tree at run time: the Rust port
//! of tools/profile-probe/gen.sh + extract.py + symvers.py (which generate
//! the built-in profiles). The probe module's sources are compiled into
//! kload, written to a scratch directory, built with the tree's own kbuild
//! (`make -C TREE M=<scratch> modules`; needs make and the compiler), and
//! the compiler-evaluated constants are read back out of the built `.ko`.
//! Nothing is loaded or run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use goblin::elf::section_header::{SHT_REL, SHT_RELA};
use goblin::elf::sym::STT_OBJECT;
use goblin::elf::Elf;

use super::file::{Export, ProfileData};
use super::ProfileError;

const PROBE_C: &str = include_str!("../../tools/profile-probe/probe.c");
const KBUILD: &str = include_str!("../../tools/profile-probe/Kbuild");

/// Must match KLOAD_PROBE_KEY_LEN / KLOAD_PROBE_STR_LEN in probe.c.
const KEY_LEN: usize = 56;
const STR_LEN: usize = 200;

/// kbuild's notice when the compiler is not the one the kernel was built
/// with: not a diagnostic about the probe.
const COMPILER_DIFFERS: &str =
    "warning: the compiler differs from the one used to build the kernel";

/// How to run [`measure`].
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// The package version to record. `None`: when the tree is
    /// `/usr/src/linux-headers-<release>` (after resolving symlinks, e.g.
    /// `/lib/modules/<release>/build`), the version dpkg reports for the
    /// package `linux-headers-<release>`; otherwise "" (unknown).
    pub package_version: Option<String>,
    /// Keep the scratch build directory (its path is logged at warn level).
    pub keep_build_dir: bool,
}

/// Build the probe against `tree` (a headers tree or kernel build directory:
/// it has `Makefile` and `Module.symvers`) and measure its profile.
pub fn measure(tree: &Path, opts: &ProbeOptions) -> Result<ProfileData, ProfileError> {
    let fail = |message: String| ProfileError::Probe {
        headers: tree.to_owned(),
        message,
    };
    let headers = tree
        .canonicalize()
        .map_err(|e| fail(format!("cannot open: {e}")))?;
    for f in ["Makefile", "Module.symvers"] {
        if !headers.join(f).is_file() {
            return Err(fail(format!("not a kernel build tree (no {f})")));
        }
    }
    let symvers_path = headers.join("Module.symvers");
    let symvers = std::fs::read(&symvers_path)
        .map_err(|e| fail(format!("{}: {e}", symvers_path.display())))?;
    let exports = vmlinux_exports(&symvers, &symvers_path).map_err(fail)?;

    let work =
        ScratchDir::new(opts.keep_build_dir).map_err(|e| fail(format!("scratch dir: {e}")))?;
    for (name, text) in [("probe.c", PROBE_C), ("Kbuild", KBUILD)] {
        std::fs::write(work.0.join(name), text)
            .map_err(|e| fail(format!("{}: {e}", work.0.display())))?;
    }
    build(&headers, &work.0).map_err(fail)?;
    let ko = work.0.join("kload_probe.ko");
    let bytes = std::fs::read(&ko).map_err(|e| fail(format!("{}: {e}", ko.display())))?;
    let m = read_probe(&bytes, &headers).map_err(|e| fail(format!("kload_probe.ko: {e}")))?;

    let module_layout_crc = exports
        .binary_search_by(|e| e.name.as_str().cmp("module_layout"))
        .map_or(0, |i| exports[i].crc);
    if let Some(v) = m.module_layout_crc {
        if v != module_layout_crc {
            return Err(fail(format!(
                "module_layout CRC: __versions {v:#x} != Module.symvers {module_layout_crc:#x}"
            )));
        }
    }
    let package_version = match &opts.package_version {
        Some(v) => v.clone(),
        None => debian_package_version(&headers, &m.release),
    };
    let mut data = ProfileData {
        release: m.release,
        vermagic: m.vermagic,
        package_version,
        module_layout_crc,
        fields: m.fields.into_iter().collect(),
        exports,
    };
    data.normalize().map_err(fail)?;
    Ok(data)
}

/// A private directory under the temp dir, removed on drop unless kept.
struct ScratchDir(PathBuf, bool);

impl ScratchDir {
    fn new(keep: bool) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut n = 0u32;
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!("kload-probe.{}.{nanos:x}{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    if keep {
                        log::warn!("keeping the probe build directory {}", dir.display());
                    }
                    return Ok(ScratchDir(dir, keep));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `make -C headers M=work modules`; any compiler warning or error fails it,
/// as in gen.sh (a probe expression that warns is suspect).
fn build(headers: &Path, work: &Path) -> Result<(), String> {
    let mut m_arg = std::ffi::OsString::from("M=");
    m_arg.push(work);
    let out = Command::new("make")
        .arg("-C")
        .arg(headers)
        .arg(m_arg)
        .arg("modules")
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run make: {e}"))?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "kbuild failed ({}):\n{}",
            out.status,
            log.trim_end()
        ));
    }
    let diagnostics: Vec<&str> = log
        .lines()
        .filter(|l| {
            (l.contains("warning:") || l.contains("error:")) && !l.contains(COMPILER_DIFFERS)
        })
        .collect();
    if !diagnostics.is_empty() {
        return Err(format!(
            "kbuild reported warnings about the probe:\n{}",
            diagnostics.join("\n")
        ));
    }
    if log.contains(COMPILER_DIFFERS) {
        log::warn!("{}: {COMPILER_DIFFERS}", headers.display());
    }
    Ok(())
}

/// What the built probe says.
struct Measured {
    release: String,
    vermagic: String,
    fields: BTreeMap<String, u64>,
    /// `module_layout`'s CRC in the probe's `__versions`, if listed.
    module_layout_crc: Option<u32>,
}

/// extract.py's reading and checks, except its known-value cross-checks for
/// the two Debian trees (a custom config may legitimately differ).
fn read_probe(bytes: &[u8], headers: &Path) -> Result<Measured, String> {
    let elf = Elf::parse(bytes).map_err(|e| format!("not an ELF file: {e}"))?;
    if !elf.is_64 || !elf.little_endian {
        return Err("not a little-endian ELF64 file".into());
    }
    let probe = ProbeElf { elf: &elf, bytes };
    let mut fields = probe.records(".kload_probe", "kload_probe__", 8, |v| {
        Ok(u64::from_le_bytes(v.try_into().expect("8 bytes")))
    })?;
    let strings = probe.records(".kload_probe_str", "kload_probe_str__", STR_LEN, |v| {
        cstr(v).map(str::to_owned)
    })?;
    let release = strings
        .get("UTS_RELEASE")
        .ok_or("no UTS_RELEASE record")?
        .clone();

    // struct kernel_symbol: the measured __ksymtab stride; where the probe
    // could also take sizeof() (the struct is in the headers) they agree.
    let stride = probe.ksymtab_stride()?;
    let ks = "sizeof(struct kernel_symbol)";
    if let Some(&v) = fields.get(ks) {
        if v != stride {
            return Err(format!("{ks}={v:#x} but __ksymtab stride={stride:#x}"));
        }
    }
    fields.insert(ks.to_owned(), stride);

    let info = probe.modinfo()?;
    let vermagic = info
        .get("vermagic")
        .filter(|v| !v.is_empty())
        .ok_or("no vermagic in .modinfo")?;
    if !vermagic.starts_with(&format!("{release} ")) {
        return Err(format!(
            "vermagic {vermagic:?} does not start with UTS_RELEASE {release:?}"
        ));
    }
    if info.get("name").map(String::as_str) != Some("kload_probe") {
        return Err(format!("unexpected .modinfo name {:?}", info.get("name")));
    }
    let name_len = *fields
        .get("MODULE_NAME_LEN")
        .ok_or("no MODULE_NAME_LEN record")?;
    let mvi = "sizeof(struct modversion_info)";
    if fields.get(mvi) != Some(&(8 + name_len)) {
        return Err("modversion_info is not 8 + MODULE_NAME_LEN bytes".into());
    }
    let module_layout_crc = probe.versions_crc("module_layout", name_len as usize)?;

    for (asm, key) in [
        ("FIXED_stack_canary", "fixed_percpu_data.stack_canary"),
        ("X86_current_task", "pcpu_hot.current_task"),
        ("X86_top_of_stack", "pcpu_hot.top_of_stack"),
    ] {
        if let (Some(a), Some(&f)) = (asm_offset(headers, asm), fields.get(key)) {
            if a != f as i64 {
                return Err(format!(
                    "cross-check {key}: probe {f:#x}, asm-offsets.h {a:#x}"
                ));
            }
        }
    }
    Ok(Measured {
        release,
        vermagic: vermagic.clone(),
        fields,
        module_layout_crc,
    })
}

struct ProbeElf<'a> {
    elf: &'a Elf<'a>,
    bytes: &'a [u8],
}

impl ProbeElf<'_> {
    /// The first section named `name`: (index, file offset, size).
    fn section(&self, name: &str) -> Option<(usize, usize, usize)> {
        self.elf
            .section_headers
            .iter()
            .enumerate()
            .find(|(_, s)| self.elf.shdr_strtab.get_at(s.sh_name) == Some(name))
            .map(|(i, s)| (i, s.sh_offset as usize, s.sh_size as usize))
    }

    fn must_section(&self, name: &str) -> Result<(usize, usize, usize), String> {
        self.section(name)
            .ok_or_else(|| format!("section {name} not found"))
    }

    /// `len` bytes at `off` into a section.
    fn bytes_of(
        &self,
        sec: (usize, usize, usize),
        off: usize,
        len: usize,
    ) -> Result<&[u8], String> {
        let (_, start, size) = sec;
        if off.checked_add(len).is_none_or(|end| end > size) {
            return Err(format!(
                "read at {off:#x}+{len:#x} overruns a section of {size:#x}"
            ));
        }
        self.bytes
            .get(start + off..start + off + len)
            .ok_or_else(|| "section data past the end of the file".to_owned())
    }

    /// Every `prefix*` record in `secname`: key -> decoded value, with
    /// extract.py's checks (no relocations, symbol name matches key, the
    /// records tile the section, no key twice).
    fn records<T>(
        &self,
        secname: &str,
        prefix: &str,
        value_len: usize,
        decode: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<BTreeMap<String, T>, String> {
        let entsize = KEY_LEN + value_len;
        let sec = self.must_section(secname)?;
        let rel: Vec<&str> = self
            .elf
            .section_headers
            .iter()
            .filter(|s| {
                (s.sh_type == SHT_RELA || s.sh_type == SHT_REL) && s.sh_info as usize == sec.0
            })
            .filter_map(|s| self.elf.shdr_strtab.get_at(s.sh_name))
            .collect();
        if !rel.is_empty() {
            return Err(format!(
                "{secname} has relocations ({rel:?}); values would not be final"
            ));
        }
        if sec.2 % entsize != 0 {
            return Err(format!(
                "{secname} size {:#x} is not a multiple of {entsize}",
                sec.2
            ));
        }
        let mut out = BTreeMap::new();
        let mut seen = Vec::new();
        for sym in self.elf.syms.iter() {
            let name = self.elf.strtab.get_at(sym.st_name).unwrap_or("");
            if !name.starts_with(prefix) {
                continue;
            }
            if sym.st_type() != STT_OBJECT || sym.st_size as usize != entsize {
                return Err(format!("symbol {name}: unexpected type/size"));
            }
            if sym.st_shndx != sec.0 {
                return Err(format!("symbol {name} is not in {secname}"));
            }
            let off = sym.st_value as usize;
            if off % entsize != 0 || seen.contains(&off) {
                return Err(format!("symbol {name} at bad offset {off:#x}"));
            }
            seen.push(off);
            let raw = self.bytes_of(sec, off, entsize)?;
            if raw[KEY_LEN - 1] != 0 {
                return Err(format!("key of {name} is not NUL-terminated"));
            }
            let key = cstr(&raw[..KEY_LEN])?.to_owned();
            if format!("{prefix}{}", mangle(&key)?) != name {
                return Err(format!("symbol {name} does not match its key {key:?}"));
            }
            if out.contains_key(&key) {
                return Err(format!("duplicate key {key:?}"));
            }
            let value = decode(&raw[KEY_LEN..])?;
            out.insert(key, value);
        }
        if seen.len() * entsize != sec.2 {
            return Err(format!(
                "{secname}: {} symbols do not cover {:#x} bytes",
                seen.len(),
                sec.2
            ));
        }
        Ok(out)
    }

    /// Per-entry size of the `__ksymtab` kbuild emitted for the probe's two
    /// `EXPORT_SYMBOL`s, from the `__ksymtab_<sym>` symbol offsets.
    fn ksymtab_stride(&self) -> Result<u64, String> {
        let sec = self.must_section("__ksymtab")?;
        let mut offs = Vec::new();
        for sym in self.elf.syms.iter() {
            let name = self.elf.strtab.get_at(sym.st_name).unwrap_or("");
            if (name == "__ksymtab_kload_probe_export_a"
                || name == "__ksymtab_kload_probe_export_b")
                && sym.st_shndx == sec.0
            {
                offs.push(sym.st_value);
            }
        }
        offs.sort_unstable();
        match offs[..] {
            [0, b] if sec.2 as u64 == 2 * b => Ok(b),
            [_, _] => Err(format!(
                "__ksymtab layout unexpected: offsets {offs:?}, size {:#x}",
                sec.2
            )),
            _ => Err("__ksymtab_kload_probe_export_{a,b} symbols not found".into()),
        }
    }

    /// `.modinfo` key=value pairs (the first of each key).
    fn modinfo(&self) -> Result<BTreeMap<String, String>, String> {
        let sec = self.must_section(".modinfo")?;
        let raw = self.bytes_of(sec, 0, sec.2)?;
        let mut info = BTreeMap::new();
        for item in raw.split(|&b| b == 0) {
            let item = std::str::from_utf8(item).map_err(|_| ".modinfo is not UTF-8")?;
            if let Some((k, v)) = item.split_once('=') {
                info.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
        Ok(info)
    }

    /// The CRC `__versions` records for `name`, if any.
    fn versions_crc(&self, name: &str, name_len: usize) -> Result<Option<u32>, String> {
        let Some(sec) = self.section("__versions") else {
            return Ok(None);
        };
        let ent = 8 + name_len;
        for off in (0..sec.2).step_by(ent) {
            let raw = self.bytes_of(sec, off, ent)?;
            if cstr(&raw[8..])? == name {
                let crc = u64::from_le_bytes(raw[..8].try_into().expect("8 bytes"));
                return Ok(Some(crc as u32));
            }
        }
        Ok(None)
    }
}

/// The NUL-terminated ASCII string at the start of `b`.
fn cstr(b: &[u8]) -> Result<&str, String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end])
        .ok()
        .filter(|s| s.is_ascii())
        .ok_or_else(|| format!("non-ASCII string {:?}", String::from_utf8_lossy(&b[..end])))
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The C symbol suffix probe.c's SIZE/OFF/CONST macros give a key.
fn mangle(key: &str) -> Result<String, String> {
    if let Some(inner) = key
        .strip_prefix("sizeof(")
        .and_then(|k| k.strip_suffix(')'))
    {
        let ty = inner.strip_prefix("struct ").unwrap_or(inner);
        if is_word(ty) {
            return Ok(format!("sizeof__{ty}"));
        }
    } else if key.contains('.') {
        // "st.f" (OFF) or "st.a.b" (OFF2, a nested member).
        if key.split('.').all(is_word) {
            return Ok(key.replace('.', "__"));
        }
    } else if is_word(key)
        && !key.as_bytes()[0].is_ascii_digit()
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Ok(format!("const__{key}"));
    }
    Err(format!("unexpected key form {key:?}"))
}

/// `#define NAME <int>` from the tree's include/generated/asm-offsets.h.
fn asm_offset(headers: &Path, name: &str) -> Option<i64> {
    let text = std::fs::read_to_string(headers.join("include/generated/asm-offsets.h")).ok()?;
    text.lines().find_map(|l| {
        let rest = l
            .strip_prefix("#define ")?
            .strip_prefix(name)?
            .strip_prefix(' ')?;
        let digits_end = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
            .map_or(rest.len(), |(i, _)| i);
        let (num, after) = rest.split_at(digits_end);
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        num.parse().ok()
    })
}

/// Library modules whose exports kload's kernel provides itself
/// (src/kernel/crc.rs); the same list as symvers.py's BUILTIN_LIBRARIES.
pub const BUILTIN_LIBRARIES: &[&str] = &[
    "lib/crc16",
    "lib/crc-itu-t",
    "lib/crc7",
    "lib/crc8",
    "lib/crc-t10dif",
];

/// The vmlinux lines of Module.symvers (and those of the built-in library
/// modules), sorted by name; as symvers.py.
fn vmlinux_exports(text: &[u8], path: &Path) -> Result<Vec<Export>, String> {
    let text = std::str::from_utf8(text)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or_else(|| format!("{}: not ASCII", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        let cols: Vec<&str> = line.split('\t').collect();
        let (crc, name, module, kind, ns) = match cols[..] {
            [c, n, m, k] => (c, n, m, k, ""),
            [c, n, m, k, ns] => (c, n, m, k, ns),
            _ => return Err(format!("{}: expected 4 or 5 tab-separated columns", at())),
        };
        if module != "vmlinux" && !BUILTIN_LIBRARIES.contains(&module) {
            continue;
        }
        let gpl = match kind {
            "EXPORT_SYMBOL" => false,
            "EXPORT_SYMBOL_GPL" => true,
            k => return Err(format!("{}: unknown export kind {k:?}", at())),
        };
        let crc = crc
            .strip_prefix("0x")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("{}: bad CRC {crc:?}", at()))?;
        if name.is_empty()
            || [name, ns]
                .iter()
                .any(|t| t.contains([' ', '"', '\\']) || t.chars().any(char::is_control))
        {
            return Err(format!(
                "{}: unexpected symbol {name:?} / namespace {ns:?}",
                at()
            ));
        }
        out.push(Export {
            name: name.to_owned(),
            crc,
            gpl,
            namespace: ns.to_owned(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = out.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!(
            "{}: {} exported twice by vmlinux",
            path.display(),
            w[0].name
        ));
    }
    if out.is_empty() {
        return Err(format!("{}: no vmlinux exports", path.display()));
    }
    Ok(out)
}

/// dpkg's version of `linux-headers-<release>`, when `headers` is that
/// package's tree; "" otherwise or when dpkg cannot say.
fn debian_package_version(headers: &Path, release: &str) -> String {
    let package = format!("linux-headers-{release}");
    if headers != Path::new("/usr/src").join(&package) {
        return String::new();
    }
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", &package])
        .env("LC_ALL", "C")
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let v = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                String::new()
            } else {
                v
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangle_matches_probe_c() {
        assert_eq!(mangle("sizeof(struct module)").unwrap(), "sizeof__module");
        assert_eq!(mangle("sizeof(spinlock_t)").unwrap(), "sizeof__spinlock_t");
        assert_eq!(mangle("module.init").unwrap(), "module__init");
        assert_eq!(mangle("MODULE_NAME_LEN").unwrap(), "const__MODULE_NAME_LEN");
        assert_eq!(
            mangle("paravirt_patch_template.irq.save_fl").unwrap(),
            "paravirt_patch_template__irq__save_fl"
        );
        assert!(mangle("module..x").is_err());
        assert!(mangle("module.init-x").is_err());
        assert!(mangle("lower").is_err());
    }

    #[test]
    fn symvers_lines() {
        let p = Path::new("Module.symvers");
        let text = b"0x00000001\tb\tvmlinux\tEXPORT_SYMBOL_GPL\tCXL\n\
                     0x00000002\tx\tdrivers/foo\tEXPORT_SYMBOL\t\n\
                     0x00000003\ta\tvmlinux\tEXPORT_SYMBOL\n";
        let e = vmlinux_exports(text, p).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (
                e[0].name.as_str(),
                e[0].crc,
                e[0].gpl,
                e[0].namespace.as_str()
            ),
            ("a", 3, false, "")
        );
        assert_eq!(
            (e[1].name.as_str(), e[1].gpl, e[1].namespace.as_str()),
            ("b", true, "CXL")
        );
        let bad = b"0x1\ta\tvmlinux\tEXPORT_UNUSED_SYMBOL\n";
        assert_eq!(
            vmlinux_exports(bad, p).unwrap_err(),
            "Module.symvers:1: unknown export kind \"EXPORT_UNUSED_SYMBOL\""
        );
    }
}
