#!/usr/bin/env python3
"""Read the kload profile probe's constants out of a built .ko (never run it).

    extract.py KO HEADERS_DIR OUT_FILE REGEN_CMD

KO          the kload_probe.ko built by gen.sh against HEADERS_DIR
HEADERS_DIR the kernel build tree (has Module.symvers, include/generated/)
OUT_FILE    the Rust source file to write
REGEN_CMD   the command line the "Regenerate:" comment names

PACKAGE_VERSION comes from `dpkg-query -W -f='${Version}' linux-headers-<release>`
(the Debian headers package of UTS_RELEASE); set the PACKAGE_VERSION
environment variable to override it (e.g. to "" for a tree dpkg does not own).

Everything comes from the ELF file itself: each probe record is located via
its `kload_probe__*` symbol (st_shndx + st_value) in the symbol table, and its
bytes are read straight from the section data.  The probe sections must carry
no relocations (the records hold no pointers); that is checked, as are the
symbol-name <-> key correspondence, full coverage of the section, and a set of
known-good values.  Stdlib only.
"""

import os
import re
import struct
import subprocess
import sys

SHT_SYMTAB = 2
SHT_RELA = 4
SHT_REL = 9
STT_OBJECT = 1

KEY_LEN = 56  # must match KLOAD_PROBE_KEY_LEN in probe.c
STR_LEN = 200  # must match KLOAD_PROBE_STR_LEN in probe.c
ENTRY = KEY_LEN + 8
STR_ENTRY = KEY_LEN + STR_LEN


def die(msg):
    sys.stderr.write("extract.py: error: %s\n" % msg)
    sys.exit(1)


