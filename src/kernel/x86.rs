//! x86 entry thunks with their own conventions, as raw code: they are
//! reached by `call`/`jmp` at patch sites and must not touch any register
//! the site does not expect (arch/x86/lib/retpoline.S, entry/thunk, ftrace).

use super::symbols::Registry;

/// `ret`.
const RET: &[u8] = &[0xc3];

/// `xor %eax, %eax; ret`.
const XOR_EAX_RET: &[u8] = &[0x31, 0xc0, 0xc3];

/// `jmp *%reg` for each retpoline thunk, in the kernel's register names.
const INDIRECT_THUNKS: &[(&str, &[u8])] = &[
    ("__x86_indirect_thunk_rax", &[0xff, 0xe0]),
    ("__x86_indirect_thunk_rcx", &[0xff, 0xe1]),
    ("__x86_indirect_thunk_rdx", &[0xff, 0xe2]),
    ("__x86_indirect_thunk_rbx", &[0xff, 0xe3]),
    ("__x86_indirect_thunk_rbp", &[0xff, 0xe5]),
    ("__x86_indirect_thunk_rsi", &[0xff, 0xe6]),
    ("__x86_indirect_thunk_rdi", &[0xff, 0xe7]),
    ("__x86_indirect_thunk_r8", &[0x41, 0xff, 0xe0]),
    ("__x86_indirect_thunk_r9", &[0x41, 0xff, 0xe1]),
    ("__x86_indirect_thunk_r10", &[0x41, 0xff, 0xe2]),
    ("__x86_indirect_thunk_r11", &[0x41, 0xff, 0xe3]),
    ("__x86_indirect_thunk_r12", &[0x41, 0xff, 0xe4]),
    ("__x86_indirect_thunk_r13", &[0x41, 0xff, 0xe5]),
    ("__x86_indirect_thunk_r14", &[0x41, 0xff, 0xe6]),
    ("__x86_indirect_thunk_r15", &[0x41, 0xff, 0xe7]),
];

/// `BUG_func` (6.10+): the placeholder target of alternative calls
/// (`ALT_CALL_INSTR`) left unpatched; the kernel's body is `BUG()`, so kload
/// gives the same `ud2`, reported as an invalid opcode in `BUG_func`.
const UD2: &[u8] = &[0x0f, 0x0b];

pub(super) fn register(r: &mut Registry) {
    r.code("BUG_func", UD2);
    // `call __fentry__` opens every function (-mfentry); with no tracer
    // attached the kernel NOPs the call sites, which is the same as returning.
    r.code("__fentry__", RET);
    // Every function exit is `jmp __x86_return_thunk`; without the
    // return-thunk mitigation the kernel patches these back to `ret`.
    r.code("__x86_return_thunk", RET);
    // `preempt_enable()` calls the `preempt_schedule` static call (PREEMPT_DYNAMIC)
    // when the count drops to zero with a reschedule pending, keeping every
    // register. kload runs one task per CPU and never asks for a reschedule
    // (the count's PREEMPT_NEED_RESCHED bit stays set), so there is nobody to
    // switch to: scheduling returns at once.
    r.code("__SCT__preempt_schedule", RET);
    r.code("__SCT__preempt_schedule_notrace", RET);
    // `might_resched()` / `cond_resched()` (PREEMPT_DYNAMIC static calls,
    // C convention): for the same reason they never reschedule, and say so
    // by returning 0.
    r.code("__SCT__might_resched", XOR_EAX_RET);
    r.code("__SCT__cond_resched", XOR_EAX_RET);
    for (name, code) in INDIRECT_THUNKS {
        r.code(name, code);
    }
}
