//! `kload check [--json] [--provides DIR]... [--summary FILE] FILE|DIR...`:
//! run the loader's stages on each module (not its init), one verdict line
//! per module. Directories are searched for `.ko`, `.ko.xz`, `.ko.zst` and
//! `.ko.gz` files. A symbol another module exports (one of the checked
//! modules, or of a `--provides` directory) counts as satisfiable, as
//! modprobe would load that module first.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kload::kernel::Kernel;
use kload::module::check::{check_module, open_failure, CheckReport, Outcome, Provides};
use kload::module::{LoadError, ModuleImage, Stage};

use super::{getopt, opt};

const USAGE: &str = "usage: kload check [--json] [--provides DIR]... [--summary FILE] FILE|DIR...";

pub fn main(args: &[String]) -> i32 {
    let parsed = match getopt(
        "kload check",
        args,
        &[
            opt('j', "json", false),
            opt('p', "provides", true),
            opt('s', "summary", true),
        ],
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{USAGE}");
            return 2;
        }
    };
    if parsed.operands.is_empty() {
        eprintln!("{USAGE}");
        return 2;
    }
    let json = parsed.has('j');
    let mut files = Vec::new();
    for op in &parsed.operands {
        if let Err(e) = collect_modules(Path::new(op), &mut files) {
            eprintln!("kload check: {op}: {}", super::strerror(&e));
            return 2;
        }
    }
    let mut provides = Provides::default();
    let mut kernels: HashMap<&'static str, Arc<Kernel>> = HashMap::new();
    for (c, dir) in &parsed.opts {
        let (Some(dir), 'p') = (dir, *c) else {
            continue;
        };
        let mut extra = Vec::new();
        if let Err(e) = collect_modules(Path::new(dir), &mut extra) {
            eprintln!("kload check: {dir}: {}", super::strerror(&e));
            return 2;
        }
        for f in extra {
            let r = check_file(&f, &mut kernels);
            if let Some(name) = &r.module {
                provides.add(name, &r.exports);
            }
        }
    }
    let mut reports = Vec::new();
    for f in &files {
        let report = check_file(f, &mut kernels);
        if let Some(name) = &report.module {
            provides.add(name, &report.exports);
        }
        reports.push(report);
    }
    let mut status = 0;
    for r in &mut reports {
        r.resolve_with(&provides);
        if r.outcome() != Outcome::Ok {
            status = 1;
        }
        if json {
            println!("{}", r.to_json());
        } else {
            println!("{}", r.line());
        }
    }
    if let Some(path) = parsed.last('s') {
        if let Err(e) = std::fs::write(path, summary(&reports)) {
            eprintln!("kload check: {path}: {}", super::strerror(&e));
            return 2;
        }
    }
    status
}

/// Check one file with the kernel its vermagic selects (booted on first use).
fn check_file(file: &Path, kernels: &mut HashMap<&'static str, Arc<Kernel>>) -> CheckReport {
    let name = file.display().to_string();
    let image = match ModuleImage::open(file) {
        Ok(i) => i,
        Err(e) => return open_failure(&name, &e),
    };
    let profile = match kload::profile_for_image(&image) {
        Ok((p, _)) => p,
        Err(e) => {
            let mut r = open_failure(&name, &e);
            if let Some(f) = &mut r.failure {
                f.stage = match e {
                    LoadError::Elf { .. } => Stage::ElfValidityCheck,
                    _ => Stage::CheckModinfo,
                };
            }
            return r;
        }
    };
    let kernel = match kernels.get(profile.release) {
        Some(k) => Arc::clone(k),
        None => match Kernel::boot(profile) {
            Ok(k) => {
                kernels.insert(profile.release, Arc::clone(&k));
                k
            }
            Err(e) => {
                let mut r = open_failure(
                    &name,
                    &LoadError::NoMemory {
                        module: name.clone(),
                        detail: format!("cannot start the emulated kernel: {e}"),
                    },
                );
                r.failure
                    .iter_mut()
                    .for_each(|f| f.stage = Stage::CheckModinfo);
                return r;
            }
        },
    };
    check_module(&kernel, image)
}

fn is_module_file(p: &Path) -> bool {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .any(|s| n.ends_with(s))
}

