//! The Open Inference Protocol's gRPC messages (generated from
//! `proto/open_inference_grpc.proto` into [`proto`]) and their conversion
//! to and from [`Tensor`]s.
//!
//! [`decode_request`] checks a `ModelInferRequest` against the model's
//! signature through [`super::request`], the checks and messages the REST
//! decoder uses too, taking each input's elements from
//! `raw_input_contents` or from its typed `contents`. [`encode_response`] always answers with
//! `raw_output_contents`, as Triton does; every client of the protocol
//! reads both forms. Nothing here knows about transport or status codes.

use prost::bytes::Bytes;

use super::request::{
    DecodedRequest, Expected, InputData, Inputs, OutputChoice, requested_outputs,
};
use super::{BadRequest, Scalar, binary, decode_elements, request};
use crate::backend::{Signature, TensorSpec};
use crate::tensor::{DataType, Tensor, TensorData};

/// The generated messages, client and server of `inference.GRPCInferenceService`.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("inference");
}

use proto::model_infer_request::InferInputTensor;
use proto::model_infer_response::InferOutputTensor;
use proto::model_metadata_response::TensorMetadata;
use proto::{InferTensorContents, ModelInferRequest, ModelInferResponse};

/// Checks `request` against the model's signature and builds its tensors,
/// in the model's input order (see [`super::request`]).
pub fn decode_request(
    request: ModelInferRequest,
    signature: &Signature,
) -> Result<DecodedRequest, BadRequest> {
    let ModelInferRequest {
        id,
        inputs,
        outputs,
        raw_input_contents,
        parameters,
        ..
    } = request;
    let timeout = parameters
        .get("timeout")
        .map(|parameter| {
            use proto::infer_parameter::ParameterChoice;
            match &parameter.parameter_choice {
                Some(ParameterChoice::Int64Param(us)) => request::timeout(Some((*us).into()), us),
                Some(ParameterChoice::Uint64Param(us)) => request::timeout(Some((*us).into()), us),
                Some(ParameterChoice::BoolParam(b)) => request::timeout(None, b),
                Some(ParameterChoice::DoubleParam(x)) => request::timeout(None, x),
                Some(ParameterChoice::StringParam(s)) => request::timeout(None, &format!("{s:?}")),
                None => request::timeout(None, &"an empty parameter"),
            }
        })
        .transpose()?;
    check_raw_contents(&inputs, &raw_input_contents)?;
    let mut raw = raw_input_contents.into_iter();
    let mut tensors = Inputs::new(signature);
    for input in inputs {
        let raw = raw.next();
        tensors.add(
            &input.name,
            &input.datatype,
            &input.shape,
            |expected| match raw {
                Some(bytes) => expected.decode(InputData::Bytes(&bytes)),
                None => from_contents(input.contents.unwrap_or_default(), expected),
            },
        )?;
    }
    let inputs = tensors.finish()?;
    let outputs = requested_outputs(signature, outputs.iter().map(|o| o.name.as_str()))?
        .into_iter()
        .map(|index| OutputChoice {
            index,
            binary: true,
        })
        .collect();
    Ok(DecodedRequest {
        id: (!id.is_empty()).then_some(id),
        inputs,
        outputs,
        timeout,
    })
}

/// `raw_input_contents`, when given, holds one entry per input and no
/// input has typed `contents` beside it.
fn check_raw_contents(inputs: &[InferInputTensor], raw: &[Bytes]) -> Result<(), BadRequest> {
    if raw.is_empty() {
        return Ok(());
    }
    if raw.len() != inputs.len() {
        return Err(BadRequest(format!(
            "raw_input_contents has {} entries but the request has {} inputs; \
             give one per input, in the order of `inputs`",
            raw.len(),
            inputs.len()
        )));
    }
    if let Some(input) = inputs.iter().find(|input| input.contents.is_some()) {
        return Err(BadRequest(format!(
            "input `{}` has `contents` but the request also carries raw_input_contents; \
             use one or the other",
            input.name
        )));
    }
    Ok(())
}

