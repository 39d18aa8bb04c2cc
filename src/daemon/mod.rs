//! The session daemon: one long-lived emulated kernel per user and session,
//! reached over a Unix socket, so that `kload insmod` and `kload rmmod` in
//! separate processes act on the same kernel.

pub mod controller;
pub mod protocol;
