//! The binary tensor data extension, FP16 and BYTES, against the real
//! binary on both backends: binary inputs and outputs give what JSON gives,
//! mixed in one request; every malformed length or parameter is a 400 with
//! a JSON error and the server keeps serving; an FP16 model answers in FP16
//! in both forms; a string model answers BYTES in both forms on ONNX
//! Runtime, and tract refuses it at load, saying why.

use crate::common::{Server, client, digits, infer_body, model_path};
use model_server::tensor::f16;
use serde_json::{Value, json};

const MLP: &str = "digits-mlp.onnx";
const CNN: &str = "digits-cnn.onnx";
const FP16: &str = "digits-cnn-fp16.onnx";
const WORDS: &str = "words.onnx";
const HEADER: &str = "inference-header-content-length";

/// A JSON header followed by binary chunks, and the header's length.
fn binary_body(header: &Value, chunks: &[&[u8]]) -> (usize, Vec<u8>) {
    let mut body = serde_json::to_vec(header).unwrap();
    let length = body.len();
    for chunk in chunks {
        body.extend_from_slice(chunk);
    }
    (length, body)
}

/// A response: its status, the JSON part, and each binary output's bytes by name.
struct Answer {
    status: u16,
    content_type: String,
    json: Value,
    binary: Vec<(String, Vec<u8>)>,
}

