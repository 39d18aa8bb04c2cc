//! `kload check`: run the loader's stages on a module without forming it
//! or running its init, then give everything back.
//!
//! The stages are `load_module`'s own (`main::prepare_module`); a check
//! differs from a load in three ways only: undefined symbols nobody
//! provides are bound to named traps so that relocation and the later
//! stages still run (`Missing::Trap`), the module is never formed (no
//! `complete_formation`, no COMING notifiers, no init), and the kernel is
//! rolled back afterwards (`Kernel::checkpoint`/`rollback`: log, taints,
//! once-only notices, per-CPU reservations; the module memory and the
//! name are released when the prepared module is dropped).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::check_modinfo::license_is_gpl_compatible;
use super::error::LoadError;
use super::exports::ModExport;
use super::image::ModuleImage;
use super::main::{prepare_module, LoadOptions, Stage};
use super::simplify_symbols::Missing;
use crate::elf::defs::*;
use crate::kernel::panic::json_str;
use crate::kernel::{symbols, Kernel};

/// Where an undefined symbol of a checked module would come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolSource {
    /// A vmlinux export kload implements.
    Implemented,
    /// A vmlinux export bound to a named trap of an unemulated subsystem:
    /// the module loads, and a call into it kills the task.
    NamedTrap(&'static str),
    /// A vmlinux export kload neither implements nor traps.
    Missing,
    /// Exported by another module (loaded, or of the checked corpus): modprobe
    /// would load that one first.
    Module(String),
    /// Exported, but not to this module: a GPL-only export and a module
    /// without a GPL-compatible licence, or a namespace it does not import
    /// (`resolve_symbol` refuses it).
    Refused { owner: String, reason: String },
    /// Exported by neither this kernel nor any module kload knows of.
    Unknown,
}

impl SymbolSource {
    /// The load cannot resolve it.
    pub fn is_unresolved(&self) -> bool {
        matches!(
            self,
            SymbolSource::Missing | SymbolSource::Unknown | SymbolSource::Refused { .. }
        )
    }
}

/// The outcome of checking one file.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub file: String,
    /// `modinfo` name, once `setup_load_info` got it.
    pub module: Option<String>,
    /// The first stage that failed and the error it returned.
    pub failure: Option<CheckFailure>,
    /// What the kernel logged during the stages (taint notices, unknown
    /// symbols, relocation errors), rolled back from the kernel's log.
    pub log: Vec<String>,
    /// The module's undefined (non-weak) symbols, in symbol-table order.
    pub undefined: Vec<(String, SymbolSource)>,
    /// The symbols this module exports (only when every stage passed).
    pub exports: Vec<(String, ModExport)>,
    /// GPL-only exports are visible to it (GPL-compatible licence).
    pub gplok: bool,
    /// The namespaces it imports (`import_ns`).
    pub imports: Vec<String>,
    /// The modules modpost saw it use (`depends`, as module names).
    pub depends: Vec<String>,
    /// Whether `__this_module` sets init / exit.
    pub has_init: bool,
    pub has_exit: bool,
}

#[derive(Debug, Clone)]
pub struct CheckFailure {
    pub stage: Stage,
    pub error: String,
    pub errno: i32,
}

/// The check's verdict, for summaries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Every stage passes and every symbol is implemented, a named trap,
    /// or another module's export.
    Ok,
    /// Every loader stage passes, but some symbols are missing from kload
    /// (or from everywhere): `simplify_symbols` would fail.
    Unresolved,
    /// A loader stage failed.
    Failed(Stage),
}

impl CheckReport {
    pub fn outcome(&self) -> Outcome {
        if let Some(f) = &self.failure {
            return Outcome::Failed(f.stage);
        }
        if self.undefined.iter().any(|(_, s)| s.is_unresolved()) {
            return Outcome::Unresolved;
        }
        Outcome::Ok
    }

    fn names(&self, pred: impl Fn(&SymbolSource) -> bool) -> Vec<&str> {
        self.undefined
            .iter()
            .filter(|(_, s)| pred(s))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Undefined symbols by providing module.
    pub fn provided(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, s) in &self.undefined {
            if let SymbolSource::Module(owner) = s {
                m.entry(owner.as_str()).or_default().push(n);
            }
        }
        m
    }

    /// Undefined symbols bound to named traps, with their subsystems.
    pub fn traps(&self) -> Vec<(&str, &'static str)> {
        self.undefined
            .iter()
            .filter_map(|(n, s)| match s {
                SymbolSource::NamedTrap(sub) => Some((n.as_str(), *sub)),
                _ => None,
            })
            .collect()
    }

    pub fn missing(&self) -> Vec<&str> {
        self.names(|s| *s == SymbolSource::Missing)
    }

