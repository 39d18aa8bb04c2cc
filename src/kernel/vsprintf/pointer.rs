//! `%p` itself: the extension dispatcher, raw (`%px`) and hashed pointers,
//! symbols (`%pS` and friends), resources (`%pR`/`%pr`), `%p4cc`, `%pa`,
//! `%pe`, `%pV`, and the extensions that are recognised but not yet emulated.

use super::{
    at, errname, is_err_value, le_u32, le_u64, number, put_string, special_hex, until_nul, Spec,
    SymbolHit, Writer, BUS_SPEC, DEC_SPEC, FLAG_SPEC, IO_SPEC, KSYM_NAME_MAX, MAX_CSTR,
    MAX_VA_DEPTH, MEM_SPEC, SIGN, SMALL, ZEROPAD,
};

// ---------------------------------------------------------------------------
// Not yet emulated
// ---------------------------------------------------------------------------

/// `%p` extensions the kernel implements but this module does not render.
/// Each still consumes its argument and prints the plain hashed pointer
/// (exactly what `%p` would print), and reports itself through
/// [`FormatContext::warn`](super::FormatContext::warn). Keyed by the first
/// extension character.
#[rustfmt::skip]
const NOT_YET_EMULATED: &[(u8, &str)] = &[
    (b'd', "%pd[234] (struct dentry name)"),     // not yet emulated
    (b'D', "%pD[234] (struct file name)"),       // not yet emulated
    (b'g', "%pg (struct block_device name)"),    // not yet emulated
    (b'G', "%pG[pgvt] (page/gfp/vma flag names)"), // not yet emulated
    (b'C', "%pC[n] (struct clk name)"),          // not yet emulated
    (b'A', "%pA (Rust fmt::Arguments)"),         // not yet emulated
    (b'O', "%pOF[fnpPFcC] (device-tree node)"),  // not yet emulated; "%pO" without F is
    (b'f', "%pfw[fP] (fwnode_handle name)"),     // not yet emulated; "%pf" without w is
    (b'V', "%pV without FormatContext::open_va_list"), // emulated when the context can
];

// ---------------------------------------------------------------------------
// Plain pointers and the dispatcher
// ---------------------------------------------------------------------------

impl Writer<'_> {
    /// `%px`: the raw value, 16 zero-padded digits unless a width is given.
    fn pointer_string(&mut self, value: u64, mut spec: Spec) {
        spec.base = 16;
        spec.flags |= SMALL;
        if spec.field_width == -1 {
            spec.field_width = 16;
            spec.flags |= ZEROPAD;
        }
        number(&mut self.out, value, spec);
    }

    /// Plain `%p`: NULL and ERR_PTR values are shown raw, the rest hashed.
    fn ptr_to_id(&mut self, ptr: u64, mut spec: Spec) {
        if ptr == 0 || is_err_value(ptr) {
            return self.pointer_string(ptr, spec);
        }
        match self.ctx.hash_pointer(ptr) {
            Some(id) => self.pointer_string(id, spec),
            None => {
                spec.field_width = 16;
                self.error(b"(____ptrval____)", spec);
            }
        }
    }

    fn not_emulated(&mut self, key: u8, ptr: u64, spec: Spec) {
        let what = NOT_YET_EMULATED
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("%p extension", |(_, what)| *what);
        self.ctx.warn(&format!(
            "vsprintf: {what} is not yet emulated; printing the hashed pointer"
        ));
        self.ptr_to_id(ptr, spec);
    }

    /// The kernel's pointer(): `ext` is the format text right after the 'p'.
    pub(super) fn pointer(&mut self, ext: &[u8], ptr: u64, spec: Spec) {
        match at(ext, 0) {
            b'S' | b's' | b'B' => self.symbol_string(ptr, spec, ext),
            b'R' | b'r' => self.resource_string(ptr, spec, ext),
            b'h' => self.hex_string(ptr, spec, ext),
            b'b' if at(ext, 1) == b'l' => self.bitmap_list_string(ptr, spec),
            b'b' => self.bitmap_string(ptr, spec),
            b'M' | b'm' => self.mac_address_string(ptr, spec, ext),
            b'I' | b'i' => self.ip_addr_string(ptr, spec, ext),
            b'E' => self.escaped_string(ptr, spec, ext),
            b'U' => self.uuid_string(ptr, spec, ext),
            b'V' => self.va_format(ptr, spec),
            b'K' => self.ptr_to_id(ptr, spec),
            b'N' => self.netdev_bits(ptr, spec, ext),
            b'4' => self.fourcc_string(ptr, spec, ext),
            b'a' => self.address_val(ptr, spec),
            b't' => self.time_and_date(ptr, spec, ext),
            b'O' if at(ext, 1) != b'F' => self.error(b"(%pO?)", spec),
            b'f' if at(ext, 1) != b'w' => self.error(b"(%pf?)", spec),
            b'x' => self.pointer_string(ptr, spec),
            b'e' if is_err_value(ptr) => self.err_ptr(ptr, spec),
            b'u' | b'k' if at(ext, 1) == b's' => self.string(ptr, spec),
            b'u' | b'k' => self.error(b"(einval)", spec),
            key @ (b'd' | b'D' | b'g' | b'G' | b'C' | b'A' | b'O' | b'f') => {
                self.not_emulated(key, ptr, spec)
            }
            // Includes %pe of a non-error pointer and the retired %pF/%pf.
            _ => self.ptr_to_id(ptr, spec),
        }
    }
}

