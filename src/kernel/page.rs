//! The page allocator and `struct page` (mm/page_alloc.c, mm/swap.c,
//! arch/x86/mm), hardened usercopy's object check (mm/usercopy.c) and
//! `is_vmalloc_addr` (mm/vmalloc.c).
//!
//! ## The memory model modules see
//!
//! x86-64 with `CONFIG_SPARSEMEM_VMEMMAP` and `CONFIG_DYNAMIC_MEMORY_LAYOUT`
//! computes, inline, `__va(phys) = phys + page_offset_base`,
//! `__pa(virt) = virt - page_offset_base` (for addresses below the kernel
//! image), `pfn_to_page(pfn) = vmemmap_base + pfn * sizeof(struct page)` and
//! back. kload's low memory is the direct map: `page_offset_base` is 0, so a
//! low address is its own "physical" address, and `vmemmap_base` points at
//! an array of `struct page` (the profile's size) covering the low arena. The
//! array is one low region reserved at first use (nothing is committed until
//! a `struct page` is written), shared by every kernel of the process with
//! that `struct page` size. `phys_base` is 0.
//!
//! ## Allocations
//!
//! Pages come from the checked allocator (`slab.rs`): order-N allocations
//! are contiguous and naturally aligned, with a PROT_NONE guard after them;
//! they count in its leak reports (kmemleak's layout, at rmmod and at the end
//! of `kload run`), double and invalid frees are reported, and fault
//! injection applies. On allocation the `struct page`s are set as the
//! kernel sets them: the first page's `_refcount` is 1 and every
//! `_mapcount` is -1; with `__GFP_COMP` the first page is `PG_head` and the
//! others point at it through `compound_head` (bit 0 set); the order and the
//! page count are stored where inline `compound_order()`/`folio_nr_pages()`
//! read them (6.1: the first tail page's `compound_order`/`compound_nr`;
//! 6.12: the folio's `_flags_1` low byte and `_folio_nr_pages`). `__free_pages` drops a
//! reference and frees on the last one; `put_page` is inline (it decrements
//! the head's `_refcount`) and calls `__folio_put` at zero. A non-compound
//! high-order block whose first page is still referenced after
//! `__free_pages` is freed whole when that reference goes (the kernel frees
//! the tail pages at once). `__GFP_ZERO` is honoured (and Debian zeroes on
//! allocation anyway: `CONFIG_INIT_ON_ALLOC_DEFAULT_ON`).
//!
//! `put_page` tests the `devmap_managed_key` static key first; kload patches
//! no jump labels, so the key reads false and the ZONE_DEVICE path
//! (`__put_devmap_managed_page_refs`, `__put_devmap_managed_folio_refs`),
//! which kload does not emulate, is a named trap never reached.

use std::sync::Mutex;

use super::printk::LOGLEVEL_EMERG;
use super::string::{kernel_bug, read, write};
use super::symbols::{Access, DataCtx, Registry};
use super::Kernel;
use crate::exec::dispatch::CallArgs;
use crate::exec::task;
use crate::mm::{self, LowRegion, Prot, PAGE_SIZE};
use crate::profile::MissingField;

/// `__GFP_COMP` (both kernels).
const GFP_COMP: u64 = 0x40000;
/// `__GFP_ZERO`.
const GFP_ZERO: u64 = super::slab::GFP_ZERO;
/// Orders beyond `MAX_ORDER` (6.1: 11, exclusive) / `MAX_PAGE_ORDER`
/// (6.12: 10, inclusive) fail.
fn order_ok(k: &Kernel, order: u64) -> bool {
    match (k.profile.get("MAX_ORDER"), k.profile.get("MAX_PAGE_ORDER")) {
        (Some(max), _) => order < max,
        (None, Some(max)) => order <= max,
        (None, None) => order <= 10,
    }
}

/// The vmemmap arrays, one per `struct page` size: (size, region).
static VMEMMAP: Mutex<Vec<(u64, LowRegion)>> = Mutex::new(Vec::new());

