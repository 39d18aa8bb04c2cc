//! Dynamic debug (lib/dynamic_debug.c): the `struct _ddebug` descriptors of
//! `pr_debug`/`dev_dbg` call sites, their jump labels, the query language
//! of `/proc/dynamic_debug/control` and of the `dyndbg=` module parameter,
//! and the control file's listing.
//!
//! A call site is `if (static_branch_unlikely(&descriptor.key)) call`: the
//! branch is a 2- or 5-byte NOP in the module's text (objtool NOPs it at
//! build time) with a `__jump_table` entry naming the site, its target and
//! the descriptor's key. Turning `p` on rewrites the NOP into a jump to the
//! call, as `static_branch_enable` does; turning it off writes the NOP back.
//! kload patches the module's own text, so an enabled site reaches
//! `__dynamic_pr_debug` exactly when the kernel's would.
//!
//! Layouts: `_ddebug` is four pointers (modname, function, filename,
//! format), an `unsigned int` holding lineno:18, class_id:6 and flags:8
//! right after `format`, then (CONFIG_JUMP_LABEL) the 16-byte static key,
//! aligned to 8: 56 bytes. `jump_entry` is `s32 code, s32 target, long key`
//! (relative to each field; the key's bit 0 is the branch polarity). The
//! constants below are checked against the kernel's profile, which the
//! probe measures (`layout_matches`; bitfields have no offsetof, so the
//! flags word is placed after `format` by C's layout rules); a kernel whose
//! layout differs, or a module whose `__dyndbg` does not fit (its size is
//! not a multiple, or a descriptor's modname is not the module's), gets no
//! dynamic debug and kload says so.

use std::sync::Mutex;

use super::printk::{read_fmt, store_at_level, LOGLEVEL_DEBUG, LOGLEVEL_ERR, LOGLEVEL_WARNING};
use super::symbols::Registry;
use super::vsprintf::vsnprintf;
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;
use crate::module::Module;

/// `sizeof(struct _ddebug)` with CONFIG_JUMP_LABEL (see the module doc).
pub const DDEBUG_SIZE: u64 = 56;
/// Offset of the bitfield word (lineno, class_id, flags).
const DDEBUG_BITS: u64 = 32;
/// Offset of `key` (a `struct static_key`, whose `atomic_t enabled` is first).
const DDEBUG_KEY: u64 = 40;
/// `sizeof(struct jump_entry)` (x86-64, relative entries).
pub const JUMP_ENTRY_SIZE: u64 = 16;
/// `_DPRINTK_CLASS_DFLT`: the class of a site that has none.
pub const DPRINTK_CLASS_DFLT: u8 = 63;

pub const DPRINTK_FLAGS_PRINT: u8 = 1 << 0;
pub const DPRINTK_FLAGS_INCL_MODNAME: u8 = 1 << 1;
pub const DPRINTK_FLAGS_INCL_FUNCNAME: u8 = 1 << 2;
pub const DPRINTK_FLAGS_INCL_LINENO: u8 = 1 << 3;
pub const DPRINTK_FLAGS_INCL_TID: u8 = 1 << 4;
/// 6.2+ (`s`); 6.1 has no such flag.
pub const DPRINTK_FLAGS_INCL_SOURCENAME: u8 = 1 << 5;

/// `USER_BUF_PAGE`: a control write must be shorter.
const USER_BUF_PAGE: usize = 4096;
/// `MAXWORDS` of `ddebug_exec_query`.
const MAXWORDS: usize = 9;

/// `ddebug_lock`: queries and listings do not interleave.
static DDEBUG_LOCK: Mutex<()> = Mutex::new(());

