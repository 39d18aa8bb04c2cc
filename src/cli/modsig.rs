//! The signature fields modinfo shows for a signed module (`sig_id`,
//! `signer`, `sig_key`, `sig_hashalgo`, `signature`), read as Debian's
//! libkmod (built with OpenSSL) reads them: the `module_signature` trailer,
//! then, for PKCS#7, the first SignerInfo: the issuer's common name, the
//! serial number, the digest algorithm and the encrypted digest. Anything
//! libkmod would fail to parse yields no fields, as with libkmod.

const MAGIC: &[u8] = b"~Module signature appended~\n";
const PKEY_ALGO: [&str; 2] = ["DSA", "RSA"];
const PKEY_HASH: [&str; 9] = [
    "md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3",
];
const PKEY_ID: [&str; 3] = ["PGP", "X509", "PKCS#7"];

/// The fields, in libkmod's order; empty when the image is not signed.
pub fn entries(image: &[u8]) -> Vec<(String, String)> {
    parse(image).unwrap_or_default()
}

fn parse(image: &[u8]) -> Option<Vec<(String, String)>> {
    let size = image.len().checked_sub(MAGIC.len())?;
    if &image[size..] != MAGIC {
        return None;
    }
    let size = size.checked_sub(12)?;
    let ms = &image[size..size + 12];
    let (algo, hash, id_type) = (ms[0] as usize, ms[1] as usize, ms[2] as usize);
    let (signer_len, key_id_len) = (ms[3] as usize, ms[4] as usize);
    let sig_len = u32::from_be_bytes([ms[8], ms[9], ms[10], ms[11]]) as usize;
    if algo >= PKEY_ALGO.len() || hash >= PKEY_HASH.len() || id_type >= PKEY_ID.len() {
        return None;
    }
    if sig_len == 0 || size < sig_len + signer_len + key_id_len {
        return None;
    }
    let sig = &image[size - sig_len..size];
    let (signer, key_id, hash_algo, sig) = if id_type == 2 {
        pkcs7(sig)?
    } else {
        let key_end = size - sig_len;
        let signer_end = key_end - key_id_len;
        (
            String::from_utf8_lossy(&image[signer_end - signer_len..signer_end]).into_owned(),
            image[signer_end..key_end].to_vec(),
            PKEY_HASH[hash].to_owned(),
            sig.to_vec(),
        )
    };
    Some(vec![
        ("sig_id".into(), PKEY_ID[id_type].into()),
        ("signer".into(), signer),
        ("sig_key".into(), hex(&key_id)),
        ("sig_hashalgo".into(), hash_algo),
        ("signature".into(), hex(&sig)),
    ])
}

/// libkmod's hex: `XX:XX...`, a line break and two tabs after every 20 bytes.
fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, b) in bytes.iter().enumerate() {
        s.push_str(&format!("{b:02X}"));
        if i + 1 < bytes.len() {
            s.push(':');
            if (i + 1) % 20 == 0 {
                s.push_str("\n\t\t");
            }
        }
    }
    s
}

/// One DER element: tag, contents, and what follows it.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None; // indefinite or oversized length
        }
        let len = rest[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The contents of an element that must have `tag`, and the rest.
fn expect(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, c, r) = tlv(b)?;
    (t == tag).then_some((c, r))
}

const SEQ: u8 = 0x30;
const SET: u8 = 0x31;
const INT: u8 = 0x02;
const OID: u8 = 0x06;
const OCTETS: u8 = 0x04;

/// signer, key id, digest algorithm, signature of the first SignerInfo.
fn pkcs7(der: &[u8]) -> Option<(String, Vec<u8>, String, Vec<u8>)> {
    let (ci, _) = expect(der, SEQ)?;
    let (_, ci) = expect(ci, OID)?; // pkcs7-signedData
    let (explicit, _) = expect(ci, 0xa0)?;
    let (sd, _) = expect(explicit, SEQ)?;
    let (_, sd) = expect(sd, INT)?; // version
    let (_, sd) = expect(sd, SET)?; // digestAlgorithms
    let (_, mut sd) = expect(sd, SEQ)?; // contentInfo
                                        // Optional certificates [0] and crls [1], then signerInfos.
    loop {
        let (tag, _, rest) = tlv(sd)?;
        if tag == SET {
            break;
        }
        if tag != 0xa0 && tag != 0xa1 {
            return None;
        }
        sd = rest;
    }
    let (infos, _) = expect(sd, SET)?;
    let (si, _) = expect(infos, SEQ)?;
    let (_, si) = expect(si, INT)?; // version
    let (ias, si) = expect(si, SEQ)?; // issuerAndSerialNumber
    let (issuer, ias) = expect(ias, SEQ)?;
    let (serial, _) = expect(ias, INT)?;
    let (dig_alg, mut si) = expect(si, SEQ)?;
    let (dig_oid, _) = expect(dig_alg, OID)?;
    if let Some((0xa0, _, rest)) = tlv(si) {
        si = rest; // authenticatedAttributes
    }
    let (_, si) = expect(si, SEQ)?; // digestEncryptionAlgorithm
    let (sig, _) = expect(si, OCTETS)?;
    Some((
        common_name(issuer)?,
        magnitude(serial),
        hash_name(&oid_text(dig_oid)?),
        sig.to_vec(),
    ))
}

