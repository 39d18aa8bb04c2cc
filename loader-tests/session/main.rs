//! Tests of the persistent session kernel: the daemon, its socket, and the
//! kmod-like verbs (`kload insmod`, `rmmod`, `lsmod`, `modinfo`, `modprobe`,
//! `dmesg`, `cat`, `write`, `shutdown`) run as separate processes. Each
//! test has its own runtime directory, so they run in parallel.

mod basics;
mod common;
mod concurrency;
mod modinfo;
mod modprobe;
mod printk;
mod security;
