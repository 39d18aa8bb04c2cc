//! `layout_sections` (kernel/module/main.c): which memory region each
//! SHF_ALLOC section goes to, and at which offset.
//!
//! Sections are swept twice (core, then init: names starting `.init`), each
//! time in five passes by flags, and within a pass in section-index order:
//! text (ALLOC|EXEC), read-only data (ALLOC, not WRITE), ro-after-init,
//! writable data, then whatever ALLOC is left. `.exit.*` stays in core,
//! since modules can be unloaded. Offsets honour `sh_addralign`; `sh_addr`
//! from the file is ignored (6.12 modules carry non-zero ones).
//!
//! The two kernels then place the regions differently: 6.1 packs the core
//! regions into one allocation (text, rodata, ro_after_init, data, each
//! starting on a page) and the init regions into another; 6.12 gives every
//! non-empty region its own page-aligned allocation.

use super::error::LoadError;
use super::load_info::LoadInfo;
use crate::elf::defs::*;
use crate::mm::PAGE_SIZE;

/// `enum mod_mem_type`, in the kernel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemType {
    Text = 0,
    Data,
    Rodata,
    RoAfterInit,
    InitText,
    InitData,
    InitRodata,
}

impl MemType {
    pub const ALL: [MemType; 7] = [
        MemType::Text,
        MemType::Data,
        MemType::Rodata,
        MemType::RoAfterInit,
        MemType::InitText,
        MemType::InitData,
        MemType::InitRodata,
    ];

    pub fn is_init(self) -> bool {
        matches!(
            self,
            MemType::InitText | MemType::InitData | MemType::InitRodata
        )
    }

    pub fn is_text(self) -> bool {
        matches!(self, MemType::Text | MemType::InitText)
    }

    pub fn name(self) -> &'static str {
        match self {
            MemType::Text => "text",
            MemType::Data => "data",
            MemType::Rodata => "rodata",
            MemType::RoAfterInit => "ro_after_init",
            MemType::InitText => "init_text",
            MemType::InitData => "init_data",
            MemType::InitRodata => "init_rodata",
        }
    }
}

/// Where one section goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub mem: MemType,
    pub offset: u64,
}

/// The result of layout: per section a placement (or none), per region its size.
#[derive(Debug, Clone)]
pub struct Layout {
    pub placement: Vec<Option<Placement>>,
    /// Unrounded size of each `MemType` region.
    pub size: [u64; 7],
    /// The module's `.data..percpu` section, which goes to per-CPU memory.
    pub percpu: Option<usize>,
}

/// A sweep pass: required flags, forbidden flags, and where core/init go.
struct Pass {
    required: u64,
    forbidden: u64,
    core: MemType,
    init: MemType,
}

const PASSES: [Pass; 5] = [
    Pass {
        required: SHF_EXECINSTR | SHF_ALLOC,
        forbidden: 0,
        core: MemType::Text,
        init: MemType::InitText,
    },
    Pass {
        required: SHF_ALLOC,
        forbidden: SHF_WRITE,
        core: MemType::Rodata,
        init: MemType::InitRodata,
    },
    Pass {
        required: SHF_RO_AFTER_INIT | SHF_ALLOC,
        forbidden: 0,
        core: MemType::RoAfterInit,
        init: MemType::InitData,
    },
    Pass {
        required: SHF_WRITE | SHF_ALLOC,
        forbidden: 0,
        core: MemType::Data,
        init: MemType::InitData,
    },
    Pass {
        required: SHF_ALLOC,
        forbidden: 0,
        core: MemType::Data,
        init: MemType::InitData,
    },
];

/// Sections the loader never copies into module memory
/// (`rewrite_section_headers` clears their SHF_ALLOC).
fn never_copied(name: &str) -> bool {
    name == ".modinfo" || name == "__versions"
}

/// The flags `layout_sections` sees for a section, after the loader's own
/// adjustments: `.data..ro_after_init` and `__jump_table` gain
/// SHF_RO_AFTER_INIT; `.modinfo`, `__versions` and `.data..percpu` lose SHF_ALLOC.
pub fn effective_flags(name: &str, flags: u64) -> u64 {
    if never_copied(name) || name == ".data..percpu" {
        flags & !SHF_ALLOC
    } else if name == ".data..ro_after_init" || name == "__jump_table" {
        flags | SHF_RO_AFTER_INIT
    } else {
        flags
    }
}

