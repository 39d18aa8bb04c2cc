//! Only the daemon's user may use it; runtime directories that are not
//! private and ours are refused; versions are checked on connect.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};

use kload::daemon::client::{Client, ClientError};
use kload::daemon::protocol::PROTOCOL_VERSION;
use kload::daemon::wire;

use crate::common::*;

const NOBODY: u32 = 65534;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `setpriv` to nobody, with no supplementary groups (util-linux, in every
/// Debian system). Needs root, as running as another user does.
fn as_nobody(program: &Path) -> Command {
    assert!(
        kload::daemon::sys::getuid() == 0,
        "this test runs a client as nobody and needs root"
    );
    let mut c = Command::new("setpriv");
    c.args([
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        "--clear-groups".into(),
    ])
    .arg(program)
    .env_remove("KLOAD_SESSION")
    .env_remove("XDG_RUNTIME_DIR");
    c
}

/// A copy of kload that nobody can run, wherever the build tree is.
fn public_kload() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    chmod(d.path(), 0o755);
    let exe = d.path().join("kload");
    std::fs::copy(bin(), &exe).unwrap();
    chmod(&exe, 0o755);
    (d, exe)
}

#[test]
fn another_user_is_refused() {
    let env = Env::new();
    env.ok(&["insmod", &sample("6.1", "hello-2.ko")]);
    let (_pub, exe) = public_kload();

    // 1. nobody aimed at our runtime directory: refused by its owner check.
    let o = as_nobody(&exe)
        .env("KLOAD_RUNTIME_DIR", env.path())
        .args(["--session", &env.session, "lsmod"])
        .output()
        .expect("setpriv (util-linux) must be installed");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("belongs to uid 0, not to you (uid {NOBODY})")),
        "{err}"
    );

    // 2. Even with the directory and socket opened up, the daemon refuses
    //    the connection (SO_PEERCRED), and the client refuses the daemon.
    chmod(env.path(), 0o711);
    chmod(&env.socket(), 0o777);
    let o = as_nobody(&exe)
        .env("KLOAD_SOCKET", env.socket())
        .arg("lsmod")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        text(&o.stderr).contains(&format!("runs as uid 0, not as you (uid {NOBODY})")),
        "{}",
        text(&o.stderr)
    );
    // A raw client that skips its own check gets nothing back either.
    let script = r#"use IO::Socket::UNIX; $SIG{PIPE} = 'IGNORE';
        my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
        syswrite($s, "kLd\x01\x02\x00\x00\x00\x01\x00\x00\x00\x03");
        my $n = sysread($s, my $buf, 64);
        print defined $n ? "read $n\n" : "error\n";"#;
    let o = as_nobody(Path::new("/usr/bin/perl"))
        .args(["-e", script])
        .arg(env.socket())
        .output()
        .expect("perl (perl-base) must be installed");
    let said = text(&o.stdout);
    assert!(o.status.success(), "{o:?}");
    assert!(
        said == "read 0\n" || said == "error\n",
        "{said} {}",
        text(&o.stderr)
    );
    chmod(env.path(), 0o700);
    chmod(&env.socket(), 0o600);

    // Our own kernel is untouched, and the daemon logged the refusals.
    assert_eq!(env.lsmod_names(), ["hello_2"]);
    let log = env.log();
    assert_eq!(
        log.matches(&format!("refused a connection from uid {NOBODY}"))
            .count(),
        2,
        "{log}"
    );
}

