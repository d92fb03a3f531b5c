//! The six RPCs of `inference.GRPCInferenceService`, answered from the
//! shared [`AppState`] with the checks and the batcher the HTTP handlers
//! use: an unknown model is NOT_FOUND, a model not (or no longer) loaded
//! UNAVAILABLE, a bad request INVALID_ARGUMENT, and each call is counted
//! in the metrics under its method, with protocol `grpc`.
//!
//! Readiness RPCs answer `ready: false` rather than an error while the
//! model loads, failed, or the server drains, as the protocol defines.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Code, Request, Response, Status};

use super::status::code_name;
use crate::http::error::ApiError;
use crate::http::handlers::{self, MODEL_VERSION, ModelRef};
use crate::metrics::{self, Protocol};
use crate::protocol::grpc::proto::grpc_inference_service_server::GrpcInferenceService;
use crate::protocol::grpc::proto::{
    ModelInferRequest, ModelInferResponse, ModelMetadataRequest, ModelMetadataResponse,
    ModelReadyRequest, ModelReadyResponse, ServerLiveRequest, ServerLiveResponse,
    ServerMetadataRequest, ServerMetadataResponse, ServerReadyRequest, ServerReadyResponse,
};
use crate::protocol::grpc::{decode_request, encode_response, tensor_metadata};
use crate::state::AppState;

/// The service over one server's state.
pub struct Inference {
    state: Arc<AppState>,
}

impl Inference {
    pub fn new(state: Arc<AppState>) -> Inference {
        Inference { state }
    }

    /// Records the call under `method` and wraps its answer.
    fn observed<T>(
        &self,
        method: &str,
        started: Instant,
        result: Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        self.state.metrics.observe(
            Protocol::Grpc,
            method,
            metrics::Status::Grpc(code_name(code)),
            started.elapsed().as_secs_f64(),
        );
        result.map(Response::new)
    }

    async fn infer(&self, request: ModelInferRequest) -> Result<ModelInferResponse, Status> {
        let target = model_ref(&request.model_name, &request.model_version);
        let model = handlers::loaded(&self.state, &target)?;
        model.batcher.check_room().map_err(ApiError::from)?;
        let arrival = model.batcher.arrival();
        let decoded = decode_request(request, model.batcher.backend().signature())?;
        let outputs =
            handlers::run(&self.state, model, decoded.inputs, arrival, decoded.timeout).await?;
        Ok(encode_response(
            &model.name,
            MODEL_VERSION,
            decoded.id,
            &decoded.outputs,
            &outputs,
        ))
    }

    fn model_metadata(
        &self,
        request: &ModelMetadataRequest,
    ) -> Result<ModelMetadataResponse, Status> {
        let model = handlers::loaded(&self.state, &model_ref(&request.name, &request.version))?;
        let signature = model.batcher.backend().signature();
        Ok(ModelMetadataResponse {
            name: model.name.clone(),
            versions: vec![MODEL_VERSION.to_string()],
            platform: model.backend.platform().to_string(),
            inputs: signature.inputs.iter().map(tensor_metadata).collect(),
            outputs: signature.outputs.iter().map(tensor_metadata).collect(),
        })
    }
}

/// The model a request names; an empty version lets the server choose.
fn model_ref(name: &str, version: &str) -> ModelRef {
    ModelRef::new(name, (!version.is_empty()).then(|| version.to_string()))
}

/// Each RPC's method path, the `route` label of its metrics.
const SERVER_LIVE: &str = "/inference.GRPCInferenceService/ServerLive";
const SERVER_READY: &str = "/inference.GRPCInferenceService/ServerReady";
const MODEL_READY: &str = "/inference.GRPCInferenceService/ModelReady";
const SERVER_METADATA: &str = "/inference.GRPCInferenceService/ServerMetadata";
const MODEL_METADATA: &str = "/inference.GRPCInferenceService/ModelMetadata";
const MODEL_INFER: &str = "/inference.GRPCInferenceService/ModelInfer";

#[tonic::async_trait]
impl GrpcInferenceService for Inference {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        let started = Instant::now();
        self.observed(SERVER_LIVE, started, Ok(ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        let started = Instant::now();
        let ready = self.state.is_ready();
        self.observed(SERVER_READY, started, Ok(ServerReadyResponse { ready }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let result = handlers::known(&self.state, &model_ref(&request.name, &request.version))
            .map(|()| ModelReadyResponse {
                ready: self.state.is_ready(),
            })
            .map_err(Status::from);
        self.observed(MODEL_READY, started, result)
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        let started = Instant::now();
        let metadata = ServerMetadataResponse {
            name: "model-server".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            extensions: vec![],
        };
        self.observed(SERVER_METADATA, started, Ok(metadata))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let started = Instant::now();
        let result = self.model_metadata(request.get_ref());
        self.observed(MODEL_METADATA, started, result)
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        // Counted in model_server_requests_in_flight until answered, as
        // HTTP inference requests are: the autoscaler reads both.
        let in_flight = self.state.metrics.in_flight();
        let result = self.infer(request.into_inner()).await;
        drop(in_flight);
        self.observed(MODEL_INFER, started, result)
    }
}
