//! IPv4/IPv6/sockaddr, MAC addresses and netdev features.

use super::*;

// ----- IP addresses -----------------------------------------------------

fn ip6(ctx: &mut Ctx, fmt: &str, addr: [u8; 16]) -> String {
    ctx.put(SCRATCH, &addr);
    ctx.s(fmt, &[SCRATCH])
}

fn words(w: [u16; 8]) -> [u8; 16] {
    let mut b = [0u8; 16];
    for (i, x) in w.iter().enumerate() {
        b[2 * i..2 * i + 2].copy_from_slice(&x.to_be_bytes());
    }
    b
}

#[test]
fn ipv4() {
    // %pI4 dotted decimal, %pi4 zero-padded octets; 'h' and 'l' reverse
    // the bytes on little-endian, 'n' and 'b' keep network order.
    let mut ctx = Ctx::new();
    ctx.put(SCRATCH, &[1, 2, 3, 4]);
    let a = [SCRATCH];
    assert_eq!(ctx.s("%pI4", &a), "1.2.3.4");
    assert_eq!(ctx.s("%pi4", &a), "001.002.003.004");
    assert_eq!(ctx.s("%pI4h", &a), "4.3.2.1");
    assert_eq!(ctx.s("%pI4l", &a), "4.3.2.1");
    assert_eq!(ctx.s("%pI4n", &a), "1.2.3.4");
    assert_eq!(ctx.s("%pI4b", &a), "1.2.3.4");
    assert_eq!(ctx.s("%10pI4|", &a), "   1.2.3.4|");
    assert_eq!(ctx.s("%pI4", &[0]), "(null)");
    assert_eq!(ctx.s("%pI5", &a), "(%pI?)");
    assert_eq!(ctx.s("%pi5", &a), "(%pi?)");
    ctx.put(SCRATCH, &[192, 168, 0, 255]);
    assert_eq!(ctx.s("%pi4", &a), "192.168.000.255");
}

#[test]
fn ipv6_full_forms() {
    // %pI6: eight 4-digit groups with colons; %pi6: 32 digits, no colons.
    let mut ctx = Ctx::new();
    let addr: [u8; 16] = core::array::from_fn(|i| i as u8);
    assert_eq!(
        ip6(&mut ctx, "%pI6", addr),
        "0001:0203:0405:0607:0809:0a0b:0c0d:0e0f"
    );
    assert_eq!(
        ip6(&mut ctx, "%pi6", addr),
        "000102030405060708090a0b0c0d0e0f"
    );
    assert_eq!(
        ip6(&mut ctx, "%pi6c", addr),
        "000102030405060708090a0b0c0d0e0f"
    );
}

