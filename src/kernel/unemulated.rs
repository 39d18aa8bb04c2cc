//! Named traps for the subsystems kload does not emulate (PCI, USB, I2C,
//! networking, DMA, IRQs, ...), and the generated symbol table
//! docs/symbols.md.
//!
//! A named trap resolves, so a module that merely links against such a
//! subsystem loads; calling one reports
//! `BUG: kload: <subsystem> is not emulated: <name> called` in the layout of
//! `panic::unimplemented_called` and kills the calling task. Only vmlinux
//! exports can be trapped: symbols that other modules provide (usbcore's
//! `usb_register_driver`, snd's `snd_card_register`, hid, industrialio,
//! videodev, rc_core) resolve only against those modules, and data symbols
//! (`system_wq`, `init_net`, `ioport_resource`) cannot be traps: both stay
//! unresolved.
//!
//! The list covers, for each kernel, the unemulated functions among the 300
//! symbols Debian's modules use most (src/kernel/top-symbols-*.txt), plus a
//! few siblings of the same families (`__get_user_8`, ...).

use super::symbols::Registry;

pub(super) fn register(r: &mut Registry) {
    // PCI
    r.trap("__pci_register_driver", "PCI");
    r.trap("pci_unregister_driver", "PCI");
    r.trap("pci_enable_device", "PCI");
    r.trap("pci_disable_device", "PCI");
    r.trap("pcim_enable_device", "PCI");
    r.trap("pci_set_master", "PCI");
    r.trap("pci_request_regions", "PCI");
    r.trap("pci_release_regions", "PCI");
    r.trap("pci_read_config_byte", "PCI");
    r.trap("pci_read_config_word", "PCI");
    r.trap("pci_read_config_dword", "PCI");
    r.trap("pci_write_config_byte", "PCI");
    r.trap("pci_write_config_word", "PCI");
    r.trap("pci_write_config_dword", "PCI");
    r.trap("pci_dev_put", "PCI");
    // I2C
    r.trap("i2c_register_driver", "I2C");
    r.trap("i2c_del_driver", "I2C");
    r.trap("i2c_transfer", "I2C");
    r.trap("i2c_smbus_read_byte_data", "I2C");
    r.trap("i2c_smbus_write_byte_data", "I2C");
    // SPI
    r.trap("__spi_register_driver", "SPI");
    // IRQ
    r.trap("request_threaded_irq", "IRQ");
    r.trap("devm_request_threaded_irq", "IRQ");
    r.trap("free_irq", "IRQ");
    r.trap("enable_irq", "IRQ");
    r.trap("disable_irq", "IRQ");
    r.trap("__tasklet_schedule", "IRQ");
    // DMA
    r.trap("dma_alloc_attrs", "DMA");
    r.trap("dma_free_attrs", "DMA");
    r.trap("dma_map_page_attrs", "DMA");
    r.trap("dma_unmap_page_attrs", "DMA");
    r.trap("dma_set_mask", "DMA");
    r.trap("dma_set_coherent_mask", "DMA");
    r.trap("dma_sync_single_for_cpu", "DMA");
    r.trap("dma_sync_single_for_device", "DMA");
    r.trap("__dma_sync_single_for_cpu", "DMA");
    r.trap("sg_next", "DMA");
    // IO
    r.trap("ioremap", "IO");
    r.trap("iounmap", "IO");
    r.trap("ioread32", "IO");
    r.trap("iowrite32", "IO");
    r.trap("__request_region", "IO");
    r.trap("__release_region", "IO");
    // firmware
    r.trap("request_firmware", "firmware");
    r.trap("release_firmware", "firmware");
    // input
    r.trap("input_allocate_device", "input");
    r.trap("input_register_device", "input");
    r.trap("input_unregister_device", "input");
    r.trap("input_free_device", "input");
    r.trap("input_event", "input");
    // regmap
    r.trap("regmap_read", "regmap");
    r.trap("regmap_write", "regmap");
    r.trap("regmap_update_bits_base", "regmap");
    r.trap("__devm_regmap_init_i2c", "regmap");
    // platform devices
    r.trap("__platform_driver_register", "platform devices");
    r.trap("platform_driver_unregister", "platform devices");
    r.trap("platform_device_unregister", "platform devices");
    // device model
    r.trap("get_device", "device model");
    r.trap("put_device", "device model");
    r.trap("dev_set_name", "device model");
    r.trap("driver_unregister", "device model");
    r.trap("devm_add_action", "device model");
    r.trap("__devm_add_action", "device model");
    // ACPI
    r.trap("is_acpi_device_node", "ACPI");
    // pm_runtime
    r.trap("__pm_runtime_resume", "pm_runtime");
    r.trap("__pm_runtime_suspend", "pm_runtime");
    r.trap("__pm_runtime_disable", "pm_runtime");
    r.trap("pm_runtime_enable", "pm_runtime");
    r.trap("__pm_runtime_set_status", "pm_runtime");
    r.trap("__pm_runtime_use_autosuspend", "pm_runtime");
    r.trap("pm_runtime_set_autosuspend_delay", "pm_runtime");
    // debugfs
    r.trap("debugfs_create_dir", "debugfs");
    r.trap("debugfs_create_file", "debugfs");
    r.trap("debugfs_remove", "debugfs");
    // sysfs
    r.trap("sysfs_create_group", "sysfs");
    r.trap("sysfs_remove_group", "sysfs");
    r.trap("sysfs_emit", "sysfs");
    // tracepoints
    r.trap("trace_event_buffer_commit", "tracepoints");
    r.trap("trace_event_buffer_reserve", "tracepoints");
    r.trap("trace_event_printf", "tracepoints");
    r.trap("trace_event_raw_init", "tracepoints");
    r.trap("trace_event_reg", "tracepoints");
    r.trap("trace_handle_return", "tracepoints");
    r.trap("trace_raw_output_prep", "tracepoints");
    r.trap("__trace_trigger_soft_disabled", "tracepoints");
    r.trap("do_trace_netlink_extack", "tracepoints");
    // perf
    r.trap("perf_trace_buf_alloc", "perf");
    r.trap("perf_trace_run_bpf_submit", "perf");
    // networking
    r.trap("__alloc_skb", "networking");
    r.trap("__netdev_alloc_skb", "networking");
    r.trap("skb_put", "networking");
    r.trap("skb_push", "networking");
    r.trap("skb_pull", "networking");
    r.trap("skb_trim", "networking");
    r.trap("skb_copy_bits", "networking");
    r.trap("skb_dequeue", "networking");
    r.trap("skb_queue_tail", "networking");
    r.trap("pskb_expand_head", "networking");
    r.trap("__pskb_pull_tail", "networking");
    r.trap("consume_skb", "networking");
    r.trap("kfree_skb_reason", "networking");
    r.trap("sk_skb_reason_drop", "networking");
    r.trap("__dev_kfree_skb_any", "networking");
    r.trap("dev_kfree_skb_any_reason", "networking");
    r.trap("alloc_etherdev_mqs", "networking");
    r.trap("register_netdev", "networking");
    r.trap("unregister_netdev", "networking");
    r.trap("dev_addr_mod", "networking");
    r.trap("eth_type_trans", "networking");
    r.trap("eth_validate_addr", "networking");
    r.trap("netif_carrier_on", "networking");
    r.trap("netif_carrier_off", "networking");
    r.trap("netif_device_attach", "networking");
    r.trap("netif_device_detach", "networking");
    r.trap("netif_rx", "networking");
    r.trap("netif_tx_wake_queue", "networking");
    r.trap("netif_napi_add_weight", "networking");
    r.trap("napi_enable", "networking");
    r.trap("napi_disable", "networking");
    r.trap("napi_schedule_prep", "networking");
    r.trap("__napi_schedule", "networking");
    r.trap("napi_complete_done", "networking");
    r.trap("nla_put", "networking");
    r.trap("rtnl_lock", "networking");
    r.trap("rtnl_unlock", "networking");
    r.trap("net_ratelimit", "networking");
    // RCU
    r.trap("synchronize_rcu", "RCU");
    r.trap("kvfree_call_rcu", "RCU");
    r.trap("rcu_barrier", "RCU");
    // seq_file
    r.trap("seq_printf", "seq_file");
    r.trap("seq_puts", "seq_file");
    r.trap("seq_write", "seq_file");
    r.trap("seq_read", "seq_file");
    r.trap("seq_lseek", "seq_file");
    r.trap("single_open", "seq_file");
    r.trap("single_release", "seq_file");
    r.trap("seq_release", "seq_file");
    // user copies
    r.trap("_copy_to_user", "user copies");
    r.trap("_copy_from_user", "user copies");
    r.trap("__get_user_1", "user copies");
    r.trap("__get_user_2", "user copies");
    r.trap("__get_user_4", "user copies");
    r.trap("__get_user_8", "user copies");
    r.trap("__put_user_1", "user copies");
    r.trap("__put_user_2", "user copies");
    r.trap("__put_user_4", "user copies");
    r.trap("__put_user_8", "user copies");
    // capabilities
    r.trap("capable", "capabilities");
    // module autoloading
    r.trap("__request_module", "module autoloading");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Write;

    use crate::kernel::symbols::{implemented, lookup, named_traps, trap_subsystem};
    use crate::kernel::Kernel;
    use crate::profile::{KernelProfile, DEBIAN_6_1, DEBIAN_6_12};

    /// Every named trap is a real export (else it could never resolve).
    #[test]
    fn every_named_trap_is_a_real_export() {
        for (name, _) in named_traps().unwrap() {
            assert!(
                [&DEBIAN_6_1, &DEBIAN_6_12]
                    .iter()
                    .any(|p| p.export(name).is_some()),
                "trap {name} is exported by no kernel kload serves"
            );
            assert!(
                lookup(name).unwrap().is_some(),
                "trap {name} does not resolve"
            );
        }
    }

    /// What kload does with one symbol on one kernel.
    fn status(k: &Kernel, p: &KernelProfile, name: &str, kind: &str, provider: &str) -> String {
        if provider != "vmlinux" {
            return format!("missing (provided by module {provider})");
        }
        if p.export(name).is_none() {
            return "missing (not exported by this kernel)".into();
        }
        if let Some(sub) = trap_subsystem(name).unwrap() {
            return format!("named trap ({sub})");
        }
        let resolves = k.resolve_kernel_symbol(name).unwrap().is_some();
        match (resolves, kind) {
            (true, "function") => "implemented".into(),
            (true, _) => format!("data ({kind})"),
            (false, _) if kind != "function" => format!("missing ({kind})"),
            (false, _) => "missing".into(),
        }
    }

    fn section(out: &mut String, p: &'static KernelProfile, list: &str) {
        let k = Kernel::boot(p).unwrap();
        let rows: Vec<(&str, &str, &str, &str)> = list
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0], f[1], f[2], f[3])
            })
            .collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut traps: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let mut table = String::new();
        for (i, (name, uses, kind, provider)) in rows.iter().enumerate() {
            let st = status(&k, p, name, kind, provider);
            let class = ["implemented", "data", "named trap", "missing"]
                .into_iter()
                .find(|c| st.starts_with(c))
                .unwrap_or("missing");
            *counts.entry(class).or_default() += 1;
            if let Some(sub) = trap_subsystem(name).unwrap() {
                traps.entry(sub.to_owned()).or_default().push(name);
            }
            writeln!(table, "| {} | `{name}` | {uses} | {st} |", i + 1).unwrap();
        }
        writeln!(out, "## {} ({})\n", p.series, p.release).unwrap();
        let total = rows.len();
        let parts: Vec<String> = ["implemented", "data", "named trap", "missing"]
            .iter()
            .map(|c| format!("{c}: {}", counts.get(c).copied().unwrap_or(0)))
            .collect();
        writeln!(
            out,
            "Of the {total} most-used symbols: {}.\n",
            parts.join(", ")
        )
        .unwrap();
        writeln!(out, "Named traps by subsystem:\n").unwrap();
        for (sub, names) in &traps {
            writeln!(out, "- {sub} ({}): {}", names.len(), names.join(", ")).unwrap();
        }
        writeln!(
            out,
            "\n| rank | symbol | modules using it | kload |\n|---|---|---|---|"
        )
        .unwrap();
        out.push_str(&table);
        out.push('\n');
    }

    fn generate() -> String {
        let mut out = String::from(
            "# Kernel symbols\n\n\
             What kload does with the 300 symbols Debian's modules use most, per\n\
             kernel (ranked by how many modules use them; src/kernel/top-symbols-*.txt,\n\
             extracted by tools/top-symbols.sh from the corpus survey). *implemented*:\n\
             a stub function or raw code; *data*: a data or per-CPU object kload\n\
             builds; *named trap*: resolves, and reports `<subsystem> is not emulated`\n\
             when called (src/kernel/unemulated.rs); *missing*: not resolved, the load\n\
             fails with `Unknown symbol` (or traps with `--allow-missing`).\n\n\
             Generated: `KLOAD_BLESS=1 cargo test --lib symbols_doc_is_current`; the\n\
             test fails when this file is stale.\n\n",
        );
        let implemented_total = implemented().unwrap().len();
        let traps_total = named_traps().unwrap().len();
        writeln!(
            out,
            "Overall kload registers {implemented_total} implemented symbols and {traps_total} named traps.\n"
        )
        .unwrap();
        section(&mut out, &DEBIAN_6_1, include_str!("top-symbols-6.1.txt"));
        section(&mut out, &DEBIAN_6_12, include_str!("top-symbols-6.12.txt"));
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    /// docs/symbols.md is generated from the registrations; it must match.
    #[test]
    fn symbols_doc_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/symbols.md");
        let doc = generate();
        if std::env::var_os("KLOAD_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &doc).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == doc,
            "docs/symbols.md is stale: regenerate it with \
             KLOAD_BLESS=1 cargo test --lib symbols_doc_is_current"
        );
    }
}
