//! Module parameters at load time: `parse_args` of kernel/params.c with
//! `next_arg` of lib/cmdline.c, and the module loader's
//! `unknown_module_param_cb` (kernel/module/main.c), as in 6.1 and 6.12.
//!
//! The argument string is tokenised in place like the kernel's command line:
//! whitespace (the kernel's `isspace`, which includes 0xa0) separates
//! tokens, double quotes group (a token starting with `"` loses it, a value
//! starting with `"` loses it and the closing one), the first `=` after the
//! first character splits name and value, and names match with `-` and `_`
//! as the same character. A bare `--` stops parsing; what follows is
//! reported as ignored. Every token is processed even after a failure; each
//! failure is logged with the kernel's words and the last one fails the load.
//!
//! Each known parameter's `ops->set(value, kp)` runs on the loading task,
//! through `call_module`, whether the ops are the stub kernel's
//! (src/kernel/params.rs) or the module's own. The tokenised string stays in
//! low memory for the life of the module (`mod->args`): setters may keep
//! pointers into it.

use super::error::LoadError;
use super::state::Module;
use crate::kernel::kstrtox::kstrtobool;
use crate::kernel::params::{self, KernelParam, ParamLayout, ParamOps, KERNEL_PARAM_OPS_FL_NOARG};
use crate::kernel::printk::{LOGLEVEL_ERR, LOGLEVEL_WARNING};
use crate::kernel::Kernel;
use crate::mm::{self, LowRegion, Prot};

/// The kernel's `isspace` (lib/ctype.c): the ASCII blanks and 0xa0.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

fn skip_spaces(buf: &[u8], mut at: usize) -> usize {
    while at < buf.len() && is_space(buf[at]) {
        at += 1;
    }
    at
}

/// The NUL-terminated string at `at` in `buf`.
fn cstr(buf: &[u8], at: usize) -> &[u8] {
    let rest = &buf[at.min(buf.len())..];
    &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())]
}

/// One token: offsets of its name and value in the tokenised buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    param: usize,
    val: Option<usize>,
}

/// `next_arg`: cut the token starting at `at` (not a space, not the end)
/// in place; returns it and where the next one starts. `buf` ends with NUL.
fn next_arg(buf: &mut [u8], at: usize) -> (Token, usize) {
    let mut args = at;
    let mut in_quote = false;
    let mut quoted = false;
    if buf[args] == b'"' {
        args += 1;
        in_quote = true;
        quoted = true;
    }
    let (mut i, mut equals) = (0usize, 0usize);
    while buf[args + i] != 0 {
        let c = buf[args + i];
        if is_space(c) && !in_quote {
            break;
        }
        // An '=' at index 0 leaves `equals` at 0, i.e. not found yet.
        if equals == 0 && c == b'=' {
            equals = i;
        }
        if c == b'"' {
            in_quote = !in_quote;
        }
        i += 1;
    }
    let val = if equals == 0 {
        None
    } else {
        buf[args + equals] = 0;
        let mut v = args + equals + 1;
        if buf[v] == b'"' {
            v += 1;
            if buf[args + i - 1] == b'"' {
                buf[args + i - 1] = 0;
            }
        }
        Some(v)
    };
    if quoted && i > 0 && buf[args + i - 1] == b'"' {
        buf[args + i - 1] = 0;
    }
    let next = if buf[args + i] != 0 {
        buf[args + i] = 0;
        args + i + 1
    } else {
        args + i
    };
    (Token { param: args, val }, skip_spaces(buf, next))
}

/// How an argument string splits: its tokens, and the text after a bare
/// `--` if there is one.
struct Split {
    buf: Vec<u8>,
    tokens: Vec<Token>,
    after_dashes: Option<usize>,
}

fn tokenize(args: &[u8]) -> Split {
    let mut buf = args.to_vec();
    buf.push(0);
    let mut tokens = Vec::new();
    let mut after_dashes = None;
    let mut at = skip_spaces(&buf, 0);
    while buf[at] != 0 {
        let (t, next) = next_arg(&mut buf, at);
        at = next;
        if t.val.is_none() && cstr(&buf, t.param) == b"--" {
            after_dashes = Some(at);
            break;
        }
        tokens.push(t);
    }
    Split {
        buf,
        tokens,
        after_dashes,
    }
}

