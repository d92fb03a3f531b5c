//! ONNX Runtime backend, through the `ort` crate with `load-dynamic`:
//! `libonnxruntime.so` is opened at run time from `ORT_DYLIB_PATH` (or the
//! path given in [`LoadOptions`]), so the binary builds without downloading
//! anything and the image ships the library next to it.
//!
//! One process holds one ONNX Runtime environment; each model is one session
//! with intra-op threads bounded by `--threads`. A session runs one batch at
//! a time (its `run` needs exclusive access), parallelism comes from ONNX
//! Runtime's own thread pool.
//!
//! With `--device cuda` the session gets the CUDA execution provider,
//! registered so that a failure is an error: ONNX Runtime would otherwise
//! log it and run the model on the CPU. Before the port is bound,
//! [`check_device`] creates and runs a one-node session on it, since the
//! provider first touches the device when a session is created.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::ep::{CUDA, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::{DynValue, TensorElementType, ValueType};

use super::{Backend, BackendError, Device, LoadOptions, Signature, TensorSpec};
use crate::tensor::{DataType, Tensor, TensorData, f16};

/// The process-wide ONNX Runtime environment, created on first load.
static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn environment(dylib: &Path) -> Result<&'static ort::environment::Environment, BackendError> {
    let env = ENVIRONMENT.get_or_init(|| {
        ort::init_from(dylib)
            .map_err(|e| e.to_string())?
            .with_name("model-server")
            .build()
            .map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|message| BackendError::OrtLibrary {
        path: dylib.to_path_buf(),
        message: message.clone(),
    })
}

/// The `libonnxruntime.so` to open: the configured path, else
/// `ORT_DYLIB_PATH`; it must exist.
fn library_path(options: &LoadOptions) -> Result<PathBuf, BackendError> {
    let dylib = match &options.ort_dylib {
        Some(path) => path.clone(),
        None => std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .ok_or(BackendError::OrtLibraryMissing)?,
    };
    if !dylib.is_file() {
        return Err(BackendError::OrtLibrary {
            path: dylib,
            message: "no such file (set ORT_DYLIB_PATH to libonnxruntime.so)".into(),
        });
    }
    Ok(dylib)
}

/// Registers the CUDA execution provider on `builder`; a failure to
/// register is returned, never turned into a CPU fallback.
fn with_cuda(builder: SessionBuilder, dylib: &Path) -> Result<SessionBuilder, BackendError> {
    let unavailable = |message: String| BackendError::DeviceUnavailable {
        device: Device::Cuda,
        path: dylib.to_path_buf(),
        message,
    };
    match CUDA::is_available() {
        Ok(true) => {}
        Ok(false) => {
            return Err(unavailable(
                "this ONNX Runtime build has no CUDA execution provider (a CPU-only build)".into(),
            ));
        }
        Err(e) => return Err(unavailable(e.to_string())),
    }
    builder
        .with_execution_providers([CUDA::default().build().error_on_failure()])
        .map_err(|e| unavailable(e.to_string()))
}

/// Checks before serving that the model can run on `options.device`: the
/// library loads and, for CUDA, its execution provider registers and a
/// session of a one-node model ([`CUDA_PROBE`]) is created and run on it.
/// The provider only touches the device when a session is created, so
/// registering alone passes on a node whose driver sees no usable device
/// (`CUDA_VISIBLE_DEVICES=""`, `NVIDIA_VISIBLE_DEVICES=none`). The server
/// exits with this error rather than serving on the wrong device or never
/// becoming ready.
pub fn check_device(options: &LoadOptions) -> Result<(), BackendError> {
    let dylib = library_path(options)?;
    let env = environment(&dylib)?;
    if options.device == Device::Cuda {
        let builder = Session::builder(env).map_err(|e| BackendError::OrtLibrary {
            path: dylib.clone(),
            message: e.to_string(),
        })?;
        let unavailable = |message: String| BackendError::DeviceUnavailable {
            device: Device::Cuda,
            path: dylib.clone(),
            message,
        };
        let mut session = with_cuda(builder, &dylib)?
            .commit_from_memory(CUDA_PROBE)
            .map_err(|e| unavailable(format!("creating a session on it: {e}")))?;
        let x = ort::value::Tensor::from_array(([1usize], vec![1.5f32]))
            .map_err(|e| unavailable(e.to_string()))?;
        let outputs = session
            .run(ort::inputs!["x" => x])
            .map_err(|e| unavailable(format!("running on it: {e}")))?;
        let (_, y) = outputs["y"]
            .try_extract_tensor::<f32>()
            .map_err(|e| unavailable(e.to_string()))?;
        if y != [3.0] {
            return Err(unavailable(format!("1.5 + 1.5 gave {y:?}")));
        }
    }
    Ok(())
}

/// A one-node ONNX model, `y = x + x` on a float tensor of shape `[1]`
/// (86 bytes, opset 13): the session `check_device` creates on the device.
const CUDA_PROBE: &[u8] = include_bytes!("cuda-probe.onnx");

/// A model loaded into an ONNX Runtime session.
pub struct OrtBackend {
    session: Mutex<Session>,
    signature: Signature,
}

