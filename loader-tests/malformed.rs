//! Malformed input: real modules with one field broken at a time. Each case
//! gets its own specific error naming the file (and the section and offset
//! where there is one), never a panic, and the emulated kernel stays
//! usable: a good module loads afterwards and no half-loaded module is left.

use std::sync::Arc;

use kload::kernel::Kernel;
use kload::module::error::{ElfDefect, RelocDefect};
use kload::module::{self, LoadError, LoadOptions, ModuleImage};
use kload::profile::{DEBIAN_6_1, DEBIAN_6_12};

use crate::common::*;

const FILE: &str = "case.ko";

/// A real module's bytes with accessors for the fields the cases break.
#[derive(Clone)]
struct Elf(Vec<u8>);

impl Elf {
    fn sample(series: &str, module: &str) -> Elf {
        Elf(std::fs::read(root().join(format!("sample-modules/{series}/{module}.ko"))).unwrap())
    }
    fn get(&self, off: usize, n: usize) -> u64 {
        self.0[off..off + n]
            .iter()
            .rev()
            .fold(0, |a, &b| a << 8 | u64::from(b))
    }
    fn set(&mut self, off: usize, n: usize, v: u64) {
        for i in 0..n {
            self.0[off + i] = (v >> (8 * i)) as u8;
        }
    }
    fn shdr(&self, i: usize) -> usize {
        self.get(0x28, 8) as usize + 64 * i
    }
    fn shnum(&self) -> usize {
        self.get(0x3c, 2) as usize
    }
    fn sh(&self, i: usize, field: usize) -> u64 {
        let n = if field >= 24 && field != 40 && field != 44 || field == 8 || field == 16 {
            8
        } else {
            4
        };
        self.get(self.shdr(i) + field, n)
    }
    fn set_sh(&mut self, i: usize, field: usize, v: u64) {
        let n = if field >= 24 && field != 40 && field != 44 || field == 8 || field == 16 {
            8
        } else {
            4
        };
        let off = self.shdr(i) + field;
        self.set(off, n, v);
    }
    fn name(&self, i: usize) -> String {
        let strtab = self.sh(self.get(0x3e, 2) as usize, SH_OFFSET) as usize;
        let start = strtab + self.sh(i, SH_NAME) as usize;
        let end = start + self.0[start..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8_lossy(&self.0[start..end]).into_owned()
    }
    fn section(&self, name: &str) -> usize {
        (1..self.shnum())
            .find(|&i| self.name(i) == name)
            .unwrap_or_else(|| panic!("no section {name}"))
    }
    fn symtab(&self) -> usize {
        (1..self.shnum())
            .find(|&i| self.sh(i, SH_TYPE) == 2)
            .unwrap()
    }
    fn symbol(&self, name: &str) -> usize {
        let (st, strtab) = (self.symtab(), self.sh(self.symtab(), SH_LINK) as usize);
        let (base, count) = (
            self.sh(st, SH_OFFSET) as usize,
            self.sh(st, SH_SIZE) as usize / 24,
        );
        let strings = self.sh(strtab, SH_OFFSET) as usize;
        (0..count)
            .map(|i| base + 24 * i)
            .find(|&off| {
                let s = strings + self.get(off, 4) as usize;
                self.0[s..].starts_with(name.as_bytes()) && self.0[s + name.len()] == 0
            })
            .unwrap_or_else(|| panic!("no symbol {name}"))
    }
    /// File offset of rela entry `n` of the first RELA section relocating code.
    fn code_rela(&self, pred: impl Fn(u32) -> bool) -> (usize, usize) {
        for i in 1..self.shnum() {
            let target = self.sh(i, SH_INFO) as usize;
            if self.sh(i, SH_TYPE) != 4 || self.sh(target, SH_FLAGS) & 0x4 == 0 {
                continue;
            }
            let (base, count) = (
                self.sh(i, SH_OFFSET) as usize,
                self.sh(i, SH_SIZE) as usize / 24,
            );
            if let Some(off) = (0..count)
                .map(|n| base + 24 * n)
                .find(|&o| pred(self.get(o + 8, 4) as u32))
            {
                return (off, target);
            }
        }
        panic!("no matching code relocation");
    }
}

const SH_NAME: usize = 0;
const SH_TYPE: usize = 4;
const SH_FLAGS: usize = 8;
const SH_OFFSET: usize = 24;
const SH_SIZE: usize = 32;
const SH_LINK: usize = 40;
const SH_INFO: usize = 44;

fn try_load(kernel: &Arc<Kernel>, bytes: Vec<u8>) -> Result<(), LoadError> {
    let image = ModuleImage::from_bytes(FILE, bytes)?;
    let m = module::load_module(kernel, image, &LoadOptions::default())?;
    module::delete_module(kernel, &m.name, false).expect("unload");
    Ok(())
}

/// After failures, the kernel is intact: nothing half-loaded, and a good
/// module still loads and unloads.
fn assert_kernel_intact(kernel: &Arc<Kernel>, series: &str) {
    assert!(
        kernel.module_list().is_empty(),
        "{series}: a failed load left a module behind"
    );
    try_load(kernel, Elf::sample(series, "hello-1").0).expect("good module after failures");
}

type Case = (&'static str, fn(&mut Elf), fn(&LoadError) -> bool);

fn elf(e: &LoadError, f: impl Fn(&ElfDefect) -> bool) -> bool {
    matches!(e, LoadError::Elf { defect, .. } if f(defect))
}
fn reloc(e: &LoadError, f: impl Fn(&RelocDefect) -> bool) -> bool {
    matches!(e, LoadError::Relocation { defect, .. } if f(defect))
}

const CASES: &[Case] = &[
    (
        "bad magic",
        |e| e.0[1] = b'X',
        |r| elf(r, |d| *d == ElfDefect::Magic),
    ),
    (
        "32-bit class",
        |e| e.0[4] = 1,
        |r| elf(r, |d| matches!(d, ElfDefect::ClassOrData { class: 1, .. })),
    ),
    (
        "ET_DYN",
        |e| e.set(0x10, 2, 3),
        |r| elf(r, |d| *d == ElfDefect::Type(3)),
    ),
    (
        "wrong e_machine",
        |e| e.set(0x12, 2, 3),
        |r| elf(r, |d| *d == ElfDefect::Machine(3)),
    ),
    (
        "e_shentsize 40",
        |e| e.set(0x3a, 2, 40),
        |r| elf(r, |d| *d == ElfDefect::ShentSize(40)),
    ),
    (
        "e_shoff past the end",
        |e| {
            let n = e.0.len() as u64;
            e.set(0x28, 8, n + 1)
        },
        |r| elf(r, |d| *d == ElfDefect::ShdrOverflow),
    ),
    (
        "e_shnum too big",
        |e| e.set(0x3c, 2, 0xfff0),
        |r| elf(r, |d| *d == ElfDefect::ShdrOverflow),
    ),
    (
        "e_shstrndx 0",
        |e| e.set(0x3e, 2, 0),
        |r| {
            elf(r, |d| {
                matches!(d, ElfDefect::ShstrIndex { shstrndx: 0, .. })
            })
        },
    ),
    (
        "e_shstrndx past e_shnum",
        |e| {
            let n = e.shnum() as u64;
            e.set(0x3e, 2, n)
        },
        |r| elf(r, |d| matches!(d, ElfDefect::ShstrIndex { .. })),
    ),
    (
        "sh_offset past the end",
        |e| e.set_sh(3, SH_OFFSET, 1 << 40),
        |r| {
            elf(r, |d| {
                matches!(d, ElfDefect::SectionOverflow { index: 3, .. })
            })
        },
    ),
    (
        "sh_size past the end",
        |e| e.set_sh(3, SH_SIZE, 1 << 40),
        |r| {
            elf(r, |d| {
                matches!(d, ElfDefect::SectionOverflow { index: 3, .. })
            })
        },
    ),
    (
        "sh_name past the name table",
        |e| e.set_sh(3, SH_NAME, 0xffff_fff0),
        |r| elf(r, |d| matches!(d, ElfDefect::SectionName { index: 3, .. })),
    ),
    (
        "symtab sh_link 0",
        |e| {
            let s = e.symtab();
            e.set_sh(s, SH_LINK, 0)
        },
        |r| elf(r, |d| matches!(d, ElfDefect::SymtabLink { link: 0, .. })),
    ),
    (
        "rela sh_info past e_shnum",
        |e| {
            let s = e.section(".rela.gnu.linkonce.this_module");
            e.set_sh(s, SH_INFO, 0xffff)
        },
        |r| elf(r, |d| matches!(d, ElfDefect::RelaInfo { info: 0xffff, .. })),
    ),
    (
        "rela sh_link not the symtab",
        |e| {
            let s = e.section(".rela.gnu.linkonce.this_module");
            e.set_sh(s, SH_LINK, 1)
        },
        |r| elf(r, |d| matches!(d, ElfDefect::RelaLink { link: 1 })),
    ),
    (
        "st_name past the string table",
        |e| {
            let s = e.symbol("init_module");
            e.set(s, 4, 0xffff_fff0)
        },
        |r| elf(r, |d| *d == ElfDefect::SymbolName(0xffff_fff0)),
    ),
    (
        "st_shndx past e_shnum",
        |e| {
            let s = e.symbol("dummy");
            e.set(s + 6, 2, 0xff00)
        },
        |r| matches!(r, LoadError::SymbolSection { shndx: 0xff00, .. }),
    ),
    (
        "SHN_COMMON symbol",
        |e| {
            let s = e.symbol("dummy");
            e.set(s + 6, 2, 0xfff2)
        },
        |r| matches!(r, LoadError::Common { .. }),
    ),
    (
        "missing .gnu.linkonce.this_module",
        |e| {
            let s = e.section(".gnu.linkonce.this_module");
            let n = e.sh(s, SH_NAME);
            e.set_sh(s, SH_NAME, n + 1)
        },
        |r| elf(r, |d| *d == ElfDefect::NoThisModule),
    ),
    (
        "struct module of the wrong size",
        |e| {
            let s = e.section(".gnu.linkonce.this_module");
            let n = e.sh(s, SH_SIZE);
            e.set_sh(s, SH_SIZE, n - 64)
        },
        |r| elf(r, |d| matches!(d, ElfDefect::ThisModuleSize { .. })),
    ),
    (
        "name field disagrees with modinfo",
        |e| {
            let s = e.section(".gnu.linkonce.this_module");
            let off = e.sh(s, SH_OFFSET) as usize;
            e.0[off + 0x18] = b'j'
        },
        |r| elf(r, |d| matches!(d, ElfDefect::NameMismatch { .. })),
    ),
    (
        "writable and executable text",
        |e| {
            let s = e.section(".text");
            let f = e.sh(s, SH_FLAGS);
            e.set_sh(s, SH_FLAGS, f | 1)
        },
        |r| matches!(r, LoadError::WriteExec { .. }),
    ),
    (
        "relocation offset past its section",
        |e| {
            let (o, t) = e.code_rela(|_| true);
            let n = e.sh(t, SH_SIZE);
            e.set(o, 8, n)
        },
        |r| reloc(r, |d| matches!(d, RelocDefect::OffsetOutOfRange { .. })),
    ),
    (
        "unknown relocation type",
        |e| {
            let (o, _) = e.code_rela(|_| true);
            let t = e.get(o + 8, 8);
            e.set(o + 8, 8, (t & !0xffff_ffff) | 9)
        },
        |r| reloc(r, |d| *d == RelocDefect::UnknownType(9)),
    ),
    (
        "relocation symbol past the table",
        |e| {
            let (o, _) = e.code_rela(|_| true);
            let t = e.get(o + 8, 8);
            e.set(o + 8, 8, (0xffff << 32) | (t & 0xffff_ffff))
        },
        |r| reloc(r, |d| matches!(d, RelocDefect::BadSymbol(0xffff))),
    ),
    (
        "R_X86_64_32S overflow",
        |e| {
            let (o, _) = e.code_rela(|t| t == 11);
            e.set(o + 16, 8, 0x7_0000_0000)
        },
        |r| reloc(r, |d| matches!(d, RelocDefect::Overflow { r_type: 11, .. })),
    ),
    (
        "relocation target not zero",
        |e| {
            let (o, t) = e.code_rela(|t| t == 11);
            let at = e.sh(t, SH_OFFSET) + e.get(o, 8);
            e.0[at as usize] = 0xff
        },
        |r| {
            reloc(r, |d| {
                matches!(d, RelocDefect::NonZeroTarget { r_type: 11, .. })
            })
        },
    ),
];

#[test]
fn each_malformed_field_gets_its_own_error_and_the_kernel_survives() {
    for (series, profile) in [("6.1", &DEBIAN_6_1), ("6.12", &DEBIAN_6_12)] {
        let kernel = Kernel::boot(profile).unwrap();
        let good = Elf::sample(series, "hello-1");
        for (what, break_it, expected) in CASES {
            let mut e = good.clone();
            break_it(&mut e);
            let err = try_load(&kernel, e.0).expect_err(what);
            assert!(expected(&err), "{series}: {what}: unexpected error {err:?}");
            let msg = err.to_string();
            assert!(
                msg.contains(FILE) || msg.contains("hello_1"),
                "{series}: {what}: error names no file: {msg}"
            );
        }
        assert_kernel_intact(&kernel, series);
    }
}

/// Errors name the section and offset where they were found.
#[test]
fn errors_name_file_section_and_offset() {
    let kernel = Kernel::boot(&DEBIAN_6_1).unwrap();
    let mut e = Elf::sample("6.1", "hello-1");
    let (o, t) = e.code_rela(|_| true);
    let target_name = e.name(t);
    let typ = e.get(o + 8, 8);
    e.set(o + 8, 8, (typ & !0xffff_ffff) | 9);
    let msg = try_load(&kernel, e.0).unwrap_err().to_string();
    assert!(msg.starts_with(&format!("{FILE}: section [")), "{msg}");
    assert!(
        msg.contains(&format!(".rela{target_name}, offset 0x")),
        "{msg}"
    );
    assert!(msg.ends_with("Unknown rela relocation: 9"), "{msg}");
    let log: Vec<String> = kernel.log.records().into_iter().map(|r| r.text).collect();
    assert!(
        log.contains(&"module: hello_1: Unknown rela relocation: 9".to_owned()),
        "{log:?}"
    );
}

#[test]
fn truncation_at_every_section_boundary_is_an_error() {
    for series in SERIES {
        let profile = if series == "6.1" {
            &DEBIAN_6_1
        } else {
            &DEBIAN_6_12
        };
        let kernel = Kernel::boot(profile).unwrap();
        let good = Elf::sample(series, "hello-1");
        let mut cuts = vec![0, 10, 63, good.shdr(0), good.shdr(1) - 1];
        for i in 1..good.shnum() {
            if good.sh(i, SH_TYPE) != 8 {
                cuts.push(good.sh(i, SH_OFFSET) as usize);
                cuts.push((good.sh(i, SH_OFFSET) + good.sh(i, SH_SIZE)) as usize - 1);
            }
        }
        cuts.retain(|&c| c < good.0.len());
        for cut in cuts {
            let err =
                try_load(&kernel, good.0[..cut].to_vec()).expect_err("truncated image loaded");
            assert!(
                err.to_string().starts_with(FILE),
                "{series}: cut at {cut}: {err}"
            );
        }
        assert_kernel_intact(&kernel, series);
    }
}

/// A second load of a loaded module is refused with EEXIST; the first stays.
#[test]
fn duplicate_load_is_eexist() {
    let kernel = Kernel::boot(&DEBIAN_6_12).unwrap();
    let bytes = Elf::sample("6.12", "hello-2").0;
    let m = module::load_module(
        &kernel,
        ModuleImage::from_bytes(FILE, bytes.clone()).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    let err = module::load_module(
        &kernel,
        ModuleImage::from_bytes(FILE, bytes).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.errno(), libc::EEXIST);
    assert_eq!(kernel.module_list().len(), 1);
    module::delete_module(&kernel, &m.name, false).unwrap();
    assert_eq!(
        module::delete_module(&kernel, &m.name, false)
            .unwrap_err()
            .errno(),
        libc::ENOENT
    );
}
