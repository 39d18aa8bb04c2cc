//! The session socket's byte format: a fixed handshake, then frames.
//!
//! - Handshake: the client sends `HELLO_MAGIC` and its `PROTOCOL_VERSION`
//!   (u32 little-endian); the server answers with the same magic and its
//!   own version. The 8-byte handshake never changes, so any two kload
//!   versions can tell each other apart.
//! - Frame: a u32 LE body length (at most `MAX_MESSAGE`), then the body.
//!   A body is one request or one reply: a u8 tag, then the fields in
//!   declaration order. Integers are little-endian; `bool` is one byte
//!   (0 or 1); strings and byte strings are a u32 length and the bytes
//!   (strings must be UTF-8); lists are a u32 count and the elements.
//!
//! Decoding is bounds-checked: malformed input is a `WireError` naming the
//! offset, never a panic, and a count can never make it allocate more than
//! the frame holds.

use std::fmt;
use std::io::{self, Read, Write};

use super::protocol::{InsmodFlags, LogRecord, ModuleRow, Reply, Request};

/// First four bytes of each side's handshake.
pub const HELLO_MAGIC: [u8; 4] = *b"kLd\x01";
/// Largest frame body accepted (a module image travels in one frame).
pub const MAX_MESSAGE: usize = 256 << 20;

