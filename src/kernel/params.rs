//! Module parameter types (kernel/params.c): the standard `kernel_param_ops`
//! objects (`param_ops_int`, `param_array_ops`, ...) and their set, get and
//! free functions, as 6.1 and 6.12 implement them.
//!
//! Signatures are the kernel's: `int set(const char *val, const struct
//! kernel_param *kp)`, `int get(char *buffer, const struct kernel_param *kp)`
//! (the buffer is a page; getters print with a trailing newline and return
//! the length), `void free(void *arg)`. Struct layouts come from the
//! kernel's profile, never from constants here.
//!
//! Setters run on the task that loads the module (through `parse_args`) or
//! on the task of a sysfs write; an array's element ops and a module's own
//! ops are called through `call_module`, whether they are module code or
//! stubs. Module memory is only touched through the checked `mm` accessors:
//! where the kernel would oops on a bad pointer, the stub logs it and
//! returns -EFAULT.
//!
//! ## Memory of charp parameters
//!
//! `param_set_charp` keeps a copy of the value in a buffer the kernel
//! kmallocs and remembers (`kmalloc_parameter`), and frees the previous one
//! if, and only if, it allocated it (`maybe_kfree_parameter`, used by
//! `param_free_charp` when the module goes). kload has no slab allocator
//! yet, so this file has a small one of its own (`heap`): power-of-two slots
//! of 16 to 2048 bytes cut from low-memory pages (module code reads the
//! copies and may write them), bigger blocks in their own regions. A freed
//! slot is poisoned with 0x6b, as SLUB does, and reused. The same heap gives
//! the scratch `struct kernel_param` an array passes to its element ops
//! (the kernel keeps it on its stack).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use super::kstrtox::{self, fault, neg, read_str, ret_int};
use super::printk::{LOGLEVEL_ERR, LOGLEVEL_NOTICE};
use super::symbols::{Access, DataCtx, Registry};
use super::vsprintf::{vsnprintf, VaList};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm;
use crate::profile::{KernelProfile, MissingField};

/// `KERNEL_PARAM_OPS_FL_NOARG`: the parameter may be given without a value.
pub const KERNEL_PARAM_OPS_FL_NOARG: u32 = 1 << 0;
/// `KERNEL_PARAM_FL_UNSAFE` (`module_param_unsafe`): setting it taints.
pub const KERNEL_PARAM_FL_UNSAFE: u8 = 1 << 0;
/// `TAINT_USER` ('U').
const TAINT_USER: u32 = 6;
/// `param_set_charp` refuses longer strings.
const CHARP_MAX: usize = 1024;

// ---------------------------------------------------------------------------
// Layouts
// ---------------------------------------------------------------------------

/// Offsets of `struct kernel_param`, `kernel_param_ops`, `kparam_array` and
/// `kparam_string` in one kernel, from its profile.
#[derive(Debug, Clone, Copy)]
pub struct ParamLayout {
    pub kp_size: u64,
    pub kp_name: u64,
    pub kp_ops: u64,
    pub kp_perm: u64,
    pub kp_level: u64,
    pub kp_flags: u64,
    pub kp_arg: u64,
    pub ops_flags: u64,
    pub ops_set: u64,
    pub ops_get: u64,
    pub ops_free: u64,
    pub arr_max: u64,
    pub arr_elemsize: u64,
    pub arr_num: u64,
    pub arr_ops: u64,
    pub arr_elem: u64,
    pub str_maxlen: u64,
    pub str_string: u64,
    pub page_size: u64,
}

impl ParamLayout {
    pub fn of(p: &KernelProfile) -> Result<ParamLayout, MissingField> {
        Ok(ParamLayout {
            kp_size: p.field("sizeof(struct kernel_param)")?,
            kp_name: p.field("kernel_param.name")?,
            kp_ops: p.field("kernel_param.ops")?,
            kp_perm: p.field("kernel_param.perm")?,
            kp_level: p.field("kernel_param.level")?,
            kp_flags: p.field("kernel_param.flags")?,
            kp_arg: p.field("kernel_param.arg")?,
            ops_flags: p.field("kernel_param_ops.flags")?,
            ops_set: p.field("kernel_param_ops.set")?,
            ops_get: p.field("kernel_param_ops.get")?,
            ops_free: p.field("kernel_param_ops.free")?,
            arr_max: p.field("kparam_array.max")?,
            arr_elemsize: p.field("kparam_array.elemsize")?,
            arr_num: p.field("kparam_array.num")?,
            arr_ops: p.field("kparam_array.ops")?,
            arr_elem: p.field("kparam_array.elem")?,
            str_maxlen: p.field("kparam_string.maxlen")?,
            str_string: p.field("kparam_string.string")?,
            page_size: p.field("PAGE_SIZE")?,
        })
    }
}

pub(crate) fn rd64(addr: u64) -> Option<u64> {
    mm::read_u64(addr)
}

