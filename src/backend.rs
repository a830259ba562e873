//! Which inference engine runs the ONNX models.
//!
//! tract, built in and pure Rust, runs both networks anywhere. ONNX Runtime runs them about twice
//! as fast on this project's CPUs; with the cargo feature `ort` (on by default) facetell loads it
//! at run time from a `libonnxruntime.so` the user provides: the file named by `ORT_DYLIB_PATH`,
//! else `libonnxruntime.so` beside the executable or on the system's library path. Nothing is
//! downloaded or linked at build time. [`Backend::Auto`], the default, takes ONNX Runtime when
//! that library loads and tract otherwise.

use std::str::FromStr;

/// The inference engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// ONNX Runtime when this build has it and its library loads, tract otherwise (the default).
    #[default]
    Auto,
    /// tract, built in.
    Tract,
    /// ONNX Runtime through the `ort` crate; needs the `ort` cargo feature and the library.
    OnnxRuntime,
}

impl Backend {
    /// The engine this choice stands for on this machine: [`Backend::Auto`] becomes
    /// [`Backend::OnnxRuntime`] when its library loads (why it did not is logged) and
    /// [`Backend::Tract`] otherwise; the others stay as they are.
    pub fn resolve(self) -> Backend {
        match self {
            Backend::Auto => match onnxruntime_status() {
                Ok(()) => {
                    log::info!("using ONNX Runtime");
                    Backend::OnnxRuntime
                }
                Err(reason) => {
                    log::info!("using tract: {reason}");
                    Backend::Tract
                }
            },
            chosen => chosen,
        }
    }

    /// The name the CLI and the server use: `auto`, `tract` or `ort`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Tract => "tract",
            Backend::OnnxRuntime => "ort",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Backend::Auto),
            "tract" => Ok(Backend::Tract),
            "ort" | "onnxruntime" => Ok(Backend::OnnxRuntime),
            other => Err(format!("unknown backend {other:?}; use auto, tract or ort")),
        }
    }
}

/// Whether ONNX Runtime can run here, or why not (built without it, library not found or not
/// loadable). Loads the library on the first call.
pub fn onnxruntime_status() -> std::result::Result<(), String> {
    #[cfg(feature = "ort")]
    return onnxruntime::environment().map(|_| ());
    #[cfg(not(feature = "ort"))]
    Err("this facetell was built without ONNX Runtime support (cargo feature `ort`)".into())
}

#[cfg(feature = "ort")]
pub use self::onnxruntime::{OrtModel, free_spatial_dims};

