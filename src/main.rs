//! The `kload` command: a thin layer over the library.
//!
//! Invoked through a symlink named `insmod`, `rmmod`, `lsmod`, `modinfo` or
//! `modprobe`, it behaves as `kload <that verb>`. A global `--session NAME`
//! (or `--session=NAME`) before the verb selects the session kernel.

mod cli;

/// Names under which kload acts as the kmod tool of the same name.
const KMOD_NAMES: &[&str] = &["insmod", "rmmod", "lsmod", "modinfo", "modprobe"];

fn main() {
    kload::host::single_malloc_arena();
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
        .unwrap_or_default();
    if KMOD_NAMES.contains(&argv0.as_str()) {
        args[0] = argv0;
        args.insert(0, "kload".to_owned());
    } else {
        match take_session(&mut args) {
            Ok(Some(name)) => cli::set_session(name),
            Ok(None) => {}
            Err(e) => {
                eprintln!("kload: {e}");
                std::process::exit(2);
            }
        }
    }
    let verb = args.get(1).map(String::as_str).unwrap_or("");
    let default_level = if verb == "daemon" { "info" } else { "warn" };
    env_logger::Builder::from_env(env_logger::Env::default().filter_or("KLOAD_LOG", default_level))
        .init();
    std::process::exit(cli::main(&args));
}

/// Remove the global `--session NAME` options in front of the verb.
fn take_session(args: &mut Vec<String>) -> Result<Option<String>, String> {
    let mut name = None;
    while let Some(a) = args.get(1) {
        if a == "--session" {
            let Some(v) = args.get(2).cloned() else {
                return Err("option '--session' needs a session name".into());
            };
            name = Some(v);
            args.drain(1..3);
        } else if let Some(v) = a.strip_prefix("--session=") {
            name = Some(v.to_owned());
            args.remove(1);
        } else {
            break;
        }
    }
    Ok(name)
}
