//! `kload lsmod`: the session kernel's modules, as kmod's lsmod prints
//! them (`%-19s %8lu  %d` and the holders, comma-separated).

use std::io::Write;

use kload::daemon::protocol::{ModuleRow, Reply, Request};

pub fn main(args: &[String]) -> i32 {
    if !args.is_empty() {
        // kmod's lsmod takes no arguments at all.
        eprintln!("Usage: lsmod");
        return 1;
    }
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match super::call(&mut client, &Request::Lsmod) {
        Ok(Reply::Modules(rows)) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(format(&rows).as_bytes());
            0
        }
        Ok(Reply::Error { errno, detail }) => {
            eprintln!(
                "Error: could not get list of modules: {}",
                super::errno_str(errno)
            );
            super::print_detail(&detail, "");
            1
        }
        Ok(other) => super::unexpected(&other),
        Err(code) => code,
    }
}

/// lsmod's text for `rows` (in the kernel's order, newest first).
pub fn format(rows: &[ModuleRow]) -> String {
    let mut s = String::from("Module                  Size  Used by\n");
    for r in rows {
        s.push_str(&format!("{:<19} {:>8}  {}", r.name, r.size, r.refcnt));
        if !r.holders.is_empty() {
            s.push(' ');
            s.push_str(&r.holders.join(","));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, size: u64, refcnt: i32, holders: &[&str]) -> ModuleRow {
        ModuleRow {
            name: name.into(),
            size,
            refcnt,
            holders: holders.iter().map(|h| h.to_string()).collect(),
            state: "Live".into(),
            taints: "OE".into(),
        }
    }

    #[test]
    fn formats_like_kmod() {
        let rows = [
            row("user", 12288, 0, &[]),
            row("exporter", 16384, 2, &["user", "other"]),
            row("a_module_name_longer_than_19", 123456789, 0, &[]),
        ];
        assert_eq!(
            format(&rows),
            "Module                  Size  Used by\n\
             user                   12288  0\n\
             exporter               16384  2 user,other\n\
             a_module_name_longer_than_19 123456789  0\n"
        );
    }
}
