//! User profiles: the owned form of a profile ([`ProfileData`]) and its text
//! file format.
//!
//! ```text
//! kload-profile 1
//! # comments and blank lines are ignored
//! release 6.1.0-56-amd64
//! vermagic "6.1.0-56-amd64 SMP preempt mod_unload modversions "
//! package-version 6.1.192-2
//! module-layout-crc 0x9060323f
//! field MODULE_NAME_LEN 0x38
//! field "sizeof(struct module)" 0x380
//! export __pci_register_driver 0x0515d769 EXPORT_SYMBOL
//! export insert_resource_expand_to_fit 0x84b45156 EXPORT_SYMBOL_GPL CXL
//! ```
//!
//! The first line is the header `kload-profile <format version>`; this kload
//! reads version [`FORMAT_VERSION`]. Every other line is a keyword and its
//! space-separated tokens. A token holding a space, a tab, `"` or `\` (or an
//! empty one) is written in double quotes, with `\"` and `\\` escapes; no
//! other escapes exist and control characters are not allowed. `release`,
//! `vermagic` and `module-layout-crc` appear exactly once; `package-version`
//! at most once ("" when absent). `field KEY VALUE` and
//! `export NAME CRC KIND [NAMESPACE]` (KIND `EXPORT_SYMBOL` or
//! `EXPORT_SYMBOL_GPL`, the vmlinux lines of Module.symvers) repeat, in any
//! order, each key or name once. Numbers are `0x` hex or decimal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{parse_version, ExportEntry, KernelProfile, ProfileError};

/// The profile file format version this kload writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &str = "kload-profile";

/// A profile as owned data: what `measure` produces, what a profile file
/// holds. Fields and exports are kept sorted by key / name (byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileData {
    pub release: String,
    pub vermagic: String,
    /// "" when unknown.
    pub package_version: String,
    pub module_layout_crc: u32,
    pub fields: Vec<(String, u64)>,
    pub exports: Vec<Export>,
}

/// One vmlinux export (a Module.symvers line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub crc: u32,
    pub gpl: bool,
    /// Verbatim from Module.symvers; "" when none.
    pub namespace: String,
}

impl ProfileData {
    /// The owned copy of a (built-in or loaded) profile.
    pub fn from_profile(p: &KernelProfile) -> Self {
        ProfileData {
            release: p.release.to_owned(),
            vermagic: p.vermagic.to_owned(),
            package_version: p.package_version.to_owned(),
            module_layout_crc: p.module_layout_crc,
            fields: p.fields.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
            exports: p
                .exports()
                .into_iter()
                .map(|(name, crc, gpl, ns)| Export {
                    name: name.to_owned(),
                    crc,
                    gpl,
                    namespace: ns.to_owned(),
                })
                .collect(),
        }
    }

    /// (major, minor) of the release, if it has them.
    pub fn version(&self) -> Option<(u32, u32)> {
        parse_version(&self.release)
    }

