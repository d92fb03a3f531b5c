//! One set of tensor checks for both protocols: the same faulty request,
//! sent over HTTP (JSON `data`, or the binary tensor extension) and over
//! gRPC (typed `contents`, or `raw_input_contents`) to one real server on
//! 127.0.0.1, is refused with the same message, a 400 on one side and
//! INVALID_ARGUMENT on the other.

use model_server::protocol::grpc::proto::model_infer_request::{
    InferInputTensor, InferRequestedOutputTensor,
};
use model_server::protocol::grpc::proto::{InferTensorContents, ModelInferRequest};
use serde_json::{Value, json};
use tonic::Code;

use crate::common::{Server, client, grpc_client, start_with_grpc};

/// One input of a faulty request, in the terms both protocols share.
#[derive(Clone)]
struct Input {
    name: &'static str,
    datatype: &'static str,
    shape: Vec<i64>,
    elements: Elements,
}

/// An input's elements: numbers (JSON `data` / typed contents) or raw
/// little-endian bytes (the binary section / `raw_input_contents`).
#[derive(Clone)]
enum Elements {
    Fp32(Vec<f32>),
    Int64(Vec<i64>),
    Raw(Vec<u8>),
}

impl Input {
    fn new(shape: &[i64], elements: Elements) -> Input {
        Input {
            name: "input",
            datatype: "FP32",
            shape: shape.to_vec(),
            elements,
        }
    }

    /// One good row of the digits MLP: `[1, 64]` FP32.
    fn row() -> Input {
        Input::new(&[1, 64], Elements::Fp32(vec![0.5; 64]))
    }
}

/// A faulty request: its inputs and the outputs it asks for.
struct Case {
    what: &'static str,
    inputs: Vec<Input>,
    outputs: Vec<&'static str>,
}

impl Case {
    fn new(what: &'static str, inputs: Vec<Input>) -> Case {
        Case {
            what,
            inputs,
            outputs: Vec::new(),
        }
    }

    /// The HTTP form: a JSON body, with a binary section after it when an
    /// input is raw; returns the body and the JSON header's length.
    fn http_body(&self) -> (Vec<u8>, Option<usize>) {
        let mut section = Vec::new();
        let inputs: Vec<Value> = self
            .inputs
            .iter()
            .map(|input| {
                let mut value =
                    json!({"name": input.name, "datatype": input.datatype, "shape": input.shape});
                match &input.elements {
                    Elements::Fp32(values) => value["data"] = json!(values),
                    Elements::Int64(values) => value["data"] = json!(values),
                    Elements::Raw(bytes) => {
                        value["parameters"] = json!({"binary_data_size": bytes.len()});
                        section.extend_from_slice(bytes);
                    }
                }
                value
            })
            .collect();
        let mut header = json!({"inputs": inputs});
        if !self.outputs.is_empty() {
            let outputs: Vec<Value> = self
                .outputs
                .iter()
                .map(|name| json!({"name": name}))
                .collect();
            header["outputs"] = json!(outputs);
        }
        let mut body = serde_json::to_vec(&header).unwrap();
        let length = (!section.is_empty()).then_some(body.len());
        body.extend_from_slice(&section);
        (body, length)
    }

    /// The gRPC form of the same request.
    fn grpc_request(&self) -> ModelInferRequest {
        let mut raw_input_contents = Vec::new();
        let inputs = self
            .inputs
            .iter()
            .map(|input| {
                let contents = match &input.elements {
                    Elements::Fp32(values) => Some(InferTensorContents {
                        fp32_contents: values.clone(),
                        ..Default::default()
                    }),
                    Elements::Int64(values) => Some(InferTensorContents {
                        int64_contents: values.clone(),
                        ..Default::default()
                    }),
                    Elements::Raw(bytes) => {
                        raw_input_contents.push(bytes.clone().into());
                        None
                    }
                };
                InferInputTensor {
                    name: input.name.into(),
                    datatype: input.datatype.into(),
                    shape: input.shape.clone(),
                    contents,
                    ..Default::default()
                }
            })
            .collect();
        ModelInferRequest {
            model_name: "digits".into(),
            inputs,
            outputs: self
                .outputs
                .iter()
                .map(|name| InferRequestedOutputTensor {
                    name: (*name).into(),
                    ..Default::default()
                })
                .collect(),
            raw_input_contents,
            ..Default::default()
        }
    }
}