    pub fn unknown(&self) -> Vec<&str> {
        self.names(|s| *s == SymbolSource::Unknown)
    }

    /// The kernel's words for the first unresolved symbol ("Unknown
    /// symbol X (err -2)"; -22 for a namespace not imported), and how many
    /// more there are.
    pub fn unknown_symbol_error(&self) -> String {
        let unresolved: Vec<_> = self
            .undefined
            .iter()
            .filter(|(_, s)| s.is_unresolved())
            .collect();
        let Some((name, source)) = unresolved.first() else {
            return String::new();
        };
        let err = match source {
            SymbolSource::Refused { reason, .. } if reason.starts_with("namespace") => {
                -libc::EINVAL
            }
            _ => -libc::ENOENT,
        };
        let module = self.module.as_deref().unwrap_or(&self.file);
        let mut s = format!("{module}: Unknown symbol {name} (err {err})");
        if unresolved.len() > 1 {
            s.push_str(&format!(" (and {} more)", unresolved.len() - 1));
        }
        s
    }

    /// Symbols refused, with who exports them and why.
    pub fn refused(&self) -> Vec<String> {
        self.undefined
            .iter()
            .filter_map(|(n, s)| match s {
                SymbolSource::Refused { owner, reason } => Some(format!("{n}[{owner}: {reason}]")),
                _ => None,
            })
            .collect()
    }

    /// Symbols no kernel export explains: resolve them against the
    /// corpus's exports (a second pass, once every module was checked),
    /// with `resolve_symbol`'s licence and namespace rules.
    pub fn resolve_with(&mut self, provides: &Provides) {
        for (name, source) in &mut self.undefined {
            if *source != SymbolSource::Unknown {
                continue;
            }
            let Some((owner, export)) = provides.provider(name, &self.depends) else {
                continue;
            };
            let owner = owner.to_owned();
            *source = if export.gpl && !self.gplok {
                SymbolSource::Refused {
                    owner,
                    reason: "GPL-only".into(),
                }
            } else if !export.namespace.is_empty() && !self.imports.contains(&export.namespace) {
                SymbolSource::Refused {
                    owner,
                    reason: format!("namespace {} not imported", export.namespace),
                }
            } else {
                SymbolSource::Module(owner)
            };
        }
    }

    /// The one-line verdict: `FILE: OK` or `FILE: FAIL stage: error`,
    /// then the symbol groups.
    pub fn line(&self) -> String {
        let mut out = format!("{}: ", self.file);
        match (&self.failure, self.outcome()) {
            (Some(f), _) => out.push_str(&format!("FAIL {}: {}", f.stage.name(), f.error)),
            (None, Outcome::Unresolved) => out.push_str(&format!(
                "FAIL {}: {}",
                Stage::SimplifySymbols.name(),
                self.unknown_symbol_error()
            )),
            _ => out.push_str("OK"),
        }
        let group = |out: &mut String, label: &str, names: &[&str]| {
            if !names.is_empty() {
                out.push_str(&format!("; {label} ({}): {}", names.len(), names.join(" ")));
            }
        };
        group(&mut out, "missing", &self.missing());
        group(&mut out, "exported by nothing", &self.unknown());
        let refused = self.refused();
        let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
        group(&mut out, "refused", &refused);
        let traps: Vec<String> = self
            .traps()
            .iter()
            .map(|(n, s)| format!("{n}[{s}]"))
            .collect();
        let traps: Vec<&str> = traps.iter().map(String::as_str).collect();
        group(&mut out, "named trap", &traps);
        for (owner, names) in self.provided() {
            group(&mut out, &format!("provided by module {owner}"), &names);
        }
        out
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut o = String::from("{\"file\":");
        json_str(&mut o, &self.file);
        o.push_str(",\"module\":");
        match &self.module {
            Some(m) => json_str(&mut o, m),
            None => o.push_str("null"),
        }
        o.push_str(",\"outcome\":");
        json_str(
            &mut o,
            match self.outcome() {
                Outcome::Ok => "ok",
                Outcome::Unresolved => "unresolved",
                Outcome::Failed(_) => "failed",
            },
        );
        o.push_str(",\"stage\":");
        match (&self.failure, self.outcome()) {
            (Some(f), _) => json_str(&mut o, f.stage.name()),
            (None, Outcome::Unresolved) => json_str(&mut o, Stage::SimplifySymbols.name()),
            _ => o.push_str("null"),
        }
        o.push_str(",\"error\":");
        match &self.failure {
            Some(f) => {
                json_str(&mut o, &f.error);
                o.push_str(&format!(",\"errno\":{}", f.errno));
            }
            None => o.push_str("null,\"errno\":0"),
        }
        let list = |o: &mut String, key: &str, names: &[&str]| {
            o.push_str(&format!(",\"{key}\":["));
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json_str(o, n);
            }
            o.push(']');
        };
        list(&mut o, "missing", &self.missing());
        list(&mut o, "unknown", &self.unknown());
        let refused = self.refused();
        let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
        list(&mut o, "refused", &refused);
        o.push_str(",\"named_traps\":{");
        for (i, (n, s)) in self.traps().iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, n);
            o.push(':');
            json_str(&mut o, s);
        }
        o.push_str("},\"provided\":{");
        for (i, (owner, names)) in self.provided().iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json_str(&mut o, owner);
            o.push(':');
            list_body(&mut o, names);
        }
        o.push('}');
        let log: Vec<&str> = self.log.iter().map(String::as_str).collect();
        list(&mut o, "log", &log);
        o.push_str(&format!(
            ",\"init\":{},\"exit\":{}}}",
            self.has_init, self.has_exit
        ));
        o
    }
}