/// `vmemmap_base` for `struct page`s of `stride` bytes: the array covers
/// the pfns of the low arena; 0 if it cannot be reserved.
fn vmemmap_base(stride: u64) -> u64 {
    let (lo, hi) = {
        let r = mm::low_range();
        if r.1 == 0 {
            // Reserve the arena (any region does).
            let _ = LowRegion::alloc(PAGE_SIZE, Prot::None, "probe");
        }
        mm::low_range()
    };
    let mut v = VMEMMAP.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, r)) = v.iter().find(|(s, _)| *s == stride) {
        return r.addr() - (lo / PAGE_SIZE) * stride;
    }
    let len = (hi - lo) / PAGE_SIZE * stride;
    match LowRegion::alloc(len, Prot::ReadWrite, "vmemmap") {
        Ok(r) => {
            let base = r.addr() - (lo / PAGE_SIZE) * stride;
            v.push((stride, r));
            base
        }
        Err(e) => {
            log::warn!("vmemmap: cannot reserve {len:#x} bytes of struct page: {e}");
            0
        }
    }
}

fn vmemmap_base_data(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    let stride = ctx.profile.field("sizeof(struct page)")?;
    Ok(vmemmap_base(stride).to_le_bytes().to_vec())
}

/// `page_offset_base` and `phys_base`: 0 (see the module documentation).
fn zero_u64(_ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(0u64.to_le_bytes().to_vec())
}

/// A `struct static_key_false`, disabled (`devmap_managed_key`,
/// `hugetlb_optimize_vmemmap_key`).
fn static_key_false(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(vec![
        0;
        ctx.profile.field("sizeof(struct static_key)")? as usize
    ])
}

/// `struct page` field offsets of one kernel, and its vmemmap.
struct Pages {
    func: &'static str,
    base: u64,
    stride: u64,
    flags: u64,
    compound_head: u64,
    refcount: u64,
    mapcount: u64,
    /// `PG_head`'s bit (enum pageflags: 16 on 6.1, 6 on 6.12).
    pg_head: u32,
    /// Where a compound block's order byte and page count live, as offsets
    /// from its head `struct page`.
    order_byte: u64,
    nr_pages: u64,
}

impl Pages {
    fn new(k: &Kernel, func: &'static str) -> Option<Pages> {
        let p = k.profile;
        let stride = p.field("sizeof(struct page)").ok()?;
        Some(Pages {
            func,
            base: vmemmap_base(stride),
            stride,
            flags: p.field("page.flags").ok()?,
            compound_head: p.field("page.compound_head").ok()?,
            refcount: p.field("page._refcount").ok()?,
            mapcount: p.field("page._mapcount").ok()?,
            pg_head: p.field("pageflags.PG_head").ok()? as u32,
            order_byte: match p.get("page.compound_order") {
                Some(off) => stride + off,
                None => p.field("folio._flags_1").ok()?,
            },
            nr_pages: match p.get("page.compound_nr") {
                Some(off) => stride + off,
                None => p.field("folio._folio_nr_pages").ok()?,
            },
        })
    }

    fn page_of(&self, virt: u64) -> u64 {
        self.base + (virt / PAGE_SIZE) * self.stride
    }

    /// The address a `struct page *` stands for; `None` if it is not one.
    fn virt_of(&self, page: u64) -> Option<u64> {
        let off = page.checked_sub(self.base)?;
        if off % self.stride != 0 {
            return None;
        }
        let virt = (off / self.stride).checked_mul(PAGE_SIZE)?;
        let (lo, hi) = mm::low_range();
        (virt >= lo && virt < hi).then_some(virt)
    }