class Elf:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            die("%s: not a little-endian ELF64 file" % path)
        (e_shoff,) = struct.unpack_from("<Q", d, 0x28)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", d, 0x3A)
        self.sections = []
        for i in range(e_shnum):
            f = struct.unpack_from("<IIQQQQIIQQ", d, e_shoff + i * e_shentsize)
            self.sections.append(
                dict(
                    name_off=f[0], type=f[1], flags=f[2], addr=f[3], offset=f[4],
                    size=f[5], link=f[6], info=f[7], align=f[8], entsize=f[9],
                )
            )
        shstr = self.sections[e_shstrndx]
        for s in self.sections:
            s["name"] = self.cstr(shstr["offset"] + s["name_off"])
        self.by_name = {}
        for i, s in enumerate(self.sections):
            s["index"] = i
            self.by_name.setdefault(s["name"], s)
        self.symbols = []
        for s in self.sections:
            if s["type"] != SHT_SYMTAB:
                continue
            strtab = self.sections[s["link"]]
            for j in range(s["size"] // 24):
                name, info, other, shndx, value, size = struct.unpack_from(
                    "<IBBHQQ", d, s["offset"] + j * 24
                )
                self.symbols.append(
                    dict(
                        name=self.cstr(strtab["offset"] + name), type=info & 0xF,
                        shndx=shndx, value=value, size=size,
                    )
                )

    def cstr(self, off):
        end = self.data.index(b"\0", off)
        return self.data[off:end].decode("ascii")

    def section(self, name):
        s = self.by_name.get(name)
        if s is None:
            die("section %s not found in the .ko" % name)
        return s

    def bytes_of(self, sec, off, size):
        if off + size > sec["size"]:
            die("record at %s+%#x overruns the section" % (sec["name"], off))
        start = sec["offset"] + off
        return self.data[start : start + size]

    def relocated(self, sec):
        return [
            s["name"]
            for s in self.sections
            if s["type"] in (SHT_RELA, SHT_REL) and s["info"] == sec["index"]
        ]


def mangle(key):
    """The C symbol suffix probe.c's SIZE/OFF/CONST macros give a key."""
    m = re.fullmatch(r"sizeof\((?:struct )?(\w+)\)", key)
    if m:
        return "sizeof__" + m.group(1)
    if re.fullmatch(r"\w+(?:\.\w+)+", key):
        return key.replace(".", "__")
    if re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
        return "const__" + key
    die("unexpected key form %r" % key)


def read_records(elf, secname, prefix, entsize, decode):
    sec = elf.section(secname)
    rel = elf.relocated(sec)
    if rel:
        die("%s has relocations (%s); values would not be final" % (secname, rel))
    if sec["size"] % entsize:
        die("%s size %#x is not a multiple of %d" % (secname, sec["size"], entsize))
    out = {}
    seen = set()
    for sym in elf.symbols:
        if not sym["name"].startswith(prefix):
            continue
        if sym["type"] != STT_OBJECT or sym["size"] != entsize:
            die("symbol %s: unexpected type/size" % sym["name"])
        if sym["shndx"] != sec["index"]:
            die("symbol %s is not in %s" % (sym["name"], secname))
        if sym["value"] % entsize or sym["value"] in seen:
            die("symbol %s at bad offset %#x" % (sym["name"], sym["value"]))
        seen.add(sym["value"])
        raw = elf.bytes_of(sec, sym["value"], entsize)
        key = raw[:KEY_LEN].split(b"\0", 1)[0].decode("ascii")
        if raw[KEY_LEN - 1] != 0:
            die("key of %s is not NUL-terminated" % sym["name"])
        if prefix + mangle(key) != sym["name"]:
            die("symbol %s does not match its key %r" % (sym["name"], key))
        if key in out:
            die("duplicate key %r" % key)
        out[key] = decode(raw[KEY_LEN:])
    if len(seen) * entsize != sec["size"]:
        die("%s: %d symbols do not cover %#x bytes" % (secname, len(seen), sec["size"]))
    return out


def ksymtab_stride(elf):
    """Per-entry size of the __ksymtab section kbuild emitted for the probe's
    two EXPORT_SYMBOLs, from the __ksymtab_<sym> symbol offsets."""
    sec = elf.section("__ksymtab")
    names = ("kload_probe_export_a", "kload_probe_export_b")
    offs = {}
    for sym in elf.symbols:
        for n in names:
            if sym["name"] == "__ksymtab_" + n and sym["shndx"] == sec["index"]:
                offs[n] = sym["value"]
    if len(offs) != 2:
        die("__ksymtab_kload_probe_export_{a,b} symbols not found")
    a, b = sorted(offs.values())
    if a != 0 or sec["size"] != 2 * b:
        die("__ksymtab layout unexpected: offsets %s, size %#x" % (offs, sec["size"]))
    return b


def modinfo(elf):
    sec = elf.section(".modinfo")
    raw = elf.bytes_of(sec, 0, sec["size"])
    info = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.decode("ascii").split("=", 1)
            info.setdefault(k, v)
    return info


def versions_crc(elf, name, name_len):
    """CRC recorded for `name` in the .ko's __versions, or None."""
    sec = elf.by_name.get("__versions")
    if sec is None:
        return None
    ent = 8 + name_len
    for off in range(0, sec["size"], ent):
        raw = elf.bytes_of(sec, off, ent)
        if raw[8:].split(b"\0", 1)[0].decode("ascii") == name:
            return struct.unpack_from("<Q", raw, 0)[0] & 0xFFFFFFFF
    return None


def symvers_crc(headers, name):
    path = os.path.join(headers, "Module.symvers")
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 2 and cols[1] == name:
                return int(cols[0], 16)
    die("%s not found in %s" % (name, path))


def asm_offsets(headers):
    path = os.path.join(headers, "include/generated/asm-offsets.h")
    vals = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"#define (\w+) (-?\d+)\b", line)
                if m:
                    vals[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return vals


def package_version(release):
    """Version of the Debian headers package for `release` (or $PACKAGE_VERSION)."""
    if "PACKAGE_VERSION" in os.environ:
        return os.environ["PACKAGE_VERSION"]
    pkg = "linux-headers-" + release
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg],
            capture_output=True, check=True, env=dict(os.environ, LC_ALL="C"),
        ).stdout.decode("ascii")
    except (OSError, subprocess.CalledProcessError) as e:
        die("dpkg-query %s failed (%s); set PACKAGE_VERSION to override" % (pkg, e))
    if not out or any(c.isspace() or c in '"\\' for c in out):
        die("dpkg-query %s: unexpected version %r" % (pkg, out))
    return out


