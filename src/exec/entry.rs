//! Assembly entry points between kload and module code.
//!
//! Two directions:
//! - **into module code**: `kload_enter` calls a module function on a kernel
//!   task stack and returns its `%rax`; `kload_abort` unwinds straight back to
//!   the outermost `kload_enter` of the task (the task "dies", as after an
//!   Oops), skipping the module frames in between.
//! - **out of module code**: every stub-kernel function is reached through a
//!   small trampoline generated into low memory (module calls must land
//!   within ±2 GiB). The trampoline spills the six argument registers, passes
//!   a pointer to them, a pointer to the stack-passed arguments and the stub's
//!   id to `dispatch::kload_stub_dispatch`, with the stack realigned to 16
//!   bytes (modules use `-mpreferred-stack-boundary=3`) and without relying on
//!   `%al` (modules use `-mskip-rax-setup`). This one form serves plain and
//!   variadic functions alike.
//!
//! - **back from a fault**: the signal handler (`signal`) sends a faulting
//!   kernel task to `kload_fault_entry` with the faulting RIP pushed on the
//!   task's stack, as an exception entry would; it saves every register in
//!   a `FaultFrame`, calls `signal::kload_fault_dispatch` and resumes at the
//!   RIP it returns (a WARN), unless the dispatcher ends the task.
//!
//! Special conventions (`__fentry__`, the return and retpoline thunks) are
//! raw code blobs defined next to their symbols in `kernel/`.

use std::arch::global_asm;

/// Saved host state of one `kload_enter`; `kload_abort` returns through it.
#[repr(C)]
#[derive(Debug, Default)]
pub struct EnterCtx {
    /// Host `%rsp` after the callee-saved registers were pushed.
    pub saved_rsp: u64,
}

global_asm!(
    ".globl kload_enter",
    ".type kload_enter,@function",
    // u64 kload_enter(u64 fn, const u64 args[6], u64 stack_top, EnterCtx *ctx)
    "kload_enter:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rcx], rsp",
    "mov r12, rcx",
    "mov r11, rdi",
    "test rdx, rdx",
    "jz 2f",
    "mov rsp, rdx",
    "2:",
    "and rsp, -16",
    "mov rdi, [rsi]",
    "mov rdx, [rsi + 16]",
    "mov rcx, [rsi + 24]",
    "mov r8, [rsi + 32]",
    "mov r9, [rsi + 40]",
    "mov rsi, [rsi + 8]",
    "call r11",
    "mov rsp, [r12]",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".globl kload_enter_end",
    "kload_enter_end:",
    ".size kload_enter, . - kload_enter",
    ".globl kload_abort",
    ".type kload_abort,@function",
    // noreturn kload_abort(EnterCtx *ctx, u64 rax)
    "kload_abort:",
    "mov rsp, [rdi]",
    "mov rax, rsi",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size kload_abort, . - kload_abort",
);

extern "C" {
    fn kload_enter(func: u64, args: *const [u64; 6], stack_top: u64, ctx: *mut EnterCtx) -> u64;
    fn kload_enter_end();
    fn kload_abort(ctx: *const EnterCtx, rax: u64) -> !;
}

/// `[start, end)` of `kload_enter`'s code: a return address in it is the
/// outermost frame of module code on a task's stack.
pub fn enter_range() -> (u64, u64) {
    (
        kload_enter as *const () as u64,
        kload_enter_end as *const () as u64,
    )
}

/// Call module code at `func` with up to six integer arguments.
///
/// # Safety
/// `func` must be the address of executable code that follows the SysV
/// calling convention for these arguments; `stack_top` must be 0 (stay on
/// the current stack) or the 16-byte-aligned top of a mapped stack not in
/// use by anything else; `ctx` must stay valid until this returns.
pub unsafe fn enter(func: u64, args: &[u64; 6], stack_top: u64, ctx: &mut EnterCtx) -> u64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { kload_enter(func, args, stack_top, ctx) }
}

