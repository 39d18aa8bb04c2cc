//! Compressed module images (kernel/module/decompress.c): `.ko.xz`, `.ko.zst`
//! and `.ko.gz` are recognised by their magic bytes, not by their names.

use std::io::Read;

use super::error::LoadError;

/// The compression formats modules are shipped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Xz,
    Zstd,
    Gzip,
}

impl Compression {
    /// Recognise a compressed image by its magic bytes.
    pub fn detect(image: &[u8]) -> Option<Compression> {
        if image.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if image.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if image.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }
}

/// Largest decompressed image accepted: the biggest Debian module is ~20 MiB.
const MAX_IMAGE: u64 = 512 << 20;

/// Decompress a whole image.
pub fn decompress(file: &str, format: Compression, image: &[u8]) -> Result<Vec<u8>, LoadError> {
    let err = |detail: String| LoadError::Decompress {
        file: file.to_owned(),
        format: format.name(),
        detail,
    };
    let mut out = Vec::new();
    match format {
        Compression::Xz => {
            let mut input = image;
            lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| err(e.to_string()))?;
        }
        Compression::Zstd => {
            let dec =
                ruzstd::decoding::StreamingDecoder::new(image).map_err(|e| err(e.to_string()))?;
            dec.take(MAX_IMAGE)
                .read_to_end(&mut out)
                .map_err(|e| err(e.to_string()))?;
        }
        Compression::Gzip => {
            let dec = flate2::read::MultiGzDecoder::new(image);
            dec.take(MAX_IMAGE)
                .read_to_end(&mut out)
                .map_err(|e| err(e.to_string()))?;
        }
    }
    if out.len() as u64 >= MAX_IMAGE {
        return Err(err(format!("decompressed image exceeds {MAX_IMAGE} bytes")));
    }
    Ok(out)
}