def rust_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    if len(sys.argv) != 5:
        die("usage: extract.py KO HEADERS_DIR OUT_FILE REGEN_CMD")
    ko, headers, out_file, regen = sys.argv[1:]
    headers = os.path.abspath(headers)
    elf = Elf(ko)

    fields = read_records(
        elf, ".kload_probe", "kload_probe__", ENTRY,
        lambda b: struct.unpack("<Q", b)[0],
    )
    strings = read_records(
        elf, ".kload_probe_str", "kload_probe_str__", STR_ENTRY,
        lambda b: b.split(b"\0", 1)[0].decode("ascii"),
    )
    release = strings["UTS_RELEASE"]

    # struct kernel_symbol: the measured __ksymtab stride; where probe.c could
    # also take sizeof() (the struct is in the headers) the two must agree.
    stride = ksymtab_stride(elf)
    ks = "sizeof(struct kernel_symbol)"
    if ks in fields and fields[ks] != stride:
        die("sizeof(struct kernel_symbol)=%#x but __ksymtab stride=%#x" % (fields[ks], stride))
    fields[ks] = stride

    info = modinfo(elf)
    vermagic = info.get("vermagic")
    if not vermagic:
        die("no vermagic in .modinfo")
    if not vermagic.startswith(release + " "):
        die("vermagic %r does not start with UTS_RELEASE %r" % (vermagic, release))
    if info.get("name") != "kload_probe":
        die("unexpected .modinfo name %r" % info.get("name"))

    crc = symvers_crc(headers, "module_layout")
    name_len = fields["MODULE_NAME_LEN"]
    if fields["sizeof(struct modversion_info)"] != 8 + name_len:
        die("modversion_info is not 8 + MODULE_NAME_LEN bytes")
    vcrc = versions_crc(elf, "module_layout", name_len)
    if vcrc is not None and vcrc != crc:
        die("module_layout CRC: __versions %#x != Module.symvers %#x" % (vcrc, crc))

    # Cross-checks against known-good values and the tree's own asm-offsets.h.
    expect = {
        "6.1.": {"sizeof(struct module)": 0x380, "module.init": 0x138, "module.exit": 0x350},
        "6.12.": {"sizeof(struct module)": 0x500, "module.init": 0x138, "module.exit": 0x4B0},
    }
    for prefix, want in expect.items():
        if release.startswith(prefix):
            for k, v in want.items():
                if fields.get(k) != v:
                    die("cross-check %s: got %s, expected %#x" % (k, fields.get(k), v))
    asm = asm_offsets(headers)
    for macro, key in (
        ("FIXED_stack_canary", "fixed_percpu_data.stack_canary"),
        ("X86_current_task", "pcpu_hot.current_task"),
        ("X86_top_of_stack", "pcpu_hot.top_of_stack"),
    ):
        if macro in asm and key in fields and asm[macro] != fields[key]:
            die("cross-check %s: probe %#x, asm-offsets.h %#x" % (key, fields[key], asm[macro]))

    pkg_version = package_version(release)
    tree = os.path.basename(headers.rstrip("/"))
    lines = [
        "// @generated by tools/profile-probe/gen.sh from %s \u2014 do not edit." % tree,
        "// Regenerate: %s" % regen,
        "/// UTS_RELEASE of the headers the probe was built against.",
        "pub const RELEASE: &str = %s;" % rust_str(release),
        "/// The vermagic modinfo string modules built against these headers carry.",
        "pub const VERMAGIC: &str = %s;" % rust_str(vermagic),
        "/// Version of the Debian package the headers came from (`linux-headers-<release>`).",
        "pub const PACKAGE_VERSION: &str = %s;" % rust_str(pkg_version),
        "/// CRC of `module_layout` in Module.symvers.",
        "pub const MODULE_LAYOUT_CRC: u32 = 0x%08x;" % crc,
        "/// Struct sizes and field offsets measured by the kbuild probe, by key.",
        "pub const FIELDS: &[(&str, u64)] = &[",
    ]
    for key in sorted(fields):
        lines.append("    (%s, %#x)," % (rust_str(key), fields[key]))
    lines.append("];")
    text = "\n".join(lines) + "\n"
    for line in lines:
        if len(line) > 100 and not line.startswith("//"):
            die("line longer than 100 columns: %r" % line)
    with open(out_file, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stderr.write(
        "extract.py: %s (package %s): %d keys, vermagic %r, module_layout %#010x%s\n"
        % (release, pkg_version or "unknown", len(fields), vermagic, crc,
           "" if vcrc is None else " (matches __versions)")
    )


if __name__ == "__main__":
    main()
