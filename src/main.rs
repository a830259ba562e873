//! The `facetell` command line: `scan` files and folders, `crop` faces for training, `eval` on a
//! labelled set, `serve` over HTTP.

mod cli;
mod server;

use std::process::ExitCode;

fn main() -> ExitCode {
    one_malloc_arena();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("facetell: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// glibc gives each thread that allocates its own malloc arena and keeps what the networks free
/// in them: on a 1080p video, scanned by two workers, a third of the peak memory was freed
/// activations held back in the workers' arenas. One arena shared by every thread holds 270-280 MB
/// there instead of 310-325, at the same speed (benches/README.md). `MALLOC_ARENA_MAX` in the
/// environment still wins.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
