//! Memory below 2 GiB, where everything module code addresses must live.
//!
//! Modules are built with `-mcmodel=kernel`: they address their own data and
//! kernel symbols with sign-extended 32-bit immediates (R_X86_64_32S), so in a
//! user process every such address must lie in [0, 2 GiB). kload reserves one
//! range there at start-up (`PROT_NONE`, nothing committed) and hands out
//! page-granular `LowRegion`s from it: module sections, stub trampolines,
//! per-CPU blocks, kernel task stacks and stub-kernel data objects.
//!
//! This module owns every raw access to that memory. Other code reads and
//! writes module memory through `read_bytes`/`write_bytes`, which check that
//! the whole range lies inside live regions with the needed permission.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use thiserror::Error;

pub const PAGE_SIZE: u64 = 4096;

/// Where kload asks for its low range first, and how big it is. Both ends lie
/// below 2 GiB; addresses below 256 MiB stay unmapped so that small bad
/// pointers (NULL + offset) fault.
const PREFERRED_BASE: u64 = 0x1000_0000;
const RESERVE_SIZE: u64 = 0x4000_0000;
const LIMIT_2G: u64 = 0x8000_0000;

#[derive(Debug, Error)]
pub enum MmError {
    #[error("cannot reserve memory below 2 GiB: {0}")]
    Reserve(std::io::Error),
    #[error("out of low memory: no free range of {0:#x} bytes below 2 GiB")]
    Exhausted(u64),
    #[error("mprotect({addr:#x}, {len:#x}) failed: {err}")]
    Protect {
        addr: u64,
        len: u64,
        err: std::io::Error,
    },
    #[error("access to {addr:#x}+{len:#x} is outside kload's memory or not permitted")]
    Fault { addr: u64, len: u64 },
}

/// Page protections of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prot {
    None,
    Read,
    ReadWrite,
    ReadExec,
}

impl Prot {
    fn bits(self) -> libc::c_int {
        match self {
            Prot::None => libc::PROT_NONE,
            Prot::Read => libc::PROT_READ,
            Prot::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Prot::ReadExec => libc::PROT_READ | libc::PROT_EXEC,
        }
    }
    fn readable(self) -> bool {
        self != Prot::None
    }
    fn writable(self) -> bool {
        self == Prot::ReadWrite
    }
}

struct Used {
    len: u64,
    prot: Prot,
    tag: &'static str,
}

struct Arena {
    base: u64,
    end: u64,
    /// Free ranges: start -> length, coalesced.
    free: BTreeMap<u64, u64>,
    /// Live regions: start -> (length, protection).
    used: BTreeMap<u64, Used>,
}

static ARENA: OnceLock<Result<Mutex<Arena>, String>> = OnceLock::new();

/// Bounds of the low reservation, fixed once it is made (0, 0 before): read
/// without a lock, so that a signal handler may test an address against them.
static LOW_BASE: AtomicU64 = AtomicU64::new(0);
static LOW_END: AtomicU64 = AtomicU64::new(0);

/// `[base, end)` of kload's low memory, or `(0, 0)` before it is reserved.
/// Lock-free and allocation-free: async-signal-safe.
pub fn low_range() -> (u64, u64) {
    (
        LOW_BASE.load(Ordering::Acquire),
        LOW_END.load(Ordering::Acquire),
    )
}

fn arena() -> Result<MutexGuard<'static, Arena>, MmError> {
    let a = ARENA.get_or_init(|| reserve().map(Mutex::new).map_err(|e| e.to_string()));
    match a {
        Ok(m) => Ok(m.lock().unwrap_or_else(|p| p.into_inner())),
        Err(msg) => Err(MmError::Reserve(std::io::Error::other(msg.clone()))),
    }
}

