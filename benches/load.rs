//! kload's benchmarks (figures in docs/performance.md):
//! - `load_init_exit/<series>`: load, init and exit of hello-1 in-process,
//!   on a kernel booted once;
//! - `boot/<series>`: booting an emulated kernel;
//! - `process/kload_run_hello_1` beside `process/true`: the whole process,
//!   as a user or CI pays for it, with its baseline measured in the same run.

use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use kload::kernel::Kernel;
use kload::module::{self, LoadOptions, ModuleImage};
use kload::profile::{DEBIAN_6_1, DEBIAN_6_12};

fn sample(series: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("sample-modules/{series}/hello-1.ko"))
}

fn in_process(c: &mut Criterion) {
    for (series, profile) in [("6.1", &DEBIAN_6_1), ("6.12", &DEBIAN_6_12)] {
        let bytes = std::fs::read(sample(series)).expect("sample module");
        let kernel = Kernel::boot(profile).expect("boot");
        c.bench_function(&format!("load_init_exit/{series}"), |b| {
            b.iter(|| {
                let image = ModuleImage::from_bytes("hello-1.ko", bytes.clone()).unwrap();
                let m = module::load_module(&kernel, image, &LoadOptions::default()).unwrap();
                module::delete_module(&kernel, &m.name, false).unwrap();
                kernel.log.clear();
            })
        });
        c.bench_function(&format!("boot/{series}"), |b| {
            b.iter(|| Kernel::boot(profile).unwrap())
        });
    }
}

fn whole_process(c: &mut Criterion) {
    let kload = env!("CARGO_BIN_EXE_kload");
    let file = sample("6.1");
    c.bench_function("process/true", |b| {
        b.iter(|| assert!(Command::new("true").output().unwrap().status.success()))
    });
    c.bench_function("process/kload_run_hello_1", |b| {
        b.iter(|| {
            assert!(Command::new(kload)
                .arg("run")
                .arg(&file)
                .output()
                .unwrap()
                .status
                .success())
        })
    });
}

criterion_group!(benches, in_process, whole_process);
criterion_main!(benches);
