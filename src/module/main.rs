//! The two recipes: `load_module` and `delete_module` (kernel/module/main.c).
//! Each stage lives in its own file, named after the kernel function it mirrors.

use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};

use super::apply_relocate_add::{apply_relocations, Images, Relocator};
use super::check_modinfo::module_augment_kernel_taints;
use super::do_init_module::{check_exit_preempt, do_init_module, release_held_locks, ParamTable};
use super::elf_validity::elf_validity_check;
use super::error::{LoadError, RemoveError};
use super::exports::find_exports;
use super::image::ModuleImage;
use super::kallsyms::Kallsyms;
use super::layout_sections::{groups_module_memory, layout_sections, Layout};
use super::load_info::LoadInfo;
use super::move_module::{move_module, section_addresses};
use super::setup_load_info::setup_load_info;
use super::simplify_symbols::{simplify_symbols, Missing, SymbolContext};
use super::state::{Module, ModuleMemory, ModuleState};
use super::this_module::{check_this_module_size, find_entry_fields};
use super::version::{check_modstruct_version, check_vermagic, Versions};
use crate::exec::task::{self, run_task};
use crate::kernel::printk::LOGLEVEL_ERR;
use crate::kernel::unwind_orc::{OrcFormat, OrcTable};
use crate::kernel::Kernel;
use crate::mm;

/// What the user asked for besides the file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The parameter string (`insmod FILE a=1 b=2` → "a=1 b=2").
    pub args: String,
    pub missing: Missing,
    /// `MODULE_INIT_IGNORE_VERMAGIC` (`--force-vermagic`).
    pub ignore_vermagic: bool,
    /// `MODULE_INIT_IGNORE_MODVERSIONS` (`--force-modversion`).
    pub ignore_modversions: bool,
}

/// The loader's stages up to (not including) `complete_formation`, named
/// after the kernel functions they mirror; `kload check` reports the first
/// one that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Reading, decompressing and signature-stripping the file (`ModuleImage::open`).
    KernelReadFile,
    ModuleDecompress,
    ModuleSigCheck,
    ElfValidityCheck,
    SetupLoadInfo,
    /// The `.gnu.linkonce.this_module` size and the init/exit relocations.
    ThisModule,
    CheckModstructVersion,
    CheckModinfo,
    AddUnformedModule,
    LayoutSections,
    MoveModule,
    PercpuModalloc,
    SimplifySymbols,
    ApplyRelocations,
    PostRelocation,
    FindModuleSections,
}

impl Stage {
    /// The kernel function the stage mirrors.
    pub fn name(self) -> &'static str {
        match self {
            Stage::KernelReadFile => "kernel_read_file",
            Stage::ModuleDecompress => "module_decompress",
            Stage::ModuleSigCheck => "module_sig_check",
            Stage::ElfValidityCheck => "elf_validity_check",
            Stage::SetupLoadInfo => "setup_load_info",
            Stage::ThisModule => "this_module",
            Stage::CheckModstructVersion => "check_modstruct_version",
            Stage::CheckModinfo => "check_modinfo",
            Stage::AddUnformedModule => "add_unformed_module",
            Stage::LayoutSections => "layout_sections",
            Stage::MoveModule => "move_module",
            Stage::PercpuModalloc => "percpu_modalloc",
            Stage::SimplifySymbols => "simplify_symbols",
            Stage::ApplyRelocations => "apply_relocate_add",
            Stage::PostRelocation => "post_relocation",
            Stage::FindModuleSections => "find_module_sections",
        }
    }

    /// The stage of a failure of `ModuleImage::open`.
    pub fn of_open_error(e: &LoadError) -> Stage {
        match e {
            LoadError::Decompress { .. } => Stage::ModuleDecompress,
            LoadError::Signature { .. } => Stage::ModuleSigCheck,
            _ => Stage::KernelReadFile,
        }
    }
}

/// A module laid out, relocated and copied into its memory, but not yet
/// formed: what `load_module` and `check_module` share. Dropping it frees
/// the module memory and releases the name.
pub(crate) struct Prepared<'k> {
    pub(crate) info: LoadInfo,
    pub(crate) taints: u32,
    unformed: Unformed<'k>,
    pub(crate) layout: Layout,
    pub(crate) mem: ModuleMemory,
    pub(crate) sec_addr: Vec<Option<u64>>,
    pub(crate) resolved: super::simplify_symbols::Resolved,
    pub(crate) exports: super::exports::Exports,
    pub(crate) init_fn: u64,
    pub(crate) exit_fn: u64,
}