fn reserve() -> Result<Arena, MmError> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let attempts = [
        (
            PREFERRED_BASE,
            RESERVE_SIZE,
            flags | libc::MAP_FIXED_NOREPLACE,
        ),
        (0, RESERVE_SIZE / 2, flags | libc::MAP_32BIT),
        (0, RESERVE_SIZE / 8, flags | libc::MAP_32BIT),
    ];
    let mut last = std::io::Error::other("no attempt made");
    for (hint, len, flags) in attempts {
        // SAFETY: an anonymous PROT_NONE mapping; with MAP_FIXED_NOREPLACE the
        // kernel refuses rather than replaces an existing mapping, and with a
        // zero hint it picks a free range, so no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                hint as *mut libc::c_void,
                len as usize,
                libc::PROT_NONE,
                flags,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            last = std::io::Error::last_os_error();
            continue;
        }
        let base = p as u64;
        if base + len > LIMIT_2G || (hint != 0 && base != hint) {
            // SAFETY: unmapping exactly the mapping created just above.
            unsafe { libc::munmap(p, len as usize) };
            last = std::io::Error::other(format!("kernel placed the range at {base:#x}"));
            continue;
        }
        log::debug!("mm: reserved {len:#x} bytes of low memory at {base:#x}");
        LOW_END.store(base + len, Ordering::Release);
        LOW_BASE.store(base, Ordering::Release);
        let mut free = BTreeMap::new();
        free.insert(base, len);
        return Ok(Arena {
            base,
            end: base + len,
            free,
            used: BTreeMap::new(),
        });
    }
    Err(MmError::Reserve(last))
}

fn page_align(len: u64) -> u64 {
    len.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE
}

fn mprotect(addr: u64, len: u64, prot: Prot) -> Result<(), MmError> {
    // SAFETY: [addr, addr+len) is page-aligned and lies inside the arena's
    // reservation (callers pass only ranges the arena handed out), which no
    // Rust object aliases.
    let rc = unsafe { libc::mprotect(addr as *mut libc::c_void, len as usize, prot.bits()) };
    if rc != 0 {
        return Err(MmError::Protect {
            addr,
            len,
            err: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// A page-aligned, zero-filled range of low memory, returned on drop.
#[derive(Debug)]
pub struct LowRegion {
    addr: u64,
    len: u64,
}

impl LowRegion {
    /// Allocate `len` bytes (rounded up to pages), zeroed, with `prot`.
    /// `guard` extra PROT_NONE pages are kept below the region (stacks).
    pub fn alloc(len: u64, prot: Prot, tag: &'static str) -> Result<LowRegion, MmError> {
        let len = page_align(len);
        let mut a = arena()?;
        let (&start, &flen) = a
            .free
            .iter()
            .find(|(_, &l)| l >= len)
            .ok_or(MmError::Exhausted(len))?;
        a.free.remove(&start);
        if flen > len {
            a.free.insert(start + len, flen - len);
        }
        a.used.insert(start, Used { len, prot, tag });
        drop(a);
        mprotect(start, len, prot)?;
        log::trace!("mm: {tag}: {len:#x} bytes at {start:#x} {prot:?}");
        Ok(LowRegion { addr: start, len })
    }

    pub fn addr(&self) -> u64 {
        self.addr
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn end(&self) -> u64 {
        self.addr + self.len
    }

    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.addr && addr < self.end()
    }

    /// Change the protection of `[offset, offset+len)` (page-aligned) or of
    /// the whole region when `len` is `None`.
    pub fn protect(&self, offset: u64, len: Option<u64>, prot: Prot) -> Result<(), MmError> {
        let len = len.unwrap_or(self.len - offset.min(self.len));
        if offset % PAGE_SIZE != 0 || offset + len > self.len {
            return Err(MmError::Fault {
                addr: self.addr + offset,
                len,
            });
        }
        if len == 0 {
            return Ok(());
        }
        let mut a = arena()?;
        a.split_used(self.addr + offset, len, prot);
        drop(a);
        mprotect(self.addr + offset, page_align(len), prot)
    }

    /// Copy `bytes` into the region at `offset`, whatever its protection
    /// (the loader writes before sealing).
    pub fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), MmError> {
        let fault = MmError::Fault {
            addr: self.addr.wrapping_add(offset),
            len: bytes.len() as u64,
        };
        if offset
            .checked_add(bytes.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(fault);
        }
        with_writable(self.addr + offset, bytes.len() as u64, || {
            // SAFETY: the destination lies inside this live region (checked
            // above) and was made writable by with_writable; a region's
            // memory is never borrowed by a Rust reference.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    (self.addr + offset) as *mut u8,
                    bytes.len(),
                )
            };
        })
    }

    /// Read bytes from the region, whatever its protection.
    pub fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, MmError> {
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(MmError::Fault {
                addr: self.addr.wrapping_add(offset),
                len: len as u64,
            });
        }
        let mut out = vec![0u8; len];
        with_readable(self.addr + offset, len as u64, || {
            // SAFETY: the source lies inside this live region and is readable
            // for the duration of the closure.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    (self.addr + offset) as *const u8,
                    out.as_mut_ptr(),
                    len,
                )
            };
        })?;
        Ok(out)
    }
}