/// Return from the `kload_enter` that filled `ctx`, with `rax` as its result.
///
/// # Safety
/// `ctx` must belong to a `kload_enter` still running on this thread, and
/// every frame between here and it must hold nothing that needs dropping.
pub unsafe fn abort(ctx: *const EnterCtx, rax: u64) -> ! {
    // SAFETY: forwarded from this function's contract.
    unsafe { kload_abort(ctx, rax) }
}

/// The frame `kload_fault_entry` builds on the faulting task's stack, lowest
/// address first: the fifteen GPRs, RFLAGS, then the slot holding the RIP
/// to resume at (the faulting RIP, pushed by the signal handler in place of
/// a return address). The faulting `%rsp` is the address just above `rip`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub rflags: u64,
    /// Where `ret` goes: the faulting RIP on entry, the resume RIP after.
    pub rip: u64,
}

/// Offset of `FaultFrame::rip` (16 slots of 8 bytes below it).
const _: () = assert!(std::mem::offset_of!(FaultFrame, rip) == 16 * 8);

global_asm!(
    ".globl kload_fault_entry",
    ".type kload_fault_entry,@function",
    // Entered (not called) with [rsp] = faulting RIP and every register as
    // the fault left it.
    "kload_fault_entry:",
    "pushfq",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov rdi, rsp",
    "mov rbx, rsp",
    "and rsp, -16",
    "cld",
    "call kload_fault_dispatch",
    "mov rsp, rbx",
    "mov [rsp + 128], rax",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbx",
    "pop rax",
    "popfq",
    "ret",
    ".size kload_fault_entry, . - kload_fault_entry",
);

extern "C" {
    fn kload_fault_entry();
}

/// Address of `kload_fault_entry`, where the signal handler sends a fault.
pub fn fault_entry_address() -> u64 {
    kload_fault_entry as *const () as u64
}

/// Size of one generated trampoline (a multiple of 16, for alignment).
pub const TRAMPOLINE_SIZE: usize = 48;

/// Machine code of the trampoline that sends a call to stub `id` through
/// `dispatch` (see the module comment for the convention).
pub fn trampoline(id: u32, dispatch: u64) -> [u8; TRAMPOLINE_SIZE] {
    let mut code = [0xccu8; TRAMPOLINE_SIZE];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        code[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(&[0x55]); // push rbp
    put(&[0x48, 0x89, 0xe5]); // mov rbp, rsp
    put(&[0x41, 0x51, 0x41, 0x50, 0x51, 0x52, 0x56, 0x57]); // push r9, r8, rcx, rdx, rsi, rdi
    put(&[0x48, 0x89, 0xe7]); // mov rdi, rsp        (the six registers)
    put(&[0x48, 0x8d, 0x75, 0x10]); // lea rsi, [rbp+16] (stack arguments)
    put(&[0xba]); // mov edx, imm32       (stub id)
    put(&id.to_le_bytes());
    put(&[0x48, 0x83, 0xe4, 0xf0]); // and rsp, -16
    put(&[0x48, 0xb8]); // movabs rax, imm64
    put(&dispatch.to_le_bytes());
    put(&[0xff, 0xd0]); // call rax
    put(&[0xc9]); // leave
    put(&[0xc3]); // ret
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_fits_and_decodes() {
        let code = trampoline(7, 0x1122_3344_5566_7788);
        let mut dec = iced_x86::Decoder::with_ip(64, &code, 0, iced_x86::DecoderOptions::NONE);
        let mut text = Vec::new();
        let mut fmt = iced_x86::GasFormatter::new();
        use iced_x86::Formatter;
        while dec.can_decode() {
            let ins = dec.decode();
            let mut s = String::new();
            fmt.format(&ins, &mut s);
            text.push(s);
            if ins.mnemonic() == iced_x86::Mnemonic::Ret {
                break;
            }
        }
        assert_eq!(text.first().map(String::as_str), Some("push %rbp"));
        assert!(text.iter().any(|t| t == "mov $7,%edx"), "{text:?}");
        assert!(
            text.iter().any(|t| t == "movabs $0x1122334455667788,%rax"),
            "{text:?}"
        );
        assert_eq!(text.last().map(String::as_str), Some("ret"));
    }
}
