//! The `facetell` command line: `scan` files and folders, `crop` faces for training, `eval` on a
//! labelled set, `serve` over HTTP.

mod cli;
mod server;

use std::process::ExitCode;

fn main() -> ExitCode {
    tune_malloc();
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
/// there instead of 310-325, at the same speed (benches/README.md).
///
/// glibc also maps every block over 32 MB on its own and unmaps it when freed, so each 12 MP
/// photo's 36 MB of pixels came from freshly zeroed pages, faulted in one by one: a tenth of a
/// phone-photo scan's time. Blocks up to 128 MB now come from the heap, which keeps up to 128 MB
/// free for the next image instead of handing it back at once (48 phone photos: 2.25-2.35 s
/// against 2.51-2.58, same peak memory; benches/README.md).
///
/// `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` in the environment
/// still win.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const KEEP_BYTES: libc::c_int = 128 << 20;
        let settings = [
            ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 1),
            ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, KEEP_BYTES),
            ("MALLOC_TRIM_THRESHOLD_", libc::M_TRIM_THRESHOLD, KEEP_BYTES),
        ];
        for (variable, param, value) in settings {
            if std::env::var_os(variable).is_none() {
                // SAFETY: mallopt only sets an allocator parameter; called before any thread
                // starts.
                unsafe {
                    libc::mallopt(param, value);
                }
            }
        }
    }
}