    fn rd32(&self, at: u64) -> Option<u32> {
        let b = read(self.func, "a struct page", at, 4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }

    fn wr32(&self, at: u64, v: u32) -> Option<()> {
        write(self.func, "a struct page", at, &v.to_le_bytes()).then_some(())
    }

    fn wr64(&self, at: u64, v: u64) -> Option<()> {
        write(self.func, "a struct page", at, &v.to_le_bytes()).then_some(())
    }

    /// Set up the `struct page`s of a fresh allocation at `virt`.
    fn prep(&self, virt: u64, order: u32, comp: bool) -> Option<()> {
        let head = self.page_of(virt);
        for i in 0..(1u64 << order) {
            let p = head + i * self.stride;
            let flags = if comp && i == 0 && order > 0 {
                1u64 << self.pg_head
            } else {
                0
            };
            self.wr64(p + self.flags, flags)?;
            let ch = if comp && i > 0 { head | 1 } else { 0 };
            self.wr64(p + self.compound_head, ch)?;
            self.wr32(p + self.refcount, u32::from(i == 0))?;
            self.wr32(p + self.mapcount, u32::MAX)?;
        }
        if comp && order > 0 {
            self.set_order(head, order, 1 << order)?;
        }
        Some(())
    }

    /// `set_compound_order` / `folio_set_order`: the order and page count of
    /// the compound block at `head`.
    fn set_order(&self, head: u64, order: u32, nr: u32) -> Option<()> {
        write(
            self.func,
            "a struct page",
            head + self.order_byte,
            &[order as u8],
        )
        .then_some(())?;
        self.wr32(head + self.nr_pages, nr)
    }

    /// Clear the `struct page`s of a freed allocation.
    fn clear(&self, virt: u64, order: u32) -> Option<()> {
        let head = self.page_of(virt);
        for i in 0..(1u64 << order) {
            let p = head + i * self.stride;
            self.wr64(p + self.flags, 0)?;
            self.wr64(p + self.compound_head, 0)?;
            self.wr32(p + self.refcount, 0)?;
            self.wr32(p + self.mapcount, u32::MAX)?;
        }
        if order > 0 {
            self.set_order(head, 0, 0)?;
        }
        Some(())
    }
}

fn kernel() -> Option<std::sync::Arc<Kernel>> {
    task::current_kernel()
}

/// Allocate `2^order` pages for the caller; the address, or 0.
fn alloc_virt(k: &Kernel, pages: &Pages, gfp: u64, order: u64, caller: u64) -> u64 {
    if !order_ok(k, order) {
        return 0;
    }
    let order = order as u32;
    let virt = k.slab.alloc_pages(k, order, gfp, caller, pages.func);
    if virt == 0 {
        return 0;
    }
    if gfp & GFP_ZERO != 0 {
        let _ = mm::write_bytes(virt, &vec![0; (PAGE_SIZE << order) as usize]);
    }
    if pages.prep(virt, order, gfp & GFP_COMP != 0).is_none() {
        return 0;
    }
    virt
}

/// `alloc_pages(gfp, order)` and friends: the first `struct page`, or NULL.
fn alloc_page_struct(a: &CallArgs, func: &'static str, gfp: u64, order: u64) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(pages) = Pages::new(&k, func) else {
        return 0;
    };
    match alloc_virt(&k, &pages, gfp, order, a.caller()) {
        0 => 0,
        virt => pages.page_of(virt),
    }
}

/// 6.1 `alloc_pages(gfp, order)`, 6.12 `alloc_pages_noprof`.
fn sys_alloc_pages(a: &mut CallArgs) -> u64 {
    alloc_page_struct(a, "alloc_pages", a.arg(0), a.arg(1) & 0xffff_ffff)
}

/// `__alloc_pages(gfp, order, preferred_nid, nodemask)` (one node).
fn sys_alloc_pages_node(a: &mut CallArgs) -> u64 {
    alloc_page_struct(a, "__alloc_pages", a.arg(0), a.arg(1) & 0xffff_ffff)
}

/// `folio_alloc(gfp, order)`: a compound allocation (its head page).
fn sys_folio_alloc(a: &mut CallArgs) -> u64 {
    alloc_page_struct(
        a,
        "folio_alloc",
        a.arg(0) | GFP_COMP,
        a.arg(1) & 0xffff_ffff,
    )
}

/// `__get_free_pages(gfp, order)`: the address of the pages, or 0.
fn sys_get_free_pages(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(pages) = Pages::new(&k, "__get_free_pages") else {
        return 0;
    };
    alloc_virt(&k, &pages, a.arg(0), a.arg(1) & 0xffff_ffff, a.caller())
}

/// `get_zeroed_page(gfp)`.
fn sys_get_zeroed_page(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(pages) = Pages::new(&k, "get_zeroed_page") else {
        return 0;
    };
    alloc_virt(&k, &pages, a.arg(0) | GFP_ZERO, 0, a.caller())
}

/// Free the whole allocation at `virt` (`order` as the caller says).
fn release(k: &Kernel, pages: &Pages, virt: u64, order: u32, caller: u64) {
    if let Some((real, true)) = k.slab.page_allocation(virt) {
        let _ = pages.clear(virt, real);
    }
    k.slab.free_pages(k, virt, order, caller);
}

