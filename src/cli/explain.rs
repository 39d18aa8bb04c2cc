//! `kload explain [--disasm] FILE`: show how init and exit reach struct module.

use kload::module::explain::explain;
use kload::module::ModuleImage;

pub fn main(args: &[String]) -> i32 {
    let (flags, rest): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| a.starts_with("--"));
    if let Some(bad) = flags.iter().find(|f| f.as_str() != "--disasm") {
        eprintln!("kload explain: unknown option '{bad}'");
        return 2;
    }
    let [file] = rest.as_slice() else {
        eprintln!("usage: kload explain [--disasm] FILE");
        return 2;
    };
    let result =
        ModuleImage::open(file.as_str().as_ref()).and_then(|img| explain(img, !flags.is_empty()));
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
