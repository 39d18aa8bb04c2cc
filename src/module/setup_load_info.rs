//! `setup_load_info`: find the sections the loader needs and read the
//! symbol table, `.modinfo` and the module name.

use scroll::Pread;

use super::elf_validity::cstr_at;
use super::error::{ElfDefect, LoadError, Location};
use super::image::ModuleImage;
use super::load_info::{find_sec, section_bytes, Indices, LoadInfo, Section, Symbol};
use super::modinfo::Modinfo;
use crate::elf::defs::*;

/// Offset and length of `struct module`'s `name` field: the same on every
/// kernel (the kmod testsuite reads it there too).
pub const MODULE_NAME_OFFSET: usize = 0x18;
pub const MODULE_NAME_LEN: usize = 56;

/// Build the `LoadInfo` of a validated image.
///
/// Checks:
/// - exactly one symbol table, with a NUL-terminated string table;
/// - every symbol name lies inside the string table;
/// - at most one `.modinfo`;
/// - exactly one `.gnu.linkonce.this_module`, with contents, SHF_ALLOC, and
///   large enough to hold the name field;
/// - the name field of `__this_module` agrees with modinfo `name=`.
pub fn setup_load_info(image: ModuleImage, sections: Vec<Section>) -> Result<LoadInfo, LoadError> {
    let file = image.file.clone();
    let err = |s: Option<&Section>, defect| LoadError::Elf {
        at: s.map_or_else(
            || Location::file(&file),
            |s| Location::section(&file, s.index, &s.name, None),
        ),
        defect,
    };
    let mut symtabs = sections.iter().filter(|s| s.sh_type == SHT_SYMTAB);
    let symtab = symtabs
        .next()
        .ok_or_else(|| err(None, ElfDefect::NoSymbols))?;
    if let Some(extra) = symtabs.next() {
        return Err(err(Some(extra), ElfDefect::MultipleSymtabs));
    }
    let strtab = &sections[symtab.link as usize];
    let strings = section_bytes(&image, strtab);
    if strtab.sh_type == SHT_NOBITS || strings.last() != Some(&0) {
        return Err(err(Some(strtab), ElfDefect::StrtabUnterminated));
    }
    let symbols = read_symbols(&file, &image, symtab, strings)?;

    let mut infos = sections.iter().filter(|s| s.name == ".modinfo");
    let info = infos.next();
    if let Some(extra) = infos.next() {
        return Err(err(Some(extra), ElfDefect::MultipleModinfo));
    }
    let modinfo = info
        .filter(|s| s.is_alloc())
        .map_or_else(Modinfo::default, |s| {
            Modinfo::parse(section_bytes(&image, s))
        });

    let this_module = find_this_module(&file, &sections)?;
    let field = name_field(section_bytes(&image, this_module));
    let name = match modinfo.get("name") {
        Some(n) if n != field => {
            return Err(err(
                Some(this_module),
                ElfDefect::NameMismatch {
                    field,
                    modinfo: n.to_owned(),
                },
            ))
        }
        Some(n) => n.to_owned(),
        None => field,
    };
    let index = Indices {
        sym: symtab.index,
        str: strtab.index,
        mod_: this_module.index,
        info: info.map(|s| s.index),
        vers: sections
            .iter()
            .find(|s| s.name == "__versions")
            .map(|s| s.index),
        pcpu: find_sec(&sections, ".data..percpu"),
    };
    Ok(LoadInfo {
        image,
        sections,
        symbols,
        index,
        modinfo,
        name,
    })
}

fn read_symbols(
    file: &str,
    image: &[u8],
    symtab: &Section,
    strings: &[u8],
) -> Result<Vec<Symbol>, LoadError> {
    let data = section_bytes(image, symtab);
    let mut out = Vec::with_capacity(data.len() / SIZEOF_SYM);
    for i in 0..data.len() / SIZEOF_SYM {
        let off = i * SIZEOF_SYM;
        let at = || Location::section(file, symtab.index, &symtab.name, Some(off as u64));
        let sym: goblin::elf64::sym::Sym =
            data.pread_with(off, scroll::LE)
                .map_err(|_| LoadError::Elf {
                    at: at(),
                    defect: ElfDefect::SectionOverflow {
                        index: symtab.index,
                        sh_type: SHT_SYMTAB,
                    },
                })?;
        if sym.st_name as usize >= strings.len() {
            return Err(LoadError::Elf {
                at: at(),
                defect: ElfDefect::SymbolName(sym.st_name),
            });
        }
        out.push(Symbol {
            name: cstr_at(strings, sym.st_name as usize),
            value: sym.st_value,
            size: sym.st_size,
            shndx: sym.st_shndx,
            bind: sym.st_info >> 4,
            sym_type: sym.st_info & 0xf,
        });
    }
    Ok(out)
}

fn find_this_module<'a>(file: &str, sections: &'a [Section]) -> Result<&'a Section, LoadError> {
    let mut found = sections
        .iter()
        .filter(|s| s.name == ".gnu.linkonce.this_module");
    let err = |s: Option<&Section>, defect| LoadError::Elf {
        at: s.map_or_else(
            || Location::file(file),
            |s| Location::section(file, s.index, &s.name, None),
        ),
        defect,
    };
    let s = found
        .next()
        .ok_or_else(|| err(None, ElfDefect::NoThisModule))?;
    if let Some(extra) = found.next() {
        return Err(err(Some(extra), ElfDefect::MultipleThisModule));
    }
    if s.sh_type == SHT_NOBITS {
        return Err(err(Some(s), ElfDefect::ThisModuleNoBits));
    }
    if !s.is_alloc() {
        return Err(err(Some(s), ElfDefect::ThisModuleNotAlloc));
    }
    let min = (MODULE_NAME_OFFSET + MODULE_NAME_LEN) as u64;
    if s.size < min {
        return Err(err(
            Some(s),
            ElfDefect::ThisModuleSize {
                size: s.size,
                expected: min,
            },
        ));
    }
    Ok(s)
}

/// The NUL-terminated `name` field of an on-disk `struct module`.
fn name_field(this_module: &[u8]) -> String {
    let field = this_module
        .get(MODULE_NAME_OFFSET..MODULE_NAME_OFFSET + MODULE_NAME_LEN)
        .unwrap_or(&[]);
    cstr_at(field, 0)
}
