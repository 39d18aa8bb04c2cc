//! `kload cat PATH...`: read emulated /proc and /sys files of the session
//! kernel, as cat(1) would print them.

use std::io::Write;

use kload::daemon::protocol::{Reply, Request};

pub fn main(args: &[String]) -> i32 {
    if args.is_empty() {
        eprintln!("usage: kload cat PATH...");
        return 2;
    }
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut status = 0;
    for path in args {
        match super::call(&mut client, &Request::Read { path: path.clone() }) {
            Ok(Reply::Text(text)) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            Ok(Reply::Error { errno, detail }) => {
                let said = format!("cat: {path}: {}", super::errno_str(errno));
                eprintln!("{said}");
                super::print_detail(&detail, &said);
                status = 1;
            }
            Ok(other) => return super::unexpected(&other),
            Err(code) => return code,
        }
    }
    status
}