/// The response carrying the outputs `wanted` names, as raw bytes (over
/// gRPC every output is raw: `binary` is not consulted).
pub fn encode_response(
    model_name: &str,
    model_version: &str,
    id: Option<String>,
    wanted: &[OutputChoice],
    outputs: &[Tensor],
) -> ModelInferResponse {
    let chosen: Vec<&Tensor> = wanted
        .iter()
        .filter_map(|choice| outputs.get(choice.index))
        .collect();
    ModelInferResponse {
        model_name: model_name.to_string(),
        model_version: model_version.to_string(),
        id: id.unwrap_or_default(),
        parameters: Default::default(),
        outputs: chosen
            .iter()
            .map(|tensor| InferOutputTensor {
                name: tensor.name.clone(),
                datatype: tensor.datatype().as_str().to_string(),
                shape: tensor.shape.iter().map(|&d| d as i64).collect(),
                parameters: Default::default(),
                contents: None,
            })
            .collect(),
        raw_output_contents: chosen
            .iter()
            .map(|tensor| {
                let mut bytes = Vec::with_capacity(tensor.data.byte_len());
                tensor.data.write_bytes(&mut bytes);
                Bytes::from(bytes)
            })
            .collect(),
    }
}

/// A tensor of model metadata; `-1` marks a free dimension.
pub fn tensor_metadata(spec: &TensorSpec) -> TensorMetadata {
    TensorMetadata {
        name: spec.name.clone(),
        datatype: spec.datatype.as_str().to_string(),
        shape: spec.shape.clone(),
    }
}

