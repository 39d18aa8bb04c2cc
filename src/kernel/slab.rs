//! Memory for modules (mm/slub.c, mm/slab_common.c, mm/util.c, mm/vmalloc.c,
//! mm/page_alloc.c): the kmalloc family under both kernels' names, krealloc,
//! kmemdup and the string duplicates, kvmalloc, vmalloc, `kmem_cache`s and
//! whole pages, all in low memory (module code addresses everything with
//! 32-bit sign-extended immediates).
//!
//! ## The checking the kernel cannot do
//!
//! Every object sits between redzones (0xcc while live), as with
//! `slub_debug=FZPU`; the bytes between the requested size and the size
//! class are redzone too (a `kmalloc(13)` may not write byte 13). On free the
//! redzones are checked, the object is poisoned (0x6b, last byte 0xa5) and
//! kept in a quarantine; when it leaves the quarantine (and at unload and
//! exit) the poison is verified, so a write after free is reported with the
//! object's allocation and free sites. Double and invalid frees get a
//! SLUB-style `BUG` report and the stub returns normally: the real kernel
//! would corrupt itself or oops, kload reports and carries on. At unload
//! (`report_leaks`) and at exit (`report_outstanding`) every allocation a
//! module still holds is reported kmemleak-style. Large objects (vmalloc,
//! pages, kmalloc beyond 8 KiB) get their own region with a PROT_NONE guard
//! page after them; freed, the whole region becomes PROT_NONE for a while, so
//! a stale access faults.
//!
//! `SlabConfig` turns the checks off and injects allocation failures (the
//! Nth allocation, or a seeded random fraction), as failslab does.
//!
//! Layout facts, from the Debian headers of both kernels:
//! - `kmalloc_caches` is `struct kmem_cache *[NR_KMALLOC_TYPES][KMALLOC_SHIFT_HIGH + 1]`
//!   (6.12 spells the row `kmem_buckets`); `KMALLOC_SHIFT_HIGH` is
//!   `PAGE_SHIFT + 1` = 13 under SLUB, so rows have 14 entries. 6.1 has four
//!   types (NORMAL, CGROUP, RECLAIM, DMA), 6.12 five (NORMAL, RECLAIM, DMA,
//!   CGROUP, NO_OBJ_EXT). Inline `kmalloc()` of a constant size reads
//!   `kmalloc_caches[kmalloc_type(flags)][kmalloc_index(size)]` and passes it
//!   to `kmalloc_trace` / `__kmalloc_cache_noprof` with the size.
//! - `__GFP_ZERO` is 0x100 on both (gfp_types.h); Debian sets
//!   `CONFIG_INIT_ON_ALLOC_DEFAULT_ON`, so every allocation is zeroed except
//!   objects of caches with a constructor.
//! - 6.12 has `CONFIG_SLAB_BUCKETS`: `__kmalloc_node_noprof`,
//!   `__kmalloc_node_track_caller_noprof` and `__kvmalloc_node_noprof` take
//!   a `kmem_buckets *` after the size.
//! - 6.12's `kmem_cache_create()` is `__kmem_cache_create_args(name, size,
//!   struct kmem_cache_args *, flags)`; the args are `{ u32 align,
//!   useroffset, usersize, freeptr_offset; bool use_freeptr_offset;
//!   void (*ctor)(void *); }` (ctor at 24).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::printk::{LOGLEVEL_ERR, LOGLEVEL_NOTICE, LOGLEVEL_WARNING};
use super::symbols::{Access, DataCtx, Registry};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm::{self, LowRegion, Prot, PAGE_SIZE};
use crate::module::Module;
use crate::profile::MissingField;

/// `__GFP_ZERO` (both kernels).
pub const GFP_ZERO: u64 = 0x100;
const GFP_DMA: u64 = 0x01;
const GFP_RECLAIMABLE: u64 = 0x10;
const GFP_ACCOUNT: u64 = 0x40_0000;
/// `SLAB_HWCACHE_ALIGN`.
const SLAB_HWCACHE_ALIGN: u64 = 0x2000;
/// `ZERO_SIZE_PTR`: what `kmalloc(0)` returns.
pub const ZERO_SIZE_PTR: u64 = 16;
/// `KMALLOC_SHIFT_HIGH` (`PAGE_SHIFT + 1` under SLUB, both kernels).
const KMALLOC_SHIFT_HIGH: usize = 13;
/// `KMALLOC_MAX_CACHE_SIZE`: larger kmallocs go to the page allocator.
const KMALLOC_MAX_CACHE_SIZE: u64 = 1 << KMALLOC_SHIFT_HIGH;
/// Rows of `kmalloc_caches` kload provides (6.12 has five; extra rows of a
/// smaller table are never read).
const KMALLOC_ROWS: usize = 5;
/// `KMALLOC_MAX_SIZE` (`1 << (MAX_ORDER + PAGE_SHIFT - 1)`: 4 MiB on 6.1,
/// `MAX_PAGE_ORDER` 10 on 6.12 gives the same).
const KMALLOC_MAX_SIZE: u64 = 4 << 20;
/// vmalloc requests beyond this fail (kload's low memory is 1 GiB).
const VMALLOC_MAX: u64 = 256 << 20;

/// SLUB's fill patterns (include/linux/poison.h).
const RED_ACTIVE: u8 = 0xcc;
const RED_INACTIVE: u8 = 0xbb;
const POISON_FREE: u8 = 0x6b;
const POISON_END: u8 = 0xa5;
/// Smallest redzone on each side of an object.
const REDZONE: u64 = 16;
/// Freed small objects held back from reuse.
const QUARANTINE_OBJECTS: usize = 256;
/// Quarantined objects verified at each free (the most recent ones).
const RECENT_CHECK: usize = 8;
/// Bytes of freed large regions kept inaccessible before they are returned.
const QUARANTINE_BIG_BYTES: u64 = 16 << 20;
/// Bytes per chunk carved into slots (at least).
const CHUNK: u64 = 64 * 1024;
/// `TAINT_BAD_PAGE` ('B'), which SLUB's reports set.
const TAINT_BAD_PAGE: u32 = 5;
/// `TAINT_WARN`.
const TAINT_WARN: u32 = 9;

/// What the checks and fault injection do, per kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct SlabConfig {
    /// Redzones, poisoning, quarantine, double/invalid free and leak reports.
    pub checks: bool,
    /// The Nth allocation from module code (1-based) returns NULL.
    pub fail_nth: Option<u64>,
    /// Each allocation fails with this probability (0..=1), from this seed.
    pub fail_rate: Option<(f64, u64)>,
}

impl Default for SlabConfig {
    fn default() -> SlabConfig {
        SlabConfig {
            checks: true,
            fail_nth: None,
            fail_rate: None,
        }
    }
}

impl SlabConfig {
    /// One command-line option of `kload run`: `--no-checks`,
    /// `--fail-alloc=N` (the Nth allocation fails, N >= 1), or
    /// `--fail-alloc-rate=P[,SEED]` (each fails with probability P in
    /// 0..=1; SEED defaults to 0). `Ok(false)` if `arg` is none of them.
    pub fn apply_option(&mut self, arg: &str) -> Result<bool, String> {
        if arg == "--no-checks" {
            self.checks = false;
            return Ok(true);
        }
        if let Some(n) = arg.strip_prefix("--fail-alloc=") {
            let n: u64 = n
                .parse()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("--fail-alloc: bad count '{n}' (want N >= 1)"))?;
            self.fail_nth = Some(n);
            return Ok(true);
        }
        if let Some(v) = arg.strip_prefix("--fail-alloc-rate=") {
            let (p, seed) = v.split_once(',').unwrap_or((v, "0"));
            let p: f64 = p
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("--fail-alloc-rate: bad probability '{p}' (want 0..1)"))?;
            let seed: u64 = seed
                .parse()
                .map_err(|_| format!("--fail-alloc-rate: bad seed '{seed}'"))?;
            self.fail_rate = Some((p, seed));
            return Ok(true);
        }
        Ok(false)
    }
}

/// What kind of allocator an object came from (what must free it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// kmalloc and friends, small or large.
    Kmalloc,
    Vmalloc,
    /// `__get_free_pages` of this order.
    Pages(u32),
    /// A `kmem_cache` object (the cache's descriptor address).
    Cache(u64),
}

impl Kind {
    fn allocator(self) -> &'static str {
        match self {
            Kind::Kmalloc => "kmalloc()",
            Kind::Vmalloc => "vmalloc()",
            Kind::Pages(_) => "__get_free_pages()",
            Kind::Cache(_) => "kmem_cache_alloc()",
        }
    }
}

/// The freeing function's expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FreeBy {
    Kfree,
    Vfree,
    Kvfree,
    Cache(u64),
    Pages(u32),
}

impl FreeBy {
    fn name(self) -> &'static str {
        match self {
            FreeBy::Kfree => "kfree",
            FreeBy::Vfree => "vfree",
            FreeBy::Kvfree => "kvfree",
            FreeBy::Cache(_) => "kmem_cache_free",
            FreeBy::Pages(_) => "free_pages",
        }
    }

    fn accepts(self, kind: Kind) -> bool {
        match (self, kind) {
            // SLUB's kfree() takes kmem_cache objects too.
            (FreeBy::Kfree, Kind::Kmalloc | Kind::Cache(_)) => true,
            (FreeBy::Kvfree, Kind::Kmalloc | Kind::Cache(_) | Kind::Vmalloc) => true,
            (FreeBy::Vfree, Kind::Vmalloc) => true,
            (FreeBy::Cache(c), Kind::Cache(k)) => c == k,
            (FreeBy::Pages(o), Kind::Pages(k)) => o == k,
            _ => false,
        }
    }
}

/// Where an allocation or free happened.
#[derive(Debug, Clone)]
struct Site {
    caller: u64,
    /// `%pS` of the caller, taken at the time (init text goes away).
    symbol: String,
    pid: u32,
    comm: String,
}

