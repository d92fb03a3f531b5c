//! The Open Inference Protocol (KServe V2) REST messages: inference
//! request and response, model and server metadata.
//!
//! [`decode_request`] turns a request into tensors in the model's input
//! order, checking names, datatypes, shapes (the batch axis is free, the
//! others fixed by the model) and element counts; anything wrong is a
//! [`BadRequest`] naming the input. Each input's data is either JSON
//! (`data`) or binary (`binary_data_size` bytes of the body's binary
//! section, see [`super::binary`]); each output is returned as JSON or
//! binary as the `binary_data` and `binary_data_output` parameters ask.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BadRequest, FlatData, binary, decode_elements};
use crate::backend::{Signature, TensorSpec};
use crate::tensor::{DataType, Tensor, TensorData};

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

/// One input tensor of a request: JSON `data`, or `binary_data_size` in
/// its parameters.
#[derive(Debug, Deserialize)]
pub struct RequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub data: Option<FlatData>,
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
    /// Outputs in the order asked for.
    pub outputs: Vec<OutputChoice>,
}

/// One output to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputChoice {
    /// Index into the signature's outputs.
    pub index: usize,
    /// Returned as binary data after the JSON rather than in it.
    pub binary: bool,
}

/// A parameter's value: `None` when absent; an error when `parameters` is
/// not an object or the value does not have the type `read` takes.
fn parameter<T>(
    parameters: Option<&Value>,
    key: &str,
    owner: &str,
    expected: &str,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, BadRequest> {
    let Some(parameters) = parameters else {
        return Ok(None);
    };
    let Some(map) = parameters.as_object() else {
        return Err(BadRequest(format!(
            "the parameters of {owner} must be a JSON object, not {parameters}"
        )));
    };
    match map.get(key) {
        None => Ok(None),
        Some(value) => read(value).map(Some).ok_or_else(|| {
            BadRequest(format!(
                "parameter `{key}` of {owner} must be {expected}, not {value}"
            ))
        }),
    }
}

/// Checks `request` against the model's signature and builds its tensors.
/// `binary` is the body's binary section (empty without one): the inputs
/// with `binary_data_size` take it in turn and must use all of it.
pub fn decode_request(
    request: InferRequest,
    signature: &Signature,
    binary: &[u8],
) -> Result<DecodedRequest, BadRequest> {
    let mut slots: Vec<Option<Tensor>> = vec![None; signature.inputs.len()];
    let mut offset = 0usize;
    for input in request.inputs {
        let owner = format!("input `{}`", input.name);
        let size = parameter(
            input.parameters.as_ref(),
            "binary_data_size",
            &owner,
            "a non-negative integer",
            Value::as_u64,
        )?;
        let source = match (size, input.data.is_some()) {
            (Some(_), true) => {
                return Err(BadRequest(format!(
                    "{owner} has both `data` and `binary_data_size`; send one"
                )));
            }
            (None, false) => {
                return Err(BadRequest(format!(
                    "{owner} has neither `data` nor a `binary_data_size` parameter"
                )));
            }
            (None, true) => None,
            (Some(size), false) => {
                let end = usize::try_from(size)
                    .ok()
                    .and_then(|size| offset.checked_add(size))
                    .filter(|&end| end <= binary.len())
                    .ok_or_else(|| {
                        BadRequest(format!(
                            "{owner} has binary_data_size {size}, past the end of the binary section \
                             ({} bytes after the JSON header, {offset} already taken{})",
                            binary.len(),
                            if binary.is_empty() {
                                "; is the Inference-Header-Content-Length header missing?"
                            } else {
                                ""
                            }
                        ))
                    })?;
                let bytes = &binary[offset..end];
                offset = end;
                Some(bytes)
            }
        };
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
        slots[index] = Some(decode_input(input, source, &signature.inputs[index])?);
    }
    if offset != binary.len() {
        return Err(BadRequest(format!(
            "the binary section has {} bytes but the inputs' binary_data_size add up to {offset}",
            binary.len()
        )));
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
    let all_binary = parameter(
        request.parameters.as_ref(),
        "binary_data_output",
        "the request",
        "true or false",
        Value::as_bool,
    )?
    .unwrap_or(false);
    let outputs = match request.outputs {
        None => (0..signature.outputs.len())
            .map(|index| OutputChoice {
                index,
                binary: all_binary,
            })
            .collect(),
        Some(wanted) => wanted
            .iter()
            .map(|o| {
                let index = signature
                    .outputs
                    .iter()
                    .position(|spec| spec.name == o.name)
                    .ok_or_else(|| {
                        BadRequest(format!(
                            "unknown output `{}`; the model returns {}",
                            o.name,
                            names(&signature.outputs)
                        ))
                    })?;
                let binary = parameter(
                    o.parameters.as_ref(),
                    "binary_data",
                    &format!("output `{}`", o.name),
                    "true or false",
                    Value::as_bool,
                )?
                .unwrap_or(all_binary);
                Ok(OutputChoice { index, binary })
            })
            .collect::<Result<_, BadRequest>>()?,
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

fn decode_input(
    input: RequestInput,
    binary: Option<&[u8]>,
    spec: &TensorSpec,
) -> Result<Tensor, BadRequest> {
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
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| BadRequest(format!("input `{name}` has a shape too large: {shape:?}")))?;
    let what = format!("input `{name}`");
    let data = match (binary, &input.data) {
        (Some(bytes), _) => binary::decode(bytes, datatype, count, &what)?,
        (None, Some(flat)) => {
            let flat = &flat.0;
            if flat.len() != count {
                return Err(BadRequest(format!(
                    "input `{name}` has {} elements but shape {:?} needs {count}",
                    flat.len(),
                    input.shape
                )));
            }
            decode_elements(flat, datatype, &what)?
        }
        (None, None) => {
            return Err(BadRequest(format!("{what} has no data")));
        }
    };
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

/// One output tensor of a response: `data` flat and row-major, or, for a
/// binary output, `binary_data_size` in its parameters and the bytes after
/// the JSON.
#[derive(Debug, Serialize)]
pub struct ResponseOutput<'a> {
    pub name: &'a str,
    pub datatype: &'static str,
    pub shape: &'a [usize],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BinaryParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Elements<'a>>,
}

/// The parameters of a binary output.
#[derive(Debug, Serialize)]
pub struct BinaryParameters {
    pub binary_data_size: usize,
}

/// Serializes tensor elements as one flat JSON array (FP16 as numbers,
/// BYTES as strings).
#[derive(Debug)]
pub struct Elements<'a>(pub &'a TensorData);

impl Serialize for Elements<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            TensorData::Bool(v) => v.serialize(serializer),
            TensorData::Uint8(v) => v.serialize(serializer),
            TensorData::Int8(v) => v.serialize(serializer),
            TensorData::Int32(v) => v.serialize(serializer),
            TensorData::Int64(v) => v.serialize(serializer),
            TensorData::Fp16(v) => serializer.collect_seq(v.iter().map(|x| x.to_f32())),
            TensorData::Fp32(v) => v.serialize(serializer),
            TensorData::Fp64(v) => v.serialize(serializer),
            TensorData::Bytes(v) => v.serialize(serializer),
        }
    }
}

