//! ELF64 x86-64 definitions kload needs. Constants only, no logic: the
//! parsing itself happens in `module::elf_validity`, with goblin.

pub mod defs;
