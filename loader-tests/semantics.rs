//! The kernel's module semantics through the library: sizes, lists, use
//! counts and the unload rules, held to the real kernels' transcripts.

use std::sync::Arc;

use kload::kernel::{procfs, Kernel};
use kload::module::{self, LoadOptions, ModuleImage};
use kload::profile::{DEBIAN_6_1, DEBIAN_6_12};

use crate::common::*;

fn boot(series: &str) -> Arc<Kernel> {
    Kernel::boot(if series == "6.1" {
        &DEBIAN_6_1
    } else {
        &DEBIAN_6_12
    })
    .unwrap()
}

pub fn insmod(
    k: &Arc<Kernel>,
    series: &str,
    module: &str,
) -> Result<Arc<module::Module>, module::LoadError> {
    let file = root().join(format!("sample-modules/{series}/{module}.ko"));
    module::load_module(k, ModuleImage::open(&file)?, &LoadOptions::default())
}

/// /proc/modules as the real kernel shows it, addresses aside (module
/// memory is below 2 GiB in kload, at 0xffffffffc0000000+ in the kernel).
fn without_addresses(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split(' ')
                .map(|w| if w.starts_with("0x") { "ADDR" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Sizes, order (newest first), use counts, state and taint flags of
/// /proc/modules match the kernel's after loading hello-1 then hello-2.
#[test]
fn proc_modules_matches_the_kernel() {
    for series in SERIES {
        let k = boot(series);
        insmod(&k, series, "hello-1").unwrap();
        insmod(&k, series, "hello-2").unwrap();
        let real = golden(series, "layout");
        let expected = &real
            .iter()
            .find(|c| c.command == "cat /proc/modules")
            .unwrap()
            .output;
        assert_eq!(
            without_addresses(&procfs::proc_modules(&k)),
            without_addresses(&expected.join("\n")),
            "{series}"
        );
    }
}