impl<'a> ResponseOutput<'a> {
    /// The output with its data in the JSON.
    pub fn new(tensor: &'a Tensor) -> ResponseOutput<'a> {
        ResponseOutput {
            name: &tensor.name,
            datatype: tensor.datatype().as_str(),
            shape: &tensor.shape,
            parameters: None,
            data: Some(Elements(&tensor.data)),
        }
    }

    /// The output with its data after the JSON.
    pub fn binary(tensor: &'a Tensor) -> ResponseOutput<'a> {
        ResponseOutput {
            name: &tensor.name,
            datatype: tensor.datatype().as_str(),
            shape: &tensor.shape,
            parameters: Some(BinaryParameters {
                binary_data_size: tensor.data.byte_len(),
            }),
            data: None,
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
        with_binary(body, &[])
    }

    fn with_binary(body: Value, binary: &[u8]) -> Result<DecodedRequest, BadRequest> {
        decode_request(
            serde_json::from_value(body).expect("request parses"),
            &signature(),
            binary,
        )
    }

    fn fp32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn binary_input(size: Value) -> Value {
        json!({"name": "X", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": size}})
    }

    #[test]
    fn binary_input_takes_its_bytes() {
        let decoded = with_binary(
            json!({"inputs": [binary_input(json!(8))]}),
            &fp32_bytes(&[1.5, -2.0]),
        )
        .unwrap();
        assert_eq!(decoded.inputs[0].data, TensorData::Fp32(vec![1.5, -2.0]));
        assert!(decoded.outputs.iter().all(|o| !o.binary));
    }

    #[test]
    fn binary_sizes_must_add_up_to_the_section() {
        let body = json!({"inputs": [binary_input(json!(8))]});
        let err = with_binary(body.clone(), &[0; 12]).unwrap_err();
        assert_eq!(
            err.0,
            "the binary section has 12 bytes but the inputs' binary_data_size add up to 8"
        );
        let err = with_binary(body, &[0; 4]).unwrap_err();
        assert!(
            err.0.contains("past the end of the binary section"),
            "{err}"
        );
        let err = request(json!({"inputs": [binary_input(json!(8))]})).unwrap_err();
        assert!(
            err.0
                .contains("Inference-Header-Content-Length header missing"),
            "{err}"
        );
    }

    #[test]
    fn binary_size_must_match_shape_and_datatype() {
        let body = json!({"inputs": [binary_input(json!(4))]});
        let err = with_binary(body, &[0; 4]).unwrap_err();
        assert_eq!(
            err.0,
            "input `X` has binary_data_size 4 but 2 FP32 elements take 8 bytes"
        );
    }

    #[test]
    fn binary_size_must_be_a_non_negative_integer() {
        for bad in [json!(-8), json!(8.5), json!("8"), json!(null)] {
            let err =
                with_binary(json!({"inputs": [binary_input(bad.clone())]}), &[0; 8]).unwrap_err();
            assert!(
                err.0.starts_with(
                    "parameter `binary_data_size` of input `X` must be a non-negative integer"
                ),
                "{bad}: {err}"
            );
        }
        let err = request(json!({"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32", "parameters": 3}]}))
            .unwrap_err();
        assert!(err.0.contains("must be a JSON object"), "{err}");
    }

    #[test]
    fn data_and_binary_size_together_are_refused() {
        let mut input = binary_input(json!(8));
        input["data"] = json!([1, 2]);
        let err = with_binary(json!({"inputs": [input]}), &[0; 8]).unwrap_err();
        assert!(
            err.0.contains("both `data` and `binary_data_size`"),
            "{err}"
        );
        let err = request(json!({"inputs": [{"name": "X", "shape": [1, 2], "datatype": "FP32"}]}))
            .unwrap_err();
        assert!(err.0.contains("neither `data`"), "{err}");
    }

    #[test]
    fn binary_output_parameters_choose_per_output() {
        let input = json!({"name": "X", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]});
        let all = request(json!({"inputs": [input], "parameters": {"binary_data_output": true}}))
            .unwrap();
        assert!(all.outputs.iter().all(|o| o.binary));
        let mixed = request(json!({
            "inputs": [input],
            "parameters": {"binary_data_output": true},
            "outputs": [{"name": "label", "parameters": {"binary_data": false}}, {"name": "probabilities"}]
        }))
        .unwrap();
        assert_eq!(
            mixed.outputs,
            [
                OutputChoice {
                    index: 0,
                    binary: false
                },
                OutputChoice {
                    index: 1,
                    binary: true
                }
            ]
        );
        let err = request(json!({
            "inputs": [input],
            "outputs": [{"name": "label", "parameters": {"binary_data": "yes"}}]
        }))
        .unwrap_err();
        assert_eq!(
            err.0,
            "parameter `binary_data` of output `label` must be true or false, not \"yes\""
        );
        let err = request(json!({"inputs": [input], "parameters": {"binary_data_output": 1}}))
            .unwrap_err();
        assert!(
            err.0.contains("`binary_data_output` of the request"),
            "{err}"
        );
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
        assert_eq!(
            decoded.outputs,
            vec![OutputChoice {
                index: 1,
                binary: false
            }]
        );
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
