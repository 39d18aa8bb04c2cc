//! `kload explain`: the init/exit chain of the seed, on the user's module.

use crate::common::*;

#[test]
fn explain_shows_this_module_and_the_init_exit_relocations() {
    for (series, exit_off) in [("6.1", "0x0350"), ("6.12", "0x04b0")] {
        let file = root().join(format!("sample-modules/{series}/hello-1.ko"));
        let out = kload(&["explain", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for want in [
            "symbol      __this_module".to_owned(),
            "] .gnu.linkonce.this_module: file offset 0x".to_owned(),
            "name field  \"hello_1\" at offset 0x18".to_owned(),
            "] .rela.gnu.linkonce.this_module".to_owned(),
            "offset 0x0138  R_X86_64_64 init_module + 0 -> struct module.init".to_owned(),
            format!("offset {exit_off}  R_X86_64_64 cleanup_module + 0 -> struct module.exit"),
            "license=GPL".to_owned(),
            format!("profile     Debian {series} ("),
        ] {
            assert!(
                text.contains(&want),
                "{series}: missing {want:?} in\n{text}"
            );
        }
        let init_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("init_module "))
            .unwrap();
        assert!(
            init_line.contains(".text") && init_line.contains("bytes"),
            "{init_line}"
        );
    }
}

#[test]
fn explain_names_the_module_init_alias_and_disassembles() {
    let file = root().join("sample-modules/6.12/hello-2.ko");
    let out = kload(&["explain", "--disasm", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("also named hello_2_init"), "{text}");
    assert!(text.contains("] .init.text + 0x"), "{text}");
    assert!(text.contains("R_X86_64_PLT32 _printk-4"), "{text}");
}