impl OrtBackend {
    pub fn load(file: &Path, options: &LoadOptions) -> Result<OrtBackend, BackendError> {
        let dylib = library_path(options)?;
        let env = environment(&dylib)?;
        let unsupported = |message: String| BackendError::Unsupported {
            backend: "ONNX Runtime",
            file: file.to_path_buf(),
            message,
        };
        let mut builder = Session::builder(env)
            .and_then(|b| {
                b.with_optimization_level(GraphOptimizationLevel::Level3)
                    .map_err(Into::into)
            })
            .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
            .map_err(|e| unsupported(e.to_string()))?;
        if options.threads > 0 {
            builder = builder
                .with_intra_threads(options.threads)
                .map_err(|e| unsupported(e.to_string()))?;
        }
        if options.device == Device::Cuda {
            builder = with_cuda(builder, &dylib)?;
        }
        let session = builder.commit_from_file(file).map_err(|e| {
            let message = e.to_string();
            if message.contains("Protobuf parsing failed") || message.contains("INVALID_PROTOBUF") {
                BackendError::InvalidModel {
                    file: file.to_path_buf(),
                    message,
                }
            } else {
                unsupported(message)
            }
        })?;
        let signature = Signature {
            inputs: session
                .inputs()
                .iter()
                .map(|o| spec("input", o.name(), o.dtype()))
                .collect::<Result<_, _>>()?,
            outputs: session
                .outputs()
                .iter()
                .map(|o| spec("output", o.name(), o.dtype()))
                .collect::<Result<_, _>>()?,
        };
        Ok(OrtBackend {
            session: Mutex::new(session),
            signature,
        })
    }
}

fn spec(what: &'static str, name: &str, dtype: &ValueType) -> Result<TensorSpec, BackendError> {
    let unsupported = || BackendError::UnsupportedType {
        what,
        name: name.to_string(),
        found: dtype.to_string(),
    };
    let ValueType::Tensor { ty, shape, .. } = dtype else {
        return Err(unsupported());
    };
    let datatype = datatype(*ty).ok_or_else(unsupported)?;
    let mut shape: Vec<i64> = shape.iter().map(|&d| if d < 0 { -1 } else { d }).collect();
    if let Some(first) = shape.first_mut() {
        *first = -1;
    }
    Ok(TensorSpec {
        name: name.to_string(),
        datatype,
        shape,
    })
}

fn datatype(ty: TensorElementType) -> Option<DataType> {
    Some(match ty {
        TensorElementType::Bool => DataType::Bool,
        TensorElementType::Uint8 => DataType::Uint8,
        TensorElementType::Int8 => DataType::Int8,
        TensorElementType::Int32 => DataType::Int32,
        TensorElementType::Int64 => DataType::Int64,
        TensorElementType::Float16 => DataType::Fp16,
        TensorElementType::Float32 => DataType::Fp32,
        TensorElementType::Float64 => DataType::Fp64,
        TensorElementType::String => DataType::Bytes,
        _ => return None,
    })
}

fn to_value(tensor: Tensor) -> Result<DynValue, ort::Error> {
    use ort::value::Tensor as OrtTensor;
    let shape = tensor.shape;
    Ok(match tensor.data {
        TensorData::Bool(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Uint8(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Int8(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Int32(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Int64(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Fp16(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Fp32(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Fp64(v) => OrtTensor::from_array((shape, v))?.into_dyn(),
        TensorData::Bytes(v) => OrtTensor::from_string_array((shape, &*v))?.into_dyn(),
    })
}

fn from_value(name: &str, value: &DynValue) -> Result<Tensor, BackendError> {
    let run = |e: ort::Error| BackendError::Run(format!("reading output `{name}`: {e}"));
    let ty = match value.dtype() {
        ValueType::Tensor { ty, .. } => *ty,
        other => {
            return Err(BackendError::Run(format!(
                "output `{name}` is a {other}, not a tensor"
            )));
        }
    };
    macro_rules! extract {
        ($t:ty, $variant:ident) => {{
            let (shape, data) = value.try_extract_tensor::<$t>().map_err(run)?;
            (
                shape.iter().map(|&d| d.max(0) as usize).collect(),
                TensorData::$variant(data.to_vec()),
            )
        }};
    }
    let (shape, data): (Vec<usize>, TensorData) = match ty {
        TensorElementType::Bool => extract!(bool, Bool),
        TensorElementType::Uint8 => extract!(u8, Uint8),
        TensorElementType::Int8 => extract!(i8, Int8),
        TensorElementType::Int32 => extract!(i32, Int32),
        TensorElementType::Int64 => extract!(i64, Int64),
        TensorElementType::Float16 => extract!(f16, Fp16),
        TensorElementType::Float32 => extract!(f32, Fp32),
        TensorElementType::Float64 => extract!(f64, Fp64),
        TensorElementType::String => {
            let (shape, data) = value.try_extract_strings().map_err(run)?;
            (
                shape.iter().map(|&d| d.max(0) as usize).collect(),
                TensorData::Bytes(data),
            )
        }
        other => {
            return Err(BackendError::Run(format!(
                "output `{name}` has unsupported type {other}"
            )));
        }
    };
    Ok(Tensor::new(name, shape, data))
}

impl Backend for OrtBackend {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, BackendError> {
        let run = |e: ort::Error| BackendError::Run(e.to_string());
        let values = inputs
            .into_iter()
            .map(|t| Ok((t.name.clone(), to_value(t)?)))
            .collect::<Result<Vec<(String, DynValue)>, ort::Error>>()
            .map_err(run)?;
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(values).map_err(run)?;
        self.signature
            .outputs
            .iter()
            .map(|spec| {
                let value = outputs.get(&spec.name).ok_or_else(|| {
                    BackendError::Run(format!("output `{}` missing from the run", spec.name))
                })?;
                from_value(&spec.name, value)
            })
            .collect()
    }

    fn concurrency(&self) -> usize {
        1
    }
}
