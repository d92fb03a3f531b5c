//! tract backend (`tract-onnx`): pure Rust, no shared library, so the server
//! can ship as a single static binary.
//!
//! The model is loaded once with its batch axis replaced by the symbol `N`,
//! optimized, and turned into one runnable plan that serves every batch
//! size. Value-info and output-shape annotations are ignored on load because
//! exporters (PyTorch especially) write concrete batch sizes there that would
//! not unify with a symbolic batch. A plan is shared and runs on the calling
//! thread, so up to `--threads` batches run in parallel.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::Tensor as TractTensor;
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModel, InferenceModelExt, IntoRunnable, TDim,
    TValue, TVec, TypedModel, TypedRunnableModel,
};
use tract_onnx::tract_hir::infer::Factoid;

use super::{Backend, BackendError, LoadOptions, Signature, TensorSpec};
use crate::tensor::{DataType, Tensor, TensorData, f16};

/// A model compiled into a tract plan.
pub struct TractBackend {
    plan: Arc<TypedRunnableModel>,
    signature: Signature,
    concurrency: usize,
}

impl TractBackend {
    pub fn load(file: &Path, options: &LoadOptions) -> Result<TractBackend, BackendError> {
        let onnx = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true);
        let mut model = onnx
            .model_for_path(file)
            .map_err(|e| BackendError::InvalidModel {
                file: file.to_path_buf(),
                message: format!("{e:#}"),
            })?;
        let inputs = batch_inputs(&mut model, file)?;
        let typed = model.into_optimized().map_err(|e| unsupported(file, e))?;
        let outputs = output_specs(&typed, file)?;
        let plan = typed.into_runnable().map_err(|e| unsupported(file, e))?;
        let concurrency = if options.threads > 0 {
            options.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        };
        Ok(TractBackend {
            plan,
            signature: Signature { inputs, outputs },
            concurrency,
        })
    }
}

/// A model tract cannot serve, and why (`message` in its alternate form,
/// which carries the chain of causes).
fn unsupported(file: &Path, message: impl std::fmt::Display) -> BackendError {
    BackendError::Unsupported {
        backend: "tract",
        file: file.to_path_buf(),
        message: format!("{message:#}"),
    }
}

/// Gives every input of `model` the symbolic batch axis `N`, keeping the
/// other axes fixed; returns the inputs' specs.
fn batch_inputs(model: &mut InferenceModel, file: &Path) -> Result<Vec<TensorSpec>, BackendError> {
    let batch: TDim = model.symbols.sym("N").into();
    let count = model
        .input_outlets()
        .map_err(|e| unsupported(file, e))?
        .len();
    (0..count)
        .map(|ix| batch_input(model, ix, &batch, file))
        .collect()
}

/// [`batch_inputs`] for input `ix`.
fn batch_input(
    model: &mut InferenceModel,
    ix: usize,
    batch: &TDim,
    file: &Path,
) -> Result<TensorSpec, BackendError> {
    let outlet = model.input_outlets().map_err(|e| unsupported(file, e))?[ix];
    let name = model.node(outlet.node).name.clone();
    let fact = model.input_fact(ix).map_err(|e| unsupported(file, e))?;
    let datum = fact
        .datum_type
        .concretize()
        .ok_or_else(|| unsupported(file, format!("input `{name}` has no element type")))?;
    if datum == DatumType::String {
        return Err(unsupported(
            file,
            format!(
                "input `{name}` is BYTES (strings), which the tract backend does not run; \
                 serve this model with --backend ort"
            ),
        ));
    }
    let datatype = datatype(datum).ok_or_else(|| BackendError::UnsupportedType {
        what: "input",
        name: name.clone(),
        found: format!("{datum:?}"),
    })?;
    let dims: Vec<Option<i64>> = fact
        .shape
        .dims()
        .map(|d| d.concretize().and_then(|d| d.as_i64()))
        .collect();
    if dims.is_empty() {
        return Err(unsupported(
            file,
            format!("input `{name}` has no batch axis (rank 0 or unknown rank)"),
        ));
    }
    let mut shape: TVec<TDim> = TVec::new();
    shape.push(batch.clone());
    for (axis, dim) in dims.iter().enumerate().skip(1) {
        let dim = dim.ok_or_else(|| {
            unsupported(
                file,
                format!(
                    "input `{name}` axis {axis} has no fixed size; only the batch axis may vary"
                ),
            )
        })?;
        shape.push(dim.into());
    }
    model
        .set_input_fact(ix, InferenceFact::dt_shape(datum, shape))
        .map_err(|e| unsupported(file, e))?;
    let mut spec_shape = vec![-1];
    spec_shape.extend(dims.iter().skip(1).map(|d| d.unwrap_or(-1)));
    Ok(TensorSpec {
        name,
        datatype,
        shape: spec_shape,
    })
}