impl Site {
    fn here(k: &Kernel, caller: u64) -> Site {
        let (pid, comm) =
            task::current_task().map_or((0, "swapper/0".to_owned()), |t| (t.pid, t.comm.clone()));
        let symbol = if caller == 0 {
            "(kernel)".to_owned()
        } else {
            k.symbolize(caller)
        };
        Site {
            caller,
            symbol,
            pid,
            comm,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Live,
    /// Freed, poisoned, in the quarantine.
    Quarantined,
    /// Freed and back in its pool's free list.
    Reusable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PoolKey {
    /// A kmalloc size class (index into `CLASSES`).
    Kmalloc(usize),
    /// A `kmem_cache` (its descriptor address).
    Cache(u64),
}

/// One object (live, or freed and remembered for double-free reports).
#[derive(Debug, Clone)]
struct Obj {
    addr: u64,
    /// Bytes the caller may use (the requested size; `ksize` widens it).
    size: u64,
    /// Usable size of the slot (`ksize`).
    cap: u64,
    /// Start and end of the slot, redzones included.
    base: u64,
    end: u64,
    kind: Kind,
    pool: Option<PoolKey>,
    cache_name: String,
    state: State,
    alloc: Site,
    free: Option<Site>,
    /// The module whose code asked for it.
    owner: Option<String>,
    /// Allocated by the stub kernel for itself (not a module leak).
    internal: bool,
    /// Already reported as a leak.
    reported: bool,
}

struct Pool {
    stride: u64,
    /// Offset of the object in its slot (the left redzone).
    left: u64,
    cap: u64,
    chunks: Vec<LowRegion>,
    bump: u64,
    bump_end: u64,
    free: Vec<u64>,
}

impl Pool {
    fn new(cap: u64, align: u64) -> Pool {
        let align = align.max(8);
        let left = REDZONE.div_ceil(align) * align;
        let stride = left + (cap + REDZONE).div_ceil(align) * align;
        Pool {
            stride,
            left,
            cap,
            chunks: Vec::new(),
            bump: 0,
            bump_end: 0,
            free: Vec::new(),
        }
    }

    /// A slot's object address, and whether it is fresh (never handed out).
    fn take(&mut self) -> Option<(u64, bool)> {
        if let Some(a) = self.free.pop() {
            return Some((a, false));
        }
        if self.bump + self.stride > self.bump_end {
            let len = (self.stride * 16).max(CHUNK).div_ceil(PAGE_SIZE) * PAGE_SIZE;
            let r = LowRegion::alloc(len, Prot::ReadWrite, "slab").ok()?;
            self.bump = r.addr();
            self.bump_end = r.end();
            self.chunks.push(r);
        }
        let base = self.bump;
        self.bump += self.stride;
        Some((base + self.left, true))
    }
}

/// What `kmem_cache_create` was asked for.
struct CacheSpec {
    name: String,
    size: u64,
    align: u64,
    flags: u64,
    ctor: u64,
    caller: u64,
}

/// A `kmem_cache` created by `kmem_cache_create`.
#[derive(Debug, Clone)]
struct CacheInfo {
    name: String,
    size: u64,
    ctor: u64,
    owner: Option<String>,
}

#[derive(Default)]
struct Inner {
    objects: BTreeMap<u64, Obj>,
    pools: HashMap<PoolKey, Pool>,
    big: HashMap<u64, LowRegion>,
    quarantine: VecDeque<u64>,
    big_quarantine: VecDeque<u64>,
    big_quarantine_bytes: u64,
    caches: HashMap<u64, CacheInfo>,
    cache_descs: Vec<LowRegion>,
    desc_next: u64,
    desc_end: u64,
}

#[derive(Default)]
struct Inject {
    count: u64,
    rng: u64,
}

/// The allocator of one kernel.
pub struct Slab {
    config: Mutex<SlabConfig>,
    inject: Mutex<Inject>,
    inner: Mutex<Inner>,
    findings: AtomicU64,
}

impl Default for Slab {
    fn default() -> Slab {
        Slab::new()
    }
}

/// A request to the allocator.
struct Req {
    size: u64,
    gfp: u64,
    kind: Kind,
    caller: u64,
    /// Subject to fault injection and leak reports (module code asked).
    from_module: bool,
    func: &'static str,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// kmalloc size classes: `kmalloc_index` 3..=13, plus 96 (1) and 192 (2).
const CLASSES: [u64; 13] = [
    8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
];

fn class_of(size: u64) -> Option<usize> {
    CLASSES.iter().position(|&c| c >= size.max(1))
}

/// Natural alignment of a class (kmalloc guarantees it for powers of two).
fn class_align(c: u64) -> u64 {
    let p = if c.is_power_of_two() {
        c
    } else {
        1 << c.trailing_zeros()
    };
    p.clamp(8, PAGE_SIZE)
}

/// `kmalloc_caches` row names, per kernel (mm/slab_common.c `kmalloc_info`).
fn type_prefix(k: &Kernel, row: usize) -> &'static str {
    let names: &[&str] = if k.profile.version() >= (6, 10) {
        &[
            "kmalloc-",
            "kmalloc-rcl-",
            "dma-kmalloc-",
            "kmalloc-cg-",
            "kmalloc-",
        ]
    } else {
        &["kmalloc-", "kmalloc-cg-", "kmalloc-rcl-", "dma-kmalloc-"]
    };
    names.get(row).copied().unwrap_or("kmalloc-")
}

fn flags_row(k: &Kernel, gfp: u64) -> usize {
    let new = k.profile.version() >= (6, 10);
    if gfp & (GFP_RECLAIMABLE | GFP_DMA | GFP_ACCOUNT) == 0 {
        0
    } else if gfp & GFP_DMA != 0 {
        if new {
            2
        } else {
            3
        }
    } else if gfp & GFP_RECLAIMABLE != 0 {
        if new {
            1
        } else {
            2
        }
    } else if new {
        3
    } else {
        1
    }
}

fn size_name(c: u64) -> String {
    if c >= 1024 && c % 1024 == 0 {
        format!("{}k", c / 1024)
    } else {
        c.to_string()
    }
}

// ---------------------------------------------------------------------------
// The kmalloc_caches descriptors (process-wide: module code only hands them
// back, and every kernel's table points at the same ones)
// ---------------------------------------------------------------------------

const DESC_SIZE: u64 = 64;
const ROW_LEN: usize = KMALLOC_SHIFT_HIGH + 1;

fn kmalloc_descs() -> Option<&'static LowRegion> {
    static DESCS: OnceLock<Option<LowRegion>> = OnceLock::new();
    DESCS
        .get_or_init(|| {
            let n = (KMALLOC_ROWS * ROW_LEN) as u64;
            let r = LowRegion::alloc(n * DESC_SIZE, Prot::ReadWrite, "kmalloc-caches").ok()?;
            // Each descriptor holds its object size first (as kmem_cache's
            // first words do not, but nothing in a module reads it).
            for i in 0..n {
                let idx = (i as usize) % ROW_LEN;
                let size = index_size(idx);
                r.write(i * DESC_SIZE, &size.to_le_bytes()).ok()?;
            }
            r.protect(0, None, Prot::Read).ok()?;
            Some(r)
        })
        .as_ref()
}

/// Object size of `kmalloc_caches[_][idx]`.
fn index_size(idx: usize) -> u64 {
    match idx {
        0 => 0,
        1 => 96,
        2 => 192,
        n => 1 << n,
    }
}

/// (row, index) of a kmalloc_caches descriptor.
fn kmalloc_desc(addr: u64) -> Option<(usize, usize)> {
    let r = kmalloc_descs()?;
    if !r.contains(addr) || (addr - r.addr()) % DESC_SIZE != 0 {
        return None;
    }
    let i = ((addr - r.addr()) / DESC_SIZE) as usize;
    Some((i / ROW_LEN, i % ROW_LEN))
}

/// The `kmalloc_caches` data object: every entry points at kload's
/// descriptor of that size class (entry 0, the zero size, stays NULL).
fn kmalloc_caches_data(_ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let mut b = vec![0u8; KMALLOC_ROWS * ROW_LEN * 8];
    if let Some(r) = kmalloc_descs() {
        for i in 0..KMALLOC_ROWS * ROW_LEN {
            if i % ROW_LEN == 0 {
                continue;
            }
            let a = r.addr() + i as u64 * DESC_SIZE;
            b[i * 8..i * 8 + 8].copy_from_slice(&a.to_le_bytes());
        }
    }
    Ok(b)
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

/// `hex_dump_to_buffer(.., 16, 1, .., true)` of one row.
fn hex_row(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut s = hex.join(" ");
    while s.len() < 49 {
        s.push(' ');
    }
    s.extend(bytes.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            b as char
        } else {
            '.'
        }
    }));
    s
}

