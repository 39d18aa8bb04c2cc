//! kload's integration tests: real `.ko` files built by kbuild from
//! sample-modules/, run through the `kload` binary or the library.

mod common;
mod explain;
mod faults;
mod images;
mod malformed;
mod params;
mod replay;
mod run;
mod semantics;
mod slab;
