//! Helpers shared by the loader tests: where the sample modules and the
//! real kernel's transcripts are, and how to run the `kload` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SERIES: [&str; 2] = ["6.1", "6.12"];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every directory of built sample modules for `series`: the committed
/// ones, and the ones CI rebuilt from source (`KLOAD_REBUILT_MODULES`).
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

pub fn kload(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kload"))
        .args(args)
        .output()
        .expect("run kload")
}

pub fn stdout_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `[    1.234567] text` -> `text` (the kernel's timestamps differ by nature).
pub fn strip_timestamp(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let (ts, text) = rest
        .split_once("] ")
        .or_else(|| rest.strip_suffix(']').map(|ts| (ts, "")))?;
    let (secs, usecs) = ts.trim_start().split_once('.')?;
    (secs.chars().all(|c| c.is_ascii_digit())
        && usecs.len() == 6
        && usecs.chars().all(|c| c.is_ascii_digit()))
    .then_some(text)
}

/// The kernel-log lines of `run` output, timestamps removed (every stdout
/// line of `kload run` must be a dmesg line).
pub fn kernel_lines(o: &Output) -> Vec<String> {
    stdout_lines(o)
        .iter()
        .map(|l| {
            strip_timestamp(l)
                .unwrap_or_else(|| panic!("not a dmesg line: {l:?}"))
                .to_owned()
        })
        .collect()
}

/// One command of a real-kernel transcript (loader-tests/golden/).
#[derive(Debug, Default, Clone)]
pub struct GoldenCmd {
    pub command: String,
    pub output: Vec<String>,
    pub kernel: Vec<String>,
    pub status: i32,
}

/// Parse `golden/<series>/<scenario>.txt`, recorded on the real kernel by
/// loader-tests/oracle/record.sh.
pub fn golden(series: &str, scenario: &str) -> Vec<GoldenCmd> {
    let path = root()
        .join("loader-tests/golden")
        .join(series)
        .join(format!("{scenario}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cmds: Vec<GoldenCmd> = Vec::new();
    let mut in_dmesg = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("### kload-oracle: ") {
            if let Some(c) = rest.strip_prefix("cmd ") {
                let command = c.split_once(": ").map_or("", |(_, c)| c).to_owned();
                cmds.push(GoldenCmd {
                    command,
                    ..Default::default()
                });
                in_dmesg = false;
            } else if rest.starts_with("dmesg ") {
                in_dmesg = true;
            } else if let Some(s) = rest.strip_prefix("status ") {
                let code = s.split_once(": ").map_or("0", |(_, c)| c);
                if let Some(c) = cmds.last_mut() {
                    c.status = code.trim().parse().unwrap_or(-1);
                }
                in_dmesg = false;
            }
            continue;
        }
        let Some(cur) = cmds.last_mut() else { continue };
        if line.starts_with("# ") && cur.command.is_empty() {
            continue;
        }
        if in_dmesg {
            cur.kernel
                .push(strip_timestamp(line).unwrap_or(line).to_owned());
        } else {
            cur.output.push(line.to_owned());
        }
    }
    cmds
}

/// The kernel lines the real kernel printed for the first command that
/// starts with `prefix`.
pub fn golden_kernel_lines(series: &str, scenario: &str, prefix: &str) -> Vec<String> {
    golden(series, scenario)
        .into_iter()
        .find(|c| c.command.starts_with(prefix))
        .unwrap_or_else(|| panic!("{series}/{scenario}: no command starting with {prefix:?}"))
        .kernel
}

/// Assert that `expected` appears in `actual` in order (kload may print
/// more, the kernel's lines must all be there).
pub fn assert_subsequence(expected: &[String], actual: &[String], what: &str) {
    let mut it = actual.iter();
    for e in expected {
        assert!(
            it.any(|a| a == e),
            "{what}: the real kernel printed {e:?}, which kload did not print in order.\nexpected:\n  {}\nkload:\n  {}",
            expected.join("\n  "),
            actual.join("\n  ")
        );
    }
}

/// A call trace line of module code the unwinder vouches for:
/// ` func+0xoff/0xsize [module]`, without the unreliable `? ` mark.
pub fn reliable_module_frame(line: &str) -> bool {
    line.starts_with(' ')
        && !line.starts_with("  ")
        && !line.starts_with(" ? ")
        && line.ends_with(']')
        && line.contains("+0x")
}

/// Lines of a kernel report that depend on the machine or on the kernel's
/// own code (its registers, code bytes, internal frames, hardware name, the
/// location of a WARN inside the kernel) and that the oracle comparison
/// therefore leaves out. Everything else is held to the real kernel, the
/// call trace's reliable module frames (the ORC unwinder's) included.
pub fn machine_independent(line: &str) -> bool {
    if reliable_module_frame(line) {
        return true;
    }
    const MACHINE: &[&str] = &[
        "CPU: ",
        "Hardware name:",
        "RIP: ",
        "Code: ",
        "RSP: ",
        "RAX: ",
        "RDX: ",
        "RBP: ",
        "R10: ",
        "R13: ",
        "FS: ",
        "CS: ",
        "CR2: ",
        "PKRU: ",
        "PGD ",
        "Call Trace:",
        " ",
    ];
    let kernel_internal_warn = line.starts_with("WARNING: ") && !line.ends_with(']');
    !kernel_internal_warn && !MACHINE.iter().any(|p| line.starts_with(p))
}

/// What differs by nature between a real boot and kload in a kernel line:
/// PIDs (`WARNING: CPU: 0 PID: 95 at`, `note: insmod[95] exited ...` read
/// `PID: N` and `insmod[N]`), and the directory an out-of-tree module was
/// built in, which its `__FILE__` carries (`at /tmp/tmp.x/warn-on.c:27`
/// reads `at BUILD/warn-on.c:27`).
pub fn normalise_pid(line: &str) -> String {
    let line = strip_build_dir(line);
    let line = line.as_str();
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let (head, tail) = rest.split_at(i);
        let digits = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        out.push_str(head);
        if head.ends_with("PID: ")
            || (head.ends_with('[') && tail[digits..].starts_with("] exited"))
        {
            out.push('N');
        } else {
            out.push_str(&tail[..digits]);
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// `/any/absolute/dir/file.c:` -> `BUILD/file.c:` (the build directory of
/// an out-of-tree module).
fn strip_build_dir(line: &str) -> String {
    let words =
        line.split(' ').map(
            |w| match (w.starts_with('/'), w.rfind('/'), w.contains(".c:")) {
                (true, Some(slash), true) => format!("BUILD{}", &w[slash..]),
                _ => w.to_owned(),
            },
        );
    words.collect::<Vec<_>>().join(" ")
}

/// Lines kload adds to the kernel log to report what a real kernel cannot
/// see (docs/fidelity.md): its own checks speak as `kload: ...`, and the
/// leak report lists `unreferenced object ...` records (their indented
/// details are machine-dependent lines already).
pub fn kload_only(line: &str) -> bool {
    line.starts_with("kload: ") || line.starts_with("unreferenced object 0x")
}

/// `%px` values (16 hex digits) are addresses, which differ by nature.
pub fn strip_raw_pointers(line: &str) -> String {
    let words = line.split(' ').map(|w| {
        let hex = w.trim_end_matches([',', ')', ']', ':']);
        if hex.len() == 16
            && hex.chars().all(|c| c.is_ascii_hexdigit())
            && hex.chars().any(|c| c.is_ascii_alphabetic() || c != '0')
        {
            w.replacen(hex, "PTR", 1)
        } else {
            w.to_owned()
        }
    });
    words.collect::<Vec<_>>().join(" ")
}

/// What the real kernel printed for `insmod MODULE.ko` then (when the load
/// succeeded) `rmmod NAME`, as `kload run MODULE.ko` should print it, and
/// the insmod's exit status. busybox's retry of a failed load is removed.
pub fn golden_run(series: &str, module: &str, name: &str) -> (Vec<String>, i32) {
    let real = golden(series, module);
    let insmod = real
        .iter()
        .find(|c| c.command.starts_with("insmod"))
        .expect("an insmod in the scenario");
    let mut expected = insmod.kernel.clone();
    expected.dedup();
    if insmod.status == 0 {
        expected.extend(golden_kernel_lines(
            series,
            module,
            &format!("rmmod {name}"),
        ));
    }
    (expected, insmod.status)
}

/// A private session daemon (its own `KLOAD_RUNTIME_DIR`), optionally
/// pinned to a kernel series with `KLOAD_KERNEL`; shut down on drop.
pub struct PrivateSession {
    dir: tempfile::TempDir,
    kernel: Option<String>,
    cwd: Option<PathBuf>,
}

impl PrivateSession {
    pub fn new(kernel: Option<&str>) -> PrivateSession {
        let dir = tempfile::Builder::new()
            .prefix("kload-session-")
            .tempdir()
            .unwrap();
        PrivateSession {
            dir,
            kernel: kernel.map(str::to_owned),
            cwd: None,
        }
    }

    /// Run the commands from `dir` (relative module paths resolve there).
    pub fn in_dir(mut self, dir: PathBuf) -> PrivateSession {
        self.cwd = Some(dir);
        self
    }

    /// Run one kload command against this session, as a user would.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kload"));
        cmd.env("KLOAD_RUNTIME_DIR", self.dir.path())
            .env_remove("KLOAD_SESSION")
            .env_remove("KLOAD_SOCKET")
            .env_remove("KLOAD_LOG")
            .env_remove("KLOAD_KERNEL");
        if let Some(k) = &self.kernel {
            cmd.env("KLOAD_KERNEL", k);
        }
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        cmd.args(["--session", "test"])
            .args(args)
            .output()
            .expect("run kload")
    }
}

impl Drop for PrivateSession {
    fn drop(&mut self) {
        let _ = self.run(&["shutdown"]);
    }
}

/// Turn each run of digits in `word` into one `#`.
pub fn hash_digits(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The committed sample module `stem` built for `series`, as a path string.
pub fn sample(series: &str, stem: &str) -> String {
    root()
        .join("sample-modules")
        .join(series)
        .join(format!("{stem}.ko"))
        .display()
        .to_string()
}

/// The kernel lines (timestamps stripped) of a real kernel's serial
/// excerpt in loader-tests/faults2-real/ (runs the oracle cannot record
/// as transcripts because the real kernel panics).
pub fn real_excerpt(series: &str, name: &str) -> Vec<String> {
    let path = root().join(format!("loader-tests/faults2-real/{series}-{name}.txt"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(strip_timestamp)
        .map(str::to_owned)
        .collect()
}
