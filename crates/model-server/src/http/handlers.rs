//! Request handlers for the KServe V2 and TF Serving routes. Each handler
//! checks the model name (404), then that the model is loaded (503), then
//! parses and validates the body (400/413) before anything reaches the
//! batcher, so bad input never costs a model call.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::error::ApiError;
use crate::batcher::{Arrival, InferError};
use crate::cache::PredictionCache;
use crate::protocol::{binary, tf, v2};
use crate::state::{AppState, Model, Phase};
use crate::tensor::Tensor;

type Shared = State<Arc<AppState>>;

pub async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

pub async fn ready(State(state): Shared) -> Result<Json<serde_json::Value>, ApiError> {
    match state.phase() {
        Phase::Ready => Ok(Json(json!({ "ready": true }))),
        other => Err(ApiError::unavailable(other.describe())),
    }
}

pub async fn server_metadata() -> Json<v2::ServerMetadata> {
    Json(v2::ServerMetadata {
        name: "model-server",
        version: env!("CARGO_PKG_VERSION"),
        extensions: vec!["binary_tensor_data"],
    })
}

pub async fn model_metadata(
    State(state): Shared,
    Path(target): Path<ModelRef>,
) -> Result<Response, ApiError> {
    let model = loaded(&state, &target)?;
    let signature = model.batcher.backend().signature();
    let body = v2::ModelMetadata {
        name: &model.name,
        versions: vec![MODEL_VERSION],
        platform: model.backend.platform(),
        inputs: signature
            .inputs
            .iter()
            .map(v2::TensorMetadata::new)
            .collect(),
        outputs: signature
            .outputs
            .iter()
            .map(v2::TensorMetadata::new)
            .collect(),
    };
    Ok(Json(body).into_response())
}

pub async fn model_ready(
    State(state): Shared,
    Path(target): Path<ModelRef>,
) -> Result<Json<serde_json::Value>, ApiError> {
    known(&state, &target)?;
    match state.phase() {
        Phase::Ready => Ok(Json(json!({ "name": target.model, "ready": true }))),
        other => Err(ApiError::unavailable(other.describe())),
    }
}

pub async fn infer(
    State(state): Shared,
    Path(target): Path<ModelRef>,
    HeaderLength(header_length): HeaderLength,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let model = loaded(&state, &target)?;
    model.batcher.check_room()?;
    let arrival = model.batcher.arrival();
    let body = body_bytes(body)?;
    let header_length = header_length.as_ref().map(HeaderValue::as_bytes);
    infer_body(&state, model, arrival, header_length, &body).await
}

/// [`infer`] for a request the front service routed itself
/// (`super::Front`): the same checks in the same order, with the body read
/// under `--max-body` here rather than by an extractor.
pub(crate) async fn infer_request(
    state: Arc<AppState>,
    target: ModelRef,
    request: Request,
) -> Result<Response, ApiError> {
    let model = loaded(&state, &target)?;
    model.batcher.check_room()?;
    let arrival = model.batcher.arrival();
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, state.max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is larger than --max-body",
                )
            } else {
                ApiError::bad_request(format!("Failed to buffer the request body: {e}"))
            }
        })?
        .to_bytes();
    let header_length = parts
        .headers
        .get(binary::HEADER_LENGTH)
        .map(HeaderValue::as_bytes);
    infer_body(&state, model, arrival, header_length, &body).await
}

/// Decodes a V2 infer body (JSON, or JSON and binary tensors after
/// `header_length` bytes), runs it and encodes the answer.
async fn infer_body(
    state: &AppState,
    model: &Model,
    arrival: Arrival,
    header_length: Option<&[u8]>,
    body: &[u8],
) -> Result<Response, ApiError> {
    let (json, binary_section) = binary::split_body(body, header_length)?;
    let request: v2::InferRequest = parse_json(json)?;
    let decoded = v2::decode_request(request, model.batcher.backend().signature(), binary_section)?;
    let outputs = run(state, model, decoded.inputs, arrival, decoded.timeout).await?;
    let chosen: Vec<(&Tensor, bool)> = decoded
        .outputs
        .iter()
        .filter_map(|o| outputs.get(o.index).map(|t| (t, o.binary)))
        .collect();
    let response = v2::InferResponse {
        model_name: &model.name,
        model_version: MODEL_VERSION,
        id: decoded.id.as_deref(),
        outputs: chosen
            .iter()
            .map(|&(tensor, binary)| {
                if binary {
                    v2::ResponseOutput::binary(tensor)
                } else {
                    v2::ResponseOutput::new(tensor)
                }
            })
            .collect(),
    };
    if !chosen.iter().any(|&(_, binary)| binary) {
        return json_response(&response);
    }
    // JSON header, then each binary output's bytes in the order listed.
    let mut bytes = encode_json(&response)?;
    let header_length = bytes.len();
    bytes.reserve(
        chosen
            .iter()
            .filter(|(_, binary)| *binary)
            .map(|(t, _)| t.data.byte_len())
            .sum(),
    );
    for (tensor, _) in chosen.iter().filter(|(_, binary)| *binary) {
        tensor.data.write_bytes(&mut bytes);
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::HeaderName::from_static(binary::HEADER_LENGTH),
                HeaderValue::from(header_length),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn predict(
    State(state): Shared,
    Path(target): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let name = target.strip_suffix(":predict").ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no route for `{target}`; use {{model}}:predict"),
        )
    })?;
    let model = loaded(
        &state,
        &ModelRef {
            model: name.to_string(),
            version: None,
        },
    )?;
    model.batcher.check_room()?;
    let arrival = model.batcher.arrival();
    let request: tf::PredictRequest = parse_json(&body_bytes(body)?)?;
    let inputs = tf::decode_instances(&request, model.batcher.backend().signature())?;
    let outputs = run(&state, model, inputs, arrival, None).await?;
    json_response(&tf::encode_predictions(&outputs))
}

