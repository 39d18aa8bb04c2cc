//! The stub kernel's symbol table.
//!
//! Every subsystem file registers the symbols it implements, next to their
//! implementations, in its `register` function. At first use the table is
//! built once per process: each function gets a trampoline in low memory
//! (see `exec::entry`), each raw-code symbol (thunks with their own calling
//! conventions) is copied there as is. Per-CPU and data symbols are per
//! kernel instance and live in `sched` and the subsystems' data.
//!
//! A symbol nobody implements is not resolved; with `--allow-missing` it is
//! bound to a trap that names itself and kills the calling task when called.
//! Nothing here ever quietly returns 0.

use std::collections::HashMap;

use crate::host::NameMap;
use std::sync::{Mutex, OnceLock};

use crate::exec::dispatch::{kload_stub_dispatch, CallArgs};
use crate::exec::entry::{trampoline, TRAMPOLINE_SIZE};
use crate::exec::task;
use crate::mm::{LowRegion, MmError, Prot};
use crate::profile::{KernelProfile, MissingField};

/// A stub-kernel function: it gets the call's arguments and returns `%rax`.
pub type StubFn = fn(&mut CallArgs) -> u64;

/// What a data symbol's initialiser may use: the kernel's profile (for
/// struct layouts) and the addresses of function symbols (for tables of
/// function pointers such as `param_ops_int`).
pub struct DataCtx<'a> {
    pub profile: &'static KernelProfile,
    pub resolve: &'a dyn Fn(&str) -> Option<u64>,
    /// `%gs.base` of CPU 0: what `__per_cpu_offset[0]` holds.
    pub percpu_base: u64,
}

impl DataCtx<'_> {
    /// The address of an implemented function symbol; 0 if there is none
    /// (a registration bug, caught by the test that builds every object).
    pub fn func(&self, name: &str) -> u64 {
        (self.resolve)(name).unwrap_or(0)
    }
}

