//! `elf_validity_check` (kernel/module/main.c): the ELF header and section
//! table, checked before anything reads through them.

use scroll::Pread;

use super::error::{ElfDefect, LoadError, Location};
use super::load_info::{section_bytes, Section};
use crate::elf::defs::*;

/// Largest alignment kload lays out: the kernel never sees more than a page.
const MAX_ALIGN: u64 = 4096;

/// Validate the image and return its section table with names.
///
/// Checks, in the kernel's order where the kernel has them:
/// - the image holds an ELF header and starts with `\x7fELF`;
/// - it is ELF64 little-endian (the kernel relies on `elf_check_arch` for this);
/// - `e_type` is ET_REL and `e_machine` is EM_X86_64;
/// - `e_shentsize` is 64 and the section table lies inside the file;
/// - `e_shstrndx` is a real section, and the name table is non-empty,
///   inside the file and NUL-terminated;
/// - section 0 is SHT_NULL with zero size and address;
/// - every section with file contents lies inside the file;
/// - every section name offset lies inside the name table;
/// - a SYMTAB links to a real section;
///
/// Beyond the kernel, so that later stages can trust the table:
/// - alignments are powers of two up to a page;
/// - SYMTAB and RELA entry sizes and section sizes fit their entry types;
/// - a RELA section links to the SYMTAB and its `sh_info` is a section index.
pub fn elf_validity_check(file: &str, image: &[u8]) -> Result<Vec<Section>, LoadError> {
    let hdr = check_header(file, image)?;
    let shnum = hdr.e_shnum;
    let shoff = hdr.e_shoff;
    let elf_err = |at: Location, defect| LoadError::Elf { at, defect };
    let mut sections = Vec::with_capacity(usize::from(shnum));
    for i in 0..usize::from(shnum) {
        // In bounds: check_header proved shoff + shnum * 64 <= len.
        let off = usize::try_from(shoff).unwrap_or(usize::MAX) + i * SIZEOF_SHDR;
        let sh: goblin::elf64::section_header::SectionHeader = image
            .pread_with(off, scroll::LE)
            .map_err(|_| elf_err(Location::at(file, off as u64), ElfDefect::ShdrOverflow))?;
        sections.push(Section {
            index: i,
            name: String::new(),
            name_offset: sh.sh_name,
            sh_type: sh.sh_type,
            flags: sh.sh_flags,
            addr: sh.sh_addr,
            offset: sh.sh_offset,
            size: sh.sh_size,
            link: sh.sh_link,
            info: sh.sh_info,
            addralign: sh.sh_addralign,
            entsize: sh.sh_entsize,
        });
    }
    check_shstrtab(file, image, &sections, hdr.e_shstrndx)?;
    check_sections(file, image, &mut sections, usize::from(hdr.e_shstrndx))?;
    Ok(sections)
}

fn check_header(file: &str, image: &[u8]) -> Result<goblin::elf64::header::Header, LoadError> {
    let at = |off: u64| Location::at(file, off);
    let err = |off: u64, defect| LoadError::Elf {
        at: at(off),
        defect,
    };
    if image.len() < SIZEOF_EHDR {
        return Err(err(0, ElfDefect::HeaderLen(image.len() as u64)));
    }
    if &image[..4] != b"\x7fELF" {
        return Err(err(0, ElfDefect::Magic));
    }
    if image[4] != ELFCLASS64 || image[5] != ELFDATA2LSB {
        return Err(err(
            4,
            ElfDefect::ClassOrData {
                class: image[4],
                data: image[5],
            },
        ));
    }
    let hdr: goblin::elf64::header::Header = image
        .pread_with(0, scroll::LE)
        .map_err(|_| err(0, ElfDefect::HeaderLen(image.len() as u64)))?;
    if hdr.e_type != ET_REL {
        return Err(err(16, ElfDefect::Type(hdr.e_type)));
    }
    if hdr.e_machine != EM_X86_64 {
        return Err(err(18, ElfDefect::Machine(hdr.e_machine)));
    }
    if usize::from(hdr.e_shentsize) != SIZEOF_SHDR {
        return Err(err(58, ElfDefect::ShentSize(hdr.e_shentsize)));
    }
    let table = u64::from(hdr.e_shnum) * SIZEOF_SHDR as u64;
    if hdr.e_shoff >= image.len() as u64
        || hdr
            .e_shoff
            .checked_add(table)
            .is_none_or(|end| end > image.len() as u64)
    {
        return Err(err(40, ElfDefect::ShdrOverflow));
    }
    if hdr.e_shstrndx == 0 || hdr.e_shstrndx >= hdr.e_shnum {
        return Err(err(
            62,
            ElfDefect::ShstrIndex {
                shstrndx: hdr.e_shstrndx,
                shnum: hdr.e_shnum,
            },
        ));
    }
    Ok(hdr)
}

