//! The Open Inference Protocol (KServe V2) REST messages: inference
//! request and response, model and server metadata.
//!
//! [`decode_request`] turns a request into tensors in the model's input
//! order through [`super::request`], which owns the checks on names,
//! datatypes, shapes and element counts and their messages; this module
//! owns only what is REST's own. Each input's data is either JSON
//! (`data`) or binary (`binary_data_size` bytes of the body's binary
//! section, see [`super::binary`]); each output is returned as JSON or
//! binary as the `binary_data` and `binary_data_output` parameters ask.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::request::{DecodedRequest, OutputChoice};
use super::request::{InputData, Inputs, requested_outputs};
use super::{BadRequest, FlatData, request};
use crate::backend::{Signature, TensorSpec};
use crate::tensor::{Tensor, TensorData};

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

/// Checks `request` against the model's signature and builds its tensors
/// (see [`super::request`]). `binary` is the body's binary section (empty
/// without one): the inputs with `binary_data_size` take it in turn and
/// must use all of it.
pub fn decode_request(
    request: InferRequest,
    signature: &Signature,
    binary: &[u8],
) -> Result<DecodedRequest, BadRequest> {
    let mut inputs = Inputs::new(signature);
    let mut section = BinarySection {
        bytes: binary,
        taken: 0,
    };
    for input in &request.inputs {
        let data = input_data(input, &mut section)?;
        inputs.add(&input.name, &input.datatype, &input.shape, |expected| {
            expected.decode(data)
        })?;
    }
    section.check_all_taken()?;
    let inputs = inputs.finish()?;
    let outputs = choose_outputs(
        request.parameters.as_ref(),
        request.outputs.as_deref().unwrap_or_default(),
        signature,
    )?;
    let timeout = match request.parameters.as_ref().and_then(|p| p.get("timeout")) {
        None => None,
        Some(value) => Some(request::timeout(
            value
                .as_i64()
                .map(i128::from)
                .or_else(|| value.as_u64().map(i128::from)),
            value,
        )?),
    };
    Ok(DecodedRequest {
        id: request.id,
        inputs,
        outputs,
        timeout,
    })
}

/// The binary section of a body, taken by the binary inputs in turn.
struct BinarySection<'a> {
    bytes: &'a [u8],
    taken: usize,
}

impl<'a> BinarySection<'a> {
    /// The next `size` bytes, for `owner`.
    fn take(&mut self, size: u64, owner: &str) -> Result<&'a [u8], BadRequest> {
        let (bytes, taken) = (self.bytes, self.taken);
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| taken.checked_add(size))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                BadRequest(format!(
                    "{owner} has binary_data_size {size}, past the end of the binary section \
                     ({} bytes after the JSON header, {taken} already taken{})",
                    bytes.len(),
                    if bytes.is_empty() {
                        "; is the Inference-Header-Content-Length header missing?"
                    } else {
                        ""
                    }
                ))
            })?;
        self.taken = end;
        Ok(&bytes[taken..end])
    }

    /// Refuses bytes no input took.
    fn check_all_taken(&self) -> Result<(), BadRequest> {
        if self.taken == self.bytes.len() {
            return Ok(());
        }
        Err(BadRequest(format!(
            "the binary section has {} bytes but the inputs' binary_data_size add up to {}",
            self.bytes.len(),
            self.taken
        )))
    }
}

/// Where `input`'s elements are: its JSON `data`, or as many bytes of the
/// binary section as its `binary_data_size` parameter says.
fn input_data<'a>(
    input: &'a RequestInput,
    section: &mut BinarySection<'a>,
) -> Result<InputData<'a>, BadRequest> {
    let owner = format!("input `{}`", input.name);
    let size = parameter(
        input.parameters.as_ref(),
        "binary_data_size",
        &owner,
        "a non-negative integer",
        Value::as_u64,
    )?;
    match (size, &input.data) {
        (Some(_), Some(_)) => Err(BadRequest(format!(
            "{owner} has both `data` and `binary_data_size`; send one"
        ))),
        (None, None) => Err(BadRequest(format!(
            "{owner} has neither `data` nor a `binary_data_size` parameter"
        ))),
        (None, Some(flat)) => Ok(InputData::Scalars(&flat.0)),
        (Some(size), None) => section.take(size, &owner).map(InputData::Bytes),
    }
}

/// The outputs to return (see [`requested_outputs`]), each binary as its
/// `binary_data` parameter says, else as the request's `binary_data_output`.
fn choose_outputs(
    parameters: Option<&Value>,
    wanted: &[RequestOutput],
    signature: &Signature,
) -> Result<Vec<OutputChoice>, BadRequest> {
    let all_binary = parameter(
        parameters,
        "binary_data_output",
        "the request",
        "true or false",
        Value::as_bool,
    )?
    .unwrap_or(false);
    let indexes = requested_outputs(signature, wanted.iter().map(|o| o.name.as_str()))?;
    if wanted.is_empty() {
        return Ok(indexes
            .into_iter()
            .map(|index| OutputChoice {
                index,
                binary: all_binary,
            })
            .collect());
    }
    indexes
        .into_iter()
        .zip(wanted)
        .map(|(index, o)| {
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
        .collect()
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
    use crate::tensor::DataType;
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
            "input `X` has 4 bytes of binary data but 2 FP32 elements take 8 bytes"
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
