//! Command-line verbs, one file each; this file only dispatches and holds
//! the small helpers they share (kmod's error words, option parsing, the
//! connection to the session daemon).

mod cat;
mod check;
mod daemon;
mod dmesg;
mod explain;
mod insmod;
mod lsmod;
mod moddep;
mod modinfo;
mod modprobe;
mod modsig;
mod profile;
mod rmmod;
mod run;
mod shutdown;
mod write;

use std::sync::OnceLock;

use kload::daemon::client::Client;
use kload::daemon::protocol::{Reply, Request};
use kload::daemon::session::Session;

/// One verb: its name, a one-line synopsis, and its entry point.
struct Verb {
    name: &'static str,
    synopsis: &'static str,
    main: fn(&[String]) -> i32,
}

const VERBS: &[Verb] = &[
    Verb {
        name: "run",
        synopsis: run::SYNOPSIS,
        main: run::main,
    },
    Verb {
        name: "explain",
        synopsis: "explain [--disasm] FILE",
        main: explain::main,
    },
    Verb {
        name: "check",
        synopsis: "check [--json] [--provides DIR]... [--summary FILE] FILE|DIR...",
        main: check::main,
    },
    Verb {
        name: "profile",
        synopsis: "profile --headers DIR [-o FILE]",
        main: profile::main,
    },
    Verb {
        name: "insmod",
        synopsis:
            "insmod [--force-vermagic] [--force-modversion] [--allow-missing] FILE [param=value...]",
        main: insmod::main,
    },
    Verb {
        name: "rmmod",
        synopsis: "rmmod [-f] NAME...",
        main: rmmod::main,
    },
    Verb {
        name: "lsmod",
        synopsis: "lsmod",
        main: lsmod::main,
    },
    Verb {
        name: "modinfo",
        synopsis: "modinfo [-F FIELD] [-0] FILE|NAME...",
        main: modinfo::main,
    },
    Verb {
        name: "modprobe",
        synopsis: "modprobe [-d DIR] [-S RELEASE] [-r] [-v] NAME [param=value...]",
        main: modprobe::main,
    },
    Verb {
        name: "dmesg",
        synopsis: "dmesg [-c] [-C] [-w] [-x] [-t] [-p] [--level LIST]",
        main: dmesg::main,
    },
    Verb {
        name: "cat",
        synopsis: "cat PATH...",
        main: cat::main,
    },
    Verb {
        name: "write",
        synopsis: "write [-n] PATH DATA",
        main: write::main,
    },
    Verb {
        name: "shutdown",
        synopsis: "shutdown",
        main: shutdown::main,
    },
];

/// Verbs not listed in the usage.
const HIDDEN: &[Verb] = &[Verb {
    name: "daemon",
    synopsis: "daemon [--session NAME] [--detach]",
    main: daemon::main,
}];

pub fn main(args: &[String]) -> i32 {
    let Some(verb) = args.get(1) else {
        usage();
        return 2;
    };
    if verb == "-h" || verb == "--help" || verb == "help" {
        usage();
        return 0;
    }
    match VERBS.iter().chain(HIDDEN).find(|v| v.name == verb) {
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
    eprintln!("  kload [--session NAME] VERB ...");
    for v in VERBS {
        eprintln!("  kload {}", v.synopsis);
    }
    eprintln!("The session verbs talk to a per-user kernel daemon, started on first use.");
}

/// kmod's words for the errno of a failed `init_module` (`mod_strerror`).
pub fn kmod_strerror(errno: i32) -> String {
    match errno {
        libc::ENOEXEC => "Invalid module format".into(),
        libc::ENOENT => "Unknown symbol in module".into(),
        libc::ESRCH => "Module has wrong symbol version".into(),
        libc::EINVAL => "Invalid parameters".into(),
        e => errno_str(e),
    }
}

/// `strerror` text of an I/O error, without Rust's " (os error N)".
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_owned()
}

/// `strerror(errno)`.
pub fn errno_str(errno: i32) -> String {
    strerror(&std::io::Error::from_raw_os_error(errno))
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

/// One option of `getopt`: its short letter, long name, and whether it
/// takes an argument.
pub struct Opt {
    pub short: char,
    pub long: &'static str,
    pub arg: bool,
}

/// An `Opt` in one line.
pub const fn opt(short: char, long: &'static str, arg: bool) -> Opt {
    Opt { short, long, arg }
}

/// What `getopt` found: options in order (letter and argument) and the
/// operands.
pub struct Parsed {
    pub opts: Vec<(char, Option<String>)>,
    pub operands: Vec<String>,
}

impl Parsed {
    pub fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }
    pub fn last(&self, c: char) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .and_then(|(_, a)| a.as_deref())
    }
}

