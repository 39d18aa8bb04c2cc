//! `kload write [-n] PATH DATA`: write DATA and a newline to an emulated
//! /sys (or /proc) file of the session kernel, as root's `echo DATA > PATH`
//! does; `-n` leaves the newline out, as `echo -n`.

use kload::daemon::protocol::{Reply, Request};

pub fn main(args: &[String]) -> i32 {
    let (newline, args) = match args.first().map(String::as_str) {
        Some("-n") => (false, &args[1..]),
        _ => (true, args),
    };
    let [path, data] = args else {
        eprintln!("usage: kload write [-n] PATH DATA");
        return 2;
    };
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = Request::Write {
        path: path.clone(),
        data: if newline {
            format!("{data}\n")
        } else {
            data.clone()
        },
    };
    match super::call(&mut client, &req) {
        Ok(Reply::Ok) => 0,
        Ok(Reply::Error { errno, detail }) => {
            let said = format!("write: {path}: {}", super::errno_str(errno));
            eprintln!("{said}");
            super::print_detail(&detail, &said);
            1
        }
        Ok(other) => super::unexpected(&other),
        Err(code) => code,
    }
}
