//! Reading a module file: map it, decompress it, strip its signature. The
//! result is the plain ELF image that `elf_validity_check` sees.

use std::fs::File;
use std::ops::Deref;
use std::path::Path;

use memmap2::Mmap;

use super::decompress::{decompress, Compression};
use super::error::LoadError;
use super::signing::{module_sig_check, Signature};

enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

/// A module image, owned, with the signature trailer (if any) cut off.
pub struct ModuleImage {
    /// The file name as the user gave it, for messages.
    pub file: String,
    bytes: Bytes,
    len: usize,
    pub compression: Option<Compression>,
    pub signature: Option<Signature>,
}

impl ModuleImage {
    /// Map `path` and prepare its ELF image.
    pub fn open(path: &Path) -> Result<ModuleImage, LoadError> {
        let file = path.display().to_string();
        let io = |source| LoadError::Io {
            file: file.clone(),
            source,
        };
        let f = File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        if len == 0 {
            return ModuleImage::from_bytes(&file, Vec::new());
        }
        // SAFETY: the mapping is private and read-only; kload never writes to
        // the file, and a concurrent writer can at worst change the bytes we
        // validate, never the memory safety of reading them as plain bytes.
        let map = unsafe { Mmap::map(&f) }.map_err(io)?;
        ModuleImage::finish(file, Bytes::Mapped(map))
    }

    /// Wrap an image already in memory (tests, benchmarks, the daemon).
    pub fn from_bytes(file: &str, bytes: Vec<u8>) -> Result<ModuleImage, LoadError> {
        ModuleImage::finish(file.to_owned(), Bytes::Owned(bytes))
    }

    fn finish(file: String, bytes: Bytes) -> Result<ModuleImage, LoadError> {
        let raw: &[u8] = match &bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        };
        let compression = Compression::detect(raw);
        let bytes = match compression {
            Some(c) => Bytes::Owned(decompress(&file, c, raw)?),
            None => bytes,
        };
        let plain: &[u8] = match &bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        };
        let signature = module_sig_check(&file, plain)?;
        let len = signature.as_ref().map_or(plain.len(), |s| s.payload_len);
        Ok(ModuleImage {
            file,
            bytes,
            len,
            compression,
            signature,
        })
    }
}

impl Deref for ModuleImage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &self.bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        };
        &all[..self.len]
    }
}
