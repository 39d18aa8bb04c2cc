//! The roots of the resource trees (kernel/resource.c): `ioport_resource`
//! and `iomem_resource`. kload emulates no I/O space, so both trees are
//! empty; claiming a region (`__request_region`) is a named trap (IO).
//! The roots carry no name string (`name` is NULL): kload's data objects
//! cannot point at one another, and the kernel's roots are only ever
//! printed through their children.

use super::symbols::{Access, DataCtx, Registry};
use crate::profile::MissingField;

const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_MEM: u64 = 0x200;

fn root(ctx: &DataCtx<'_>, end: u64, flags: u64) -> Result<Vec<u8>, MissingField> {
    let p = ctx.profile;
    let mut b = vec![0u8; p.field("sizeof(struct resource)")? as usize];
    for (field, v) in [
        ("resource.start", 0),
        ("resource.end", end),
        ("resource.flags", flags),
    ] {
        let off = p.field(field)? as usize;
        b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
    Ok(b)
}

/// `ioport_resource`: 0..IO_SPACE_LIMIT (0xffff on x86).
fn ioport_resource(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    root(ctx, 0xffff, IORESOURCE_IO)
}

/// `iomem_resource`: 0..-1 (the kernel narrows it to the CPU's physical
/// address width at boot; kload keeps the initial value).
fn iomem_resource(ctx: &DataCtx<'_>) -> Result<Vec<u8>, MissingField> {
    root(ctx, u64::MAX, IORESOURCE_MEM)
}

pub(super) fn register(r: &mut Registry) {
    r.data("ioport_resource", Access::ReadWrite, ioport_resource);
    r.data("iomem_resource", Access::ReadWrite, iomem_resource);
}
