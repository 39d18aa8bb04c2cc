//! `kload daemon [--session NAME] [--detach]` (hidden): run the session's
//! kernel daemon in the foreground. Clients start it this way on first use
//! (with `--detach`); run it by hand to watch its log on stderr.

use kload::daemon::server;
use kload::daemon::session::Session;

use super::{getopt, opt, Opt};

const OPTS: &[Opt] = &[opt('s', "session", true), opt('d', "detach", false)];

pub fn main(args: &[String]) -> i32 {
    let p = match getopt("kload daemon", args, OPTS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if !p.operands.is_empty() {
        eprintln!("usage: kload daemon [--session NAME] [--detach]");
        return 2;
    }
    let session = match p.last('s') {
        Some(name) => Session::resolve(Some(name)).map_err(|e| {
            eprintln!("kload: {e}");
            1
        }),
        None => super::session(),
    };
    let session = match session {
        Ok(s) => s,
        Err(code) => return code,
    };
    match server::run(&session, p.has('d')) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kload daemon: {e}");
            1
        }
    }
}