/// Elements from the typed field of `contents` that `expected.datatype`
/// uses, with the same checks and messages as the other forms: integers
/// narrower than their field go through the JSON conversion, floats must
/// be finite as in the binary form.
fn from_contents(
    contents: InferTensorContents,
    expected: &Expected,
) -> Result<TensorData, BadRequest> {
    let InferTensorContents {
        bool_contents,
        int_contents,
        int64_contents,
        uint_contents,
        fp32_contents,
        fp64_contents,
        bytes_contents,
        ..
    } = contents;
    let what = &expected.what;
    let narrow = |values: Vec<i64>| {
        expected.check_count(values.len())?;
        let scalars: Vec<Scalar> = values.into_iter().map(Scalar::Int).collect();
        decode_elements(&scalars, expected.datatype, what)
    };
    Ok(match expected.datatype {
        DataType::Bool => {
            expected.check_count(bool_contents.len())?;
            TensorData::Bool(bool_contents)
        }
        DataType::Int64 => {
            expected.check_count(int64_contents.len())?;
            TensorData::Int64(int64_contents)
        }
        DataType::Int32 => {
            expected.check_count(int_contents.len())?;
            TensorData::Int32(int_contents)
        }
        DataType::Int8 => narrow(int_contents.into_iter().map(i64::from).collect())?,
        DataType::Uint8 => narrow(uint_contents.into_iter().map(i64::from).collect())?,
        DataType::Fp32 => {
            expected.check_count(fp32_contents.len())?;
            binary::check_finite(&fp32_contents, what)?;
            TensorData::Fp32(fp32_contents)
        }
        DataType::Fp64 => {
            expected.check_count(fp64_contents.len())?;
            binary::check_finite(&fp64_contents, what)?;
            TensorData::Fp64(fp64_contents)
        }
        DataType::Bytes => {
            expected.check_count(bytes_contents.len())?;
            TensorData::Bytes(
                bytes_contents
                    .into_iter()
                    .enumerate()
                    .map(|(index, element)| {
                        String::from_utf8(element.to_vec())
                            .map_err(|_| binary::not_utf8(what, index))
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        // The protocol has no typed field for half floats.
        DataType::Fp16 => {
            return Err(BadRequest(format!(
                "{what} is FP16, which has no typed contents field; \
                 send it in raw_input_contents"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::f16;

    fn signature(datatype: DataType) -> Signature {
        Signature {
            inputs: vec![TensorSpec {
                name: "x".into(),
                datatype,
                shape: vec![-1, 2],
            }],
            outputs: vec![TensorSpec {
                name: "y".into(),
                datatype,
                shape: vec![-1, 2],
            }],
        }
    }

    fn request(
        datatype: &str,
        raw: Option<Vec<u8>>,
        contents: Option<InferTensorContents>,
    ) -> ModelInferRequest {
        ModelInferRequest {
            model_name: "m".into(),
            inputs: vec![InferInputTensor {
                name: "x".into(),
                datatype: datatype.into(),
                shape: vec![2, 2],
                contents,
                ..Default::default()
            }],
            raw_input_contents: raw.into_iter().map(Bytes::from).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn raw_and_typed_contents_decode_alike() {
        let values = [1.5f32, -2.0, 0.25, 8.0];
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let typed = InferTensorContents {
            fp32_contents: values.to_vec(),
            ..Default::default()
        };
        let from_raw = decode_request(request("FP32", Some(raw), None), &signature(DataType::Fp32));
        let from_typed = decode_request(
            request("FP32", None, Some(typed)),
            &signature(DataType::Fp32),
        );
        assert_eq!(from_raw, from_typed);
        let decoded = from_raw.unwrap();
        assert_eq!(decoded.inputs[0].data, TensorData::Fp32(values.to_vec()));
        assert_eq!(decoded.inputs[0].shape, vec![2, 2]);
        assert_eq!(
            decoded.outputs,
            vec![OutputChoice {
                index: 0,
                binary: true
            }]
        );
    }

    #[test]
    fn every_datatype_reads_little_endian_raw_bytes() {
        let cases: Vec<(&str, DataType, Vec<u8>, TensorData)> = vec![
            (
                "BOOL",
                DataType::Bool,
                vec![1, 0, 0, 1],
                TensorData::Bool(vec![true, false, false, true]),
            ),
            (
                "UINT8",
                DataType::Uint8,
                vec![0, 7, 255, 1],
                TensorData::Uint8(vec![0, 7, 255, 1]),
            ),
            (
                "INT8",
                DataType::Int8,
                vec![0xff, 1, 0x80, 0],
                TensorData::Int8(vec![-1, 1, -128, 0]),
            ),
            (
                "INT32",
                DataType::Int32,
                [-1i32, 2, 3, i32::MAX]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                TensorData::Int32(vec![-1, 2, 3, i32::MAX]),
            ),
            (
                "INT64",
                DataType::Int64,
                [-1i64, 2, 3, i64::MIN]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                TensorData::Int64(vec![-1, 2, 3, i64::MIN]),
            ),
            (
                "FP64",
                DataType::Fp64,
                [0.5f64, 1.0, -3.0, 1e300]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                TensorData::Fp64(vec![0.5, 1.0, -3.0, 1e300]),
            ),
        ];
        for (name, datatype, raw, expected) in cases {
            let decoded =
                decode_request(request(name, Some(raw.clone()), None), &signature(datatype))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(decoded.inputs[0].data, expected, "{name}");
            // Responses carry the same layout back.
            let response = encode_response("m", "1", None, &decoded.outputs, &decoded.inputs);
            assert_eq!(
                response.raw_output_contents[0].as_ref(),
                raw.as_slice(),
                "{name}"
            );
            assert_eq!(response.outputs[0].datatype, name);
            assert_eq!(response.outputs[0].shape, vec![2, 2]);
        }
    }

    #[test]
    fn half_floats_and_strings_travel_raw_both_ways() {
        let halves = [
            f16::from_f32(0.5),
            f16::from_f32(-1.25),
            f16::ZERO,
            f16::ONE,
        ];
        let raw: Vec<u8> = halves.iter().flat_map(|v| v.to_le_bytes()).collect();
        let decoded = decode_request(
            request("FP16", Some(raw.clone()), None),
            &signature(DataType::Fp16),
        )
        .expect("FP16 decodes");
        assert_eq!(decoded.inputs[0].data, TensorData::Fp16(halves.to_vec()));
        let response = encode_response("m", "1", None, &decoded.outputs, &decoded.inputs);
        assert_eq!(response.raw_output_contents[0].as_ref(), raw.as_slice());

        let words = ["cat", "", "über", "a"];
        let mut raw = Vec::new();
        for word in words {
            raw.extend_from_slice(&(word.len() as u32).to_le_bytes());
            raw.extend_from_slice(word.as_bytes());
        }
        let decoded = decode_request(
            request("BYTES", Some(raw.clone()), None),
            &signature(DataType::Bytes),
        )
        .expect("BYTES decodes");
        assert_eq!(
            decoded.inputs[0].data,
            TensorData::Bytes(words.iter().map(|w| w.to_string()).collect())
        );
        let response = encode_response("m", "1", None, &decoded.outputs, &decoded.inputs);
        assert_eq!(response.raw_output_contents[0].as_ref(), raw.as_slice());
        assert_eq!(response.outputs[0].datatype, "BYTES");

        // The same strings in the typed field.
        let typed = InferTensorContents {
            bytes_contents: words
                .iter()
                .map(|w| Bytes::from(w.as_bytes().to_vec()))
                .collect(),
            ..Default::default()
        };
        let from_typed = decode_request(
            request("BYTES", None, Some(typed)),
            &signature(DataType::Bytes),
        )
        .expect("typed BYTES decode");
        assert_eq!(from_typed.inputs, decoded.inputs);
    }

    #[test]
    fn malformed_strings_and_typed_half_floats_are_rejected() {
        // A length running past the data.
        let err = decode_request(
            request("BYTES", Some(vec![9, 0, 0, 0, b'a']), None),
            &signature(DataType::Bytes),
        )
        .unwrap_err();
        assert!(err.0.contains("input `x`"), "{}", err.0);
        let typed = InferTensorContents {
            bytes_contents: vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(&[0xff]),
                Bytes::from_static(b"b"),
                Bytes::from_static(b"c"),
            ],
            ..Default::default()
        };
        let err = decode_request(
            request("BYTES", None, Some(typed)),
            &signature(DataType::Bytes),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "input `x`: BYTES element 1 is not UTF-8 (this server carries BYTES as text)"
        );
        let err = decode_request(
            request("FP16", None, Some(InferTensorContents::default())),
            &signature(DataType::Fp16),
        )
        .unwrap_err();
        assert!(err.0.contains("send it in raw_input_contents"), "{}", err.0);
    }

    #[test]
    fn bool_bytes_other_than_zero_and_one_are_rejected() {
        let err = decode_request(
            request("BOOL", Some(vec![0, 1, 2, 0]), None),
            &signature(DataType::Bool),
        );
        assert_eq!(
            err.unwrap_err().0,
            "input `x`: BOOL element 2 is the byte 2, expected 0 or 1"
        );
    }

    #[test]
    fn typed_integers_out_of_the_datatype_range_are_rejected() {
        let contents = InferTensorContents {
            int_contents: vec![1, 2, 300, 4],
            ..Default::default()
        };
        let err = decode_request(
            request("INT8", None, Some(contents)),
            &signature(DataType::Int8),
        );
        assert_eq!(
            err.unwrap_err().0,
            "input `x`: element 2 is 300, expected an integer within INT8 range"
        );
    }

    #[test]
    fn infinite_floats_are_rejected() {
        let raw: Vec<u8> = [1.0f32, f32::INFINITY, 0.0, 0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let err = decode_request(request("FP32", Some(raw), None), &signature(DataType::Fp32));
        assert_eq!(
            err.unwrap_err().0,
            "input `x`: element 1 is not a finite number (NaN or infinite)"
        );
    }

    #[test]
    fn an_empty_id_is_no_id() {
        let raw = vec![0u8; 16];
        let mut with_id = request("FP32", Some(raw.clone()), None);
        with_id.id = "r1".into();
        let signature = signature(DataType::Fp32);
        assert_eq!(
            decode_request(with_id, &signature).unwrap().id.as_deref(),
            Some("r1")
        );
        assert_eq!(
            decode_request(request("FP32", Some(raw), None), &signature)
                .unwrap()
                .id,
            None
        );
    }
}
