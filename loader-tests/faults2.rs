//! The soft-lockup watchdog, stack overflow on the guard page, and
//! `kload run --json`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// Run `kload run ARGS` with the watchdog threshold in the environment.
fn run_env(args: &[&str], watchdog_secs: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kload"))
        .arg("run")
        .args(args)
        .env("KLOAD_WATCHDOG_SECS", watchdog_secs)
        .output()
        .unwrap()
}

#[test]
fn watchdog_kills_a_spinning_init() {
    for series in SERIES {
        for dir in module_dirs(series) {
            let file = dir.join("spin-forever.ko");
            let file = file.to_str().unwrap();
            for (args, env) in [(vec!["--watchdog=2", file], "600"), (vec![file], "2")] {
                let start = Instant::now();
                let out = run_env(&args, env);
                let took = start.elapsed();
                assert_eq!(out.status.code(), Some(137), "{file}: {}", stderr(&out));
                assert!(took < Duration::from_secs(10), "{file}: took {took:?}");
                assert!(took >= Duration::from_secs(2), "{file}: took {took:?}");
                assert!(stderr(&out).starts_with("Killed\n"), "{}", stderr(&out));
                let lines = kernel_lines(&out);
                let at = lines
                    .iter()
                    .position(|l| {
                        l.starts_with("watchdog: BUG: soft lockup - CPU#0 stuck for ")
                            && l.ends_with("s! [insmod:1]")
                    })
                    .unwrap_or_else(|| panic!("{file}: no soft lockup line in {lines:#?}"));
                assert_eq!(lines[at + 1], "Modules linked in: spin_forever(OE+)");
                assert!(lines[at + 2].starts_with("CPU: 0 "), "{}", lines[at + 2]);
                assert!(
                    lines
                        .iter()
                        .any(|l| l.starts_with("RIP: 0010:spin_forever_init+")
                            && l.ends_with("[spin_forever]")),
                    "{lines:#?}"
                );
            }
        }
    }
}

/// The lines of the real report (from the serial excerpt) that kload must
/// print the same: the BUG line up to its hashed pointers, the die header
/// and the RIP line.
#[test]
fn stack_overflow_is_reported_like_the_real_kernel() {
    for series in SERIES {
        let real = real_excerpt(series, "stack-overflow");
        let pick = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter(|l| {
                    l.starts_with("BUG: TASK stack guard page")
                        || l.contains("stack guard page: 0000")
                        || l.starts_with("Kernel panic")
                        || l.starts_with("Modules linked in:")
                        || l.starts_with("---[ end trace")
                })
                .map(|l| {
                    // Hashed pointers differ from boot to boot.
                    let mut s: String = l.clone();
                    for (i, _) in l
                        .match_indices("00000000")
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                    {
                        if l.len() >= i + 16 {
                            s.replace_range(i..i + 16, "<ptr>");
                        }
                    }
                    s
                })
                .collect()
        };
        for dir in module_dirs(series) {
            let file = dir.join("stack-overflow.ko");
            let out = kload(&["run", file.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(139), "{}", stderr(&out));
            let lines = kernel_lines(&out);
            assert_eq!(pick(&lines), pick(&real), "{}", file.display());
            let rip = |v: &[String]| {
                v.iter()
                    .find(|l| l.starts_with("RIP: 0010:"))
                    .map(|l| l.split('+').next().unwrap().to_owned())
            };
            assert_eq!(rip(&lines), rip(&real), "{}", file.display());
            assert_eq!(rip(&lines).as_deref(), Some("RIP: 0010:recurse"));
        }
    }
}

/// A minimal JSON checker: parses one value and returns it.
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn parse_json(s: &str) -> Result<Json, String> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let v = value(&b, &mut i)?;
    ws(&b, &mut i);
    if i != b.len() {
        return Err(format!("trailing text at {i}"));
    }
    Ok(v)
}

fn ws(b: &[char], i: &mut usize) {
    while *i < b.len() && b[*i].is_whitespace() {
        *i += 1;
    }
}