/// The kernel's `crc32(0, p, len)` (crc32_le, reflected 0xedb88320, no
/// inversion), which 6.12's kmemleak prints for each object.
fn crc32_le(bytes: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn first_bad(bytes: &[u8], want: u8) -> Option<usize> {
    bytes.iter().position(|&b| b != want)
}

struct Damage {
    what: &'static str,
    from: u64,
    to: u64,
    offset: u64,
    found: u8,
    want: u8,
}

impl Slab {
    pub fn new() -> Slab {
        Slab {
            config: Mutex::new(SlabConfig::default()),
            inject: Mutex::default(),
            inner: Mutex::default(),
            findings: AtomicU64::new(0),
        }
    }

    /// Set the checks and fault injection (before loading modules).
    pub fn configure(&self, config: SlabConfig) {
        let seed = config.fail_rate.map_or(0, |(_, s)| s);
        *lock(&self.config) = config;
        *lock(&self.inject) = Inject {
            count: 0,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
        };
    }

    pub fn config(&self) -> SlabConfig {
        lock(&self.config).clone()
    }

    fn checks(&self) -> bool {
        lock(&self.config).checks
    }

    /// Reports made so far (BUG reports and leaked objects): `kload run`
    /// exits non-zero when this is not 0.
    pub fn findings(&self) -> u64 {
        self.findings.load(Ordering::Relaxed)
    }

    /// Live objects (all of them, the stub kernel's own included).
    pub fn live_objects(&self) -> usize {
        lock(&self.inner)
            .objects
            .values()
            .filter(|o| o.state == State::Live)
            .count()
    }

    fn found(&self, n: u64) {
        self.findings.fetch_add(n, Ordering::Relaxed);
    }

    /// failslab: should this allocation fail?
    fn should_fail(&self) -> bool {
        let cfg = lock(&self.config).clone();
        if cfg.fail_nth.is_none() && cfg.fail_rate.is_none() {
            return false;
        }
        let mut inj = lock(&self.inject);
        inj.count += 1;
        if cfg.fail_nth == Some(inj.count) {
            return true;
        }
        if let Some((rate, _)) = cfg.fail_rate {
            // splitmix64
            inj.rng = inj.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = inj.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            return ((z >> 11) as f64 / (1u64 << 53) as f64) < rate;
        }
        false
    }

    // -----------------------------------------------------------------------
    // Allocation
    // -----------------------------------------------------------------------

    fn alloc(&self, k: &Kernel, req: Req) -> u64 {
        if req.size == 0 && req.kind == Kind::Kmalloc {
            return ZERO_SIZE_PTR;
        }
        let too_big = match req.kind {
            Kind::Kmalloc => req.size > KMALLOC_MAX_SIZE,
            Kind::Vmalloc => req.size == 0 || req.size > VMALLOC_MAX,
            Kind::Pages(o) => o > 10,
            Kind::Cache(_) => false,
        };
        if too_big {
            return 0;
        }
        let site = Site::here(k, req.caller);
        if req.from_module && self.should_fail() {
            k.log
                .emit(LOGLEVEL_NOTICE, "FAULT_INJECTION: forcing a failure.");
            k.log.emit(
                LOGLEVEL_NOTICE,
                &format!(
                    "kload: fail-alloc: {}({}) from {} returns NULL",
                    req.func, req.size, site.symbol
                ),
            );
            return 0;
        }
        let owner = if req.from_module && req.caller != 0 {
            k.module_list()
                .iter()
                .find(|m| m.contains(req.caller))
                .map(|m| m.name.clone())
        } else {
            None
        };
        let checks = self.checks();
        let mut inner = lock(&self.inner);
        let (pool, cache_name, ctor_cache) = match req.kind {
            Kind::Kmalloc => match class_of(req.size) {
                Some(c) if req.size <= KMALLOC_MAX_CACHE_SIZE => (
                    Some(PoolKey::Kmalloc(c)),
                    format!(
                        "{}{}",
                        type_prefix(k, flags_row(k, req.gfp)),
                        size_name(CLASSES[c])
                    ),
                    false,
                ),
                _ => (None, "kmalloc-large".to_owned(), false),
            },
            Kind::Cache(d) => match inner.caches.get(&d) {
                Some(c) => (Some(PoolKey::Cache(d)), c.name.clone(), c.ctor != 0),
                None => return 0,
            },
            Kind::Vmalloc => (None, "vmalloc".to_owned(), false),
            Kind::Pages(_) => (None, "pages".to_owned(), false),
        };
        let zero = req.gfp & GFP_ZERO != 0 || !ctor_cache;
        let obj = match pool {
            Some(key) => {
                let p = match key {
                    PoolKey::Kmalloc(c) => Some(
                        inner
                            .pools
                            .entry(key)
                            .or_insert_with(|| Pool::new(CLASSES[c], class_align(CLASSES[c]))),
                    ),
                    PoolKey::Cache(_) => inner.pools.get_mut(&key),
                };
                let Some(p) = p else { return 0 };
                let Some((addr, _fresh)) = p.take() else {
                    return 0;
                };
                let (base, cap, end) = (addr - p.left, p.cap, addr - p.left + p.stride);
                let size = if req.kind == Kind::Kmalloc {
                    req.size
                } else {
                    cap
                };
                if checks {
                    let _ = mm::write_bytes(base, &vec![RED_ACTIVE; (addr - base) as usize]);
                    let _ = mm::write_bytes(
                        addr + size,
                        &vec![RED_ACTIVE; (end - addr - size) as usize],
                    );
                }
                if zero {
                    let _ = mm::write_bytes(addr, &vec![0; size as usize]);
                }
                Obj {
                    addr,
                    size,
                    cap,
                    base,
                    end,
                    kind: req.kind,
                    pool: Some(key),
                    cache_name,
                    state: State::Live,
                    alloc: site,
                    free: None,
                    owner,
                    internal: !req.from_module,
                    reported: false,
                }
            }
            None => {
                let size = match req.kind {
                    Kind::Pages(o) => PAGE_SIZE << o,
                    _ => req.size,
                };
                let cap = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
                let tag = match req.kind {
                    Kind::Vmalloc => "vmalloc",
                    Kind::Pages(_) => "pages",
                    _ => "kmalloc-large",
                };
                // Page allocations of order N are naturally aligned, as the
                // buddy allocator's are: reserve the slack to align within.
                let align = match req.kind {
                    Kind::Pages(o) => PAGE_SIZE << o,
                    _ => PAGE_SIZE,
                };
                let Ok(r) = LowRegion::alloc(cap + align, Prot::ReadWrite, tag) else {
                    return 0;
                };
                let addr = r.addr().div_ceil(align) * align;
                let skip = addr - r.addr();
                if skip > 0 {
                    let _ = r.protect(0, Some(skip), Prot::None);
                }
                // The guard page (and slack) after the object: an overrun faults.
                let _ = r.protect(skip + cap, None, Prot::None);
                if checks && cap > size {
                    let _ = mm::write_bytes(addr + size, &vec![RED_ACTIVE; (cap - size) as usize]);
                }
                inner.big.insert(addr, r);
                Obj {
                    addr,
                    size,
                    cap,
                    base: addr,
                    end: addr + cap,
                    kind: req.kind,
                    pool: None,
                    cache_name,
                    state: State::Live,
                    alloc: site,
                    free: None,
                    owner,
                    internal: !req.from_module,
                    reported: false,
                }
            }
        };
        let addr = obj.addr;
        inner.objects.insert(addr, obj);
        addr
    }

    /// `2^order` naturally aligned pages for module code at `caller`
    /// (the page allocator's accounting: leak reports, fault injection).
    pub fn alloc_pages(
        &self,
        k: &Kernel,
        order: u32,
        gfp: u64,
        caller: u64,
        func: &'static str,
    ) -> u64 {
        self.alloc(
            k,
            Req {
                size: PAGE_SIZE << order.min(16),
                gfp,
                kind: Kind::Pages(order),
                caller,
                from_module: true,
                func,
            },
        )
    }

    /// kmalloc on behalf of module code at `caller` (devres): accounted
    /// to the module, leak-reported, subject to fault injection.
    pub fn kmalloc_for(
        &self,
        k: &Kernel,
        size: u64,
        gfp: u64,
        caller: u64,
        func: &'static str,
    ) -> u64 {
        self.alloc(
            k,
            Req {
                size,
                gfp,
                kind: Kind::Kmalloc,
                caller,
                from_module: true,
                func,
            },
        )
    }

    /// kfree on behalf of module code at `caller`.
    pub fn kfree_for(&self, k: &Kernel, addr: u64, caller: u64) {
        self.free(k, addr, FreeBy::Kfree, caller);
    }

    /// Free pages `alloc_pages` returned; a double or invalid free, or a
    /// wrong order, is reported.
    pub fn free_pages(&self, k: &Kernel, addr: u64, order: u32, caller: u64) {
        self.free(k, addr, FreeBy::Pages(order), caller);
    }

    /// The page allocation starting at `addr`: its order, and whether it
    /// is live (not freed yet).
    pub fn page_allocation(&self, addr: u64) -> Option<(u32, bool)> {
        let inner = lock(&self.inner);
        let o = inner.objects.get(&addr)?;
        match o.kind {
            Kind::Pages(order) => Some((order, o.state == State::Live)),
            _ => None,
        }
    }

    /// The live object containing `addr`: (start, usable size, cache name)
    /// for `__check_object_size`.
    pub fn live_object_containing(&self, addr: u64) -> Option<(u64, u64, String)> {
        let inner = lock(&self.inner);
        let (_, o) = inner.objects.range(..=addr).next_back()?;
        (o.state == State::Live && addr < o.addr + o.cap.max(o.size))
            .then(|| (o.addr, o.cap.max(o.size), o.cache_name.clone()))
    }

    /// Allocate for the stub kernel itself (zeroed kmalloc memory, never
    /// failed by fault injection, never reported as a module's leak).
    pub fn kmalloc_internal(&self, k: &Kernel, size: u64) -> Option<u64> {
        let a = self.alloc(
            k,
            Req {
                size,
                gfp: GFP_ZERO,
                kind: Kind::Kmalloc,
                caller: 0,
                from_module: false,
                func: "kmalloc",
            },
        );
        (a != 0 && a != ZERO_SIZE_PTR).then_some(a)
    }

    /// Free what `kmalloc_internal` (or a module's kmalloc) returned.
    pub fn kfree_internal(&self, k: &Kernel, addr: u64) {
        self.free(k, addr, FreeBy::Kfree, 0);
    }

    // -----------------------------------------------------------------------
    // Free
    // -----------------------------------------------------------------------

    fn free(&self, k: &Kernel, addr: u64, by: FreeBy, caller: u64) {
        if addr == 0 || (addr == ZERO_SIZE_PTR && matches!(by, FreeBy::Kfree | FreeBy::Kvfree)) {
            return;
        }
        let checks = self.checks();
        let site = Site::here(k, caller);
        let mut guard = lock(&self.inner);
        let inner: &mut Inner = &mut guard;
        let Some(obj) = inner.objects.get(&addr).cloned() else {
            drop(guard);
            if checks {
                self.report_invalid_free(k, addr, by, &site);
            }
            return;
        };
        if obj.state != State::Live {
            drop(guard);
            if checks {
                self.report_double_free(k, &obj, by, &site);
            }
            return;
        }
        if checks && !by.accepts(obj.kind) {
            self.report_bug(
                k,
                &obj.cache_name,
                &format!(
                    "kload: {}() of memory from {}",
                    by.name(),
                    obj.kind.allocator()
                ),
                &[
                    format!("Object 0x{:016x} (size {})", obj.addr, obj.size),
                    format!(
                        "Allocated in {} cpu=0 pid={}",
                        obj.alloc.symbol, obj.alloc.pid
                    ),
                    format!("Freed in {} cpu=0 pid={}", site.symbol, site.pid),
                ],
                Some(caller),
            );
        }
        if checks {
            if let Some(d) = live_damage(&obj) {
                self.report_damage(k, &obj, &d, Some(&site), Some(caller));
            }
        }
        let poison = checks
            && !matches!(obj.kind, Kind::Cache(d) if inner.caches.get(&d).is_some_and(|c| c.ctor != 0));
        let Some(o) = inner.objects.get_mut(&addr) else {
            return;
        };
        o.free = Some(site);
        match o.pool {
            Some(key) => {
                if poison {
                    let mut fill = vec![POISON_FREE; o.cap as usize];
                    if let Some(last) = fill.last_mut() {
                        *last = POISON_END;
                    }
                    let _ = mm::write_bytes(o.addr, &fill);
                    let _ =
                        mm::write_bytes(o.base, &vec![RED_INACTIVE; (o.addr - o.base) as usize]);
                    let tail = o.end - o.addr - o.cap;
                    let _ = mm::write_bytes(o.addr + o.cap, &vec![RED_INACTIVE; tail as usize]);
                    o.state = State::Quarantined;
                    // Writes after free usually follow the free closely:
                    // verify the most recently freed objects now, the rest
                    // when they leave the quarantine (and at unload).
                    let recent: Vec<u64> = inner
                        .quarantine
                        .iter()
                        .rev()
                        .take(RECENT_CHECK)
                        .copied()
                        .collect();
                    inner.quarantine.push_back(addr);
                    for a in recent {
                        if let Some(q) = inner.objects.get(&a) {
                            if let Some(d) = freed_damage(q) {
                                restore_freed(q);
                                self.report_damage(k, q, &d, None, Some(caller));
                            }
                        }
                    }
                    while inner.quarantine.len() > QUARANTINE_OBJECTS {
                        if let Some(old) = inner.quarantine.pop_front() {
                            let evicted = self.evict(k, inner, old);
                            if let Some((obj, d)) = evicted {
                                self.report_damage(k, &obj, &d, None, None);
                            }
                        }
                    }
                } else {
                    o.state = State::Reusable;
                    if let Some(p) = inner.pools.get_mut(&key) {
                        p.free.push(addr);
                    }
                }
            }
            None => {
                o.state = State::Quarantined;
                let cap = o.cap;
                if let Some(r) = inner.big.get(&addr) {
                    let _ = r.protect(addr - r.addr(), Some(cap), Prot::None);
                }
                inner.big_quarantine.push_back(addr);
                inner.big_quarantine_bytes += cap;
                let limit = if checks { QUARANTINE_BIG_BYTES } else { 0 };
                while inner.big_quarantine_bytes > limit {
                    let Some(old) = inner.big_quarantine.pop_front() else {
                        break;
                    };
                    if let Some(o) = inner.objects.remove(&old) {
                        inner.big_quarantine_bytes -= o.cap;
                    }
                    inner.big.remove(&old);
                }
            }
        }
    }

    /// Take `addr` out of the quarantine: verify its poison, put its slot
    /// back in its pool. Returns the damage found, if any.
    fn evict(&self, _k: &Kernel, inner: &mut Inner, addr: u64) -> Option<(Obj, Damage)> {
        let o = inner.objects.get_mut(&addr)?;
        if o.state != State::Quarantined {
            return None;
        }
        let damage = freed_damage(o);
        if damage.is_some() {
            restore_freed(o);
        }
        o.state = State::Reusable;
        let (key, obj) = (o.pool, o.clone());
        if let Some(p) = key.and_then(|key| inner.pools.get_mut(&key)) {
            p.free.push(addr);
        }
        damage.map(|d| (obj, d))
    }

    /// Verify every quarantined object's poison (at unload and exit).
    fn check_quarantine(&self, k: &Kernel) -> usize {
        let mut inner = lock(&self.inner);
        let addrs: Vec<u64> = inner.quarantine.iter().copied().collect();
        let mut found = Vec::new();
        for a in addrs {
            if let Some(o) = inner.objects.get_mut(&a) {
                if let Some(d) = freed_damage(o) {
                    restore_freed(o);
                    found.push((o.clone(), d));
                }
            }
        }
        drop(inner);
        for (o, d) in &found {
            self.report_damage(k, o, d, None, None);
        }
        found.len()
    }

    /// Verify the redzones of live objects (of `owner`, or all).
    fn check_live(&self, k: &Kernel, owner: Option<&str>) -> usize {
        let mut inner = lock(&self.inner);
        let mut found = Vec::new();
        for o in inner.objects.values_mut() {
            if o.state != State::Live || (owner.is_some() && o.owner.as_deref() != owner) {
                continue;
            }
            if let Some(d) = live_damage(o) {
                restore_live(o);
                found.push((o.clone(), d));
            }
        }
        drop(inner);
        for (o, d) in &found {
            self.report_damage(k, o, d, None, None);
        }
        found.len()
    }

    // -----------------------------------------------------------------------
    // Reports
    // -----------------------------------------------------------------------

    /// SLUB's `slab_bug`: the banner, the lines, the task and its caller.
    fn report_bug(
        &self,
        k: &Kernel,
        cache: &str,
        msg: &str,
        lines: &[String],
        caller: Option<u64>,
    ) {
        let log = &k.log;
        log.emit(LOGLEVEL_ERR, &"=".repeat(77));
        log.emit(
            LOGLEVEL_ERR,
            &format!("BUG {cache} ({}): {msg}", k.taint.print_tainted()),
        );
        log.emit(LOGLEVEL_ERR, &"-".repeat(77));
        log.emit(LOGLEVEL_ERR, "");
        for l in lines {
            log.emit(LOGLEVEL_ERR, l);
        }
        k.taint.add(TAINT_BAD_PAGE);
        if let Some(caller) = caller.filter(|&c| c != 0) {
            for line in super::panic::report_header(k) {
                log.emit(LOGLEVEL_WARNING, &line);
            }
            log.emit(LOGLEVEL_WARNING, "Call Trace:");
            log.emit(LOGLEVEL_WARNING, " <TASK>");
            log.emit(
                LOGLEVEL_WARNING,
                &format!(" {}", k.symbolize_return_address(caller)),
            );
            log.emit(LOGLEVEL_WARNING, " </TASK>");
        }
        self.found(1);
    }

    fn track_lines(o: &Obj) -> Vec<String> {
        let mut v = vec![format!(
            "Allocated in {} cpu=0 pid={}",
            o.alloc.symbol, o.alloc.pid
        )];
        if let Some(f) = &o.free {
            v.push(format!("Freed in {} cpu=0 pid={}", f.symbol, f.pid));
        }
        v
    }

    fn report_double_free(&self, k: &Kernel, o: &Obj, by: FreeBy, site: &Site) {
        let mut lines = vec![format!(
            "kload: double free: {}(0x{:016x}) in {}, object of size {} already freed",
            by.name(),
            o.addr,
            site.symbol,
            o.size
        )];
        lines.extend(Self::track_lines(o));
        self.report_bug(
            k,
            &o.cache_name,
            "Object already free",
            &lines,
            Some(site.caller),
        );
    }

    fn report_invalid_free(&self, k: &Kernel, addr: u64, by: FreeBy, site: &Site) {
        let inner = lock(&self.inner);
        let around = inner
            .objects
            .range(..addr)
            .next_back()
            .map(|(_, o)| o.clone())
            .filter(|o| addr < o.end);
        drop(inner);
        let mut lines = vec![format!(
            "kload: invalid free: {}(0x{:016x}) in {}",
            by.name(),
            addr,
            site.symbol
        )];
        let (cache, msg) = match &around {
            Some(o) => {
                lines.push(format!(
                    "The pointer is {} bytes inside object 0x{:016x} (size {})",
                    addr - o.addr.min(addr),
                    o.addr,
                    o.size
                ));
                lines.extend(Self::track_lines(o));
                (o.cache_name.clone(), "Invalid object pointer")
            }
            None => (
                by.name().to_owned(),
                "kload: pointer was not allocated by the kernel's allocators",
            ),
        };
        self.report_bug(k, &cache, msg, &lines, Some(site.caller));
    }

    fn report_damage(
        &self,
        k: &Kernel,
        o: &Obj,
        d: &Damage,
        free_site: Option<&Site>,
        caller: Option<u64>,
    ) {
        let mut lines = vec![format!(
            "0x{:016x}-0x{:016x} @offset={}. First byte 0x{:x} instead of 0x{:x}",
            d.from, d.to, d.offset, d.found, d.want
        )];
        let why = if d.what == "Poison" {
            format!(
                "kload: use after free: object 0x{:016x} (size {}) was written after it was freed",
                o.addr, o.size
            )
        } else {
            format!(
                "kload: out-of-bounds write: {} of object 0x{:016x} (size {}) overwritten",
                d.what, o.addr, o.size
            )
        };
        lines.push(why);
        lines.extend(Self::track_lines(o));
        if let Some(f) = free_site.filter(|_| o.free.is_none()) {
            lines.push(format!("Freed in {} cpu=0 pid={}", f.symbol, f.pid));
        }
        let start = d.from.saturating_sub(8).max(o.base);
        if let Some(bytes) = mm::read_bytes(start, ((o.end - start).min(32)) as usize) {
            for (i, row) in bytes.chunks(16).enumerate() {
                lines.push(format!(
                    "Object 0x{:016x}: {}",
                    start + 16 * i as u64,
                    hex_row(row)
                ));
            }
        }
        let fix = if d.what == "Poison" {
            POISON_FREE
        } else {
            d.want
        };
        lines.push(format!(
            "FIX {}: Restoring {} 0x{:016x}-0x{:016x}=0x{:x}",
            o.cache_name, d.what, d.from, d.to, fix
        ));
        self.report_bug(
            k,
            &o.cache_name,
            &format!("{} overwritten", d.what),
            &lines,
            caller,
        );
    }

    /// kmemleak's report of `objs`, prefixed with kload's header line.
    fn report_unreferenced(&self, k: &Kernel, objs: &[Obj], context: &str) {
        if objs.is_empty() {
            return;
        }
        let log = &k.log;
        log.emit(
            LOGLEVEL_WARNING,
            &format!(
                "kload: kmemleak: {} new suspected memory leaks ({context})",
                objs.len()
            ),
        );
        let crc = k.profile.version() >= (6, 6);
        for o in objs {
            log.emit(
                LOGLEVEL_WARNING,
                &format!("unreferenced object 0x{:016x} (size {}):", o.addr, o.size),
            );
            log.emit(
                LOGLEVEL_WARNING,
                &format!("  comm \"{}\", pid {}", o.alloc.comm, o.alloc.pid),
            );
            let contents = mm::read_bytes(o.addr, o.size.min(4096) as usize);
            if let Some(b) = &contents {
                let n = b.len().min(32);
                log.emit(LOGLEVEL_WARNING, &format!("  hex dump (first {n} bytes):"));
                for row in b[..n].chunks(16) {
                    log.emit(LOGLEVEL_WARNING, &format!("    {}", hex_row(row)));
                }
            }
            if crc {
                let c = contents.as_deref().map_or(0, crc32_le);
                log.emit(LOGLEVEL_WARNING, &format!("  backtrace (crc {c:x}):"));
            } else {
                log.emit(LOGLEVEL_WARNING, "  backtrace:");
            }
            log.emit(
                LOGLEVEL_WARNING,
                &format!("    [<{:016x}>] {}", o.alloc.caller, o.alloc.symbol),
            );
        }
        self.found(objs.len() as u64);
    }

    /// Caches a module created and never destroyed (a leak kmemleak shows
    /// as the cache's own allocations); forgotten once reported.
    fn report_caches(&self, k: &Kernel, owner: &str) {
        let mut inner = lock(&self.inner);
        let mut names: Vec<String> = Vec::new();
        for c in inner.caches.values_mut() {
            if c.owner.as_deref() == Some(owner) {
                c.owner = None;
                names.push(c.name.clone());
            }
        }
        drop(inner);
        names.sort();
        for n in &names {
            k.log.emit(
                LOGLEVEL_WARNING,
                &format!("kload: kmemleak: kmem_cache {n} created by {owner} was never destroyed"),
            );
        }
        self.found(names.len() as u64);
    }

    fn take_leaks(&self, owner: Option<&str>) -> Vec<Obj> {
        let mut inner = lock(&self.inner);
        let mut v = Vec::new();
        for o in inner.objects.values_mut() {
            if o.state == State::Live
                && !o.internal
                && !o.reported
                && (owner.is_none() || o.owner.as_deref() == owner)
            {
                o.reported = true;
                v.push(o.clone());
            }
        }
        v
    }
}

/// Live object: redzones intact?
fn live_damage(o: &Obj) -> Option<Damage> {
    let bytes = mm::read_bytes(o.base, (o.end - o.base) as usize)?;
    let left = (o.addr - o.base) as usize;
    let used = left + o.size as usize;
    if let Some(i) = first_bad(&bytes[..left], RED_ACTIVE) {
        return Some(Damage {
            what: "Left Redzone",
            from: o.base + i as u64,
            to: o.addr - 1,
            offset: i as u64,
            found: bytes[i],
            want: RED_ACTIVE,
        });
    }
    if let Some(i) = first_bad(&bytes[used..], RED_ACTIVE) {
        let at = used + i;
        return Some(Damage {
            what: "Right Redzone",
            from: o.base + at as u64,
            to: o.end - 1,
            offset: at as u64 - left as u64,
            found: bytes[at],
            want: RED_ACTIVE,
        });
    }
    None
}

fn restore_live(o: &Obj) {
    let _ = mm::write_bytes(o.base, &vec![RED_ACTIVE; (o.addr - o.base) as usize]);
    let tail = o.end - o.addr - o.size;
    let _ = mm::write_bytes(o.addr + o.size, &vec![RED_ACTIVE; tail as usize]);
}

/// Quarantined object: poison and inactive redzones intact?
fn freed_damage(o: &Obj) -> Option<Damage> {
    let bytes = mm::read_bytes(o.base, (o.end - o.base) as usize)?;
    let left = (o.addr - o.base) as usize;
    let cap = o.cap as usize;
    let mut want = vec![RED_INACTIVE; bytes.len()];
    want[left..left + cap].fill(POISON_FREE);
    want[left + cap - 1] = POISON_END;
    let i = bytes.iter().zip(&want).position(|(a, b)| a != b)?;
    let (what, from, to) = if i < left {
        ("Left Redzone", o.base + i as u64, o.addr - 1)
    } else if i < left + cap {
        ("Poison", o.base + i as u64, o.addr + o.cap - 1)
    } else {
        ("Right Redzone", o.base + i as u64, o.end - 1)
    };
    Some(Damage {
        what,
        from,
        to,
        offset: (i as u64).wrapping_sub(left as u64),
        found: bytes[i],
        want: want[i],
    })
}

fn restore_freed(o: &Obj) {
    let mut fill = vec![POISON_FREE; o.cap as usize];
    if let Some(l) = fill.last_mut() {
        *l = POISON_END;
    }
    let _ = mm::write_bytes(o.addr, &fill);
    let _ = mm::write_bytes(o.base, &vec![RED_INACTIVE; (o.addr - o.base) as usize]);
    let tail = o.end - o.addr - o.cap;
    let _ = mm::write_bytes(o.addr + o.cap, &vec![RED_INACTIVE; tail as usize]);
}

// ---------------------------------------------------------------------------
// Unload and exit
// ---------------------------------------------------------------------------

/// At rmmod, after the module's exit ran: verify the quarantine and the
/// module's live objects, and report, kmemleak-style, every allocation the
/// module still holds. Returns the number of leaked objects reported.
pub fn report_leaks(kernel: &Kernel, module: &Module) -> usize {
    let s = &kernel.slab;
    if !s.checks() {
        return 0;
    }
    s.check_quarantine(kernel);
    s.check_live(kernel, Some(&module.name));
    let leaks = s.take_leaks(Some(&module.name));
    s.report_unreferenced(kernel, &leaks, &format!("module {} unloaded", module.name));
    s.report_caches(kernel, &module.name);
    leaks.len()
}

/// At the end of `kload run`: verify the quarantine and every live object,
/// and report every module allocation not reported yet. Returns the number
/// of leaked objects reported now; `kernel.slab.findings()` counts them all.
pub fn report_outstanding(kernel: &Kernel) -> usize {
    let s = &kernel.slab;
    if !s.checks() {
        return 0;
    }
    s.check_quarantine(kernel);
    s.check_live(kernel, None);
    let leaks = s.take_leaks(None);
    s.report_unreferenced(kernel, &leaks, "at exit");
    leaks.len()
}

// ---------------------------------------------------------------------------
// Stubs
// ---------------------------------------------------------------------------

fn kernel() -> Option<std::sync::Arc<Kernel>> {
    task::current_kernel()
}

fn kalloc(a: &CallArgs, size: u64, gfp: u64, kind: Kind, func: &'static str) -> u64 {
    kalloc_at(a.caller(), size, gfp, kind, func)
}

fn kalloc_at(caller: u64, size: u64, gfp: u64, kind: Kind, func: &'static str) -> u64 {
    let Some(k) = kernel() else { return 0 };
    k.slab.alloc(
        &k,
        Req {
            size,
            gfp,
            kind,
            caller,
            from_module: true,
            func,
        },
    )
}

fn kfree_by(a: &CallArgs, addr: u64, by: FreeBy) -> u64 {
    if let Some(k) = kernel() {
        k.slab.free(&k, addr, by, a.caller());
    }
    0
}

/// `__kmalloc(size, flags)`, `__kmalloc_noprof(size, flags)`.
fn sys_kmalloc(a: &mut CallArgs) -> u64 {
    kalloc(a, a.arg(0), a.arg(1), Kind::Kmalloc, "__kmalloc")
}

/// `__kmalloc_node(size, flags, node)`; `kmalloc_large(size, flags)` and
/// `kmalloc_large_node(size, flags, node)` (and the 6.12 `_noprof`s).
fn sys_kmalloc_large(a: &mut CallArgs) -> u64 {
    kalloc(a, a.arg(0), a.arg(1), Kind::Kmalloc, "kmalloc_large")
}

/// 6.12 with SLAB_BUCKETS: `__kmalloc_node_noprof(size, b, flags, node)`.
fn sys_kmalloc_node_buckets(a: &mut CallArgs) -> u64 {
    kalloc(a, a.arg(0), a.arg(2), Kind::Kmalloc, "__kmalloc_node")
}

/// `kmalloc_trace(s, flags, size)`, `__kmalloc_cache_noprof(s, flags, size)`.
fn sys_kmalloc_trace(a: &mut CallArgs) -> u64 {
    kmalloc_cache(a, a.arg(0), a.arg(1), a.arg(2))
}

/// `kmalloc_node_trace(s, flags, node, size)`,
/// `__kmalloc_cache_node_noprof(s, flags, node, size)`.
fn sys_kmalloc_node_trace(a: &mut CallArgs) -> u64 {
    kmalloc_cache(a, a.arg(0), a.arg(1), a.arg(3))
}

fn kmalloc_cache(a: &CallArgs, cache: u64, gfp: u64, size: u64) -> u64 {
    // The cache is one of kmalloc_caches' entries: its row says which
    // kmalloc_type() the inline code chose; the size is the caller's.
    let gfp = match kmalloc_desc(cache) {
        Some((row, _)) if row != 0 => gfp,
        _ => gfp & !(GFP_DMA | GFP_RECLAIMABLE | GFP_ACCOUNT),
    };
    kalloc(a, size, gfp, Kind::Kmalloc, "kmalloc_trace")
}

/// `__kmalloc_node_track_caller(size, flags, node, caller)`.
fn sys_kmalloc_track_caller(a: &mut CallArgs) -> u64 {
    kalloc_at(
        a.arg(3),
        a.arg(0),
        a.arg(1),
        Kind::Kmalloc,
        "kmalloc_track_caller",
    )
}

/// 6.12: `__kmalloc_node_track_caller_noprof(size, b, flags, node, caller)`.
fn sys_kmalloc_track_caller_buckets(a: &mut CallArgs) -> u64 {
    kalloc_at(
        a.arg(4),
        a.arg(0),
        a.arg(2),
        Kind::Kmalloc,
        "kmalloc_track_caller",
    )
}

fn sys_kfree(a: &mut CallArgs) -> u64 {
    kfree_by(a, a.arg(0), FreeBy::Kfree)
}

/// `kfree_sensitive(p)`: zero the whole object, then free it.
fn sys_kfree_sensitive(a: &mut CallArgs) -> u64 {
    let p = a.arg(0);
    if let Some(k) = kernel() {
        let size = k.slab.usable_size(p);
        if size > 0 {
            let _ = mm::write_bytes(p, &vec![0; size as usize]);
        }
    }
    kfree_by(a, p, FreeBy::Kfree)
}

impl Slab {
    /// `ksize`: the usable size of a live object (0 if `p` is not one).
    fn usable_size(&self, p: u64) -> u64 {
        lock(&self.inner)
            .objects
            .get(&p)
            .filter(|o| o.state == State::Live)
            .map_or(0, |o| o.cap)
    }

    /// Live object at `p`: (size, cap, kind).
    fn live(&self, p: u64) -> Option<(u64, u64, Kind)> {
        lock(&self.inner)
            .objects
            .get(&p)
            .filter(|o| o.state == State::Live)
            .map(|o| (o.size, o.cap, o.kind))
    }

    /// Resize a live object in place (within its slot): the redzone moves.
    fn resize_in_place(&self, p: u64, new_size: u64) {
        let checks = self.checks();
        let mut inner = lock(&self.inner);
        if let Some(o) = inner.objects.get_mut(&p) {
            if new_size > o.size {
                let _ = mm::write_bytes(o.addr + o.size, &vec![0; (new_size - o.size) as usize]);
            } else if checks {
                let _ = mm::write_bytes(
                    o.addr + new_size,
                    &vec![RED_ACTIVE; (o.size - new_size) as usize],
                );
            }
            o.size = new_size;
        }
    }
}

/// `ksize(p)`: like KASAN, the whole slot becomes usable.
fn sys_ksize(a: &mut CallArgs) -> u64 {
    let p = a.arg(0);
    let Some(k) = kernel() else { return 0 };
    match k.slab.live(p) {
        Some((size, cap, _)) => {
            if cap > size {
                k.slab.resize_in_place(p, cap);
            }
            cap
        }
        None if p == 0 || p == ZERO_SIZE_PTR => 0,
        None => {
            k.log.emit(
                LOGLEVEL_WARNING,
                &format!(
                    "kload: ksize(0x{p:016x}) from {}: not a live allocation",
                    k.symbolize(a.caller())
                ),
            );
            0
        }
    }
}

/// `kmalloc_size_roundup(size)`.
fn sys_kmalloc_size_roundup(a: &mut CallArgs) -> u64 {
    let size = a.arg(0);
    match class_of(size) {
        _ if size == 0 => 0,
        Some(c) if size <= KMALLOC_MAX_CACHE_SIZE => CLASSES[c],
        _ if size > KMALLOC_MAX_SIZE => size,
        _ => size.div_ceil(PAGE_SIZE) * PAGE_SIZE,
    }
}

/// `krealloc(p, new_size, flags)`.
fn sys_krealloc(a: &mut CallArgs) -> u64 {
    let (p, new_size, gfp) = (a.arg(0), a.arg(1), a.arg(2));
    let Some(k) = kernel() else { return 0 };
    if new_size == 0 {
        k.slab.free(&k, p, FreeBy::Kfree, a.caller());
        return ZERO_SIZE_PTR;
    }
    if p == 0 || p == ZERO_SIZE_PTR {
        return kalloc(a, new_size, gfp, Kind::Kmalloc, "krealloc");
    }
    let Some((size, cap, kind)) = k.slab.live(p) else {
        // Freed or foreign: kfree's checks report it.
        k.slab.free(&k, p, FreeBy::Kfree, a.caller());
        return 0;
    };
    if kind == Kind::Kmalloc && new_size <= cap && cap <= KMALLOC_MAX_CACHE_SIZE {
        k.slab.resize_in_place(p, new_size);
        return p;
    }
    let n = kalloc(a, new_size, gfp, Kind::Kmalloc, "krealloc");
    if n == 0 {
        return 0;
    }
    if let Some(bytes) = mm::read_bytes(p, size.min(new_size) as usize) {
        let _ = mm::write_bytes(n, &bytes);
    }
    k.slab.free(&k, p, FreeBy::Kfree, a.caller());
    n
}

fn dup(a: &CallArgs, bytes: Option<Vec<u8>>, gfp: u64, nul: bool, func: &'static str) -> u64 {
    let Some(mut bytes) = bytes else {
        if let Some(k) = kernel() {
            k.log.emit(
                LOGLEVEL_ERR,
                &format!(
                    "kload: {func}: unreadable source 0x{:016x} from {}",
                    a.arg(0),
                    k.symbolize(a.caller())
                ),
            );
        }
        return 0;
    };
    if nul {
        bytes.push(0);
    }
    kmalloc_copy(a.caller(), &bytes, gfp, func)
}

/// A kmalloc'ed copy of `bytes` charged to `caller` (the allocation site
/// leak reports name), for stubs of other subsystems that return new
/// strings (`kasprintf`). 0 if the allocation fails.
pub(super) fn kmalloc_copy(caller: u64, bytes: &[u8], gfp: u64, func: &'static str) -> u64 {
    let n = kalloc_at(
        caller,
        bytes.len() as u64,
        gfp & !GFP_ZERO,
        Kind::Kmalloc,
        func,
    );
    if n != 0 && n != ZERO_SIZE_PTR {
        let _ = mm::write_bytes(n, bytes);
    }
    n
}

/// `kmemdup(src, len, gfp)`.
fn sys_kmemdup(a: &mut CallArgs) -> u64 {
    let bytes = mm::read_bytes(a.arg(0), a.arg(1) as usize);
    dup(a, bytes, a.arg(2), false, "kmemdup")
}

/// `kmemdup_nul(s, len, gfp)`.
fn sys_kmemdup_nul(a: &mut CallArgs) -> u64 {
    if a.arg(0) == 0 {
        return 0;
    }
    let bytes = mm::read_bytes(a.arg(0), a.arg(1) as usize);
    dup(a, bytes, a.arg(2), true, "kmemdup_nul")
}

/// `kstrdup(s, gfp)` (and `kstrdup_const`: no module string is vmlinux
/// rodata, so it always copies).
fn sys_kstrdup(a: &mut CallArgs) -> u64 {
    if a.arg(0) == 0 {
        return 0;
    }
    let bytes = mm::read_cstr(a.arg(0), 1 << 24);
    dup(a, bytes, a.arg(1), true, "kstrdup")
}

/// `kstrndup(s, max, gfp)`.
fn sys_kstrndup(a: &mut CallArgs) -> u64 {
    if a.arg(0) == 0 {
        return 0;
    }
    let bytes = mm::read_cstr(a.arg(0), a.arg(1) as usize);
    dup(a, bytes, a.arg(2), true, "kstrndup")
}

/// `kfree_const(p)`: kfree unless `p` is vmlinux rodata (never, in kload,
/// for memory kload allocated; other pointers are left alone).
fn sys_kfree_const(a: &mut CallArgs) -> u64 {
    let p = a.arg(0);
    if let Some(k) = kernel() {
        if k.slab.live(p).is_some() {
            k.slab.free(&k, p, FreeBy::Kfree, a.caller());
        }
    }
    0
}

/// kvmalloc: kmalloc when it fits a slab class, else vmalloc.
fn kvmalloc(a: &CallArgs, size: u64, gfp: u64) -> u64 {
    let kind = if size <= KMALLOC_MAX_CACHE_SIZE {
        Kind::Kmalloc
    } else {
        Kind::Vmalloc
    };
    kalloc(a, size, gfp, kind, "kvmalloc")
}

/// `kvmalloc_node(size, flags, node)`.
fn sys_kvmalloc_node(a: &mut CallArgs) -> u64 {
    kvmalloc(a, a.arg(0), a.arg(1))
}

/// 6.12: `__kvmalloc_node_noprof(size, b, flags, node)`.
fn sys_kvmalloc_node_buckets(a: &mut CallArgs) -> u64 {
    kvmalloc(a, a.arg(0), a.arg(2))
}

fn sys_kvfree(a: &mut CallArgs) -> u64 {
    kfree_by(a, a.arg(0), FreeBy::Kvfree)
}

/// `kvfree_sensitive(p, len)`.
fn sys_kvfree_sensitive(a: &mut CallArgs) -> u64 {
    let (p, len) = (a.arg(0), a.arg(1));
    if p != 0 {
        let _ = mm::write_bytes(p, &vec![0; len as usize]);
    }
    kfree_by(a, p, FreeBy::Kvfree)
}

/// `vmalloc(size)`, `vzalloc(size)`, `vmalloc_node(size, node)`.
fn sys_vmalloc(a: &mut CallArgs) -> u64 {
    kalloc(a, a.arg(0), GFP_ZERO, Kind::Vmalloc, "vmalloc")
}

/// `__vmalloc(size, gfp)`.
fn sys_vmalloc_gfp(a: &mut CallArgs) -> u64 {
    kalloc(a, a.arg(0), a.arg(1), Kind::Vmalloc, "__vmalloc")
}

fn sys_vfree(a: &mut CallArgs) -> u64 {
    kfree_by(a, a.arg(0), FreeBy::Vfree)
}

// --- kmem_cache ---------------------------------------------------------

impl Slab {
    fn cache_create(&self, k: &Kernel, spec: CacheSpec) -> u64 {
        let CacheSpec {
            name,
            size,
            align,
            flags,
            ctor,
            caller,
        } = spec;
        if size == 0 || size > KMALLOC_MAX_SIZE {
            return 0;
        }
        let owner = k
            .module_list()
            .iter()
            .find(|m| m.contains(caller))
            .map(|m| m.name.clone());
        let mut align = align.max(8);
        if flags & SLAB_HWCACHE_ALIGN != 0 {
            align = align.max(64);
        }
        let align = align.next_power_of_two().min(PAGE_SIZE);
        let cap = size.div_ceil(align) * align;
        let mut inner = lock(&self.inner);
        if inner.desc_next + DESC_SIZE > inner.desc_end {
            let Ok(r) = LowRegion::alloc(PAGE_SIZE, Prot::ReadWrite, "kmem_cache") else {
                return 0;
            };
            inner.desc_next = r.addr();
            inner.desc_end = r.end();
            inner.cache_descs.push(r);
        }
        let desc = inner.desc_next;
        inner.desc_next += DESC_SIZE;
        let _ = mm::write_bytes(desc, &size.to_le_bytes());
        inner
            .pools
            .insert(PoolKey::Cache(desc), Pool::new(cap, align));
        inner.caches.insert(
            desc,
            CacheInfo {
                name,
                size,
                ctor,
                owner,
            },
        );
        desc
    }

    fn cache_destroy(&self, k: &Kernel, desc: u64, caller: u64) {
        let mut inner = lock(&self.inner);
        let Some(info) = inner.caches.get(&desc).cloned() else {
            drop(inner);
            if self.checks() {
                self.report_bug(
                    k,
                    "kmem_cache",
                    &format!("kload: kmem_cache_destroy(0x{desc:016x}) of no cache"),
                    &[format!("Called from {}", k.symbolize(caller))],
                    Some(caller),
                );
            }
            return;
        };
        let remaining: Vec<Obj> = inner
            .objects
            .values()
            .filter(|o| o.kind == Kind::Cache(desc) && o.state == State::Live)
            .cloned()
            .collect();
        if !remaining.is_empty() {
            drop(inner);
            // shutdown_cache() fails: the cache stays, with its objects.
            let log = &k.log;
            log.emit(LOGLEVEL_WARNING, "------------[ cut here ]------------");
            log.emit(
                LOGLEVEL_WARNING,
                &format!(
                    "kmem_cache_destroy {}: Slab cache still has objects when called from {}",
                    info.name,
                    k.symbolize(caller)
                ),
            );
            for o in &remaining {
                log.emit(
                    LOGLEVEL_WARNING,
                    &format!(
                        "Object 0x{:016x} (size {}) allocated in {}",
                        o.addr, o.size, o.alloc.symbol
                    ),
                );
            }
            k.taint.add(TAINT_WARN);
            self.found(1);
            return;
        }
        // Verify the cache's quarantined objects before the memory goes.
        let quarantined: Vec<u64> = inner
            .quarantine
            .iter()
            .copied()
            .filter(|a| {
                inner
                    .objects
                    .get(a)
                    .is_some_and(|o| o.kind == Kind::Cache(desc))
            })
            .collect();
        let mut damaged = Vec::new();
        for a in &quarantined {
            if let Some(o) = inner.objects.get(a) {
                if let Some(d) = freed_damage(o) {
                    damaged.push((o.clone(), d));
                }
            }
        }
        inner.quarantine.retain(|a| !quarantined.contains(a));
        inner.objects.retain(|_, o| o.kind != Kind::Cache(desc));
        inner.pools.remove(&PoolKey::Cache(desc));
        inner.caches.remove(&desc);
        drop(inner);
        for (o, d) in &damaged {
            self.report_damage(k, o, d, None, None);
        }
    }
}

fn read_name(p: u64) -> String {
    mm::read_cstr(p, 256).map_or_else(
        || "(bad name)".to_owned(),
        |b| String::from_utf8_lossy(&b).into_owned(),
    )
}

/// The 6.1 creators: `(name, size, align, flags, ...)` with the
/// constructor as argument `ctor_arg`.
fn cache_create_positional(a: &CallArgs, ctor_arg: usize) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let name = read_name(a.arg(0));
    k.slab.cache_create(
        &k,
        CacheSpec {
            name,
            size: a.arg(1) as u32 as u64,
            align: a.arg(2) as u32 as u64,
            flags: a.arg(3),
            ctor: a.arg(ctor_arg),
            caller: a.caller(),
        },
    )
}