    /// Sort fields and exports; then check what a profile must satisfy:
    /// a release with a major.minor and no whitespace, control character or
    /// '/'; a vermagic starting with `"<release> "`; unique field keys and
    /// export names; no control characters anywhere; `module_layout`'s CRC,
    /// if exported, equal to `module_layout_crc`.
    pub fn normalize(&mut self) -> Result<(), String> {
        self.fields.sort_by(|a, b| a.0.cmp(&b.0));
        self.exports.sort_by(|a, b| a.name.cmp(&b.name));
        let r = &self.release;
        if r.is_empty()
            || r.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return Err(format!("bad release {r:?}"));
        }
        if parse_version(r).is_none() {
            return Err(format!("release {r:?} does not start with major.minor"));
        }
        if !self.vermagic.starts_with(&format!("{r} ")) {
            return Err(format!(
                "vermagic {:?} does not start with the release {r:?}",
                self.vermagic
            ));
        }
        let texts = [&self.vermagic, &self.package_version]
            .into_iter()
            .chain(self.fields.iter().map(|f| &f.0))
            .chain(self.exports.iter().flat_map(|e| [&e.name, &e.namespace]));
        for t in texts {
            if t.chars().any(char::is_control) {
                return Err(format!("control character in {t:?}"));
            }
        }
        if let Some(w) = self.fields.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("field {:?} given twice", w[0].0));
        }
        if let Some(w) = self.exports.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(format!("export {:?} given twice", w[0].name));
        }
        if let Some(e) = self.fields.iter().find(|f| f.0.is_empty()) {
            return Err(format!("empty field key (value {:#x})", e.1));
        }
        if self.exports.iter().any(|e| e.name.is_empty()) {
            return Err("empty export name".into());
        }
        if let Ok(i) = self
            .exports
            .binary_search_by(|e| e.name.as_str().cmp("module_layout"))
        {
            let crc = self.exports[i].crc;
            if crc != self.module_layout_crc {
                return Err(format!(
                    "module-layout-crc {:#010x} but export module_layout has CRC {crc:#010x}",
                    self.module_layout_crc
                ));
            }
        }
        Ok(())
    }

    /// The profile file text. `comment` lines (without '#') follow the header.
    pub fn to_text(&self, comment: &[String]) -> String {
        let mut t = format!("{MAGIC} {FORMAT_VERSION}\n");
        for c in comment {
            let _ = writeln!(t, "# {c}");
        }
        let _ = writeln!(t, "release {}", quote(&self.release));
        let _ = writeln!(t, "vermagic {}", quote(&self.vermagic));
        let _ = writeln!(t, "package-version {}", quote(&self.package_version));
        let _ = writeln!(t, "module-layout-crc {:#010x}", self.module_layout_crc);
        for (k, v) in &self.fields {
            let _ = writeln!(t, "field {} {v:#x}", quote(k));
        }
        for e in &self.exports {
            let kind = if e.gpl {
                "EXPORT_SYMBOL_GPL"
            } else {
                "EXPORT_SYMBOL"
            };
            let _ = write!(t, "export {} {:#010x} {kind}", quote(&e.name), e.crc);
            if !e.namespace.is_empty() {
                let _ = write!(t, " {}", quote(&e.namespace));
            }
            t.push('\n');
        }
        t
    }

    /// Write the file atomically (a temporary file in the same directory,
    /// then a rename).
    pub fn write(&self, path: &Path, comment: &[String]) -> Result<(), ProfileError> {
        let io = |p: &Path, e: std::io::Error| ProfileError::Io {
            path: p.to_owned(),
            message: e.to_string(),
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_text(comment)).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(path, e)
        })
    }

    /// Read and parse a profile file.
    pub fn read(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parse profile file text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let syntax = |line: usize, message: String| ProfileError::Syntax {
            path: path.to_owned(),
            line,
            message,
        };
        let mut release = None;
        let mut vermagic = None;
        let mut package_version = None;
        let mut crc = None;
        let mut fields = Vec::new();
        let mut exports = Vec::new();
        let mut saw_header = false;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let toks = tokens(line).map_err(|m| syntax(n, m))?;
            if n == 1 {
                match toks.as_slice() {
                    [m, v] if m == MAGIC => match v.parse::<u32>() {
                        Ok(FORMAT_VERSION) => saw_header = true,
                        _ => {
                            return Err(syntax(
                                n,
                                format!(
                                    "profile format version {v} is not supported \
                                     (this kload reads {FORMAT_VERSION})"
                                ),
                            ))
                        }
                    },
                    _ => {
                        return Err(syntax(
                            n,
                            format!(
                                "not a kload profile (the first line must be \
                                 `{MAGIC} {FORMAT_VERSION}`)"
                            ),
                        ))
                    }
                }
                continue;
            }
            let Some((kw, args)) = toks.split_first() else {
                continue; // blank or comment
            };
            let arity = |want: &[usize]| {
                if want.contains(&args.len()) {
                    Ok(())
                } else {
                    Err(syntax(
                        n,
                        format!("`{kw}` takes {} value(s), found {}", want[0], args.len()),
                    ))
                }
            };
            let once = |slot: &mut Option<String>, v: &str| {
                if slot.replace(v.to_owned()).is_some() {
                    Err(syntax(n, format!("`{kw}` given twice")))
                } else {
                    Ok(())
                }
            };
            match kw.as_str() {
                "release" => {
                    arity(&[1])?;
                    once(&mut release, &args[0])?;
                }
                "vermagic" => {
                    arity(&[1])?;
                    once(&mut vermagic, &args[0])?;
                }
                "package-version" => {
                    arity(&[1])?;
                    once(&mut package_version, &args[0])?;
                }
                "module-layout-crc" => {
                    arity(&[1])?;
                    let v = number(&args[0], u32::MAX.into()).map_err(|m| syntax(n, m))?;
                    if crc.replace(v as u32).is_some() {
                        return Err(syntax(n, format!("`{kw}` given twice")));
                    }
                }
                "field" => {
                    arity(&[2])?;
                    let v = number(&args[1], u64::MAX).map_err(|m| syntax(n, m))?;
                    fields.push((args[0].clone(), v, n));
                }
                "export" => {
                    arity(&[3, 4])?;
                    let crc = number(&args[1], u32::MAX.into()).map_err(|m| syntax(n, m))?;
                    let gpl = match args[2].as_str() {
                        "EXPORT_SYMBOL" => false,
                        "EXPORT_SYMBOL_GPL" => true,
                        k => {
                            return Err(syntax(
                                n,
                                format!(
                                    "export kind {k:?} is neither EXPORT_SYMBOL \
                                     nor EXPORT_SYMBOL_GPL"
                                ),
                            ))
                        }
                    };
                    let namespace = args.get(3).cloned().unwrap_or_default();
                    let e = Export {
                        name: args[0].clone(),
                        crc: crc as u32,
                        gpl,
                        namespace,
                    };
                    exports.push((e, n));
                }
                other => return Err(syntax(n, format!("unknown keyword {other:?}"))),
            }
        }
        let invalid = |message: String| ProfileError::Invalid {
            path: path.to_owned(),
            message,
        };
        if !saw_header {
            return Err(invalid("empty file, not a kload profile".into()));
        }
        // Duplicates are reported with the line of the second occurrence.
        fields.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        if let Some(w) = fields.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(syntax(w[1].2, format!("field {:?} given twice", w[1].0)));
        }
        exports.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.1.cmp(&b.1)));
        if let Some(w) = exports.windows(2).find(|w| w[0].0.name == w[1].0.name) {
            return Err(syntax(
                w[1].1,
                format!("export {:?} given twice", w[1].0.name),
            ));
        }
        let missing = |kw: &str| invalid(format!("no `{kw}` line"));
        let mut data = ProfileData {
            release: release.ok_or_else(|| missing("release"))?,
            vermagic: vermagic.ok_or_else(|| missing("vermagic"))?,
            package_version: package_version.unwrap_or_default(),
            module_layout_crc: crc.ok_or_else(|| missing("module-layout-crc"))?,
            fields: fields.into_iter().map(|(k, v, _)| (k, v)).collect(),
            exports: exports.into_iter().map(|(e, _)| e).collect(),
        };
        data.normalize().map_err(invalid)?;
        Ok(data)
    }

    /// Turn into a `&'static KernelProfile` (leaked: profiles live for the
    /// process). `self` must have passed `normalize`.
    pub(crate) fn leak(self, origin: Option<PathBuf>) -> &'static KernelProfile {
        let (major, minor) = self.version().unwrap_or_default();
        let fields: Vec<(&'static str, u64)> = self
            .fields
            .into_iter()
            .map(|(k, v)| (leak_str(k), v))
            .collect();
        let exports: Vec<ExportEntry> = self
            .exports
            .into_iter()
            .map(|e| {
                let ns = if e.namespace.is_empty() {
                    ""
                } else {
                    leak_str(e.namespace)
                };
                (leak_str(e.name), e.crc, e.gpl, ns)
            })
            .collect();
        Box::leak(Box::new(KernelProfile {
            series: leak_str(format!("{major}.{minor}")),
            release: leak_str(self.release),
            vermagic: leak_str(self.vermagic),
            package_version: leak_str(self.package_version),
            module_layout_crc: self.module_layout_crc,
            version: (major, minor),
            fields: fields.leak(),
            exports: super::ExportTable::Entries(exports.leak()),
            origin: origin.map(|p| &*Box::leak(p.into_boxed_path())),
        }))
    }
}

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `s` as one token: bare if it can be, else double-quoted.
fn quote(s: &str) -> String {
    if !s.is_empty() && !s.contains([' ', '\t', '"', '\\']) && !s.starts_with('#') {
        return s.to_owned();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Split a line into tokens; a line whose first token starts with '#' is a
/// comment (no tokens).
fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        if out.is_empty() && first == '#' {
            return Ok(out);
        }
        let mut tok = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted string".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => tok.push(c),
                        Some(c) => return Err(format!("unknown escape \\{c}")),
                        None => return Err("unterminated quoted string".into()),
                    },
                    Some(c) if c.is_control() => {
                        return Err(format!("control character {c:?} in a string"))
                    }
                    Some(c) => tok.push(c),
                }
            }
            if chars.peek().is_some_and(|&c| c != ' ' && c != '\t') {
                return Err("text right after a closing quote".into());
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ' ' && c != '\t') {
                if c == '"' || c == '\\' {
                    return Err(format!("{c:?} inside an unquoted token"));
                }
                if c.is_control() {
                    return Err(format!("control character {c:?}"));
                }
                tok.push(c);
            }
        }
        out.push(tok);
    }
}