async fn send(server: &Server, header_length: Option<String>, body: Vec<u8>) -> Answer {
    let mut request = client()
        .post(server.url("/v2/models/digits/infer"))
        .header("content-type", "application/octet-stream")
        .body(body);
    if let Some(length) = header_length {
        request = request.header(HEADER, length);
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let json_length = response
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().unwrap().parse::<usize>().unwrap());
    let bytes = response.bytes().await.unwrap().to_vec();
    let json_length = json_length.unwrap_or(bytes.len());
    let json: Value = serde_json::from_slice(&bytes[..json_length])
        .unwrap_or_else(|e| panic!("JSON header: {e}: {:?}", String::from_utf8_lossy(&bytes)));
    let mut binary = Vec::new();
    let mut offset = json_length;
    for output in json["outputs"].as_array().into_iter().flatten() {
        if let Some(size) = output["parameters"]["binary_data_size"].as_u64() {
            let end = offset + size as usize;
            binary.push((
                output["name"].as_str().unwrap().to_owned(),
                bytes[offset..end].to_vec(),
            ));
            offset = end;
        }
    }
    assert_eq!(offset, bytes.len(), "the binary outputs fill the body");
    Answer {
        status,
        content_type,
        json,
        binary,
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn i64s(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn words_bytes(words: &[&str]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| {
            let mut e = (w.len() as u32).to_le_bytes().to_vec();
            e.extend_from_slice(w.as_bytes());
            e
        })
        .collect()
}

fn json_numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

async fn binary_and_json_forms_agree(backend: &str) {
    let server = Server::start(backend, &model_path(MLP), &[]);
    server.wait_ready().await;
    let rows = &digits().inputs[..5];
    let pixels: Vec<f32> = rows.iter().flatten().copied().collect();
    let json_answer = send(
        &server,
        None,
        serde_json::to_vec(&infer_body(MLP, rows)).unwrap(),
    )
    .await;
    assert_eq!(json_answer.status, 200, "{}", json_answer.json);
    assert_eq!(json_answer.content_type, "application/json");
    let find = |answer: &Answer, name: &str| {
        answer.json["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()
            .clone()
    };
    let labels: Vec<i64> = json_numbers(&find(&json_answer, "label")["data"])
        .iter()
        .map(|&x| x as i64)
        .collect();
    let probabilities: Vec<f32> = json_numbers(&find(&json_answer, "probabilities")["data"])
        .iter()
        .map(|&x| x as f32)
        .collect();

    // Binary input, every output binary (what tritonclient sends by default).
    let input = f32_bytes(&pixels);
    let header = json!({
        "inputs": [{"name": "input", "shape": [5, 64], "datatype": "FP32", "parameters": {"binary_data_size": input.len()}}],
        "parameters": {"binary_data_output": true}
    });
    let (length, body) = binary_body(&header, &[&input]);
    let all = send(&server, Some(length.to_string()), body).await;
    assert_eq!(all.status, 200, "{}", all.json);
    assert_eq!(all.content_type, "application/octet-stream");
    assert_eq!(all.binary.len(), 2);
    assert_eq!(all.binary[0].0, "label");
    assert_eq!(i64s(&all.binary[0].1), labels);
    assert_eq!(f32s(&all.binary[1].1), probabilities);
    assert!(find(&all, "label").get("data").is_none());
    assert_eq!(find(&all, "probabilities")["shape"], json!([5, 10]));

    // JSON input, one output JSON and one binary.
    let mut header = infer_body(MLP, rows);
    header["outputs"] = json!([
        {"name": "probabilities", "parameters": {"binary_data": true}},
        {"name": "label", "parameters": {"binary_data": false}}
    ]);
    let mixed = send(&server, None, serde_json::to_vec(&header).unwrap()).await;
    assert_eq!(mixed.status, 200, "{}", mixed.json);
    assert_eq!(mixed.content_type, "application/octet-stream");
    assert_eq!(mixed.binary.len(), 1);
    assert_eq!(f32s(&mixed.binary[0].1), probabilities);
    assert_eq!(
        json_numbers(&find(&mixed, "label")["data"]),
        labels.iter().map(|&x| x as f64).collect::<Vec<_>>()
    );
    assert_eq!(mixed.json["outputs"][0]["name"], "probabilities");

    // Binary input, JSON outputs (no output parameters): a plain JSON answer.
    let header = json!({
        "inputs": [{"name": "input", "shape": [5, 64], "datatype": "FP32", "parameters": {"binary_data_size": input.len()}}],
    });
    let (length, body) = binary_body(&header, &[&input]);
    let plain = send(&server, Some(length.to_string()), body).await;
    assert_eq!(plain.status, 200, "{}", plain.json);
    assert_eq!(plain.content_type, "application/json");
    assert_eq!(plain.json["outputs"], json_answer.json["outputs"]);
}

async fn malformed_binary_requests_get_400(backend: &str) {
    let server = Server::start(backend, &model_path(MLP), &[]);
    server.wait_ready().await;
    let row = f32_bytes(&digits().inputs[0]);
    let header = |size: Value| json!({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "parameters": {"binary_data_size": size}}]});
    let (length, body) = binary_body(&header(json!(256)), &[&row]);
    let cases: Vec<(&str, Option<String>, Vec<u8>, &str)> = vec![
        (
            "header length past the body",
            Some((body.len() + 1).to_string()),
            body.clone(),
            "but the body has only",
        ),
        (
            "header length not a number",
            Some("twelve".into()),
            body.clone(),
            "is not a byte count",
        ),
        (
            "header length negative",
            Some("-5".into()),
            body.clone(),
            "is not a byte count",
        ),
        (
            "header length cutting the JSON",
            Some((length - 1).to_string()),
            body.clone(),
            "invalid JSON body",
        ),
        (
            "binary data without the header",
            None,
            body.clone(),
            "invalid JSON body",
        ),
        (
            "more bytes than the sizes add up to",
            Some(length.to_string()),
            binary_body(&header(json!(256)), &[&row, &[0; 4]]).1,
            "add up to 256",
        ),
        (
            "size past the end",
            Some(length.to_string()),
            binary_body(&header(json!(256)), &[&row[..200]]).1,
            "past the end of the binary section",
        ),
        (
            "size not matching shape and datatype",
            Some(binary_body(&header(json!(252)), &[]).0.to_string()),
            binary_body(&header(json!(252)), &[&row[..252]]).1,
            "64 FP32 elements take 256 bytes",
        ),
        (
            "size a string",
            Some(binary_body(&header(json!("256")), &[]).0.to_string()),
            binary_body(&header(json!("256")), &[&row]).1,
            "must be a non-negative integer",
        ),
        (
            "size a fraction",
            Some(binary_body(&header(json!(255.5)), &[]).0.to_string()),
            binary_body(&header(json!(255.5)), &[&row]).1,
            "must be a non-negative integer",
        ),
        (
            "size negative",
            Some(binary_body(&header(json!(-256)), &[]).0.to_string()),
            binary_body(&header(json!(-256)), &[&row]).1,
            "must be a non-negative integer",
        ),
        (
            "size past any body",
            Some(binary_body(&header(json!(u64::MAX)), &[]).0.to_string()),
            binary_body(&header(json!(u64::MAX)), &[&row]).1,
            "past the end of the binary section",
        ),
        (
            "NaN in binary FP32",
            Some(length.to_string()),
            binary_body(&header(json!(256)), &[&f32_bytes(&[f32::NAN; 64])]).1,
            "not a finite number",
        ),
        (
            "binary_data not a boolean",
            None,
            serde_json::to_vec(&json!({
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": digits().inputs[0]}],
                "outputs": [{"name": "label", "parameters": {"binary_data": 1}}]
            }))
            .unwrap(),
            "`binary_data` of output `label` must be true or false",
        ),
        (
            "binary_data_output not a boolean",
            None,
            serde_json::to_vec(&json!({
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": digits().inputs[0]}],
                "parameters": {"binary_data_output": "true"}
            }))
            .unwrap(),
            "`binary_data_output` of the request must be true or false",
        ),
    ];
    for (what, header_length, body, needle) in cases {
        let answer = send(&server, header_length, body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.json);
        let message = answer.json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error in {}", answer.json));
        assert!(
            message.contains(needle),
            "{what}: `{message}` lacks `{needle}`"
        );
    }
    let (length, body) = binary_body(&header(json!(256)), &[&row]);
    let answer = send(&server, Some(length.to_string()), body).await;
    assert_eq!(answer.status, 200, "still serving: {}", answer.json);
}

async fn fp16_model_answers_in_fp16(backend: &str) {
    let rows = &digits().inputs[..8];
    let float = Server::start(backend, &model_path(CNN), &[]);
    let half = Server::start(backend, &model_path(FP16), &[]);
    float.wait_ready().await;
    half.wait_ready().await;
    let reference = send(
        &float,
        None,
        serde_json::to_vec(&infer_body(CNN, rows)).unwrap(),
    )
    .await;
    assert_eq!(reference.status, 200);
    let reference_probabilities = json_numbers(&reference.json["outputs"][1]["data"]);

    let pixels: Vec<f32> = rows.iter().flatten().copied().collect();
    let mut json_body = infer_body(CNN, rows);
    json_body["inputs"][0]["datatype"] = json!("FP16");
    let answer = send(&half, None, serde_json::to_vec(&json_body).unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let probabilities = &answer.json["outputs"][1];
    assert_eq!(probabilities["datatype"], "FP16");
    // JSON carries each FP16 value in the shortest form that reads back as
    // the same f32, which an FP16 value is exactly.
    let from_json: Vec<f64> = json_numbers(&probabilities["data"])
        .iter()
        .map(|&x| f64::from(x as f32))
        .collect();

    let input: Vec<u8> = pixels
        .iter()
        .flat_map(|&x| f16::from_f32(x).to_le_bytes())
        .collect();
    let header = json!({
        "inputs": [{"name": "input", "shape": [8, 1, 8, 8], "datatype": "FP16", "parameters": {"binary_data_size": input.len()}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}]
    });
    let (length, body) = binary_body(&header, &[&input]);
    let binary = send(&half, Some(length.to_string()), body).await;
    assert_eq!(binary.status, 200, "{}", binary.json);
    let (_, bytes) = &binary.binary[0];
    assert_eq!(bytes.len(), 8 * 10 * 2, "two bytes per FP16 element");
    let from_binary: Vec<f64> = bytes
        .chunks_exact(2)
        .map(|c| f64::from(f16::from_le_bytes([c[0], c[1]])))
        .collect();
    assert_eq!(from_binary, from_json, "JSON and binary FP16 agree");
    // Inputs and outputs rounded to FP16 (11-bit significands) move a
    // probability by little more than a few units in its last place.
    for (got, want) in from_binary.iter().zip(&reference_probabilities) {
        assert!((got - want).abs() <= 4e-3, "{got} vs {want}");
    }
    let out_of_range = {
        let mut body = json_body.clone();
        body["inputs"][0]["data"][0] = json!(1e6);
        send(&half, None, serde_json::to_vec(&body).unwrap()).await
    };
    assert_eq!(out_of_range.status, 400);
    assert!(
        out_of_range.json["error"]
            .as_str()
            .unwrap()
            .contains("within FP16 range")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ort_words_model_takes_and_returns_bytes() {
    let server = Server::start("ort", &model_path(WORDS), &[]);
    server.wait_ready().await;
    let words = ["seven", "cat", "", "zero", "ünïcode"];
    let json_answer = send(
        &server,
        None,
        serde_json::to_vec(&json!({"inputs": [{"name": "text", "shape": [5], "datatype": "BYTES", "data": words}]}))
            .unwrap(),
    )
    .await;
    assert_eq!(json_answer.status, 200, "{}", json_answer.json);
    let outputs = &json_answer.json["outputs"];
    assert_eq!(outputs[0]["name"], "id");
    assert_eq!(outputs[0]["data"], json!([7, -1, -1, 0, -1]));
    assert_eq!(outputs[1]["datatype"], "BYTES");
    assert_eq!(outputs[1]["data"], json!(words));

    let input = words_bytes(&words);
    let header = json!({
        "inputs": [{"name": "text", "shape": [5], "datatype": "BYTES", "parameters": {"binary_data_size": input.len()}}],
        "parameters": {"binary_data_output": true}
    });
    let (length, body) = binary_body(&header, &[&input]);
    let binary = send(&server, Some(length.to_string()), body).await;
    assert_eq!(binary.status, 200, "{}", binary.json);
    assert_eq!(i64s(&binary.binary[0].1), [7, -1, -1, 0, -1]);
    assert_eq!(binary.binary[1].1, input, "length-prefixed elements");

    for (what, bytes, needle) in [
        (
            "length past the end",
            {
                let mut b = input.clone();
                b[0] = 200;
                b
            },
            "says 200 bytes",
        ),
        (
            "too few elements",
            words_bytes(&words[..4]),
            "no 4-byte length",
        ),
        (
            "bytes left over",
            [input.clone(), vec![0]].concat(),
            "left after",
        ),
        (
            "not UTF-8",
            {
                let mut b = input.clone();
                b[4] = 0xff;
                b
            },
            "not UTF-8",
        ),
    ] {
        let header = json!({
            "inputs": [{"name": "text", "shape": [5], "datatype": "BYTES", "parameters": {"binary_data_size": bytes.len()}}]
        });
        let (length, body) = binary_body(&header, &[&bytes]);
        let answer = send(&server, Some(length.to_string()), body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.json);
        assert!(
            answer.json["error"].as_str().unwrap().contains(needle),
            "{what}: {}",
            answer.json
        );
    }
    let numbers = send(
        &server,
        None,
        serde_json::to_vec(
            &json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [7]}]}),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(numbers.status, 400);
    assert!(
        numbers.json["error"]
            .as_str()
            .unwrap()
            .contains("expected a string")
    );
}

/// tract runs no string tensors: the model stays not ready, and readiness
/// says why and what to use instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tract_refuses_a_bytes_model_at_load() {
    let server = Server::start("tract", &model_path(WORDS), &[]);
    let message = server.wait_not_ready_with("BYTES (strings)").await;
    assert!(message.contains("--backend ort"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_metadata_names_the_binary_extension() {
    let server = Server::start("tract", &model_path(MLP), &[]);
    server.wait_ready().await;
    let metadata: Value = client()
        .get(server.url("/v2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["extensions"], json!(["binary_tensor_data"]));
}

macro_rules! backend_suite {
    ($module:ident, $backend:literal) => {
        mod $module {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn binary_and_json_forms_agree() {
                super::binary_and_json_forms_agree($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn malformed_binary_requests_get_400() {
                super::malformed_binary_requests_get_400($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fp16_model_answers_in_fp16() {
                super::fp16_model_answers_in_fp16($backend).await;
            }
        }
    };
}

backend_suite!(ort, "ort");
backend_suite!(tract, "tract");
