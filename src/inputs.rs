//! Input discovery: turns the paths on a command line into the list of files to scan.
//!
//! Folders are walked recursively in sorted order; inside them only images (recognised by their
//! bytes) and videos (recognised by container signature or extension) are kept. Paths named
//! explicitly are always kept, so that a bad one gets an error record instead of vanishing.
//! Symlinks are followed, and loops are detected and reported rather than walked forever.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::decode::sniff_image_format;

/// What a discovered input looks like, judged from its first bytes and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An image format facetell decodes.
    Image,
    /// A video container (decoded with FFmpeg).
    Video,
    /// Neither; scanning it gives an error record.
    Unknown,
}

/// One input to scan.
#[derive(Debug, Clone)]
pub struct Input {
    /// Path as given or found.
    pub path: PathBuf,
    /// Its kind, if it could be read.
    pub kind: InputKind,
}

/// A problem met while walking folders (a symlink loop, an unreadable folder).
#[derive(Debug, Clone)]
pub struct WalkProblem {
    /// The path concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// File name extensions of video containers, for files whose bytes do not say.
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "m2ts", "wmv", "flv", "3gp",
    "ogv",
];

/// Judges a file's kind from its first bytes (and, for videos, its extension).
pub fn sniff(path: &Path) -> InputKind {
    let mut head = [0u8; 64];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = &head[..n];
    if sniff_image_format(head).is_some() {
        return InputKind::Image;
    }
    let is_video_magic = (head.len() >= 12 && &head[4..8] == b"ftyp")
        || head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
        || (head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"AVI ")
        || head.starts_with(&[0x00, 0x00, 0x01, 0xBA])
        || head.starts_with(b"FLV");
    let has_video_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    if is_video_magic || (has_video_ext && n > 0) {
        InputKind::Video
    } else {
        InputKind::Unknown
    }
}

/// Expands command-line paths into inputs. Explicit files are kept whatever they are; folder
/// contents are kept only when they are images or videos.
pub fn collect(paths: &[PathBuf]) -> (Vec<Input>, Vec<WalkProblem>) {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if !path.is_dir() {
            inputs.push(Input {
                path: path.clone(),
                kind: sniff(path),
            });
            continue;
        }
        let walker = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by(|a, b| {
                natord::compare(
                    &a.file_name().to_string_lossy(),
                    &b.file_name().to_string_lossy(),
                )
            });
        for entry in walker {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    let kind = sniff(entry.path());
                    if kind != InputKind::Unknown {
                        inputs.push(Input {
                            path: entry.into_path(),
                            kind,
                        });
                    }
                }
                Ok(_) => {}
                Err(e) => problems.push(WalkProblem {
                    path: e.path().map_or_else(|| path.clone(), Path::to_owned),
                    message: if e.loop_ancestor().is_some() {
                        "symlink loop, not followed".into()
                    } else {
                        e.to_string()
                    },
                }),
            }
        }
    }
    (inputs, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_keep_only_media_but_named_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("b.png");
        image::RgbImage::new(4, 4).save(&png).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
        std::fs::write(dir.path().join("a.mp4"), b"\0\0\0\x18ftypmp42").unwrap();
        let (inputs, problems) = collect(&[dir.path().to_owned()]);
        assert!(problems.is_empty());
        let kinds: Vec<_> = inputs.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, vec![InputKind::Video, InputKind::Image]);

        let txt = dir.path().join("notes.txt");
        let (inputs, _) = collect(std::slice::from_ref(&txt));
        assert_eq!(inputs[0].kind, InputKind::Unknown);
    }
}
