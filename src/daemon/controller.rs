//! The session kernel's request handler: one `Controller` owns the emulated
//! kernel (booted on the first insmod, for that module's profile) and turns
//! each `Request` into a `Reply`. The daemon calls it for every client, one
//! at a time; tests call it directly.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::protocol::{LogRecord, ModuleRow, Reply, Request};
use crate::kernel::{fs, Kernel};
use crate::module::{self, LoadOptions, Missing, ModuleImage};

/// Owns one emulated kernel.
#[derive(Default)]
pub struct Controller {
    kernel: Option<Arc<Kernel>>,
    /// `KLOAD_KERNEL`, if set.
    pinned: Option<String>,
    /// The `dmesg -w` readers (the kernel's console feeds them).
    followers: Arc<LogFeed>,
}

/// The followers of the kernel log: each gets every record stored after
/// it subscribed. A follower whose receiver is gone (its client hung up)
/// is dropped at the next record.
#[derive(Default)]
pub struct LogFeed {
    senders: Mutex<Vec<Sender<LogRecord>>>,
}

impl LogFeed {
    fn subscribe(&self) -> Receiver<LogRecord> {
        let (tx, rx) = channel();
        self.senders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    fn publish(&self, r: &crate::kernel::printk::Record) {
        let rec = log_record(r);
        self.senders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|tx| tx.send(rec.clone()).is_ok());
    }

