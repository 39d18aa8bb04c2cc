//! Network addresses: `%pI`/`%pi` (IPv4, IPv6 and sockaddr forms), `%pM`/`%pm`
//! MAC addresses and `%pNF` netdev features.

use std::fmt::Write as _;

use super::ctype::is_alpha;
use super::{
    at, be_u16, le_u16, le_u32, le_u64, number, push_hex_byte, put_string, special_hex, Spec,
    Writer,
};

// --- %pI %pi ------------------------------------------------------------------

impl Writer<'_> {
    pub(super) fn ip_addr_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        match at(ext, 1) {
            b'6' => {
                let Some(addr) = self.read(ptr, 16, spec) else {
                    return;
                };
                let s = if at(ext, 0) == b'I' && at(ext, 2) == b'c' {
                    ip6_compressed(&addr)
                } else {
                    ip6_full(&addr, at(ext, 0) == b'I')
                };
                put_string(&mut self.out, &s, spec);
            }
            b'4' => {
                let Some(addr) = self.read(ptr, 4, spec) else {
                    return;
                };
                let s = ip4_string(&addr, at(ext, 0), at(ext, 2));
                put_string(&mut self.out, &s, spec);
            }
            b'S' => self.sockaddr_string(ptr, spec, ext),
            _ if at(ext, 0) == b'i' => self.error(b"(%pi?)", spec),
            _ => self.error(b"(%pI?)", spec),
        }
    }

    /// struct sockaddr_in / sockaddr_in6, chosen by sa_family (AF_INET = 2,
    /// AF_INET6 = 10). Option letters follow "IS" up to the first non-letter.
    fn sockaddr_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let Some(family) = self.read(ptr, 2, spec) else {
            return;
        };
        let options: Vec<u8> = ext
            .iter()
            .skip(2)
            .copied()
            .take_while(|&c| is_alpha(c))
            .collect();
        let s = match le_u16(&family, 0) {
            2 => {
                let Some(sa) = self.read(ptr, 8, spec) else {
                    return;
                };
                sockaddr_in_string(&sa, at(ext, 0), &options, spec)
            }
            10 => {
                let Some(sa) = self.read(ptr, 28, spec) else {
                    return;
                };
                sockaddr_in6_string(&sa, at(ext, 0), &options, spec)
            }
            _ => return self.error(b"(einval)", spec),
        };
        put_string(&mut self.out, &s, spec);
    }
}

/// Dotted quad; 'i' zero-pads each octet to three digits. `order` 'h'
/// (host, little-endian here) and 'l' print the bytes reversed.
fn ip4_string(addr: &[u8], kind: u8, order: u8) -> Vec<u8> {
    let mut bytes = [at(addr, 0), at(addr, 1), at(addr, 2), at(addr, 3)];
    if matches!(order, b'h' | b'l') {
        bytes.reverse();
    }
    let mut s = Vec::with_capacity(15);
    for (i, byte) in bytes.iter().enumerate() {
        if kind == b'i' {
            let _ = write!(Sink(&mut s), "{byte:03}");
        } else {
            let _ = write!(Sink(&mut s), "{byte}");
        }
        if i < 3 {
            s.push(b'.');
        }
    }
    s
}

/// Eight 4-digit groups, colon separated only for 'I'.
fn ip6_full(addr: &[u8], colons: bool) -> Vec<u8> {
    let mut s = Vec::with_capacity(39);
    for (i, pair) in addr.chunks(2).take(8).enumerate() {
        for &byte in pair {
            push_hex_byte(&mut s, byte, false);
        }
        if colons && i != 7 {
            s.push(b':');
        }
    }
    s
}

