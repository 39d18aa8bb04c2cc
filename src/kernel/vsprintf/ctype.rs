//! The kernel's ctype table (lib/ctype.c): ASCII plus Latin-1.

const CT_UPPER: u8 = 0x01;
const CT_LOWER: u8 = 0x02;
const CT_DIGIT: u8 = 0x04;
const CT_CNTRL: u8 = 0x08;
const CT_PUNCT: u8 = 0x10;
const CT_SPACE: u8 = 0x20;
const CT_XDIGIT: u8 = 0x40;
const CT_HARDSPACE: u8 = 0x80;

/// Class bits for each byte; note 128..=159 are classless and 160..=255
/// follow Latin-1, so e.g. 0xe9 counts as a letter for `%p` suffix skipping.
const CTYPE: [u8; 256] = build_ctype();

const fn build_ctype() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        t[c] = match c {
            0..=8 | 14..=31 | 127 => CT_CNTRL,
            9..=13 => CT_CNTRL | CT_SPACE,
            32 | 160 => CT_SPACE | CT_HARDSPACE,
            48..=57 => CT_DIGIT,
            65..=70 => CT_UPPER | CT_XDIGIT,
            71..=90 | 192..=214 | 216..=222 => CT_UPPER,
            97..=102 => CT_LOWER | CT_XDIGIT,
            103..=122 | 223..=246 | 248..=255 => CT_LOWER,
            33..=47 | 58..=64 | 91..=96 | 123..=126 | 161..=191 | 215 | 247 => CT_PUNCT,
            _ => 0,
        };
        c += 1;
    }
    t
}

pub(super) fn is_alpha(c: u8) -> bool {
    CTYPE[usize::from(c)] & (CT_UPPER | CT_LOWER) != 0
}

pub(super) fn is_alnum(c: u8) -> bool {
    CTYPE[usize::from(c)] & (CT_UPPER | CT_LOWER | CT_DIGIT) != 0
}

pub(super) fn is_print(c: u8) -> bool {
    CTYPE[usize::from(c)] & (CT_PUNCT | CT_UPPER | CT_LOWER | CT_DIGIT | CT_HARDSPACE) != 0
}