/// The (name, value) pairs `parse_args` would see in `args`, up to a bare
/// `--` (for tests and tools).
pub fn split_args(args: &str) -> Vec<(String, Option<String>)> {
    let s = tokenize(args.as_bytes());
    let text = |at: usize| String::from_utf8_lossy(cstr(&s.buf, at)).into_owned();
    s.tokens
        .iter()
        .map(|t| (text(t.param), t.val.map(text)))
        .collect()
}

/// `parameq`: names compare with '-' and '_' as one character.
pub fn parameq(a: &str, b: &str) -> bool {
    parameq_bytes(a.as_bytes(), b.as_bytes())
}

fn parameq_bytes(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: &u8| if *c == b'-' { b'_' } else { *c };
    a.len() == b.len() && a.iter().map(norm).eq(b.iter().map(norm))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The module's `__param` entries (`mod->kp`, `mod->num_kp`).
fn read_params(l: &ParamLayout, table: u64, count: u64) -> Vec<KernelParam> {
    (0..count)
        .filter_map(|i| KernelParam::read(l, table + i * l.kp_size))
        .collect()
}

/// Set `mod->kp`, `mod->num_kp` and `mod->args` in the live `struct module`,
/// as `find_module_sections` and `load_module` do; /sys/module/<m>/parameters
/// finds the parameters there.
fn record_in_struct_module(kernel: &Kernel, module: &Module, table: u64, count: u64, args: u64) {
    let p = kernel.profile;
    let fields = [
        ("module.kp", table.to_le_bytes().to_vec()),
        ("module.num_kp", (count as u32).to_le_bytes().to_vec()),
        ("module.args", args.to_le_bytes().to_vec()),
    ];
    for (key, bytes) in fields {
        let Some(off) = p.get(key) else { continue };
        if mm::write_bytes(module.this_module + off, &bytes).is_err() {
            log::warn!("{}: cannot set {key} in struct module", module.name);
        }
    }
}

/// The module's parameter table as recorded in its `struct module`.
pub fn module_params(kernel: &Kernel, module: &Module) -> Vec<KernelParam> {
    let p = kernel.profile;
    let (Some(kp_off), Some(num_off), Ok(l)) = (
        p.get("module.kp"),
        p.get("module.num_kp"),
        ParamLayout::of(p),
    ) else {
        return Vec::new();
    };
    let table = mm::read_u64(module.this_module + kp_off).unwrap_or(0);
    let count = mm::read_u32(module.this_module + num_off).unwrap_or(0);
    if table == 0 {
        return Vec::new();
    }
    read_params(&l, table, u64::from(count))
}

/// What one token did.
enum Outcome {
    /// 0, or a negative errno from the setter or the NULL-value check.
    Ret(i32),
    /// The task died inside the module's setter.
    Killed(String),
}

/// `parse_one` for a parameter the module has.
fn set_param(kernel: &Kernel, l: &ParamLayout, kp: &KernelParam, val: Option<u64>) -> Outcome {
    let name = kp.name_str();
    let Some(ops) = ParamOps::read(l, kp.ops) else {
        kernel.log.emit(
            LOGLEVEL_ERR,
            &format!("kload: parameter {name}: its kernel_param_ops at {:#x} cannot be read (the real kernel would oops here)", kp.ops),
        );
        return Outcome::Ret(-libc::EFAULT);
    };
    // "No one handled NULL, so do it here."
    if val.is_none() && ops.flags & KERNEL_PARAM_OPS_FL_NOARG == 0 {
        return Outcome::Ret(-libc::EINVAL);
    }
    params::param_check_unsafe(kernel, kp);
    if !params::callable(ops.set) {
        kernel.log.emit(
            LOGLEVEL_ERR,
            &format!("kload: parameter {name}: ops->set {:#x} is not code (the real kernel would oops here)", ops.set),
        );
        return Outcome::Ret(-libc::EFAULT);
    }
    match params::call(ops.set, val.unwrap_or(0), kp.addr) {
        Ok(r) => Outcome::Ret(r),
        Err(reason) => Outcome::Killed(reason),
    }
}

/// `unknown_module_param_cb`: `async_probe` is the loader's own, `dyndbg`
/// belongs to dynamic debug; anything else is warned about and ignored.
fn unknown_param(kernel: &Kernel, module: &str, param: &[u8], val: Option<&[u8]>) {
    if param == b"async_probe" {
        // kload probes nothing asynchronously; the value is parsed as the
        // kernel parses it (a bad one means "true") and has no effect.
        let _requested = kstrtobool(val).unwrap_or(true);
        return;
    }
    // ddebug_dyndbg_module_param_cb: "<mod>.dyndbg" or "dyndbg". It cuts the
    // name at the first '.', so the warning below names the part before it.
    let (param, after_dot, named) = match param.iter().position(|&c| c == b'.') {
        Some(dot) => (&param[..dot], &param[dot + 1..], true),
        None => (param, param, false),
    };
    if after_dot == b"dyndbg" {
        // The query runs against the module's own call sites (or, with
        // "<mod>.dyndbg", the named module's); errors are printed but never
        // fail the load.
        let modname = String::from_utf8_lossy(if named { param } else { module.as_bytes() });
        crate::kernel::dynamic_debug::module_param(kernel, &modname, val);
        return;
    }
    kernel.log.emit(
        LOGLEVEL_WARNING,
        &format!("{module}: unknown parameter '{}' ignored", lossy(param)),
    );
}

/// `destroy_params`: each parameter's `ops->free(kp->arg)` (charp copies,
/// array elements, a module's own ops). The kernel calls it when the load
/// fails after `parse_args` and in `free_module`; it must run on a kernel
/// task, since the ops may be module code.
pub fn destroy_params(kernel: &Kernel, params: &[KernelParam]) {
    let Ok(l) = ParamLayout::of(kernel.profile) else {
        return;
    };
    for kp in params {
        let Some(ops) = ParamOps::read(&l, kp.ops) else {
            continue;
        };
        if ops.free != 0 && params::callable(ops.free) && params::call(ops.free, kp.arg, 0).is_err()
        {
            return;
        }
    }
}

/// `destroy_params(mod->kp, mod->num_kp)` for a module being freed, on a
/// kernel task.
pub fn destroy_module_params(kernel: &Kernel, module: &Module) {
    destroy_params(kernel, &module_params(kernel, module));
}

/// `parse_args(mod->name, mod->args, mod->kp, mod->num_kp, ...,
/// unknown_module_param_cb)` and the `--` warning of `load_module`, on the
/// loading task. Returns the memory holding the tokenised argument string,
/// which must live as long as the module.
pub fn parse_args(
    kernel: &Kernel,
    module: &Module,
    args: &str,
    table: u64,
    count: u64,
) -> Result<Option<LowRegion>, LoadError> {
    let name = module.name.as_str();
    let l = ParamLayout::of(kernel.profile).map_err(|source| LoadError::Profile {
        module: name.to_owned(),
        source,
    })?;
    let params = read_params(&l, table, count);
    let split = tokenize(args.as_bytes());
    let strings = LowRegion::alloc(split.buf.len() as u64, Prot::ReadWrite, "module-args")
        .and_then(|r| r.write(0, &split.buf).map(|()| r))
        .map_err(|e| LoadError::NoMemory {
            module: name.to_owned(),
            detail: e.to_string(),
        })?;
    record_in_struct_module(kernel, module, table, count, strings.addr());
    let base = strings.addr();
    let mut err: Option<(String, String, i32)> = None;
    for t in &split.tokens {
        let param = cstr(&split.buf, t.param);
        let val = t.val.map(|v| cstr(&split.buf, v));
        let ret = match params.iter().find(|kp| parameq_bytes(param, &kp.name)) {
            Some(kp) => match set_param(kernel, &l, kp, t.val.map(|v| base + v as u64)) {
                Outcome::Ret(r) => r,
                Outcome::Killed(reason) => {
                    return Err(LoadError::InitKilled {
                        module: name.to_owned(),
                        reason,
                    })
                }
            },
            None => {
                unknown_param(kernel, name, param, val);
                0
            }
        };
        if ret == 0 {
            continue;
        }
        // The message shows the value as the setter left it: param_array
        // cuts it at the first comma, so "1,2,3,4,5" prints as "1".
        let val = t.val.map_or_else(Vec::new, |v| {
            let at = base + v as u64;
            mm::read_cstr(at, split.buf.len()).unwrap_or_else(|| cstr(&split.buf, v).to_vec())
        });
        let (p, v) = (lossy(param), lossy(&val));
        let msg = match -ret {
            libc::ENOENT => format!("{name}: Unknown parameter `{p}'"),
            libc::ENOSPC => format!("{name}: `{v}' too large for parameter `{p}'"),
            _ => format!("{name}: `{v}' invalid for parameter `{p}'"),
        };
        kernel.log.emit(LOGLEVEL_ERR, &msg);
        err = Some((p, v, ret));
    }
    if let Some((param, value, ret)) = err {
        // load_module's coming_cleanup.
        destroy_params(kernel, &params);
        return Err(LoadError::BadParam {
            module: name.to_owned(),
            param,
            value,
            errno: ret.checked_neg().unwrap_or(libc::EINVAL),
        });
    }
    if let Some(at) = split.after_dashes {
        kernel.log.emit(
            LOGLEVEL_WARNING,
            &format!(
                "{name}: parameters '{}' after `--' ignored",
                lossy(cstr(&split.buf, at))
            ),
        );
    }
    Ok(Some(strings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(args: &str) -> Vec<(String, Option<String>)> {
        split_args(args)
    }

    fn p(n: &str, v: Option<&str>) -> (String, Option<String>) {
        (n.to_owned(), v.map(str::to_owned))
    }

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

    #[test]
    fn quotes_follow_the_kernel_rules() {
        // A value's quotes go; inner quotes stay; no escapes.
        assert_eq!(pairs(r#"s="a b""#), [p("s", Some("a b"))]);
        assert_eq!(pairs(r#"s=a" "b"#), [p("s", Some(r#"a" "b"#))]);
        assert_eq!(pairs(r#"s="a"b"#), [p("s", Some(r#"a"b"#))]);
        assert_eq!(pairs(r#"s="""#), [p("s", Some(""))]);
        assert_eq!(pairs(r#"s=""#), [p("s", Some(""))]);
        // An unclosed quote runs to the end of the string.
        assert_eq!(pairs(r#"s="a b c=1"#), [p("s", Some("a b c=1"))]);
        // A quoted token without '=' loses both quotes (6.1+ next_arg).
        assert_eq!(pairs(r#""x y" z"#), [p("x y", None), p("z", None)]);
        assert_eq!(pairs(r#"""#), [p("", None)]);
    }

    #[test]
    fn equals_and_spaces() {
        // The first '=' splits, except at index 0.
        assert_eq!(pairs("a=b=c"), [p("a", Some("b=c"))]);
        assert_eq!(pairs("=a=b"), [p("=a", Some("b"))]);
        assert_eq!(pairs("=x"), [p("=x", None)]);
        assert_eq!(pairs("a="), [p("a", Some(""))]);
        assert_eq!(
            pairs(" \t a=1\nb=2\r\x0b\x0cc "),
            [p("a", Some("1")), p("b", Some("2")), p("c", None)]
        );
        assert_eq!(pairs(""), []);
        assert_eq!(pairs("   "), []);
        // 0xa0 is a space for the kernel: "é" (c3 a9) is not split, "à" (c3 a0) is.
        let s = tokenize("x=à".as_bytes());
        assert_eq!(cstr(&s.buf, s.tokens[0].val.unwrap()), b"\xc3");
    }

    #[test]
    fn dashes_stop_parsing() {
        let s = tokenize(b"a=1 -- b=2  c");
        assert_eq!(s.tokens.len(), 1);
        assert_eq!(cstr(&s.buf, s.after_dashes.unwrap()), b"b=2  c");
        let s = tokenize(b"a=1 --");
        assert_eq!(cstr(&s.buf, s.after_dashes.unwrap()), b"");
        // "--=x" has a value: it is an ordinary (unknown) parameter.
        let s = tokenize(b"--=x b");
        assert_eq!((s.tokens.len(), s.after_dashes), (2, None));
        assert_eq!(pairs("a -- b"), [p("a", None)]);
    }
}