// --- %pS %ps %pB, %pR %pr ---------------------------------------------------

impl Writer<'_> {
    /// 'R' means __builtin_extract_return_addr(), the identity on x86_64;
    /// 'b' (build id) prints nothing extra since no build ids are known.
    fn symbol_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let kind = at(ext, 0);
        let text = self.sprint_symbol(ptr, kind == b'B', kind != b's');
        put_string(&mut self.out, &text, spec);
    }

    /// kallsyms' __sprint_symbol(). A backtrace address is a return address,
    /// so the lookup uses addr - 1 and the printed offset adds the 1 back.
    fn sprint_symbol(&self, addr: u64, backtrace: bool, with_offset: bool) -> Vec<u8> {
        let bias = u64::from(backtrace);
        let mut text = None;
        let mut record = |hit: Option<SymbolHit<'_>>| {
            if let Some(hit) = hit {
                text = Some(render_symbol(&hit, bias, with_offset));
            }
        };
        self.ctx.lookup_symbol(addr.wrapping_sub(bias), &mut record);
        text.unwrap_or_else(|| format!("0x{addr:x}").into_bytes())
    }

    fn resource_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        const IO: u64 = 0x100;
        const MEM: u64 = 0x200;
        const IRQ: u64 = 0x400;
        const DMA: u64 = 0x800;
        const BUS: u64 = 0x1000;
        const UNSET: u64 = 0x2000_0000;
        // struct resource: start, end, name, flags (8 bytes each).
        let Some(raw) = self.checked_read(ptr, 32, spec) else {
            return;
        };
        let (start, end, flags) = (le_u64(&raw, 0), le_u64(&raw, 8), le_u64(&raw, 24));
        let (label, nspec): (&[u8], Spec) = match flags {
            f if f & IO != 0 => (b"io  ", IO_SPEC),
            f if f & MEM != 0 => (b"mem ", MEM_SPEC),
            f if f & IRQ != 0 => (b"irq ", DEC_SPEC),
            f if f & DMA != 0 => (b"dma ", DEC_SPEC),
            f if f & BUS != 0 => (b"bus ", BUS_SPEC),
            _ => (b"??? ", MEM_SPEC),
        };
        let decode = at(ext, 0) == b'R' && label != b"??? ";
        let mut s = vec![b'['];
        s.extend_from_slice(label);
        if decode && flags & UNSET != 0 {
            s.extend_from_slice(b"size ");
            number(&mut s, end.wrapping_sub(start).wrapping_add(1), nspec);
        } else {
            number(&mut s, start, nspec);
            if start != end {
                s.push(b'-');
                number(&mut s, end, nspec);
            }
        }
        if decode {
            resource_flag_words(&mut s, flags);
        } else {
            s.extend_from_slice(b" flags ");
            number(&mut s, flags, FLAG_SPEC);
        }
        s.push(b']');
        put_string(&mut self.out, &s, spec);
    }
}