fn rd16(addr: u64) -> Option<u16> {
    let b = mm::read_bytes(addr, 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn rd8(addr: u64) -> Option<u8> {
    mm::read_bytes(addr, 1).map(|b| b[0])
}

/// One `struct kernel_param`, as read from module memory.
#[derive(Debug, Clone)]
pub struct KernelParam {
    pub addr: u64,
    pub name: Vec<u8>,
    pub ops: u64,
    pub perm: u16,
    pub flags: u8,
    pub arg: u64,
}

impl KernelParam {
    pub fn read(l: &ParamLayout, addr: u64) -> Option<KernelParam> {
        let name = read_str(rd64(addr + l.kp_name)?)?;
        Some(KernelParam {
            addr,
            name,
            ops: rd64(addr + l.kp_ops)?,
            perm: rd16(addr + l.kp_perm)?,
            flags: rd8(addr + l.kp_flags)?,
            arg: rd64(addr + l.kp_arg)?,
        })
    }

    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// One `struct kernel_param_ops`.
#[derive(Debug, Clone, Copy)]
pub struct ParamOps {
    pub flags: u32,
    pub set: u64,
    pub get: u64,
    pub free: u64,
}

impl ParamOps {
    pub fn read(l: &ParamLayout, addr: u64) -> Option<ParamOps> {
        Some(ParamOps {
            flags: mm::read_u32(addr + l.ops_flags)?,
            set: rd64(addr + l.ops_set)?,
            get: rd64(addr + l.ops_get)?,
            free: rd64(addr + l.ops_free)?,
        })
    }
}

/// Whether `addr` can be called at all: calling NULL or a pointer outside
/// kload's memory would take kload down rather than the task.
pub fn callable(addr: u64) -> bool {
    addr != 0 && mm::region_tag(addr).is_some()
}

/// Call a `set`, `get` or `free` function (module code or a stub) from the
/// current task; its `int` result, or `Err` when the task died inside.
pub fn call(func: u64, a0: u64, a1: u64) -> Result<i32, String> {
    task::call_module(func, [a0, a1, 0, 0, 0, 0]).map(|r| r as u32 as i32)
}

/// `param_check_unsafe`: setting a `module_param_unsafe` parameter taints
/// the kernel ('U'). (Hardware parameters are only refused under lockdown,
/// which kload's kernels are not in.)
pub fn param_check_unsafe(k: &Kernel, kp: &KernelParam) -> bool {
    if kp.flags & KERNEL_PARAM_FL_UNSAFE != 0 {
        k.log.emit(
            LOGLEVEL_NOTICE,
            &format!(
                "Setting dangerous option {} - tainting kernel",
                kp.name_str()
            ),
        );
        k.taint.add(TAINT_USER);
    }
    true
}

// ---------------------------------------------------------------------------
// The heap (kmalloc stand-in) and the kmalloced_params list
// ---------------------------------------------------------------------------

pub(crate) mod heap {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use crate::mm::{self, LowRegion, MmError, Prot, PAGE_SIZE};

    const CLASSES: [u64; 8] = [16, 32, 64, 128, 256, 512, 1024, 2048];
    /// `live` value of an allocation with its own region.
    const BIG: usize = usize::MAX;
    const POISON: u8 = 0x6b;

    struct Heap {
        pages: Vec<LowRegion>,
        free: [Vec<u64>; CLASSES.len()],
        /// Live allocation -> its class (or BIG).
        live: BTreeMap<u64, usize>,
        big: BTreeMap<u64, LowRegion>,
    }

    static HEAP: Mutex<Heap> = Mutex::new(Heap {
        pages: Vec::new(),
        free: [const { Vec::new() }; CLASSES.len()],
        live: BTreeMap::new(),
        big: BTreeMap::new(),
    });

    fn lock() -> std::sync::MutexGuard<'static, Heap> {
        HEAP.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A zeroed block of at least `size` bytes of writable low memory.
    pub fn alloc(size: u64) -> Result<u64, MmError> {
        let mut h = lock();
        let Some(class) = CLASSES.iter().position(|&c| c >= size.max(1)) else {
            let region = LowRegion::alloc(size, Prot::ReadWrite, "param-heap")?;
            let addr = region.addr();
            h.big.insert(addr, region);
            h.live.insert(addr, BIG);
            return Ok(addr);
        };
        if h.free[class].is_empty() {
            let page = LowRegion::alloc(PAGE_SIZE, Prot::ReadWrite, "param-heap")?;
            let slot = CLASSES[class];
            let base = page.addr();
            h.free[class].extend((0..PAGE_SIZE / slot).rev().map(|i| base + i * slot));
            h.pages.push(page);
        }
        let addr = h.free[class].pop().ok_or(MmError::Exhausted(size))?;
        mm::write_bytes(addr, &vec![0; CLASSES[class] as usize])?;
        h.live.insert(addr, class);
        Ok(addr)
    }

    /// Free a block `alloc` returned; false if `addr` is not one.
    pub fn free(addr: u64) -> bool {
        let mut h = lock();
        match h.live.remove(&addr) {
            Some(BIG) => {
                h.big.remove(&addr);
                true
            }
            Some(class) => {
                // Poison, so that a stale pointer reads "kkkk" as in SLUB.
                let _ = mm::write_bytes(addr, &vec![POISON; CLASSES[class] as usize]);
                h.free[class].push(addr);
                true
            }
            None => false,
        }
    }

    /// Number of live blocks (for leak checks in tests).
    #[cfg(test)]
    pub fn live() -> usize {
        lock().live.len()
    }
}

/// `kmalloced_params`: the charp copies this kernel code allocated.
static KMALLOCED: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

fn kmalloced() -> MutexGuard<'static, BTreeSet<u64>> {
    KMALLOCED.lock().unwrap_or_else(|p| p.into_inner())
}

/// `kmalloc_parameter`: a tracked buffer of `size` bytes.
fn kmalloc_parameter(size: u64) -> Option<u64> {
    let addr = heap::alloc(size).ok()?;
    kmalloced().insert(addr);
    Some(addr)
}

/// `maybe_kfree_parameter`: free `p` if `kmalloc_parameter` made it.
fn maybe_kfree_parameter(p: u64) {
    if kmalloced().remove(&p) {
        heap::free(p);
    }
}

/// Is `p` a charp copy that `param_free_charp` would free?
pub fn is_kmalloced_parameter(p: u64) -> bool {
    kmalloced().contains(&p)
}

/// A block of the heap that goes back when dropped.
struct Scratch(u64);

impl Scratch {
    fn new(size: u64) -> Option<Scratch> {
        heap::alloc(size).ok().map(Scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        heap::free(self.0);
    }
}

// ---------------------------------------------------------------------------
// Stub plumbing
// ---------------------------------------------------------------------------

/// The kernel of the calling task and its layouts, or the value to return.
fn ctx(func: &str) -> Result<(Arc<Kernel>, ParamLayout), u64> {
    let Some(k) = task::current_kernel() else {
        log::error!("{func} called outside a kernel task");
        return Err(neg(libc::EFAULT));
    };
    match ParamLayout::of(k.profile) {
        Ok(l) => Ok((k, l)),
        Err(e) => {
            k.log.emit(LOGLEVEL_ERR, &format!("kload: {func}: {e}"));
            Err(neg(libc::EFAULT))
        }
    }
}

/// `kp->arg` of the `kp` argument `i`.
fn kp_arg(l: &ParamLayout, kp: u64, func: &str) -> Result<u64, u64> {
    rd64(kp.wrapping_add(l.kp_arg)).ok_or_else(|| fault(func, "struct kernel_param", kp))
}

/// `kp->name` of a `struct kernel_param` (for messages).
fn kp_name(l: &ParamLayout, kp: u64) -> String {
    rd64(kp.wrapping_add(l.kp_name))
        .and_then(read_str)
        .map_or_else(
            || "(efault)".to_owned(),
            |n| String::from_utf8_lossy(&n).into_owned(),
        )
}

/// The value string argument (NULL only reaches NOARG setters).
fn val_arg(a: &CallArgs, func: &str) -> Result<Vec<u8>, u64> {
    read_str(a.arg(0)).ok_or_else(|| fault(func, "the value string", a.arg(0)))
}

fn write(addr: u64, bytes: &[u8], func: &str, what: &str) -> Result<(), u64> {
    mm::write_bytes(addr, bytes).map_err(|_| fault(func, what, addr))
}

/// Arguments of a format, in order.
struct Args<'a>(&'a [u64], usize);

impl VaList for Args<'_> {
    fn next_arg(&mut self) -> u64 {
        let v = self.0.get(self.1).copied().unwrap_or(0);
        self.1 += 1;
        v
    }
}

/// `scnprintf(buffer, limit, fmt, ...)` (or `sprintf` with no limit):
/// format like the kernel, store with the NUL, return the length.
fn print_to(
    k: &Kernel,
    buffer: u64,
    limit: Option<u64>,
    fmt: &[u8],
    args: &[u64],
    func: &str,
) -> u64 {
    let mut out = vsnprintf(fmt, &mut Args(args, 0), k);
    if let Some(limit) = limit {
        out.truncate(limit.saturating_sub(1) as usize);
    }
    let n = out.len();
    out.push(0);
    match write(buffer, &out, func, "the output buffer") {
        Ok(()) => n as u64,
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------
// The standard types
// ---------------------------------------------------------------------------

/// `param_set_<int type>`: `kstrto<type>(val, 0, kp->arg)`.
fn set_number(a: &CallArgs, func: &str, parse: fn(&[u8]) -> Result<Vec<u8>, i32>) -> u64 {
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(func)?;
        let val = val_arg(a, func)?;
        let arg = kp_arg(&l, a.arg(1), func)?;
        match parse(&val) {
            Ok(bytes) => write(arg, &bytes, func, "the parameter (kp->arg)").map(|()| 0),
            Err(e) => Ok(neg(e)),
        }
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_get_<int type>`: `scnprintf(buffer, PAGE_SIZE, fmt "\n", *kp->arg)`.
fn get_number(a: &CallArgs, func: &str, size: usize, signed: bool, fmt: &[u8]) -> u64 {
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(func)?;
        let arg = kp_arg(&l, a.arg(1), func)?;
        let b =
            mm::read_bytes(arg, size).ok_or_else(|| fault(func, "the parameter (kp->arg)", arg))?;
        let mut raw = [0u8; 8];
        raw[..size].copy_from_slice(&b);
        let mut v = u64::from_le_bytes(raw);
        if signed && size < 8 && b[size - 1] & 0x80 != 0 {
            v |= !0u64 << (size * 8);
        }
        Ok(print_to(&k, a.arg(0), Some(l.page_size), fmt, &[v], func))
    })();
    r.unwrap_or_else(|e: u64| e)
}

macro_rules! standard_params {
    ($($set:ident, $get:ident, $name:literal, $conv:path, $size:expr, $signed:expr, $fmt:literal;)*) => {$(
        fn $set(a: &mut CallArgs) -> u64 {
            set_number(a, concat!("param_set_", $name), |s| {
                $conv(s, 0).map(|v| v.to_le_bytes().to_vec())
            })
        }
        fn $get(a: &mut CallArgs) -> u64 {
            get_number(a, concat!("param_get_", $name), $size, $signed, $fmt)
        }
    )*};
}

standard_params! {
    param_set_byte, param_get_byte, "byte", kstrtox::kstrtou8, 1, false, b"%hhu\n";
    param_set_short, param_get_short, "short", kstrtox::kstrtos16, 2, true, b"%hi\n";
    param_set_ushort, param_get_ushort, "ushort", kstrtox::kstrtou16, 2, false, b"%hu\n";
    param_set_int, param_get_int, "int", kstrtox::kstrtoint, 4, true, b"%i\n";
    param_set_uint, param_get_uint, "uint", kstrtox::kstrtouint, 4, false, b"%u\n";
    param_set_long, param_get_long, "long", kstrtox::kstrtol, 8, true, b"%li\n";
    param_set_ulong, param_get_ulong, "ulong", kstrtox::kstrtoul, 8, false, b"%lu\n";
    param_set_ullong, param_get_ullong, "ullong", kstrtox::kstrtoull, 8, false, b"%llu\n";
    param_set_hexint, param_get_hexint, "hexint", kstrtox::kstrtouint, 4, false, b"%#08x\n";
}

/// `int param_set_uint_minmax(const char *val, const struct kernel_param *kp,
/// unsigned int min, unsigned int max)`.
fn param_set_uint_minmax(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_uint_minmax";
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(F)?;
        if a.arg(0) == 0 {
            return Ok(neg(libc::EINVAL));
        }
        let val = val_arg(a, F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        let num = match kstrtox::kstrtouint(&val, 0) {
            Ok(n) => n,
            Err(e) => return Ok(neg(e)),
        };
        if num < a.int(2) as u32 || num > a.int(3) as u32 {
            return Ok(neg(libc::EINVAL));
        }
        write(arg, &num.to_le_bytes(), F, "the parameter (kp->arg)").map(|()| 0)
    })();
    r.unwrap_or_else(|e| e)
}

/// The value of a bool setter: no value means "1" (`param_set_bool`).
fn bool_val(a: &CallArgs, func: &str) -> Result<Result<bool, i32>, u64> {
    if a.arg(0) == 0 {
        return Ok(Ok(true));
    }
    let s = mm::read_cstr(a.arg(0), 2).ok_or_else(|| fault(func, "the value string", a.arg(0)))?;
    Ok(kstrtox::kstrtobool(Some(&s)))
}

/// `param_set_bool`: `kstrtobool(val ?: "1", kp->arg)` into a `bool`.
fn param_set_bool(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_bool";
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        match bool_val(a, F)? {
            Ok(v) => write(arg, &[u8::from(v)], F, "the parameter (kp->arg)").map(|()| 0),
            Err(e) => Ok(neg(e)),
        }
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_set_bool_enable_only`: like bool, but once true it stays true
/// (-EROFS).
fn param_set_bool_enable_only(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_bool_enable_only";
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        let orig = rd8(arg).ok_or_else(|| fault(F, "the parameter (kp->arg)", arg))? != 0;
        let new = match bool_val(a, F)? {
            Ok(v) => v,
            Err(e) => return Ok(neg(e)),
        };
        if !new && orig {
            return Ok(neg(libc::EROFS));
        }
        if new {
            write(arg, &[1], F, "the parameter (kp->arg)")?;
        }
        Ok(0)
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_set_invbool`: stores the negation (no NOARG flag on its ops, so a
/// bare name never gets here from parse_args).
fn param_set_invbool(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_invbool";
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        match bool_val(a, F)? {
            Ok(v) => write(arg, &[u8::from(!v)], F, "the parameter (kp->arg)").map(|()| 0),
            Err(e) => Ok(neg(e)),
        }
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_set_bint`: parses like bool, stores 0 or 1 in an `int`.
fn param_set_bint(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_bint";
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        match bool_val(a, F)? {
            Ok(v) => write(
                arg,
                &i32::from(v).to_le_bytes(),
                F,
                "the parameter (kp->arg)",
            )
            .map(|()| 0),
            Err(e) => Ok(neg(e)),
        }
    })();
    r.unwrap_or_else(|e| e)
}

fn get_bool_like(a: &CallArgs, func: &str, invert: bool) -> u64 {
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(func)?;
        let arg = kp_arg(&l, a.arg(1), func)?;
        let v = rd8(arg).ok_or_else(|| fault(func, "the parameter (kp->arg)", arg))? != 0;
        let c = if v != invert { b'Y' } else { b'N' };
        Ok(print_to(&k, a.arg(0), None, b"%c\n", &[u64::from(c)], func))
    })();
    r.unwrap_or_else(|e: u64| e)
}

/// `param_get_bool`: "Y\n" or "N\n".
fn param_get_bool(a: &mut CallArgs) -> u64 {
    get_bool_like(a, "param_get_bool", false)
}

/// `param_get_invbool`: the stored value negated.
fn param_get_invbool(a: &mut CallArgs) -> u64 {
    get_bool_like(a, "param_get_invbool", true)
}

/// `param_set_charp`: at most 1024 characters (-ENOSPC and a message),
/// copied into a tracked buffer; the previous copy is freed if it was one.
fn param_set_charp(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_charp";
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(F)?;
        let val = val_arg(a, F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        if val.len() > CHARP_MAX {
            k.log.emit(
                LOGLEVEL_ERR,
                &format!("{}: string parameter too long", kp_name(&l, a.arg(1))),
            );
            return Ok(neg(libc::ENOSPC));
        }
        let old = rd64(arg).ok_or_else(|| fault(F, "the parameter (kp->arg)", arg))?;
        maybe_kfree_parameter(old);
        let Some(copy) = kmalloc_parameter(val.len() as u64 + 1) else {
            write(arg, &0u64.to_le_bytes(), F, "the parameter (kp->arg)")?;
            return Ok(neg(libc::ENOMEM));
        };
        let mut bytes = val;
        bytes.push(0);
        write(copy, &bytes, F, "the copy")?;
        write(arg, &copy.to_le_bytes(), F, "the parameter (kp->arg)")?;
        Ok(0)
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_get_charp`: `"%s\n"` of the pointer (NULL prints "(null)").
fn param_get_charp(a: &mut CallArgs) -> u64 {
    const F: &str = "param_get_charp";
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(F)?;
        let arg = kp_arg(&l, a.arg(1), F)?;
        let p = rd64(arg).ok_or_else(|| fault(F, "the parameter (kp->arg)", arg))?;
        Ok(print_to(&k, a.arg(0), Some(l.page_size), b"%s\n", &[p], F))
    })();
    r.unwrap_or_else(|e: u64| e)
}

/// `void param_free_charp(void *arg)`: free the copy `*arg` if it is one.
fn param_free_charp(a: &mut CallArgs) -> u64 {
    match rd64(a.arg(0)) {
        Some(p) => {
            maybe_kfree_parameter(p);
            0
        }
        None => fault("param_free_charp", "the parameter", a.arg(0)),
    }
}

/// `param_set_copystring` (`module_param_string`): copy into the module's
/// buffer of `maxlen` bytes, or -ENOSPC with the kernel's message.
fn param_set_copystring(a: &mut CallArgs) -> u64 {
    const F: &str = "param_set_copystring";
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(F)?;
        let val = val_arg(a, F)?;
        let kps = kp_arg(&l, a.arg(1), F)?;
        let maxlen = mm::read_u32(kps + l.str_maxlen)
            .ok_or_else(|| fault(F, "struct kparam_string", kps))?;
        let string =
            rd64(kps + l.str_string).ok_or_else(|| fault(F, "struct kparam_string", kps))?;
        if val.len() as u64 + 1 > u64::from(maxlen) {
            k.log.emit(
                LOGLEVEL_ERR,
                &format!(
                    "{}: string doesn't fit in {} chars.",
                    kp_name(&l, a.arg(1)),
                    maxlen.wrapping_sub(1)
                ),
            );
            return Ok(neg(libc::ENOSPC));
        }
        let mut bytes = val;
        bytes.push(0);
        write(string, &bytes, F, "the string buffer (kps->string)").map(|()| 0)
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_get_string`: `"%s\n"` of the module's buffer.
fn param_get_string(a: &mut CallArgs) -> u64 {
    const F: &str = "param_get_string";
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(F)?;
        let kps = kp_arg(&l, a.arg(1), F)?;
        let string =
            rd64(kps + l.str_string).ok_or_else(|| fault(F, "struct kparam_string", kps))?;
        Ok(print_to(
            &k,
            a.arg(0),
            Some(l.page_size),
            b"%s\n",
            &[string],
            F,
        ))
    })();
    r.unwrap_or_else(|e: u64| e)
}

// ---------------------------------------------------------------------------
// Arrays
// ---------------------------------------------------------------------------

/// A `struct kparam_array`.
struct KparamArray {
    max: u32,
    elemsize: u32,
    num: u64,
    ops: ParamOps,
    elem: u64,
}

impl KparamArray {
    fn read(l: &ParamLayout, arr: u64, func: &str) -> Result<KparamArray, u64> {
        let bad = || fault(func, "struct kparam_array", arr);
        let ops = rd64(arr + l.arr_ops).ok_or_else(bad)?;
        Ok(KparamArray {
            max: mm::read_u32(arr + l.arr_max).ok_or_else(bad)?,
            elemsize: mm::read_u32(arr + l.arr_elemsize).ok_or_else(bad)?,
            num: rd64(arr + l.arr_num).ok_or_else(bad)?,
            ops: ParamOps::read(l, ops).ok_or_else(|| fault(func, "arr->ops", ops))?,
            elem: rd64(arr + l.arr_elem).ok_or_else(bad)?,
        })
    }

    /// `arr->num ? *arr->num : arr->max`.
    fn count(&self, func: &str) -> Result<u32, u64> {
        if self.num == 0 {
            return Ok(self.max);
        }
        mm::read_u32(self.num).ok_or_else(|| fault(func, "arr->num", self.num))
    }

    fn elem_at(&self, i: u32) -> u64 {
        self.elem
            .wrapping_add(u64::from(self.elemsize) * u64::from(i))
    }
}

/// A copy of `kp` in scratch memory, for the element calls (the kernel
/// builds it on its stack).
fn element_kp(l: &ParamLayout, kp: u64, func: &str) -> Result<Scratch, u64> {
    let bytes = mm::read_bytes(kp, l.kp_size as usize)
        .ok_or_else(|| fault(func, "struct kernel_param", kp))?;
    let s = Scratch::new(l.kp_size).ok_or(neg(libc::ENOMEM))?;
    write(s.0, &bytes, func, "the element's kernel_param")?;
    Ok(s)
}

/// `param_array_set` → `param_array`: comma-separated elements through the
/// element ops' `set`, `*num` counting them as they are set. The value is
/// cut in place at each comma, as the kernel does.
fn param_array_set(a: &mut CallArgs) -> u64 {
    const F: &str = "param_array_set";
    let r = (|| -> Result<u64, u64> {
        let (k, l) = ctx(F)?;
        let (val_addr, kp) = (a.arg(0), a.arg(1));
        let name = kp_name(&l, kp);
        let arr = KparamArray::read(&l, kp_arg(&l, kp, F)?, F)?;
        let val = val_arg(a, F)?;
        let elem_kp = element_kp(&l, kp, F)?;
        let set_num = |n: u32| -> Result<(), u64> {
            if arr.num != 0 {
                write(arr.num, &n.to_le_bytes(), F, "arr->num")?;
            }
            Ok(())
        };
        let (min, max) = (1u32, arr.max);
        let mut num = 0u32;
        set_num(num)?;
        let mut off = 0usize;
        loop {
            if num == max {
                k.log.emit(
                    LOGLEVEL_ERR,
                    &format!("{name}: can only take {} arguments", max as i32),
                );
                return Ok(neg(libc::EINVAL));
            }
            let len = val[off..]
                .iter()
                .position(|&c| c == b',')
                .unwrap_or(val.len() - off);
            let save = val.get(off + len).copied().unwrap_or(0);
            let piece = val_addr + off as u64;
            write(piece + len as u64, &[0], F, "the value string")?;
            write(
                elem_kp.0 + l.kp_arg,
                &arr.elem_at(num).to_le_bytes(),
                F,
                "the element's kernel_param",
            )?;
            if !callable(arr.ops.set) {
                return Err(fault(F, "arr->ops->set", arr.ops.set));
            }
            let ret = call(arr.ops.set, piece, elem_kp.0).map_err(|_| neg(libc::EFAULT))?;
            if ret != 0 {
                return Ok(ret_int(ret));
            }
            off += len + 1;
            num += 1;
            set_num(num)?;
            if save != b',' {
                break;
            }
        }
        if num < min {
            k.log.emit(
                LOGLEVEL_ERR,
                &format!("{name}: needs at least {} arguments", min as i32),
            );
            return Ok(neg(libc::EINVAL));
        }
        Ok(0)
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_array_get`: each element through the element ops' `get`, the
/// newline each one ends with replaced by a comma.
fn param_array_get(a: &mut CallArgs) -> u64 {
    const F: &str = "param_array_get";
    let r = (|| -> Result<u64, u64> {
        let (buffer, kp) = (a.arg(0), a.arg(1));
        let (_, l) = ctx(F)?;
        let arr = KparamArray::read(&l, kp_arg(&l, kp, F)?, F)?;
        let elem_kp = element_kp(&l, kp, F)?;
        let mut off = 0u64;
        for i in 0..arr.count(F)? {
            if i > 0 {
                write(
                    buffer.wrapping_add(off).wrapping_sub(1),
                    b",",
                    F,
                    "the output buffer",
                )?;
            }
            write(
                elem_kp.0 + l.kp_arg,
                &arr.elem_at(i).to_le_bytes(),
                F,
                "the element's kernel_param",
            )?;
            if !callable(arr.ops.get) {
                return Err(fault(F, "arr->ops->get", arr.ops.get));
            }
            let ret = call(arr.ops.get, buffer.wrapping_add(off), elem_kp.0)
                .map_err(|_| neg(libc::EFAULT))?;
            if ret < 0 {
                return Ok(ret_int(ret));
            }
            off += ret as u64;
        }
        write(buffer.wrapping_add(off), &[0], F, "the output buffer")?;
        Ok(off)
    })();
    r.unwrap_or_else(|e| e)
}

/// `param_array_free(void *arg)` (`arg` is the `kparam_array`): the element
/// ops' `free` on each element.
fn param_array_free(a: &mut CallArgs) -> u64 {
    const F: &str = "param_array_free";
    let r = (|| -> Result<u64, u64> {
        let (_, l) = ctx(F)?;
        let arr = KparamArray::read(&l, a.arg(0), F)?;
        if arr.ops.free == 0 {
            return Ok(0);
        }
        if !callable(arr.ops.free) {
            return Err(fault(F, "arr->ops->free", arr.ops.free));
        }
        for i in 0..arr.count(F)? {
            call(arr.ops.free, arr.elem_at(i), 0).map_err(|_| neg(libc::EFAULT))?;
        }
        Ok(0)
    })();
    r.unwrap_or_else(|e| e)
}

// ---------------------------------------------------------------------------
// The ops objects
// ---------------------------------------------------------------------------

/// A `struct kernel_param_ops` image for this kernel.
fn ops_image(
    ctx: &DataCtx<'_>,
    flags: u32,
    set: &str,
    get: &str,
    free: Option<&str>,
) -> Result<Vec<u8>, MissingField> {
    let p = ctx.profile;
    let mut b = vec![0u8; p.field("sizeof(struct kernel_param_ops)")? as usize];
    let mut put = |off: u64, bytes: &[u8]| {
        b[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
    };
    put(p.field("kernel_param_ops.flags")?, &flags.to_le_bytes());
    put(
        p.field("kernel_param_ops.set")?,
        &ctx.func(set).to_le_bytes(),
    );
    put(
        p.field("kernel_param_ops.get")?,
        &ctx.func(get).to_le_bytes(),
    );
    let free = free.map_or(0, |f| ctx.func(f));
    put(p.field("kernel_param_ops.free")?, &free.to_le_bytes());
    Ok(b)
}

macro_rules! ops_objects {
    ($($init:ident, $flags:expr, $set:literal, $get:literal, $free:expr;)*) => {$(
        fn $init(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
            ops_image(ctx, $flags, $set, $get, $free)
        }
    )*};
}

const NOARG: u32 = KERNEL_PARAM_OPS_FL_NOARG;
ops_objects! {
    ops_byte, 0, "param_set_byte", "param_get_byte", None;
    ops_short, 0, "param_set_short", "param_get_short", None;
    ops_ushort, 0, "param_set_ushort", "param_get_ushort", None;
    ops_int, 0, "param_set_int", "param_get_int", None;
    ops_uint, 0, "param_set_uint", "param_get_uint", None;
    ops_long, 0, "param_set_long", "param_get_long", None;
    ops_ulong, 0, "param_set_ulong", "param_get_ulong", None;
    ops_ullong, 0, "param_set_ullong", "param_get_ullong", None;
    ops_hexint, 0, "param_set_hexint", "param_get_hexint", None;
    ops_charp, 0, "param_set_charp", "param_get_charp", Some("param_free_charp");
    ops_bool, NOARG, "param_set_bool", "param_get_bool", None;
    ops_bool_enable_only, NOARG, "param_set_bool_enable_only", "param_get_bool", None;
    ops_invbool, 0, "param_set_invbool", "param_get_invbool", None;
    ops_bint, NOARG, "param_set_bint", "param_get_int", None;
    ops_string, 0, "param_set_copystring", "param_get_string", None;
}

/// `param_array_ops`: its functions are static in kernel/params.c, so they
/// are registered as internal functions, not exports.
fn ops_array(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let p = ctx.profile;
    let mut b = vec![0u8; p.field("sizeof(struct kernel_param_ops)")? as usize];
    for (key, f) in [
        ("kernel_param_ops.set", "param_array_set"),
        ("kernel_param_ops.get", "param_array_get"),
        ("kernel_param_ops.free", "param_array_free"),
    ] {
        let off = p.field(key)? as usize;
        b[off..off + 8].copy_from_slice(&ctx.func(f).to_le_bytes());
    }
    Ok(b)
}

pub(super) fn register(r: &mut Registry) {
    r.internal("param_array_set", param_array_set);
    r.internal("param_array_get", param_array_get);
    r.internal("param_array_free", param_array_free);
    r.func("param_set_byte", param_set_byte);
    r.func("param_get_byte", param_get_byte);
    r.func("param_set_short", param_set_short);
    r.func("param_get_short", param_get_short);
    r.func("param_set_ushort", param_set_ushort);
    r.func("param_get_ushort", param_get_ushort);
    r.func("param_set_int", param_set_int);
    r.func("param_get_int", param_get_int);
    r.func("param_set_uint", param_set_uint);
    r.func("param_get_uint", param_get_uint);
    r.func("param_set_uint_minmax", param_set_uint_minmax);
    r.func("param_set_long", param_set_long);
    r.func("param_get_long", param_get_long);
    r.func("param_set_ulong", param_set_ulong);
    r.func("param_get_ulong", param_get_ulong);
    r.func("param_set_ullong", param_set_ullong);
    r.func("param_get_ullong", param_get_ullong);
    r.func("param_set_hexint", param_set_hexint);
    r.func("param_get_hexint", param_get_hexint);
    r.func("param_set_charp", param_set_charp);
    r.func("param_get_charp", param_get_charp);
    r.func("param_free_charp", param_free_charp);
    r.func("param_set_bool", param_set_bool);
    r.func("param_get_bool", param_get_bool);
    r.func("param_set_bool_enable_only", param_set_bool_enable_only);
    r.func("param_set_invbool", param_set_invbool);
    r.func("param_get_invbool", param_get_invbool);
    r.func("param_set_bint", param_set_bint);
    r.func("param_set_copystring", param_set_copystring);
    r.func("param_get_string", param_get_string);
    r.data("param_ops_byte", Access::ReadOnly, ops_byte);
    r.data("param_ops_short", Access::ReadOnly, ops_short);
    r.data("param_ops_ushort", Access::ReadOnly, ops_ushort);
    r.data("param_ops_int", Access::ReadOnly, ops_int);
    r.data("param_ops_uint", Access::ReadOnly, ops_uint);
    r.data("param_ops_long", Access::ReadOnly, ops_long);
    r.data("param_ops_ulong", Access::ReadOnly, ops_ulong);
    r.data("param_ops_ullong", Access::ReadOnly, ops_ullong);
    r.data("param_ops_hexint", Access::ReadOnly, ops_hexint);
    r.data("param_ops_charp", Access::ReadOnly, ops_charp);
    r.data("param_ops_bool", Access::ReadOnly, ops_bool);
    r.data(
        "param_ops_bool_enable_only",
        Access::ReadOnly,
        ops_bool_enable_only,
    );
    r.data("param_ops_invbool", Access::ReadOnly, ops_invbool);
    r.data("param_ops_bint", Access::ReadOnly, ops_bint);
    r.data("param_ops_string", Access::ReadOnly, ops_string);
    r.data("param_array_ops", Access::ReadOnly, ops_array);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PROFILES;

    #[test]
    fn layouts_come_from_both_profiles() {
        for p in PROFILES {
            let l = ParamLayout::of(p).unwrap();
            assert!(l.kp_arg + 8 <= l.kp_size);
            assert_eq!(l.page_size, 4096);
        }
    }

    #[test]
    fn ops_objects_point_at_the_stubs_with_the_right_flags() {
        let names = |n: &str| crate::kernel::symbols::lookup(n).unwrap();
        for p in PROFILES {
            let resolve = |n: &str| crate::kernel::symbols::function_address(n).unwrap();
            let ctx = DataCtx {
                profile: p,
                resolve: &resolve,
                percpu_base: 0,
            };
            let l = ParamLayout::of(p).unwrap();
            let word = |b: &[u8], off: u64| {
                u64::from_le_bytes(b[off as usize..off as usize + 8].try_into().unwrap())
            };
            let flags = |b: &[u8]| {
                u32::from_le_bytes(
                    b[l.ops_flags as usize..l.ops_flags as usize + 4]
                        .try_into()
                        .unwrap(),
                )
            };
            let b = ops_bint(&ctx).unwrap();
            assert_eq!(flags(&b), NOARG);
            assert_eq!(Some(word(&b, l.ops_set)), names("param_set_bint"));
            assert_eq!(Some(word(&b, l.ops_get)), names("param_get_int"));
            assert_eq!(word(&b, l.ops_free), 0);
            let b = ops_invbool(&ctx).unwrap();
            assert_eq!(flags(&b), 0);
            let b = ops_charp(&ctx).unwrap();
            assert_eq!(Some(word(&b, l.ops_free)), names("param_free_charp"));
            let b = ops_array(&ctx).unwrap();
            let internal = |n| crate::kernel::symbols::function_address(n).unwrap();
            assert_eq!(Some(word(&b, l.ops_set)), internal("param_array_set"));
            assert_eq!(Some(word(&b, l.ops_get)), internal("param_array_get"));
            assert!(crate::kernel::symbols::lookup("param_array_set")
                .unwrap()
                .is_none());
            for init in [
                ops_byte,
                ops_short,
                ops_ushort,
                ops_int,
                ops_uint,
                ops_long,
                ops_ulong,
                ops_ullong,
                ops_hexint,
                ops_charp,
                ops_bool,
                ops_bool_enable_only,
                ops_invbool,
                ops_bint,
                ops_string,
                ops_array,
            ] {
                let b = init(&ctx).unwrap();
                assert_ne!(word(&b, l.ops_set), 0);
                assert_ne!(word(&b, l.ops_get), 0);
            }
        }
    }

    /// The stubs on a kernel task, on a `struct kernel_param` built by hand:
    /// set and get an int, an array through `param_array_ops` (whose element
    /// calls go through `call_module` into the stub trampolines), and a bad
    /// pointer answered with -EFAULT and a log line instead of an oops.
    #[test]
    fn stubs_set_get_and_refuse_bad_pointers_on_a_task() {
        use crate::exec::task::run_task;
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            let l = ParamLayout::of(p).unwrap();
            let put = |addr: u64, b: &[u8]| mm::write_bytes(addr, b).unwrap();
            let cstring = |s: &str| {
                let a = heap::alloc(s.len() as u64 + 1).unwrap();
                put(a, s.as_bytes());
                a
            };
            let kp = |name: u64, arg: u64| {
                let a = heap::alloc(l.kp_size).unwrap();
                put(a + l.kp_name, &name.to_le_bytes());
                put(a + l.kp_arg, &arg.to_le_bytes());
                a
            };
            let var = heap::alloc(64).unwrap();
            let int_kp = kp(cstring("x"), var);
            let buf = heap::alloc(4096).unwrap();
            let (k2, var2) = (Arc::clone(&k), var);
            let results = run_task(&k, "test", move || {
                let call = |f: fn(&mut CallArgs) -> u64, a0: u64, a1: u64| {
                    f(&mut CallArgs::new([a0, a1, 0, 0, 0, 0])) as u32 as i32
                };
                let set = call(param_set_int, cstring("-0x10\n"), int_kp);
                let value = mm::read_bytes(var2, 4).unwrap();
                let got = call(param_get_int, buf, int_kp);
                let text = mm::read_cstr(buf, 64).unwrap();
                let range = call(param_set_int, cstring("2147483648"), int_kp);
                let fault = call(param_set_int, 0, int_kp);
                // int arr[3] with a count, through the real param_array_ops.
                let num = heap::alloc(4).unwrap();
                let elems = heap::alloc(12).unwrap();
                let arr = heap::alloc(64).unwrap();
                put(arr + l.arr_max, &3u32.to_le_bytes());
                put(arr + l.arr_elemsize, &4u32.to_le_bytes());
                put(arr + l.arr_num, &num.to_le_bytes());
                let int_ops = k2.data.lookup("param_ops_int").unwrap();
                put(arr + l.arr_ops, &int_ops.to_le_bytes());
                put(arr + l.arr_elem, &elems.to_le_bytes());
                let arr_kp = kp(cstring("a"), arr);
                let arr_set = call(param_array_set, cstring("7,0x8,-9"), arr_kp);
                let arr_get = call(param_array_get, buf, arr_kp);
                let arr_text = mm::read_cstr(buf, 64).unwrap();
                let too_many = call(param_array_set, cstring("1,2,3,4"), arr_kp);
                let n = mm::read_bytes(num, 4).unwrap();
                (
                    set, value, got, text, range, fault, arr_set, arr_get, arr_text, too_many, n,
                )
            })
            .unwrap();
            let (set, value, got, text, range, fault, arr_set, arr_get, arr_text, too_many, n) =
                results;
            assert_eq!((set, value), (0, (-16i32).to_le_bytes().to_vec()));
            assert_eq!((got, text), (4, b"-16\n".to_vec()));
            assert_eq!(range, -libc::ERANGE);
            assert_eq!(fault, -libc::EFAULT);
            assert_eq!((arr_set, arr_get), (0, 7));
            assert_eq!(arr_text, b"7,8,-9\n");
            assert_eq!((too_many, n), (-libc::EINVAL, 3u32.to_le_bytes().to_vec()));
            let log: Vec<String> = k.log.records().into_iter().map(|r| r.text).collect();
            assert!(
                log.iter().any(|t| t
                    .starts_with("kload: param_set_int: cannot access the value string at 0x0")),
                "{log:?}"
            );
            assert!(
                log.contains(&"a: can only take 3 arguments".to_owned()),
                "{log:?}"
            );
        }
    }

    #[test]
    fn heap_reuses_poisoned_slots_and_tracks_parameters() {
        let a = heap::alloc(100).unwrap();
        assert!(heap::live() >= 1);
        assert_eq!(mm::read_bytes(a, 128).unwrap(), vec![0; 128]);
        mm::write_bytes(a, b"hello\0").unwrap();
        assert!(heap::free(a));
        assert!(!heap::free(a));
        let big = heap::alloc(10_000).unwrap();
        mm::write_bytes(big + 9_999, b"x").unwrap();
        assert!(heap::free(big));
        let p = kmalloc_parameter(6).unwrap();
        assert!(is_kmalloced_parameter(p));
        maybe_kfree_parameter(p);
        assert!(!is_kmalloced_parameter(p));
        // Not ours: ignored.
        maybe_kfree_parameter(0x1234);
    }
}