/// 6.1 `kmem_cache_create(name, size, align, flags, ctor)`.
fn sys_kmem_cache_create(a: &mut CallArgs) -> u64 {
    cache_create_positional(a, 4)
}

/// 6.1 `kmem_cache_create_usercopy(name, size, align, flags, useroffset,
/// usersize, ctor)` (the ctor is the seventh argument, on the stack).
fn sys_kmem_cache_create_usercopy(a: &mut CallArgs) -> u64 {
    cache_create_positional(a, 6)
}

/// 6.12 `__kmem_cache_create_args(name, size, args, flags)`.
fn sys_kmem_cache_create_args(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let name = read_name(a.arg(0));
    let args = a.arg(2);
    let (align, ctor) = if args == 0 {
        (0, 0)
    } else {
        let align = mm::read_u32(args).unwrap_or(0);
        (align as u64, mm::read_u64(args + 24).unwrap_or(0))
    };
    k.slab.cache_create(
        &k,
        CacheSpec {
            name,
            size: a.arg(1) as u32 as u64,
            align,
            flags: a.arg(3),
            ctor,
            caller: a.caller(),
        },
    )
}

fn cache_alloc(a: &CallArgs, desc: u64, gfp: u64) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(ctor) = lock(&k.slab.inner).caches.get(&desc).map(|c| c.ctor) else {
        k.log.emit(
            LOGLEVEL_ERR,
            &format!(
                "kload: kmem_cache_alloc(0x{desc:016x}) from {}: not a cache",
                k.symbolize(a.caller())
            ),
        );
        return 0;
    };
    let p = kalloc(a, 0, gfp, Kind::Cache(desc), "kmem_cache_alloc");
    if p != 0 && ctor != 0 {
        // The kernel runs the constructor when a slab is set up; kload runs
        // it for each allocation (objects must be freed in constructed
        // state, so running it again is what the owner expects).
        if task::call_module(ctor, [p, 0, 0, 0, 0, 0]).is_err() {
            return 0;
        }
    }
    p
}

