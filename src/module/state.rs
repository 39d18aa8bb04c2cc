//! `struct module` as kload keeps it: the live module, its memory and state.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::exports::Exports;

use super::kallsyms::Kallsyms;
use super::layout_sections::{page_align, MemType};
use super::modinfo::Modinfo;
use crate::kernel::panic::module_flags;
use crate::kernel::unwind_orc::OrcTable;
use crate::mm::{LowRegion, MmError, Prot};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `enum module_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleState {
    Live,
    Coming,
    Going,
    Unformed,
}

impl ModuleState {
    /// As /proc/modules shows it.
    pub fn name(self) -> &'static str {
        match self {
            ModuleState::Live => "Live",
            ModuleState::Coming => "Loading",
            ModuleState::Going => "Unloading",
            ModuleState::Unformed => "Unformed",
        }
    }
}

/// One allocation of module memory and the regions inside it.
pub struct Allocation {
    pub region: LowRegion,
    /// (region type, offset in the allocation, unrounded size).
    pub parts: Vec<(MemType, u64, u64)>,
}

impl Allocation {
    pub fn is_init(&self) -> bool {
        self.parts.iter().all(|(m, _, _)| m.is_init())
    }

    /// Apply each region's protection (`module_enable_rox` and friends).
    pub fn protect(&self, ro_after_init_sealed: bool) -> Result<(), MmError> {
        for &(mem, off, size) in &self.parts {
            let prot = match mem {
                MemType::Text | MemType::InitText => Prot::ReadExec,
                MemType::Rodata | MemType::InitRodata => Prot::Read,
                MemType::RoAfterInit if ro_after_init_sealed => Prot::Read,
                MemType::RoAfterInit | MemType::Data | MemType::InitData => Prot::ReadWrite,
            };
            if size > 0 {
                self.region.protect(off, Some(page_align(size)), prot)?;
            }
        }
        Ok(())
    }
}

/// The memory of one module.
#[derive(Default)]
pub struct ModuleMemory {
    pub allocs: Vec<Allocation>,
    /// The init allocations after init, kept reserved and inaccessible
    /// (PROT_NONE) while the module is loaded, so that nothing reuses the
    /// addresses and a stale access to them faults and can be named (the
    /// kernel gives the pages back at once). Not module memory any more.
    pub freed_init: Vec<Allocation>,
}

impl ModuleMemory {
    /// Absolute address of the start of region `mem`, if it exists.
    pub fn base(&self, mem: MemType) -> Option<u64> {
        self.allocs.iter().find_map(|a| {
            a.parts
                .iter()
                .find(|p| p.0 == mem)
                .map(|&(_, off, _)| a.region.addr() + off)
        })
    }

    /// Unrounded size of region `mem`.
    pub fn size(&self, mem: MemType) -> u64 {
        self.allocs
            .iter()
            .flat_map(|a| a.parts.iter())
            .find(|p| p.0 == mem)
            .map_or(0, |p| p.2)
    }

    pub fn contains(&self, addr: u64) -> Option<bool> {
        self.allocs
            .iter()
            .find(|a| a.region.contains(addr))
            .map(Allocation::is_init)
    }

    /// End of the text region (page-aligned) of the core or init part.
    pub fn text_end(&self, init: bool) -> u64 {
        let mem = if init {
            MemType::InitText
        } else {
            MemType::Text
        };
        self.base(mem).map_or(0, |b| b + page_align(self.size(mem)))
    }

    /// Total bytes allocated (what /proc/modules reports as the size).
    pub fn total(&self) -> u64 {
        self.allocs.iter().map(|a| a.region.len()).sum()
    }
}

/// What a module's init memory was, kept when it is freed after init
/// (kload's own bookkeeping, to name a later access to it): the freed
/// regions and the symbol table as it was before the init symbols went.
#[derive(Debug, Clone, Default)]
pub struct FreedInit {
    /// (region type, start, end) of each freed init region, `end` page-rounded.
    pub ranges: Vec<(MemType, u64, u64)>,
    /// The module's symbols as they were during init (core and init).
    pub(crate) symbols: Kallsyms,
}

impl FreedInit {
    /// The freed init region `addr` lies in, with its start.
    pub fn region_of(&self, addr: u64) -> Option<(MemType, u64, u64)> {
        self.ranges
            .iter()
            .copied()
            .find(|&(_, start, end)| addr >= start && addr < end)
    }

    /// The init symbol `addr` lay in: (name, offset), only if the symbol
    /// itself starts in the same freed region.
    pub fn symbol(&self, addr: u64) -> Option<(String, u64)> {
        let (_, start, end) = self.region_of(addr)?;
        let (name, off, _) = self.symbols.lookup(addr, end)?;
        (addr - off >= start).then_some((name, off))
    }
}

/// A loaded module.
pub struct Module {
    pub name: String,
    pub file: String,
    pub modinfo: Modinfo,
    /// The module's own taint flags (`mod->taints`).
    pub taints: u32,
    /// Address of the live `struct module` (`__this_module`).
    pub this_module: u64,
    pub init_fn: u64,
    pub exit_fn: u64,
    /// Address and entry count of the relocated `__bug_table` (0, 0 when
    /// the module has none), for BUG()/WARN() traps (`module_bug_finalize`).
    pub bug_table: u64,
    pub num_bugs: u64,
    /// The relocated `.orc_unwind_ip` and `.orc_unwind`, sorted by address
    /// (`unwind_module_init`); empty when the module has none.
    pub orc: OrcTable,
    /// Address and size in bytes of the relocated `__dyndbg` section (the
    /// `struct _ddebug` descriptors of pr_debug/dev_dbg sites), (0, 0)
    /// without one (`find_module_sections`' `info->dyndbg`).
    pub dyndbg: (u64, u64),
    /// Address and entry count of the relocated `__jump_table`
    /// (`mod->jump_entries`, `num_jump_entries`).
    pub jump_table: (u64, u64),
    pub(crate) state: Mutex<ModuleState>,
    pub(crate) mem: Mutex<ModuleMemory>,
    pub(crate) kallsyms: Mutex<Kallsyms>,
    /// The parameter strings (`mod->args`); charp parameters point into them.
    pub(crate) args_mem: Mutex<Option<LowRegion>>,
    /// What the module exports to others.
    pub exports: Exports,
    /// Modules this one took symbols from (`target_list`), with one
    /// reference held on each.
    pub(crate) uses: Mutex<Vec<Arc<Module>>>,
    /// Modules using this one (`source_list`), newest first.
    pub(crate) holders: Mutex<Vec<String>>,
    /// References beyond the users' (`try_module_get` from stubs).
    pub(crate) extra_refs: AtomicU32,
    /// The loader's base reference was dropped (`try_release_module_ref`
    /// at unload, when nothing else held one): from then on
    /// `module_refcount()` reads one less, -1 for a module whose exit died.
    pub(crate) base_ref_dropped: AtomicBool,
    /// The init memory freed when the module became live.
    pub(crate) freed_init: Mutex<Option<FreedInit>>,
    /// Set when the task running init died (an Oops): the module is left
    /// COMING, as the kernel leaves it.
    pub(crate) init_died: AtomicBool,
}

impl Module {
    pub fn state(&self) -> ModuleState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_state(&self, s: ModuleState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    pub(crate) fn memory(&self) -> std::sync::MutexGuard<'_, ModuleMemory> {
        self.mem.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Is `addr` inside this module's memory?
    pub fn contains(&self, addr: u64) -> bool {
        self.memory().contains(addr).is_some()
    }

    /// Is `addr` inside this module's (core or init) text
    /// (`is_module_text_address`)?
    pub fn text_contains(&self, addr: u64) -> bool {
        self.memory().allocs.iter().any(|a| {
            a.parts.iter().any(|&(mem, off, size)| {
                let start = a.region.addr() + off;
                mem.is_text() && addr >= start && addr < start + size
            })
        })
    }

    /// Symbolise an address inside this module.
    pub fn kallsyms_lookup(&self, addr: u64) -> Option<(String, u64, u64)> {
        let text_end = {
            let mem = self.memory();
            mem.text_end(mem.contains(addr)?)
        };
        self.kallsyms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lookup(addr, text_end)
    }

    pub fn symbol_address(&self, name: &str) -> Option<u64> {
        self.kallsyms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .address_of(name)
    }

    /// The init memory this module freed, if it became live.
    pub fn freed_init(&self) -> Option<FreedInit> {
        lock(&self.freed_init).clone()
    }

    /// Did the task running this module's init die?
    pub fn init_died(&self) -> bool {
        self.init_died.load(Ordering::Relaxed)
    }

    /// The core symbol `addr` lies in and the offset into it, if it lies
    /// in this module's region `mem` (e.g. `__ro_after_init` data).
    pub fn symbol_in(&self, mem: MemType, addr: u64) -> Option<(String, u64)> {
        let (base, size) = {
            let m = self.memory();
            (m.base(mem)?, m.size(mem))
        };
        if addr < base || addr >= base + page_align(size.max(1)) {
            return None;
        }
        let (name, off, _) = lock(&self.kallsyms).lookup(addr, base + page_align(size))?;
        (addr - off >= base).then_some((name, off))
    }

    /// Bytes of all module memory (/proc/modules' size column).
    pub fn total_size(&self) -> u64 {
        self.memory().total()
    }

    /// Bytes of core memory (`/sys/module/<m>/coresize`, lsmod's size).
    pub fn core_size(&self) -> u64 {
        self.memory()
            .allocs
            .iter()
            .filter(|a| !a.is_init())
            .map(|a| a.region.len())
            .sum()
    }

    /// Bytes of init memory (`/sys/module/<m>/initsize`); 0 once live.
    pub fn init_size(&self) -> u64 {
        self.memory()
            .allocs
            .iter()
            .filter(|a| a.is_init())
            .map(|a| a.region.len())
            .sum()
    }

    /// `module_refcount()`: references other than the base one: one per
    /// user module, plus any taken by `try_module_get`; minus the base
    /// one once unloading dropped it.
    pub fn refcount(&self) -> i32 {
        let refs =
            lock(&self.holders).len() as i64 + i64::from(self.extra_refs.load(Ordering::Relaxed));
        let base = i64::from(self.base_ref_dropped.load(Ordering::Relaxed));
        (refs - base).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// Modules that use symbols of this one (`/sys/module/<m>/holders`), newest first.
    pub fn holders(&self) -> Vec<String> {
        lock(&self.holders).clone()
    }

    /// `ref_module` for every module this one took symbols from.
    pub(crate) fn add_uses(&self, targets: Vec<Arc<Module>>) {
        for t in &targets {
            lock(&t.holders).insert(0, self.name.clone());
        }
        *lock(&self.uses) = targets;
    }

    /// `module_unload_free`: drop the references on every target.
    pub(crate) fn drop_uses(&self) {
        for t in lock(&self.uses).drain(..) {
            lock(&t.holders).retain(|h| h != &self.name);
        }
    }

    /// Base address of the core text (/proc/modules' address column).
    pub fn text_base(&self) -> u64 {
        self.memory()
            .base(super::layout_sections::MemType::Text)
            .unwrap_or(0)
    }

    /// `name(flags)` as in "Modules linked in:" (`module_flags`).
    pub fn name_with_flags(&self) -> String {
        let mut flags = module_flags(self.taints);
        match self.state() {
            ModuleState::Coming => flags.push('+'),
            ModuleState::Going => flags.push('-'),
            _ => {}
        }
        if flags.is_empty() {
            self.name.clone()
        } else {
            format!("{}({flags})", self.name)
        }
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("this_module", &format_args!("{:#x}", self.this_module))
            .finish_non_exhaustive()
    }
}
