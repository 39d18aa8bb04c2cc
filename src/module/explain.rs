//! `kload explain`: how a module's `init` and `exit` reach `struct module`,
//! shown on the user's own file (the chain modpost builds; see
//! shared/seed). It reads the file only; nothing is loaded.

use std::fmt::{self, Write as _};

use super::elf_validity::elf_validity_check;
use super::error::LoadError;
use super::image::ModuleImage;
use super::load_info::{LoadInfo, Symbol};
use super::setup_load_info::{setup_load_info, MODULE_NAME_OFFSET};
use super::this_module::{find_entry_fields, EntryField};
use crate::elf::defs::*;
use crate::profile::{KernelProfile, Match};

/// The explanation, ready to print.
pub struct Explanation {
    text: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Explain `image`. `disasm` adds the first instructions of init and exit.
pub fn explain(image: ModuleImage, disasm: bool) -> Result<Explanation, LoadError> {
    let sections = elf_validity_check(&image.file, &image)?;
    let info = setup_load_info(image, sections)?;
    let vermagic = info.modinfo.get("vermagic").unwrap_or("");
    let profile = crate::profile::find_profile(vermagic)?;
    let mut t = String::new();
    header(&mut t, &info, profile);
    this_module(&mut t, &info);
    let fields = match profile {
        Some((p, _)) => Some(find_entry_fields(&info, p)?),
        None => None,
    };
    wiring(&mut t, &info, fields.as_ref().map(|f| (&f.init, &f.exit)));
    targets(&mut t, &info, disasm);
    modinfo(&mut t, &info);
    Ok(Explanation { text: t })
}

fn header(t: &mut String, info: &LoadInfo, profile: Option<(&KernelProfile, Match)>) {
    let vermagic = info.modinfo.get("vermagic").unwrap_or("(none)");
    let _ = writeln!(t, "{}: module {}", info.file(), info.name);
    let _ = writeln!(t, "  vermagic    {vermagic}");
    match profile {
        Some((p, Match::Exact)) => {
            let _ = writeln!(
                t,
                "  profile     {}, exact match",
                crate::describe_profile(p)
            );
        }
        Some((p, Match::SameSeries)) => {
            let _ = writeln!(
                t,
                "  profile     {}, same series",
                crate::describe_profile(p)
            );
        }
        None => {
            let _ = writeln!(
                t,
                "  profile     none: kload has no kernel profile for this vermagic"
            );
        }
    }
    let _ = writeln!(t);
}

fn this_module(t: &mut String, info: &LoadInfo) {
    let s = &info.sections[info.index.mod_];
    let sym = info.symbols.iter().find(|y| y.name == "__this_module");
    let _ = writeln!(
        t,
        "__this_module: the module's struct module, built by modpost in <module>.mod.c"
    );
    if let Some(y) = sym {
        let _ = writeln!(
            t,
            "  symbol      __this_module, {} bytes at section offset {:#x}",
            y.size, y.value
        );
    }
    let _ = writeln!(
        t,
        "  section     [{}] {}: file offset {:#x}, size {:#x}, align {}",
        s.index, s.name, s.offset, s.size, s.addralign
    );
    let data = info.section_data(s.index);
    let name = data
        .get(MODULE_NAME_OFFSET..)
        .map(|d| super::elf_validity::cstr_at(d, 0))
        .unwrap_or_default();
    let _ = writeln!(
        t,
        "  name field  {name:?} at offset {MODULE_NAME_OFFSET:#x} (modinfo name={:?})",
        info.modinfo.get("name").unwrap_or("")
    );
    let _ = writeln!(t);
}

fn wiring(
    t: &mut String,
    info: &LoadInfo,
    fields: Option<(&Option<EntryField>, &Option<EntryField>)>,
) {
    let rela = info
        .sections
        .iter()
        .find(|s| s.sh_type == SHT_RELA && s.info as usize == info.index.mod_);
    let Some(rela) = rela else {
        let _ = writeln!(
            t,
            "No relocations target __this_module: the module has neither init nor exit.\n"
        );
        return;
    };
    let _ = writeln!(
        t,
        "How init and exit are set: relocations in [{}] {}",
        rela.index, rela.name
    );
    for r in info.relocations(rela.index).unwrap_or_default() {
        let sym = info.symbols.get(r.sym).map_or("?", |s| s.name.as_str());
        let field = match fields {
            Some((Some(i), _)) if i.offset == r.offset => " -> struct module.init",
            Some((_, Some(e))) if e.offset == r.offset => " -> struct module.exit",
            _ => "",
        };
        let _ = writeln!(
            t,
            "  offset {:#06x}  {} {sym} + {}{field}",
            r.offset,
            r_type_name(r.r_type),
            r.addend
        );
    }
    let _ = writeln!(
        t,
        "  (field offsets checked against the kernel profile's offsetof(struct module, init/exit))"
    );
    let _ = writeln!(t);
}

fn targets(t: &mut String, info: &LoadInfo, disasm: bool) {
    let _ = writeln!(t, "The functions they point to:");
    for name in ["init_module", "cleanup_module"] {
        let Some(sym) = info
            .symbols
            .iter()
            .find(|s| s.name == name && s.shndx != SHN_UNDEF)
        else {
            let _ = writeln!(
                t,
                "  {name:<15} not defined: the {} pointer stays NULL",
                if name == "init_module" {
                    "init"
                } else {
                    "exit"
                }
            );
            continue;
        };
        let sec = info.sections.get(usize::from(sym.shndx));
        let sec_name = sec.map_or("?", |s| s.name.as_str());
        let _ = writeln!(
            t,
            "  {name:<15} [{}] {sec_name} + {:#x}, {} bytes",
            sym.shndx, sym.value, sym.size
        );
        let aliases: Vec<&str> = aliases_of(info, sym).collect();
        if !aliases.is_empty() {
            let _ = writeln!(
                t,
                "  {:<15} also named {} (module_init/module_exit make an alias)",
                "",
                aliases.join(", ")
            );
        }
        if disasm {
            disassemble(t, info, sym);
        }
    }
    let _ = writeln!(t);
}

fn aliases_of<'a>(info: &'a LoadInfo, sym: &'a Symbol) -> impl Iterator<Item = &'a str> + 'a {
    info.symbols
        .iter()
        .filter(move |s| {
            s.shndx == sym.shndx && s.value == sym.value && s.name != sym.name && !s.name.is_empty()
        })
        .filter(|s| s.sym_type == STT_FUNC)
        .map(|s| s.name.as_str())
}