impl Drop for LowRegion {
    fn drop(&mut self) {
        // Give the pages back to the kernel and make them inaccessible, so a
        // stale pointer into a freed module faults instead of reading garbage.
        // SAFETY: this region's own range, which nothing else references.
        unsafe {
            libc::mmap(
                self.addr as *mut libc::c_void,
                self.len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if let Ok(mut a) = arena() {
            a.release(self.addr, self.len);
        }
    }
}

impl Arena {
    fn release(&mut self, addr: u64, len: u64) {
        // Remove every used piece inside the range (protect() may have split it).
        let keys: Vec<u64> = self.used.range(addr..addr + len).map(|(&k, _)| k).collect();
        for k in keys {
            self.used.remove(&k);
        }
        let (mut start, mut len) = (addr, len);
        if let Some((&ps, &pl)) = self.free.range(..start).next_back() {
            if ps + pl == start {
                self.free.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = self.free.get(&(start + len)) {
            self.free.remove(&(start + len));
            len += nl;
        }
        debug_assert!(start >= self.base && start + len <= self.end);
        self.free.insert(start, len);
    }

    /// Record a protection change for a sub-range of a used region.
    fn split_used(&mut self, addr: u64, len: u64, prot: Prot) {
        let len = page_align(len);
        let Some((&start, used)) = self.used.range(..=addr).next_back() else {
            return;
        };
        let (ulen, uprot, tag) = (used.len, used.prot, used.tag);
        if addr >= start + ulen {
            return;
        }
        self.used.remove(&start);
        if addr > start {
            self.used.insert(
                start,
                Used {
                    len: addr - start,
                    prot: uprot,
                    tag,
                },
            );
        }
        let end = (addr + len).min(start + ulen);
        self.used.insert(
            addr,
            Used {
                len: end - addr,
                prot,
                tag,
            },
        );
        if end < start + ulen {
            // The tail may span further pieces recorded separately; keep it.
            self.used.insert(
                end,
                Used {
                    len: start + ulen - end,
                    prot: uprot,
                    tag,
                },
            );
        }
        // A range that continued into following pieces: update them too.
        if addr + len > start + ulen {
            self.split_used(start + ulen, addr + len - (start + ulen), prot);
        }
    }

    /// Does `[addr, addr+len)` lie in live regions that all satisfy `ok`?
    fn check(&self, addr: u64, len: u64, ok: impl Fn(Prot) -> bool) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let mut at = addr;
        while at < end {
            match self.used.range(..=at).next_back() {
                Some((&s, u)) if at < s + u.len && ok(u.prot) => at = s + u.len,
                _ => return false,
            }
        }
        true
    }

    fn tag_of(&self, addr: u64) -> Option<&'static str> {
        self.used
            .range(..=addr)
            .next_back()
            .filter(|(&s, u)| addr < s + u.len)
            .map(|(_, u)| u.tag)
    }
}

fn with_readable(addr: u64, len: u64, f: impl FnOnce()) -> Result<(), MmError> {
    let a = arena()?;
    if !a.check(addr, len, Prot::readable) {
        return Err(MmError::Fault { addr, len });
    }
    // Holding the arena lock keeps the range from being released meanwhile.
    f();
    Ok(())
}

/// Run `f` with `[addr, addr+len)` writable, restoring read-only/exec pages after.
fn with_writable(addr: u64, len: u64, f: impl FnOnce()) -> Result<(), MmError> {
    let a = arena()?;
    if !a.check(addr, len, |_| true) {
        return Err(MmError::Fault { addr, len });
    }
    let first = addr & !(PAGE_SIZE - 1);
    let span = page_align(addr + len - first);
    let restore: Vec<(u64, u64, Prot)> = a
        .used
        .range(..first + span)
        .filter(|(&s, u)| s + u.len > first && !u.prot.writable())
        .map(|(&s, u)| (s.max(first), (s + u.len).min(first + span), u.prot))
        .collect();
    for &(s, e, _) in &restore {
        mprotect(s, e - s, Prot::ReadWrite)?;
    }
    f();
    for &(s, e, p) in &restore {
        mprotect(s, e - s, p)?;
    }
    Ok(())
}

/// Read `len` bytes of kload memory at `addr`, if all of it is readable.
pub fn read_bytes(addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    with_readable(addr, len as u64, || {
        // SAFETY: the range is readable live low memory (checked under the
        // arena lock, which is held while copying).
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), len) };
    })
    .ok()?;
    Some(out)
}

