//! gRPC status codes for the server's errors: the same failures the HTTP
//! side answers with 400, 404, 413, 503 and 500 become INVALID_ARGUMENT,
//! NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE and INTERNAL, with the same
//! messages. A request whose deadline passed while it waited is
//! DEADLINE_EXCEEDED (503 on HTTP).

use axum::http::StatusCode;
use tonic::{Code, Status};

use crate::admission::Rejection;
use crate::http::error::ApiError;
use crate::protocol::BadRequest;

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        if error.rejection == Some(Rejection::Deadline) {
            return Status::deadline_exceeded(error.message);
        }
        let code = match error.status {
            StatusCode::BAD_REQUEST => Code::InvalidArgument,
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
            StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
            StatusCode::INTERNAL_SERVER_ERROR => Code::Internal,
            _ => Code::Unknown,
        };
        Status::new(code, error.message)
    }
}

impl From<BadRequest> for Status {
    fn from(error: BadRequest) -> Status {
        Status::invalid_argument(error.0)
    }
}

/// The canonical name of a code (`NOT_FOUND`), as metrics label it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_their_grpc_codes() {
        for (http, grpc) in [
            (StatusCode::BAD_REQUEST, Code::InvalidArgument),
            (StatusCode::NOT_FOUND, Code::NotFound),
            (StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted),
            (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable),
            (StatusCode::INTERNAL_SERVER_ERROR, Code::Internal),
        ] {
            let status = Status::from(ApiError::new(http, "why"));
            assert_eq!((status.code(), status.message()), (grpc, "why"));
        }
    }

    #[test]
    fn shed_requests_are_unavailable_or_past_their_deadline() {
        let full = Status::from(ApiError::rejected(Rejection::QueueFull));
        assert_eq!(full.code(), Code::Unavailable);
        let late = Status::from(ApiError::rejected(Rejection::Deadline));
        assert_eq!(late.code(), Code::DeadlineExceeded);
        assert_eq!(late.message(), Rejection::Deadline.to_string());
    }
}
