//! Typed errors of the load and unload paths.
//!
//! Each variant keeps the detail the kernel would have logged, and `errno()`
//! gives the errno the real kernel returns to user space, so the CLI can print
//! kmod's words for it.

use std::fmt;

use thiserror::Error;

/// Where in an input file a problem was found: file, section and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    /// Section index and name (name may be empty when it could not be read).
    pub section: Option<(usize, String)>,
    pub offset: Option<u64>,
}

impl Location {
    pub fn file(file: &str) -> Self {
        Location {
            file: file.to_owned(),
            section: None,
            offset: None,
        }
    }
    pub fn at(file: &str, offset: u64) -> Self {
        Location {
            file: file.to_owned(),
            section: None,
            offset: Some(offset),
        }
    }
    pub fn section(file: &str, index: usize, name: &str, offset: Option<u64>) -> Self {
        Location {
            file: file.to_owned(),
            section: Some((index, name.to_owned())),
            offset,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((idx, name)) = &self.section {
            if name.is_empty() {
                write!(f, ": section [{idx}]")?;
            } else {
                write!(f, ": section [{idx}] {name}")?;
            }
        }
        if let Some(off) = self.offset {
            write!(f, ", offset {off:#x}")?;
        }
        Ok(())
    }
}

/// One defect found by `elf_validity_check`. The texts follow the kernel's
/// messages where the kernel has one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ElfDefect {
    #[error("Invalid ELF header len {0}")]
    HeaderLen(u64),
    #[error("Invalid ELF header magic: != \\x7fELF")]
    Magic,
    #[error("not a 64-bit little-endian ELF file (class {class}, data {data})")]
    ClassOrData { class: u8, data: u8 },
    #[error("Invalid ELF header type: {0} != 1")]
    Type(u16),
    #[error("Invalid architecture in ELF header: {0}")]
    Machine(u16),
    #[error("Invalid ELF section header size")]
    ShentSize(u16),
    #[error("Invalid ELF section header overflow")]
    ShdrOverflow,
    #[error("Invalid ELF section name index: {shstrndx} || e_shstrndx ({shstrndx}) >= e_shnum ({shnum})")]
    ShstrIndex { shstrndx: u16, shnum: u16 },
    #[error(
        "Invalid ELF section in module (section {index} type {sh_type}): extends past end of file"
    )]
    SectionOverflow { index: usize, sh_type: u32 },
    #[error("empty section name table")]
    EmptyShstrtab,
    #[error("ELF Spec violation: section name table isn't null terminated")]
    ShstrtabUnterminated,
    #[error("ELF Spec violation: section 0 type({0})!=SH_NULL or non-zero len or addr")]
    NullSection(u32),
    #[error("Invalid ELF section name in module (section {index} type {sh_type})")]
    SectionName { index: usize, sh_type: u32 },
    #[error("Invalid ELF sh_link!=SHN_UNDEF({link}) or (sh_link({link}) >= hdr->e_shnum({shnum})")]
    SymtabLink { link: u32, shnum: u16 },
    #[error("string table is not NUL-terminated")]
    StrtabUnterminated,
    #[error("sh_link {link} of a relocation section does not name the symbol table")]
    RelaLink { link: u32 },
    #[error("sh_info {info} of a relocation section is not a section index (e_shnum {shnum})")]
    RelaInfo { info: u32, shnum: u16 },
    #[error("entry size {entsize} or size {size} does not fit entries of {expected} bytes")]
    EntSize {
        entsize: u64,
        size: u64,
        expected: u64,
    },
    #[error("section alignment {0:#x} is not a power of two no larger than a page")]
    Align(u64),
    #[error("module has no symbols (stripped?)")]
    NoSymbols,
    #[error("more than one symbol table")]
    MultipleSymtabs,
    #[error("symbol name offset {0:#x} is past the end of the string table")]
    SymbolName(u32),
    #[error("Only one .gnu.linkonce.this_module section must exist.")]
    MultipleThisModule,
    #[error("No module found in object")]
    NoThisModule,
    #[error(".gnu.linkonce.this_module section must have a size set")]
    ThisModuleNoBits,
    #[error(".gnu.linkonce.this_module section must occupy memory during process execution")]
    ThisModuleNotAlloc,
    #[error(".gnu.linkonce.this_module section size must match the kernel's built struct module size at run time (section {size:#x}, struct module {expected:#x})")]
    ThisModuleSize { size: u64, expected: u64 },
    #[error("Only one .modinfo section must exist.")]
    MultipleModinfo,
    #[error("the name field of __this_module ({field:?}) does not match modinfo name={modinfo:?}")]
    NameMismatch { field: String, modinfo: String },
}

/// Why a relocation could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RelocDefect {
    #[error("Unknown rela relocation: {0}")]
    UnknownType(u32),
    #[error("relocation offset past the end of its target section (size {size:#x})")]
    OffsetOutOfRange { size: u64 },
    #[error("relocation refers to symbol {0}, past the end of the symbol table")]
    BadSymbol(u64),
    #[error("existing value is nonzero for type {r_type}, val {value:#x}")]
    NonZeroTarget { r_type: u32, value: u64 },
    #[error("overflow in relocation type {r_type} val {value:#x}")]
    Overflow { r_type: u32, value: u64 },
    #[error("{r_type_name} target {target:#x} out of reach of {place:#x}")]
    OutOfReach {
        r_type_name: &'static str,
        target: u64,
        place: u64,
    },
    #[error("REL relocation unsupported")]
    Rel,
}