/// Read a little-endian u64 of kload memory.
pub fn read_u64(addr: u64) -> Option<u64> {
    read_bytes(addr, 8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
}

/// Read a little-endian u32 of kload memory.
pub fn read_u32(addr: u64) -> Option<u32> {
    read_bytes(addr, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Read a NUL-terminated string of at most `max` bytes (without the NUL).
/// Reading stops at the first unreadable byte; `None` if even the first is.
pub fn read_cstr(addr: u64, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        // Read up to the end of the current page in one go.
        let page_left = (PAGE_SIZE - (at % PAGE_SIZE)) as usize;
        let chunk = read_bytes(at, page_left.min(max - out.len()));
        let Some(chunk) = chunk else {
            return if out.is_empty() { None } else { Some(out) };
        };
        if let Some(nul) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Some(out);
        }
        at += chunk.len() as u64;
        out.extend_from_slice(&chunk);
    }
    Some(out)
}

/// Write to kload memory that module code may write (RW regions only).
pub fn write_bytes(addr: u64, bytes: &[u8]) -> Result<(), MmError> {
    let a = arena()?;
    if !a.check(addr, bytes.len() as u64, Prot::writable) {
        return Err(MmError::Fault {
            addr,
            len: bytes.len() as u64,
        });
    }
    // SAFETY: the range is writable live low memory, checked under the arena
    // lock which is held while copying; no Rust reference aliases it.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
    Ok(())
}

/// Where an access to `[addr, addr+len)` would fault first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstFault {
    /// The first byte the access cannot make.
    pub addr: u64,
    /// The page is mapped but forbids the access (a protection fault);
    /// false for memory that is not there (or PROT_NONE).
    pub present: bool,
}

/// The first byte of `[addr, addr+len)` that a read (or a write) would
/// fault on, as the CPU would report it (CR2); `None` if none would.
pub fn first_fault(addr: u64, len: u64, write: bool) -> Option<FirstFault> {
    let Ok(a) = arena() else {
        return Some(FirstFault {
            addr,
            present: false,
        });
    };
    let end = addr.saturating_add(len.max(1));
    let mut at = addr;
    while at < end {
        match a.used.range(..=at).next_back() {
            Some((&s, u)) if at < s + u.len && u.prot.readable() => {
                if write && !u.prot.writable() {
                    return Some(FirstFault {
                        addr: at,
                        present: true,
                    });
                }
                at = s + u.len;
            }
            _ => {
                return Some(FirstFault {
                    addr: at,
                    present: false,
                })
            }
        }
    }
    None
}

/// Which kind of kload memory holds `addr` (the tag given at allocation).
pub fn region_tag(addr: u64) -> Option<&'static str> {
    arena().ok()?.tag_of(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_below_2g_zeroed_and_checked() {
        let r = LowRegion::alloc(10, Prot::ReadWrite, "test").unwrap();
        assert!(r.end() <= LIMIT_2G);
        assert_eq!(r.len(), PAGE_SIZE);
        assert_eq!(read_bytes(r.addr(), 16).unwrap(), vec![0; 16]);
        write_bytes(r.addr() + 8, b"kload\0").unwrap();
        assert_eq!(read_cstr(r.addr() + 8, 64).unwrap(), b"kload");
        assert!(read_bytes(r.end() - 4, 8).is_none() || region_tag(r.end()).is_some());
        r.protect(0, None, Prot::Read).unwrap();
        assert!(write_bytes(r.addr(), b"x").is_err());
        r.write(0, b"y").unwrap();
        assert_eq!(r.read(0, 1).unwrap(), b"y");
        let addr = r.addr();
        drop(r);
        assert!(read_bytes(addr, 1).is_none());
    }
}
