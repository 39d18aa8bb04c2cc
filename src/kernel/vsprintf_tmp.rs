//! TEMPORARY placeholder until the real vsprintf lands (same API).
pub trait VaList {
    fn next_arg(&mut self) -> u64;
}
pub struct SymbolHit<'a> {
    pub name: &'a str,
    pub offset: u64,
    pub size: u64,
    pub module: Option<&'a str>,
}
pub trait FormatContext {
    fn read_bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
    fn read_cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>>;
    fn lookup_symbol(&self, addr: u64, f: &mut dyn FnMut(Option<SymbolHit<'_>>));
    fn hash_pointer(&self, addr: u64) -> Option<u64>;
}
pub fn vsnprintf(fmt: &[u8], args: &mut dyn VaList, ctx: &dyn FormatContext) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' || i + 1 >= fmt.len() {
            out.push(fmt[i]);
            i += 1;
            continue;
        }
        i += 1;
        match fmt[i] {
            b'%' => out.push(b'%'),
            b's' => out.extend(ctx.read_cstr(args.next_arg(), 1024).unwrap_or(b"(null)".to_vec())),
            b'd' => out.extend((args.next_arg() as i32).to_string().bytes()),
            b'x' => out.extend(format!("{:x}", args.next_arg() as u32).bytes()),
            c => out.push(c),
        }
        i += 1;
    }
    out
}
