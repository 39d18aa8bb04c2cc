//! `kload shutdown`: stop the session's daemon and its kernel (the loaded
//! modules are dropped without running their exit). Nothing to do, and
//! success, when no daemon runs. A daemon speaking another protocol, or
//! one that does not answer (a module's code hangs it), gets SIGTERM.

use std::fs;
use std::time::Duration;

use kload::daemon::client::{self, Client, ClientError};
use kload::daemon::protocol::{Reply, Request};
use kload::daemon::session::Session;
use kload::daemon::sys;

/// How long to wait for the daemon's answer before signalling it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for it to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

pub fn main(args: &[String]) -> i32 {
    if !args.is_empty() {
        eprintln!("usage: kload shutdown");
        return 2;
    }
    let session = match super::session() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match Client::connect(&session, false) {
        Ok(mut c) => {
            let _ = c.set_timeout(Some(ANSWER_TIMEOUT));
            match c.call(&Request::Shutdown) {
                Ok(Reply::Ok) => finish(&session, None),
                Ok(other) => super::unexpected(&other),
                // It died on its own: only the leftovers to clean.
                Err(ClientError::Died { .. }) => finish(&session, None),
                Err(e) => {
                    eprintln!(
                        "kload: the session daemon (pid {}) did not answer ({e}); stopping it",
                        c.daemon_pid
                    );
                    finish(&session, Some(c.daemon_pid))
                }
            }
        }
        Err(ClientError::NotRunning { .. }) => 0,
        Err(ClientError::VersionMismatch { daemon, pid, .. }) => {
            eprintln!(
                "kload: stopping the session daemon (pid {pid}), which speaks protocol {daemon}"
            );
            finish(&session, Some(pid))
        }
        Err(e) => {
            eprintln!("kload: {e}");
            1
        }
    }
}

/// Signal `pid` if given, wait for the daemon to be gone, and remove a
/// socket it left behind.
fn finish(session: &Session, kill: Option<u32>) -> i32 {
    if let Some(pid) = kill {
        if let Err(e) = sys::terminate(pid) {
            eprintln!("kload: cannot signal pid {pid}: {e}");
            return 1;
        }
    }
    if !client::wait_daemon_gone(session, EXIT_TIMEOUT) {
        eprintln!(
            "kload: the session daemon is still running after {} s",
            EXIT_TIMEOUT.as_secs()
        );
        return 1;
    }
    if kill.is_some() {
        let _ = fs::remove_file(session.socket_path());
    }
    0
}