fn render_symbol(hit: &SymbolHit<'_>, bias: u64, with_offset: bool) -> Vec<u8> {
    let name = until_nul(hit.name.as_bytes());
    let mut text = name[..name.len().min(KSYM_NAME_MAX)].to_vec();
    if with_offset {
        // The kernel's own "%#lx" prints 0 as "0x0".
        let suffix = format!("+{:#x}/{:#x}", hit.offset.wrapping_add(bias), hit.size);
        text.extend_from_slice(suffix.as_bytes());
    }
    if let Some(module) = hit.module {
        text.extend_from_slice(b" [");
        text.extend_from_slice(until_nul(module.as_bytes()));
        text.push(b']');
    }
    text
}

fn resource_flag_words(s: &mut Vec<u8>, flags: u64) {
    const WORDS: [(u64, &[u8]); 4] = [
        (0x0010_0000, b" 64bit"),
        (0x2000, b" pref"),
        (0x0020_0000, b" window"),
        (0x1000_0000, b" disabled"),
    ];
    for (bit, word) in WORDS {
        if flags & bit != 0 {
            s.extend_from_slice(word);
        }
    }
}

// --- %p4cc %pa %pe %pV ------------------------------------------------------

impl Writer<'_> {
    /// "AR24 little-endian (0x34325241)"; bit 31 flags big-endian and is
    /// masked out of the characters, non-printable ASCII shows as '.'.
    fn fourcc_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if at(ext, 1) != b'c' || at(ext, 2) != b'c' {
            return self.error(b"(%p4?)", spec);
        }
        let Some(raw) = self.checked_read(ptr, 4, spec) else {
            return;
        };
        let orig = le_u32(&raw, 0);
        let mut s: Vec<u8> = (orig & !(1 << 31))
            .to_le_bytes()
            .iter()
            .map(|&c| if (0x20..0x7f).contains(&c) { c } else { b'.' })
            .collect();
        let endian: &[u8] = if orig & (1 << 31) != 0 {
            b" big-endian ("
        } else {
            b" little-endian ("
        };
        s.extend_from_slice(endian);
        special_hex(&mut s, u64::from(orig), 4);
        s.push(b')');
        put_string(&mut self.out, &s, spec);
    }

    /// phys_addr_t / dma_addr_t by reference: always "0x" + 16 digits.
    fn address_val(&mut self, ptr: u64, spec: Spec) {
        if let Some(raw) = self.checked_read(ptr, 8, spec) {
            special_hex(&mut self.out, le_u64(&raw, 0), 8);
        }
    }

    /// The error code is the pointer truncated to `int`; unknown codes print
    /// in signed decimal with the caller's spec.
    fn err_ptr(&mut self, ptr: u64, mut spec: Spec) {
        let err = ptr as i32;
        if let Some(name) = errname(i64::from(err)) {
            return put_string(&mut self.out, name.as_bytes(), spec);
        }
        spec.flags |= SIGN;
        spec.base = 10;
        number(&mut self.out, i64::from(err) as u64, spec);
    }

    /// Recursive vsnprintf over a struct va_format { fmt, va }.
    fn va_format(&mut self, ptr: u64, spec: Spec) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        let Some(raw) = self.read(ptr, 16, spec) else {
            return;
        };
        let (fmt_ptr, va_ptr) = (le_u64(&raw, 0), le_u64(&raw, 8));
        let ctx = self.ctx;
        if self.depth >= MAX_VA_DEPTH {
            ctx.warn("vsprintf: %pV nested too deeply; printing the hashed pointer");
            return self.ptr_to_id(ptr, spec);
        }
        let Some(mut args) = ctx.open_va_list(va_ptr) else {
            return self.not_emulated(b'V', ptr, spec);
        };
        // The kernel would crash on a bad format pointer; print why instead.
        if !self.check_pointer(fmt_ptr, spec) {
            return;
        }
        let Some(fmt) = ctx.read_cstr(fmt_ptr, MAX_CSTR) else {
            return self.error(b"(efault)", spec);
        };
        self.depth += 1;
        self.format(&fmt, &mut *args);
        self.depth -= 1;
    }
}