/// `kmem_cache_alloc(s, flags)`, `kmem_cache_alloc_node(s, flags, node)`.
fn sys_kmem_cache_alloc(a: &mut CallArgs) -> u64 {
    cache_alloc(a, a.arg(0), a.arg(1))
}

/// 6.1 `kmem_cache_alloc_lru(s, lru, flags)`.
fn sys_kmem_cache_alloc_lru(a: &mut CallArgs) -> u64 {
    cache_alloc(a, a.arg(0), a.arg(2))
}

/// `kmem_cache_free(s, p)`.
fn sys_kmem_cache_free(a: &mut CallArgs) -> u64 {
    kfree_by(a, a.arg(1), FreeBy::Cache(a.arg(0)))
}

/// `kmem_cache_destroy(s)`.
fn sys_kmem_cache_destroy(a: &mut CallArgs) -> u64 {
    let s = a.arg(0);
    if s != 0 {
        if let Some(k) = kernel() {
            k.slab.cache_destroy(&k, s, a.caller());
        }
    }
    0
}

/// `kmem_cache_size(s)`.
fn sys_kmem_cache_size(a: &mut CallArgs) -> u64 {
    kernel().map_or(0, |k| {
        lock(&k.slab.inner)
            .caches
            .get(&a.arg(0))
            .map_or(0, |c| c.size)
    })
}