fn disassemble(t: &mut String, info: &LoadInfo, sym: &Symbol) {
    use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};
    let data = info.section_data(usize::from(sym.shndx));
    let start = usize::try_from(sym.value).unwrap_or(usize::MAX);
    let end = start
        .saturating_add(usize::try_from(sym.size).unwrap_or(0))
        .min(data.len());
    let Some(code) = data.get(start..end) else {
        return;
    };
    let relocs: Vec<_> = info
        .sections
        .iter()
        .filter(|s| s.sh_type == SHT_RELA && s.info == u32::from(sym.shndx))
        .flat_map(|s| info.relocations(s.index).unwrap_or_default())
        .collect();
    let mut dec = Decoder::with_ip(64, code, sym.value, DecoderOptions::NONE);
    let mut fmt = GasFormatter::new();
    while dec.can_decode() {
        let ins = dec.decode();
        let mut s = String::new();
        fmt.format(&ins, &mut s);
        let fixups: Vec<String> = relocs
            .iter()
            .filter(|r| r.offset >= ins.ip() && r.offset < ins.next_ip())
            .map(|r| {
                let target = info.symbols.get(r.sym).map_or("?", |y| match y.sym_type {
                    STT_SECTION => info
                        .sections
                        .get(usize::from(y.shndx))
                        .map_or("?", |s| s.name.as_str()),
                    _ => y.name.as_str(),
                });
                format!("{} {target}{:+}", r_type_name(r.r_type), r.addend)
            })
            .collect();
        if fixups.is_empty() {
            let _ = writeln!(t, "      {:6x}:  {s}", ins.ip());
        } else {
            let _ = writeln!(t, "      {:6x}:  {s:<32} # {}", ins.ip(), fixups.join(", "));
        }
    }
}

fn modinfo(t: &mut String, info: &LoadInfo) {
    let _ = writeln!(t, "modinfo (.modinfo):");
    for (k, v) in info.modinfo.entries() {
        let _ = writeln!(t, "  {k}={v}");
    }
}