/// Every fault the shared checks cover that a one-input model can show,
/// with the message both protocols must give.
fn cases() -> Vec<(Case, &'static str)> {
    let row = Input::row;
    let with = |change: fn(&mut Input)| {
        let mut input = row();
        change(&mut input);
        vec![input]
    };
    let fp32_bytes =
        |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let mut nan = vec![0.5f32; 64];
    nan[5] = f32::NAN;
    let asking = |what, outputs| {
        let mut case = Case::new(what, vec![row()]);
        case.outputs = outputs;
        case
    };
    vec![
        (
            Case::new("unknown input", with(|i| i.name = "pixels")),
            "unknown input `pixels`; the model takes `input`",
        ),
        (Case::new("missing input", vec![]), "missing input `input`"),
        (
            Case::new("duplicate input", vec![row(), row()]),
            "input `input` given twice",
        ),
        (
            Case::new("unsupported datatype", with(|i| i.datatype = "FP8")),
            "input `input` has unsupported datatype `FP8`",
        ),
        (
            Case::new(
                "wrong datatype",
                vec![Input {
                    datatype: "INT64",
                    elements: Elements::Int64(vec![1; 64]),
                    ..row()
                }],
            ),
            "input `input` is INT64 but the model expects FP32",
        ),
        (
            Case::new("wrong rank", with(|i| i.shape = vec![64])),
            "input `input` has shape [64] but the model expects rank 2 ([-1, 64], -1 = any)",
        ),
        (
            Case::new("wrong fixed dimension", with(|i| i.shape = vec![1, 63])),
            "input `input` has shape [1, 63] but the model expects [-1, 64] (-1 = any)",
        ),
        (
            Case::new("negative dimension", with(|i| i.shape = vec![-1, 64])),
            "input `input` has a negative dimension in shape [-1, 64]",
        ),
        (
            Case::new(
                "empty batch",
                vec![Input::new(&[0, 64], Elements::Fp32(vec![]))],
            ),
            "input `input` is an empty batch (shape [0, 64])",
        ),
        (
            Case::new("shape too large", with(|i| i.shape = vec![i64::MAX, 64])),
            "input `input` has shape [9223372036854775807, 64], too many elements to address",
        ),
        (
            Case::new(
                "element count short of the shape",
                vec![Input::new(&[1, 64], Elements::Fp32(vec![0.5; 63]))],
            ),
            "input `input` has 63 elements but shape [1, 64] needs 64",
        ),
        (
            Case::new(
                "element count past the shape",
                vec![Input::new(&[2, 64], Elements::Fp32(vec![0.5; 129]))],
            ),
            "input `input` has 129 elements but shape [2, 64] needs 128",
        ),
        (
            Case::new(
                "byte count short of the shape",
                vec![Input::new(&[1, 64], Elements::Raw(vec![0; 255]))],
            ),
            "input `input` has 255 bytes of binary data but 64 FP32 elements take 256 bytes",
        ),
        (
            Case::new(
                "a NaN element",
                vec![Input::new(&[1, 64], Elements::Raw(fp32_bytes(&nan)))],
            ),
            "input `input`: element 5 is not a finite number (NaN or infinite)",
        ),
        (
            asking("unknown output", vec!["logits"]),
            "unknown output `logits`; the model returns `label`, `probabilities`",
        ),
        (
            asking("output requested twice", vec!["label", "label"]),
            "output `label` requested twice",
        ),
    ]
}

async fn http_error(server: &Server, case: &Case) -> String {
    let (body, header_length) = case.http_body();
    let mut request = client()
        .post(server.url("/v2/models/digits/infer"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(length) = header_length {
        request = request.header("inference-header-content-length", length.to_string());
    }
    let response = request.send().await.expect("HTTP answers");
    assert_eq!(response.status(), 400, "{} over HTTP", case.what);
    let body: Value = response.json().await.expect("a JSON error");
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{} over HTTP: no error in {body}", case.what))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_request_gets_the_same_message_over_http_and_grpc() {
    let (server, port) = start_with_grpc("tract", "digits-mlp.onnx", &[]);
    server.wait_ready().await;
    let mut grpc = grpc_client(port).await;
    for (case, message) in cases() {
        let over_http = http_error(&server, &case).await;
        let status = grpc
            .model_infer(case.grpc_request())
            .await
            .expect_err(case.what);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            case.what
        );
        assert_eq!(
            over_http,
            status.message(),
            "{}: HTTP and gRPC differ",
            case.what
        );
        assert_eq!(over_http, message, "{}", case.what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_and_raw_contents_get_the_binary_forms_messages() {
    let (server, port) = start_with_grpc("tract", "digits-mlp.onnx", &[]);
    server.wait_ready().await;
    let mut grpc = grpc_client(port).await;
    // A NaN cannot be written in JSON; typed gRPC contents carry it and
    // are refused as the binary forms are.
    let mut nan = vec![0.5f32; 64];
    nan[5] = f32::NAN;
    let typed = Case::new(
        "a typed NaN",
        vec![Input::new(&[1, 64], Elements::Fp32(nan.clone()))],
    );
    let raw = Case::new(
        "a raw NaN",
        vec![Input::new(
            &[1, 64],
            Elements::Raw(nan.iter().flat_map(|v| v.to_le_bytes()).collect()),
        )],
    );
    let from_typed = grpc.model_infer(typed.grpc_request()).await.unwrap_err();
    let from_raw = grpc.model_infer(raw.grpc_request()).await.unwrap_err();
    let over_http = http_error(&server, &raw).await;
    assert_eq!(from_typed.message(), from_raw.message());
    assert_eq!(from_typed.message(), over_http);
}
