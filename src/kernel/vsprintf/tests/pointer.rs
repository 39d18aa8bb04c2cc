//! Plain pointers, symbols, `%pe` `%pa` `%p4cc` `%pR`, and the remaining `%p`
//! extensions (`%pO` `%pf` `%pk` `%pu`, the not-yet-emulated ones, `%pV`).

use super::*;

// ----- plain pointers ---------------------------------------------------

#[test]
fn plain_pointer_hashing() {
    // %p hashes; NULL and ERR_PTR values are printed raw; %px never
    // hashes; %pK behaves as %p with kptr_restrict=0; retired and
    // unknown extensions (e.g. %pF) print the hash and are skipped.
    let h = id(KADDR);
    check(&[
        ("%p", &[KADDR], &h),
        ("%pK", &[KADDR], &h),
        ("%pF", &[KADDR], &h),
        ("%pZZZ!", &[KADDR], &format!("{h}!")),
        ("%p-x", &[KADDR], &format!("{h}-x")),
        ("%p", &[0], "0000000000000000"),
        ("%p", &[neg(-12)], "fffffffffffffff4"),
        ("%px", &[KADDR], "ffff888000001000"),
        ("%px", &[0x1234], "0000000000001234"),
        ("%pe", &[KADDR], &h),
        ("%pe", &[0], "0000000000000000"),
    ]);
}

#[test]
fn pointer_width_flags() {
    // An explicit width replaces the default 16-digit zero padding.
    let raw = format!("{:x}", fake_hash(KADDR));
    check(&[
        ("%20p|", &[KADDR], &format!("{raw:>20}|")),
        ("%-20p|", &[KADDR], &format!("{raw:<20}|")),
        ("%020p", &[KADDR], &format!("{raw:0>20}")),
        ("%#px", &[0x1234], "0x00000000001234"),
        ("%24px|", &[KADDR], "        ffff888000001000|"),
    ]);
}

#[test]
fn pointer_hash_not_ready() {
    // Before the hash key exists, %p prints a 16-wide placeholder.
    let mut ctx = Ctx::new();
    ctx.hash_ready = false;
    assert_eq!(ctx.s("%p", &[KADDR]), "(____ptrval____)");
    assert_eq!(ctx.s("%10p", &[KADDR]), "(____ptrval____)");
    assert_eq!(ctx.s("%.5p|", &[KADDR]), "           (____|");
    assert_eq!(ctx.s("%p", &[0]), "0000000000000000");
}

#[test]
fn pointer_suffix_skips_latin1_letters() {
    // Suffix skipping uses the kernel's Latin-1 ctype: 0xe9 is a letter,
    // 0xd7 (multiplication sign) is punctuation.
    let ctx = Ctx::new();
    let h = id(KADDR);
    assert_eq!(ctx.run(b"%p\xe9.", &[KADDR]), format!("{h}.").into_bytes());
    let mut want = h.into_bytes();
    want.extend_from_slice(b"\xd7.");
    assert_eq!(ctx.run(b"%p\xd7.", &[KADDR]), want);
}

// ----- symbols ----------------------------------------------------------

