//! What a `kload` client asks the session's kernel daemon, and what it gets
//! back. These are library types: the socket layer (`wire`) only serialises
//! them, and tests drive the same `Controller` in-process.

/// Bumped whenever a request or reply changes shape; checked on connect.
pub const PROTOCOL_VERSION: u32 = 3;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Is the daemon there, and which protocol does it speak?
    Ping,
    /// `insmod FILE args`: the client sends the file's bytes (it resolves
    /// paths relative to its own directory) and the name it was given.
    Insmod {
        file: String,
        image: Vec<u8>,
        args: String,
        flags: InsmodFlags,
    },
    /// `rmmod [-f] NAME`.
    Rmmod { name: String, force: bool },
    /// The loaded modules, newest first, for lsmod and rmmod's checks.
    Lsmod,
    /// modinfo of a loaded module, by name.
    Modinfo { name: String },
    /// The kernel log; `clear` empties it after reading (`dmesg -c`).
    /// With `follow` (`dmesg -w`) the reply is a stream: one `Log` with
    /// the records so far, then one `Log` per batch of new records, until
    /// the client hangs up (the connection serves nothing else).
    Dmesg { clear: bool, follow: bool },
    /// Read an emulated /proc or /sys file.
    Read { path: String },
    /// Write to an emulated /proc or /sys file.
    Write { path: String, data: String },
    /// Stop the session's kernel.
    Shutdown,
}

/// insmod's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsmodFlags {
    /// `--force-vermagic` (MODULE_INIT_IGNORE_VERMAGIC).
    pub force_vermagic: bool,
    /// `--force-modversion` (MODULE_INIT_IGNORE_MODVERSIONS).
    pub force_modversion: bool,
    /// `--allow-missing`: bind unresolved symbols to named traps.
    pub allow_missing: bool,
}

/// One row of lsmod / /proc/modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRow {
    pub name: String,
    /// What lsmod shows (`coresize`).
    pub size: u64,
    /// `module_refcount()`.
    pub refcnt: i32,
    /// Modules using this one, in the kernel's order.
    pub holders: Vec<String>,
    /// "Live", "Loading" or "Unloading".
    pub state: String,
    /// Taint letters, e.g. "OE".
    pub taints: String,
}

/// One kernel log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub ts_nsec: u64,
    pub level: u8,
    pub text: String,
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// Answer to `Ping`.
    Pong {
        version: u32,
        pid: u32,
    },
    /// The request failed: the errno the kernel would return, and kload's
    /// detail (which names file, section and offset where it can).
    Error {
        errno: i32,
        detail: String,
    },
    /// The task running the request died (an Oops in init); the report is
    /// in the kernel log. A real insmod gets SIGKILL.
    Killed {
        detail: String,
    },
    Modules(Vec<ModuleRow>),
    Modinfo {
        filename: String,
        entries: Vec<(String, String)>,
    },
    Log(Vec<LogRecord>),
    Text(String),
}
