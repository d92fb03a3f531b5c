//! The Open Inference Protocol (KServe V2) REST messages: inference
//! request and response, model and server metadata.
//!
//! [`decode_request`] turns a request into tensors in the model's input
//! order, checking names, datatypes, shapes (the batch axis is free, the
//! others fixed by the model) and element counts; anything wrong is a
//! [`BadRequest`] naming the input.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BadRequest, FlatData, decode_elements};
use crate::backend::{Signature, TensorSpec};
use crate::tensor::{DataType, Tensor, TensorData, each_variant};

/// `POST /v2/models/{m}/infer` body.
#[derive(Debug, Deserialize)]
pub struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    pub inputs: Vec<RequestInput>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestOutput>>,
}

/// One input tensor of a request.
#[derive(Debug, Deserialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Value>,
    pub data: FlatData,
}

/// One requested output.
#[derive(Debug, Deserialize)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// A decoded request: inputs in the model's order, and which outputs to return.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRequest {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    /// Output indices into the signature, in the order asked for.
    pub outputs: Vec<usize>,
}

/// Checks `request` against the model's signature and builds its tensors.
pub fn decode_request(
    request: InferRequest,
    signature: &Signature,
) -> Result<DecodedRequest, BadRequest> {
    let mut slots: Vec<Option<Tensor>> = vec![None; signature.inputs.len()];
    for input in request.inputs {
        let index = signature
            .inputs
            .iter()
            .position(|spec| spec.name == input.name)
            .ok_or_else(|| {
                BadRequest(format!(
                    "unknown input `{}`; the model takes {}",
                    input.name,
                    names(&signature.inputs)
                ))
            })?;
        if slots[index].is_some() {
            return Err(BadRequest(format!("input `{}` given twice", input.name)));
        }
        slots[index] = Some(decode_input(input, &signature.inputs[index])?);
    }
    let mut inputs = Vec::with_capacity(slots.len());
    for (slot, spec) in slots.into_iter().zip(&signature.inputs) {
        inputs.push(slot.ok_or_else(|| BadRequest(format!("missing input `{}`", spec.name)))?);
    }
    if let Some(first) = inputs.first()
        && let Some(other) = inputs.iter().find(|t| t.rows() != first.rows())
    {
        return Err(BadRequest(format!(
            "inputs disagree on the batch size: `{}` has {} rows, `{}` has {}",
            first.name,
            first.rows(),
            other.name,
            other.rows()
        )));
    }
    let outputs = match request.outputs {
        None => (0..signature.outputs.len()).collect(),
        Some(wanted) => wanted
            .iter()
            .map(|o| {
                signature
                    .outputs
                    .iter()
                    .position(|spec| spec.name == o.name)
                    .ok_or_else(|| {
                        BadRequest(format!(
                            "unknown output `{}`; the model returns {}",
                            o.name,
                            names(&signature.outputs)
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(DecodedRequest {
        id: request.id,
        inputs,
        outputs,
    })
}

fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("`{}`", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates the shape of a request tensor against `spec`: same rank, at
/// least one row, fixed dimensions equal. Returns the shape as `usize`s.
pub fn check_shape(name: &str, shape: &[i64], spec: &TensorSpec) -> Result<Vec<usize>, BadRequest> {
    if shape.len() != spec.shape.len() {
        return Err(BadRequest(format!(
            "input `{name}` has shape {shape:?} but the model expects rank {} ({:?}, -1 = any)",
            spec.shape.len(),
            spec.shape
        )));
    }
    let mut dims = Vec::with_capacity(shape.len());
    for (axis, (&given, &expected)) in shape.iter().zip(&spec.shape).enumerate() {
        let given = usize::try_from(given).map_err(|_| {
            BadRequest(format!(
                "input `{name}` has a negative dimension in shape {shape:?}"
            ))
        })?;
        if axis == 0 && given == 0 {
            return Err(BadRequest(format!(
                "input `{name}` is an empty batch (shape {shape:?})"
            )));
        }
        if expected >= 0 && given as i64 != expected {
            return Err(BadRequest(format!(
                "input `{name}` has shape {shape:?} but the model expects {:?} (-1 = any)",
                spec.shape
            )));
        }
        dims.push(given);
    }
    Ok(dims)
}

fn decode_input(input: RequestInput, spec: &TensorSpec) -> Result<Tensor, BadRequest> {
    let name = &input.name;
    let datatype = DataType::parse(&input.datatype).ok_or_else(|| {
        BadRequest(format!(
            "input `{name}` has unsupported datatype `{}`",
            input.datatype
        ))
    })?;
    if datatype != spec.datatype {
        return Err(BadRequest(format!(
            "input `{name}` is {datatype} but the model expects {}",
            spec.datatype
        )));
    }
    let shape = check_shape(name, &input.shape, spec)?;
    let count: usize = shape.iter().product();
    let flat = &input.data.0;
    if flat.len() != count {
        return Err(BadRequest(format!(
            "input `{name}` has {} elements but shape {:?} needs {count}",
            flat.len(),
            input.shape
        )));
    }
    let data = decode_elements(flat, datatype, &format!("input `{name}`"))?;
    Ok(Tensor::new(name.clone(), shape, data))
}

/// `POST /v2/models/{m}/infer` response body.
#[derive(Debug, Serialize)]
pub struct InferResponse<'a> {
    pub model_name: &'a str,
    pub model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub outputs: Vec<ResponseOutput<'a>>,
}

/// One output tensor of a response; `data` is flat, row-major.
#[derive(Debug, Serialize)]
pub struct ResponseOutput<'a> {
    pub name: &'a str,
    pub datatype: &'static str,
    pub shape: &'a [usize],
    pub data: Elements<'a>,
}

/// Serializes tensor elements as one flat JSON array.
#[derive(Debug)]
pub struct Elements<'a>(pub &'a TensorData);

impl Serialize for Elements<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        each_variant!(self.0, v => v.serialize(serializer))
    }
}

impl<'a> ResponseOutput<'a> {
    pub fn new(tensor: &'a Tensor) -> ResponseOutput<'a> {
        ResponseOutput {
            name: &tensor.name,
            datatype: tensor.datatype().as_str(),
            shape: &tensor.shape,
            data: Elements(&tensor.data),
        }
    }
}

/// `GET /v2/models/{m}` response body.
#[derive(Debug, Serialize)]
pub struct ModelMetadata<'a> {
    pub name: &'a str,
    pub versions: Vec<&'a str>,
    pub platform: &'a str,
    pub inputs: Vec<TensorMetadata<'a>>,
    pub outputs: Vec<TensorMetadata<'a>>,
}

/// A tensor in model metadata; `-1` marks a free dimension.
#[derive(Debug, Serialize)]
pub struct TensorMetadata<'a> {
    pub name: &'a str,
    pub datatype: &'static str,
    pub shape: &'a [i64],
}

impl<'a> TensorMetadata<'a> {
    pub fn new(spec: &'a TensorSpec) -> TensorMetadata<'a> {
        TensorMetadata {
            name: &spec.name,
            datatype: spec.datatype.as_str(),
            shape: &spec.shape,
        }
    }
}

/// `GET /v2` response body.
#[derive(Debug, Serialize)]
pub struct ServerMetadata {
    pub name: &'static str,
    pub version: &'static str,
    pub extensions: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signature() -> Signature {
        Signature {
            inputs: vec![TensorSpec {
                name: "X".into(),
                datatype: DataType::Fp32,
                shape: vec![-1, 2],
            }],
            outputs: vec![
                TensorSpec {
                    name: "label".into(),
                    datatype: DataType::Int64,
                    shape: vec![-1],
                },
                TensorSpec {
                    name: "probabilities".into(),
                    datatype: DataType::Fp32,
                    shape: vec![-1, 10],
                },
            ],
        }
    }

    fn request(body: Value) -> Result<DecodedRequest, BadRequest> {
        decode_request(
            serde_json::from_value(body).expect("request parses"),
            &signature(),
        )
    }

    #[test]
    fn valid_request_decodes_with_output_filter() {
        let decoded = request(json!({
            "id": "r1",
            "inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}],
            "outputs": [{"name": "probabilities"}]
        }))
        .unwrap();
        assert_eq!(decoded.id.as_deref(), Some("r1"));
        assert_eq!(decoded.inputs[0].shape, vec![2, 2]);
        assert_eq!(decoded.outputs, vec![1]);
    }

    #[test]
    fn wrong_datatype_names_both_types() {
        let err = request(
            json!({"inputs": [{"name": "X", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}),
        );
        assert_eq!(
            err.unwrap_err().0,
            "input `X` is INT64 but the model expects FP32"
        );
    }

    #[test]
    fn wrong_row_shape_is_rejected() {
        let err = request(
            json!({"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
        );
        assert!(err.unwrap_err().0.contains("the model expects [-1, 2]"));
    }

    #[test]
    fn empty_batch_is_rejected() {
        let err = request(
            json!({"inputs": [{"name": "X", "shape": [0, 2], "datatype": "FP32", "data": []}]}),
        );
        assert!(err.unwrap_err().0.contains("empty batch"));
    }

    #[test]
    fn element_count_must_match_shape() {
        let err = request(
            json!({"inputs": [{"name": "X", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}),
        );
        assert_eq!(
            err.unwrap_err().0,
            "input `X` has 3 elements but shape [2, 2] needs 4"
        );
    }

    #[test]
    fn unknown_output_lists_the_real_ones() {
        let err = request(json!({
            "inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}],
            "outputs": [{"name": "nope"}]
        }));
        assert_eq!(
            err.unwrap_err().0,
            "unknown output `nope`; the model returns `label`, `probabilities`"
        );
    }

    #[test]
    fn missing_input_is_named() {
        let err = request(json!({"inputs": []}));
        assert_eq!(err.unwrap_err().0, "missing input `X`");
    }
}
