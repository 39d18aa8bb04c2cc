//! kload: run real Linux kernel modules inside an ordinary user process.
//!
//! The loader (`module`) mirrors kernel/module/: it validates a `.ko`, lays
//! its sections out below 2 GiB (`mm`), resolves its undefined symbols
//! against a stub kernel (`kernel`) re-implemented in Rust, applies the
//! x86-64 relocations, and runs `init` and `exit` natively on kernel tasks
//! (`exec`) with the per-CPU state module code expects behind `%gs`. Struct
//! layouts come from per-kernel profiles measured from real headers
//! (`profile`).
//!
//! ```no_run
//! use kload::{kernel::Kernel, module::{self, LoadOptions, ModuleImage}};
//! let image = ModuleImage::open("hello-1.ko".as_ref())?;
//! let (profile, _) = kload::profile_for_image(&image)?;
//! let kernel = Kernel::boot(profile)?;
//! module::load_module(&kernel, image, &LoadOptions::default())?;
//! module::delete_module(&kernel, "hello_1", false)?;
//! for record in kernel.log.records() {
//!     println!("{}", record.dmesg_lines().join("\n"));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod daemon;
pub mod elf;
pub mod exec;
pub mod host;
pub mod kernel;
pub mod mm;
pub mod module;
pub mod profile;

use module::elf_validity::elf_validity_check;
use module::setup_load_info::setup_load_info;
use module::{LoadError, ModuleImage};
use profile::{KernelProfile, Match};

/// How to name a profile to the user: Debian's built-ins by series, user
/// profiles by the file they came from.
pub fn describe_profile(p: &KernelProfile) -> String {
    match p.origin() {
        Some(path) => format!("{} (from {})", p.release, path.display()),
        None => format!("Debian {} ({})", p.series, p.release),
    }
}

/// Choose the kernel profile for a module image by its vermagic: the
/// built-in Debian profiles, then the user's (`kload profile`).
pub fn profile_for_image(
    image: &ModuleImage,
) -> Result<(&'static KernelProfile, Match), LoadError> {
    let sections = elf_validity_check(&image.file, image)?;
    let modinfo_idx = sections.iter().position(|s| s.name == ".modinfo");
    let vermagic = modinfo_idx
        .map(|i| {
            module::modinfo::Modinfo::parse(module::load_info::section_bytes(image, &sections[i]))
        })
        .and_then(|m| m.get("vermagic").map(str::to_owned))
        .unwrap_or_default();
    profile::for_vermagic(&vermagic).ok_or_else(|| {
        let name = setup_load_info_name(image).unwrap_or_else(|| image.file.clone());
        LoadError::NoProfile {
            module: name,
            vermagic,
        }
    })
}

fn setup_load_info_name(image: &ModuleImage) -> Option<String> {
    let copy = ModuleImage::from_bytes(&image.file, image.to_vec()).ok()?;
    let sections = elf_validity_check(&copy.file, &copy).ok()?;
    setup_load_info(copy, sections).ok().map(|i| i.name)
}