/// The issuer's CN; like libkmod, the last attribute when there is no CN.
fn common_name(mut name: &[u8]) -> Option<String> {
    let mut found: Option<&[u8]> = None;
    while !name.is_empty() {
        let (rdn, rest) = expect(name, SET)?;
        name = rest;
        let (atv, _) = expect(rdn, SEQ)?;
        let (oid, atv) = expect(atv, OID)?;
        let (_, value, _) = tlv(atv)?;
        found = Some(value);
        if oid == [0x55, 0x04, 0x03] {
            break;
        }
    }
    let v = found.unwrap_or(&[]);
    let v = v.split(|&b| b == 0).next().unwrap_or(&[]);
    Some(String::from_utf8_lossy(v).into_owned())
}

/// The unsigned magnitude of a DER INTEGER, without leading zeros
/// (`BN_bn2bin` of the serial).
fn magnitude(int: &[u8]) -> Vec<u8> {
    let mut v = int.to_vec();
    if v.first().is_some_and(|&b| b & 0x80 != 0) {
        // Negative: two's complement.
        let mut carry = true;
        for b in v.iter_mut().rev() {
            *b = !*b;
            if carry {
                let (n, c) = b.overflowing_add(1);
                *b = n;
                carry = c;
            }
        }
    }
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    v.split_off(start)
}

/// Dotted text of an OID's contents.
fn oid_text(oid: &[u8]) -> Option<String> {
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for &b in oid {
        acc = acc.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    let first = *arcs.first()?;
    let (a, b) = if first < 80 {
        (first / 40, first % 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for x in &arcs[1..] {
        s.push_str(&format!(".{x}"));
    }
    Some(s)
}

/// OpenSSL's long name of a digest OID (`OBJ_obj2txt`), else the OID.
fn hash_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.2.5" => "md5",
        "1.3.14.3.2.26" => "sha1",
        "1.2.156.10197.1.401" => "sm3",
        _ => match oid.strip_prefix("2.16.840.1.101.3.4.2.") {
            Some("1") => "sha256",
            Some("2") => "sha384",
            Some("3") => "sha512",
            Some("4") => "sha224",
            Some("5") => "sha512-224",
            Some("6") => "sha512-256",
            Some("7") => "sha3-224",
            Some("8") => "sha3-256",
            Some("9") => "sha3-384",
            Some("10") => "sha3-512",
            _ => return oid.to_owned(),
        },
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_wraps_after_twenty_bytes() {
        assert_eq!(hex(&[0xab; 3]), "AB:AB:AB");
        let h = hex(&[1; 21]);
        assert_eq!(h, format!("{}\n\t\t01", "01:".repeat(20)));
        assert_eq!(hex(&[1; 20]), ["01"; 20].join(":"));
    }

    #[test]
    fn oids_serials_and_garbage() {
        assert_eq!(
            oid_text(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]).unwrap(),
            "2.16.840.1.101.3.4.2.1"
        );
        assert_eq!(hash_name("2.16.840.1.101.3.4.2.1"), "sha256");
        assert_eq!(magnitude(&[0x00, 0x9f, 0x01]), [0x9f, 0x01]);
        assert_eq!(magnitude(&[0xff]), [0x01]);
        assert!(entries(b"no signature").is_empty());
        let mut junk = vec![0u8; 40];
        junk.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
        junk.extend_from_slice(MAGIC);
        assert!(
            entries(&junk).is_empty(),
            "unparsable PKCS#7 gives no fields"
        );
    }
}