pub(super) fn register(r: &mut Registry) {
    r.data("kmalloc_caches", Access::ReadOnly, kmalloc_caches_data);
    // kmalloc, 6.1 names
    r.func("__kmalloc", sys_kmalloc);
    r.func("__kmalloc_node", sys_kmalloc);
    r.func("kmalloc_trace", sys_kmalloc_trace);
    r.func("kmalloc_node_trace", sys_kmalloc_node_trace);
    r.func("kmalloc_large", sys_kmalloc_large);
    r.func("kmalloc_large_node", sys_kmalloc_large);
    r.func("__kmalloc_node_track_caller", sys_kmalloc_track_caller);
    // kmalloc, 6.12 names
    r.func("__kmalloc_noprof", sys_kmalloc);
    r.func("__kmalloc_node_noprof", sys_kmalloc_node_buckets);
    r.func("__kmalloc_cache_noprof", sys_kmalloc_trace);
    r.func("__kmalloc_cache_node_noprof", sys_kmalloc_node_trace);
    r.func("__kmalloc_large_noprof", sys_kmalloc_large);
    r.func("__kmalloc_large_node_noprof", sys_kmalloc_large);
    r.func(
        "__kmalloc_node_track_caller_noprof",
        sys_kmalloc_track_caller_buckets,
    );
    // both
    r.func("kfree", sys_kfree);
    r.func("kfree_sensitive", sys_kfree_sensitive);
    r.func("ksize", sys_ksize);
    r.func("kmalloc_size_roundup", sys_kmalloc_size_roundup);
    r.func("krealloc", sys_krealloc);
    r.func("krealloc_noprof", sys_krealloc);
    r.func("kmemdup", sys_kmemdup);
    r.func("kmemdup_noprof", sys_kmemdup);
    r.func("kmemdup_nul", sys_kmemdup_nul);
    r.func("kstrdup", sys_kstrdup);
    r.func("kstrdup_const", sys_kstrdup);
    r.func("kstrndup", sys_kstrndup);
    r.func("kfree_const", sys_kfree_const);
    r.func("kvmalloc_node", sys_kvmalloc_node);
    r.func("__kvmalloc_node_noprof", sys_kvmalloc_node_buckets);
    r.func("kvfree", sys_kvfree);
    r.func("kvfree_sensitive", sys_kvfree_sensitive);
    r.func("vmalloc", sys_vmalloc);
    r.func("vmalloc_noprof", sys_vmalloc);
    r.func("vzalloc", sys_vmalloc);
    r.func("vzalloc_noprof", sys_vmalloc);
    r.func("vmalloc_node", sys_vmalloc);
    r.func("vmalloc_node_noprof", sys_vmalloc);
    r.func("__vmalloc", sys_vmalloc_gfp);
    r.func("__vmalloc_noprof", sys_vmalloc_gfp);
    r.func("vfree", sys_vfree);
    r.func("kmem_cache_create", sys_kmem_cache_create);
    r.func("kmem_cache_create_usercopy", sys_kmem_cache_create_usercopy);
    r.func("__kmem_cache_create_args", sys_kmem_cache_create_args);
    r.func("kmem_cache_alloc", sys_kmem_cache_alloc);
    r.func("kmem_cache_alloc_noprof", sys_kmem_cache_alloc);
    r.func("kmem_cache_alloc_node", sys_kmem_cache_alloc);
    r.func("kmem_cache_alloc_node_noprof", sys_kmem_cache_alloc);
    r.func("kmem_cache_alloc_lru", sys_kmem_cache_alloc_lru);
    r.func("kmem_cache_free", sys_kmem_cache_free);
    r.func("kmem_cache_destroy", sys_kmem_cache_destroy);
    r.func("kmem_cache_size", sys_kmem_cache_size);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::task::run_task;
    use crate::profile::PROFILES;

    fn call(f: StubFnT, args: &[u64]) -> u64 {
        let mut regs = [0u64; 6];
        regs[..args.len()].copy_from_slice(args);
        f(&mut CallArgs::new(regs))
    }

    type StubFnT = fn(&mut CallArgs) -> u64;

    fn log_text(k: &Kernel) -> String {
        k.log
            .records()
            .iter()
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Run `f` on a kernel task of a fresh kernel of each profile.
    fn each_kernel(config: SlabConfig, f: impl Fn(&Kernel) + Sync) {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            k.slab.configure(config.clone());
            run_task(&k, "test", || f(&k)).unwrap();
        }
    }

    #[test]
    fn kmalloc_is_zeroed_aligned_and_sized() {
        each_kernel(SlabConfig::default(), |k| {
            let a = call(sys_kmalloc, &[13, 0]);
            assert!(a != 0 && a < 0x8000_0000 && a % 16 == 0);
            assert_eq!(mm::read_bytes(a, 13).unwrap(), vec![0; 13]);
            assert_eq!(call(sys_ksize, &[a]), 16);
            for size in [64u64, 256, 4096] {
                let p = call(sys_kmalloc, &[size, 0]);
                assert_eq!(p % size, 0, "kmalloc({size}) is naturally aligned");
                mm::write_bytes(p, &vec![7; size as usize]).unwrap();
                call(sys_kfree, &[p]);
            }
            assert_eq!(call(sys_kmalloc, &[0, 0]), ZERO_SIZE_PTR);
            call(sys_kfree, &[ZERO_SIZE_PTR]);
            call(sys_kfree, &[0]);
            let big = call(sys_kmalloc_large, &[20000, 0]);
            assert_eq!(big % PAGE_SIZE, 0);
            mm::write_bytes(big, &[1; 20000]).unwrap();
            // The guard page after the object.
            assert!(mm::write_bytes(big + 5 * PAGE_SIZE, &[1]).is_err());
            let r = call(sys_krealloc, &[a, 100, 0]);
            assert_ne!(r, 0);
            call(sys_kfree, &[r]);
            call(sys_kfree, &[big]);
            let v = call(sys_vmalloc, &[10000]);
            assert_eq!(v % PAGE_SIZE, 0);
            call(sys_vfree, &[v]);
            let pg = k.slab.alloc_pages(k, 2, 0, 0, "test");
            assert_eq!(
                pg % (4 * PAGE_SIZE),
                0,
                "order-2 pages are naturally aligned"
            );
            mm::write_bytes(pg, &vec![1; 4 * PAGE_SIZE as usize]).unwrap();
            assert!(mm::write_bytes(pg + 4 * PAGE_SIZE, &[1]).is_err());
            k.slab.free_pages(k, pg, 2, 0);
            assert_eq!(k.slab.findings(), 0, "{}", log_text(k));
            assert_eq!(k.slab.live_objects(), 0);
        });
    }

    #[test]
    fn strings_are_duplicated() {
        each_kernel(SlabConfig::default(), |k| {
            let src = k.slab.kmalloc_internal(k, 16).unwrap();
            mm::write_bytes(src, b"kload slab\0").unwrap();
            let d = call(sys_kstrdup, &[src, 0]);
            assert_eq!(mm::read_cstr(d, 64).unwrap(), b"kload slab");
            let n = call(sys_kstrndup, &[src, 5, 0]);
            assert_eq!(mm::read_bytes(n, 6).unwrap(), b"kload\0");
            let m = call(sys_kmemdup, &[src, 3, 0]);
            assert_eq!(mm::read_bytes(m, 3).unwrap(), b"klo");
            for p in [d, n, m, src] {
                call(sys_kfree, &[p]);
            }
            assert_eq!(k.slab.findings(), 0, "{}", log_text(k));
        });
    }

    #[test]
    fn double_and_invalid_frees_are_reported_and_survived() {
        each_kernel(SlabConfig::default(), |k| {
            let a = call(sys_kmalloc, &[16, 0]);
            call(sys_kfree, &[a]);
            call(sys_kfree, &[a]);
            let log = log_text(k);
            assert!(log.contains("): Object already free"), "{log}");
            assert!(log.contains("kload: double free: kfree("), "{log}");
            let b = call(sys_kmalloc, &[40, 0]);
            call(sys_kfree, &[b + 8]);
            assert!(log_text(k).contains("Invalid object pointer"));
            call(sys_kfree, &[0x1234_5678]);
            assert!(log_text(k).contains("not allocated by the kernel's allocators"));
            let v = call(sys_vmalloc, &[100]);
            call(sys_kfree, &[v]);
            assert!(log_text(k).contains("kload: kfree() of memory from vmalloc()"));
            assert_eq!(k.slab.findings(), 4);
            assert!(k.taint.test(TAINT_BAD_PAGE));
            call(sys_kfree, &[b]);
        });
    }

    #[test]
    fn overflow_and_use_after_free_are_caught() {
        each_kernel(SlabConfig::default(), |k| {
            let a = call(sys_kmalloc, &[13, 0]);
            mm::write_bytes(a + 13, &[1]).unwrap();
            call(sys_kfree, &[a]);
            let log = log_text(k);
            assert!(log.contains("Right Redzone overwritten"), "{log}");
            assert!(
                log.contains("@offset=13. First byte 0x1 instead of 0xcc"),
                "{log}"
            );
            let b = call(sys_kmalloc, &[24, 0]);
            call(sys_kfree, &[b]);
            mm::write_bytes(b + 3, b"x").unwrap();
            let c = call(sys_kmalloc, &[24, 0]);
            assert_ne!(c, b, "freed objects stay in quarantine");
            call(sys_kfree, &[c]);
            let log = log_text(k);
            assert!(log.contains("Poison overwritten"), "{log}");
            assert!(log.contains("kload: use after free: object"), "{log}");
            assert_eq!(k.slab.findings(), 2);
            // A write after free found only at unload/exit.
            let d = call(sys_kmalloc, &[100, 0]);
            call(sys_kfree, &[d]);
            for _ in 0..RECENT_CHECK {
                let e = call(sys_kmalloc, &[8, 0]);
                call(sys_kfree, &[e]);
            }
            mm::write_bytes(d, &[0]).unwrap();
            assert_eq!(report_outstanding(k), 0);
            assert_eq!(k.slab.findings(), 3);
        });
    }

    #[test]
    fn quarantine_evicts_and_reuses() {
        each_kernel(SlabConfig::default(), |k| {
            let first = call(sys_kmalloc, &[32, 0]);
            call(sys_kfree, &[first]);
            let mut seen = false;
            for _ in 0..QUARANTINE_OBJECTS + 2 {
                let p = call(sys_kmalloc, &[32, 0]);
                seen |= p == first;
                call(sys_kfree, &[p]);
            }
            assert!(seen, "a slot comes back after the quarantine");
            assert_eq!(k.slab.findings(), 0, "{}", log_text(k));
        });
    }

    #[test]
    fn kmem_caches_allocate_and_complain_when_destroyed_in_use() {
        each_kernel(SlabConfig::default(), |k| {
            let name = k.slab.kmalloc_internal(k, 16).unwrap();
            mm::write_bytes(name, b"thing\0").unwrap();
            let c = k.slab.cache_create(
                k,
                CacheSpec {
                    name: "thing".into(),
                    size: 20,
                    align: 0,
                    flags: 0,
                    ctor: 0,
                    caller: 0,
                },
            );
            assert_ne!(c, 0);
            assert_eq!(call(sys_kmem_cache_size, &[c]), 20);
            let o = call(sys_kmem_cache_alloc, &[c, 0]);
            assert!(o != 0 && o % 8 == 0);
            mm::write_bytes(o, &[5; 24]).unwrap();
            call(sys_kmem_cache_destroy, &[c]);
            assert!(log_text(k).contains("kmem_cache_destroy thing: Slab cache still has objects"));
            call(sys_kmem_cache_free, &[c, o]);
            call(sys_kmem_cache_destroy, &[c]);
            assert_eq!(call(sys_kmem_cache_alloc, &[c, 0]), 0);
            assert_eq!(k.slab.findings(), 1);
            k.slab.kfree_internal(k, name);
        });
    }

    #[test]
    fn fault_injection_fails_the_nth_and_a_seeded_fraction() {
        let cfg = SlabConfig {
            fail_nth: Some(3),
            ..SlabConfig::default()
        };
        each_kernel(cfg, |k| {
            let got: Vec<u64> = (0..5).map(|_| call(sys_kmalloc, &[8, 0])).collect();
            assert!(got[0] != 0 && got[1] != 0 && got[2] == 0 && got[3] != 0);
            assert!(log_text(k).contains("FAULT_INJECTION: forcing a failure."));
        });
        let run = |seed| {
            let k = Kernel::boot(PROFILES[0]).unwrap();
            k.slab.configure(SlabConfig {
                fail_rate: Some((0.5, seed)),
                ..SlabConfig::default()
            });
            run_task(&k, "test", || {
                (0..64)
                    .map(|_| call(sys_kmalloc, &[8, 0]) != 0)
                    .collect::<Vec<bool>>()
            })
            .unwrap()
        };
        let a = run(7);
        assert_eq!(a, run(7), "the same seed fails the same allocations");
        let ok = a.iter().filter(|&&x| x).count();
        assert!((10..54).contains(&ok), "{ok} of 64");
    }

    #[test]
    fn checks_off_reports_nothing() {
        let cfg = SlabConfig {
            checks: false,
            ..SlabConfig::default()
        };
        each_kernel(cfg, |k| {
            let a = call(sys_kmalloc, &[13, 0]);
            mm::write_bytes(a + 13, &[1]).unwrap();
            call(sys_kfree, &[a]);
            call(sys_kfree, &[a]);
            call(sys_kmalloc, &[13, 0]);
            assert_eq!(report_outstanding(k), 0);
            assert_eq!(k.slab.findings(), 0);
        });
    }

    #[test]
    fn options_parse() {
        let mut c = SlabConfig::default();
        assert_eq!(c.apply_option("--no-checks"), Ok(true));
        assert_eq!(c.apply_option("--fail-alloc=4"), Ok(true));
        assert_eq!(c.apply_option("--fail-alloc-rate=0.25,9"), Ok(true));
        assert_eq!(c.apply_option("--trace"), Ok(false));
        assert!(c.apply_option("--fail-alloc=0").is_err());
        assert!(c.apply_option("--fail-alloc-rate=2").is_err());
        assert_eq!(
            c,
            SlabConfig {
                checks: false,
                fail_nth: Some(4),
                fail_rate: Some((0.25, 9)),
            }
        );
        let mut d = SlabConfig::default();
        d.apply_option("--fail-alloc-rate=0.5").unwrap();
        assert_eq!(d.fail_rate, Some((0.5, 0)));
    }

    #[test]
    fn kmalloc_caches_point_at_descriptors_of_each_class() {
        let resolve = |_: &str| None;
        let ctx = DataCtx {
            profile: PROFILES[0],
            resolve: &resolve,
            percpu_base: 0,
        };
        let b = kmalloc_caches_data(&ctx).unwrap();
        assert_eq!(b.len(), KMALLOC_ROWS * ROW_LEN * 8);
        for row in 0..KMALLOC_ROWS {
            for idx in 0..ROW_LEN {
                let i = (row * ROW_LEN + idx) * 8;
                let p = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
                if idx == 0 {
                    assert_eq!(p, 0);
                } else {
                    assert_eq!(kmalloc_desc(p), Some((row, idx)));
                    assert_eq!(mm::read_u64(p), Some(index_size(idx)));
                }
            }
        }
        assert_eq!(index_size(1), 96);
        assert_eq!(index_size(13), 8192);
    }

    #[test]
    fn leak_report_follows_kmemleak() {
        let o = Obj {
            addr: 0x1000_0010,
            size: 3,
            cap: 8,
            base: 0x1000_0000,
            end: 0x1000_0020,
            kind: Kind::Kmalloc,
            pool: None,
            cache_name: "kmalloc-8".into(),
            state: State::Live,
            alloc: Site {
                caller: 0x1234,
                symbol: "f+0x4/0x10 [m]".into(),
                pid: 3,
                comm: "insmod".into(),
            },
            free: None,
            owner: Some("m".into()),
            internal: false,
            reported: false,
        };
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            k.slab
                .report_unreferenced(&k, std::slice::from_ref(&o), "test");
            let log = log_text(&k);
            assert!(log.contains("kload: kmemleak: 1 new suspected memory leaks (test)"));
            assert!(log.contains("unreferenced object 0x0000000010000010 (size 3):"));
            assert!(log.contains("  comm \"insmod\", pid 3"));
            assert!(log.contains("    [<0000000000001234>] f+0x4/0x10 [m]"));
            let bt = if p.version() >= (6, 6) {
                "  backtrace (crc "
            } else {
                "  backtrace:"
            };
            assert!(log.contains(bt), "{log}");
        }
        assert_eq!(crc32_le(b"123456789"), 0x2dfd_2d88);
        assert_eq!(hex_row(b"ab\x01"), format!("61 62 01{}ab.", " ".repeat(41)));
    }
}
