//! The few system calls the session layer needs that std does not offer
//! (peer credentials, `flock`, `setsid`, `poll`, `kill`, the real uid).
//! This is the only file of the daemon with `unsafe`; each call passes
//! owned, live file descriptors and properly sized out-parameters.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// The real user id of this process.
pub fn getuid() -> u32 {
    // SAFETY: getuid(2) takes no arguments, touches no memory and cannot fail.
    unsafe { libc::getuid() }
}

/// Who is on the other end of a connected Unix socket (`SO_PEERCRED`):
/// for a client, the process that called `listen`; for the server, the
/// process that called `connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

pub fn peer_cred(sock: &impl AsFd) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the descriptor is borrowed from a live socket for the duration
    // of the call; `cred` is a valid, writable `ucred` and `len` holds its
    // exact size, so the kernel writes at most `len` bytes into it.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        pid: cred.pid.max(0) as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// `flock(LOCK_EX)` on `file`, waiting for it unless `wait` is false, in
/// which case a held lock is `ErrorKind::WouldBlock`. The lock belongs to
/// the open file and is released when it is closed (or the process dies).
pub fn lock_exclusive(file: &File, wait: bool) -> io::Result<()> {
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    loop {
        // SAFETY: flock(2) only reads the descriptor number, which is
        // borrowed from an open `File` for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Start a new session (detach from the controlling terminal and from the
/// caller's process group), as a daemon does.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid(2) takes no arguments and touches no memory.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Wait up to `timeout_ms` for `fd` to become readable (for a listening
/// socket: a connection is waiting). Returns false on timeout.
pub fn wait_readable(fd: &impl AsFd, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid, writable pollfd and we pass nfds = 1; the
    // descriptor is borrowed from a live object for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    match rc {
        n if n > 0 => Ok(true),
        0 => Ok(false),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// Send `SIGTERM` to `pid`.
pub fn terminate(pid: u32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill(2) with a positive pid signals exactly that process; it
    // touches no memory of ours.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn peer_of_a_socketpair_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let cred = peer_cred(&a).unwrap();
        assert_eq!(cred.pid, std::process::id());
        assert_eq!(cred.uid, getuid());
    }

    #[test]
    fn a_held_lock_would_block_a_second_open_file() {
        let dir = std::env::temp_dir().join(format!("kload-sys-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lock");
        let first = File::create(&path).unwrap();
        lock_exclusive(&first, false).unwrap();
        let second = File::open(&path).unwrap();
        let err = lock_exclusive(&second, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        lock_exclusive(&second, false).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn poll_times_out_on_a_quiet_socket() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(!wait_readable(&a, 10).unwrap());
    }
}
