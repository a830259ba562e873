//! The `facetell` command line: `scan` files and folders, `crop` faces for training, `eval` on a
//! labelled set, `serve` over HTTP.

mod cli;
mod server;

use std::process::ExitCode;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("facetell: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
