//! The client side of the session socket: connect (starting the daemon on
//! first use), check who answers, exchange versions, then send requests
//! and read replies.
//!
//! Starting is serialised by `flock` on `<session>.lock`: the first client
//! that cannot connect takes the lock, tries once more, and only then
//! spawns `kload daemon --session NAME --detach` and waits for its socket.
//! Concurrent clients wait on the lock and then find the daemon running.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::protocol::{Reply, Request, PROTOCOL_VERSION};
use super::session::{Session, SessionError};
use super::sys;
use super::wire::{self, WireError};

/// How long a client waits for a daemon it started to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a client could not talk to the daemon.
#[derive(Debug)]
pub enum ClientError {
    Session(SessionError),
    /// No daemon listens (and the caller did not want one started).
    NotRunning {
        socket: PathBuf,
    },
    Connect {
        socket: PathBuf,
        source: io::Error,
    },
    Lock {
        path: PathBuf,
        source: io::Error,
    },
    Spawn {
        exe: PathBuf,
        source: io::Error,
    },
    /// The daemon we started exited before listening.
    DaemonExited {
        log: PathBuf,
        tail: String,
    },
    StartTimeout {
        socket: PathBuf,
        log: PathBuf,
    },
    /// The socket's owner is not us.
    WrongUser {
        socket: PathBuf,
        uid: u32,
        ours: u32,
    },
    /// The peer's first bytes are not a kload hello.
    NotKload {
        socket: PathBuf,
    },
    /// The daemon closed the connection during the handshake.
    Closed {
        socket: PathBuf,
    },
    VersionMismatch {
        daemon: u32,
        ours: u32,
        pid: u32,
    },
    /// The daemon hung up without answering a request (it died).
    Died {
        pid: u32,
        log: Option<PathBuf>,
    },
    Io(io::Error),
    Wire(WireError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Session(e) => write!(f, "{e}"),
            ClientError::NotRunning { socket } => {
                write!(f, "no session daemon listens on {}", socket.display())
            }
            ClientError::Connect { socket, source } => {
                write!(f, "cannot connect to {}: {}", socket.display(), plain(source))
            }
            ClientError::Lock { path, source } => write!(f, "cannot lock {}: {}", path.display(), plain(source)),
            ClientError::Spawn { exe, source } => write!(
                f,
                "cannot start the session daemon ({} daemon): {}",
                exe.display(),
                plain(source)
            ),
            ClientError::DaemonExited { log, tail } => {
                write!(f, "the session daemon exited while starting (log {})", log.display())?;
                if !tail.is_empty() {
                    write!(f, ":\n{tail}")?;
                }
                Ok(())
            }
            ClientError::StartTimeout { socket, log } => write!(
                f,
                "the session daemon did not listen on {} within {} s (log {})",
                socket.display(),
                START_TIMEOUT.as_secs(),
                log.display()
            ),
            ClientError::WrongUser { socket, uid, ours } => write!(
                f,
                "the daemon on {} runs as uid {uid}, not as you (uid {ours}); refusing to talk to it",
                socket.display()
            ),
            ClientError::NotKload { socket } => {
                write!(f, "{} is not a kload session socket", socket.display())
            }
            ClientError::Closed { socket } => write!(
                f,
                "the session daemon on {} closed the connection (it serves only its own user)",
                socket.display()
            ),
            ClientError::VersionMismatch { daemon, ours, .. } => write!(
                f,
                "the session daemon speaks protocol {daemon}, this kload speaks {ours}; run `kload shutdown`"
            ),
            ClientError::Died { pid, log } => {
                write!(f, "the session daemon (pid {pid}) exited without answering; its kernel is gone")?;
                if let Some(log) = log {
                    write!(f, " (log {})", log.display())?;
                }
                Ok(())
            }
            ClientError::Io(e) => write!(f, "lost the session daemon: {}", plain(e)),
            ClientError::Wire(e) => write!(f, "bad reply from the session daemon: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// An I/O error's text without Rust's " (os error N)".
fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_owned()
}

impl From<SessionError> for ClientError {
    fn from(e: SessionError) -> Self {
        ClientError::Session(e)
    }
}

/// A connection to a session daemon, past the handshake.
pub struct Client {
    stream: UnixStream,
    /// The daemon's pid (from `SO_PEERCRED`).
    pub daemon_pid: u32,
    /// The daemon was started by this connect.
    pub started: bool,
    /// The daemon's log, when known.
    log: Option<PathBuf>,
}

impl Client {
    /// Connect to the session's daemon, starting it when none listens and
    /// `autostart` is set. `KLOAD_SOCKET`, when set, names the socket
    /// directly (no runtime directory, no autostart).
    pub fn connect(session: &Session, autostart: bool) -> Result<Client, ClientError> {
        if let Some(sock) = std::env::var_os("KLOAD_SOCKET").filter(|s| !s.is_empty()) {
            let sock = PathBuf::from(sock);
            return match UnixStream::connect(&sock) {
                Ok(s) => Client::handshake(s, &sock, PROTOCOL_VERSION),
                Err(e) if is_absent(&e) => Err(ClientError::NotRunning { socket: sock }),
                Err(source) => Err(ClientError::Connect {
                    socket: sock,
                    source,
                }),
            };
        }
        session.prepare_dir()?;
        let mut tries = 0;
        loop {
            match Client::connect_once(session, autostart).map(|mut c| {
                c.log = Some(session.log_path());
                c
            }) {
                // A daemon that was shutting down as we connected: retry once
                // it is gone (its socket is removed before it stops serving).
                Err(ClientError::Closed { .. }) if tries < 3 && socket_replaced(session) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                r => return r,
            }
        }
    }

    fn connect_once(session: &Session, autostart: bool) -> Result<Client, ClientError> {
        let sock = session.socket_path();
        match try_connect(&sock)? {
            Some(c) => return Ok(c),
            None if !autostart => return Err(ClientError::NotRunning { socket: sock }),
            None => {}
        }
        let lock_path = session.lock_path();
        let lock_err = |source| ClientError::Lock {
            path: lock_path.clone(),
            source,
        };
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(lock_err)?;
        sys::lock_exclusive(&lock, true).map_err(lock_err)?;
        // Someone may have started it while we waited for the lock.
        if let Some(c) = try_connect(&sock)? {
            return Ok(c);
        }
        let mut c = start_daemon(session)?;
        c.started = true;
        drop(lock);
        Ok(c)
    }

    /// Exchange hellos on a fresh connection to `sock`, claiming `version`.
    pub fn handshake(stream: UnixStream, sock: &Path, version: u32) -> Result<Client, ClientError> {
        let cred = sys::peer_cred(&stream).map_err(ClientError::Io)?;
        let ours = sys::getuid();
        if cred.uid != ours {
            return Err(ClientError::WrongUser {
                socket: sock.to_owned(),
                uid: cred.uid,
                ours,
            });
        }
        let mut stream = stream;
        let closed = |e: io::Error| match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => ClientError::Closed {
                socket: sock.to_owned(),
            },
            _ => ClientError::Io(e),
        };
        stream.write_all(&wire::hello(version)).map_err(closed)?;
        let mut theirs = [0u8; 8];
        stream.read_exact(&mut theirs).map_err(closed)?;
        let Some(daemon) = wire::parse_hello(&theirs) else {
            return Err(ClientError::NotKload {
                socket: sock.to_owned(),
            });
        };
        if daemon != version {
            return Err(ClientError::VersionMismatch {
                daemon,
                ours: version,
                pid: cred.pid,
            });
        }
        Ok(Client {
            stream,
            daemon_pid: cred.pid,
            started: false,
            log: None,
        })
    }

    /// Send one request and wait for its reply.
    pub fn call(&mut self, req: &Request) -> Result<Reply, ClientError> {
        self.send(req)?;
        match wire::read_frame(&mut self.stream) {
            Ok(Some(body)) => wire::decode_reply(&body).map_err(ClientError::Wire),
            Ok(None) => Err(self.lost(io::ErrorKind::UnexpectedEof.into())),
            Err(e) => Err(self.lost(e)),
        }
    }

    /// The next reply of a streamed answer (`dmesg -w`); None when the
    /// daemon closed the stream (it stopped).
    pub fn receive(&mut self) -> Result<Option<Reply>, ClientError> {
        match wire::read_frame(&mut self.stream) {
            Ok(Some(body)) => wire::decode_reply(&body)
                .map(Some)
                .map_err(ClientError::Wire),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(self.lost(e)),
        }
    }

    /// Send one request without waiting for the reply.
    pub fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        wire::write_frame(&mut self.stream, &wire::encode_request(req)).map_err(|e| self.lost(e))
    }