fn value(b: &[char], i: &mut usize) -> Result<Json, String> {
    ws(b, i);
    let lit = |i: &mut usize, w: &str, v: Json| {
        let end = *i + w.len();
        if end <= b.len() && b[*i..end].iter().collect::<String>() == w {
            *i = end;
            Ok(v)
        } else {
            Err(format!("bad literal at {i}"))
        }
    };
    match b.get(*i) {
        Some('n') => lit(i, "null", Json::Null),
        Some('t') => lit(i, "true", Json::Bool(true)),
        Some('f') => lit(i, "false", Json::Bool(false)),
        Some('"') => string(b, i).map(Json::Str),
        Some('[') => {
            *i += 1;
            let mut v = Vec::new();
            ws(b, i);
            if b.get(*i) == Some(&']') {
                *i += 1;
                return Ok(Json::Arr(v));
            }
            loop {
                v.push(value(b, i)?);
                ws(b, i);
                match b.get(*i) {
                    Some(',') => *i += 1,
                    Some(']') => {
                        *i += 1;
                        return Ok(Json::Arr(v));
                    }
                    _ => return Err(format!("bad array at {i}")),
                }
            }
        }
        Some('{') => {
            *i += 1;
            let mut v = Vec::new();
            ws(b, i);
            if b.get(*i) == Some(&'}') {
                *i += 1;
                return Ok(Json::Obj(v));
            }
            loop {
                ws(b, i);
                let k = string(b, i)?;
                ws(b, i);
                if b.get(*i) != Some(&':') {
                    return Err(format!("no colon at {i}"));
                }
                *i += 1;
                v.push((k, value(b, i)?));
                ws(b, i);
                match b.get(*i) {
                    Some(',') => *i += 1,
                    Some('}') => {
                        *i += 1;
                        return Ok(Json::Obj(v));
                    }
                    _ => return Err(format!("bad object at {i}")),
                }
            }
        }
        Some(c) if *c == '-' || c.is_ascii_digit() => {
            let start = *i;
            while *i < b.len() && (b[*i].is_ascii_digit() || "+-.eE".contains(b[*i])) {
                *i += 1;
            }
            let t: String = b[start..*i].iter().collect();
            t.parse().map(Json::Num).map_err(|e| format!("{t}: {e}"))
        }
        _ => Err(format!("unexpected at {i}")),
    }
}

fn string(b: &[char], i: &mut usize) -> Result<String, String> {
    if b.get(*i) != Some(&'"') {
        return Err(format!("no string at {i}"));
    }
    *i += 1;
    let mut s = String::new();
    loop {
        let c = *b.get(*i).ok_or("unterminated string")?;
        *i += 1;
        match c {
            '"' => return Ok(s),
            '\\' => {
                let e = *b.get(*i).ok_or("bad escape")?;
                *i += 1;
                match e {
                    '"' => s.push('"'),
                    '\\' => s.push('\\'),
                    '/' => s.push('/'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'u' => {
                        let h: String = b.get(*i..*i + 4).ok_or("bad \\u")?.iter().collect();
                        *i += 4;
                        let n = u32::from_str_radix(&h, 16).map_err(|e| e.to_string())?;
                        s.push(char::from_u32(n).ok_or("bad code point")?);
                    }
                    _ => return Err(format!("bad escape {e}")),
                }
            }
            c if (c as u32) < 0x20 => return Err("raw control character".into()),
            c => s.push(c),
        }
    }
}

#[test]
fn the_json_checker_checks() {
    assert_eq!(
        parse_json(r#"{"a":[1,null,"x\"\u0001"],"b":{}}"#),
        Ok(Json::Obj(vec![
            (
                "a".into(),
                Json::Arr(vec![
                    Json::Num(1.0),
                    Json::Null,
                    Json::Str("x\"\u{1}".into())
                ])
            ),
            ("b".into(), Json::Obj(vec![])),
        ]))
    );
    assert!(parse_json(r#"{"a":1"#).is_err());
    assert!(parse_json("\"a\u{1}\"").is_err());
}

fn json_reports(out: &std::process::Output) -> Vec<Json> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| parse_json(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_lists_the_reports_of_a_run() {
    for series in SERIES {
        for dir in module_dirs(series) {
            let warn = dir.join("warn-on.ko");
            let out = kload(&["run", "--json", warn.to_str().unwrap()]);
            let reports = json_reports(&out);
            assert!(
                !reports.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            for r in &reports {
                assert_eq!(r.get("kind").and_then(Json::str), Some("warning"), "{r:?}");
                assert_eq!(r.get("module").and_then(Json::str), Some("warn_on"));
                assert!(r
                    .get("file")
                    .and_then(Json::str)
                    .is_some_and(|f| f.ends_with("warn-on.c")));
                assert!(matches!(r.get("line"), Some(Json::Num(_))));
                let Some(Json::Arr(lines)) = r.get("lines") else {
                    panic!("{r:?}")
                };
                assert!(lines.iter().any(|l| l
                    .str()
                    .is_some_and(|l| l.starts_with("WARNING: CPU: 0 PID: "))));
                let task = r.get("task").unwrap();
                assert_eq!(task.get("comm").and_then(Json::str), Some("insmod"));
                assert!(r
                    .get("taint")
                    .and_then(Json::str)
                    .is_some_and(|t| t.contains('W')));
            }
            let null = dir.join("null-deref.ko");
            let out = kload(&["run", "--json", null.to_str().unwrap()]);
            let reports = json_reports(&out);
            assert_eq!(reports.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
            let r = &reports[0];
            assert_eq!(r.get("kind").and_then(Json::str), Some("oops"));
            assert_eq!(r.get("module").and_then(Json::str), Some("null_deref"));
            assert!(r
                .get("function")
                .and_then(Json::str)
                .is_some_and(|f| f.contains("+0x")));
            let Some(Json::Arr(lines)) = r.get("lines") else {
                panic!("{r:?}")
            };
            assert!(lines.iter().any(|l| l
                .str()
                .is_some_and(|l| l.starts_with("BUG: kernel NULL pointer dereference"))));
            // Without --json, no JSON.
            let out = kload(&["run", null.to_str().unwrap()]);
            assert!(json_reports(&out).is_empty());
        }
    }
}