fn list_body(o: &mut String, names: &[&str]) {
    o.push('[');
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        json_str(o, n);
    }
    o.push(']');
}

/// Exported symbols of a corpus of modules: symbol → exporting module.
#[derive(Debug, Default)]
pub struct Provides {
    by_symbol: HashMap<String, Vec<(String, ModExport)>>,
}

impl Provides {
    /// Record `module`'s exports.
    pub fn add(&mut self, module: &str, exports: &[(String, ModExport)]) {
        for (name, e) in exports {
            self.by_symbol
                .entry(name.clone())
                .or_default()
                .push((module.to_owned(), e.clone()));
        }
    }

    /// The module that would provide `symbol` to a module depending on
    /// `depends` (its modinfo, modpost's record of whose exports it was
    /// linked against), and the export. When several modules export the
    /// name, the first of `depends` that does wins, else the first seen.
    pub fn provider(&self, symbol: &str, depends: &[String]) -> Option<(&str, &ModExport)> {
        let all = self.by_symbol.get(symbol)?;
        depends
            .iter()
            .find_map(|d| all.iter().find(|(m, _)| m == d))
            .or_else(|| all.first())
            .map(|(m, e)| (m.as_str(), e))
    }

    pub fn len(&self) -> usize {
        self.by_symbol.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }
}

/// Where `name`, undefined in a module, comes from in `kernel`.
fn classify(kernel: &Kernel, name: &str, gplok: bool) -> Result<SymbolSource, LoadError> {
    let mm = |e: crate::mm::MmError| LoadError::NoMemory {
        module: name.to_owned(),
        detail: e.to_string(),
    };
    if let Some(export) = kernel.profile.export(name) {
        if export.gpl && !gplok {
            return Ok(SymbolSource::Refused {
                owner: "vmlinux".into(),
                reason: "GPL-only".into(),
            });
        }
        if let Some(sub) = symbols::trap_subsystem(name).map_err(mm)? {
            return Ok(SymbolSource::NamedTrap(sub));
        }
        return Ok(match kernel.resolve_kernel_symbol(name).map_err(mm)? {
            Some(_) => SymbolSource::Implemented,
            None => SymbolSource::Missing,
        });
    }
    Ok(kernel
        .module_list()
        .iter()
        .find(|m| m.exports.contains_key(name))
        .map_or(SymbolSource::Unknown, |m| {
            SymbolSource::Module(m.name.clone())
        }))
}

/// Run `load_module`'s stages on `image` against `kernel`, without forming
/// the module or running its init, and leave `kernel` as it was.
pub fn check_module(kernel: &Arc<Kernel>, image: ModuleImage) -> CheckReport {
    let mut report = CheckReport {
        file: image.file.clone(),
        ..CheckReport::default()
    };
    let opts = LoadOptions {
        missing: Missing::Trap,
        ..LoadOptions::default()
    };
    let checkpoint = kernel.checkpoint();
    let mut stage = Stage::ElfValidityCheck;
    let result = prepare_module(kernel, image, &opts, &mut stage).and_then(|p| {
        report.module = Some(p.info.name.clone());
        report.gplok = license_is_gpl_compatible(p.info.modinfo.get("license").unwrap_or(""));
        report.imports = p
            .info
            .modinfo
            .get_all("import_ns")
            .map(str::to_owned)
            .collect();
        report.depends = p
            .info
            .modinfo
            .get("depends")
            .unwrap_or("")
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| d.replace('-', "_"))
            .collect();
        let mut undefined = Vec::new();
        for sym in p.info.symbols.iter().skip(1) {
            if sym.shndx != SHN_UNDEF || sym.name.is_empty() || sym.name == "_GLOBAL_OFFSET_TABLE_"
            {
                continue;
            }
            let source = classify(kernel, &sym.name, report.gplok)?;
            if sym.bind == STB_WEAK && source.is_unresolved() {
                continue;
            }
            if !undefined.iter().any(|(n, _)| *n == sym.name) {
                undefined.push((sym.name.clone(), source));
            }
        }
        report.undefined = undefined;
        let mut exports: Vec<_> = p
            .exports
            .iter()
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        exports.sort_by(|a, b| a.0.cmp(&b.0));
        report.exports = exports;
        report.has_init = p.init_fn != 0;
        report.has_exit = p.exit_fn != 0;
        Ok(())
        // `p` drops here: module memory freed, name released.
    });
    if let Err(e) = result {
        report.failure = Some(CheckFailure {
            stage,
            error: e.to_string(),
            errno: e.errno(),
        });
        report.exports.clear();
    }
    match kernel.rollback(checkpoint) {
        Ok(records) => {
            report.log = records.into_iter().map(|r| r.text).collect();
        }
        Err(e) => {
            report.failure.get_or_insert(CheckFailure {
                stage: Stage::PercpuModalloc,
                error: format!("cannot give back per-CPU memory: {e}"),
                errno: libc::ENOMEM,
            });
        }
    }
    report
}

