//! Input discovery: turns the paths on a command line into the list of files to scan.
//!
//! Folders are walked recursively in natural order of names; inside them files are chosen by
//! extension (the images and videos facetell reads), and every chosen file is scanned, so a
//! broken upload named `.jpg` gets an error record instead of vanishing; other files are counted
//! as skipped. Paths named explicitly are always kept. Symlinks are followed, and loops are
//! detected and reported rather than walked forever.

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

/// A problem met while walking folders (a symlink loop, an unreadable folder).
#[derive(Debug, Clone)]
pub struct WalkProblem {
    /// The path concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// File name extensions of the image formats facetell decodes.
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "webp", "bmp", "gif", "tif", "tiff",
];

/// File name extensions of video containers, for files whose bytes do not say.
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "m2ts", "wmv", "flv", "3gp",
    "ogv",
];

/// Judges a file's kind from its first bytes and, for videos whose bytes do not say, its name:
/// the one place where image and video are told apart.
pub fn kind_of(head: &[u8], name: Option<&Path>) -> InputKind {
    if sniff_image_format(head).is_some() {
        return InputKind::Image;
    }
    let is_video_magic = (head.len() >= 12 && &head[4..8] == b"ftyp")
        || head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
        || (head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"AVI ")
        || head.starts_with(&[0x00, 0x00, 0x01, 0xBA])
        || head.starts_with(b"FLV");
    let has_video_ext = name.is_some_and(|n| has_extension(n, VIDEO_EXTENSIONS));
    if is_video_magic || (has_video_ext && !head.is_empty()) {
        InputKind::Video
    } else {
        InputKind::Unknown
    }
}

/// Judges a file's kind from its first bytes (and, for videos, its extension).
pub fn sniff(path: &Path) -> InputKind {
    let mut head = [0u8; 64];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    kind_of(&head[..n], Some(path))
}

fn has_extension(path: &Path, list: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether a file name has the extension of an image or video facetell reads: how files are
/// chosen inside folders.
pub fn is_media_name(path: &Path) -> bool {
    has_extension(path, IMAGE_EXTENSIONS) || has_extension(path, VIDEO_EXTENSIONS)
}

/// The inputs found on a command line.
#[derive(Debug, Default)]
pub struct Collected {
    /// Files to scan: every path named explicitly, and the media-named files inside folders
    /// (broken symlinks included, so that they get an error record).
    pub files: Vec<PathBuf>,
    /// Files inside folders skipped because their extension is not an image's or a video's.
    pub skipped: usize,
    /// Problems met while walking folders.
    pub problems: Vec<WalkProblem>,
}

/// Expands command-line paths into files to scan. Explicit files are kept whatever they are;
/// inside folders, files are chosen by extension ([`is_media_name`]).
pub fn collect(paths: &[PathBuf]) -> Collected {
    let mut found = Collected::default();
    for path in paths {
        if !path.is_dir() {
            found.files.push(path.clone());
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
            let file = match entry {
                Ok(entry) if entry.file_type().is_dir() => continue,
                Ok(entry) => entry.into_path(),
                Err(e) => match e.path() {
                    // A symlink to nothing is a file like any other here, so a media-named one
                    // gets an error record like any other unreadable upload.
                    Some(link) if e.loop_ancestor().is_none() && is_broken_link(link) => {
                        link.to_owned()
                    }
                    _ => {
                        found.problems.push(WalkProblem {
                            path: e.path().map_or_else(|| path.clone(), Path::to_owned),
                            message: if e.loop_ancestor().is_some() {
                                "symlink loop, not followed".into()
                            } else {
                                e.to_string()
                            },
                        });
                        continue;
                    }
                },
            };
            if is_media_name(&file) {
                found.files.push(file);
            } else {
                found.skipped += 1;
            }
        }
    }
    found
}

fn is_broken_link(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && !path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_keep_media_names_and_named_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("b.png");
        image::RgbImage::new(4, 4).save(&png).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
        std::fs::write(dir.path().join("empty.jpg"), "").unwrap();
        std::fs::write(dir.path().join("a.mp4"), b"\0\0\0\x18ftypmp42").unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone.jpg"), dir.path().join("link.jpg"))
            .unwrap();
        let found = collect(&[dir.path().to_owned()]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let names: Vec<_> = found
            .files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.mp4", "b.png", "empty.jpg", "link.jpg"]);
        assert_eq!(found.skipped, 1);
        let kinds: Vec<_> = found.files.iter().map(|p| sniff(p)).collect();
        use InputKind::*;
        assert_eq!(kinds, [Video, Image, Unknown, Unknown]);

        let txt = dir.path().join("notes.txt");
        assert_eq!(collect(std::slice::from_ref(&txt)).files, [txt]);
    }

    #[test]
    fn bytes_are_judged_before_names() {
        let text = b"not magic bytes";
        assert_eq!(kind_of(text, Some(Path::new("x.mp4"))), InputKind::Video);
        assert_eq!(kind_of(text, None), InputKind::Unknown);
        assert_eq!(kind_of(b"", Some(Path::new("x.mp4"))), InputKind::Unknown);
        assert_eq!(kind_of(b"\0\0\0\x18ftypisom\0\0", None), InputKind::Video);
    }
}