/// `load_module` up to `complete_formation`: every stage that reads,
/// checks, lays out, resolves and relocates, in the kernel's order.
/// `stage` names the stage running when an error is returned.
pub(crate) fn prepare_module<'k>(
    kernel: &'k Arc<Kernel>,
    image: ModuleImage,
    opts: &LoadOptions,
    stage: &mut Stage,
) -> Result<Prepared<'k>, LoadError> {
    *stage = Stage::ElfValidityCheck;
    let sections = elf_validity_check(&image.file, &image)?;
    *stage = Stage::SetupLoadInfo;
    let info = setup_load_info(image, sections)?;
    let mut taints = 0u32;
    let early_size_check = kernel.profile.version() >= (6, 4);
    if early_size_check {
        *stage = Stage::ThisModule;
        check_this_module_size(kernel, &info)?;
    }
    *stage = Stage::CheckModstructVersion;
    let versions = Versions::read(&info, opts.ignore_modversions)?;
    check_modstruct_version(kernel, &info, &versions, &mut taints)?;
    *stage = Stage::CheckModinfo;
    check_vermagic(kernel, &info, &versions, opts.ignore_vermagic, &mut taints)?;
    *stage = Stage::ThisModule;
    if !early_size_check {
        check_this_module_size(kernel, &info)?;
    }
    let fields = find_entry_fields(&info, kernel.profile)?;
    *stage = Stage::AddUnformedModule;
    let unformed = add_unformed_module(kernel, &info.name)?;
    taints |= module_augment_kernel_taints(kernel, &info, false);
    *stage = Stage::LayoutSections;
    let grouped = groups_module_memory(kernel.profile);
    let layout = layout_sections(&info, grouped)?;
    *stage = Stage::MoveModule;
    let mem = move_module(&info.name, grouped, &layout)?;
    let sec_addr = section_addresses(&layout, &mem);
    *stage = Stage::PercpuModalloc;
    let percpu = percpu_modalloc(kernel, &info, &layout)?;
    *stage = Stage::SimplifySymbols;
    let cx = SymbolContext {
        info: &info,
        sec_addr: &sec_addr,
        percpu_base: percpu,
        versions: &versions,
        missing: opts.missing,
    };
    let resolved = simplify_symbols(kernel, &cx, &mut taints)?;
    *stage = Stage::ApplyRelocations;
    let mut images = Images::new(&info, &layout);
    let relocator = Relocator {
        kernel,
        info: &info,
        layout: &layout,
        sec_addr: &sec_addr,
        values: &resolved.values,
    };
    apply_relocations(&relocator, &mut images)?;
    *stage = Stage::PostRelocation;
    post_relocation(&info, &mem, &images)?;
    *stage = Stage::FindModuleSections;
    let exports = find_exports(&info, &sec_addr)?;
    let this_module = sec_addr[info.index.mod_].unwrap_or(0);
    let read_field = |f: &Option<super::this_module::EntryField>| {
        f.as_ref().map_or(Ok(0), |f| {
            mm::read_u64(this_module + f.offset)
                .ok_or_else(|| nomem(&info, "__this_module unreadable"))
        })
    };
    let (init_fn, exit_fn) = (read_field(&fields.init)?, read_field(&fields.exit)?);
    Ok(Prepared {
        info,
        taints,
        unformed,
        layout,
        mem,
        sec_addr,
        resolved,
        exports,
        init_fn,
        exit_fn,
    })
}

