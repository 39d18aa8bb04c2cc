//! `kload explain [--disasm] FILE`: show how init and exit reach struct module.

use kload::module::explain::explain;
use kload::module::ModuleImage;

pub fn main(args: &[String]) -> i32 {
    let (flags, rest) = match super::take_flags(args, &["--disasm"]) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kload explain: {e}");
            return 2;
        }
    };
    let [file] = rest else {
        eprintln!("usage: kload explain [--disasm] FILE");
        return 2;
    };
    let result = ModuleImage::open(file.as_ref()).and_then(|img| explain(img, flags.contains(&"--disasm")));
    match result {
        Ok(e) => {
            print!("{e}");
            0
        }
        Err(e) => {
            eprintln!("kload explain: {e}");
            1
        }
    }
}
