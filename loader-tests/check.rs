//! `kload check`: the loader's stages on every sample module, without
//! init, and without leaving anything behind in the kernel.

use std::sync::Arc;

use kload::kernel::Kernel;
use kload::module::check::{check_module, Outcome, SymbolSource};
use kload::module::{self, LoadOptions, ModuleImage, Stage};
use kload::profile::{DEBIAN_6_1, DEBIAN_6_12};

use crate::common::*;

/// The messages the loader's stages themselves log for the samples; a
/// line outside these would be the module's own (its init ran).
const LOADER_MESSAGES: &[&str] = &[
    ": loading out-of-tree module taints kernel.",
    ": module verification failed: signature and/or required key missing - tainting kernel",
    ": module license 'Proprietary' taints kernel.",
    "Disabling lock debugging due to kernel taint",
    ": module license taints kernel.",
];

/// What `kload check` must say of each sample (file stem → expected line
/// start after "FILE: "); every other sample is OK.
fn expected(stem: &str) -> &'static str {
    match stem {
        "bad-vermagic" => "FAIL check_modinfo: bad_vermagic: no kernel profile for vermagic",
        "needs-missing" => "FAIL simplify_symbols: needs_missing: Unknown symbol register_reboot_notifier (err -2) (and 1 more); missing (2): register_reboot_notifier unregister_reboot_notifier",
        // exporter's export of exporter_now_gpl is GPL-only (its depends= names exporter first).
        "proprietary-user" => "FAIL simplify_symbols: proprietary_user: Unknown symbol exporter_now_gpl (err -2); refused (1): exporter_now_gpl[exporter: GPL-only]",
        "needs-pci" => "OK; named trap (2): __pci_register_driver[PCI] pci_unregister_driver[PCI]",
        "user" => "OK; provided by module exporter (4):",
        // Built against exporter-old's plain export (depends=exporter-old).
        "user-no-ns" => "OK; provided by module exporter_old (1): exporter_now_ns",
        _ => "OK",
    }
}

#[test]
fn check_says_ok_for_every_sample_but_the_ones_meant_to_fail() {
    for series in SERIES {
        for dir in module_dirs(series) {
            let out = kload(&["check", dir.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(1), "{series}: {}", stderr(&out));
            let lines = stdout_lines(&out);
            let n = std::fs::read_dir(&dir)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".ko"))
                })
                .count();
            assert_eq!(lines.len(), n, "{series}: one line per module:\n{lines:#?}");
            for line in &lines {
                let (file, verdict) = line.split_once(".ko: ").unwrap();
                let stem = file.rsplit('/').next().unwrap();
                let want = expected(stem);
                let ok = if want == "OK" {
                    verdict == "OK" || verdict.starts_with("OK; named trap")
                } else {
                    verdict.starts_with(want)
                };
                assert!(ok, "{series}: {stem}: {verdict:?}, want {want:?}");
            }
        }
    }
}

#[test]
fn check_never_runs_init_or_exit() {
    for series in SERIES {
        let dir = root().join("sample-modules").join(series);
        let out = kload(&["check", "--json", dir.to_str().unwrap()]);
        let lines = stdout_lines(&out);
        assert!(lines.len() > 30, "{series}: {lines:?}");
        for l in &lines {
            let log = l.split("\"log\":[").nth(1).unwrap();
            let log = log.split("],\"init\"").next().unwrap();
            for msg in log.split("\",\"").map(|m| m.trim_matches('"')) {
                assert!(
                    msg.is_empty() || LOADER_MESSAGES.iter().any(|m| msg.contains(m)),
                    "{series}: a line no loader stage prints: {msg:?} in {l}"
                );
            }
        }
        // hello-1's init prints "Hello world 1."; an Oops would say "BUG:".
        let text = String::from_utf8_lossy(&out.stdout);
        for never in ["Hello world", "Goodbye", "BUG:", "Oops", "WARNING:"] {
            assert!(!text.contains(never), "{series}: {never} in check output");
        }
        assert!(text.contains("\"file\":") && text.contains("\"init\":true"));
    }
}

