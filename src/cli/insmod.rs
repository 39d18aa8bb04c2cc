//! `kload insmod [-f] [--force-vermagic] [--force-modversion]
//! [--allow-missing] FILE [param=value...]`: load a module into the
//! session's kernel, with kmod insmod's messages.

use kload::daemon::protocol::{InsmodFlags, Reply, Request};

use super::{getopt, kmod_strerror, opt, Opt};

const OPTS: &[Opt] = &[
    // -p and -s are accepted and ignored, as kmod does.
    opt('p', "", false),
    opt('s', "", false),
    opt('f', "force", false),
    opt('\u{1}', "force-vermagic", false),
    opt('\u{2}', "force-modversion", false),
    opt('\u{3}', "allow-missing", false),
    opt('h', "help", false),
];

pub fn main(args: &[String]) -> i32 {
    let p = match getopt("insmod", args, OPTS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if p.has('h') {
        println!("Usage:\n\tinsmod [options] filename [args]");
        println!(
            "Options:\n\t-f, --force             both --force-vermagic and --force-modversion"
        );
        println!("\t--force-vermagic        ignore the module's vermagic");
        println!("\t--force-modversion      ignore the module's symbol versions");
        println!("\t--allow-missing         bind unknown symbols to traps that report the call");
        return 0;
    }
    let Some((file, params)) = p.operands.split_first() else {
        eprintln!("insmod: ERROR: missing filename.");
        return 1;
    };
    if file == "-" {
        eprintln!("insmod: ERROR: this tool does not support loading from stdin!");
        return 1;
    }
    let image = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "insmod: ERROR: could not load module {file}: {}",
                super::strerror(&e)
            );
            return 1;
        }
    };
    let force = p.has('f');
    let req = Request::Insmod {
        file: file.clone(),
        image,
        args: params.join(" "),
        flags: InsmodFlags {
            force_vermagic: force || p.has('\u{1}'),
            force_modversion: force || p.has('\u{2}'),
            allow_missing: p.has('\u{3}'),
        },
    };
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match super::call(&mut client, &req) {
        Ok(Reply::Ok) => 0,
        Ok(Reply::Error { errno, detail }) => {
            let said = format!(
                "insmod: ERROR: could not insert module {file}: {}",
                kmod_strerror(errno)
            );
            eprintln!("{said}");
            super::print_detail(&detail, &said);
            1
        }
        Ok(Reply::Killed { detail }) => super::killed_task(&detail),
        Ok(other) => super::unexpected(&other),
        Err(code) => code,
    }
}
