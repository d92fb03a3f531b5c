//! Error responses: every failure is `{"error": "..."}` with the status the
//! protocol names (400 bad request, 404 unknown model, 413 body too large,
//! 503 not ready or load shed, 500 inference failure). A request turned
//! away by load shedding also carries `Retry-After`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::admission::{RETRY_AFTER_SECONDS, Rejection};
use crate::protocol::BadRequest;

/// An HTTP error with a JSON body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Set when load shedding turned the request away (503, `Retry-After`).
    pub rejection: Option<Rejection>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            rejection: None,
        }
    }

    /// 503 for a request turned away without running.
    pub fn rejected(rejection: Rejection) -> ApiError {
        ApiError {
            rejection: Some(rejection),
            ..ApiError::unavailable(rejection.to_string())
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unknown_model(name: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("unknown model `{name}`"))
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        ApiError::rejected(rejection)
    }
}

impl From<BadRequest> for ApiError {
    fn from(e: BadRequest) -> ApiError {
        ApiError::bad_request(e.0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.message }));
        match self.rejection {
            Some(_) => (
                self.status,
                [(header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string())],
                body,
            )
                .into_response(),
            None => (self.status, body).into_response(),
        }
    }
}
