//! `kload run FILE [param=value...]`: load a module, run its init, then its
//! exit, in this process, printing the kernel log as dmesg would.

use std::io::Write;
use std::sync::Arc;

use kload::kernel::printk::Record;
use kload::kernel::Kernel;
use kload::module::{self, LoadOptions, Missing, ModuleImage};
use kload::profile::Match;

pub fn main(args: &[String]) -> i32 {
    let (flags, rest) = match super::take_flags(args, &["--allow-missing", "--trace"]) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kload run: {e}");
            return 2;
        }
    };
    let Some((file, params)) = rest.split_first() else {
        eprintln!("usage: kload run [--allow-missing] [--trace] FILE [param=value...]");
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
    let opts = LoadOptions {
        args: params.join(" "),
        missing: if flags.contains(&"--allow-missing") {
            Missing::Trap
        } else {
            Missing::Fail
        },
        ..LoadOptions::default()
    };
    let status = run_module(&kernel, file, image, &opts);
    kernel.log.flush();
    if flags.contains(&"--trace") {
        for line in kernel.trace.format(&kernel) {
            println!("{line}");
        }
    }
    status
}

fn run_module(kernel: &Arc<Kernel>, file: &str, image: ModuleImage, opts: &LoadOptions) -> i32 {
    let m = match module::load_module(kernel, image, opts) {
        Ok(m) => m,
        Err(e) => return insmod_error(file, &e),
    };
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
        // The kernel kills a task that oopses: insmod gets SIGKILL and the
        // shell says "Killed" (exit status 128 + 9).
        eprintln!("Killed");
        eprintln!("kload: {e}");
        return 137;
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