fn sample(series: &str, name: &str) -> ModuleImage {
    ModuleImage::open(&root().join(format!("sample-modules/{series}/{name}.ko"))).unwrap()
}

fn profile(series: &str) -> &'static kload::profile::KernelProfile {
    if series == "6.1" {
        &DEBIAN_6_1
    } else {
        &DEBIAN_6_12
    }
}

fn log_texts(k: &Kernel) -> Vec<String> {
    k.log.records().into_iter().map(|r| r.text).collect()
}

#[test]
fn check_leaves_the_kernel_as_it_was() {
    for series in SERIES {
        let kernel: Arc<Kernel> = Kernel::boot(profile(series)).unwrap();
        let before = (
            log_texts(&kernel),
            kernel.taint.mask(),
            kernel.percpu.mark(),
            kernel.module_list().len(),
        );
        for name in [
            "hello-1",
            "cpu-data",
            "needs-missing",
            "license-proprietary",
        ] {
            let r = check_module(&kernel, sample(series, name));
            assert!(r.module.is_some(), "{series}: {name}: {r:?}");
            assert!(!r.log.is_empty(), "{series}: {name}: the stages' messages");
        }
        let r = check_module(&kernel, sample(series, "cpu-data"));
        assert_eq!(r.outcome(), Outcome::Ok, "{series}: {r:?}");
        let after = (
            log_texts(&kernel),
            kernel.taint.mask(),
            kernel.percpu.mark(),
            kernel.module_list().len(),
        );
        assert_eq!(before, after, "{series}: kernel state changed by a check");
        // The name is free again, the once-only notices not used up: a
        // load afterwards logs exactly what it logs on a fresh kernel.
        let load = |k: &Arc<Kernel>| {
            module::load_module(k, sample(series, "hello-1"), &LoadOptions::default()).unwrap();
            log_texts(k)
        };
        let fresh = Kernel::boot(profile(series)).unwrap();
        let want = load(&fresh);
        assert!(want
            .iter()
            .any(|l| l.contains("module verification failed")));
        assert_eq!(load(&kernel)[before.0.len()..], want[..], "{series}");
    }
}

#[test]
fn check_classifies_symbols_against_the_loaded_modules_and_the_kernel() {
    let kernel = Kernel::boot(&DEBIAN_6_12).unwrap();
    module::load_module(&kernel, sample("6.12", "exporter"), &LoadOptions::default()).unwrap();
    let r = check_module(&kernel, sample("6.12", "user"));
    assert_eq!(r.outcome(), Outcome::Ok, "{r:?}");
    assert!(r
        .undefined
        .iter()
        .any(|(n, s)| n == "exporter_add" && *s == SymbolSource::Module("exporter".into())));
    assert!(r
        .undefined
        .iter()
        .any(|(n, s)| n == "_printk" && *s == SymbolSource::Implemented));
    // Still one module loaded, and no use taken on it.
    assert_eq!(kernel.module_list().len(), 1);
    assert!(kernel.module_list()[0].holders().is_empty());
    let r = check_module(&kernel, sample("6.12", "needs-pci"));
    assert!(r
        .undefined
        .iter()
        .any(|(n, s)| n == "__pci_register_driver" && *s == SymbolSource::NamedTrap("PCI")));
}