/// `getopt_long` as kmod and util-linux use it: short options may be
/// grouped, arguments attached or separate, `--long[=arg]`, options may
/// follow operands, `--` ends options. Errors are glibc's words, prefixed
/// with `prog`.
pub fn getopt(prog: &str, args: &[String], opts: &[Opt]) -> Result<Parsed, String> {
    let mut p = Parsed {
        opts: Vec::new(),
        operands: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let Some(o) = opts.iter().find(|o| !o.long.is_empty() && o.long == name) else {
                return Err(format!("{prog}: unrecognized option '{a}'"));
            };
            let val = match (o.arg, attached) {
                (false, Some(_)) => {
                    return Err(format!(
                        "{prog}: option '--{name}' doesn't allow an argument"
                    ))
                }
                (false, None) => None,
                (true, Some(v)) => Some(v),
                (true, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => return Err(format!("{prog}: option '--{name}' requires an argument")),
                },
            };
            p.opts.push((o.short, val));
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let Some(o) = opts.iter().find(|o| o.short == c) else {
                    return Err(format!("{prog}: invalid option -- '{c}'"));
                };
                if !o.arg {
                    p.opts.push((c, None));
                    continue;
                }
                let rest: String = chars[j..].iter().collect();
                let val = if !rest.is_empty() {
                    rest
                } else if let Some(v) = args.get(i) {
                    i += 1;
                    v.clone()
                } else {
                    return Err(format!("{prog}: option requires an argument -- '{c}'"));
                };
                p.opts.push((c, Some(val)));
                break;
            }
        } else {
            p.operands.push(a.clone());
        }
    }
    Ok(p)
}

static SESSION: OnceLock<String> = OnceLock::new();

/// The session named by the global `--session` option.
pub fn set_session(name: String) {
    let _ = SESSION.set(name);
}

/// The session this command acts on.
pub fn session() -> Result<Session, i32> {
    Session::resolve(SESSION.get().map(String::as_str)).map_err(|e| {
        eprintln!("kload: {e}");
        1
    })
}

/// Connect to the session's daemon, starting it if needed.
pub fn connect() -> Result<Client, i32> {
    let s = session()?;
    Client::connect(&s, true).map_err(|e| {
        eprintln!("kload: {e}");
        1
    })
}

/// One request; a transport failure is printed and becomes exit status 1.
pub fn call(client: &mut Client, req: &Request) -> Result<Reply, i32> {
    client.call(req).map_err(|e| {
        eprintln!("kload: {e}");
        1
    })
}

/// A reply of the wrong kind (a daemon bug): say so.
pub fn unexpected(reply: &Reply) -> i32 {
    eprintln!("kload: unexpected reply from the session daemon: {reply:?}");
    1
}

/// kmod's module name of a file name or name: the base name up to its
/// first '.', with '-' read as '_'.
pub fn module_name(arg: &str) -> String {
    let base = arg.rsplit('/').next().unwrap_or(arg);
    let stem = base.split('.').next().unwrap_or(base);
    stem.replace('-', "_")
}

/// The daemon's `kload: <detail>` line, unless it only repeats `said`.
pub fn print_detail(detail: &str, said: &str) {
    if !detail.is_empty() && !said.ends_with(detail) {
        eprintln!("kload: {detail}");
    }
}

/// How the shell reports an insmod the kernel killed: a page fault Oops
/// kills the task with SIGKILL ("Killed", 137); `die()` (BUG, divide error,
/// general protection) with SIGSEGV ("Segmentation fault", 139).
pub fn killed_task(detail: &str) -> i32 {
    if detail.contains(kload::exec::signal::KILLED_SIGSEGV) {
        eprintln!("Segmentation fault");
        eprintln!("kload: {detail}");
        139
    } else {
        eprintln!("Killed");
        eprintln!("kload: {detail}");
        137
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const OPTS: &[Opt] = &[
        Opt {
            short: 'f',
            long: "force",
            arg: false,
        },
        Opt {
            short: 'F',
            long: "field",
            arg: true,
        },
        Opt {
            short: '0',
            long: "null",
            arg: false,
        },
    ];

    #[test]
    fn getopt_groups_permutes_and_takes_arguments() {
        let p = getopt(
            "t",
            &s(&["a", "-f0", "--field=x", "b", "-Fy", "-F", "z", "--", "-f"]),
            OPTS,
        )
        .unwrap();
        assert_eq!(p.operands, ["a", "b", "-f"]);
        assert!(p.has('f') && p.has('0'));
        assert_eq!(p.last('F'), Some("z"));
        assert_eq!(p.opts.len(), 5);
    }

    #[test]
    fn getopt_errors_use_glibc_words() {
        let e = |v: &[&str]| getopt("rmmod", &s(v), OPTS).err().unwrap();
        assert_eq!(e(&["-x"]), "rmmod: invalid option -- 'x'");
        assert_eq!(e(&["--nope"]), "rmmod: unrecognized option '--nope'");
        assert_eq!(e(&["-F"]), "rmmod: option requires an argument -- 'F'");
        assert_eq!(
            e(&["--field"]),
            "rmmod: option '--field' requires an argument"
        );
        assert_eq!(
            e(&["--force=1"]),
            "rmmod: option '--force' doesn't allow an argument"
        );
    }

    #[test]
    fn module_names_follow_kmod() {
        assert_eq!(module_name("hello-2"), "hello_2");
        assert_eq!(module_name("./sub/hello-2.ko.xz"), "hello_2");
        assert_eq!(module_name("snd_hda"), "snd_hda");
    }
}
