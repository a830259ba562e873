//! Helpers shared by the CLI and end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/data`, where the project's test media live (never copied into the repository).
pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// The models' manifest the binary is built with.
pub fn manifest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml")
}

/// The shipped classifier's threshold as the CLI prints it (four decimals).
pub fn shipped_threshold() -> String {
    let manifest = facetell::Manifest::load(manifest_path()).unwrap();
    format!(
        "{:.4}",
        manifest.classifier.expect("a shipped classifier").threshold
    )
}

/// The `facetell` binary under test.
pub fn facetell() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("facetell").unwrap()
}

/// Parses JSON Lines output.
pub fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The record whose path has the file name `name`.
pub fn record<'a>(recs: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    recs.iter()
        .find(|r| {
            Path::new(r["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                == name
        })
        .unwrap_or_else(|| panic!("no record for {name}"))
}

/// Runs ffmpeg with the given arguments, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compares `actual` with the golden file `tests/golden/<name>.json`, numbers within
/// 0.01 + 0.2% (enough for float differences between CPUs, far below any real change).
/// `FACETELL_BLESS=1 cargo test` rewrites the golden files: only on purpose, and say why in the
/// commit.
pub fn check_golden(name: &str, actual: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    if std::env::var_os("FACETELL_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual).unwrap() + "\n").unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with FACETELL_BLESS=1", path.display()));
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    if let Err(at) = same(actual, &golden, String::new()) {
        panic!("{name}: differs from the golden output at {at}\nactual: {actual}");
    }
}

fn same(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Result<(), String> {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 0.01 + 0.002 * y.abs() {
                Ok(())
            } else {
                Err(format!("{at}: {x} vs {y}"))
            }
        }
        (Array(x), Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{at}: length {} vs {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (x, y))| same(x, y, format!("{at}[{i}]")))
        }
        (Object(x), Object(y)) => {
            if x.len() != y.len() {
                return Err(format!(
                    "{at}: keys {:?} vs {:?}",
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>()
                ));
            }
            x.iter().try_for_each(|(k, v)| match y.get(k) {
                Some(w) => same(v, w, format!("{at}.{k}")),
                None => Err(format!("{at}: key {k} missing in golden")),
            })
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{at}: {a} vs {b}")),
    }
}

/// Replaces each record's path with its file name, so golden files do not depend on where the
/// data lives.
pub fn with_file_names(mut recs: Vec<serde_json::Value>) -> serde_json::Value {
    for r in &mut recs {
        let name = Path::new(r["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        r["path"] = name.into();
    }
    recs.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    serde_json::Value::Array(recs)
}