/// Set the type of the first relocation of `.rela.text` to `r_type`.
fn break_first_text_rela(bytes: &mut [u8], r_type: u32) -> u64 {
    let u = |b: &[u8], off: usize, n: usize| {
        b[off..off + n]
            .iter()
            .rev()
            .fold(0u64, |a, &x| a << 8 | u64::from(x))
    };
    let shoff = u(bytes, 0x28, 8) as usize;
    let shnum = u(bytes, 0x3c, 2) as usize;
    let shstr = u(bytes, 0x3e, 2) as usize;
    let stroff = u(bytes, shoff + 64 * shstr + 24, 8) as usize;
    for i in 0..shnum {
        let sh = shoff + 64 * i;
        let name_off = stroff + u(bytes, sh, 4) as usize;
        let end = bytes[name_off..].iter().position(|&c| c == 0).unwrap();
        if bytes[name_off..name_off + end].starts_with(b".rela.text") {
            let off = u(bytes, sh + 24, 8) as usize;
            bytes[off + 8..off + 12].copy_from_slice(&r_type.to_le_bytes());
            return u(bytes, off, 8);
        }
    }
    panic!("no .rela.text*");
}

#[test]
fn check_names_the_failing_stage_section_and_offset() {
    for series in SERIES {
        let path = root().join(format!("sample-modules/{series}/hello-1.ko"));
        let mut bytes = std::fs::read(&path).unwrap();
        break_first_text_rela(&mut bytes, 99);
        let kernel = Kernel::boot(profile(series)).unwrap();
        let image = ModuleImage::from_bytes("broken.ko", bytes).unwrap();
        let r = check_module(&kernel, image);
        let f = r.failure.as_ref().expect("the broken relocation is found");
        assert_eq!(f.stage, Stage::ApplyRelocations, "{series}: {r:?}");
        assert!(
            f.error.contains("broken.ko: section [")
                && f.error.contains(".rela.text")
                && f.error.contains("Unknown rela relocation: 99"),
            "{series}: {}",
            f.error
        );
        assert!(r.line().starts_with("broken.ko: FAIL apply_relocate_add: "));
        // The kernel's own message was logged during the check, and rolled back.
        assert!(r
            .log
            .iter()
            .any(|l| l.contains("Unknown rela relocation: 99")));
        assert!(log_texts(&kernel).is_empty(), "{series}");
        assert!(kernel.module_list().is_empty());
    }
}

/// Debian's own modules (tools/corpus.sh fetches them): no module may fail
/// a loader stage; only symbols may be missing. A debug build takes minutes
/// over the 8,000 modules, so this runs only when asked: `KLOAD_CORPUS=1`
/// (the cache tools/corpus.sh fills) or `KLOAD_CORPUS=DIR` (a directory of
/// `<release>/lib/modules`); it says it was skipped otherwise.
#[test]
fn debian_corpus_passes_every_loader_stage() {
    let Some(var) = std::env::var_os("KLOAD_CORPUS") else {
        eprintln!("debian_corpus_passes_every_loader_stage: SKIPPED: KLOAD_CORPUS is not set (tools/corpus.sh fetches the corpus)");
        return;
    };
    let base = if var == "1" {
        std::path::Path::new(&std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/kload-corpus/x")
    } else {
        std::path::PathBuf::from(var)
    };
    let base = Some(base);
    let mut ran = 0;
    for release in ["6.1.0-56-amd64", "6.12.117+deb12-amd64"] {
        let Some(dir) = base
            .as_ref()
            .map(|b| b.join(release).join("lib/modules"))
            .filter(|d| d.is_dir())
        else {
            eprintln!("debian_corpus_passes_every_loader_stage: SKIPPED for {release}: no corpus (run tools/corpus.sh)");
            continue;
        };
        let out = kload(&["check", "--json", dir.to_str().unwrap()]);
        let lines = stdout_lines(&out);
        assert!(lines.len() > 3000, "{release}: {} modules", lines.len());
        // "unresolved" is a symbol kload lacks; "failed" a stage that failed.
        let failed: Vec<&String> = lines
            .iter()
            .filter(|l| {
                !l.contains("\"outcome\":\"ok\"") && !l.contains("\"outcome\":\"unresolved\"")
            })
            .collect();
        assert!(
            failed.is_empty(),
            "{release}: loader stages fail:\n{failed:#?}"
        );
        ran += 1;
    }
    eprintln!("debian_corpus_passes_every_loader_stage: {ran} corpora checked");
}
