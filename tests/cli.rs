//! CLI behaviour: exit codes, error wording, streaming output, sharding and resuming.

mod common;

use common::{data, facetell, records, shipped_threshold};
use predicates::prelude::*;

#[test]
fn help_and_version_exit_zero() {
    facetell()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("scan"));
    facetell().arg("--version").assert().success();
}

#[test]
fn scan_without_paths_is_a_usage_error() {
    facetell()
        .arg("scan")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<PATH>"));
}

#[test]
fn bad_threshold_names_the_flag() {
    facetell()
        .args(["scan", "--threshold", "1.5", "x.jpg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--threshold 1.5 is outside 0..1"));
}

#[test]
fn missing_models_folder_says_how_to_fix_it() {
    facetell()
        .args(["scan", "--models", "/nonexistent-models", "x.jpg"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no manifest.toml in /nonexistent-models")
                .and(predicate::str::contains("--models")),
        );
}

#[test]
fn resume_needs_output_and_shard_is_checked() {
    facetell()
        .args(["scan", "--resume", "x.jpg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--output"));
    facetell()
        .args(["scan", "--shard", "4/4", "x.jpg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shard index must be in 0..4"));
}

#[test]
fn unreadable_and_bogus_files_get_error_records_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "just text").unwrap();
    let real = data().join("dev/yonsei/real/real_00008.jpg");
    let out = facetell()
        .args(["scan", "--format", "jsonl"])
        .arg(dir.path().join("missing.jpg"))
        .arg(&text)
        .arg(&real)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "3 files: 0 fake, 1 real, 0 without a face, 2 errors; threshold",
        ))
        .get_output()
        .stdout
        .clone();
    let recs = records(&out);
    assert_eq!(recs.len(), 3);
    let by_name = |n: &str| {
        recs.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(n))
            .unwrap()
    };
    let missing = by_name("missing.jpg");
    assert_eq!(missing["label"], "error");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("cannot read file"),
        "{missing}"
    );
    let text = by_name("notes.jpg");
    assert!(
        text["error"].as_str().unwrap().contains("looks like text"),
        "{text}"
    );
    assert!(by_name("real_00008.jpg")["score"].is_number());
}

#[test]
fn a_picture_without_faces_is_no_face_and_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gradient.png");
    image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 128]))
        .save(&path)
        .unwrap();
    let out = facetell()
        .args(["scan", "--format", "jsonl"])
        .arg(&path)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let rec = &records(&out)[0];
    assert_eq!(rec["label"], "no_face");
    assert!(rec["score"].is_null());
    assert_eq!(rec["faces"].as_array().unwrap().len(), 0);
}

#[test]
fn every_format_renders() {
    let real = data().join("dev/yonsei/real/real_00008.jpg");
    for (format, check) in [
        ("text", "real_00008.jpg"),
        ("csv", "path,kind,label,score,faces,error"),
        ("json", "\"kind\":\"image\""),
        ("jsonl", "\"faces\":[{\"box\""),
    ] {
        let out = facetell()
            .args(["scan", "--format", format])
            .arg(&real)
            .assert()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(check), "{format}: {text}");
    }
}

#[test]
fn shards_cover_a_folder_exactly_once() {
    let folder = data().join("dev/yonsei/real");
    let mut seen = Vec::new();
    for i in 0..3 {
        let out = facetell()
            .args(["scan", "--format", "jsonl", "--shard", &format!("{i}/3")])
            .arg(&folder)
            .assert()
            .get_output()
            .stdout
            .clone();
        seen.extend(
            records(&out)
                .into_iter()
                .map(|r| r["path"].as_str().unwrap().to_string()),
        );
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "a file was scanned by two shards");
    assert_eq!(total, std::fs::read_dir(&folder).unwrap().count());
}

#[test]
fn resume_after_a_kill_scores_every_file_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.jsonl");
    let folder = data().join("dev/yonsei/fake");
    let bin = assert_cmd::cargo::cargo_bin("facetell");
    let mut child = std::process::Command::new(&bin)
        .args(["scan", "--jobs", "1", "--output"])
        .arg(&out)
        .arg(&folder)
        .spawn()
        .unwrap();
    // Wait for some records, then kill without warning.
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&out).map_or(0, |s| s.lines().count()) < 5
        && start.elapsed().as_secs() < 120
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = std::fs::read_to_string(&out).unwrap().lines().count();
    assert!(
        (5..250).contains(&partial),
        "killed after {partial} records"
    );
    // Simulate a record cut short by the kill.
    let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    std::io::Write::write_all(&mut f, b"{\"path\": \"trunc").unwrap();
    drop(f);

    facetell()
        .args(["scan", "--resume", "--output"])
        .arg(&out)
        .arg(&folder)
        .assert()
        .stderr(predicate::str::contains("resuming"));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut paths: Vec<String> = records(text.as_bytes())
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let total = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), total, "a file was scored twice");
    assert_eq!(total, std::fs::read_dir(&folder).unwrap().count());
}