/// `opt_array`: the flag letters in the order the control file prints
/// them (`_` means none and sets nothing).
fn opt_array(version: (u32, u32)) -> &'static [(u8, u8)] {
    const V6_1: &[(u8, u8)] = &[
        (DPRINTK_FLAGS_PRINT, b'p'),
        (DPRINTK_FLAGS_INCL_MODNAME, b'm'),
        (DPRINTK_FLAGS_INCL_FUNCNAME, b'f'),
        (DPRINTK_FLAGS_INCL_LINENO, b'l'),
        (DPRINTK_FLAGS_INCL_TID, b't'),
        (0, b'_'),
    ];
    const V6_2: &[(u8, u8)] = &[
        (DPRINTK_FLAGS_PRINT, b'p'),
        (DPRINTK_FLAGS_INCL_MODNAME, b'm'),
        (DPRINTK_FLAGS_INCL_FUNCNAME, b'f'),
        (DPRINTK_FLAGS_INCL_SOURCENAME, b's'),
        (DPRINTK_FLAGS_INCL_LINENO, b'l'),
        (DPRINTK_FLAGS_INCL_TID, b't'),
        (0, b'_'),
    ];
    if version >= (6, 2) {
        V6_2
    } else {
        V6_1
    }
}

/// One `struct _ddebug`, read from module memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub addr: u64,
    pub modname: Vec<u8>,
    pub function: Vec<u8>,
    pub filename: Vec<u8>,
    pub format: Vec<u8>,
    pub lineno: u32,
    pub class_id: u8,
    pub flags: u8,
}

fn string_at(ptr_field: u64) -> Option<Vec<u8>> {
    let p = mm::read_u64(ptr_field)?;
    if p == 0 {
        return Some(Vec::new());
    }
    mm::read_cstr(p, 4096)
}

