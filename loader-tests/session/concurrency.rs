//! Several clients at once: first use by many clients starts one daemon;
//! requests are served one connection at a time; a client that dies while
//! its command runs leaves the kernel consistent.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use kload::daemon::protocol::{InsmodFlags, Reply, Request, PROTOCOL_VERSION};
use kload::daemon::wire;

use crate::common::*;

fn insmod_request(series: &str, file: &str) -> Request {
    let path = sample(series, file);
    Request::Insmod {
        image: std::fs::read(&path).unwrap(),
        file: path,
        args: String::new(),
        flags: InsmodFlags::default(),
    }
}

#[test]
fn many_first_clients_start_one_daemon() {
    let env = Env::new();
    let children: Vec<_> = (0..8).map(|_| env.spawn(&["lsmod"])).collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), "Module                  Size  Used by\n");
    }
    let log = env.log();
    assert_eq!(log.matches("listening on").count(), 1, "{log}");
    assert!(!log.contains("already runs"), "{log}");
}

#[test]
fn a_second_client_waits_for_the_first() {
    let env = Env::new();
    env.ok(&["lsmod"]);
    // Hold a connection: the daemon now serves only us.
    let mut held = env.client();
    let waiting = env.spawn(&["lsmod"]);
    sleep(Duration::from_millis(300));
    let mut waiting = waiting;
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "lsmod must wait for the held connection"
    );
    assert_eq!(
        held.call(&insmod_request("6.1", "hello-2.ko")).unwrap(),
        Reply::Ok
    );
    drop(held);
    let o = waiting.wait_with_output().unwrap();
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains("\nhello_2 "),
        "it ran after the insmod"
    );
}

#[test]
fn slow_and_fast_commands_together_both_succeed() {
    let env = Env::new();
    env.ok(&["lsmod"]);
    // printk-basics prints a lot (slow); lsmod and dmesg are quick.
    let slow = env.spawn(&["insmod", &sample("6.12", "printk-basics.ko")]);
    let fast: Vec<_> = (0..4)
        .map(|i| env.spawn(if i % 2 == 0 { &["lsmod"] } else { &["dmesg"] }))
        .collect();
    let o = slow.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    for f in fast {
        let o = f.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        // Each saw the kernel before or after the insmod, never in between.
        let out = text(&o.stdout);
        if out.starts_with("Module") {
            assert!(
                out == "Module                  Size  Used by\n"
                    || out.contains("\nprintk_basics "),
                "{out}"
            );
        }
    }
    assert_eq!(env.lsmod_names(), ["printk_basics"]);
}

/// After a client vanished: lsmod shows the module fully loaded or not at
/// all, and the kernel still loads and unloads modules.
fn assert_consistent(env: &Env, series: &str, name: &str) {
    let modules = env.ok(&["cat", "/proc/modules"]);
    for line in modules.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], name, "{modules}");
        assert_eq!(f[4], "Live", "{modules}");
    }
    if !modules.is_empty() {
        env.ok(&["rmmod", name]);
    }
    env.ok(&["insmod", &sample(series, "hello-1.ko")]);
    env.ok(&["rmmod", "hello_1"]);
    assert!(env.lsmod_names().is_empty());
}

#[test]
fn a_client_that_dies_after_sending_insmod_finds_it_done() {
    let env = Env::new();
    env.ok(&["lsmod"]);
    let mut c = env.client();
    c.send(&insmod_request("6.1", "hello-2.ko")).unwrap();
    drop(c); // gone before the reply
             // The whole request was received, so the command completes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.lsmod_names().is_empty() {
        assert!(Instant::now() < deadline, "the insmod never completed");
        sleep(Duration::from_millis(20));
    }
    assert_consistent(&env, "6.1", "hello_2");
}

#[test]
fn a_client_that_dies_mid_request_starts_nothing() {
    let env = Env::new();
    env.ok(&["lsmod"]);
    let req = wire::encode_request(&insmod_request("6.1", "hello-2.ko"));
    let mut s = UnixStream::connect(env.socket()).unwrap();
    s.write_all(&wire::hello(PROTOCOL_VERSION)).unwrap();
    let mut theirs = [0u8; 8];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(wire::parse_hello(&theirs), Some(PROTOCOL_VERSION));
    s.write_all(&(req.len() as u32).to_le_bytes()).unwrap();
    s.write_all(&req[..req.len() / 2]).unwrap();
    drop(s);
    assert!(env.lsmod_names().is_empty());
    assert!(env.log().contains("dropped a client"), "{}", env.log());
    assert_consistent(&env, "6.1", "hello_2");
}

#[test]
fn killing_insmod_processes_at_any_moment_leaves_the_kernel_consistent() {
    let env = Env::new();
    env.ok(&["lsmod"]);
    let ko = sample("6.12", "printk-basics.ko");
    for delay_ms in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55] {
        let mut child = env.spawn(&["insmod", &ko]);
        sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the moment, the module is either fully there or absent.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let modules = env.ok(&["cat", "/proc/modules"]);
            match modules.lines().next() {
                None => break,
                Some(l) if l.starts_with("printk_basics ") && l.contains(" Live ") => {
                    env.ok(&["rmmod", "printk_basics"]);
                    break;
                }
                Some(l) => assert!(Instant::now() < deadline, "stuck in {l:?}"),
            }
        }
    }
    assert_consistent(&env, "6.12", "printk_basics");
}