pub async fn metrics(State(state): Shared) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// The `Inference-Header-Content-Length` request header, if sent (read
/// without copying the other headers).
pub struct HeaderLength(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for HeaderLength {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(HeaderLength(
            parts.headers.get(binary::HEADER_LENGTH).cloned(),
        ))
    }
}

/// A model named in a path, optionally with a version
/// (`/v2/models/{model}[/versions/{version}]/...`).
#[derive(Debug, Deserialize)]
pub struct ModelRef {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) version: Option<String>,
}

impl ModelRef {
    /// `model`, at `version` when one is given.
    pub fn new(model: impl Into<String>, version: Option<String>) -> ModelRef {
        ModelRef {
            model: model.into(),
            version,
        }
    }
}

/// The only version a served model has.
pub const MODEL_VERSION: &str = "1";

/// 404 unless `target` names the served model (and its version, if given).
pub(crate) fn known(state: &AppState, target: &ModelRef) -> Result<(), ApiError> {
    if target.model != state.model_name {
        return Err(ApiError::unknown_model(&target.model));
    }
    match &target.version {
        Some(version) if version != MODEL_VERSION => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "model `{}` has no version `{version}` (only `{MODEL_VERSION}`)",
                target.model
            ),
        )),
        _ => Ok(()),
    }
}

/// The model, if `target` names it and it is loaded (ready, or draining
/// with requests still arriving); 503 otherwise.
pub(crate) fn loaded<'a>(
    state: &'a AppState,
    target: &ModelRef,
) -> Result<&'a Arc<Model>, ApiError> {
    known(state, target)?;
    match (state.phase(), state.model()) {
        (Phase::Ready | Phase::Draining, Some(model)) => Ok(model),
        (phase, _) => Err(ApiError::unavailable(phase.describe())),
    }
}

/// The request body, or the 413 (or other error) for why it could not be read.
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request body is larger than --max-body".to_string()
        } else {
            rejection.body_text()
        };
        ApiError::new(status, message)
    })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Runs the model (or answers from the cache).
pub(crate) async fn run(
    state: &AppState,
    model: &Model,
    inputs: Vec<Tensor>,
    arrival: Arrival,
    timeout: Option<Duration>,
) -> Result<Arc<Vec<Tensor>>, ApiError> {
    let key = model.cache.as_ref().map(|_| PredictionCache::key(&inputs));
    if let (Some(cache), Some(key)) = (&model.cache, &key) {
        if let Some(hit) = cache.get(key) {
            state.metrics.cache_hits.inc();
            return Ok(hit);
        }
        state.metrics.cache_misses.inc();
    }
    let outputs = Arc::new(
        model
            .batcher
            .infer(inputs, Some(arrival), timeout)
            .await
            .map_err(|e| match e {
                InferError::Rejected(rejection) => ApiError::rejected(rejection),
                InferError::Backend(e) => {
                    tracing::error!(error = %e, "inference failed");
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                }
            })?,
    );
    if let (Some(cache), Some(key)) = (&model.cache, key) {
        cache.put(key, outputs.clone());
    }
    Ok(outputs)
}

fn encode_json<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, ApiError> {
    // Room for a typical answer up front, rather than growing from 128 bytes.
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, body)
        .map(|()| bytes)
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the response: {e}"),
            )
        })
}

fn json_response<T: serde::Serialize>(body: &T) -> Result<Response, ApiError> {
    let bytes = encode_json(body)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}
