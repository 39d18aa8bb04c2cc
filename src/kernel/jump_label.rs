//! Static keys modules test inline (kernel/jump_label.c). kload does not
//! patch `__jump_table` sites, so a module's code runs in each key's
//! compiled-in default state; these keys are false on a machine without
//! the features they guard (HugeTLB vmemmap optimisation, ZONE_DEVICE
//! pages), which is what kload emulates.

use super::symbols::{Access, DataCtx, Registry};
use crate::profile::MissingField;

/// A disabled `struct static_key` (enabled == 0, no entries).
fn disabled_key(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(vec![
        0u8;
        ctx.profile.field("sizeof(struct static_key)")? as usize
    ])
}

pub(super) fn register(r: &mut Registry) {
    r.data(
        "hugetlb_optimize_vmemmap_key",
        Access::ReadWrite,
        disabled_key,
    );
    r.data("devmap_managed_key", Access::ReadWrite, disabled_key);
    // Reached from put_page only when devmap_managed_key is on; it never is.
    r.trap("__put_devmap_managed_page_refs", "ZONE_DEVICE pages");
}