/// `__free_pages(page, order)`: drop a reference; free on the last one.
fn free_page_struct(a: &CallArgs, func: &'static str, page: u64, order: u32) {
    let Some(k) = kernel() else { return };
    let Some(pages) = Pages::new(&k, func) else {
        return;
    };
    let Some(virt) = pages.virt_of(page) else {
        // Not a struct page of kload's memory map: the allocator's report.
        k.slab.free_pages(&k, page, order, a.caller());
        return;
    };
    match k.slab.page_allocation(virt) {
        Some((_, true)) => {}
        // Freed already, or never allocated: reported by the allocator.
        _ => return k.slab.free_pages(&k, virt, order, a.caller()),
    }
    let Some(count) = pages.rd32(page + pages.refcount) else {
        return;
    };
    let count = count.wrapping_sub(1);
    if pages.wr32(page + pages.refcount, count).is_none() {
        return;
    }
    if count == 0 {
        release(&k, &pages, virt, order, a.caller());
    }
}

fn sys_free_pages_struct(a: &mut CallArgs) -> u64 {
    free_page_struct(a, "__free_pages", a.arg(0), a.arg(1) as u32);
    0
}

/// `free_pages(addr, order)`: `__free_pages(virt_to_page(addr), order)`.
fn sys_free_pages(a: &mut CallArgs) -> u64 {
    let addr = a.arg(0);
    if addr == 0 {
        return 0;
    }
    let Some(k) = kernel() else { return 0 };
    let Some(pages) = Pages::new(&k, "free_pages") else {
        return 0;
    };
    free_page_struct(a, "free_pages", pages.page_of(addr), a.arg(1) as u32);
    0
}

/// `__folio_put(folio)`: the last reference went (inline `put_page`).
fn sys_folio_put(a: &mut CallArgs) -> u64 {
    let Some(k) = kernel() else { return 0 };
    let Some(pages) = Pages::new(&k, "__folio_put") else {
        return 0;
    };
    let folio = a.arg(0);
    let virt = pages.virt_of(folio).unwrap_or(folio);
    let order = match k.slab.page_allocation(virt) {
        Some((order, _)) => order,
        None => 0,
    };
    // A compound head or a plain block: either way the whole allocation.
    release(&k, &pages, virt, order, a.caller());
    0
}

/// `bool is_vmalloc_addr(const void *)`: in the vmalloc area, that is a
/// region vmalloc handed out (live or freed and still held back).
fn sys_is_vmalloc_addr(a: &mut CallArgs) -> u64 {
    u64::from(mm::region_tag(a.arg(0)) == Some("vmalloc"))
}

/// `usercopy_abort(name, detail, to_user, offset, len)`: the message, then
/// `BUG()`.
fn usercopy_abort(name: &str, detail: Option<&str>, to_user: bool, offset: u64, len: u64) {
    let Some(k) = kernel() else { return };
    let detail = detail.map_or(String::new(), |d| format!(" '{d}'"));
    k.log.emit(
        LOGLEVEL_EMERG,
        &format!(
            "usercopy: Kernel memory {} attempt detected {} {name}{detail} (offset {offset}, size {len})!",
            if to_user { "exposure" } else { "overwrite" },
            if to_user { "from" } else { "to" },
        ),
    );
    kernel_bug("mm/usercopy.c", "usercopy_abort");
}

/// `void __check_object_size(const void *ptr, unsigned long n, bool
/// to_user)`: hardened usercopy. A copy must not wrap, start at NULL, or
/// run past the slab object, page allocation or vmalloc area it starts in.
/// kload does not model kmem caches' usercopy windows
/// (`kmem_cache_create_usercopy`): a whole object may be copied.
fn sys_check_object_size(a: &mut CallArgs) -> u64 {
    let (ptr, n, to_user) = (a.arg(0), a.arg(1), a.arg(2) & 0xff != 0);
    if n == 0 {
        return 0;
    }
    if ptr.checked_add(n - 1).is_none() {
        usercopy_abort("wrapped address", None, to_user, 0, ptr.wrapping_add(n));
        return 0;
    }
    if ptr < 16 {
        usercopy_abort("null address", None, to_user, ptr, n);
        return 0;
    }
    let Some(k) = kernel() else { return 0 };
    let Some((start, size, cache)) = k.slab.live_object_containing(ptr) else {
        return 0;
    };
    let offset = ptr - start;
    if n <= size - offset {
        return 0;
    }
    match mm::region_tag(ptr) {
        Some("vmalloc") => usercopy_abort("vmalloc", None, to_user, offset, n),
        Some("pages" | "kmalloc-large") => usercopy_abort("page alloc", None, to_user, offset, n),
        _ => usercopy_abort("SLUB object", Some(&cache), to_user, offset, n),
    }
    0
}

