//! Module parameters (kernel/params.c `parse_args`, lib/cmdline.c `next_arg`).
//!
//! The argument string is split like the kernel's command line (double
//! quotes group, `name=value` or bare `name`), names match with `-` and `_`
//! as the same character, and each matching `__param` entry's
//! `ops->set(value, kp)` runs as module code on the loading task.

use std::sync::Arc;

use super::error::LoadError;
use crate::exec::task;
use crate::kernel::printk::LOGLEVEL_WARNING;
use crate::kernel::Kernel;
use crate::mm::{self, LowRegion, Prot};
use crate::profile::KernelProfile;

/// `KERNEL_PARAM_OPS_FL_NOARG`: the parameter may be given without a value.
const KERNEL_PARAM_OPS_FL_NOARG: u64 = 1;

/// `next_arg`: split `args` into (name, value) pairs.
pub fn split_args(args: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = args.trim_start();
    while !rest.is_empty() {
        let (mut in_quote, quoted) = (false, rest.starts_with('"'));
        let body = if quoted {
            in_quote = true;
            &rest[1..]
        } else {
            rest
        };
        let mut end = body.len();
        let mut equals = None;
        for (i, c) in body.char_indices() {
            if c.is_ascii_whitespace() && !in_quote {
                end = i;
                break;
            }
            if equals.is_none() && c == '=' {
                equals = Some(i);
            }
            if c == '"' {
                in_quote = !in_quote;
            }
        }
        let mut word = &body[..end];
        if quoted {
            word = word.strip_suffix('"').unwrap_or(word);
        }
        let (name, value) = match equals.filter(|&eq| eq < word.len()) {
            Some(eq) => {
                let mut v = &word[eq + 1..];
                if let Some(stripped) = v.strip_prefix('"') {
                    v = stripped.strip_suffix('"').unwrap_or(stripped);
                }
                (&word[..eq], Some(v.to_owned()))
            }
            None => (word, None),
        };
        out.push((name.to_owned(), value));
        rest = body[end..].trim_start();
    }
    out
}

/// `parameq`: names compare with '-' and '_' as one character.
pub fn parameq(a: &str, b: &str) -> bool {
    let norm = |c: char| if c == '-' { '_' } else { c };
    a.len() == b.len() && a.chars().map(norm).eq(b.chars().map(norm))
}

/// A `struct kernel_param` of the module.
struct KernelParam {
    addr: u64,
    name: String,
    ops: u64,
}

fn read_params(
    profile: &KernelProfile,
    table: u64,
    count: u64,
) -> Result<Vec<KernelParam>, crate::profile::MissingField> {
    let size = profile.field("sizeof(struct kernel_param)")?;
    let (name_off, ops_off) = (
        profile.field("kernel_param.name")?,
        profile.field("kernel_param.ops")?,
    );
    Ok((0..count)
        .filter_map(|i| {
            let addr = table + i * size;
            let name = mm::read_cstr(mm::read_u64(addr + name_off)?, 1024)?;
            Some(KernelParam {
                addr,
                name: String::from_utf8_lossy(&name).into_owned(),
                ops: mm::read_u64(addr + ops_off)?,
            })
        })
        .collect())
}

/// `parse_args` for a module whose `__param` table is at `table`; runs on
/// the loading task. Returns the memory holding the argument strings, which
/// lives as long as the module (charp parameters may point into it).
pub fn parse_args(
    kernel: &Arc<Kernel>,
    module: &str,
    args: &str,
    table: u64,
    count: u64,
) -> Result<Option<LowRegion>, LoadError> {
    let profile = kernel.profile;
    let perr = |source| LoadError::Profile {
        module: module.to_owned(),
        source,
    };
    let params = read_params(profile, table, count).map_err(perr)?;
    let set_off = profile.field("kernel_param_ops.set").map_err(perr)?;
    let flags_off = profile.field("kernel_param_ops.flags").map_err(perr)?;
    let pairs = split_args(args);
    if pairs.is_empty() {
        return Ok(None);
    }
    let nomem = |e: crate::mm::MmError| LoadError::NoMemory {
        module: module.to_owned(),
        detail: e.to_string(),
    };
    let strings = LowRegion::alloc(args.len() as u64 * 2 + 16, Prot::ReadWrite, "module-args")
        .map_err(nomem)?;
    let mut at = 0u64;
    for (name, value) in pairs {
        let Some(kp) = params.iter().find(|p| parameq(&p.name, &name)) else {
            kernel.log.emit(
                LOGLEVEL_WARNING,
                &format!("{module}: unknown parameter '{name}' ignored"),
            );
            continue;
        };
        let flags = mm::read_u64(kp.ops + flags_off).unwrap_or(0) as u32;
        if value.is_none() && u64::from(flags) & KERNEL_PARAM_OPS_FL_NOARG == 0 {
            return Err(bad_param(kernel, module, &name, "", libc::EINVAL));
        }
        let val_addr = match &value {
            Some(v) => {
                let addr = strings.addr() + at;
                strings.write(at, v.as_bytes()).map_err(nomem)?;
                at += v.len() as u64 + 1;
                addr
            }
            None => 0,
        };
        let set = mm::read_u64(kp.ops + set_off).unwrap_or(0);
        let ret = task::call_module(set, [val_addr, kp.addr, 0, 0, 0, 0]).map_err(|reason| {
            LoadError::InitKilled {
                module: module.to_owned(),
                reason,
            }
        })?;
        let ret = ret as u32 as i32;
        if ret < 0 {
            return Err(bad_param(
                kernel,
                module,
                &name,
                value.as_deref().unwrap_or(""),
                -ret,
            ));
        }
    }
    Ok(Some(strings))
}

fn bad_param(kernel: &Kernel, module: &str, param: &str, value: &str, errno: i32) -> LoadError {
    let msg = match errno {
        libc::ENOSPC => format!("{module}: `{value}' too large for parameter `{param}'"),
        _ => format!("{module}: `{value}' invalid for parameter `{param}'"),
    };
    kernel.log.emit(crate::kernel::printk::LOGLEVEL_ERR, &msg);
    LoadError::BadParam {
        module: module.to_owned(),
        param: param.to_owned(),
        value: value.to_owned(),
        errno,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_next_arg() {
        let v = split_args(r#"a=1  b="x y" "c=q r" flag d-e=-3"#);
        let got: Vec<(&str, Option<&str>)> =
            v.iter().map(|(n, v)| (n.as_str(), v.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("a", Some("1")),
                ("b", Some("x y")),
                ("c", Some("q r")),
                ("flag", None),
                ("d-e", Some("-3"))
            ]
        );
        assert!(parameq("d-e", "d_e") && !parameq("de", "d_e"));
    }
}
