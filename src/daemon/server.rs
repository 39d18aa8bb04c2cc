//! The session daemon: one `Controller` (one emulated kernel) behind a Unix
//! socket, serving one connection at a time.
//!
//! - At start it takes `<session>.pid` with `flock` for its whole life (so
//!   two daemons of a session cannot run), removes a stale socket, binds,
//!   and writes its pid.
//! - Each connection: the peer's uid (`SO_PEERCRED`) must be ours, else it
//!   is closed and logged; then the hellos; then requests, each read whole
//!   before it is acted on, so a client that dies mid-request never starts
//!   a half-received command, and one that dies after sending it finds the
//!   command completed (its reply is dropped).
//! - `Shutdown`: the socket is removed and the listener closed, then the
//!   reply is sent and the daemon exits.
//! - If its socket file is removed or replaced, the daemon exits too.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use super::client::same_inode;
use super::controller::{Controller, Follow};
use super::protocol::{Reply, Request, PROTOCOL_VERSION};
use super::session::{Session, SessionError};
use super::sys;
use super::wire;

/// How long a connected client may take to send its next bytes.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a `dmesg -w` follower with nothing to send checks that its
/// client is still there.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// How often an idle daemon checks that its socket is still its own.
const IDLE_CHECK_MS: i32 = 1000;
/// How long a starting daemon waits for the pid lock (a client may hold
/// it for an instant while checking whether a daemon runs).
const PID_LOCK_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub enum ServerError {
    Session(SessionError),
    AlreadyRunning { session: String, pid: String },
    Io { what: String, source: io::Error },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Session(e) => write!(f, "{e}"),
            ServerError::AlreadyRunning { session, pid } => write!(
                f,
                "a daemon already runs for session '{session}' (pid {pid})"
            ),
            ServerError::Io { what, source } => {
                let text = source.to_string();
                let text = text.split(" (os error").next().unwrap_or(&text);
                write!(f, "{what}: {text}")
            }
        }
    }
}

impl std::error::Error for ServerError {}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ServerError {
    let what = what.into();
    move |source| ServerError::Io { what, source }
}

/// Run the session's daemon until `Shutdown` (or until its socket goes).
/// With `detach`, first leave the caller's session and process group.
pub fn run(session: &Session, detach: bool) -> Result<(), ServerError> {
    if detach {
        // Fails only when already a process-group leader (started by a
        // shell); it is then already detached enough.
        let _ = sys::setsid();
    }
    session.prepare_dir().map_err(ServerError::Session)?;
    let pid_path = session.pid_path();
    let pid_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&pid_path)
        .map_err(io_err(format!("cannot open {}", pid_path.display())))?;
    let deadline = Instant::now() + PID_LOCK_WAIT;
    loop {
        match sys::lock_exclusive(&pid_file, false) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let pid = fs::read_to_string(&pid_path).unwrap_or_default();
                return Err(ServerError::AlreadyRunning {
                    session: session.name.clone(),
                    pid: pid.trim().to_owned(),
                });
            }
            Err(e) => return Err(io_err(format!("cannot lock {}", pid_path.display()))(e)),
        }
    }
    // We hold the lock, so no daemon serves this socket: any file there is
    // stale.
    let sock = session.socket_path();
    match fs::remove_file(&sock) {
        Ok(()) => log::info!("removed stale socket {}", sock.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("cannot remove {}", sock.display()))(e)),
    }
    let listener =
        UnixListener::bind(&sock).map_err(io_err(format!("cannot bind {}", sock.display())))?;
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o600))
        .map_err(io_err(format!("cannot chmod {}", sock.display())))?;
    let ino = fs::symlink_metadata(&sock)
        .map_err(io_err(format!("cannot stat {}", sock.display())))?
        .ino();
    let mut pid_writer = &pid_file;
    pid_file
        .set_len(0)
        .and_then(|()| writeln!(pid_writer, "{}", std::process::id()))
        .map_err(io_err(format!("cannot write {}", pid_path.display())))?;
    let uid = sys::getuid();
    log::info!(
        "session '{}': listening on {} (pid {}, uid {uid}, protocol {PROTOCOL_VERSION})",
        session.name,
        sock.display(),
        std::process::id()
    );
    let mut controller = Controller::new();
    let mut listener = Some(listener);
    while let Some(l) = &listener {
        if !sys::wait_readable(l, IDLE_CHECK_MS).map_err(io_err("poll"))? {
            if !same_inode(&sock, ino) {
                log::warn!("{} was removed or replaced; exiting", sock.display());
                return Ok(());
            }
            continue;
        }
        let stream = match l.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                log::warn!("accept: {e}");
                continue;
            }
        };
        match sys::peer_cred(&stream) {
            Ok(c) if c.uid == uid => {}
            Ok(c) => {
                log::warn!(
                    "refused a connection from uid {} (pid {}): this kernel belongs to uid {uid}",
                    c.uid,
                    c.pid
                );
                continue;
            }
            Err(e) => {
                log::warn!("refused a connection whose credentials cannot be read: {e}");
                continue;
            }
        }
        if let Some(reply_then_exit) = serve(stream, &mut controller) {
            // Shutdown: stop being reachable first, then answer.
            if same_inode(&sock, ino) {
                let _ = fs::remove_file(&sock);
            }
            listener = None;
            reply_then_exit();
        }
    }
    log::info!("session '{}': shut down", session.name);
    Ok(())
}