fn in_file(image: &[u8], s: &Section) -> bool {
    s.sh_type == SHT_NOBITS
        || s.offset
            .checked_add(s.size)
            .is_some_and(|end| end <= image.len() as u64)
}

fn check_shstrtab(
    file: &str,
    image: &[u8],
    sections: &[Section],
    shstrndx: u16,
) -> Result<(), LoadError> {
    let idx = usize::from(shstrndx);
    let s = &sections[idx];
    let at = Location::section(file, idx, "", Some(s.offset));
    let err = |defect| LoadError::Elf {
        at: at.clone(),
        defect,
    };
    if s.sh_type == SHT_NOBITS || !in_file(image, s) {
        return Err(err(ElfDefect::SectionOverflow {
            index: idx,
            sh_type: s.sh_type,
        }));
    }
    let data = section_bytes(image, s);
    if data.is_empty() {
        return Err(err(ElfDefect::EmptyShstrtab));
    }
    if data.last() != Some(&0) {
        return Err(err(ElfDefect::ShstrtabUnterminated));
    }
    Ok(())
}

fn check_sections(
    file: &str,
    image: &[u8],
    sections: &mut [Section],
    shstrndx: usize,
) -> Result<(), LoadError> {
    let shnum = sections.len();
    let names = section_bytes(image, &sections[shstrndx]).to_vec();
    let null = &sections[0];
    if null.sh_type != SHT_NULL || null.size != 0 || null.addr != 0 {
        return Err(LoadError::Elf {
            at: Location::section(file, 0, "", None),
            defect: ElfDefect::NullSection(null.sh_type),
        });
    }
    let symtab_index = sections.iter().position(|s| s.sh_type == SHT_SYMTAB);
    for s in sections.iter_mut().skip(1) {
        let err = |s: &Section, defect| LoadError::Elf {
            at: Location::section(file, s.index, &s.name, Some(s.offset)),
            defect,
        };
        let name_off = s.name_offset as usize;
        if name_off >= names.len() {
            return Err(err(
                s,
                ElfDefect::SectionName {
                    index: s.index,
                    sh_type: s.sh_type,
                },
            ));
        }
        s.name = cstr_at(&names, name_off);
        if !in_file(image, s) {
            return Err(err(
                s,
                ElfDefect::SectionOverflow {
                    index: s.index,
                    sh_type: s.sh_type,
                },
            ));
        }
        if s.addralign > MAX_ALIGN || (s.addralign != 0 && !s.addralign.is_power_of_two()) {
            return Err(err(s, ElfDefect::Align(s.addralign)));
        }
        match s.sh_type {
            SHT_SYMTAB => {
                if s.link == 0 || s.link as usize >= shnum {
                    return Err(err(
                        s,
                        ElfDefect::SymtabLink {
                            link: s.link,
                            shnum: shnum as u16,
                        },
                    ));
                }
                check_entsize(s, SIZEOF_SYM).map_err(|d| err(s, d))?;
            }
            SHT_RELA => {
                if Some(s.link as usize) != symtab_index {
                    return Err(err(s, ElfDefect::RelaLink { link: s.link }));
                }
                if s.info as usize >= shnum {
                    return Err(err(
                        s,
                        ElfDefect::RelaInfo {
                            info: s.info,
                            shnum: shnum as u16,
                        },
                    ));
                }
                check_entsize(s, SIZEOF_RELA).map_err(|d| err(s, d))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_entsize(s: &Section, expected: usize) -> Result<(), ElfDefect> {
    let expected = expected as u64;
    if s.entsize != expected || s.size % expected != 0 {
        return Err(ElfDefect::EntSize {
            entsize: s.entsize,
            size: s.size,
            expected,
        });
    }
    Ok(())
}

/// The NUL-terminated string at `off` (lossy UTF-8: names are shown, never trusted).
pub(crate) fn cstr_at(table: &[u8], off: usize) -> String {
    let tail = table.get(off..).unwrap_or(&[]);
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end]).into_owned()
}
