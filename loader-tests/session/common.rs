//! Helpers for the session tests: an isolated runtime directory per test
//! (`KLOAD_RUNTIME_DIR`), the `kload` binary, the sample modules.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use kload::daemon::client::Client;
use kload::daemon::session::Session;

pub const SERIES: [&str; 2] = ["6.1", "6.12"];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kload")
}

/// Directories holding sample modules of `series`: the committed ones and
/// the ones CI rebuilt from source (`KLOAD_REBUILT_MODULES`).
pub fn module_dirs(series: &str) -> Vec<PathBuf> {
    let mut dirs = vec![root().join("sample-modules").join(series)];
    if let Some(rebuilt) = std::env::var_os("KLOAD_REBUILT_MODULES") {
        let d = Path::new(&rebuilt).join(series);
        assert!(
            d.is_dir(),
            "KLOAD_REBUILT_MODULES is set but {} does not exist",
            d.display()
        );
        dirs.push(d);
    }
    dirs
}

/// A committed sample module.
pub fn sample(series: &str, file: &str) -> String {
    root()
        .join("sample-modules")
        .join(series)
        .join(file)
        .display()
        .to_string()
}

/// One test's own runtime directory and session; the daemon is shut down
/// when it is dropped.
pub struct Env {
    pub dir: std::sync::Arc<tempfile::TempDir>,
    pub session: String,
}

impl Env {
    pub fn new() -> Env {
        Env::named("t")
    }

    pub fn named(session: &str) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("kload-session-")
            .tempdir()
            .unwrap();
        Env {
            dir: std::sync::Arc::new(dir),
            session: session.to_owned(),
        }
    }

    /// Another session in the same runtime directory.
    pub fn other_session(&self, session: &str) -> Env {
        Env {
            dir: self.dir.clone(),
            session: session.to_owned(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The library's view of this session (for raw clients).
    pub fn lib_session(&self) -> Session {
        Session {
            name: self.session.clone(),
            dir: self.path().to_owned(),
        }
    }

    /// A connection to the running daemon (never starts one: that would
    /// start the test binary).
    pub fn client(&self) -> Client {
        Client::connect(&self.lib_session(), false).expect("connect to the session daemon")
    }

    /// `kload --session S ARGS` in this runtime directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.env("KLOAD_RUNTIME_DIR", self.path())
            .env_remove("KLOAD_SESSION")
            .env_remove("KLOAD_SOCKET")
            .env_remove("KLOAD_LOG")
            .arg("--session")
            .arg(&self.session)
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run kload")
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kload")
    }

    /// Run and require success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "kload {args:?} failed: {}",
            text(&o.stderr)
        );
        assert_eq!(text(&o.stderr), "", "kload {args:?} wrote to stderr");
        text(&o.stdout)
    }

    /// Run and require failure with exit status 1; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(1), "kload {args:?}: {o:?}");
        text(&o.stderr)
    }

    /// The names lsmod shows, newest first.
    pub fn lsmod_names(&self) -> Vec<String> {
        let out = self.ok(&["lsmod"]);
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("Module                  Size  Used by"));
        lines
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join(format!("{}.log", self.session)))
            .unwrap_or_default()
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join(format!("{}.sock", self.session))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["shutdown"]);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `[    1.234567] text` -> `text`; an empty line (util-linux prints an
/// empty record without its timestamp) and a bare `[    1.234567]` (an
/// empty record whose trailing space was lost) are empty.
pub fn strip_timestamp(line: &str) -> &str {
    if line.is_empty() {
        return line;
    }
    fn bad<T>(line: &str) -> T {
        panic!("not a dmesg line: {line:?}")
    }
    let rest = line.strip_prefix('[').unwrap_or_else(|| bad(line));
    let (ts, text) = match rest.split_once("] ") {
        Some(v) => v,
        None => (rest.strip_suffix(']').unwrap_or_else(|| bad(line)), ""),
    };
    let (secs, usecs) = ts.trim_start().split_once('.').unwrap_or_else(|| bad(line));
    if !secs.bytes().all(|b| b.is_ascii_digit()) || usecs.len() != 6 {
        bad::<()>(line);
    }
    text
}

pub fn kernel_lines(dmesg: &str) -> Vec<String> {
    dmesg
        .lines()
        .map(|l| strip_timestamp(l).to_owned())
        .collect()
}