    /// A broken connection means the daemon died.
    fn lost(&self, e: io::Error) -> ClientError {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::UnexpectedEof => ClientError::Died {
                pid: self.daemon_pid,
                log: self.log.clone(),
            },
            _ => ClientError::Io(e),
        }
    }

    /// Give up waiting for a reply after `t` (None: wait for ever).
    pub fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(t)
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// Connect and handshake, or None when nothing listens on `sock`.
fn try_connect(sock: &Path) -> Result<Option<Client>, ClientError> {
    match UnixStream::connect(sock) {
        Ok(s) => Client::handshake(s, sock, PROTOCOL_VERSION).map(Some),
        Err(e) if is_absent(&e) => Ok(None),
        Err(source) => Err(ClientError::Connect {
            socket: sock.to_owned(),
            source,
        }),
    }
}

/// The socket we connected to was removed (its daemon is stopping).
fn socket_replaced(session: &Session) -> bool {
    !session.socket_path().exists() || daemon_alive(session).is_none()
}

/// The pid of the session's running daemon, if one holds its pid lock.
pub fn daemon_alive(session: &Session) -> Option<u32> {
    let f = File::open(session.pid_path()).ok()?;
    match sys::lock_exclusive(&f, false) {
        Ok(()) => None,
        Err(_) => {
            let pid = fs::read_to_string(session.pid_path()).ok()?;
            Some(pid.trim().parse().unwrap_or(0))
        }
    }
}

