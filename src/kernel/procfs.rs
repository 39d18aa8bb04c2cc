//! /proc/modules (kernel/module/procfs.c).

use super::Kernel;

/// One line per module, newest first:
/// `name size refcount deps state 0xaddr (flags)`.
pub fn proc_modules(k: &Kernel) -> String {
    let mut out = String::new();
    for m in k.module_list() {
        let mut deps: String = m.holders().iter().map(|h| format!("{h},")).collect();
        if m.init_fn != 0 && m.exit_fn == 0 {
            deps.push_str("[permanent],");
        }
        if deps.is_empty() {
            deps.push('-');
        }
        let flags = m.name_with_flags();
        let flags = flags.strip_prefix(m.name.as_str()).unwrap_or("");
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" {flags}")
        };
        out.push_str(&format!(
            "{} {} {} {} {} 0x{:016x}{flags}\n",
            m.name,
            m.total_size(),
            m.refcount(),
            deps,
            m.state().name(),
            m.text_base()
        ));
    }
    out
}
