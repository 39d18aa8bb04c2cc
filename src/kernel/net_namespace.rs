//! `init_net`, the initial network namespace (net/core/net_namespace.c).
//! Networking is not emulated (its functions are named traps), but modules
//! pass `&init_net` to those functions, so the object exists: zeroed, of
//! the kernel's `sizeof(struct net)`.

use super::symbols::{Access, DataCtx, Registry};
use crate::profile::MissingField;

fn init_net(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    Ok(vec![0u8; ctx.profile.field("sizeof(struct net)")? as usize])
}

pub(super) fn register(r: &mut Registry) {
    r.data("init_net", Access::ReadWrite, init_net);
}