/// RFC 5952 style: the first longest run (of at least two) zero groups
/// becomes "::"; IPv4-mapped and ISATAP addresses end in a dotted quad.
fn ip6_compressed(addr: &[u8]) -> Vec<u8> {
    let words: Vec<u16> = (0..8).map(|i| be_u16(addr, 2 * i)).collect();
    let mapped = words[..5].iter().all(|&w| w == 0) && words[5] == 0xffff;
    let isatap = (at(addr, 8) | 0x02) == 0x02 && at(addr, 9) == 0 && words[5] == 0x5efe;
    let use_ipv4 = mapped || isatap;
    let range = if use_ipv4 { 6 } else { 8 };
    let (mut longest, mut colonpos) = (1, None);
    for i in 0..range {
        let zeros = words[i..range].iter().take_while(|&&w| w == 0).count();
        if zeros > longest {
            longest = zeros;
            colonpos = Some(i);
        }
    }
    let mut s = Vec::with_capacity(45);
    let mut need_colon = false;
    let mut i = 0;
    while i < range {
        if colonpos == Some(i) {
            if need_colon || i == 0 {
                s.push(b':');
            }
            s.push(b':');
            need_colon = false;
            i += longest;
            continue;
        }
        if need_colon {
            s.push(b':');
        }
        let _ = write!(Sink(&mut s), "{:x}", words[i]);
        need_colon = true;
        i += 1;
    }
    if use_ipv4 {
        if need_colon {
            s.push(b':');
        }
        s.extend(ip4_string(addr.get(12..16).unwrap_or(&[]), b'I', 0));
    }
    s
}

/// The port is formatted with the caller's own spec, as the kernel does.
fn sockaddr_in_string(sa: &[u8], kind: u8, options: &[u8], spec: Spec) -> Vec<u8> {
    let mut order = 0;
    for &c in options {
        if matches!(c, b'h' | b'l' | b'n' | b'b') {
            order = c;
        }
    }
    let mut s = ip4_string(sa.get(4..8).unwrap_or(&[]), kind, order);
    if options.contains(&b'p') {
        s.push(b':');
        number(&mut s, u64::from(be_u16(sa, 2)), spec);
    }
    s
}

/// Port, flow label and scope id reuse the caller's spec; any of them puts
/// the address in brackets.
fn sockaddr_in6_string(sa: &[u8], kind: u8, options: &[u8], spec: Spec) -> Vec<u8> {
    let has = |c: u8| options.contains(&c);
    let bracket = has(b'p') || has(b's') || has(b'f');
    let addr = sa.get(8..24).unwrap_or(&[]);
    let mut s = Vec::with_capacity(64);
    if bracket {
        s.push(b'[');
    }
    if kind == b'I' && has(b'c') {
        s.extend(ip6_compressed(addr));
    } else {
        s.extend(ip6_full(addr, kind == b'I'));
    }
    if bracket {
        s.push(b']');
    }
    if has(b'p') {
        s.push(b':');
        number(&mut s, u64::from(be_u16(sa, 2)), spec);
    }
    if has(b'f') {
        s.push(b'/');
        number(
            &mut s,
            u64::from(le_u32(sa, 4).swap_bytes() & 0x0fff_ffff),
            spec,
        );
    }
    if has(b's') {
        s.push(b'%');
        number(&mut s, u64::from(le_u32(sa, 24)), spec);
    }
    s
}

/// Lets `write!` append to a byte vector.
struct Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// --- %pM %pm ----------------------------------------------------------------

impl Writer<'_> {
    pub(super) fn mac_address_string(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let Some(mut mac) = self.checked_read(ptr, 6, spec) else {
            return;
        };
        let separator = if at(ext, 1) == b'F' { b'-' } else { b':' };
        if at(ext, 1) == b'R' {
            mac.reverse();
        }
        let mut s = Vec::with_capacity(17);
        for (i, &byte) in mac.iter().enumerate() {
            push_hex_byte(&mut s, byte, false);
            if at(ext, 0) == b'M' && i != 5 {
                s.push(separator);
            }
        }
        put_string(&mut self.out, &s, spec);
    }
}

// --- %pN --------------------------------------------------------------------

impl Writer<'_> {
    pub(super) fn netdev_bits(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        if !self.check_pointer(ptr, spec) {
            return;
        }
        if at(ext, 1) != b'F' {
            return self.error(b"(%pN?)", spec);
        }
        if let Some(raw) = self.read(ptr, 8, spec) {
            special_hex(&mut self.out, le_u64(&raw, 0), 8);
        }
    }
}