/// The size of a lazily built data symbol, for one kernel.
pub type DataSize = fn(&DataCtx<'_>) -> Result<u64, MissingField>;

/// Builds the initial contents of a data symbol for one kernel.
pub type DataInit = fn(&DataCtx<'_>) -> Result<Vec<u8>, MissingField>;

/// Whether module code may write a data symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

enum Def {
    Func(StubFn),
    Code(&'static [u8]),
    /// A named trap: resolves, and reports its subsystem when called.
    Trap(&'static str),
}

/// What subsystems register into.
#[derive(Default)]
pub struct Registry {
    defs: Vec<(&'static str, Def)>,
    data: Vec<DataDef>,
    internal: Vec<&'static str>,
}

/// A registered data symbol; each kernel instance gets its own copy.
#[derive(Clone, Copy)]
pub struct DataDef {
    pub name: &'static str,
    pub access: Access,
    pub init: DataInit,
    /// The object is a pointer to an opaque object placed right after it:
    /// its first 8 bytes get the address of its byte 8 (`system_wq`).
    pub points_past_itself: bool,
    /// Built on first lookup instead of at boot: the object's size (from
    /// the profile). For writable objects whose contents are costly to
    /// compute (`boot_cpu_data` runs CPUID, a VM exit each).
    pub lazy_size: Option<DataSize>,
}

impl Registry {
    /// A function with the SysV convention (variadic ones included).
    pub fn func(&mut self, name: &'static str, f: StubFn) {
        self.defs.push((name, Def::Func(f)));
    }

    /// A kernel function that is not exported (static in its kernel file)
    /// but that kernel data hands to modules by pointer, such as the
    /// functions of `param_array_ops`. Data initialisers reach it through
    /// `DataCtx::func`; modules can never link against it.
    pub fn internal(&mut self, name: &'static str, f: StubFn) {
        self.defs.push((name, Def::Func(f)));
        self.internal.push(name);
    }

    /// Raw machine code with its own convention, copied into low memory.
    pub fn code(&mut self, name: &'static str, bytes: &'static [u8]) {
        self.defs.push((name, Def::Code(bytes)));
    }

    /// Raw code that is not an export (the targets of `pv_ops` slots):
    /// data initialisers reach it through `DataCtx::func`.
    pub fn internal_code(&mut self, name: &'static str, bytes: &'static [u8]) {
        self.defs.push((name, Def::Code(bytes)));
        self.internal.push(name);
    }

    /// A data object (a kernel variable or table) modules may reference.
    pub fn data(&mut self, name: &'static str, access: Access, init: DataInit) {
        self.data.push(DataDef {
            name,
            access,
            init,
            points_past_itself: false,
            lazy_size: None,
        });
    }

    /// A writable data object built only when a module first links against
    /// it; `size` gives its size at boot, `init` its contents then.
    pub fn data_lazy(&mut self, name: &'static str, size: DataSize, init: DataInit) {
        self.data.push(DataDef {
            name,
            access: Access::ReadWrite,
            init,
            points_past_itself: false,
            lazy_size: Some(size),
        });
    }

    /// A kernel variable that points at an object only the kernel looks
    /// inside (a `struct workqueue_struct *`): `init` builds the pointer's
    /// 8 bytes followed by the object, and the pointer is set to the
    /// object's address when the kernel's data is laid out.
    pub fn data_pointer_to_opaque(&mut self, name: &'static str, access: Access, init: DataInit) {
        self.data.push(DataDef {
            name,
            access,
            init,
            points_past_itself: true,
            lazy_size: None,
        });
    }

    /// A function of a subsystem kload does not emulate (PCI, USB, ...).
    /// Unlike a missing symbol it resolves, so a module that merely links
    /// against the subsystem loads; a call reports
    /// `BUG: kload: <subsystem> is not emulated: <name> called` and kills
    /// the calling task. It is not `implemented()`.
    pub fn trap(&mut self, name: &'static str, subsystem: &'static str) {
        self.defs.push((name, Def::Trap(subsystem)));
    }
}

fn register_all(r: &mut Registry) {
    super::printk::register(r);
    super::ratelimit::register(r);
    super::dynamic_debug::register(r);
    super::trace::register(r);
    super::x86::register(r);
    super::cpu::register(r);
    super::softirq::register(r);
    super::resource::register(r);
    super::net_namespace::register(r);
    super::workqueue::register(r);
    super::panic::register(r);
    super::params::register(r);
    super::kstrtox::register(r);
    super::string::register(r);
    super::list::register(r);
    super::bitmap::register(r);
    super::crc::register(r);
    super::random::register(r);
    super::locking::register(r);
    super::time::register(r);
    super::timer::register(r);
    super::wait::register(r);
    super::kthread::register(r);
    super::slab::register(r);
    super::device::register(r);
    super::rbtree::register(r);
    super::xarray::register(r);
    super::idr::register(r);
    super::refcount::register(r);
    super::page::register(r);
    super::devres::register(r);
    super::netdev::register(r);
    super::rcu::register(r);
    super::module_refs::register(r);
    super::unemulated::register(r);
}

/// Trap ids have this bit set; the rest indexes `StubTable::traps`.
const TRAP_BIT: u32 = 1 << 31;

struct StubTable {
    names: Vec<&'static str>,
    fns: Vec<Option<StubFn>>,
    /// The subsystem of each named trap, indexed like `fns`.
    trap_of: Vec<Option<&'static str>>,
    by_name: NameMap<&'static str, u64>,
    /// Address -> (name, size), for symbolising kernel addresses.
    /// (address, name, size), in address order (trampolines are laid out in order).
    by_addr: Vec<(u64, &'static str, u64)>,
    _code: LowRegion,
    traps: Mutex<Traps>,
    data: Vec<DataDef>,
    /// Functions with trampolines that are not exports (`Registry::internal`).
    internal: Vec<&'static str>,
}

#[derive(Default)]
struct Traps {
    names: Vec<String>,
    by_name: HashMap<String, u64>,
    pages: Vec<LowRegion>,
    used_in_last: u64,
}

static TABLE: OnceLock<Result<StubTable, String>> = OnceLock::new();

fn table() -> Result<&'static StubTable, MmError> {
    TABLE
        .get_or_init(|| build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| MmError::Reserve(std::io::Error::other(e.clone())))
}

fn build() -> Result<StubTable, MmError> {
    let mut reg = Registry::default();
    register_all(&mut reg);
    let data = std::mem::take(&mut reg.data);
    let internal = std::mem::take(&mut reg.internal);
    let size: usize = reg
        .defs
        .iter()
        .map(|(_, d)| match d {
            Def::Func(_) | Def::Trap(_) => TRAMPOLINE_SIZE,
            Def::Code(b) => b.len().div_ceil(16) * 16,
        })
        .sum();
    let code = LowRegion::alloc(size as u64, Prot::ReadWrite, "stub-text")?;
    let mut image = vec![0xccu8; size];
    let n = reg.defs.len();
    let (mut names, mut fns, mut trap_of, mut by_name, mut by_addr) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        NameMap::with_capacity_and_hasher(n, Default::default()),
        Vec::with_capacity(n),
    );
    let mut off = 0usize;
    let dispatch = kload_stub_dispatch as *const () as usize as u64;
    for (name, def) in reg.defs {
        let addr = code.addr() + off as u64;
        let len = match def {
            Def::Func(f) => {
                let id = fns.len() as u32;
                image[off..off + TRAMPOLINE_SIZE].copy_from_slice(&trampoline(id, dispatch));
                names.push(name);
                fns.push(Some(f));
                trap_of.push(None);
                TRAMPOLINE_SIZE
            }
            Def::Trap(subsystem) => {
                let id = fns.len() as u32;
                image[off..off + TRAMPOLINE_SIZE].copy_from_slice(&trampoline(id, dispatch));
                names.push(name);
                fns.push(None);
                trap_of.push(Some(subsystem));
                TRAMPOLINE_SIZE
            }
            Def::Code(bytes) => {
                image[off..off + bytes.len()].copy_from_slice(bytes);
                bytes.len().div_ceil(16) * 16
            }
        };
        let dup = by_name.insert(name, addr);
        debug_assert!(dup.is_none(), "stub symbol {name} registered twice");
        by_addr.push((addr, name, len as u64));
        off += len;
    }
    code.write(0, &image)?;
    code.protect(0, None, Prot::ReadExec)?;
    Ok(StubTable {
        names,
        fns,
        trap_of,
        by_name,
        by_addr,
        _code: code,
        traps: Mutex::default(),
        data,
        internal,
    })
}

/// The address module code calls for an implemented stub symbol.
pub fn lookup(name: &str) -> Result<Option<u64>, MmError> {
    let t = table()?;
    if t.internal.contains(&name) {
        return Ok(None);
    }
    Ok(t.by_name.get(name).copied())
}

/// The address of any stub function, internal ones included (for the
/// function pointers that data initialisers store).
pub fn function_address(name: &str) -> Result<Option<u64>, MmError> {
    Ok(table()?.by_name.get(name).copied())
}

/// Every registered data symbol (built per kernel by `KernelData`).
pub fn data_defs() -> Result<&'static [DataDef], MmError> {
    Ok(&table()?.data)
}

/// Names of every implemented stub symbol (for `kload check` and docs).
pub fn implemented() -> Result<Vec<&'static str>, MmError> {
    let t = table()?;
    let mut v: Vec<_> = t
        .by_name
        .keys()
        .copied()
        .filter(|n| !t.internal.contains(n) && trap_subsystem_in(t, n).is_none())
        .chain(t.data.iter().map(|d| d.name))
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn trap_subsystem_in(t: &StubTable, name: &str) -> Option<&'static str> {
    t.names
        .iter()
        .position(|n| *n == name)
        .and_then(|i| t.trap_of[i])
}

/// The subsystem of a named trap (`Registry::trap`), if `name` is one.
pub fn trap_subsystem(name: &str) -> Result<Option<&'static str>, MmError> {
    Ok(trap_subsystem_in(table()?, name))
}

/// Every named trap and its subsystem, sorted by name.
pub fn named_traps() -> Result<Vec<(&'static str, &'static str)>, MmError> {
    let t = table()?;
    let mut v: Vec<_> = t
        .names
        .iter()
        .zip(&t.trap_of)
        .filter_map(|(n, s)| s.map(|s| (*n, s)))
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// A trap standing in for an unimplemented symbol (`--allow-missing`).
pub fn trap_for(name: &str) -> Result<u64, MmError> {
    let t = table()?;
    let mut traps = t.traps.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&a) = traps.by_name.get(name) {
        return Ok(a);
    }
    let per_page = crate::mm::PAGE_SIZE / TRAMPOLINE_SIZE as u64;
    if traps.pages.is_empty() || traps.used_in_last == per_page {
        let page = LowRegion::alloc(crate::mm::PAGE_SIZE, Prot::ReadExec, "trap-text")?;
        traps.pages.push(page);
        traps.used_in_last = 0;
    }
    let id = TRAP_BIT | traps.names.len() as u32;
    let slot = traps.used_in_last * TRAMPOLINE_SIZE as u64;
    let page = traps
        .pages
        .last()
        .ok_or(MmError::Exhausted(crate::mm::PAGE_SIZE))?;
    page.write(
        slot,
        &trampoline(id, kload_stub_dispatch as *const () as usize as u64),
    )?;
    let addr = page.addr() + slot;
    traps.used_in_last += 1;
    traps.names.push(name.to_owned());
    traps.by_name.insert(name.to_owned(), addr);
    Ok(addr)
}

/// The name of stub or trap `id`.
pub fn stub_name(id: u32) -> String {
    let Ok(t) = table() else {
        return format!("stub #{id}");
    };
    if id & TRAP_BIT != 0 {
        let traps = t.traps.lock().unwrap_or_else(|p| p.into_inner());
        return traps
            .names
            .get((id & !TRAP_BIT) as usize)
            .cloned()
            .unwrap_or_default();
    }
    t.names
        .get(id as usize)
        .map_or_else(|| format!("stub #{id}"), |s| s.to_string())
}

/// The address module code calls for stub or trap `id`.
pub fn stub_address(id: u32) -> Option<u64> {
    let t = table().ok()?;
    let name = stub_name(id);
    if id & TRAP_BIT != 0 {
        let traps = t.traps.lock().unwrap_or_else(|p| p.into_inner());
        return traps.by_name.get(&name).copied();
    }
    t.by_name.get(name.as_str()).copied()
}

/// Run stub `id` (called by the dispatcher).
pub fn call_stub(id: u32, args: &mut CallArgs) -> u64 {
    let t = table().ok();
    let f = t.and_then(|t| t.fns.get(id as usize).copied().flatten());
    let subsystem = t.and_then(|t| t.trap_of.get(id as usize).copied().flatten());
    match (f, subsystem) {
        (Some(f), _) if id & TRAP_BIT == 0 => f(args),
        (None, Some(subsystem)) if id & TRAP_BIT == 0 => {
            let name = stub_name(id);
            let what = format!("{subsystem} is not emulated: {name} called");
            super::panic::kload_bug(&what, args.caller());
            task::kill(&what);
            0
        }
        _ => {
            super::panic::unimplemented_called(&stub_name(id), args.caller());
            task::kill(&format!(
                "call to unimplemented kernel function {}",
                stub_name(id)
            ));
            0
        }
    }
}

/// Symbolise an address inside the stub kernel's code.
pub fn symbolize(addr: u64) -> Option<(&'static str, u64, u64)> {
    let t = table().ok()?;
    let i = t.by_addr.partition_point(|e| e.0 <= addr).checked_sub(1)?;
    let (start, name, size) = t.by_addr[i];
    (addr < start + size).then_some((name, addr - start, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PROFILES;

    /// Every symbol kload implements is something a real kernel exports:
    /// a registration under a wrong name would never be resolved.
    #[test]
    fn every_implemented_symbol_is_a_real_export() {
        for name in implemented().unwrap() {
            assert!(
                PROFILES.iter().any(|p| p.export(name).is_some()),
                "{name} is exported by no kernel kload serves"
            );
        }
    }

    /// Every data symbol can be built for every kernel, and the function
    /// pointers inside them point at implemented functions.
    #[test]
    fn data_symbols_build_for_every_profile() {
        for p in PROFILES {
            crate::kernel::data::KernelData::build(p, 0x4000_0000).unwrap();
            // Lazy objects are built on lookup: build them here too.
            let resolve = |n: &str| function_address(n).unwrap();
            let ctx = DataCtx {
                profile: p,
                resolve: &resolve,
                percpu_base: 0x4000_0000,
            };
            for d in data_defs()
                .unwrap()
                .iter()
                .filter(|d| d.lazy_size.is_some())
            {
                let size = (d.lazy_size.unwrap())(&ctx).unwrap();
                assert_eq!((d.init)(&ctx).unwrap().len() as u64, size, "{}", d.name);
            }
        }
    }
}
