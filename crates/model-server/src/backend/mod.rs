//! The inference engine seam: one small trait, [`Backend`], implemented by
//! ONNX Runtime ([`ort`](self::ort)) and tract ([`tract`](self::tract)).
//!
//! A backend loads an ONNX file once, with a symbolic batch dimension so a
//! single prepared plan serves every batch size, describes its inputs and
//! outputs, and runs one batch at a time. Anything a backend cannot run must
//! fail in [`load`], naming the operator, never at the first request.

pub mod ort;
pub mod tract;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::tensor::{DataType, Tensor, TensorData};

/// Which engine runs the model (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// ONNX Runtime, loaded at run time from `ORT_DYLIB_PATH`.
    Ort,
    /// tract, pure Rust.
    Tract,
}

impl BackendKind {
    /// The `platform` string reported in model metadata.
    pub fn platform(self) -> &'static str {
        match self {
            BackendKind::Ort => "onnxruntime_onnx",
            BackendKind::Tract => "tract_onnx",
        }
    }
}

/// Where the model runs (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    /// The CPU.
    Cpu,
    /// An NVIDIA GPU through ONNX Runtime's CUDA execution provider
    /// (`--backend ort` only). If the provider cannot be registered the
    /// server exits; it never falls back to the CPU.
    Cuda,
}

impl Device {
    /// The name used on the command line and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input or output of a model. `shape` uses `-1` for a dimension that is
/// not fixed (always the batch axis, sometimes others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// Elements in one row, i.e. the product of the dimensions after the
    /// batch axis, if they are all fixed.
    pub fn row_len(&self) -> Option<usize> {
        self.shape
            .iter()
            .skip(1)
            .try_fold(1usize, |acc, &d| usize::try_from(d).ok().map(|d| acc * d))
    }

    /// A zero tensor of `rows` rows, for warm-up. Free dimensions after the
    /// batch axis are taken as 1.
    pub fn zeros(&self, rows: usize) -> Tensor {
        let mut shape = vec![rows];
        shape.extend(
            self.shape
                .iter()
                .skip(1)
                .map(|&d| usize::try_from(d).unwrap_or(1)),
        );
        let count = shape.iter().product();
        Tensor::new(
            self.name.clone(),
            shape,
            TensorData::zeros(self.datatype, count),
        )
    }
}

/// What a loaded model takes and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// A loaded model, ready to run batches.
pub trait Backend: Send + Sync {
    /// Inputs and outputs, in the model's order.
    fn signature(&self) -> &Signature;

    /// Runs one batch. `inputs` follow the signature's order and all share
    /// the same batch size; outputs come back in the signature's order.
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, BackendError>;

    /// How many batches may usefully run at once (the executor's parallelism).
    fn concurrency(&self) -> usize;
}

/// Load options shared by both backends.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// CPU threads the engine may use; 0 lets the engine decide.
    pub threads: usize,
    /// Path of `libonnxruntime.so` (ort only).
    pub ort_dylib: Option<PathBuf>,
    /// Where the model runs.
    pub device: Device,
}

/// Errors from loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "ONNX Runtime library not configured: set ORT_DYLIB_PATH to the path of libonnxruntime.so \
         (pip install onnxruntime puts it under site-packages/onnxruntime/capi/)"
    )]
    OrtLibraryMissing,
    #[error("loading ONNX Runtime from {path}: {message}")]
    OrtLibrary { path: PathBuf, message: String },
    #[error(
        "--device {device}: the CUDA execution provider of the ONNX Runtime at {path} cannot be \
         used: {message} (a GPU build of ONNX Runtime, e.g. pip's onnxruntime-gpu, and the CUDA \
         and cuDNN libraries it loads must be on the library path, and the driver must see a \
         device: check CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES)"
    )]
    DeviceUnavailable {
        device: Device,
        path: PathBuf,
        message: String,
    },
    #[error(
        "--backend {backend} cannot run on --device {device}: only --backend ort can use a GPU"
    )]
    DeviceUnsupported {
        backend: &'static str,
        device: Device,
    },
    #[error("{file} is not a valid ONNX model: {message}")]
    InvalidModel { file: PathBuf, message: String },
    #[error("{backend} cannot run {file}: {message}")]
    Unsupported {
        backend: &'static str,
        file: PathBuf,
        message: String,
    },
    #[error("model {what} `{name}` has element type {found}, which this server does not carry")]
    UnsupportedType {
        what: &'static str,
        name: String,
        found: String,
    },
    #[error("inference failed: {0}")]
    Run(String),
}

/// Loads `file` with the chosen backend.
pub fn load(
    kind: BackendKind,
    file: &Path,
    options: &LoadOptions,
) -> Result<Arc<dyn Backend>, BackendError> {
    check_onnx_header(file)?;
    if kind == BackendKind::Tract && options.device != Device::Cpu {
        return Err(BackendError::DeviceUnsupported {
            backend: "tract",
            device: options.device,
        });
    }
    Ok(match kind {
        BackendKind::Ort => Arc::new(self::ort::OrtBackend::load(file, options)?),
        BackendKind::Tract => Arc::new(self::tract::TractBackend::load(file, options)?),
    })
}

/// Checks, before anything is served, that `kind` can run on
/// `options.device`. The CPU needs no check (a model that fails to load
/// leaves the server up and not ready); a GPU that cannot be used is an
/// error the caller turns into a failed start.
pub fn check_device(kind: BackendKind, options: &LoadOptions) -> Result<(), BackendError> {
    match (kind, options.device) {
        (_, Device::Cpu) => Ok(()),
        (BackendKind::Tract, device) => Err(BackendError::DeviceUnsupported {
            backend: "tract",
            device,
        }),
        (BackendKind::Ort, _) => self::ort::check_device(options),
    }
}

/// Cheap check that `file` looks like a serialized ONNX `ModelProto`, so a
/// corrupt or foreign file gets a clear message from either backend.
fn check_onnx_header(file: &Path) -> Result<(), BackendError> {
    use std::io::Read;
    let invalid = |message: String| BackendError::InvalidModel {
        file: file.to_path_buf(),
        message,
    };
    let mut head = [0u8; 2];
    let mut handle = std::fs::File::open(file).map_err(|e| invalid(e.to_string()))?;
    let read = handle.read(&mut head).map_err(|e| invalid(e.to_string()))?;
    // A ModelProto starts with field 1 (ir_version, varint: tag 0x08) in
    // every exporter we know of; fields may come in any order in principle,
    // so accept any valid protobuf tag with a wire type ONNX uses.
    if read < 2 {
        return Err(invalid("file is empty or truncated".into()));
    }
    let wire_type = head[0] & 0x07;
    let field = head[0] >> 3;
    if field == 0 || !matches!(wire_type, 0 | 2) || field > 20 {
        return Err(invalid(
            "file does not start with an ONNX ModelProto (protobuf) header".into(),
        ));
    }
    Ok(())
}
