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

/// The errors Strom can return, by name (nats-server's `JS…Err` names, `server/errors.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsError {
    /// JSInvalidJSONErr: the request body is not the expected JSON.
    InvalidJson(String),
    /// JSBadRequestErr.
    BadRequest,
    /// JSNotEnabledForAccountErr.
    NotEnabledForAccount,
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
    /// JSNoMessageFoundErr.
    NoMessageFound,
    /// JSStreamNotMatchErr: `Nats-Expected-Stream` names another stream.
    StreamNotMatch,
    /// JSStreamWrongLastSequenceErrF.
    WrongLastSequence(u64),
    /// JSStreamWrongLastMsgIDErrF.
    WrongLastMsgId(String),
    /// JSStreamMessageExceedsMaximumErr.
    MessageTooLarge,
    /// JSStreamStoreFailedF: the store refused (limits with discard new, I/O).
    StoreFailed(String),
    /// JSStreamSealedErr.
    Sealed,
    /// JSStreamRollupFailedF.
    RollupFailed(String),
    /// JSMessageTTLDisabledErr.
    TtlDisabled,
    /// JSMessageTTLInvalidErr.
    TtlInvalid,
    /// JSSequenceNotFoundErrF.
    SequenceNotFound(u64),
    /// JSStreamMsgDeleteFailedF.
    MsgDeleteFailed(String),
    /// JSStreamPurgeFailedF.
    PurgeFailed(String),
    /// JSStreamDeleteErrF.
    StreamDeleteFailed(String),
    /// JSStreamCreateErrF.
    StreamCreateFailed(String),
    /// JSSnapshotDeliverSubjectInvalidErr.
    SnapshotDeliverSubjectInvalid,
    /// JSStreamSnapshotErrF.
    SnapshotFailed(String),
    /// JSStreamRestoreErrF.
    RestoreFailed(String),
    /// JSStreamNameExistRestoreFailedErr.
    StreamNameExistRestore,
    /// JSStreamTransformInvalidSource.
    TransformInvalidSource(String),
    /// JSStreamTransformInvalidDestination.
    TransformInvalidDestination(String),
    /// JSAccountResourcesExceededErr.
    AccountResourcesExceeded,
    /// JSMaximumStreamsLimitErr.
    MaxStreams,
    /// JSStorageResourcesExceededErr.
    StorageExceeded,
    /// JSMemoryResourcesExceededErr.
    MemoryExceeded,
    /// JSStreamMaxBytesRequired.
    MaxBytesRequired,
}

impl JsError {
    /// The wire form.
    pub fn api(&self) -> ApiError {
        let (code, err_code, description) = match self {
            JsError::InvalidJson(e) => (400, 10025, format!("invalid JSON: {e}")),
            JsError::BadRequest => (400, 10003, "bad request".into()),
            JsError::NotEnabledForAccount => {
                (503, 10039, "JetStream not enabled for account".into())
            }
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
            JsError::NoMessageFound => (404, 10037, "no message found".into()),
            JsError::StreamNotMatch => (400, 10060, "expected stream does not match".into()),
            JsError::WrongLastSequence(seq) => (400, 10071, format!("wrong last sequence: {seq}")),
            JsError::WrongLastMsgId(id) => (400, 10070, format!("wrong last msg ID: {id}")),
            JsError::MessageTooLarge => (400, 10054, "message size exceeds maximum allowed".into()),
            JsError::StoreFailed(e) => (503, 10077, e.clone()),
            JsError::Sealed => (400, 10109, "invalid operation on sealed stream".into()),
            JsError::RollupFailed(e) => (500, 10111, e.clone()),
            JsError::TtlDisabled => (400, 10166, "per-message TTL is disabled".into()),
            JsError::TtlInvalid => (400, 10165, "invalid per-message TTL".into()),
            JsError::SequenceNotFound(seq) => (400, 10043, format!("sequence {seq} not found")),
            JsError::MsgDeleteFailed(e) => (500, 10057, e.clone()),
            JsError::PurgeFailed(e) => (500, 10110, e.clone()),
            JsError::StreamDeleteFailed(e) => (500, 10050, e.clone()),
            JsError::StreamCreateFailed(e) => (500, 10049, e.clone()),
            JsError::SnapshotDeliverSubjectInvalid => {
                (400, 10015, "deliver subject not valid".into())
            }
            JsError::SnapshotFailed(e) => (500, 10064, format!("snapshot failed: {e}")),
            JsError::RestoreFailed(e) => (500, 10062, format!("restore failed: {e}")),
            JsError::StreamNameExistRestore => (
                400,
                10130,
                "stream name already in use, cannot restore".into(),
            ),
            JsError::TransformInvalidSource(e) => {
                (400, 10155, format!("stream transform source: {e}"))
            }
            JsError::TransformInvalidDestination(e) => {
                (400, 10156, format!("stream transform: {e}"))
            }
            JsError::AccountResourcesExceeded => {
                (400, 10002, "resource limits exceeded for account".into())
            }
            JsError::MaxStreams => (400, 10027, "maximum number of streams reached".into()),
            JsError::StorageExceeded => (
                500,
                10047,
                "insufficient storage resources available".into(),
            ),
            JsError::MemoryExceeded => {
                (500, 10028, "insufficient memory resources available".into())
            }
            JsError::MaxBytesRequired => (
                400,
                10113,
                "account requires a stream config to have max bytes set".into(),
            ),
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