/// The specs of the optimized model's outputs, the batch axis free.
fn output_specs(typed: &TypedModel, file: &Path) -> Result<Vec<TensorSpec>, BackendError> {
    let outlets = typed.output_outlets().map_err(|e| unsupported(file, e))?;
    let mut outputs = Vec::with_capacity(outlets.len());
    for (ix, outlet) in outlets.iter().enumerate() {
        let name = typed
            .outlet_label(*outlet)
            .map(str::to_string)
            .unwrap_or_else(|| typed.node(outlet.node).name.clone());
        let fact = typed.output_fact(ix).map_err(|e| unsupported(file, e))?;
        let datatype = datatype(fact.datum_type).ok_or_else(|| BackendError::UnsupportedType {
            what: "output",
            name: name.clone(),
            found: format!("{:?}", fact.datum_type),
        })?;
        let mut shape: Vec<i64> = fact
            .shape
            .iter()
            .map(|d| d.as_i64().unwrap_or(-1))
            .collect();
        if let Some(first) = shape.first_mut() {
            *first = -1;
        }
        outputs.push(TensorSpec {
            name,
            datatype,
            shape,
        });
    }
    Ok(outputs)
}

fn datatype(datum: DatumType) -> Option<DataType> {
    Some(match datum {
        DatumType::Bool => DataType::Bool,
        DatumType::U8 => DataType::Uint8,
        DatumType::I8 => DataType::Int8,
        DatumType::I32 => DataType::Int32,
        // Integer results computed from shapes (ArgMax indices after a
        // Cast, for instance) come out as symbolic dimensions; they are
        // plain integers by the time the plan runs.
        DatumType::I64 | DatumType::TDim => DataType::Int64,
        DatumType::F16 => DataType::Fp16,
        DatumType::F32 => DataType::Fp32,
        DatumType::F64 => DataType::Fp64,
        _ => return None,
    })
}

fn to_tract(tensor: &Tensor) -> Result<TValue, BackendError> {
    let shape = &tensor.shape;
    let built = match &tensor.data {
        TensorData::Bool(v) => TractTensor::from_shape(shape, v),
        TensorData::Uint8(v) => TractTensor::from_shape(shape, v),
        TensorData::Int8(v) => TractTensor::from_shape(shape, v),
        TensorData::Int32(v) => TractTensor::from_shape(shape, v),
        TensorData::Int64(v) => TractTensor::from_shape(shape, v),
        TensorData::Fp16(v) => TractTensor::from_shape(shape, v),
        TensorData::Fp32(v) => TractTensor::from_shape(shape, v),
        TensorData::Fp64(v) => TractTensor::from_shape(shape, v),
        TensorData::Bytes(_) => {
            return Err(BackendError::Run(format!(
                "input `{}` is BYTES, which the tract backend does not run",
                tensor.name
            )));
        }
    };
    built
        .map(TValue::from)
        .map_err(|e| BackendError::Run(format!("input `{}`: {e:#}", tensor.name)))
}

fn from_tract(spec: &TensorSpec, value: &TractTensor) -> Result<Tensor, BackendError> {
    let fail = |e: tract_onnx::prelude::TractError| {
        BackendError::Run(format!("output `{}`: {e:#}", spec.name))
    };
    let wanted = match spec.datatype {
        DataType::Bool => DatumType::Bool,
        DataType::Uint8 => DatumType::U8,
        DataType::Int8 => DatumType::I8,
        DataType::Int32 => DatumType::I32,
        DataType::Int64 => DatumType::I64,
        DataType::Fp16 => DatumType::F16,
        DataType::Fp32 => DatumType::F32,
        DataType::Fp64 => DatumType::F64,
        DataType::Bytes => DatumType::String,
    };
    let value = value.cast_to_dt(wanted).map_err(fail)?;
    let view = value.try_as_plain_ram().map_err(fail)?;
    let data = match spec.datatype {
        DataType::Bool => TensorData::Bool(view.as_slice::<bool>().map_err(fail)?.to_vec()),
        DataType::Uint8 => TensorData::Uint8(view.as_slice::<u8>().map_err(fail)?.to_vec()),
        DataType::Int8 => TensorData::Int8(view.as_slice::<i8>().map_err(fail)?.to_vec()),
        DataType::Int32 => TensorData::Int32(view.as_slice::<i32>().map_err(fail)?.to_vec()),
        DataType::Int64 => TensorData::Int64(view.as_slice::<i64>().map_err(fail)?.to_vec()),
        DataType::Fp16 => TensorData::Fp16(view.as_slice::<f16>().map_err(fail)?.to_vec()),
        DataType::Fp32 => TensorData::Fp32(view.as_slice::<f32>().map_err(fail)?.to_vec()),
        DataType::Fp64 => TensorData::Fp64(view.as_slice::<f64>().map_err(fail)?.to_vec()),
        DataType::Bytes => TensorData::Bytes(view.as_slice::<String>().map_err(fail)?.to_vec()),
    };
    Ok(Tensor::new(spec.name.clone(), value.shape().to_vec(), data))
}

impl Backend for TractBackend {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, BackendError> {
        let values = inputs
            .iter()
            .map(to_tract)
            .collect::<Result<TVec<_>, _>>()?;
        let outputs = self
            .plan
            .run(values)
            .map_err(|e| BackendError::Run(format!("{e:#}")))?;
        self.signature
            .outputs
            .iter()
            .zip(outputs.iter())
            .map(|(spec, value)| from_tract(spec, value))
            .collect()
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }
}