/// Wait until no daemon holds the session's pid lock (up to `timeout`).
pub fn wait_daemon_gone(session: &Session, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if daemon_alive(session).is_none() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Spawn the daemon detached and wait for it to listen.
fn start_daemon(session: &Session) -> Result<Client, ClientError> {
    let exe = std::env::current_exe().map_err(|source| ClientError::Spawn {
        exe: PathBuf::from("kload"),
        source,
    })?;
    let spawn_err = |source| ClientError::Spawn {
        exe: exe.clone(),
        source,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(session.log_path())
        .map_err(spawn_err)?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new(&exe)
        .args(["daemon", "--session", &session.name, "--detach"])
        .env("KLOAD_RUNTIME_DIR", &session.dir)
        .env_remove("KLOAD_SOCKET")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(spawn_err)?;
    let sock = session.socket_path();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(c) = try_connect(&sock)? {
            return Ok(c);
        }
        if let Ok(Some(_)) = child.try_wait() {
            // It may have lost a race to a daemon started by hand; wait for
            // that one only if it is really there.
            if daemon_alive(session).is_none() {
                return Err(ClientError::DaemonExited {
                    log: session.log_path(),
                    tail: log_tail(&session.log_path(), log_start),
                });
            }
        }
        if Instant::now() >= deadline {
            return Err(ClientError::StartTimeout {
                socket: sock,
                log: session.log_path(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The log written since `from`, last few lines.
fn log_tail(path: &Path, from: u64) -> String {
    let Ok(text) = fs::read(path) else {
        return String::new();
    };
    let start = usize::try_from(from).unwrap_or(0).min(text.len());
    let text = String::from_utf8_lossy(&text[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Is the file at `path` still the inode `ino`?
pub fn same_inode(path: &Path, ino: u64) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.ino() == ino)
}
