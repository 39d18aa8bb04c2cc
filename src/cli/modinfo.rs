//! `kload modinfo [-F FIELD] [-0] FILE|NAME...`: a module's `.modinfo`, as
//! kmod's modinfo prints it. A FILE (an existing `.ko[.xz|.zst|.gz]`) is
//! read here; a NAME is a module loaded in the session's kernel.

use std::io::Write;
use std::path::Path;

use kload::daemon::protocol::{Reply, Request};
use kload::module::decompress::{decompress, Compression};
use kload::module::elf_validity::elf_validity_check;
use kload::module::modinfo::Modinfo;
use kload::module::ModuleImage;

use super::{getopt, opt, Opt};

const OPTS: &[Opt] = &[
    opt('a', "author", false),
    opt('d', "description", false),
    opt('l', "license", false),
    opt('p', "parameters", false),
    opt('n', "filename", false),
    opt('0', "null", false),
    opt('F', "field", true),
    opt('m', "modname", false),
    opt('k', "set-version", true),
    opt('b', "basedir", true),
];

pub fn main(args: &[String]) -> i32 {
    let p = match getopt("modinfo", args, OPTS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    // The last of -a -d -l -p -n -F wins, as in kmod.
    let mut field = None;
    for (c, v) in &p.opts {
        field = match c {
            'a' => Some("author".to_owned()),
            'd' => Some("description".to_owned()),
            'l' => Some("license".to_owned()),
            'p' => Some("parm".to_owned()),
            'n' => Some("filename".to_owned()),
            'F' => v.clone(),
            _ => field,
        };
    }
    let sep = if p.has('0') { '\0' } else { '\n' };
    if p.operands.is_empty() {
        eprintln!("modinfo: ERROR: missing module or filename.");
        return 1;
    }
    let mut client = None;
    let mut failed = false;
    for arg in &p.operands {
        let info = if !p.has('m') && is_module_file(arg) {
            from_file(arg)
        } else {
            from_daemon(&mut client, arg)
        };
        match info {
            Ok((filename, entries)) => {
                let text = format(&filename, &entries, field.as_deref(), sep);
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Err(code) if code < 0 => return -code,
            Err(_) => failed = true,
        }
    }
    i32::from(failed)
}

type Info = (String, Vec<(String, String)>);

/// kmod's `is_module_filename`: an existing regular file with a module
/// extension.
fn is_module_file(arg: &str) -> bool {
    let ext = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"];
    Path::new(arg).is_file() && ext.iter().any(|e| arg.ends_with(e))
}

/// Read a module file: its absolute name, `.modinfo` tags and signature.
fn from_file(arg: &str) -> Result<Info, i32> {
    let filename = if arg.starts_with('/') {
        arg.to_owned()
    } else {
        let cwd = std::env::current_dir().map(|d| d.display().to_string());
        format!("{}/{arg}", cwd.unwrap_or_default())
    };
    let fail = |errno: i32, detail: String| {
        eprintln!(
            "modinfo: ERROR: could not get modinfo from '{}': {}",
            super::module_name(arg),
            super::errno_str(errno)
        );
        eprintln!("kload: {detail}");
        1
    };
    let image = ModuleImage::open(Path::new(arg)).map_err(|e| fail(e.errno(), e.to_string()))?;
    let sections =
        elf_validity_check(&image.file, &image).map_err(|e| fail(e.errno(), e.to_string()))?;
    let mut entries = sections
        .iter()
        .find(|s| s.name == ".modinfo")
        .and_then(|s| {
            let start = usize::try_from(s.offset).ok()?;
            image.get(start..start.checked_add(usize::try_from(s.size).ok()?)?)
        })
        .map(|b| Modinfo::parse(b).entries().to_vec())
        .unwrap_or_default();
    if image.signature.is_some() {
        let raw = std::fs::read(arg).map_err(|e| fail(libc::EIO, e.to_string()))?;
        let plain = match Compression::detect(&raw) {
            Some(c) => decompress(arg, c, &raw).map_err(|e| fail(e.errno(), e.to_string()))?,
            None => raw,
        };
        entries.extend(super::modsig::entries(&plain));
    }
    Ok((filename, entries))
}

/// Ask the session's kernel about a loaded module. `Err(-code)` stops
/// everything (no daemon); `Err(1)` is this name failing.
fn from_daemon(client: &mut Option<kload::daemon::client::Client>, arg: &str) -> Result<Info, i32> {
    if client.is_none() {
        *client = Some(super::connect().map_err(|c| -c)?);
    }
    let Some(c) = client.as_mut() else {
        return Err(-1);
    };
    let name = arg.replace('-', "_");
    match super::call(c, &Request::Modinfo { name }).map_err(|c| -c)? {
        Reply::Modinfo { filename, entries } => Ok((filename, entries)),
        Reply::Error { .. } => {
            eprintln!("modinfo: ERROR: Module {arg} not found.");
            Err(1)
        }
        other => Err(-super::unexpected(&other)),
    }
}

/// kmod's `modinfo_do` output.
pub fn format(
    filename: &str,
    entries: &[(String, String)],
    field: Option<&str>,
    sep: char,
) -> String {
    let mut s = String::new();
    match field {
        Some("filename") => return format!("{filename}{sep}"),
        Some("parm") => {
            for (name, desc, ty) in params(entries) {
                s.push_str(&param_line(name, desc, ty, true));
                s.push(sep);
            }
            return s;
        }
        Some(f) => {
            for (_, v) in entries.iter().filter(|(k, _)| k == f) {
                s.push_str(v);
                s.push(sep);
            }
            return s;
        }
        None => s.push_str(&format!("{:<16}{filename}{sep}", "filename:")),
    }
    for (k, v) in entries {
        if k == "parm" || k == "parmtype" {
            continue;
        }
        if sep == '\0' {
            s.push_str(&format!("{k}={v}{sep}"));
        } else {
            let pad = 15usize.saturating_sub(k.len());
            s.push_str(&format!("{k}:{:pad$}{v}{sep}", ""));
        }
    }
    for (name, desc, ty) in params(entries) {
        s.push_str(&format!(
            "{:<16}{}{sep}",
            "parm:",
            param_line(name, desc, ty, false)
        ));
    }
    s
}

/// `name:desc (type)` or `name:desc`; a parameter with a type but no
/// description is `name:type`, or `name: (type)` under `-F parm`.
fn param_line(name: &str, desc: Option<&str>, ty: Option<&str>, only_parm: bool) -> String {
    match (desc, ty) {
        (None, ty) if only_parm => format!("{name}: ({})", ty.unwrap_or("")),
        (None, ty) => format!("{name}:{}", ty.unwrap_or("")),
        (Some(d), Some(t)) => format!("{name}:{d} ({t})"),
        (Some(d), None) => format!("{name}:{d}"),
    }
}

/// kmod's parameter list: `parm` and `parmtype` merged by name, a new name
/// pushed at the front, so the list comes out in reverse order of first
/// appearance. Values without ':' are skipped.
fn params(entries: &[(String, String)]) -> Vec<(&str, Option<&str>, Option<&str>)> {
    let mut list: Vec<(&str, Option<&str>, Option<&str>)> = Vec::new();
    for (k, v) in entries {
        if k != "parm" && k != "parmtype" {
            continue;
        }
        let Some((name, rest)) = v.split_once(':') else {
            eprintln!("modinfo: ERROR: Found invalid \"{k}={v}\": missing ':'");
            continue;
        };
        let i = match list.iter().position(|(n, _, _)| *n == name) {
            Some(i) => i,
            None => {
                list.insert(0, (name, None, None));
                0
            }
        };
        if k == "parm" {
            list[i].1 = Some(rest);
        } else {
            list[i].2 = Some(rest);
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tags_in_column_17_then_params_merged() {
        let entries = e(&[
            ("license", "GPL"),
            ("parmtype", "a:int"),
            ("parm", "a:an int"),
            ("parm", "b:no type"),
            ("parmtype", "c:charp"),
            ("depends", ""),
            ("a_very_long_tag_name", "x"),
        ]);
        assert_eq!(
            format("/m.ko", &entries, None, '\n'),
            "filename:       /m.ko\nlicense:        GPL\ndepends:        \na_very_long_tag_name:x\n\
             parm:           c:charp\nparm:           b:no type\nparm:           a:an int (int)\n"
        );
        assert_eq!(
            format("/m.ko", &entries, Some("parm"), '\n'),
            "c: (charp)\nb:no type\na:an int (int)\n"
        );
        assert_eq!(format("/m.ko", &entries, Some("license"), '\0'), "GPL\0");
        assert_eq!(format("/m.ko", &entries, Some("filename"), '\n'), "/m.ko\n");
        assert_eq!(
            format("/m.ko", &entries[..1], None, '\0'),
            "filename:       /m.ko\0license=GPL\0"
        );
    }
}
