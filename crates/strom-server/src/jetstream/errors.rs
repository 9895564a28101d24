//! Every JetStream API error in one table, with nats-server's HTTP-like `code`, its stable
//! `err_code`, and its description. Clients switch on `err_code`, so these never change.

use serde::Serialize;

/// The `error` object of an API response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

/// The errors Strom can return, by name (nats-server's `JS…Err` names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsError {
    /// JSInvalidJSONErr: the request body is not the expected JSON.
    InvalidJson(String),
    /// JSStreamMismatchErr.
    StreamNameMismatch,
    /// JSStreamReplicasNotSupportedErr.
    ReplicasNotSupported,
    /// JSStreamInvalidConfigF: a configuration value nats-server refuses.
    InvalidStreamConfig(String),
    /// JSStreamSubjectOverlapErr.
    SubjectOverlap,
    /// JSStreamNameExistErr.
    StreamNameInUse,
    /// JSStreamNotFoundErr.
    StreamNotFound,
}

impl JsError {
    /// The wire form.
    pub fn api(&self) -> ApiError {
        let (code, err_code, description) = match self {
            JsError::InvalidJson(e) => (400, 10025, format!("invalid JSON: {e}")),
            JsError::StreamNameMismatch => (
                400,
                10056,
                "stream name in subject does not match request".into(),
            ),
            JsError::ReplicasNotSupported => (
                500,
                10074,
                "replicas > 1 not supported in non-clustered mode".into(),
            ),
            JsError::InvalidStreamConfig(e) => (500, 10052, e.clone()),
            JsError::SubjectOverlap => (
                400,
                10065,
                "subjects overlap with an existing stream".into(),
            ),
            JsError::StreamNameInUse => (
                400,
                10058,
                "stream name already in use with a different configuration".into(),
            ),
            JsError::StreamNotFound => (404, 10059, "stream not found".into()),
        };
        ApiError {
            code,
            err_code,
            description,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from nats-server 2.15.1.
    #[test]
    fn errors_serialize_like_nats_server() {
        let json = |e: JsError| serde_json::to_string(&e.api()).expect("serializes");
        assert_eq!(
            json(JsError::StreamNameMismatch),
            r#"{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}"#
        );
        assert_eq!(
            json(JsError::ReplicasNotSupported),
            r#"{"code":500,"err_code":10074,"description":"replicas \u003e 1 not supported in non-clustered mode"}"#
                .replace("\\u003e", ">")
        );
        assert_eq!(
            json(JsError::InvalidStreamConfig(
                "max age can not be negative".into()
            )),
            r#"{"code":500,"err_code":10052,"description":"max age can not be negative"}"#
        );
        assert_eq!(
            json(JsError::SubjectOverlap),
            r#"{"code":400,"err_code":10065,"description":"subjects overlap with an existing stream"}"#
        );
    }
}