#[test]
fn symbols() {
    // %pS: name+0xoff/0xsize [module]; %ps: name [module]; vmlinux symbols
    // carry no module; unknown addresses print as 0x%lx.
    check(&[
        ("%pS", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
        ("%ps", &[MOD_TEXT + 0x10], "hello_init [hello_1]"),
        ("%pSR", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
        ("%pSb", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
        ("%pS", &[MOD_TEXT + 0x40], "hello_exit+0x0/0x20 [hello_1]"),
        ("%pS", &[VMLINUX_TEXT], "printk+0x0/0x30"),
        ("%ps", &[VMLINUX_TEXT + 4], "printk"),
        ("%pS", &[0x1234], "0x1234"),
        ("%pS", &[0], "0x0"),
        ("%ps", &[0x1234], "0x1234"),
        ("%-20ps|", &[VMLINUX_TEXT], "printk              |"),
        ("%20ps|", &[VMLINUX_TEXT], "              printk|"),
        ("%.5ps", &[MOD_TEXT], "hello"),
    ]);
}

#[test]
fn backtrace_symbols() {
    // %pB looks up addr-1 and adds 1 back to the offset, so a return
    // address just past a function still names that function.
    check(&[
        ("%pB", &[MOD_TEXT + 0x10], "hello_init+0x10/0x40 [hello_1]"),
        ("%pB", &[MOD_TEXT + 0x40], "hello_init+0x40/0x40 [hello_1]"),
        ("%pBb", &[MOD_TEXT + 0x40], "hello_init+0x40/0x40 [hello_1]"),
        ("%pB", &[0x1234], "0x1234"),
        ("%pB", &[MOD_TEXT], "0xffffffffc0001000"),
    ]);
}

#[test]
fn long_symbol_names_are_cut() {
    // kallsyms copies names into a KSYM_NAME_LEN (512) buffer.
    let long: &'static str = Box::leak("x".repeat(600).into_boxed_str());
    let mut ctx = Ctx::new();
    ctx.syms.push(Sym {
        start: 0x10_0000,
        size: 8,
        name: long,
        module: None,
    });
    assert_eq!(ctx.s("%ps", &[0x10_0000]), "x".repeat(511));
}

// ----- %pe %pa %p4cc %pR ----------------------------------------------------

#[test]
fn error_pointers() {
    // %pe names ERR_PTR codes (internal ones too), falls back to signed
    // decimal for unnamed codes, and obeys width.
    check(&[
        ("%pe", &[neg(-12)], "-ENOMEM"),
        ("%pe", &[neg(-517)], "-EPROBE_DEFER"),
        ("%pe", &[neg(-512)], "-ERESTARTSYS"),
        ("%pe", &[neg(-1)], "-EPERM"),
        ("%pe", &[neg(-4000)], "-4000"),
        ("%pe", &[neg(-4095)], "-4095"),
        ("%10pe|", &[neg(-12)], "   -ENOMEM|"),
        ("%-10pe|", &[neg(-12)], "-ENOMEM   |"),
        ("%.3pe", &[neg(-12)], "-EN"),
    ]);
}

#[test]
fn address_values() {
    // %pa/%pap/%pad dereference and always print 0x + 16 digits.
    let mut ctx = Ctx::new();
    ctx.put_u64s(SCRATCH, &[0x1234]);
    assert_eq!(ctx.s("%pa", &[SCRATCH]), "0x0000000000001234");
    assert_eq!(ctx.s("%pap", &[SCRATCH]), "0x0000000000001234");
    assert_eq!(ctx.s("%pad", &[SCRATCH]), "0x0000000000001234");
    assert_eq!(ctx.s("%30pa|", &[SCRATCH]), "0x0000000000001234|");
    assert_eq!(ctx.s("%pa", &[0]), "(null)");
}

#[test]
fn fourcc() {
    // Four characters ('.' for non-printable), endianness from bit 31,
    // then the raw value as 0x%08x; anything but "4cc" is "(%p4?)".
    let mut ctx = Ctx::new();
    ctx.put(SCRATCH, &0x3432_5241u32.to_le_bytes());
    ctx.put(SCRATCH + 8, &0xb432_5241u32.to_le_bytes());
    ctx.put(SCRATCH + 16, &0x0000_0141u32.to_le_bytes());
    assert_eq!(
        ctx.s("%p4cc", &[SCRATCH]),
        "AR24 little-endian (0x34325241)"
    );
    assert_eq!(
        ctx.s("%p4cc", &[SCRATCH + 8]),
        "AR24 big-endian (0xb4325241)"
    );
    assert_eq!(
        ctx.s("%p4cc", &[SCRATCH + 16]),
        "A... little-endian (0x00000141)"
    );
    assert_eq!(ctx.s("%p4x", &[SCRATCH]), "(%p4?)");
    assert_eq!(ctx.s("%p4c", &[SCRATCH]), "(%p4?)");
    assert_eq!(ctx.s("%p4cc", &[0]), "(null)");
    assert_eq!(ctx.s("%.4p4cc", &[SCRATCH]), "AR24");
}

fn resource(ctx: &mut Ctx, start: u64, end: u64, flags: u64) -> [u64; 1] {
    ctx.put_u64s(SCRATCH, &[start, end, 0, flags]);
    [SCRATCH]
}

#[test]
fn resources() {
    // %pR decodes type and attribute flags, %pr prints raw flags;
    // io/mem values are 0x-prefixed and zero-padded to 4/8 digits.
    let mut ctx = Ctx::new();
    let a = resource(&mut ctx, 0xfe00_0000, 0xfe0f_ffff, 0x0010_2200);
    assert_eq!(ctx.s("%pR", &a), "[mem 0xfe000000-0xfe0fffff 64bit pref]");
    assert_eq!(
        ctx.s("%pr", &a),
        "[mem 0xfe000000-0xfe0fffff flags 0x102200]"
    );
    let a = resource(&mut ctx, 0x3f8, 0x3ff, 0x100);
    assert_eq!(ctx.s("%pR", &a), "[io  0x03f8-0x03ff]");
    let a = resource(&mut ctx, 5, 5, 0x400);
    assert_eq!(ctx.s("%pR", &a), "[irq 5]");
    let a = resource(&mut ctx, 0, 0xfff, 0x2000_0200);
    assert_eq!(ctx.s("%pR", &a), "[mem size 0x00001000]");
    let a = resource(&mut ctx, 0, 0xff, 0x1000);
    assert_eq!(ctx.s("%pR", &a), "[bus 00-ff]");
    let a = resource(&mut ctx, 0, 0xf, 0);
    assert_eq!(ctx.s("%pR", &a), "[??? 0x00000000-0x0000000f flags 0x0]");
    let a = resource(&mut ctx, 0x1000, 0x1fff, 0x1020_0200);
    assert_eq!(
        ctx.s("%pR", &a),
        "[mem 0x00001000-0x00001fff window disabled]"
    );
    assert_eq!(ctx.s("%pR", &[0]), "(null)");
}

// ----- misc extensions ----------------------------------------------------

#[test]
fn error_only_and_string_extensions() {
    // %pO needs F and %pf needs w (else fixed error strings); %pks/%pus
    // print strings; other %pk/%pu forms are "(einval)".
    let h = id(KADDR);
    check(&[
        ("%pO", &[KADDR], "(%pO?)"),
        ("%pOx", &[KADDR], "(%pO?)"),
        ("%pf", &[KADDR], "(%pf?)"),
        ("%pks", &[STR], "hello"),
        ("%pus", &[STR], "hello"),
        ("%8pks|", &[STR], "   hello|"),
        ("%pks", &[0], "(null)"),
        ("%pkx", &[STR], "(einval)"),
        ("%pu", &[STR], "(einval)"),
        ("%pOF", &[KADDR], &h),
        ("%pfw", &[KADDR], &h),
    ]);
}

#[test]
fn not_yet_emulated_extensions_print_hash() {
    // Recognised but unrendered extensions consume one argument, print
    // the hashed pointer, and warn.
    let ctx = Ctx::new();
    let h = id(KADDR);
    for fmt in ["%pd", "%pd2", "%pD", "%pg", "%pGp", "%pC", "%pCn", "%pA"] {
        assert_eq!(
            ctx.s(&format!("{fmt}|%d"), &[KADDR, 7]),
            format!("{h}|7"),
            "{fmt}"
        );
    }
    assert_eq!(ctx.warnings.borrow().len(), 8);
    assert!(ctx.warnings.borrow()[0].contains("dentry"));
}

#[test]
fn va_format_recursion() {
    // %pV formats a nested (fmt, va_list) pair in place; a bad
    // conversion inside stops only the nested run.
    let mut ctx = Ctx::new();
    ctx.put(SCRATCH + 0x100, b"inner %d-%s\0");
    ctx.put(SCRATCH + 0x200, b"x%qy\0");
    ctx.put_u64s(SCRATCH, &[SCRATCH + 0x100, 0x7000]);
    ctx.put_u64s(SCRATCH + 0x10, &[SCRATCH + 0x200, 0x7000]);
    ctx.put_u64s(SCRATCH + 0x20, &[SCRATCH + 0x100, 0x7777]);
    ctx.va_lists.insert(0x7000, vec![5, STR]);
    assert_eq!(ctx.s("<%pV> %d", &[SCRATCH, 9]), "<inner 5-hello> 9");
    assert_eq!(ctx.s("<%pV> %d", &[SCRATCH + 0x10, 9]), "<x> 9");
    assert_eq!(ctx.s("%pV", &[0]), "(null)");
    // No va_list available: falls back to the hashed pointer.
    assert_eq!(ctx.s("%pV", &[SCRATCH + 0x20]), id(SCRATCH + 0x20));
}

#[test]
fn va_format_self_reference_is_bounded() {
    // A va_format whose own argument is itself stops at the depth limit.
    let mut ctx = Ctx::new();
    ctx.put(SCRATCH + 0x100, b"%pV\0");
    ctx.put_u64s(SCRATCH, &[SCRATCH + 0x100, 0x7000]);
    ctx.va_lists.insert(0x7000, vec![SCRATCH]);
    assert_eq!(ctx.s("%pV", &[SCRATCH]), id(SCRATCH));
    assert!(ctx
        .warnings
        .borrow()
        .iter()
        .any(|w| w.contains("too deeply")));
}

#[test]
fn sysv_va_list_reads_registers_then_stack() {
    // x86_64 va_list: integer slots come from reg_save_area until
    // gp_offset reaches 48, then from overflow_arg_area.
    let mut ctx = Ctx::new();
    ctx.sysv_va_lists = true;
    let (va, regs, stack) = (SCRATCH + 0x300, SCRATCH + 0x400, SCRATCH + 0x500);
    ctx.put(va, &40u32.to_le_bytes());
    ctx.put(va + 4, &48u32.to_le_bytes());
    ctx.put_u64s(va + 8, &[stack, regs]);
    ctx.put_u64s(regs, &[0, 0, 0, 0, 0, 11]);
    ctx.put_u64s(stack, &[22, 33]);
    ctx.put(SCRATCH + 0x100, b"%d %d %d\0");
    ctx.put_u64s(SCRATCH, &[SCRATCH + 0x100, va]);
    assert_eq!(ctx.s("%pV", &[SCRATCH]), "11 22 33");
    // The caller's va_list object is left untouched (va_copy semantics).
    assert_eq!(ctx.read_bytes(va, 4), Some(40u32.to_le_bytes().to_vec()));
}