#[test]
fn open_or_foreign_runtime_directories_are_refused() {
    let env = Env::new();
    chmod(env.path(), 0o775);
    let err = env.fails(&["lsmod"]);
    assert!(
        err.contains("has mode 0775: other users can write to it"),
        "{err}"
    );
    chmod(env.path(), 0o1777);
    assert!(env.fails(&["lsmod"]).contains("has mode 1777"));
    // Readable by others is fine: the socket and files in it are 0600.
    chmod(env.path(), 0o755);
    env.ok(&["lsmod"]);
    for f in ["t.sock", "t.pid", "t.log", "t.lock"] {
        let mode = std::fs::metadata(env.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    env.ok(&["shutdown"]);
    std::os::unix::fs::chown(env.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let err = env.fails(&["lsmod"]);
    assert!(
        err.contains(&format!("belongs to uid {NOBODY}, not to you (uid 0)")),
        "{err}"
    );
    std::os::unix::fs::chown(env.path(), Some(0), Some(0)).unwrap();
    assert!(env
        .fails(&["--session", "../x", "lsmod"])
        .contains("invalid session name '../x'"));
}

#[test]
fn a_stale_socket_is_replaced() {
    let env = Env::new();
    drop(UnixListener::bind(env.socket()).unwrap()); // a socket nobody serves
    std::fs::write(env.path().join("t.pid"), "999999\n").unwrap();
    env.ok(&["insmod", &sample("6.12", "hello-2.ko")]);
    assert_eq!(env.lsmod_names(), ["hello_2"]);
    assert!(env.log().contains("removed stale socket"), "{}", env.log());
}

#[test]
fn protocol_versions_are_checked_on_connect() {
    // A client of another version, against the real daemon.
    let env = Env::new();
    env.ok(&["lsmod"]);
    let s = std::os::unix::net::UnixStream::connect(env.socket()).unwrap();
    match Client::handshake(s, &env.socket(), PROTOCOL_VERSION + 1) {
        Err(e @ ClientError::VersionMismatch { .. }) => assert_eq!(
            e.to_string(),
            format!(
                "the session daemon speaks protocol {PROTOCOL_VERSION}, this kload speaks {}; run `kload shutdown`",
                PROTOCOL_VERSION + 1
            )
        ),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted another protocol version"),
    }
    env.ok(&["lsmod"]);

    // A daemon of another version (a stand-in that answers version 99):
    // the CLI says so, and `kload shutdown` stops it.
    let fake = Env::new();
    let script = r#"use IO::Socket::UNIX; $| = 1;
        my $l = IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 5) or die "$!";
        print "ready\n";
        while (my $c = $l->accept) { sysread($c, my $b, 8); syswrite($c, "kLd\x01\x63\x00\x00\x00"); }"#;
    let mut daemon = Command::new("perl")
        .args(["-e", script])
        .arg(fake.socket())
        .stdout(Stdio::piped())
        .spawn()
        .expect("perl (perl-base) must be installed");
    let mut ready = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    let expected = format!(
        "kload: the session daemon speaks protocol 99, this kload speaks {PROTOCOL_VERSION}; run `kload shutdown`\n"
    );
    assert_eq!(fake.fails(&["lsmod"]), expected);
    assert_eq!(wire::parse_hello(&wire::hello(99)), Some(99));
    let o = fake.run(&["shutdown"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        text(&o.stderr).contains("which speaks protocol 99"),
        "{o:?}"
    );
    let status = daemon.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(!fake.socket().exists());
}

#[test]
fn a_dead_daemon_is_reported_and_replaced() {
    let env = Env::new();
    env.ok(&["insmod", &sample("6.1", "hello-2.ko")]);
    let mut c = env.client();
    let pid = c.daemon_pid;
    assert!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let e = c
        .call(&kload::daemon::protocol::Request::Lsmod)
        .unwrap_err();
    assert!(matches!(e, ClientError::Died { .. }), "{e}");
    assert!(e.to_string().contains("exited without answering"), "{e}");
    // The next command starts a fresh kernel behind the stale socket.
    assert!(env.lsmod_names().is_empty());
    assert_ne!(env.client().daemon_pid, pid);
}

#[test]
fn a_daemon_whose_socket_is_removed_exits() {
    let env = Env::new();
    env.ok(&["lsmod"]);
    let pid = env.client().daemon_pid;
    std::fs::remove_file(env.socket()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}/cmdline"))
        .metadata()
        .is_ok_and(|_| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "daemon {pid} still runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        env.log().contains("was removed or replaced; exiting"),
        "{}",
        env.log()
    );
}
