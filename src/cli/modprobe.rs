//! `kload modprobe [-d DIR] [-S RELEASE] [-r] [-v] [-n] NAME [param=value...]`:
//! load a module of a module tree (`DIR/lib/modules/RELEASE/modules.dep`,
//! e.g. a Debian linux-image package unpacked with `dpkg-deb -x`) into the
//! session's kernel, dependencies first; `-r` removes it, then the
//! dependencies nothing uses any more. kmod modprobe's messages.

use std::path::Path;

use kload::daemon::client::Client;
use kload::daemon::protocol::{InsmodFlags, ModuleRow, Reply, Request};

use super::moddep::Deps;
use super::{getopt, module_name, opt, Opt};

const OPTS: &[Opt] = &[
    opt('d', "dirname", true),
    opt('S', "set-version", true),
    opt('r', "remove", false),
    opt('a', "all", false),
    opt('v', "verbose", false),
    opt('q', "quiet", false),
    opt('n', "dry-run", false),
    opt('f', "force", false),
    opt('\u{3}', "first-time", false),
];

pub fn main(args: &[String]) -> i32 {
    let p = match getopt("modprobe", args, OPTS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if p.operands.is_empty() {
        eprintln!("modprobe: ERROR: missing parameters. See -h.");
        return 1;
    }
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let root = Path::new(p.last('d').unwrap_or("/")).join("lib/modules");
    let release = match p
        .last('S')
        .map(str::to_owned)
        .map_or_else(|| release(&root, &mut client), Ok)
    {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("modprobe: FATAL: {msg}");
            return 1;
        }
    };
    let dir = root.join(&release);
    let deps = Deps::parse(
        &dir,
        &std::fs::read_to_string(dir.join("modules.dep")).unwrap_or_default(),
    );
    let (names, params) = if p.has('r') || p.has('a') {
        (&p.operands[..], String::new())
    } else {
        (&p.operands[..1], p.operands[1..].join(" "))
    };
    let run = Run {
        client: &mut client,
        deps: &deps,
        show: p.has('v') || p.has('n'),
        dry: p.has('n'),
        force: p.has('f'),
        first: p.has('\u{3}'),
    };
    match run.all(names, &params, p.has('r')) {
        Ok(()) => 0,
        Err(code) => code,
    }
}

/// The release to use: the only one with a modules.dep, else the one the
/// session's kernel runs (from a loaded module's vermagic), else uname's.
fn release(root: &Path, client: &mut Client) -> Result<String, String> {
    let mut found: Vec<String> = std::fs::read_dir(root)
        .map_err(|e| format!("cannot read {}: {}", root.display(), super::strerror(&e)))?
        .flatten()
        .filter(|e| e.path().join("modules.dep").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    if found.len() == 1 {
        return Ok(found.remove(0));
    }
    let mut wanted = Vec::new();
    if let Ok(Reply::Modules(rows)) = client.call(&Request::Lsmod) {
        if let Some(r) = rows.first() {
            if let Ok(Reply::Modinfo { entries, .. }) = client.call(&Request::Modinfo {
                name: r.name.clone(),
            }) {
                let vm = entries.iter().find(|(k, _)| k == "vermagic");
                wanted.extend(
                    vm.and_then(|(_, v)| v.split_whitespace().next())
                        .map(str::to_owned),
                );
            }
        }
    }
    wanted.extend(
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned()),
    );
    wanted
        .into_iter()
        .find(|w| found.contains(w))
        .ok_or_else(|| match found.len() {
            0 => format!("no modules.dep under {}/*/", root.display()),
            _ => format!(
                "several releases under {} ({}); choose one with -S",
                root.display(),
                found.join(", ")
            ),
        })
}

struct Run<'a> {
    client: &'a mut Client,
    deps: &'a Deps,
    show: bool,
    dry: bool,
    force: bool,
    first: bool,
}