/// Load a module into `kernel` and run its init.
pub fn load_module(
    kernel: &Arc<Kernel>,
    image: ModuleImage,
    opts: &LoadOptions,
) -> Result<Arc<Module>, LoadError> {
    let mut stage = Stage::ElfValidityCheck;
    let Prepared {
        info,
        taints,
        unformed,
        layout,
        mem,
        sec_addr,
        resolved,
        exports,
        init_fn,
        exit_fn,
    } = prepare_module(kernel, image, opts, &mut stage)?;
    let this_module = sec_addr[info.index.mod_].unwrap_or(0);
    let (bug_table, num_bugs) = bug_table(&info, &sec_addr);
    let orc = orc_table(kernel, &info, &sec_addr);
    let module = Arc::new(Module {
        name: info.name.clone(),
        file: info.file().to_owned(),
        modinfo: info.modinfo.clone(),
        taints,
        this_module,
        init_fn,
        exit_fn,
        bug_table,
        num_bugs,
        orc,
        dyndbg: section_span(&info, &sec_addr, "__dyndbg", 1),
        jump_table: section_span(
            &info,
            &sec_addr,
            "__jump_table",
            crate::kernel::dynamic_debug::JUMP_ENTRY_SIZE,
        ),
        state: Mutex::new(ModuleState::Unformed),
        kallsyms: Mutex::new(Kallsyms::new(
            &info,
            &resolved.values,
            &layout.placement,
            layout.percpu,
        )),
        mem: Mutex::new(mem),
        args_mem: Mutex::new(None),
        exports,
        uses: Mutex::new(Vec::new()),
        holders: Mutex::new(Vec::new()),
        extra_refs: AtomicU32::new(0),
        base_ref_dropped: AtomicBool::new(false),
        freed_init: Mutex::new(None),
        init_died: AtomicBool::new(false),
    });
    complete_formation(kernel, &module, unformed, resolved.uses)?;
    prepare_coming_module(kernel, &info);
    let done = do_init_module(
        kernel,
        &module,
        &opts.args,
        param_table(&info, &sec_addr, kernel),
    );
    // What init set going (work, kthreads) runs before insmod returns.
    task::settle(kernel, "insmod");
    done?;
    Ok(module)
}

fn nomem(info: &LoadInfo, detail: &str) -> LoadError {
    LoadError::NoMemory {
        module: info.name.clone(),
        detail: detail.to_owned(),
    }
}

/// Reserves the name while the module is UNFORMED; dropping it releases it.
struct Unformed<'a> {
    kernel: &'a Kernel,
    name: String,
}

impl Drop for Unformed<'_> {
    fn drop(&mut self) {
        self.kernel.loading().remove(&self.name);
    }
}

/// `add_unformed_module`: a second module of the same name is refused.
fn add_unformed_module<'a>(kernel: &'a Kernel, name: &str) -> Result<Unformed<'a>, LoadError> {
    let modules = kernel.modules();
    let mut loading = kernel.loading();
    if modules.iter().any(|m| m.name == name) || !loading.insert(name.to_owned()) {
        return Err(LoadError::AlreadyLoaded(name.to_owned()));
    }
    Ok(Unformed {
        kernel,
        name: name.to_owned(),
    })
}

/// `percpu_modalloc`: the module's `.data..percpu` goes to per-CPU memory;
/// its symbols become offsets from `%gs`. The unrelocated image is copied,
/// as the kernel does.
fn percpu_modalloc(
    kernel: &Kernel,
    info: &LoadInfo,
    layout: &Layout,
) -> Result<Option<u64>, LoadError> {
    let Some(idx) = layout.percpu else {
        return Ok(None);
    };
    let s = &info.sections[idx];
    let off = kernel
        .percpu
        .alloc(s.size, s.addralign.max(1))
        .map_err(|_| {
            nomem(
                info,
                &format!("Could not allocate {} bytes percpu data", s.size),
            )
        })?;
    kernel
        .percpu
        .write(off, info.section_data(idx))
        .map_err(|e| nomem(info, &e.to_string()))?;
    Ok(Some(off))
}

/// Copy the relocated images into module memory.
fn post_relocation(info: &LoadInfo, mem: &ModuleMemory, images: &Images) -> Result<(), LoadError> {
    for alloc in &mem.allocs {
        for &(m, off, _) in &alloc.parts {
            alloc
                .region
                .write(off, images.get(m))
                .map_err(|e| nomem(info, &e.to_string()))?;
        }
    }
    Ok(())
}

/// The COMING notifiers kload emulates: trace_printk users get the trace
/// buffers (and the kernel's notice, once per boot).
fn prepare_coming_module(kernel: &Kernel, info: &LoadInfo) {
    if info
        .find_sec("__trace_printk_fmt")
        .is_some_and(|i| info.sections[i].size > 0)
    {
        kernel.trace.init_buffers(&kernel.log);
    }
}

