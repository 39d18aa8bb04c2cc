//! `kload rmmod [-f] NAME...`: unload modules from the session's kernel,
//! with kmod rmmod's checks (loaded? held? referenced?) before the call,
//! unless `-f`, and its messages.

use kload::daemon::client::Client;
use kload::daemon::protocol::{ModuleRow, Reply, Request};

use super::{getopt, opt, Opt};

const OPTS: &[Opt] = &[
    opt('f', "force", false),
    opt('s', "syslog", false),
    opt('v', "verbose", false),
    opt('h', "help", false),
];

pub fn main(args: &[String]) -> i32 {
    let p = match getopt("rmmod", args, OPTS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if p.has('h') {
        println!("Usage:\n\trmmod [options] modulename ...");
        println!("Options:\n\t-f, --force       forces a module unload");
        return 0;
    }
    if p.operands.is_empty() {
        eprintln!("rmmod: ERROR: missing module name.");
        return 1;
    }
    let force = p.has('f');
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut failed = 0;
    for arg in &p.operands {
        match remove(&mut client, arg, force) {
            Ok(true) => {}
            Ok(false) => failed += 1,
            Err(code) => return code,
        }
    }
    i32::from(failed > 0)
}

/// Remove one module; false when it failed (and was reported).
fn remove(client: &mut Client, arg: &str, force: bool) -> Result<bool, i32> {
    // kmod takes a path when one exists (the name is then the file's),
    // else a name; either way '-' reads as '_'.
    let name = if std::path::Path::new(arg).exists() {
        super::module_name(arg)
    } else {
        arg.replace('-', "_")
    };
    if !force {
        let rows = match super::call(client, &Request::Lsmod)? {
            Reply::Modules(rows) => rows,
            other => return Err(super::unexpected(&other)),
        };
        if let Err(msg) = check_in_use(&rows, &name) {
            eprintln!("rmmod: ERROR: {msg}");
            return Ok(false);
        }
    }
    match super::call(
        client,
        &Request::Rmmod {
            name: name.clone(),
            force,
        },
    )? {
        Reply::Ok => Ok(true),
        Reply::Error { errno, detail } => {
            let err = super::errno_str(errno);
            // Debian's libkmod logs the failure first (it is built with its
            // debug locations), then rmmod says it again.
            eprintln!(
                "rmmod: ERROR: ../libkmod/libkmod-module.c:856 kmod_module_remove_module() could not remove '{name}': {err}"
            );
            let said = format!("rmmod: ERROR: could not remove module {arg}: {err}");
            eprintln!("{said}");
            super::print_detail(&detail, &said);
            Ok(false)
        }
        other => Err(super::unexpected(&other)),
    }
}

/// kmod's `check_module_inuse`.
pub fn check_in_use(rows: &[ModuleRow], name: &str) -> Result<(), String> {
    let Some(m) = rows.iter().find(|r| r.name == name) else {
        return Err(format!("Module {name} is not currently loaded"));
    };
    if !m.holders.is_empty() {
        return Err(format!(
            "Module {name} is in use by: {}",
            m.holders.join(" ")
        ));
    }
    if m.refcnt != 0 {
        return Err(format!("Module {name} is in use"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, refcnt: i32, holders: &[&str]) -> ModuleRow {
        ModuleRow {
            name: name.into(),
            size: 4096,
            refcnt,
            holders: holders.iter().map(|h| h.to_string()).collect(),
            state: "Live".into(),
            taints: String::new(),
        }
    }

    #[test]
    fn checks_follow_kmod_order() {
        let rows = [row("a", 2, &["b", "c"]), row("d", 1, &[]), row("e", 0, &[])];
        assert_eq!(
            check_in_use(&rows, "x").unwrap_err(),
            "Module x is not currently loaded"
        );
        assert_eq!(
            check_in_use(&rows, "a").unwrap_err(),
            "Module a is in use by: b c"
        );
        assert_eq!(check_in_use(&rows, "d").unwrap_err(), "Module d is in use");
        check_in_use(&rows, "e").unwrap();
    }
}