/// `path` itself, or every module file under it, sorted.
fn collect_modules(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut found = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(p);
            } else if is_module_file(&p) {
                found.push(p);
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

/// Markdown: counts per outcome and per failing stage, the most blocking
/// missing symbols, the subsystems of the named traps modules reach.
fn summary(reports: &[CheckReport]) -> String {
    let total = reports.len();
    let count = |o: &dyn Fn(&CheckReport) -> bool| reports.iter().filter(|r| o(r)).count();
    let ok = count(&|r| r.outcome() == Outcome::Ok);
    let ok_pure = count(&|r| r.outcome() == Outcome::Ok && r.traps().is_empty());
    let unresolved = count(&|r| r.outcome() == Outcome::Unresolved);
    let failed = count(&|r| matches!(r.outcome(), Outcome::Failed(_)));
    // OK with everything modprobe would load with it: drop, until nothing
    // changes, every OK module whose providers are not all in the set.
    let mut loadable: std::collections::HashSet<&str> = reports
        .iter()
        .filter(|r| r.outcome() == Outcome::Ok)
        .filter_map(|r| r.module.as_deref())
        .collect();
    loop {
        let drop: Vec<&str> = reports
            .iter()
            .filter_map(|r| Some((r.module.as_deref()?, r)))
            .filter(|(m, r)| {
                loadable.contains(m) && r.provided().keys().any(|o| !loadable.contains(o))
            })
            .map(|(m, _)| m)
            .collect();
        if drop.is_empty() {
            break;
        }
        for m in drop {
            loadable.remove(m);
        }
    }
    let mut s = String::new();
    s.push_str(&format!(
        "| outcome | modules |\n|---|---:|\n| checked | {total} |\n"
    ));
    s.push_str(&format!(
        "| OK: every loader stage passes, every symbol resolves | {ok} |\n\
         | … of which reach no named trap | {ok_pure} |\n\
         | … of which reach a named trap (loads; calling it kills the task) | {} |\n\
         | … of which every module it needs (transitively) is OK too | {} |\n\
         | every loader stage passes, symbols missing or refused (simplify_symbols) | {unresolved} |\n\
         | a loader stage fails | {failed} |\n",
        ok - ok_pure,
        loadable.len()
    ));
    let mut stages: BTreeMap<Stage, (usize, Vec<&str>)> = BTreeMap::new();
    for r in reports {
        if let Some(f) = &r.failure {
            let e = stages.entry(f.stage).or_default();
            e.0 += 1;
            if e.1.len() < 5 {
                e.1.push(&r.file);
            }
        }
    }
    if !stages.is_empty() {
        s.push_str("\n| failing stage | modules | e.g. |\n|---|---:|---|\n");
        for (stage, (n, eg)) in &stages {
            let eg: Vec<String> = eg
                .iter()
                .map(|f| f.rsplit('/').next().unwrap_or(f).to_owned())
                .collect();
            s.push_str(&format!("| {} | {n} | {} |\n", stage.name(), eg.join(", ")));
        }
    }
    let mut missing: HashMap<&str, usize> = HashMap::new();
    let mut only: HashMap<&str, usize> = HashMap::new();
    let mut unknown = 0;
    for r in reports {
        let m = r.missing();
        if m.len() == 1 && r.failure.is_none() && r.unknown().is_empty() {
            *only.entry(m[0]).or_default() += 1;
        }
        for name in m {
            *missing.entry(name).or_default() += 1;
        }
        if !r.unknown().is_empty() {
            unknown += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = missing.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    s.push_str(&format!(
        "\n{} distinct vmlinux exports are missing (neither implemented nor a named trap); \
         {unknown} modules use a symbol nothing exports.\n",
        top.len()
    ));
    s.push_str(
        "\n| missing vmlinux symbol | modules blocked | … blocked by it alone |\n|---|---:|---:|\n",
    );
    for (name, n) in top.iter().take(40) {
        s.push_str(&format!(
            "| `{name}` | {n} | {} |\n",
            only.get(name).copied().unwrap_or(0)
        ));
    }
    let mut subsys: HashMap<&str, usize> = HashMap::new();
    for r in reports {
        let mut seen: Vec<&str> = r.traps().iter().map(|(_, s)| *s).collect();
        seen.sort_unstable();
        seen.dedup();
        for sub in seen {
            *subsys.entry(sub).or_default() += 1;
        }
    }
    let mut subsys: Vec<_> = subsys.into_iter().collect();
    subsys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if !subsys.is_empty() {
        s.push_str("\n| named-trap subsystem | modules reaching it |\n|---|---:|\n");
        for (sub, n) in subsys.iter().take(20) {
            s.push_str(&format!("| {sub} | {n} |\n"));
        }
    }
    s
}