/// Everything that can make `load_module` fail.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: cannot decompress {format} image: {detail}")]
    Decompress {
        file: String,
        format: &'static str,
        detail: String,
    },
    #[error("{at}: malformed module signature: {detail}")]
    Signature { at: Location, detail: String },
    #[error("{at}: {defect}")]
    Elf { at: Location, defect: ElfDefect },
    #[error("{module}: section {section} (index {index}) has invalid WRITE|EXEC flags")]
    WriteExec {
        module: String,
        section: String,
        index: usize,
    },
    #[error("{module}: please compile with -fno-common ({symbol})")]
    Common { module: String, symbol: String },
    #[error("{module}: Symbol {symbol} has an invalid section index {shndx} (max {max})")]
    SymbolSection {
        module: String,
        symbol: String,
        shndx: u16,
        max: usize,
    },
    #[error("{module}: Unknown symbol {}", .symbols.iter().map(|(s, e)| format!("{s} (err {e})")).collect::<Vec<_>>().join(", "))]
    UnknownSymbols {
        module: String,
        symbols: Vec<(String, i32)>,
    },
    #[error("{at}: {defect}")]
    Relocation { at: Location, defect: RelocDefect },
    #[error("{module}: {detail}")]
    NoMemory { module: String, detail: String },
    #[error("{module}: __this_module relocation sets {symbol} at offset {offset:#x}, but the kernel's struct module has that field at {expected:#x}")]
    EntryField {
        module: String,
        symbol: String,
        offset: u64,
        expected: u64,
    },
    #[error("{module}: {source}")]
    Profile {
        module: String,
        #[source]
        source: crate::profile::MissingField,
    },
    #[error("{at}: {detail}")]
    Version { at: Location, detail: String },
    #[error(transparent)]
    UserProfile {
        #[from]
        source: crate::profile::ProfileError,
    },
    #[error("{module}: exports duplicate symbol {symbol} (owned by {owner})")]
    DuplicateExport {
        module: String,
        symbol: String,
        owner: String,
    },
    #[error("{module}: `{value}' {} parameter `{param}'", if *.errno == libc::ENOSPC { "too large for" } else { "invalid for" })]
    BadParam {
        module: String,
        param: String,
        value: String,
        errno: i32,
    },
    #[error("module {0} is already loaded")]
    AlreadyLoaded(String),
    #[error("{module}: no kernel profile for vermagic {vermagic:?}")]
    NoProfile { module: String, vermagic: String },
    #[error("{module}: init returned {ret}")]
    InitFailed { module: String, ret: i32 },
    #[error("{module}: the init task died: {reason}")]
    InitKilled { module: String, reason: String },
}

impl LoadError {
    /// The errno the real kernel returns to `init_module`/`finit_module` for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            LoadError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            LoadError::Decompress { .. } => libc::ENOEXEC,
            LoadError::Signature { .. } => libc::EBADMSG,
            LoadError::Elf { .. }
            | LoadError::WriteExec { .. }
            | LoadError::Common { .. }
            | LoadError::SymbolSection { .. }
            | LoadError::Relocation { .. }
            | LoadError::EntryField { .. }
            | LoadError::Profile { .. }
            | LoadError::Version { .. }
            | LoadError::UserProfile { .. }
            | LoadError::DuplicateExport { .. }
            | LoadError::NoProfile { .. } => libc::ENOEXEC,
            LoadError::BadParam { errno, .. } => *errno,
            LoadError::UnknownSymbols { symbols, .. } => symbols
                .last()
                .and_then(|(_, e)| e.checked_neg())
                .unwrap_or(libc::ENOENT),
            LoadError::NoMemory { .. } => libc::ENOMEM,
            LoadError::AlreadyLoaded(_) => libc::EEXIST,
            LoadError::InitFailed { ret, .. } => ret.checked_neg().unwrap_or(libc::EINVAL),
            // The kernel kills the task that oopsed; insmod sees SIGKILL, not an errno.
            LoadError::InitKilled { .. } => libc::EFAULT,
        }
    }
}

/// Everything that can make `delete_module` fail.
#[derive(Debug, Error)]
pub enum RemoveError {
    #[error("Module {0} is not currently loaded")]
    NotLoaded(String),
    #[error("{0}: module has init but no exit; refusing to remove it without force")]
    NoExit(String),
    #[error("{0}: module is still loading or already unloading")]
    NotLive(String),
    #[error("Module {name} is in use{}", if .holders.is_empty() { String::new() } else { format!(" by: {}", .holders.join(" ")) })]
    InUse { name: String, holders: Vec<String> },
    #[error("{module}: the exit task died: {reason}")]
    ExitKilled { module: String, reason: String },
}

impl RemoveError {
    pub fn errno(&self) -> i32 {
        match self {
            RemoveError::NotLoaded(_) => libc::ENOENT,
            RemoveError::NoExit(_) | RemoveError::NotLive(_) => libc::EBUSY,
            RemoveError::InUse { .. } => libc::EWOULDBLOCK,
            RemoveError::ExitKilled { .. } => libc::EFAULT,
        }
    }
}
