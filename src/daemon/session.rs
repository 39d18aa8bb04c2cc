//! Where a session's daemon lives: one runtime directory per user, holding
//! per session `<name>.sock` (the socket), `<name>.pid` (locked by the
//! daemon for its whole life), `<name>.lock` (taken by clients around
//! "connect or start the daemon") and `<name>.log` (the daemon's log).
//!
//! The directory is `$KLOAD_RUNTIME_DIR` if set, else `$XDG_RUNTIME_DIR/kload`
//! when XDG_RUNTIME_DIR is an absolute directory owned by the user, else
//! `/tmp/kload-<uid>`. It is created mode 0700 and must be a real directory
//! owned by the user that no one else can write to; anything else is
//! refused. The files in it are created mode 0600.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::sys;

/// Session used when neither `--session` nor `KLOAD_SESSION` names one.
pub const DEFAULT_SESSION: &str = "default";

/// Why a session cannot be used.
#[derive(Debug)]
pub enum SessionError {
    BadName(String),
    CreateDir { dir: PathBuf, source: io::Error },
    NotDir(PathBuf),
    NotOwned { dir: PathBuf, owner: u32, uid: u32 },
    Open { dir: PathBuf, mode: u32 },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::BadName(n) => write!(
                f,
                "invalid session name '{n}': use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
            ),
            SessionError::CreateDir { dir, source } => {
                write!(f, "cannot create the runtime directory {}: {source}", dir.display())
            }
            SessionError::NotDir(dir) => write!(
                f,
                "{} is not a directory (or is a symbolic link); refusing to use it as the runtime directory",
                dir.display()
            ),
            SessionError::NotOwned { dir, owner, uid } => write!(
                f,
                "the runtime directory {} belongs to uid {owner}, not to you (uid {uid}); refusing to use it",
                dir.display()
            ),
            SessionError::Open { dir, mode } => write!(
                f,
                "the runtime directory {} has mode {mode:04o}: other users can write to it; refusing to use it (chmod 700 it)",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for SessionError {}

/// One session: its name and its runtime directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub name: String,
    pub dir: PathBuf,
}

impl Session {
    /// The session named `explicit` (from `--session`), else by
    /// `KLOAD_SESSION`, else `default`, in the runtime directory the
    /// environment selects. Nothing is created yet.
    pub fn resolve(explicit: Option<&str>) -> Result<Session, SessionError> {
        let env = std::env::var("KLOAD_SESSION")
            .ok()
            .filter(|s| !s.is_empty());
        let name = explicit
            .map(str::to_owned)
            .or(env)
            .unwrap_or_else(|| DEFAULT_SESSION.to_owned());
        check_name(&name)?;
        Ok(Session {
            name,
            dir: runtime_dir(),
        })
    }

    pub fn socket_path(&self) -> PathBuf {
        self.file("sock")
    }
    pub fn pid_path(&self) -> PathBuf {
        self.file("pid")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.file("lock")
    }
    pub fn log_path(&self) -> PathBuf {
        self.file("log")
    }

    fn file(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    /// Create the runtime directory (mode 0700) if needed and check that it
    /// is ours and private.
    pub fn prepare_dir(&self) -> Result<(), SessionError> {
        ensure_private_dir(&self.dir)
    }
}

fn check_name(name: &str) -> Result<(), SessionError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SessionError::BadName(name.to_owned()))
    }
}

/// The runtime directory the environment selects (not created).
pub fn runtime_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KLOAD_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let uid = sys::getuid();
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        let usable =
            xdg.is_absolute() && fs::metadata(&xdg).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if usable {
            return xdg.join("kload");
        }
    }
    PathBuf::from(format!("/tmp/kload-{uid}"))
}

fn ensure_private_dir(dir: &Path) -> Result<(), SessionError> {
    let create = |source| SessionError::CreateDir {
        dir: dir.to_owned(),
        source,
    };
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // KLOAD_RUNTIME_DIR may name a directory whose parents are missing.
            fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(dir)
                .map_err(create)?;
        }
        Err(e) => return Err(create(e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(create)?;
    if !meta.is_dir() {
        return Err(SessionError::NotDir(dir.to_owned()));
    }
    let uid = sys::getuid();
    if meta.uid() != uid {
        return Err(SessionError::NotOwned {
            dir: dir.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    // Others may see the directory (its files are 0600), not write to it.
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(SessionError::Open {
            dir: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["default", "a", "ci-1.2_x", &"x".repeat(64)] {
            check_name(good).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "..", "sp ace", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn private_dir_is_created_0700_and_writable_dirs_are_refused() {
        let base = std::env::temp_dir().join(format!("kload-session-test-{}", std::process::id()));
        let dir = base.join("a/b");
        ensure_private_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        ensure_private_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o757)).unwrap();
        let e = ensure_private_dir(&dir).unwrap_err();
        assert!(e.to_string().contains("mode 0757"), "{e}");
        let file = base.join("file");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(SessionError::NotDir(_))
        ));
        fs::remove_dir_all(&base).unwrap();
    }
}
