//! kload's integration tests: real `.ko` files built by kbuild from
//! sample-modules/, run through the `kload` binary or the library.

mod beyond;
mod check;
mod common;
mod corelib;
mod explain;
mod faults;
mod faults2;
mod images;
mod malformed;
mod params;
mod replay;
mod run;
mod semantics;
mod slab;
mod tasks;
