//! modules.dep, as depmod writes it and modprobe reads it: `path: dep...`
//! lines, paths relative to the release directory unless absolute, the
//! dependencies of a module listed last-loaded first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::module_name;

/// modules.dep: module name → (file, dependency files in load order).
pub struct Deps {
    pub dir: PathBuf,
    pub modules: HashMap<String, (PathBuf, Vec<PathBuf>)>,
}

impl Deps {
    /// Parse `dir/modules.dep`: `path: dep...` lines, paths relative to
    /// `dir` unless absolute; the dependencies are listed last-loaded
    /// first, as depmod writes them.
    pub fn parse(dir: &Path, text: &str) -> Deps {
        let abs = |p: &str| {
            if p.starts_with('/') {
                PathBuf::from(p)
            } else {
                dir.join(p)
            }
        };
        let mut modules = HashMap::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let Some((file, deps)) = line.split_once(':') else {
                continue;
            };
            let deps: Vec<PathBuf> = deps.split_whitespace().rev().map(abs).collect();
            modules
                .entry(module_name(file.trim()))
                .or_insert((abs(file.trim()), deps));
        }
        Deps {
            dir: dir.to_owned(),
            modules,
        }
    }

    /// Files to load for `name`, dependencies first, each once.
    pub fn load_order(&self, name: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        self.visit(name, &mut out, 0);
        out
    }

    fn visit(&self, name: &str, out: &mut Vec<PathBuf>, depth: usize) {
        let Some((file, deps)) = self.modules.get(name) else {
            return;
        };
        if out.contains(file) || depth > 64 {
            return;
        }
        for d in deps {
            let dn = module_name(&d.to_string_lossy());
            if self.modules.contains_key(&dn) {
                self.visit(&dn, out, depth + 1);
            } else if !out.contains(d) {
                out.push(d.clone());
            }
        }
        if !out.contains(file) {
            out.push(file.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_dep_gives_dependencies_first() {
        let text = "kernel/a.ko.xz: kernel/b.ko.xz kernel/c.ko.zst\nkernel/b.ko.xz: kernel/c.ko.zst\n\
                    kernel/c.ko.zst:\n# comment\n/abs/d-x.ko: kernel/a.ko.xz kernel/b.ko.xz kernel/c.ko.zst\n";
        let d = Deps::parse(Path::new("/t/lib/modules/6.1"), text);
        let names = |v: Vec<PathBuf>| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(d.load_order("a")),
            [
                "/t/lib/modules/6.1/kernel/c.ko.zst",
                "/t/lib/modules/6.1/kernel/b.ko.xz",
                "/t/lib/modules/6.1/kernel/a.ko.xz"
            ]
        );
        assert_eq!(names(d.load_order("d_x")).last().unwrap(), "/abs/d-x.ko");
        assert_eq!(d.load_order("d_x").len(), 4);
        assert!(d.load_order("nope").is_empty());
    }
}