/// `0x` hex or decimal, at most `max`.
fn number(s: &str, max: u64) -> Result<u64, String> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    }
    .map_err(|_| format!("bad number {s:?}"))?;
    if v > max {
        return Err(format!("number {s} is out of range (max {max:#x})"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ProfileData {
        ProfileData {
            release: "6.8.0-1-amd64".into(),
            vermagic: "6.8.0-1-amd64 SMP preempt mod_unload modversions ".into(),
            package_version: String::new(),
            module_layout_crc: 0x1234,
            fields: vec![("sizeof(struct module)".into(), 0x380), ("A".into(), 1)],
            exports: vec![
                Export {
                    name: "module_layout".into(),
                    crc: 0x1234,
                    gpl: false,
                    namespace: String::new(),
                },
                Export {
                    name: "cxl_thing".into(),
                    crc: 0xffff_ffff,
                    gpl: true,
                    namespace: "module:kvm".into(),
                },
            ],
        }
    }

    #[test]
    fn text_round_trips() {
        let mut d = sample();
        d.normalize().unwrap();
        assert_eq!(d.fields[0].0, "A");
        let text = d.to_text(&["from a \"test\"".into()]);
        assert!(text.starts_with("kload-profile 1\n# from a \"test\"\nrelease 6.8.0-1-amd64\n"));
        assert!(text.contains("\nvermagic \"6.8.0-1-amd64 SMP preempt mod_unload modversions \"\n"));
        assert!(text.contains("\npackage-version \"\"\n"));
        assert!(text.contains("\nfield \"sizeof(struct module)\" 0x380\n"));
        assert!(text.contains("\nexport cxl_thing 0xffffffff EXPORT_SYMBOL_GPL module:kvm\n"));
        assert!(text.contains("\nexport module_layout 0x00001234 EXPORT_SYMBOL\n"));
        assert_eq!(ProfileData::parse(&text, Path::new("x")).unwrap(), d);
        let p = d.clone().leak(None);
        assert_eq!((p.series, p.version()), ("6.8", (6, 8)));
        assert_eq!(p.get("A"), Some(1));
        assert_eq!(p.export("cxl_thing").unwrap().namespace, "module:kvm");
        assert_eq!(ProfileData::from_profile(p), d);
    }

    #[test]
    fn tokens_quote_and_escape() {
        assert_eq!(
            tokens("  a\t\"b c\" \"\" # x").unwrap(),
            ["a", "b c", "", "#", "x"]
        );
        assert_eq!(tokens(r#"k "a\"b\\c""#).unwrap(), ["k", "a\"b\\c"]);
        assert!(tokens("# comment \"").unwrap().is_empty());
        for s in ["\"abc", "k \"a\"b", "k a\"b", r#"k "\n""#, "k \u{1}"] {
            assert!(tokens(s).is_err(), "{s:?}");
        }
        for s in ["", "a b", "#x", "q\"", "\\"] {
            assert_eq!(tokens(&quote(s)).unwrap(), [s]);
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let p = Path::new("/x/y.profile");
        let err = |text: &str| ProfileData::parse(text, p).unwrap_err().to_string();
        let good = sample().to_text(&[]);
        assert_eq!(
            err("hello\n"),
            "/x/y.profile:1: not a kload profile (the first line must be `kload-profile 1`)"
        );
        assert_eq!(
            err("kload-profile 2\n"),
            "/x/y.profile:1: profile format version 2 is not supported (this kload reads 1)"
        );
        assert_eq!(
            err(&format!("{good}\nfield A 0xzz\n")),
            format!(
                "/x/y.profile:{}: bad number \"0xzz\"",
                good.lines().count() + 2
            )
        );
        assert_eq!(
            err(&good.replace("release ", "releas ")),
            "/x/y.profile:2: unknown keyword \"releas\""
        );
        assert_eq!(
            err(&format!("{good}field A 2\n")),
            format!(
                "/x/y.profile:{}: field \"A\" given twice",
                good.lines().count() + 1
            )
        );
        assert_eq!(
            err(&format!("{good}release 6.8.0-1-amd64\n")),
            format!(
                "/x/y.profile:{}: `release` given twice",
                good.lines().count() + 1
            )
        );
        assert_eq!(
            err(&format!("{good}export foo 1 EXPORT_SYMBOL_FUTURE\n")),
            format!(
                "/x/y.profile:{}: export kind \"EXPORT_SYMBOL_FUTURE\" is neither \
                 EXPORT_SYMBOL nor EXPORT_SYMBOL_GPL",
                good.lines().count() + 1
            )
        );
        assert_eq!(
            err("kload-profile 1\nrelease 6.8.0\n"),
            "/x/y.profile: no `vermagic` line"
        );
        assert_eq!(
            err(&good.replace("module-layout-crc 0x00001234", "module-layout-crc 0x5")),
            "/x/y.profile: module-layout-crc 0x00000005 but export module_layout has CRC 0x00001234"
        );
        assert_eq!(err(""), "/x/y.profile: empty file, not a kload profile");
    }
}
