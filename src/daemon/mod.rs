//! The session daemon: one long-lived emulated kernel per user and session,
//! reached over a Unix socket, so that `kload insmod` and `kload rmmod` in
//! separate processes act on the same kernel.
//!
//! - `protocol`: the requests and replies, as library types.
//! - `controller`: turns each request into a reply against one kernel.
//! - `wire`: their byte encoding on the socket.
//! - `session`: the runtime directory and per-session file names.
//! - `server`: the daemon's accept loop; `client`: connect (and start the
//!   daemon on first use), then call.
//! - `sys`: the few raw system calls (peer credentials, flock, poll).

pub mod client;
pub mod controller;
pub mod protocol;
pub mod server;
pub mod session;
pub mod sys;
pub mod wire;
