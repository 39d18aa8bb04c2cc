//! Command-line verbs, one file each; this file only dispatches and holds
//! the small helpers they share (kmod's error words, usage).

mod explain;
mod run;

/// One verb: its name, a one-line synopsis, and its entry point.
struct Verb {
    name: &'static str,
    synopsis: &'static str,
    main: fn(&[String]) -> i32,
}

const VERBS: &[Verb] = &[
    Verb {
        name: "run",
        synopsis: "run [--allow-missing] [--trace] FILE [param=value...]",
        main: run::main,
    },
    Verb {
        name: "explain",
        synopsis: "explain [--disasm] FILE",
        main: explain::main,
    },
];

pub fn main(args: &[String]) -> i32 {
    let Some(verb) = args.get(1) else {
        usage();
        return 2;
    };
    if verb == "-h" || verb == "--help" || verb == "help" {
        usage();
        return 0;
    }
    match VERBS.iter().find(|v| v.name == verb) {
        Some(v) => (v.main)(&args[2..]),
        None => {
            eprintln!("kload: unknown command '{verb}'");
            usage();
            2
        }
    }
}

fn usage() {
    eprintln!("usage:");
    for v in VERBS {
        eprintln!("  kload {}", v.synopsis);
    }
}

/// kmod's words for the errno of a failed `init_module` (`mod_strerror`).
pub fn kmod_strerror(errno: i32) -> String {
    match errno {
        libc::ENOEXEC => "Invalid module format".into(),
        libc::ENOENT => "Unknown symbol in module".into(),
        libc::ESRCH => "Module has wrong symbol version".into(),
        libc::EINVAL => "Invalid parameters".into(),
        e => strerror(&std::io::Error::from_raw_os_error(e)),
    }
}

/// `strerror` text of an I/O error, without Rust's " (os error N)".
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_owned()
}

/// Split `args` into flags (leading `--x`) and the rest.
pub fn take_flags<'a>(
    args: &'a [String],
    known: &[&str],
) -> Result<(Vec<&'a str>, &'a [String]), String> {
    let mut flags = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.starts_with('-')) {
        if !known.contains(&a.as_str()) {
            return Err(format!("unknown option '{a}'"));
        }
        flags.push(a.as_str());
        i += 1;
    }
    Ok((flags, &args[i..]))
}