fn read_bits(desc: u64) -> Option<u32> {
    let b = mm::read_bytes(desc.wrapping_add(DDEBUG_BITS), 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

impl Descriptor {
    pub fn read(addr: u64) -> Option<Descriptor> {
        let bits = read_bits(addr)?;
        Some(Descriptor {
            addr,
            modname: string_at(addr)?,
            function: string_at(addr + 8)?,
            filename: string_at(addr + 16)?,
            format: string_at(addr + 24)?,
            lineno: bits & 0x3ffff,
            class_id: ((bits >> 18) & 0x3f) as u8,
            flags: (bits >> 24) as u8,
        })
    }
}

/// A descriptor's flags and line number; None if unreadable.
pub fn ddebug_flags(desc: u64) -> Option<(u8, u32)> {
    let v = read_bits(desc)?;
    Some(((v >> 24) as u8, v & 0x3ffff))
}

/// Whether a call through this descriptor prints (`_DPRINTK_FLAGS_PRINT`).
/// The jump label already decided it; this keeps a site whose text kload
/// could not patch (reported) from printing while off.
pub fn ddebug_enabled(desc: u64) -> bool {
    ddebug_flags(desc).is_some_and(|(f, _)| f & DPRINTK_FLAGS_PRINT != 0)
}

/// Whether the kernel's measured `struct _ddebug` and `struct jump_entry`
/// are the layout this file uses.
pub fn layout_matches(p: &crate::profile::KernelProfile) -> bool {
    let f = |k: &str| p.get(k);
    f("sizeof(struct _ddebug)") == Some(DDEBUG_SIZE)
        && f("_ddebug.format").map(|o| o + 8) == Some(DDEBUG_BITS)
        && f("_ddebug.key") == Some(DDEBUG_KEY)
        && f("sizeof(struct jump_entry)") == Some(JUMP_ENTRY_SIZE)
        && f("jump_entry.code") == Some(0)
        && f("jump_entry.target") == Some(4)
        && f("jump_entry.key") == Some(8)
}

/// The descriptors of a module's `__dyndbg` section (`ddebug_add_module`),
/// checked against the layout this file assumes.
pub fn module_descriptors(m: &Module) -> Vec<u64> {
    let (base, size) = m.dyndbg;
    if base == 0 || size == 0 {
        return Vec::new();
    }
    if let Some(k) = task::current_kernel() {
        if !layout_matches(k.profile) {
            log::warn!(
                "{}: this kernel's struct _ddebug/jump_entry differ from kload's: \
                 dynamic debug is off",
                m.name
            );
            return Vec::new();
        }
    }
    let fits = size % DDEBUG_SIZE == 0
        && (0..size / DDEBUG_SIZE).all(|i| {
            string_at(base + i * DDEBUG_SIZE).is_some_and(|n| {
                // KBUILD_MODNAME; the module's name may differ only by '-'.
                n.iter()
                    .map(|&c| if c == b'-' { b'_' } else { c })
                    .eq(m.name.bytes())
            })
        });
    if !fits {
        log::warn!(
            "{}: __dyndbg ({size} bytes) does not hold {DDEBUG_SIZE}-byte descriptors of this \
             module: dynamic debug is off for it",
            m.name
        );
        return Vec::new();
    }
    (0..size / DDEBUG_SIZE)
        .map(|i| base + i * DDEBUG_SIZE)
        .collect()
}

// ---- jump labels --------------------------------------------------------

const NOP2: [u8; 2] = [0x66, 0x90];
const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];

fn read_i32(addr: u64) -> Option<i64> {
    mm::read_u32(addr).map(|v| i64::from(v as i32))
}

/// One `struct jump_entry`: (code, target, key, branch).
fn jump_entry(e: u64) -> Option<(u64, u64, u64, bool)> {
    let code = e.wrapping_add(read_i32(e)? as u64);
    let target = (e + 4).wrapping_add(read_i32(e + 4)? as u64);
    let key = (e + 8).wrapping_add(mm::read_u64(e + 8)?);
    Some((code, target, key & !3, key & 1 != 0))
}

/// Rewrite one jump site (`arch_jump_label_transform`): a jump to `target`
/// or a NOP of the site's size (2 or 5 bytes, as the module was built).
/// A site in freed init text is skipped, as `jump_label_invalidate_inits`
/// leaves it.
fn patch_site(m: &Module, code: u64, target: u64, jmp: bool) -> Result<(), String> {
    let mem = m.memory();
    let Some(a) = mem.allocs.iter().find(|a| a.region.contains(code)) else {
        return Ok(());
    };
    let off = code - a.region.addr();
    let cur = a
        .region
        .read(off, 2)
        .map_err(|e| format!("jump site {code:#x}: {e}"))?;
    let size = match cur[..] {
        [0x66, 0x90] | [0xeb, _] => 2,
        _ => {
            let cur5 = a
                .region
                .read(off, 5)
                .map_err(|e| format!("jump site {code:#x}: {e}"))?;
            if cur5 != NOP5 && cur5[0] != 0xe9 {
                return Err(format!(
                    "jump site {code:#x} holds {cur5:02x?}, neither a jump nor a NOP"
                ));
            }
            5
        }
    };
    let rel = target.wrapping_sub(code + size) as i64;
    let bytes = match (jmp, size) {
        (false, 2) => NOP2.to_vec(),
        (false, _) => NOP5.to_vec(),
        (true, 2) => {
            let r = i8::try_from(rel)
                .map_err(|_| format!("jump site {code:#x}: target out of reach"))?;
            vec![0xeb, r as u8]
        }
        (true, _) => {
            let r = i32::try_from(rel)
                .map_err(|_| format!("jump site {code:#x}: target out of reach"))?;
            let mut v = vec![0xe9];
            v.extend_from_slice(&r.to_le_bytes());
            v
        }
    };
    a.region
        .write(off, &bytes)
        .map_err(|e| format!("jump site {code:#x}: {e}"))
}

/// `static_branch_enable/disable(&descriptor.key)`: set the key's count and
/// rewrite every site of the module that uses it. A site whose branch bit
/// is set (`static_branch_likely`, the DEBUG build's default-on key) jumps
/// when the key is off.
fn set_key(m: &Module, desc: u64, enabled: bool) {
    let key = desc + DDEBUG_KEY;
    if mm::write_bytes(key, &u32::from(enabled).to_le_bytes()).is_err() {
        log::warn!("{}: dyndbg key at {key:#x} is not writable", m.name);
    }
    let (base, count) = m.jump_table;
    for i in 0..count {
        let Some((code, target, k, branch)) = jump_entry(base + i * JUMP_ENTRY_SIZE) else {
            continue;
        };
        if k != key {
            continue;
        }
        if let Err(e) = patch_site(m, code, target, enabled != branch) {
            log::error!("{}: dynamic debug: {e}", m.name);
        }
    }
}

// ---- queries ------------------------------------------------------------

/// A parsed query (`struct ddebug_query`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    filename: Option<Vec<u8>>,
    module: Option<Vec<u8>>,
    function: Option<Vec<u8>>,
    format: Option<Vec<u8>>,
    class: Option<Vec<u8>>,
    first_lineno: u32,
    last_lineno: u32,
}

/// What a query does to the matching flags (`struct flag_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlagSettings {
    flags: u8,
    mask: u8,
}