#[cfg(not(feature = "ort"))]
#[test]
fn onnxruntime_backend_without_the_feature_says_how_to_get_it() {
    facetell()
        .args(["scan", "--backend", "ort"])
        .arg(data().join("dev/yonsei/real/real_00008.jpg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "built without ONNX Runtime support; rebuild with `cargo build --release`",
        ));
}

#[test]
fn unknown_backend_lists_the_choices() {
    facetell()
        .args(["scan", "--backend", "foo", "x.jpg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("use auto, tract or ort"));
}

/// A dev face swap and a dev real side by side, each 300x300: one picture with two faces.
fn two_faces(dir: &std::path::Path) -> std::path::PathBuf {
    let load = |p: &str| {
        image::imageops::resize(
            &image::open(data().join(p)).unwrap().to_rgb8(),
            300,
            300,
            image::imageops::FilterType::Lanczos3,
        )
    };
    let mut both = image::RgbImage::new(600, 300);
    image::imageops::replace(&mut both, &load("dev/lfw_swap/fake/fake_3196.jpg"), 0, 0);
    image::imageops::replace(&mut both, &load("dev/yonsei/real/real_00008.jpg"), 300, 0);
    let path = dir.join("two.png");
    both.save(&path).unwrap();
    path
}

#[test]
fn text_shows_each_face_the_threshold_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = facetell()
        .args(["scan", "--format", "text"])
        .arg(two_faces(dir.path()))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("two.png  2 faces, 2 scored"), "{text}");
    let threshold = shipped_threshold();
    assert!(
        lines[0].contains(&format!(" {threshold} ")),
        "threshold shown: {text}"
    );
    assert!(lines[1].starts_with("    face 0  at "), "{text}");
    assert!(lines[2].starts_with("    face 1  at "), "{text}");
    assert!(!text.contains('\x1b'), "no colour: {text:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("1 file: ") && stderr.contains(&format!("0 errors; threshold {threshold}")),
        "{stderr}"
    );
    // A single face needs no face line, unless --verbose.
    let one = data().join("dev/yonsei/real/real_00008.jpg");
    for (verbose, count) in [(false, 1), (true, 2)] {
        let mut cmd = facetell();
        cmd.args(["scan", "--format", "text"]).arg(&one);
        if verbose {
            cmd.arg("--verbose");
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), count, "{text}");
        assert!(text.contains("1 face, 1 scored"), "{text}");
    }
}

#[test]
fn sort_path_gives_the_same_order_every_run() {
    let folder = data().join("dev/yonsei/fake");
    let files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .take(12)
        .collect();
    let run = || {
        let out = facetell()
            .args(["scan", "--format", "csv", "--sort", "path"])
            .args(files.iter().rev())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    let paths: Vec<&str> = first
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| natord::compare(a, b));
    assert_eq!(paths, sorted, "{first}");
    assert_eq!(paths.len(), 12);
    assert_eq!(run(), first);
}

#[test]
fn eval_finds_the_root_or_says_which_flag_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::create_dir_all(dir.path().join("lists")).unwrap();
    std::fs::copy(
        data().join("dev/yonsei/real/real_00008.jpg"),
        dir.path().join("media/a.jpg"),
    )
    .unwrap();
    std::fs::copy(
        data().join("dev/lfw_swap/fake/fake_3196.jpg"),
        dir.path().join("media/b.jpg"),
    )
    .unwrap();
    let labels = dir.path().join("lists/labels.csv");
    std::fs::write(
        &labels,
        "path,label,set\nmedia/a.jpg,real,x\nmedia/b.jpg,fake,x\n",
    )
    .unwrap();
    // Paths relative to the folder above the labels file: found, and said so.
    facetell()
        .args(["eval", "--labels"])
        .arg(&labels)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "threshold {}",
            shipped_threshold()
        )))
        .stdout(predicate::str::contains("x "))
        .stderr(predicate::str::contains("are relative to"));
    // A wrong --root: one message naming the flag, exit 2, no table.
    facetell()
        .args(["eval", "--labels"])
        .arg(&labels)
        .args(["--root", "/nonexistent"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("none of the 2 files listed in"))
        .stderr(predicate::str::contains("pass --root"));
}

