//! `struct load_info`: everything the loader learned about one module file.
//!
//! It is built once by `elf_validity_check` and `setup_load_info` and stays
//! read-only afterwards: layout results and resolved symbol values live in
//! their own tables (`Layout`, `ResolvedSymbols`), never in the parsed ELF.

use scroll::Pread;

use super::error::{ElfDefect, LoadError, Location};
use super::image::ModuleImage;
use super::modinfo::Modinfo;
use crate::elf::defs::*;

/// One section header, converted from goblin's type once, after validation.
#[derive(Debug, Clone)]
pub struct Section {
    pub index: usize,
    pub name: String,
    /// `sh_name`: offset of the name in the section name table.
    pub name_offset: u32,
    pub sh_type: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub addralign: u64,
    pub entsize: u64,
}

impl Section {
    pub fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }
    /// Bytes this section occupies in the file (NOBITS occupy none).
    pub fn file_size(&self) -> u64 {
        if self.sh_type == SHT_NOBITS {
            0
        } else {
            self.size
        }
    }
}

/// One symbol-table entry with its name.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub value: u64,
    pub size: u64,
    pub shndx: u16,
    pub bind: u8,
    pub sym_type: u8,
}

/// One `Elf64_Rela`.
#[derive(Debug, Clone, Copy)]
pub struct Rela {
    pub offset: u64,
    pub sym: usize,
    pub r_type: u32,
    pub addend: i64,
}

/// Indices of the sections the loader treats specially (`info->index`).
#[derive(Debug, Clone, Default)]
pub struct Indices {
    pub sym: usize,
    pub str: usize,
    pub mod_: usize,
    pub info: Option<usize>,
    pub vers: Option<usize>,
    pub pcpu: Option<usize>,
}

/// The validated module file.
pub struct LoadInfo {
    pub image: ModuleImage,
    pub sections: Vec<Section>,
    pub symbols: Vec<Symbol>,
    pub index: Indices,
    pub modinfo: Modinfo,
    /// The module name (modinfo `name=`, else the name field of `__this_module`).
    pub name: String,
}

impl LoadInfo {
    pub fn file(&self) -> &str {
        &self.image.file
    }

    /// The file bytes of a section (empty for NOBITS). Bounds were checked by
    /// `elf_validity_check`, so this cannot fail for a validated section.
    pub fn section_data(&self, index: usize) -> &[u8] {
        section_bytes(&self.image, &self.sections[index])
    }

    pub fn find_sec(&self, name: &str) -> Option<usize> {
        find_sec(&self.sections, name)
    }

    pub fn location(&self, section: usize, offset: Option<u64>) -> Location {
        let name = self.sections.get(section).map_or("", |s| s.name.as_str());
        Location::section(self.file(), section, name, offset)
    }

    /// The entries of a RELA section, decoded with goblin.
    pub fn relocations(&self, index: usize) -> Result<Vec<Rela>, LoadError> {
        let data = self.section_data(index);
        let count = data.len() / SIZEOF_RELA;
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let off = i * SIZEOF_RELA;
            let r: goblin::elf64::reloc::Rela =
                data.pread_with(off, scroll::LE)
                    .map_err(|_| LoadError::Elf {
                        at: self.location(index, Some(off as u64)),
                        defect: ElfDefect::SectionOverflow {
                            index,
                            sh_type: SHT_RELA,
                        },
                    })?;
            let sym = usize::try_from(r.r_info >> 32).unwrap_or(usize::MAX);
            // The low 32 bits of r_info are the type, by the ELF64 definition.
            let r_type = (r.r_info & 0xffff_ffff) as u32;
            out.push(Rela {
                offset: r.r_offset,
                sym,
                r_type,
                addend: r.r_addend,
            });
        }
        Ok(out)
    }
}

/// `find_sec`: the first SHF_ALLOC section with this name, as the kernel looks it up.
pub fn find_sec(sections: &[Section], name: &str) -> Option<usize> {
    sections
        .iter()
        .skip(1)
        .find(|s| s.is_alloc() && s.name == name)
        .map(|s| s.index)
}

pub(crate) fn section_bytes<'a>(image: &'a [u8], s: &Section) -> &'a [u8] {
    if s.sh_type == SHT_NOBITS || s.size == 0 {
        return &[];
    }
    // Invariant: elf_validity_check proved offset + size <= image.len() for
    // every non-NOBITS section, so these conversions and the slice succeed.
    let start = usize::try_from(s.offset).unwrap_or(usize::MAX);
    let end = start.saturating_add(usize::try_from(s.size).unwrap_or(usize::MAX));
    image.get(start..end).unwrap_or(&[])
}