/// A report for a file that could not even be read or decompressed.
pub fn open_failure(file: &str, e: &LoadError) -> CheckReport {
    CheckReport {
        file: file.to_owned(),
        failure: Some(CheckFailure {
            stage: Stage::of_open_error(e),
            error: e.to_string(),
            errno: e.errno(),
        }),
        ..CheckReport::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(gpl: bool, namespace: &str) -> ModExport {
        ModExport {
            addr: 0x1000,
            gpl,
            crc: None,
            namespace: namespace.into(),
        }
    }

    fn report(gplok: bool, imports: &[&str], depends: &[&str], undefined: &[&str]) -> CheckReport {
        CheckReport {
            file: "m.ko".into(),
            module: Some("m".into()),
            gplok,
            imports: imports.iter().map(|s| s.to_string()).collect(),
            depends: depends.iter().map(|s| s.to_string()).collect(),
            undefined: undefined
                .iter()
                .map(|s| (s.to_string(), SymbolSource::Unknown))
                .collect(),
            ..CheckReport::default()
        }
    }

    #[test]
    fn corpus_exports_follow_resolve_symbols_rules() {
        let mut p = Provides::default();
        p.add(
            "a",
            &[
                ("f".into(), export(true, "")),
                ("g".into(), export(false, "NS")),
            ],
        );
        p.add("b", &[("f".into(), export(false, ""))]);
        // depends= chooses among exporters; else the first seen.
        assert_eq!(p.provider("f", &["b".into()]).unwrap().0, "b");
        assert_eq!(p.provider("f", &[]).unwrap().0, "a");
        let mut r = report(false, &[], &["a"], &["f", "g", "h"]);
        r.resolve_with(&p);
        assert_eq!(
            r.refused(),
            ["f[a: GPL-only]", "g[a: namespace NS not imported]"]
        );
        assert_eq!(r.unknown(), ["h"]);
        assert_eq!(r.outcome(), Outcome::Unresolved);
        assert_eq!(
            r.unknown_symbol_error(),
            "m: Unknown symbol f (err -2) (and 2 more)"
        );
        let mut r = report(true, &["NS"], &["a"], &["f", "g"]);
        r.resolve_with(&p);
        assert_eq!(r.outcome(), Outcome::Ok);
        assert_eq!(r.line(), "m.ko: OK; provided by module a (2): f g");
        assert!(r.to_json().contains("\"provided\":{\"a\":[\"f\",\"g\"]}"));
    }

    #[test]
    fn the_line_names_the_stage_and_groups_the_symbols() {
        let mut r = report(true, &[], &[], &[]);
        r.undefined = vec![
            ("x".into(), SymbolSource::Missing),
            ("p".into(), SymbolSource::NamedTrap("PCI")),
            ("ok".into(), SymbolSource::Implemented),
        ];
        assert_eq!(
            r.line(),
            "m.ko: FAIL simplify_symbols: m: Unknown symbol x (err -2); missing (1): x; named trap (1): p[PCI]"
        );
        r.failure = Some(CheckFailure {
            stage: Stage::ApplyRelocations,
            error: "m.ko: section [5] .rela.text, offset 0x0: Unknown rela relocation: 99".into(),
            errno: libc::ENOEXEC,
        });
        assert_eq!(r.outcome(), Outcome::Failed(Stage::ApplyRelocations));
        assert!(r
            .line()
            .starts_with("m.ko: FAIL apply_relocate_add: m.ko: section [5] .rela.text"));
        assert!(r
            .to_json()
            .contains("\"outcome\":\"failed\",\"stage\":\"apply_relocate_add\""));
    }
}