/// A message that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// Offset in the body where decoding stopped.
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed message at byte {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for WireError {}

impl From<WireError> for io::Error {
    fn from(e: WireError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

// Request tags.
const RQ_PING: u8 = 0;
const RQ_INSMOD: u8 = 1;
const RQ_RMMOD: u8 = 2;
const RQ_LSMOD: u8 = 3;
const RQ_MODINFO: u8 = 4;
const RQ_DMESG: u8 = 5;
const RQ_READ: u8 = 6;
const RQ_WRITE: u8 = 7;
const RQ_SHUTDOWN: u8 = 8;

// Reply tags.
const RP_OK: u8 = 0;
const RP_PONG: u8 = 1;
const RP_ERROR: u8 = 2;
const RP_MODULES: u8 = 3;
const RP_MODINFO: u8 = 4;
const RP_LOG: u8 = 5;
const RP_TEXT: u8 = 6;
const RP_KILLED: u8 = 7;

// InsmodFlags bits.
const F_FORCE_VERMAGIC: u8 = 1;
const F_FORCE_MODVERSION: u8 = 2;
const F_ALLOW_MISSING: u8 = 4;

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.0.push(v as u8);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        // Callers keep every message below MAX_MESSAGE (checked when the
        // frame is written), so a length always fits.
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.0.extend_from_slice(v);
    }
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Dec { buf, pos: 0 }
    }
    fn err<T>(&self, what: impl Into<String>) -> Result<T, WireError> {
        Err(WireError {
            offset: self.pos,
            what: what.into(),
        })
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WireError> {
        let rest = self.buf.len() - self.pos;
        if n > rest {
            return self.err(format!("{what}: needs {n} bytes, {rest} left"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], WireError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self, what: &str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn bool(&mut self, what: &str) -> Result<bool, WireError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => {
                self.pos -= 1;
                self.err(format!("{what}: bool byte {b}"))
            }
        }
    }
    fn u32(&mut self, what: &str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn i32(&mut self, what: &str) -> Result<i32, WireError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn bytes(&mut self, what: &str) -> Result<&'a [u8], WireError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    fn string(&mut self, what: &str) -> Result<String, WireError> {
        let start = self.pos;
        let b = self.bytes(what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => {
                self.pos = start;
                self.err(format!("{what}: not UTF-8"))
            }
        }
    }
    /// A list count, refused when the remaining bytes cannot hold that many
    /// elements of at least `min_size` bytes (so no huge allocation).
    fn count(&mut self, what: &str, min_size: usize) -> Result<usize, WireError> {
        let n = self.u32(what)? as usize;
        let rest = self.buf.len() - self.pos;
        if n.saturating_mul(min_size) > rest {
            self.pos -= 4;
            return self.err(format!("{what}: count {n} does not fit in {rest} bytes"));
        }
        Ok(n)
    }
    fn end(&self) -> Result<(), WireError> {
        if self.pos != self.buf.len() {
            return self.err(format!("{} trailing bytes", self.buf.len() - self.pos));
        }
        Ok(())
    }
}

/// The body of a request frame.
pub fn encode_request(req: &Request) -> Vec<u8> {
    let mut e = Enc::default();
    match req {
        Request::Ping => e.u8(RQ_PING),
        Request::Insmod {
            file,
            image,
            args,
            flags,
        } => {
            e.u8(RQ_INSMOD);
            e.str(file);
            e.bytes(image);
            e.str(args);
            let mut bits = 0;
            if flags.force_vermagic {
                bits |= F_FORCE_VERMAGIC;
            }
            if flags.force_modversion {
                bits |= F_FORCE_MODVERSION;
            }
            if flags.allow_missing {
                bits |= F_ALLOW_MISSING;
            }
            e.u8(bits);
        }
        Request::Rmmod { name, force } => {
            e.u8(RQ_RMMOD);
            e.str(name);
            e.bool(*force);
        }
        Request::Lsmod => e.u8(RQ_LSMOD),
        Request::Modinfo { name } => {
            e.u8(RQ_MODINFO);
            e.str(name);
        }
        Request::Dmesg { clear, follow } => {
            e.u8(RQ_DMESG);
            e.bool(*clear);
            e.bool(*follow);
        }
        Request::Read { path } => {
            e.u8(RQ_READ);
            e.str(path);
        }
        Request::Write { path, data } => {
            e.u8(RQ_WRITE);
            e.str(path);
            e.str(data);
        }
        Request::Shutdown => e.u8(RQ_SHUTDOWN),
    }
    e.0
}

/// Decode a request frame body.
pub fn decode_request(body: &[u8]) -> Result<Request, WireError> {
    let mut d = Dec::new(body);
    let req = match d.u8("request tag")? {
        RQ_PING => Request::Ping,
        RQ_INSMOD => {
            let file = d.string("insmod file")?;
            let image = d.bytes("insmod image")?.to_vec();
            let args = d.string("insmod args")?;
            let bits = d.u8("insmod flags")?;
            if bits & !(F_FORCE_VERMAGIC | F_FORCE_MODVERSION | F_ALLOW_MISSING) != 0 {
                d.pos -= 1;
                return d.err(format!("insmod flags: unknown bits {bits:#x}"));
            }
            Request::Insmod {
                file,
                image,
                args,
                flags: InsmodFlags {
                    force_vermagic: bits & F_FORCE_VERMAGIC != 0,
                    force_modversion: bits & F_FORCE_MODVERSION != 0,
                    allow_missing: bits & F_ALLOW_MISSING != 0,
                },
            }
        }
        RQ_RMMOD => Request::Rmmod {
            name: d.string("rmmod name")?,
            force: d.bool("rmmod force")?,
        },
        RQ_LSMOD => Request::Lsmod,
        RQ_MODINFO => Request::Modinfo {
            name: d.string("modinfo name")?,
        },
        RQ_DMESG => Request::Dmesg {
            clear: d.bool("dmesg clear")?,
            follow: d.bool("dmesg follow")?,
        },
        RQ_READ => Request::Read {
            path: d.string("read path")?,
        },
        RQ_WRITE => Request::Write {
            path: d.string("write path")?,
            data: d.string("write data")?,
        },
        RQ_SHUTDOWN => Request::Shutdown,
        t => {
            d.pos = 0;
            return d.err(format!("unknown request tag {t}"));
        }
    };
    d.end()?;
    Ok(req)
}

/// The body of a reply frame.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let mut e = Enc::default();
    match reply {
        Reply::Ok => e.u8(RP_OK),
        Reply::Pong { version, pid } => {
            e.u8(RP_PONG);
            e.u32(*version);
            e.u32(*pid);
        }
        Reply::Error { errno, detail } => {
            e.u8(RP_ERROR);
            e.i32(*errno);
            e.str(detail);
        }
        Reply::Modules(rows) => {
            e.u8(RP_MODULES);
            e.len(rows.len());
            for r in rows {
                e.str(&r.name);
                e.u64(r.size);
                // Two's complement on the wire: -1 while an exit died.
                e.u32(r.refcnt as u32);
                e.len(r.holders.len());
                for h in &r.holders {
                    e.str(h);
                }
                e.str(&r.state);
                e.str(&r.taints);
            }
        }
        Reply::Modinfo { filename, entries } => {
            e.u8(RP_MODINFO);
            e.str(filename);
            e.len(entries.len());
            for (k, v) in entries {
                e.str(k);
                e.str(v);
            }
        }
        Reply::Log(records) => {
            e.u8(RP_LOG);
            e.len(records.len());
            for r in records {
                e.u64(r.seq);
                e.u64(r.ts_nsec);
                e.u8(r.level);
                e.str(&r.text);
            }
        }
        Reply::Text(s) => {
            e.u8(RP_TEXT);
            e.str(s);
        }
        Reply::Killed { detail } => {
            e.u8(RP_KILLED);
            e.str(detail);
        }
    }
    e.0
}

/// Decode a reply frame body.
pub fn decode_reply(body: &[u8]) -> Result<Reply, WireError> {
    let mut d = Dec::new(body);
    let reply = match d.u8("reply tag")? {
        RP_OK => Reply::Ok,
        RP_PONG => Reply::Pong {
            version: d.u32("pong version")?,
            pid: d.u32("pong pid")?,
        },
        RP_ERROR => Reply::Error {
            errno: d.i32("error errno")?,
            detail: d.string("error detail")?,
        },
        RP_MODULES => {
            // name, size, refcnt, holders, state, taints: at least 28 bytes.
            let n = d.count("module count", 28)?;
            let mut rows = Vec::with_capacity(n);
            for _ in 0..n {
                let name = d.string("module name")?;
                let size = d.u64("module size")?;
                let refcnt = d.u32("module refcnt")? as i32;
                let nh = d.count("holder count", 4)?;
                let mut holders = Vec::with_capacity(nh);
                for _ in 0..nh {
                    holders.push(d.string("holder")?);
                }
                rows.push(ModuleRow {
                    name,
                    size,
                    refcnt,
                    holders,
                    state: d.string("module state")?,
                    taints: d.string("module taints")?,
                });
            }
            Reply::Modules(rows)
        }
        RP_MODINFO => {
            let filename = d.string("modinfo filename")?;
            let n = d.count("modinfo count", 8)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                entries.push((d.string("modinfo tag")?, d.string("modinfo value")?));
            }
            Reply::Modinfo { filename, entries }
        }
        RP_LOG => {
            let n = d.count("log count", 21)?;
            let mut records = Vec::with_capacity(n);
            for _ in 0..n {
                records.push(LogRecord {
                    seq: d.u64("log seq")?,
                    ts_nsec: d.u64("log time")?,
                    level: d.u8("log level")?,
                    text: d.string("log text")?,
                });
            }
            Reply::Log(records)
        }
        RP_TEXT => Reply::Text(d.string("text")?),
        RP_KILLED => Reply::Killed {
            detail: d.string("killed detail")?,
        },
        t => {
            d.pos = 0;
            return d.err(format!("unknown reply tag {t}"));
        }
    };
    d.end()?;
    Ok(reply)
}