/// Lay the sections out.
///
/// Checks `module_enforce_rwx_sections`: no section may be both writable and
/// executable.
pub fn layout_sections(info: &LoadInfo, grouped: bool) -> Result<Layout, LoadError> {
    let flags: Vec<u64> = info
        .sections
        .iter()
        .map(|s| effective_flags(&s.name, s.flags))
        .collect();
    for s in &info.sections {
        if s.flags & (SHF_WRITE | SHF_EXECINSTR) == SHF_WRITE | SHF_EXECINSTR
            && s.flags & SHF_ALLOC != 0
        {
            return Err(LoadError::WriteExec {
                module: info.name.clone(),
                section: s.name.clone(),
                index: s.index,
            });
        }
    }
    let mut placement = vec![None; info.sections.len()];
    let mut size = [0u64; 7];
    for init in [false, true] {
        for pass in &PASSES {
            for s in info.sections.iter().skip(1) {
                let f = flags[s.index];
                if f & pass.required != pass.required
                    || f & pass.forbidden != 0
                    || placement[s.index].is_some()
                    || s.name.starts_with(".init") != init
                {
                    continue;
                }
                let mem = if init { pass.init } else { pass.core };
                let align = s.addralign.max(1);
                let offset = size[mem as usize].div_ceil(align) * align;
                size[mem as usize] = offset + s.size;
                placement[s.index] = Some(Placement { mem, offset });
            }
        }
    }
    let percpu = info.index.pcpu.filter(|&i| info.sections[i].size > 0);
    let mut layout = Layout {
        placement,
        size,
        percpu,
    };
    layout_symtab(info, &mut layout, &flags, grouped);
    Ok(layout)
}

/// `layout_symtab`: room for the symbol tables kallsyms keeps. The core
/// part (symbol 0 and every named symbol of a loaded core section, their
/// names and one type byte each) goes after the core data; the whole symbol
/// and string tables, plus a type byte per symbol, go after the init data.
/// 6.1 page-aligns the whole core and the whole init part first (its
/// `strict_align` at the end of the last pass), so the tables start on a
/// page of their own there; 6.12 appends them to MOD_DATA/MOD_INIT_DATA.
/// kload keeps its own symbol table, so this is space only: it makes the
/// sizes the kernel reports come out the same.
fn layout_symtab(info: &LoadInfo, layout: &mut Layout, flags: &[u64], grouped: bool) {
    let is_core_symbol = |s: &super::load_info::Symbol| {
        let shndx = usize::from(s.shndx);
        if s.shndx == SHN_UNDEF || shndx >= info.sections.len() || s.name.is_empty() {
            return false;
        }
        if Some(shndx) == info.index.pcpu {
            return true;
        }
        flags[shndx] & SHF_ALLOC != 0 && !layout.placement[shndx].is_some_and(|p| p.mem.is_init())
    };
    let core: Vec<&super::load_info::Symbol> = info
        .symbols
        .iter()
        .enumerate()
        .filter(|(i, s)| *i == 0 || is_core_symbol(s))
        .map(|(_, s)| s)
        .collect();
    let ncore = core.len() as u64;
    let core_strtab: u64 = core.iter().map(|s| s.name.len() as u64 + 1).sum();
    let nsrc = info.symbols.len() as u64;
    let strtab = info.sections[info.index.str].size;
    let (data, init) = (MemType::Data as usize, MemType::InitData as usize);
    if grouped {
        layout.size[data] = page_align(layout.size[data]);
        layout.size[init] = page_align(layout.size[init]);
    }
    let symoffs = layout.size[data].div_ceil(8) * 8;
    layout.size[data] = symoffs + ncore * SIZEOF_SYM as u64 + core_strtab + ncore;
    let init_symoffs = layout.size[init].div_ceil(8) * 8;
    layout.size[init] = init_symoffs + nsrc * SIZEOF_SYM as u64 + strtab + nsrc;
}

/// Does this kernel pack module memory into one core and one init
/// allocation (before 6.4's `mod_mem_type` regions)?
pub fn groups_module_memory(profile: &crate::profile::KernelProfile) -> bool {
    profile.version() < (6, 4)
}

/// How regions group into allocations: `grouped` (6.1 and older) packs
/// core and init into one allocation each; later kernels allocate each
/// region on its own.
pub fn allocation_groups(grouped: bool) -> Vec<Vec<MemType>> {
    use MemType::*;
    if grouped {
        vec![
            vec![Text, Rodata, RoAfterInit, Data],
            vec![InitText, InitRodata, InitData],
        ]
    } else {
        MemType::ALL.iter().map(|&m| vec![m]).collect()
    }
}

pub fn page_align(v: u64) -> u64 {
    v.div_ceil(PAGE_SIZE) * PAGE_SIZE
}