    /// How many followers are subscribed.
    pub fn count(&self) -> usize {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// What `dmesg -w` gets: the log so far (`Reply::Log`), then the records
/// of `rx` whose sequence number is above `after`.
pub struct Follow {
    pub first: Reply,
    pub rx: Receiver<LogRecord>,
    pub after: Option<u64>,
}

fn log_record(r: &crate::kernel::printk::Record) -> LogRecord {
    LogRecord {
        seq: r.seq,
        ts_nsec: r.ts_nsec,
        level: r.level,
        text: r.text.clone(),
    }
}

impl Controller {
    /// A controller whose kernel boots on the first insmod, for that
    /// module's profile, unless `KLOAD_KERNEL` names one (a series such as
    /// `6.12`, or a release): then the session's kernel is that one, as a
    /// real machine's is, and modules built for another are refused by its
    /// version checks.
    pub fn new() -> Controller {
        let pinned = std::env::var("KLOAD_KERNEL").ok().filter(|v| !v.is_empty());
        Controller {
            kernel: None,
            pinned,
            followers: Arc::default(),
        }
    }

    /// The profile `KLOAD_KERNEL` asks for.
    fn pinned_profile(&self) -> Option<Result<&'static crate::profile::KernelProfile, String>> {
        let want = self.pinned.as_deref()?;
        let found = crate::profile::PROFILES
            .iter()
            .copied()
            .find(|p| p.series == want || p.release == want);
        Some(found.ok_or_else(|| {
            format!("KLOAD_KERNEL={want}: no kernel profile with that series or release")
        }))
    }

    /// The kernel, once the first module booted it.
    pub fn kernel(&self) -> Option<&Arc<Kernel>> {
        self.kernel.as_ref()
    }

    pub fn handle(&mut self, req: Request) -> Reply {
        match req {
            Request::Ping => Reply::Pong {
                version: super::protocol::PROTOCOL_VERSION,
                pid: std::process::id(),
            },
            Request::Insmod {
                file,
                image,
                args,
                flags,
            } => self.insmod(&file, image, args, flags),
            Request::Rmmod { name, force } => match &self.kernel {
                Some(k) => match module::delete_module(k, &name, force) {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error {
                        errno: e.errno(),
                        detail: e.to_string(),
                    },
                },
                None => Reply::Error {
                    errno: libc::ENOENT,
                    detail: format!("Module {name} is not currently loaded"),
                },
            },
            Request::Lsmod => Reply::Modules(
                self.kernel
                    .as_ref()
                    .map(|k| module_rows(k))
                    .unwrap_or_default(),
            ),
            Request::Modinfo { name } => self.modinfo(&name),
            Request::Dmesg {
                clear,
                follow: false,
            } => Reply::Log(self.dmesg(clear)),
            // The server streams a follow itself (`Controller::follow`);
            // handled here, it is one read.
            Request::Dmesg {
                clear,
                follow: true,
            } => self.follow(clear).first,
            Request::Read { path } => match fs::read(self.kernel.as_ref(), &path) {
                Ok(text) => Reply::Text(text),
                Err(e) => Reply::Error {
                    errno: e.errno(),
                    detail: e.to_string(),
                },
            },
            Request::Write { path, data } => match fs::write(self.kernel.as_ref(), &path, &data) {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::Error {
                    errno: e.errno(),
                    detail: e.to_string(),
                },
            },
            Request::Shutdown => Reply::Ok,
        }
    }

    fn insmod(
        &mut self,
        file: &str,
        image: Vec<u8>,
        args: String,
        flags: super::protocol::InsmodFlags,
    ) -> Reply {
        let err = |e: module::LoadError| Reply::Error {
            errno: e.errno(),
            detail: e.to_string(),
        };
        let image = match ModuleImage::from_bytes(file, image) {
            Ok(i) => i,
            Err(e) => return err(e),
        };
        let kernel = match &self.kernel {
            Some(k) => Arc::clone(k),
            None => {
                let profile = match self.pinned_profile() {
                    Some(Ok(p)) => p,
                    Some(Err(detail)) => {
                        return Reply::Error {
                            errno: libc::EINVAL,
                            detail,
                        }
                    }
                    None => match crate::profile_for_image(&image) {
                        Ok((p, _)) => p,
                        Err(e) => return err(e),
                    },
                };
                match Kernel::boot(profile) {
                    Ok(k) => {
                        let feed = Arc::clone(&self.followers);
                        k.log.set_console(Some(Arc::new(move |r| feed.publish(r))));
                        Arc::clone(self.kernel.insert(k))
                    }
                    Err(e) => {
                        return Reply::Error {
                            errno: libc::ENOMEM,
                            detail: e.to_string(),
                        }
                    }
                }
            }
        };
        let opts = LoadOptions {
            args,
            missing: if flags.allow_missing {
                Missing::Trap
            } else {
                Missing::Fail
            },
            ignore_vermagic: flags.force_vermagic,
            ignore_modversions: flags.force_modversion,
        };
        match module::load_module(&kernel, image, &opts) {
            Ok(_) => Reply::Ok,
            Err(e @ module::LoadError::InitKilled { .. }) => Reply::Killed {
                detail: e.to_string(),
            },
            Err(e) => err(e),
        }
    }

    fn modinfo(&self, name: &str) -> Reply {
        let found = self
            .kernel
            .as_ref()
            .and_then(|k| k.module_list().into_iter().find(|m| m.name == name));
        match found {
            Some(m) => Reply::Modinfo {
                filename: m.file.clone(),
                entries: m.modinfo.entries().to_vec(),
            },
            None => Reply::Error {
                errno: libc::ENOENT,
                detail: format!("Module {name} not found."),
            },
        }
    }

    /// `dmesg -w`: subscribe to new records first, then read the log so
    /// far (finished records only: an open one arrives when it ends), so
    /// that nothing falls between the two; the follower skips what the
    /// first reply already holds.
    pub fn follow(&self, clear: bool) -> Follow {
        let rx = self.followers.subscribe();
        let records: Vec<LogRecord> = self
            .kernel
            .as_ref()
            .map(|k| {
                let r = k.log.finished_records();
                if clear {
                    k.log.clear();
                }
                r.iter().map(log_record).collect()
            })
            .unwrap_or_default();
        Follow {
            after: records.last().map(|r| r.seq),
            first: Reply::Log(records),
            rx,
        }
    }

    /// The `dmesg -w` readers.
    pub fn followers(&self) -> &LogFeed {
        &self.followers
    }

    fn dmesg(&self, clear: bool) -> Vec<LogRecord> {
        let Some(k) = &self.kernel else {
            return Vec::new();
        };
        let records = k.log.records();
        if clear {
            k.log.clear();
        }
        records.iter().map(log_record).collect()
    }
}

/// lsmod's rows, newest module first.
pub fn module_rows(k: &Kernel) -> Vec<ModuleRow> {
    k.module_list()
        .iter()
        .map(|m| ModuleRow {
            name: m.name.clone(),
            size: m.core_size(),
            refcnt: m.refcount(),
            holders: m.holders(),
            state: m.state().name().to_owned(),
            taints: crate::kernel::panic::module_flags(m.taints),
        })
        .collect()
}
