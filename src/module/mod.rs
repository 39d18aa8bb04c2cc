//! The module loader, mirroring kernel/module/: `main.rs` holds the
//! `load_module` and `delete_module` recipes, and each stage has its own
//! file named after the kernel function it mirrors.

pub mod apply_relocate_add;
pub mod check;
pub mod check_modinfo;
pub mod decompress;
pub mod do_init_module;
pub mod elf_validity;
pub mod error;
pub mod explain;
pub mod exports;
pub mod image;
pub mod kallsyms;
pub mod layout_sections;
pub mod load_info;
#[allow(clippy::module_inception)]
pub mod main;
pub mod modinfo;
pub mod move_module;
pub mod params;
pub mod setup_load_info;
pub mod signing;
pub mod simplify_symbols;
pub mod state;
pub mod this_module;
pub mod version;

pub use error::{LoadError, RemoveError};
pub use image::ModuleImage;
pub use main::{delete_module, load_module, LoadOptions, Stage};
pub use simplify_symbols::Missing;
pub use state::{Module, ModuleState};