/// The kernel's `pr_err` of lib/dynamic_debug.c (`pr_fmt` "dyndbg: ").
struct Errors<'a> {
    k: Option<&'a Kernel>,
    lines: Vec<String>,
}

impl Errors<'_> {
    fn err(&mut self, msg: String) {
        match self.k {
            Some(k) => k.log.emit(LOGLEVEL_ERR, &format!("dyndbg: {msg}")),
            None => self.lines.push(msg),
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ddebug_tokenize`: words separated by spaces, or quoted with `"` or `'`
/// (no escapes); `#` starts a comment.
fn tokenize(buf: &[u8], e: &mut Errors<'_>) -> Result<Vec<Vec<u8>>, ()> {
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < buf.len() && is_space(buf[i]) {
            i += 1;
        }
        if i == buf.len() || buf[i] == b'#' {
            break;
        }
        let (start, end, next) = if buf[i] == b'"' || buf[i] == b'\'' {
            let q = buf[i];
            let start = i + 1;
            let Some(len) = buf[start..].iter().position(|&c| c == q) else {
                e.err(format!("unclosed quote: {}", lossy(&buf[start..])));
                return Err(());
            };
            (start, start + len, start + len + 1)
        } else {
            let len = buf[i..]
                .iter()
                .position(|&c| is_space(c))
                .unwrap_or(buf.len() - i);
            (i, i + len, (i + len + 1).min(buf.len()))
        };
        if words.len() == MAXWORDS {
            e.err(format!("too many words, legal max <={MAXWORDS}"));
            return Err(());
        }
        words.push(buf[start..end].to_vec());
        i = next;
    }
    Ok(words)
}

/// `ddebug_parse_flags`: `[+-=]` and flag letters.
fn parse_flags(word: &[u8], version: (u32, u32), e: &mut Errors<'_>) -> Result<FlagSettings, ()> {
    let op = match word.first() {
        Some(&c @ (b'+' | b'-' | b'=')) => c,
        c => {
            let c = c.map_or(String::new(), |&c| char::from(c).to_string());
            e.err(format!("bad flag-op {c}, at start of {}", lossy(word)));
            return Err(());
        }
    };
    let mut flags = 0u8;
    for &c in &word[1..] {
        match opt_array(version).iter().rev().find(|(_, ch)| *ch == c) {
            Some(&(f, _)) => flags |= f,
            None => {
                e.err(format!("unknown flag '{}'", char::from(c)));
                return Err(());
            }
        }
    }
    Ok(match op {
        b'=' => FlagSettings { flags, mask: 0 },
        b'+' => FlagSettings { flags, mask: !0 },
        _ => FlagSettings {
            flags: 0,
            mask: !flags,
        },
    })
}

fn check_set(
    dest: &mut Option<Vec<u8>>,
    src: &[u8],
    name: &str,
    e: &mut Errors<'_>,
) -> Result<(), ()> {
    let prev = dest.replace(src.to_vec());
    if let Some(prev) = prev {
        e.err(format!(
            "match-spec:{name} val:{} overridden by {}",
            lossy(&prev),
            lossy(src)
        ));
        return Err(());
    }
    Ok(())
}

/// `parse_lineno`: empty is 0 ("don't care"), else a decimal u32.
fn parse_lineno(s: &[u8], e: &mut Errors<'_>) -> Result<u32, ()> {
    if s.is_empty() {
        return Ok(0);
    }
    match super::kstrtox::kstrtouint(s, 10) {
        Ok(v) => Ok(v),
        _ => {
            e.err(format!("bad line-number: {}", lossy(s)));
            Err(())
        }
    }
}

/// `parse_linerange`: `N`, `N-M`, `N-` (to the end), `-M`.
fn parse_linerange(q: &mut Query, arg: &[u8], e: &mut Errors<'_>) -> Result<(), ()> {
    if q.first_lineno != 0 || q.last_lineno != 0 {
        e.err("match-spec: line used 2x".into());
        return Err(());
    }
    let (first, last) = match arg.iter().position(|&c| c == b'-') {
        Some(d) => (&arg[..d], Some(&arg[d + 1..])),
        None => (arg, None),
    };
    q.first_lineno = parse_lineno(first, e)?;
    match last {
        Some(last) => {
            q.last_lineno = parse_lineno(last, e)?;
            if q.last_lineno == 0 {
                q.last_lineno = u32::MAX;
            }
            if q.last_lineno < q.first_lineno {
                e.err(format!(
                    "last-line:{} < 1st-line:{}",
                    q.last_lineno, q.first_lineno
                ));
                return Err(());
            }
        }
        None => q.last_lineno = q.first_lineno,
    }
    Ok(())
}

/// `string_unescape_inplace(UNESCAPE_SPACE | UNESCAPE_OCTAL |
/// UNESCAPE_SPECIAL)` of a `format` argument.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            let c = s[i + 1];
            let simple = match c {
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'v' => Some(0x0b),
                b'f' => Some(0x0c),
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'a' => Some(0x07),
                b'e' => Some(0x1b),
                _ => None,
            };
            if let Some(v) = simple {
                out.push(v);
                i += 2;
                continue;
            }
            if (b'0'..=b'7').contains(&c) {
                let mut v: u32 = 0;
                let mut j = i + 1;
                while j < s.len() && j < i + 4 && (b'0'..=b'7').contains(&s[j]) {
                    v = v * 8 + u32::from(s[j] - b'0');
                    j += 1;
                }
                out.push(v as u8);
                i = j;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// `ddebug_parse_query`: keyword/value pairs.
fn parse_query(words: &[Vec<u8>], modname: Option<&str>, e: &mut Errors<'_>) -> Result<Query, ()> {
    if words.len() % 2 != 0 {
        e.err("expecting pairs of match-spec <value>".into());
        return Err(());
    }
    let mut q = Query::default();
    for pair in words.chunks(2) {
        let (kw, arg) = (&pair[0][..], &pair[1][..]);
        match kw {
            b"func" => check_set(&mut q.function, arg, "func", e)?,
            b"file" => {
                // file NAME[:FUNC|:LINES]
                let (file, tail) = match arg.iter().position(|&c| c == b':') {
                    Some(c) => (&arg[..c], Some(&arg[c + 1..])),
                    None => (arg, None),
                };
                check_set(&mut q.filename, file, "file", e)?;
                if let Some(tail) = tail {
                    let c = tail.first().copied().unwrap_or(0);
                    if c.is_ascii_alphabetic() || c == b'*' || c == b'?' {
                        check_set(&mut q.function, tail, "func", e)?;
                    } else {
                        parse_linerange(&mut q, tail, e)?;
                    }
                }
            }
            b"module" => check_set(&mut q.module, arg, "module", e)?,
            b"format" => check_set(&mut q.format, &unescape(arg), "format", e)?,
            b"line" => parse_linerange(&mut q, arg, e)?,
            b"class" => check_set(&mut q.class, arg, "class", e)?,
            _ => {
                e.err(format!("unknown keyword \"{}\"", lossy(kw)));
                return Err(());
            }
        }
    }
    if q.module.is_none() {
        q.module = modname.map(|m| m.as_bytes().to_vec());
    }
    Ok(q)
}

/// `match_wildcard`: `*` any run, `?` any one byte.
fn match_wildcard(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == s[i]) {
            p += 1;
            i += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

impl Query {
    fn matches(&self, d: &Descriptor) -> bool {
        // Without a `class` term only class-less sites match; kload keeps
        // no class maps, so a `class` term matches nothing.
        if self.class.is_some() || d.class_id != DPRINTK_CLASS_DFLT {
            return false;
        }
        // trim_prefix: Debian builds with relative paths, so nothing is
        // trimmed and the full name is one of the forms already tried.
        if let Some(f) = &self.filename {
            if !match_wildcard(f, &d.filename) && !match_wildcard(f, basename(&d.filename)) {
                return false;
            }
        }
        if let Some(f) = &self.function {
            if !match_wildcard(f, &d.function) {
                return false;
            }
        }
        if let Some(f) = &self.format {
            let ok = match f.strip_prefix(b"^") {
                Some(anchored) => d.format.starts_with(anchored),
                None => find(&d.format, f).is_some(),
            };
            if !ok {
                return false;
            }
        }
        if self.first_lineno != 0 && d.lineno < self.first_lineno {
            return false;
        }
        if self.last_lineno != 0 && d.lineno > self.last_lineno {
            return false;
        }
        true
    }
}

/// `ddebug_change`: apply the flags to every matching site of the loaded
/// modules; returns how many matched.
fn ddebug_change(k: &Kernel, q: &Query, fs: FlagSettings) -> usize {
    let mut nfound = 0;
    let mut modules = k.module_list();
    modules.reverse();
    for m in &modules {
        if q.module
            .as_ref()
            .is_some_and(|p| !match_wildcard(p, m.name.as_bytes()))
        {
            continue;
        }
        for addr in module_descriptors(m) {
            let Some(d) = Descriptor::read(addr) else {
                continue;
            };
            if !q.matches(&d) {
                continue;
            }
            nfound += 1;
            let newflags = (d.flags & fs.mask) | fs.flags;
            if newflags == d.flags {
                continue;
            }
            let was = d.flags & DPRINTK_FLAGS_PRINT != 0;
            let now = newflags & DPRINTK_FLAGS_PRINT != 0;
            if was != now {
                set_key(m, addr, now);
            }
            if let Some(bits) = read_bits(addr) {
                let bits = (bits & 0x00ff_ffff) | u32::from(newflags) << 24;
                if mm::write_bytes(addr + DDEBUG_BITS, &bits.to_le_bytes()).is_err() {
                    log::warn!("{}: dyndbg descriptor {addr:#x} is not writable", m.name);
                }
            }
        }
    }
    nfound
}

/// `ddebug_exec_query`: tokenize, flags (the last word) first, then the
/// match-spec pairs; the change.
fn exec_query(
    k: &Kernel,
    query: &[u8],
    modname: Option<&str>,
    e: &mut Errors<'_>,
) -> Result<usize, i32> {
    let version = k.profile.version();
    let words = match tokenize(query, e) {
        Ok(w) if !w.is_empty() => w,
        _ => {
            e.err("tokenize failed".into());
            return Err(libc::EINVAL);
        }
    };
    let (last, spec) = words.split_last().ok_or(libc::EINVAL)?;
    let Ok(fs) = parse_flags(last, version, e) else {
        e.err("flags parse failed".into());
        return Err(libc::EINVAL);
    };
    let Ok(q) = parse_query(spec, modname, e) else {
        e.err("query parse failed".into());
        return Err(libc::EINVAL);
    };
    Ok(ddebug_change(k, &q, fs))
}

/// `ddebug_exec_queries(query, modname)`: queries separated by `;` or a
/// newline, each run even when another fails; the number of matches, or
/// the last error.
pub fn exec_queries(k: &Kernel, queries: &[u8], modname: Option<&str>) -> Result<usize, i32> {
    let _guard = DDEBUG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut e = Errors {
        k: Some(k),
        lines: Vec::new(),
    };
    let (mut nfound, mut exitcode) = (0, None);
    for q in queries.split(|&c| c == b';' || c == b'\n') {
        let start = q.iter().position(|&c| !is_space(c)).unwrap_or(q.len());
        let q = &q[start..];
        if q.is_empty() || q[0] == b'#' {
            continue;
        }
        match exec_query(k, q, modname, &mut e) {
            Ok(n) => nfound += n,
            Err(errno) => exitcode = Some(errno),
        }
    }
    match exitcode {
        Some(errno) => Err(errno),
        None => Ok(nfound),
    }
}

/// `ddebug_dyndbg_module_param_cb`: a module's `dyndbg[=QUERY]` parameter
/// (no value means "+p"), restricted to the module; errors are printed,
/// never fatal to the load.
pub fn module_param(k: &Kernel, module: &str, val: Option<&[u8]>) {
    let _ = exec_queries(k, val.unwrap_or(b"+p"), Some(module));
}

/// `ddebug_proc_write`: a write to /proc/dynamic_debug/control.
pub fn control_write(k: &Kernel, data: &[u8]) -> Result<usize, i32> {
    if data.is_empty() {
        return Ok(0);
    }
    if data.len() > USER_BUF_PAGE - 1 {
        k.log.emit(
            LOGLEVEL_WARNING,
            &format!("dyndbg: expected <{USER_BUF_PAGE} bytes into control"),
        );
        return Err(libc::E2BIG);
    }
    exec_queries(k, data, None).map(|_| data.len())
}

/// `ddebug_proc_show`: the header and one line per site, modules in load
/// order, each module's sites last to first: `filename:lineno [module]function =flags "format"`, the format
/// escaped like `seq_escape_str(ESCAPE_SPACE, "\t\r\n\"")` (only the
/// whitespace is escaped; a `"` stays as it is).
pub fn control_read(k: Option<&Kernel>) -> String {
    let mut out = String::from("# filename:lineno [module]function flags format\n");
    let Some(k) = k else {
        return out;
    };
    let _guard = DDEBUG_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let opts = opt_array(k.profile.version());
    let mut modules = k.module_list();
    modules.reverse();
    for m in &modules {
        // ddebug_iter_first/next walk each table from its last descriptor
        // down: the compiler emits a file's sites in reverse, so this is
        // source order.
        for addr in module_descriptors(m).into_iter().rev() {
            let Some(d) = Descriptor::read(addr) else {
                continue;
            };
            let mut flags: String = opts
                .iter()
                .filter(|(f, _)| d.flags & f != 0)
                .map(|&(_, c)| char::from(c))
                .collect();
            if flags.is_empty() {
                flags.push('_');
            }
            let mut fmt = Vec::new();
            for &c in &d.format {
                match c {
                    b'\t' => fmt.extend_from_slice(b"\\t"),
                    b'\r' => fmt.extend_from_slice(b"\\r"),
                    b'\n' => fmt.extend_from_slice(b"\\n"),
                    c => fmt.push(c),
                }
            }
            out.push_str(&format!(
                "{}:{} [{}]{} ={flags} \"{}\"",
                lossy(&d.filename),
                d.lineno,
                m.name,
                lossy(&d.function),
                lossy(&fmt)
            ));
            if d.class_id != DPRINTK_CLASS_DFLT {
                // kload keeps no class maps (DECLARE_DYNDBG_CLASSMAP).
                out.push_str(&format!(" class unknown, _id:{}", d.class_id));
            }
            out.push('\n');
        }
    }
    out
}

// ---- printing -----------------------------------------------------------

/// `dynamic_emit_prefix`: "[pid] " for `t`, then "modname:", "function:",
/// (6.2+) "file:", "line:" for `m`, `f`, `s`, `l`, and a space after them.
pub fn ddebug_prefix(k: &Kernel, desc: u64) -> String {
    let Some(d) = Descriptor::read(desc) else {
        return String::new();
    };
    let sourcename = k.profile.version() >= (6, 2);
    let mut out = String::new();
    if d.flags & DPRINTK_FLAGS_INCL_TID != 0 {
        let pid = task::current_task().map_or(0, |t| t.pid);
        out.push_str(&format!("[{pid}] "));
    }
    let after_tid = out.len();
    if d.flags & DPRINTK_FLAGS_INCL_MODNAME != 0 {
        out.push_str(&format!("{}:", lossy(&d.modname)));
    }
    if d.flags & DPRINTK_FLAGS_INCL_FUNCNAME != 0 {
        out.push_str(&format!("{}:", lossy(&d.function)));
    }
    if sourcename && d.flags & DPRINTK_FLAGS_INCL_SOURCENAME != 0 {
        // trim_prefix: a module built out of tree keeps its full path.
        out.push_str(&format!("{}:", lossy(&d.filename)));
    }
    if d.flags & DPRINTK_FLAGS_INCL_LINENO != 0 {
        out.push_str(&format!("{}:", d.lineno));
    }
    if out.len() > after_tid {
        out.push(' ');
    }
    // PREFIX_SIZE is 128 (NUL included).
    out.truncate(127);
    out
}

/// `__dynamic_pr_debug(struct _ddebug *descriptor, const char *fmt, ...)`:
/// `printk(KERN_DEBUG "%s%pV", dynamic_emit_prefix(descriptor), ...)`.
fn sys_dynamic_pr_debug(a: &mut CallArgs) -> u64 {
    let Some(k) = task::current_kernel() else {
        return 0;
    };
    if !ddebug_enabled(a.arg(0)) {
        return 0;
    }
    let mut text = ddebug_prefix(&k, a.arg(0)).into_bytes();
    text.extend(vsnprintf(&read_fmt(a.arg(1)), &mut a.va(2), &*k));
    store_at_level(&k, i32::from(LOGLEVEL_DEBUG), &text);
    0
}

pub(super) fn register(r: &mut Registry) {
    r.func("__dynamic_pr_debug", sys_dynamic_pr_debug);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both built-in kernels measure the layout the constants describe.
    #[test]
    fn descriptor_layout_is_the_measured_one() {
        for p in crate::profile::PROFILES {
            assert!(layout_matches(p), "{}", p.release);
        }
    }

    fn errs() -> Errors<'static> {
        Errors {
            k: None,
            lines: Vec::new(),
        }
    }

    fn words(s: &str) -> Result<Vec<String>, Vec<String>> {
        let mut e = errs();
        tokenize(s.as_bytes(), &mut e)
            .map(|w| w.into_iter().map(|w| lossy(&w)).collect())
            .map_err(|()| e.lines)
    }

    #[test]
    fn tokenizer_quotes_comments_and_errors() {
        assert_eq!(
            words(r#" module  foo format "a b" 'c"d' +p # rest"#).unwrap(),
            ["module", "foo", "format", "a b", "c\"d", "+p"]
        );
        assert_eq!(
            words("func \"dyndbg_sites +p").unwrap_err(),
            ["unclosed quote: dyndbg_sites +p"]
        );
        assert_eq!(
            words("a b c d e f g h i j").unwrap_err(),
            ["too many words, legal max <=9"]
        );
    }

    #[test]
    fn flags_parse_like_the_kernel() {
        let v = (6, 1);
        let mut e = errs();
        assert_eq!(
            parse_flags(b"+p", v, &mut e),
            Ok(FlagSettings {
                flags: 1,
                mask: 0xff
            })
        );
        assert_eq!(
            parse_flags(b"-pm", v, &mut e),
            Ok(FlagSettings { flags: 0, mask: !3 })
        );
        assert_eq!(
            parse_flags(b"=_", v, &mut e),
            Ok(FlagSettings { flags: 0, mask: 0 })
        );
        assert!(parse_flags(b"+s", v, &mut e).is_err());
        assert!(parse_flags(b"+s", (6, 12), &mut e).is_ok());
        assert!(parse_flags(b"p", v, &mut e).is_err());
        assert_eq!(
            e.lines,
            ["unknown flag 's'", "bad flag-op p, at start of p"]
        );
    }

    #[test]
    fn query_terms_lines_and_overrides() {
        let w = |s: &str| -> Vec<Vec<u8>> { s.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
        let mut e = errs();
        let q = parse_query(&w("file foo.c:10-20 format a\\tb"), Some("m"), &mut e).unwrap();
        assert_eq!(q.filename.as_deref(), Some(&b"foo.c"[..]));
        assert_eq!((q.first_lineno, q.last_lineno), (10, 20));
        assert_eq!(q.format.as_deref(), Some(&b"a\tb"[..]));
        assert_eq!(q.module.as_deref(), Some(&b"m"[..]));
        let q = parse_query(&w("line 7-"), None, &mut e).unwrap();
        assert_eq!((q.first_lineno, q.last_lineno), (7, u32::MAX));
        assert!(parse_query(&w("line 30-20"), None, &mut e).is_err());
        assert!(parse_query(&w("module a module b"), None, &mut e).is_err());
        assert!(parse_query(&w("nosuch x"), None, &mut e).is_err());
        assert!(parse_query(&w("module"), None, &mut e).is_err());
        assert_eq!(
            e.lines,
            [
                "last-line:20 < 1st-line:30",
                "match-spec:module val:a overridden by b",
                "unknown keyword \"nosuch\"",
                "expecting pairs of match-spec <value>"
            ]
        );
    }

    #[test]
    fn wildcards() {
        assert!(match_wildcard(b"dyn*", b"dyndbg"));
        assert!(match_wildcard(b"*dbg", b"dyndbg"));
        assert!(match_wildcard(b"d?ndbg", b"dyndbg"));
        assert!(match_wildcard(b"*", b""));
        assert!(!match_wildcard(b"dyn", b"dyndbg"));
        assert!(match_wildcard(b"a*b*c", b"axxbyyc"));
        assert!(!match_wildcard(b"a*b*c", b"axxbyy"));
    }
}