/// `complete_formation`: no export may duplicate an existing one; text
/// read-only and executable, rodata read-only, data not executable; the
/// module takes its references on the modules it uses, becomes COMING and
/// joins the list.
fn complete_formation(
    kernel: &Kernel,
    module: &Arc<Module>,
    unformed: Unformed<'_>,
    uses: Vec<Arc<Module>>,
) -> Result<(), LoadError> {
    verify_exported_symbols(kernel, module)?;
    for a in &module.memory().allocs {
        a.protect(false).map_err(|e| LoadError::NoMemory {
            module: module.name.clone(),
            detail: e.to_string(),
        })?;
    }
    module.add_uses(uses);
    // `module_unload_init`: the loader holds a reference while init runs.
    module
        .extra_refs
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    module.set_state(ModuleState::Coming);
    kernel.modules().insert(0, Arc::clone(module));
    drop(unformed);
    Ok(())
}

/// `verify_exported_symbols`: an export already exported by the kernel or
/// another module refuses the load.
fn verify_exported_symbols(kernel: &Kernel, module: &Module) -> Result<(), LoadError> {
    let mut names: Vec<&String> = module.exports.keys().collect();
    names.sort();
    for name in names {
        let owner = if kernel.resolve_kernel_symbol(name).ok().flatten().is_some() {
            Some("kernel".to_owned())
        } else {
            kernel
                .module_list()
                .iter()
                .find(|m| m.exports.contains_key(name))
                .map(|m| m.name.clone())
        };
        if let Some(owner) = owner {
            kernel.log.emit(
                LOGLEVEL_ERR,
                &format!(
                    "{}: exports duplicate symbol {name} (owned by {owner})",
                    module.name
                ),
            );
            return Err(LoadError::DuplicateExport {
                module: module.name.clone(),
                symbol: name.clone(),
                owner,
            });
        }
    }
    Ok(())
}

/// `module_bug_finalize`: where the relocated `__bug_table` lives and how
/// many entries it holds.
fn bug_table(info: &LoadInfo, sec_addr: &[Option<u64>]) -> (u64, u64) {
    info.find_sec("__bug_table")
        .and_then(|i| {
            Some((
                sec_addr[i]?,
                info.sections[i].size / crate::kernel::bug::BUG_ENTRY_SIZE,
            ))
        })
        .unwrap_or((0, 0))
}

/// `unwind_module_init`: the module's relocated ORC tables, read back from
/// module memory and sorted. A module without them (or with sizes that do
/// not agree, which the kernel WARNs about and ignores) has none.
fn orc_table(kernel: &Kernel, info: &LoadInfo, sec_addr: &[Option<u64>]) -> OrcTable {
    let section = |name: &str| {
        let i = info.find_sec(name)?;
        let addr = sec_addr[i]?;
        let bytes = mm::read_bytes(addr, info.sections[i].size as usize)?;
        Some((addr, bytes))
    };
    let (Some((ip_addr, ips)), Some((_, orcs))) =
        (section(".orc_unwind_ip"), section(".orc_unwind"))
    else {
        return OrcTable::default();
    };
    let format = OrcFormat::for_version(kernel.profile.version());
    OrcTable::from_sections(ip_addr, &ips, &orcs, format).unwrap_or_else(|| {
        log::warn!(
            "{}: .orc_unwind_ip and .orc_unwind sizes disagree; no ORC data",
            info.name
        );
        OrcTable::default()
    })
}

/// `find_module_sections` for a table section: its relocated address and
/// its size in `unit`s ((0, 0) when the module has none).
fn section_span(info: &LoadInfo, sec_addr: &[Option<u64>], name: &str, unit: u64) -> (u64, u64) {
    info.find_sec(name)
        .and_then(|i| Some((sec_addr[i]?, info.sections[i].size / unit)))
        .unwrap_or((0, 0))
}

fn param_table(info: &LoadInfo, sec_addr: &[Option<u64>], kernel: &Kernel) -> ParamTable {
    let Some(idx) = info.find_sec("__param") else {
        return ParamTable::default();
    };
    let size = kernel
        .profile
        .get("sizeof(struct kernel_param)")
        .unwrap_or(u64::MAX)
        .max(1);
    ParamTable {
        addr: sec_addr[idx].unwrap_or(0),
        count: info.sections[idx].size / size,
    }
}

