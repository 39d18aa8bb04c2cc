//! `kload dmesg [-c] [-C] [-x] [-t] [-p] [--level LIST]`: the session
//! kernel's log, printed as util-linux dmesg prints /dev/kmsg records:
//! `[%5lu.%06lu] text`, with `-x` the `facility:level : ` prefix, the
//! continuation lines of a multi-line record indented under the text (or,
//! with `-p`, prefixed like the first), unprintable bytes as `\xNN`, and an
//! empty record as an empty line.

use std::io::Write;

use kload::daemon::protocol::{LogRecord, Reply, Request};

use super::{getopt, opt, Opt};

const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
];

const OPTS: &[Opt] = &[
    opt('c', "read-clear", false),
    opt('C', "clear", false),
    opt('x', "decode", false),
    opt('t', "notime", false),
    opt('p', "force-prefix", false),
    opt('l', "level", true),
    opt('k', "kernel", false),
    opt('w', "follow", false),
];

/// How to print records.
#[derive(Default)]
pub struct Style {
    pub decode: bool,
    pub notime: bool,
    pub force_prefix: bool,
    /// Levels to show (None: all).
    pub levels: Option<[bool; 8]>,
}

pub fn main(args: &[String]) -> i32 {
    let p = match getopt("dmesg", args, OPTS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if let Some(op) = p.operands.first() {
        eprintln!("dmesg: bad usage: unexpected argument '{op}'");
        return 1;
    }
    let mut style = Style {
        decode: p.has('x'),
        notime: p.has('t'),
        force_prefix: p.has('p'),
        levels: None,
    };
    for (_, list) in p.opts.iter().filter(|(c, _)| *c == 'l') {
        let levels = style.levels.get_or_insert([false; 8]);
        for item in list.as_deref().unwrap_or("").split(',') {
            match parse_level(item) {
                Some(l) => levels[l] = true,
                None => {
                    eprintln!("dmesg: unknown level '{item}'");
                    return 1;
                }
            }
        }
    }
    let mut client = match super::connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let clear_only = p.has('C');
    let follow = p.has('w');
    let req = Request::Dmesg {
        clear: clear_only || p.has('c'),
        follow,
    };
    if follow {
        return follow_log(&mut client, &req, &style, clear_only);
    }
    match super::call(&mut client, &req) {
        Ok(Reply::Log(records)) => {
            if !clear_only {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(format(&records, &style).as_bytes());
            }
            0
        }
        Ok(other) => super::unexpected(&other),
        Err(code) => code,
    }
}

/// `dmesg -w`: print the log so far (unless `-C`), then each batch of new
/// records as the daemon streams it, until interrupted, stdout closes, or
/// the session kernel stops (then the exit status is 0, as for a log that
/// simply ends).
fn follow_log(
    client: &mut kload::daemon::client::Client,
    req: &Request,
    style: &Style,
    clear_only: bool,
) -> i32 {
    if let Err(e) = client.set_timeout(None) {
        eprintln!("kload: {e}");
        return 1;
    }
    let mut first = true;
    let mut reply = super::call(client, req);
    loop {
        match reply {
            Ok(Reply::Log(records)) => {
                if !(first && clear_only) {
                    let mut out = std::io::stdout().lock();
                    let text = format(&records, style);
                    if out
                        .write_all(text.as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return 0;
                    }
                }
            }
            Ok(other) => return super::unexpected(&other),
            Err(code) => return code,
        }
        first = false;
        reply = match client.receive() {
            Ok(Some(r)) => Ok(r),
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("kload: {e}");
                Err(1)
            }
        };
    }
}

/// A level by name (any case) or number 0-7.
fn parse_level(s: &str) -> Option<usize> {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return s.parse::<usize>().ok().filter(|&n| n < LEVELS.len());
    }
    LEVELS.iter().position(|l| l.eq_ignore_ascii_case(s))
}

/// dmesg's text for `records`.
pub fn format(records: &[LogRecord], style: &Style) -> String {
    let mut s = String::new();
    for r in records {
        let level = usize::from(r.level & 7);
        if style.levels.is_some_and(|l| !l[level]) {
            continue;
        }
        if r.text.is_empty() && !style.force_prefix {
            s.push('\n');
            continue;
        }
        let mut prefix = String::new();
        if style.decode {
            // Kernel records are facility 0, "kern".
            prefix.push_str(&format!("{:<6}:{:<6}: ", "kern", LEVELS[level]));
        }
        if !style.notime {
            let usec = r.ts_nsec / 1000;
            prefix.push_str(&format!(
                "[{:5}.{:06}] ",
                usec / 1_000_000,
                usec % 1_000_000
            ));
        }
        // Each newline inside the record starts a line indented under the
        // text (or, with -p, prefixed again); a trailing one is kept as is.
        let indent = if style.force_prefix {
            prefix.clone()
        } else {
            " ".repeat(prefix.len())
        };
        let text = escape(&r.text);
        s.push_str(&prefix);
        for (i, c) in text.char_indices() {
            s.push(c);
            if c == '\n' && i + 1 < text.len() {
                s.push_str(&indent);
            }
        }
        s.push('\n');
    }
    s
}

/// util-linux's `safe_fwrite`: bytes that are neither printable nor white
/// space become `\xNN`.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        let space = matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
        if c.is_control() && !space {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                s.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts_nsec: u64, level: u8, text: &str) -> LogRecord {
        LogRecord {
            seq: 0,
            ts_nsec,
            level,
            text: text.into(),
        }
    }

    // Expected texts are what util-linux 2.38.1 `dmesg -F` prints for the
    // same records.
    #[test]
    fn plain_decode_and_multiline() {
        let recs = [
            rec(1_000_100_000, 6, "first line\nsecond line"),
            rec(2_000_000_000, 3, "err msg"),
            rec(2_500_000_000, 6, ""),
            rec(3_000_000_999, 4, "tab\there\x01x "),
        ];
        assert_eq!(
            format(&recs, &Style::default()),
            "[    1.000100] first line\n               second line\n[    2.000000] err msg\n\n[    3.000000] tab\there\\x01x \n"
        );
        let x = Style {
            decode: true,
            ..Style::default()
        };
        assert_eq!(
            format(&recs[..2], &x),
            "kern  :info  : [    1.000100] first line\n                              second line\nkern  :err   : [    2.000000] err msg\n"
        );
        let p = Style {
            force_prefix: true,
            ..Style::default()
        };
        assert_eq!(
            format(&recs[..1], &p),
            "[    1.000100] first line\n[    1.000100] second line\n"
        );
    }

    #[test]
    fn level_filter() {
        let recs = [rec(0, 6, "info"), rec(0, 3, "err"), rec(0, 4, "warn")];
        let mut levels = [false; 8];
        levels[parse_level("ERR").unwrap()] = true;
        levels[parse_level("4").unwrap()] = true;
        let s = Style {
            levels: Some(levels),
            notime: true,
            ..Style::default()
        };
        assert_eq!(format(&recs, &s), "err\nwarn\n");
        assert_eq!(parse_level("warn+"), None);
        assert_eq!(parse_level("8"), None);
    }
}
