//! The `kload` command: a thin layer over the library.

mod cli;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().filter_or("KLOAD_LOG", "warn")).init();
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(cli::main(&args));
}