/// Unload a module: run its exit on an "rmmod" task, then free it.
///
/// Refused, in the kernel's order, when the module is not loaded (ENOENT),
/// other modules use it (EWOULDBLOCK), it is still loading or already
/// unloading (EBUSY), it has init but no exit (EBUSY unless `force`), or
/// something holds a reference (EWOULDBLOCK unless `force`). Forcing
/// taints the kernel (R).
pub fn delete_module(kernel: &Arc<Kernel>, name: &str, force: bool) -> Result<(), RemoveError> {
    let module = kernel.modules().iter().find(|m| m.name == name).cloned();
    let module = module.ok_or_else(|| RemoveError::NotLoaded(name.to_owned()))?;
    if !module.holders().is_empty() {
        return Err(RemoveError::InUse {
            name: name.to_owned(),
            holders: module.holders(),
        });
    }
    if module.state() == ModuleState::Coming && force && module.init_died() {
        remove_dead_coming(kernel, &module);
        return Ok(());
    }
    if module.state() != ModuleState::Live {
        return Err(RemoveError::NotLive(name.to_owned()));
    }
    let forced_needed = (module.init_fn != 0 && module.exit_fn == 0) || module.refcount() != 0;
    if forced_needed && !force {
        if module.init_fn != 0 && module.exit_fn == 0 {
            return Err(RemoveError::NoExit(name.to_owned()));
        }
        return Err(RemoveError::InUse {
            name: name.to_owned(),
            holders: Vec::new(),
        });
    }
    if forced_needed {
        kernel.taint.add(crate::kernel::panic::TAINT_FORCED_RMMOD);
        kernel.lockdep_off();
    }
    // `try_release_module_ref`: the base reference goes unless someone
    // else holds one (a forced unload keeps it).
    if module.refcount() == 0 {
        module
            .base_ref_dropped
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    module.set_state(ModuleState::Going);
    // exit, then `destroy_params` (charp copies), on the rmmod task.
    let exit = module.exit_fn;
    let outcome = run_task(kernel, "rmmod", || {
        let ret = if exit != 0 {
            let before = kernel.sched.preempt_count(&kernel.percpu).ok();
            let ret = task::call_module(exit, [0; 6]).map(|_| ());
            if ret.is_ok() {
                check_exit_preempt(kernel, &module, before);
            }
            ret
        } else {
            Ok(())
        };
        if ret.is_ok() {
            // Timers, work and kthreads the exit left behind.
            crate::kernel::unload_task_check(kernel, &module);
            super::params::destroy_module_params(kernel, &module);
            // `lockdep_sys_exit`: rmmod returns to user space.
            release_held_locks(kernel);
        }
        ret
    })
    .map_err(|e| RemoveError::ExitKilled {
        module: name.to_owned(),
        reason: e.to_string(),
    })?;
    if let Err(reason) = outcome {
        return Err(RemoveError::ExitKilled {
            module: name.to_owned(),
            reason,
        });
    }
    kernel.set_last_unloaded(&module);
    super::do_init_module::unlink_and_free(kernel, &module);
    task::settle(kernel, "rmmod");
    Ok(())
}

/// `rmmod -f` of a module left COMING because the task running its init
/// died (an Oops). The kernel refuses it (EBUSY) until reboot; kload
/// removes it: exit is not called (init never finished), the loader's
/// reference and the use links are dropped, the parameters freed, the
/// kernel tainted R as for any forced removal.
fn remove_dead_coming(kernel: &Arc<Kernel>, module: &Arc<Module>) {
    kernel.taint.add(crate::kernel::panic::TAINT_FORCED_RMMOD);
    kernel.lockdep_off();
    kernel.log.emit(
        crate::kernel::printk::LOGLEVEL_WARNING,
        &format!(
            "kload: {}: removed while still loading (its init task died)",
            module.name
        ),
    );
    module.set_state(ModuleState::Going);
    module
        .extra_refs
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let _ = run_task(kernel, "rmmod", || {
        crate::kernel::unload_task_check(kernel, module);
        super::params::destroy_module_params(kernel, module);
    });
    kernel.set_last_unloaded(module);
    super::do_init_module::unlink_and_free(kernel, module);
}