impl Run<'_> {
    fn all(mut self, names: &[String], params: &str, remove: bool) -> Result<(), i32> {
        for arg in names {
            let name = arg.replace('-', "_");
            if !self.deps.modules.contains_key(&name) {
                match remove {
                    true => eprintln!("modprobe: FATAL: Module {arg} not found."),
                    false => eprintln!(
                        "modprobe: FATAL: Module {arg} not found in directory {}",
                        self.deps.dir.display()
                    ),
                }
                return Err(1);
            }
            match remove {
                true => self.remove(&name)?,
                false => self.insert(&name, params)?,
            }
        }
        Ok(())
    }

    fn rows(&mut self) -> Result<Vec<ModuleRow>, i32> {
        match super::call(self.client, &Request::Lsmod)? {
            Reply::Modules(rows) => Ok(rows),
            other => Err(super::unexpected(&other)),
        }
    }

    fn insert(&mut self, name: &str, params: &str) -> Result<(), i32> {
        let loaded: Vec<String> = self.rows()?.into_iter().map(|r| r.name).collect();
        if self.first && loaded.iter().any(|l| l == name) {
            eprintln!("modprobe: ERROR: could not insert '{name}': Module already in kernel");
            return Err(1);
        }
        for file in self.deps.load_order(name) {
            let this = module_name(&file.to_string_lossy());
            if loaded.contains(&this) {
                continue;
            }
            let opts = if this == name { params } else { "" };
            if self.show {
                println!("insmod {} {opts}", file.display());
            }
            if self.dry {
                continue;
            }
            let fail = |text: String, detail: String| {
                eprintln!("modprobe: ERROR: could not insert '{name}': {text}");
                super::print_detail(&detail, "");
                1
            };
            let image = std::fs::read(&file)
                .map_err(|e| fail(super::strerror(&e), format!("{}: {e}", file.display())))?;
            let flags = InsmodFlags {
                force_vermagic: self.force,
                force_modversion: self.force,
                allow_missing: false,
            };
            let req = Request::Insmod {
                file: file.display().to_string(),
                image,
                args: opts.to_owned(),
                flags,
            };
            match super::call(self.client, &req)? {
                Reply::Ok => {}
                Reply::Error { errno, detail } => {
                    let text = match errno {
                        libc::EEXIST => "Module already in kernel".to_owned(),
                        libc::ENOENT => {
                            "Unknown symbol in module, or unknown parameter (see dmesg)".to_owned()
                        }
                        e => super::errno_str(e),
                    };
                    return Err(fail(text, detail));
                }
                other => return Err(super::unexpected(&other)),
            }
        }
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), i32> {
        let rows = self.rows()?;
        let Some(row) = rows.iter().find(|r| r.name == name) else {
            if self.first {
                eprintln!("modprobe: FATAL: Module {name} is not in kernel.");
                return Err(1);
            }
            return Ok(());
        };
        if row.refcnt > 0 || !row.holders.is_empty() {
            eprintln!("modprobe: FATAL: Module {name} is in use.");
            return Err(1);
        }
        if !self.rmmod(name)? {
            return Err(1);
        }
        // Then the dependencies nothing uses any more, last loaded first;
        // failures there are not fatal.
        let mut order = self.deps.load_order(name);
        order.pop();
        for file in order.iter().rev() {
            let dep = module_name(&file.to_string_lossy());
            let rows = self.rows()?;
            if rows
                .iter()
                .any(|r| r.name == dep && r.refcnt == 0 && r.holders.is_empty())
            {
                self.rmmod(&dep)?;
            }
        }
        Ok(())
    }

    fn rmmod(&mut self, name: &str) -> Result<bool, i32> {
        if self.show {
            println!("rmmod {name}");
        }
        if self.dry {
            return Ok(true);
        }
        match super::call(
            self.client,
            &Request::Rmmod {
                name: name.to_owned(),
                force: self.force,
            },
        )? {
            Reply::Ok => Ok(true),
            Reply::Error { errno, detail } => {
                eprintln!("modprobe: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could not remove '{name}': {}", super::errno_str(errno));
                super::print_detail(&detail, "");
                Ok(false)
            }
            other => Err(super::unexpected(&other)),
        }
    }
}
