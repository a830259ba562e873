//! The library's error type: one enum, with the file or model it concerns and what to do next.

use std::path::PathBuf;

/// Everything that can go wrong inside facetell's library.
///
/// Messages are written for the person running the scan: they name the file or model and, where
/// there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read from disk.
    #[error("cannot read {path}: {}", io_reason(.source))]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not an image format facetell decodes.
    #[error("not a supported image (JPEG, PNG, WebP, BMP, GIF, TIFF){}", detail_suffix(.detail))]
    UnsupportedFormat {
        /// What was found instead, when known.
        detail: String,
    },

    /// The image format was recognised but the data is broken (truncated, corrupt).
    #[error("corrupt or truncated {format} image: {reason}")]
    Corrupt {
        /// The format the bytes claimed to be.
        format: String,
        /// The decoder's reason.
        reason: String,
    },

    /// The image declares more pixels than the configured limit (a decompression bomb, or just huge).
    #[error(
        "image is {width}x{height} ({pixels} pixels), over the limit of {limit} pixels; raise it with --max-pixels if the file is trusted"
    )]
    TooManyPixels {
        /// Declared width in pixels.
        width: u32,
        /// Declared height in pixels.
        height: u32,
        /// width * height.
        pixels: u64,
        /// The configured limit.
        limit: u64,
    },

    /// The file is larger than the configured limit.
    #[error("file is {size} bytes, over the limit of {limit} bytes; raise it with --max-file-size")]
    FileTooLarge {
        /// File size in bytes.
        size: u64,
        /// The configured limit in bytes.
        limit: u64,
    },

    /// A model file is missing, corrupt, or does not match its manifest.
    #[error("model {path}: {reason}")]
    Model {
        /// The model file (or manifest) concerned.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// Running a model failed on an input (a shape or runtime problem inside tract).
    #[error("inference failed in the {stage}: {reason}")]
    Inference {
        /// Which model: "face detector" or "classifier".
        stage: &'static str,
        /// tract's message.
        reason: String,
    },

    /// Video decoding failed (no video stream, unsupported codec, no decodable frame, ffmpeg missing).
    #[error("video: {reason}")]
    Video {
        /// What went wrong and what to do.
        reason: String,
    },

    /// A folder of frames could not be scored as a sequence.
    #[error("{reason}")]
    Frames {
        /// What went wrong with the folder.
        reason: String,
    },

    /// A bug inside facetell (a panic while scoring one input), caught and reported for that
    /// input alone.
    #[error("internal error ({what}); please report this file to the facetell developers")]
    Internal {
        /// The panic's message.
        what: String,
    },

    /// An error tied to one input file.
    #[error("{}: {source}", .path.display())]
    InFile {
        /// The input file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Box<Error>,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// The operating system's reason, with the fix for the common cases.
fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let hint = match e.kind() {
        ErrorKind::PermissionDenied => "; give the scanning user read access to it",
        ErrorKind::NotFound => "; check the path (a broken symlink reads as missing)",
        _ => "",
    };
    format!("{e}{hint}")
}

impl Error {
    /// The error for asking a build without the `ort` feature to use ONNX Runtime.
    pub fn no_onnxruntime(model: &std::path::Path) -> Error {
        Error::Model {
            path: model.to_owned(),
            reason: "this facetell was built without ONNX Runtime support; rebuild with \
                     `cargo build --release` (the `ort` feature is on by default) or use tract"
                .into(),
        }
    }

    /// Attaches the input file this error concerns (no-op if it already names one).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        match self {
            Error::InFile { .. } | Error::Io { .. } => self,
            other => Error::InFile {
                path: path.into(),
                source: Box::new(other),
            },
        }
    }

    /// A stable snake_case name for the kind of error (for metrics and API clients).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::UnsupportedFormat { .. } => "unsupported_format",
            Error::Corrupt { .. } => "corrupt",
            Error::TooManyPixels { .. } => "too_many_pixels",
            Error::FileTooLarge { .. } => "file_too_large",
            Error::Model { .. } => "model",
            Error::Inference { .. } => "inference",
            Error::Video { .. } => "video",
            Error::Frames { .. } => "frames",
            Error::Internal { .. } => "internal",
            Error::InFile { source, .. } => source.kind(),
        }
    }

    /// The message without the file name, for reports that already show the path.
    pub fn without_path(&self) -> String {
        match self {
            Error::InFile { source, .. } => source.without_path(),
            Error::Io { source, .. } => format!("cannot read file: {}", io_reason(source)),
            other => other.to_string(),
        }
    }
}

/// Short for `Result<T, facetell::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