pub(super) fn register(r: &mut Registry) {
    r.data("page_offset_base", Access::ReadOnly, zero_u64);
    r.data("phys_base", Access::ReadOnly, zero_u64);
    r.data("vmemmap_base", Access::ReadOnly, vmemmap_base_data);
    r.data("devmap_managed_key", Access::ReadOnly, static_key_false);
    // `compound_head()` tests it (HugeTLB vmemmap optimisation, off).
    r.data(
        "hugetlb_optimize_vmemmap_key",
        Access::ReadOnly,
        static_key_false,
    );
    r.func("alloc_pages", sys_alloc_pages);
    r.func("alloc_pages_noprof", sys_alloc_pages);
    r.func("__alloc_pages", sys_alloc_pages_node);
    r.func("__alloc_pages_noprof", sys_alloc_pages_node);
    r.func("folio_alloc", sys_folio_alloc);
    r.func("folio_alloc_noprof", sys_folio_alloc);
    r.func("__folio_alloc", sys_folio_alloc);
    r.func("__folio_alloc_noprof", sys_folio_alloc);
    r.func("__get_free_pages", sys_get_free_pages);
    r.func("get_free_pages_noprof", sys_get_free_pages);
    r.func("get_zeroed_page", sys_get_zeroed_page);
    r.func("get_zeroed_page_noprof", sys_get_zeroed_page);
    r.func("__free_pages", sys_free_pages_struct);
    r.func("free_pages", sys_free_pages);
    r.func("__folio_put", sys_folio_put);
    r.func("is_vmalloc_addr", sys_is_vmalloc_addr);
    r.func("__check_object_size", sys_check_object_size);
    r.trap("__put_devmap_managed_page_refs", "ZONE_DEVICE memory");
    r.trap("__put_devmap_managed_folio_refs", "ZONE_DEVICE memory");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::task::run_task;
    use crate::profile::PROFILES;

    fn call(f: fn(&mut CallArgs) -> u64, args: &[u64]) -> u64 {
        CallArgs::call(f, args)
    }

    fn log_text(k: &Kernel) -> String {
        let r = k.log.records();
        r.iter()
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn struct_pages_follow_the_allocations() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            run_task(&k, "test", || {
                let pages = Pages::new(&k, "test").unwrap();
                let page = call(sys_alloc_pages, &[GFP_COMP, 2]);
                let virt = pages.virt_of(page).unwrap();
                assert_eq!(virt % (4 * PAGE_SIZE), 0);
                assert_eq!(pages.page_of(virt), page);
                assert_eq!(pages.rd32(page + pages.refcount), Some(1));
                let tail = page + 3 * pages.stride;
                let ch = mm::read_u64(tail + pages.compound_head).unwrap();
                assert_eq!(ch, page | 1);
                // get_page, then __free_pages: still referenced, not freed.
                pages.wr32(page + pages.refcount, 2).unwrap();
                call(sys_free_pages_struct, &[page, 2]);
                assert_eq!(k.slab.page_allocation(virt), Some((2, true)));
                // put_page's last reference: inline decrement, __folio_put.
                pages.wr32(page + pages.refcount, 0).unwrap();
                call(sys_folio_put, &[page]);
                assert_eq!(k.slab.page_allocation(virt), Some((2, false)));
                assert_eq!(k.slab.findings(), 0, "{}", log_text(&k));
                // Freeing it again is a double free.
                call(sys_free_pages, &[virt, 2]);
                assert_eq!(k.slab.findings(), 1);
                assert!(log_text(&k).contains("Object already free"));
            })
            .unwrap();
        }
    }

    #[test]
    fn usercopy_stays_inside_its_object() {
        for p in PROFILES {
            let k = Kernel::boot(p).unwrap();
            let dying = run_task(&k, "test", || {
                let obj = k.slab.kmalloc_for(&k, 64, 0, 0, "test");
                assert_eq!(call(sys_is_vmalloc_addr, &[obj]), 0);
                call(sys_check_object_size, &[obj + 8, 56, 1]);
                assert!(!task::is_dying(), "{}", log_text(&k));
                call(sys_check_object_size, &[obj + 8, 100, 1]);
                task::is_dying()
            })
            .unwrap();
            assert!(dying);
            assert!(
                log_text(&k).contains(
                    "usercopy: Kernel memory exposure attempt detected from SLUB object \
                     'kmalloc-64' (offset 8, size 100)!"
                ),
                "{}",
                log_text(&k)
            );
        }
    }
}
