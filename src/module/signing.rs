//! The appended module signature (kernel/module/signing.c, `module_sig_check`).
//!
//! A signed module ends with `struct module_signature` (12 bytes, `sig_len`
//! big-endian) and the marker `~Module signature appended~\n`, preceded by the
//! PKCS#7 blob. kload recognises and strips the trailer. It holds no keys, so
//! it treats every module as the kernel treats one signed by an unknown key:
//! allowed, but unsigned (`sig_ok == false`, taint E).

use super::error::{LoadError, Location};

pub const MODULE_SIG_STRING: &[u8] = b"~Module signature appended~\n";
const SIZEOF_MODULE_SIGNATURE: usize = 12;
const PKEY_ID_PKCS7: u8 = 2;

/// What the trailer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Length of the PKCS#7 blob.
    pub sig_len: usize,
    /// Offset in the image where the signed payload (the ELF file) ends.
    pub payload_len: usize,
}

/// Find and validate an appended signature; `Ok(None)` when there is none.
///
/// Checks, as `mod_check_sig` does:
/// - the marker is followed by nothing;
/// - `struct module_signature` and the blob fit in front of the marker;
/// - the signature is PKCS#7 (`id_type` 2) and every other field is zero.
pub fn module_sig_check(file: &str, image: &[u8]) -> Result<Option<Signature>, LoadError> {
    let Some(before_marker) = image.len().checked_sub(MODULE_SIG_STRING.len()) else {
        return Ok(None);
    };
    if &image[before_marker..] != MODULE_SIG_STRING {
        return Ok(None);
    }
    let bad = |offset: usize, detail: &str| LoadError::Signature {
        at: Location::at(file, offset as u64),
        detail: detail.to_owned(),
    };
    let ms_off = before_marker
        .checked_sub(SIZEOF_MODULE_SIGNATURE)
        .ok_or_else(|| bad(0, "struct module_signature does not fit before the marker"))?;
    let ms = &image[ms_off..before_marker];
    let sig_len = u32::from_be_bytes([ms[8], ms[9], ms[10], ms[11]]) as usize;
    if ms[2] != PKEY_ID_PKCS7 {
        return Err(bad(ms_off, "not signed with expected PKCS#7 message"));
    }
    if ms[0] != 0 || ms[1] != 0 || ms[3] != 0 || ms[4] != 0 || ms[5..8] != [0, 0, 0] {
        return Err(bad(
            ms_off,
            "PKCS#7 signature info has unexpected non-zero params",
        ));
    }
    let payload_len = ms_off.checked_sub(sig_len).ok_or_else(|| {
        bad(
            ms_off,
            &format!("signature length {sig_len} is larger than the file"),
        )
    })?;
    Ok(Some(Signature {
        sig_len,
        payload_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(payload: &[u8], sig: &[u8], id_type: u8) -> Vec<u8> {
        let mut v = payload.to_vec();
        v.extend_from_slice(sig);
        v.extend_from_slice(&[0, 0, id_type, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&(sig.len() as u32).to_be_bytes());
        v.extend_from_slice(MODULE_SIG_STRING);
        v
    }

    #[test]
    fn strips_a_pkcs7_trailer() {
        let img = signed(b"\x7fELFpayload", b"blob", PKEY_ID_PKCS7);
        let sig = module_sig_check("m.ko", &img).unwrap().unwrap();
        assert_eq!(sig.payload_len, 11);
        assert_eq!(sig.sig_len, 4);
    }

    #[test]
    fn unsigned_image_has_no_signature() {
        assert_eq!(module_sig_check("m.ko", b"\x7fELF....").unwrap(), None);
    }

    #[test]
    fn rejects_oversized_sig_len_and_wrong_type() {
        let mut img = signed(b"x", b"blob", PKEY_ID_PKCS7);
        let n = img.len() - MODULE_SIG_STRING.len() - 4;
        img[n..n + 4].copy_from_slice(&1000u32.to_be_bytes());
        assert!(module_sig_check("m.ko", &img).is_err());
        let img = signed(b"x", b"blob", 1);
        assert!(module_sig_check("m.ko", &img).is_err());
    }
}
