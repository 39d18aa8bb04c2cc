//! `kload run FILE [param=value...]`: load a module, run its init, then its
//! exit, in this process, printing the kernel log as dmesg would.

use std::io::Write;
use std::sync::Arc;

use kload::kernel::printk::Record;
use kload::kernel::slab::SlabConfig;
use kload::kernel::Kernel;
use kload::module::{self, LoadOptions, Missing, ModuleImage};
use kload::profile::Match;

/// The verb's synopsis (`kload --help` and the usage error).
pub const SYNOPSIS: &str =
    "run [-v] [--allow-missing] [--trace] [--json] [--watchdog=SECS] [--wait=MS] \
     [--no-checks] [--fail-alloc=N] [--fail-alloc-rate=P[,SEED]] FILE [param=value...]";

pub fn main(args: &[String]) -> i32 {
    // The allocator's options (checks, fault injection) come first.
    let mut slab = SlabConfig::default();
    let mut rest_args = Vec::new();
    let mut in_flags = true;
    for a in args {
        if in_flags && a.starts_with('-') {
            match slab.apply_option(a) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    eprintln!("kload run: {e}");
                    return 2;
                }
            }
        } else {
            in_flags = false;
        }
        rest_args.push(a.clone());
    }
    // --watchdog=SECS (the soft-lockup threshold) is taken out here too.
    let mut json = false;
    let mut verbose = false;
    let mut wait = std::time::Duration::ZERO;
    let mut kept = Vec::new();
    for (i, a) in rest_args.iter().enumerate() {
        let is_flag = rest_args[..i].iter().all(|p| p.starts_with('-'));
        if is_flag {
            if let Some(v) = a.strip_prefix("--watchdog=") {
                match kload::exec::watchdog::parse_secs(v) {
                    Some(d) => kload::exec::watchdog::set_threshold(d),
                    None => {
                        eprintln!("kload run: --watchdog: not a number of seconds: {v}");
                        return 2;
                    }
                }
                continue;
            }
            if let Some(v) = a.strip_prefix("--wait=") {
                match v.parse::<u64>() {
                    Ok(ms) => wait = std::time::Duration::from_millis(ms),
                    Err(_) => {
                        eprintln!("kload run: --wait: not a number of milliseconds: {v}");
                        return 2;
                    }
                }
                continue;
            }
            if a == "--json" {
                json = true;
                continue;
            }
            if a == "-v" || a == "--verbose" {
                verbose = true;
                continue;
            }
        }
        kept.push(a.clone());
    }
    let args = kept.as_slice();
    let (flags, rest) = match super::take_flags(args, &["--allow-missing", "--trace"]) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kload run: {e}");
            return 2;
        }
    };
    let Some((file, params)) = rest.split_first() else {
        eprintln!("usage: kload {SYNOPSIS}");
        return 2;
    };
    let image = match ModuleImage::open(file.as_ref()) {
        Ok(i) => i,
        Err(e) => return insmod_error(file, &e),
    };
    let profile = match kload::profile_for_image(&image) {
        Ok((p, Match::Exact)) => p,
        Ok((p, Match::SameSeries)) => {
            eprintln!(
                "kload: {file}: no exact profile; using {}",
                kload::describe_profile(p)
            );
            p
        }
        Err(e) => return insmod_error(file, &e),
    };
    let kernel = match Kernel::boot(profile) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("kload: cannot start the emulated kernel: {e}");
            return 1;
        }
    };
    kernel.log.set_console(Some(Arc::new(print_record)));
    kernel.slab.configure(slab);
    kernel.set_verbose_faults(verbose);
    let opts = LoadOptions {
        args: params.join(" "),
        missing: if flags.contains(&"--allow-missing") {
            Missing::Trap
        } else {
            Missing::Fail
        },
        ..LoadOptions::default()
    };
    let mut status = run_module(&kernel, file, image, &opts, wait);
    // What the module never freed, and kload's other memory findings,
    // fail the run.
    kload::kernel::slab::report_outstanding(&kernel);
    kernel.log.flush();
    if status == 0 && kernel.slab.findings() > 0 {
        status = 1;
    }
    // Timers, work or kthreads the module left behind at exit, or an
    // Oops in one of its callbacks (which killed no task of the run).
    if status == 0
        && (kernel
            .task_findings
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
            || kernel.oopses() > 0)
    {
        status = 1;
    }
    if flags.contains(&"--trace") {
        for line in kernel.trace.format(&kernel) {
            println!("{line}");
        }
    }
    if json {
        // One JSON object per line per report, after the run.
        for r in kload::kernel::panic::take_reports(&kernel) {
            println!("{}", r.to_json());
        }
    }
    status
}

/// Load, let `wait` pass (timers fire, work and kthreads run: no task
/// holds the CPU meanwhile), unload.
fn run_module(
    kernel: &Arc<Kernel>,
    file: &str,
    image: ModuleImage,
    opts: &LoadOptions,
    wait: std::time::Duration,
) -> i32 {
    let m = match module::load_module(kernel, image, opts) {
        Ok(m) => m,
        Err(e) => return insmod_error(file, &e),
    };
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
    match module::delete_module(kernel, &m.name, false) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "rmmod: ERROR: could not remove module {}: {}",
                m.name,
                super::kmod_strerror(e.errno())
            );
            eprintln!("kload: {e}");
            1
        }
    }
}

fn insmod_error(file: &str, e: &module::LoadError) -> i32 {
    if let module::LoadError::Io { source, .. } = e {
        // kmod fails to open the file itself, before any syscall.
        eprintln!(
            "insmod: ERROR: could not load module {file}: {}",
            super::strerror(source)
        );
        return 1;
    }
    if let module::LoadError::InitKilled { .. } = e {
        return super::killed_task(&e.to_string());
    }
    eprintln!(
        "insmod: ERROR: could not insert module {file}: {}",
        super::kmod_strerror(e.errno())
    );
    eprintln!("kload: {e}");
    1
}

fn print_record(r: &Record) {
    let mut out = std::io::stdout().lock();
    for line in r.dmesg_lines() {
        let _ = writeln!(out, "{line}");
    }
}