/// The 8 bytes each side sends first.
pub fn hello(version: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(&HELLO_MAGIC);
    h[4..].copy_from_slice(&version.to_le_bytes());
    h
}

/// The version in a peer's hello, or None if it is not a kload hello.
pub fn parse_hello(h: &[u8; 8]) -> Option<u32> {
    if h[..4] != HELLO_MAGIC {
        return None;
    }
    Some(u32::from_le_bytes([h[4], h[5], h[6], h[7]]))
}

/// Write one frame (length, then body) and flush.
pub fn write_frame(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    if body.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "message of {} bytes is larger than the {} MiB limit",
                body.len(),
                MAX_MESSAGE >> 20
            ),
        ));
    }
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// Read one whole frame body. `Ok(None)` is a clean end of stream before
/// the frame began; a stream that ends inside a frame is an error.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "frame of {len} bytes is larger than the {} MiB limit",
                MAX_MESSAGE >> 20
            ),
        ));
    }
    // Grow as the bytes arrive rather than trusting the length up front.
    let mut body = Vec::with_capacity(len.min(1 << 20));
    r.take(len as u64).read_to_end(&mut body)?;
    if body.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests() -> Vec<Request> {
        vec![
            Request::Ping,
            Request::Insmod {
                file: "sub/hello-2.ko".into(),
                image: vec![0x7f, b'E', b'L', b'F', 0, 1, 2, 255],
                args: "a=1 b=\"x y\"".into(),
                flags: InsmodFlags {
                    force_vermagic: true,
                    force_modversion: false,
                    allow_missing: true,
                },
            },
            Request::Insmod {
                file: String::new(),
                image: Vec::new(),
                args: String::new(),
                flags: InsmodFlags::default(),
            },
            Request::Rmmod {
                name: "hello_2".into(),
                force: true,
            },
            Request::Lsmod,
            Request::Modinfo {
                name: "hellö".into(),
            },
            Request::Dmesg {
                clear: true,
                follow: false,
            },
            Request::Dmesg {
                clear: false,
                follow: true,
            },
            Request::Read {
                path: "/proc/modules".into(),
            },
            Request::Write {
                path: "/sys/module/p/parameters/x".into(),
                data: "5\n".into(),
            },
            Request::Shutdown,
        ]
    }

    fn replies() -> Vec<Reply> {
        vec![
            Reply::Ok,
            Reply::Pong {
                version: 1,
                pid: 4242,
            },
            Reply::Error {
                errno: -17,
                detail: "hello.ko: section [3] .text, offset 0x10".into(),
            },
            Reply::Modules(vec![
                ModuleRow {
                    name: "user".into(),
                    size: 16384,
                    refcnt: 0,
                    holders: vec![],
                    state: "Live".into(),
                    taints: "OE".into(),
                },
                ModuleRow {
                    name: "exporter".into(),
                    size: u64::MAX,
                    refcnt: 2,
                    holders: vec!["user".into(), "other".into()],
                    state: "Unloading".into(),
                    taints: String::new(),
                },
                // An exit that died after the base reference was dropped.
                ModuleRow {
                    name: "ro_after_init".into(),
                    size: 20480,
                    refcnt: -1,
                    holders: vec![],
                    state: "Unloading".into(),
                    taints: "OE".into(),
                },
            ]),
            Reply::Modules(vec![]),
            Reply::Modinfo {
                filename: "/x/hello-2.ko".into(),
                entries: vec![
                    ("license".into(), "GPL".into()),
                    ("intree".into(), "".into()),
                ],
            },
            Reply::Log(vec![LogRecord {
                seq: 7,
                ts_nsec: 1_000_123_456,
                level: 6,
                text: "two\nlines".into(),
            }]),
            Reply::Text("hello_2 16384 0 - Live 0x0000000000000000 (OE)\n".into()),
        ]
    }

    #[test]
    fn requests_round_trip() {
        for r in requests() {
            assert_eq!(decode_request(&encode_request(&r)).unwrap(), r);
        }
    }

    #[test]
    fn replies_round_trip() {
        for r in replies() {
            assert_eq!(decode_reply(&encode_reply(&r)).unwrap(), r);
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for r in requests() {
            let b = encode_request(&r);
            for n in 0..b.len() {
                assert!(decode_request(&b[..n]).is_err(), "{r:?} cut at {n}");
            }
        }
        for r in replies() {
            let b = encode_reply(&r);
            for n in 0..b.len() {
                assert!(decode_reply(&b[..n]).is_err(), "{r:?} cut at {n}");
            }
        }
    }

    #[test]
    fn trailing_bytes_unknown_tags_and_bad_fields_are_refused() {
        let mut b = encode_request(&Request::Lsmod);
        b.push(0);
        assert_eq!(decode_request(&b).unwrap_err().what, "1 trailing bytes");
        assert!(decode_request(&[99])
            .unwrap_err()
            .what
            .contains("unknown request tag 99"));
        assert!(decode_reply(&[200])
            .unwrap_err()
            .what
            .contains("unknown reply tag 200"));
        // bool other than 0/1
        let e = decode_request(&[RQ_DMESG, 2]).unwrap_err();
        assert_eq!(e.offset, 1);
        // invalid UTF-8 in a string
        let e = decode_request(&[RQ_READ, 2, 0, 0, 0, 0xff, 0xfe]).unwrap_err();
        assert!(e.what.contains("not UTF-8"), "{e}");
        // unknown insmod flag bits
        let mut b = encode_request(&requests()[2]);
        *b.last_mut().unwrap() = 0x80;
        assert!(decode_request(&b)
            .unwrap_err()
            .what
            .contains("unknown bits"));
    }

    #[test]
    fn huge_lengths_and_counts_do_not_allocate() {
        // A string claiming 4 GiB.
        let e = decode_request(&[RQ_READ, 0xff, 0xff, 0xff, 0xff, b'x']).unwrap_err();
        assert!(e.what.contains("needs 4294967295 bytes"), "{e}");
        // A module list claiming 4 billion rows.
        let e = decode_reply(&[RP_MODULES, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(e.what.contains("does not fit"), "{e}");
        let e = decode_reply(&[RP_LOG, 0, 0, 0, 1]).unwrap_err();
        assert!(e.what.contains("does not fit"), "{e}");
    }

    #[test]
    fn frames_round_trip_and_bad_frames_fail() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abc").unwrap();
        write_frame(&mut buf, b"").unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"abc");
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"");
        assert!(read_frame(&mut r).unwrap().is_none());
        // Ends inside the length, then inside the body.
        assert!(read_frame(&mut &buf[..2]).is_err());
        assert!(read_frame(&mut &buf[..5]).is_err());
        // Larger than the limit: refused before reading the body.
        let big = ((MAX_MESSAGE + 1) as u32).to_le_bytes();
        let e = read_frame(&mut &big[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn hello_carries_magic_and_version() {
        assert_eq!(parse_hello(&hello(7)), Some(7));
        assert_eq!(parse_hello(b"GET / HT"), None);
    }
}