#[test]
fn eval_gives_the_auc_with_its_confidence_interval() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("dev/yonsei/real/real_00008.jpg", "real"),
        ("dev/yonsei/real/real_00010.jpg", "real"),
        ("dev/lfw_swap/fake/fake_3196.jpg", "fake"),
        ("dev/yonsei/fake/easy_101_0010.jpg", "fake"),
    ];
    let mut labels = String::from("path,label,set\n");
    for (i, (path, label)) in files.iter().enumerate() {
        std::fs::copy(data().join(path), dir.path().join(format!("{i}.jpg"))).unwrap();
        labels.push_str(&format!("{i}.jpg,{label},x\n"));
    }
    std::fs::write(dir.path().join("labels.csv"), labels).unwrap();
    let out = facetell()
        .args(["eval", "--json", "--labels"])
        .arg(dir.path().join("labels.csv"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let set = &table["sets"][0];
    assert_eq!(
        (set["set"].as_str(), set["n"].as_u64()),
        (Some("x"), Some(4))
    );
    let auc = set["auc"].as_f64().unwrap();
    let ci: Vec<f64> = set["auc_ci95"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        0.0 <= ci[0] && ci[0] <= auc && auc <= ci[1] && ci[1] <= 1.0,
        "{auc} {ci:?}"
    );
    // The text table shows it too.
    facetell()
        .args(["eval", "--labels"])
        .arg(dir.path().join("labels.csv"))
        .assert()
        .success()
        .stdout(predicate::str::contains("AUC 95% CI"));
}

/// `facetell crop --view inner`: refused where the manifest has no inner view, and where it has
/// one, the same faces cut tighter: each crop's five points are the crop's zoomed about the
/// view's centre.
#[test]
fn crop_cuts_the_inner_view_only_where_the_manifest_has_one() {
    let photo = data().join("dev/yonsei/real/real_00008.jpg");
    let dir = tempfile::tempdir().unwrap();
    // The shipped manifest without its [crop.inner] (up to the next table), plus `view`.
    let models_with = |name: &str, view: &str| {
        let models = dir.path().join(name);
        std::fs::create_dir(&models).unwrap();
        let shipped = common::manifest_path();
        for entry in std::fs::read_dir(shipped.parent().unwrap()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "onnx") {
                std::os::unix::fs::symlink(&path, models.join(path.file_name().unwrap())).unwrap();
            }
        }
        let text = std::fs::read_to_string(&shipped).unwrap();
        let text = match text.split_once("[crop.inner]") {
            Some((head, tail)) => format!("{head}{}", &tail[tail.find("\n[").unwrap() + 1..]),
            None => text,
        };
        let text = text.replace("[classifier]", &format!("{view}[classifier]"));
        std::fs::write(models.join("manifest.toml"), text).unwrap();
        models
    };
    facetell()
        .args(["crop", "--view", "inner", "--models"])
        .arg(models_with("plain", ""))
        .arg("--out")
        .arg(dir.path().join("none"))
        .arg(&photo)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("manifest.toml: the crop policy has no inner view")
                .and(predicate::str::contains("drop --view inner")),
        );

    let models = models_with(
        "zoom2",
        "[crop.inner]\nname = \"inner2\"\nzoom = 2.0\ncentre = [0.5, 0.6]\n\n",
    );
    let cut = |view: &str| {
        let out = dir.path().join(view);
        facetell()
            .args(["crop", "--view", view, "--models"])
            .arg(&models)
            .arg("--out")
            .arg(&out)
            .arg(&photo)
            .assert()
            .success();
        let lines = std::fs::read(out.join("crops.jsonl")).unwrap();
        let recs = records(&lines);
        assert_eq!(recs.len(), 1, "one face: {recs:?}");
        let rec = recs[0].clone();
        assert!(out.join(rec["crop"].as_str().unwrap()).exists());
        rec
    };
    let (outer, inner) = (cut("crop"), cut("inner"));
    assert_eq!(outer["policy"], "arcface5-m1.45");
    assert_eq!(inner["policy"], "inner2");
    assert_eq!(outer["landmarks"], inner["landmarks"], "the same detection");
    let point =
        |rec: &serde_json::Value, i: usize, k: usize| rec["crop_landmarks"][i][k].as_f64().unwrap();
    for i in 0..5 {
        for (k, centre) in [(0, 0.5 * 224.0), (1, 0.6 * 224.0)] {
            let zoomed = centre + 2.0 * (point(&outer, i, k) - centre);
            assert!(
                (zoomed - point(&inner, i, k)).abs() < 0.05,
                "point {i}: {outer} vs {inner}"
            );
        }
    }
}