#[cfg(feature = "ort")]
mod onnxruntime {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, OnceLock};

    use ndarray::{ArrayD, ArrayViewD};
    use ort::environment::Environment;
    use ort::session::Session;
    use ort::session::builder::GraphOptimizationLevel;
    use ort::value::TensorRef;

    use crate::error::{Error, Result};

    /// The environment variable naming the ONNX Runtime library (the `ort` crate's convention).
    const DYLIB_VAR: &str = "ORT_DYLIB_PATH";

    /// Looked up beside the executable, then by the system's loader, when `ORT_DYLIB_PATH` is
    /// not set.
    const DYLIB_NAME: &str = "libonnxruntime.so";

    pub(super) fn environment() -> std::result::Result<&'static Environment, String> {
        static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
        ENV.get_or_init(|| {
            let named = std::env::var_os(DYLIB_VAR).filter(|s| !s.is_empty());
            let lib = PathBuf::from(named.clone().unwrap_or_else(|| DYLIB_NAME.into()));
            let how = "ONNX Runtime 1.17 or later; `make ort` puts the Python wheel's library \
                       beside target/release/facetell";
            ort::init_from(&lib)
                .map_err(|e| match named {
                    Some(_) => format!("cannot load ONNX Runtime from {}: {e}", lib.display()),
                    None => format!(
                        "ONNX Runtime not found: no {DYLIB_NAME} beside facetell or on the \
                         library path, and {DYLIB_VAR} is not set ({how})"
                    ),
                })?
                .with_name("facetell")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", lib.display()))
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// One ONNX model on ONNX Runtime.
    ///
    /// An ORT session runs one call at a time, so the model keeps a pool with one
    /// single-threaded session per thread that is using it: parallelism comes from rayon across
    /// files and frames, as with tract.
    pub struct OrtModel {
        bytes: Vec<u8>,
        stage: &'static str,
        pool: Mutex<Vec<Session>>,
    }

    impl std::fmt::Debug for OrtModel {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OrtModel")
                .field("stage", &self.stage)
                .finish_non_exhaustive()
        }
    }

    impl OrtModel {
        /// Loads a model for `stage` ("face detector", "classifier"), checking that ONNX
        /// Runtime is available and accepts the model.
        pub fn from_bytes(bytes: &[u8], path: &Path, stage: &'static str) -> Result<OrtModel> {
            let model = OrtModel {
                bytes: bytes.to_vec(),
                stage,
                pool: Mutex::new(Vec::new()),
            };
            let first = model.new_session().map_err(|reason| Error::Model {
                path: path.to_owned(),
                reason,
            })?;
            model.give_back(first);
            Ok(model)
        }

        fn new_session(&self) -> std::result::Result<Session, String> {
            let env = environment()?;
            let reason = |e: ort::Error<_>| format!("ONNX Runtime cannot load the model: {e}");
            Session::builder(env)
                .map_err(|e| e.to_string())?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(reason)?
                .with_intra_threads(1)
                .map_err(reason)?
                .with_inter_threads(1)
                .map_err(reason)?
                // The detector runs at several input sizes; memory patterns (a plan per shape)
                // cost a fifth more peak memory on a 1080p video for no speed (1.20 GB against
                // 0.94 GB; 14.4-14.7 s against 12.5-15.0 s). The CPU arena stays: without it the
                // same video took 21-23 s (benches/README.md).
                .with_memory_pattern(false)
                .map_err(reason)?
                .commit_from_memory(&self.bytes)
                .map_err(|e| format!("ONNX Runtime cannot load the model: {e}"))
        }

        fn give_back(&self, session: Session) {
            self.pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(session);
        }

        /// Runs the model on one input and returns every output, in the model's order.
        pub fn run(&self, input: ArrayViewD<f32>) -> Result<Vec<ArrayD<f32>>> {
            let infer = |reason: String| Error::Inference {
                stage: self.stage,
                reason,
            };
            let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut session = match pooled {
                Some(s) => s,
                None => self.new_session().map_err(infer)?,
            };
            let result = run_session(&mut session, input.as_standard_layout().view());
            self.give_back(session);
            result.map_err(|e| infer(e.to_string()))
        }
    }

    /// Rewrites a model's declared input and output shapes so that batch, height and width are
    /// free (the channel axis keeps its size). CenterFace declares a fixed 10x3x32x32 input,
    /// which tract overrides per call but ONNX Runtime enforces.
    pub fn free_spatial_dims(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
        use prost::Message;
        use tract_onnx::pb::{ModelProto, tensor_shape_proto::dimension::Value, type_proto};

        let mut model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
        let graph = model.graph.as_mut().ok_or("the ONNX model has no graph")?;
        for info in graph.input.iter_mut().chain(graph.output.iter_mut()) {
            let Some(type_proto::Value::TensorType(tensor)) =
                info.r#type.as_mut().and_then(|t| t.value.as_mut())
            else {
                continue;
            };
            let Some(shape) = tensor.shape.as_mut() else {
                continue;
            };
            for (axis, dim) in shape.dim.iter_mut().enumerate() {
                if axis != 1 {
                    dim.value = Some(Value::DimParam(format!("{}_{axis}", info.name)));
                }
            }
        }
        Ok(model.encode_to_vec())
    }

    fn run_session(session: &mut Session, input: ArrayViewD<f32>) -> ort::Result<Vec<ArrayD<f32>>> {
        let tensor = TensorRef::from_array_view(input)?;
        let outputs = session.run(ort::inputs![tensor])?;
        outputs
            .iter()
            .map(|(_, value)| value.try_extract_array::<f32>().map(|a| a.to_owned()))
            .collect()
    }
}