#[test]
fn ipv6_compressed() {
    // RFC 5952: leading zeros dropped, the first longest run of two or
    // more zero groups becomes "::", single zero groups stay, and
    // v4-mapped / ISATAP addresses end in a dotted quad.
    let mut ctx = Ctx::new();
    let cases: &[([u16; 8], &str)] = &[
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], "2001:db8::1"),
        ([0; 8], "::"),
        ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
        ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
        ([1, 0, 2, 3, 4, 5, 6, 7], "1:0:2:3:4:5:6:7"),
        ([1, 0, 0, 2, 0, 0, 3, 4], "1::2:0:0:3:4"),
        ([1, 0, 0, 2, 0, 0, 0, 4], "1:0:0:2::4"),
        ([1, 0, 1, 0, 0, 0, 0, 0], "1:0:1::"),
        (
            [0xfe80, 0, 0, 0, 0x0202, 0xb3ff, 0xfe1e, 0x8329],
            "fe80::202:b3ff:fe1e:8329",
        ),
        ([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"),
        (
            [0xfe80, 0, 0, 0, 0, 0x5efe, 0x0a00, 0x0001],
            "fe80::5efe:10.0.0.1",
        ),
        (
            [0xfe80, 0, 0, 0, 0x0200, 0x5efe, 0xc0a8, 0x0001],
            "fe80::200:5efe:192.168.0.1",
        ),
        ([0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::102:304"),
    ];
    for (w, want) in cases {
        assert_eq!(ip6(&mut ctx, "%pI6c", words(*w)), *want, "{w:x?}");
    }
}

fn sockaddr_in6(port: u16, flow: u32, addr: [u16; 8], scope: u32) -> Vec<u8> {
    let mut b = vec![10, 0];
    b.extend_from_slice(&port.to_be_bytes());
    b.extend_from_slice(&flow.to_be_bytes());
    b.extend_from_slice(&words(addr));
    b.extend_from_slice(&scope.to_le_bytes());
    b
}

#[test]
fn sockaddr_forms() {
    // %pIS picks v4/v6 from sa_family; 'p' port, 'f' flow label (low 28
    // bits), 's' scope id; any of them brackets a v6 address; 'c'
    // compresses v6; h/l/n/b set v4 byte order; other families: (einval).
    let mut ctx = Ctx::new();
    let v6 = sockaddr_in6(8080, 0x1234_5678, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 5);
    ctx.put(SCRATCH, &v6);
    let a = [SCRATCH];
    assert_eq!(ctx.s("%pISpc", &a), "[2001:db8::1]:8080");
    assert_eq!(ctx.s("%pISc", &a), "2001:db8::1");
    assert_eq!(ctx.s("%pIS", &a), "2001:0db8:0000:0000:0000:0000:0000:0001");
    assert_eq!(ctx.s("%piS", &a), "20010db8000000000000000000000001");
    assert_eq!(ctx.s("%pISpfsc", &a), "[2001:db8::1]:8080/36984440%5");
    assert_eq!(ctx.s("%pISsc", &a), "[2001:db8::1]%5");
    ctx.put(SCRATCH + 0x100, &[2, 0, 0, 80, 192, 168, 0, 1]);
    let b = [SCRATCH + 0x100];
    assert_eq!(ctx.s("%pIS", &b), "192.168.0.1");
    assert_eq!(ctx.s("%pISp", &b), "192.168.0.1:80");
    assert_eq!(ctx.s("%piS", &b), "192.168.000.001");
    assert_eq!(ctx.s("%pISh", &b), "1.0.168.192");
    assert_eq!(ctx.s("%pISpn", &b), "192.168.0.1:80");
    ctx.put(SCRATCH + 0x200, &[1, 0, 0, 0]);
    assert_eq!(ctx.s("%pIS", &[SCRATCH + 0x200]), "(einval)");
    assert_eq!(ctx.s("%pIS", &[0]), "(null)");
}

#[test]
fn sockaddr_port_uses_callers_spec() {
    // The kernel formats the port with the caller's spec, so a width
    // pads both the port and the whole string.
    let mut ctx = Ctx::new();
    ctx.put(SCRATCH, &[2, 0, 0, 80, 10, 0, 0, 1]);
    assert_eq!(ctx.s("%5pISp|", &[SCRATCH]), "10.0.0.1:   80|");
}

// ----- MAC addresses and netdev features ------------------------------------

#[test]
fn mac_addresses() {
    // M: colons, MF: dashes, R: reversed byte order, m: no separators.
    let a = [BYTES];
    check(&[
        ("%pM", &a, "00:01:02:03:04:05"),
        ("%pMR", &a, "05:04:03:02:01:00"),
        ("%pMF", &a, "00-01-02-03-04-05"),
        ("%pm", &a, "000102030405"),
        ("%pmR", &a, "050403020100"),
        ("%20pM|", &a, "   00:01:02:03:04:05|"),
        ("%pM", &[0], "(null)"),
        ("%pM", &[0x5000], "(efault)"),
    ]);
}

#[test]
fn netdev_features() {
    // %pNF dereferences a 64-bit netdev_features_t.
    let mut ctx = Ctx::new();
    ctx.put_u64s(SCRATCH, &[0xff]);
    assert_eq!(ctx.s("%pNF", &[SCRATCH]), "0x00000000000000ff");
    assert_eq!(ctx.s("%pNx", &[SCRATCH]), "(%pN?)");
    assert_eq!(ctx.s("%pNF", &[0]), "(null)");
}