/// Serve one client until it hangs up. Returns a closure that sends the
/// reply to `Shutdown`, when the client asked for it.
fn serve(mut stream: UnixStream, ctl: &mut Controller) -> Option<Box<dyn FnOnce()>> {
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
    let mut theirs = [0u8; 8];
    if let Err(e) = stream.read_exact(&mut theirs) {
        log::debug!("client left before its hello: {e}");
        return None;
    }
    let Some(version) = wire::parse_hello(&theirs) else {
        log::warn!("refused a connection that is not a kload client (no hello)");
        return None;
    };
    if let Err(e) = stream.write_all(&wire::hello(PROTOCOL_VERSION)) {
        log::debug!("client left during the handshake: {e}");
        return None;
    }
    if version != PROTOCOL_VERSION {
        log::warn!("a client speaks protocol {version}, this daemon {PROTOCOL_VERSION}; closing");
        return None;
    }
    loop {
        let body = match wire::read_frame(&mut stream) {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                log::warn!("dropped a client: {e}");
                return None;
            }
        };
        let req = match wire::decode_request(&body) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("dropped a client: {e}");
                return None;
            }
        };
        log::debug!("request: {}", describe(&req));
        if let Request::Dmesg {
            clear,
            follow: true,
        } = req
        {
            // The connection becomes the follower's; the daemon goes on
            // serving other clients.
            let f = ctl.follow(clear);
            if let Err(e) = wire::write_frame(&mut stream, &wire::encode_reply(&f.first)) {
                log::debug!("client left before its reply: {e}");
                return None;
            }
            let spawned = std::thread::Builder::new()
                .name("dmesg-follow".into())
                .spawn(move || follow(stream, f));
            if let Err(e) = spawned {
                log::warn!("cannot start a dmesg follower: {e}");
            }
            return None;
        }
        let shutdown = req == Request::Shutdown;
        let reply = ctl.handle(req);
        let frame = wire::encode_reply(&reply);
        if shutdown {
            return Some(Box::new(move || {
                let _ = wire::write_frame(&mut stream, &frame);
            }));
        }
        if let Err(e) = wire::write_frame(&mut stream, &frame) {
            log::debug!("client left before its reply: {e}");
            return None;
        }
    }
}

/// Stream new kernel log records to a `dmesg -w` client until it hangs up
/// (its socket turns readable: a follower's client sends nothing more) or
/// a write fails; then the subscription is dropped with the receiver.
fn follow(mut stream: UnixStream, f: Follow) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut after = f.after;
    loop {
        match f.rx.recv_timeout(FOLLOW_POLL) {
            Ok(first) => {
                let mut batch = vec![first];
                batch.extend(f.rx.try_iter());
                batch.retain(|r| after.is_none_or(|a| r.seq > a));
                let Some(last) = batch.last() else {
                    continue;
                };
                after = Some(last.seq);
                let frame = wire::encode_reply(&Reply::Log(batch));
                if let Err(e) = wire::write_frame(&mut stream, &frame) {
                    log::debug!("dmesg follower left: {e}");
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if sys::wait_readable(&stream, 0).unwrap_or(true) {
                    log::debug!("dmesg follower hung up");
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A request in a log line (without the image bytes).
fn describe(req: &Request) -> String {
    match req {
        Request::Insmod {
            file, image, args, ..
        } => format!("insmod {file} ({} bytes) {args}", image.len()),
        r => format!("{r:?}"),
    }
}
