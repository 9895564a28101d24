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
    /// JSMirrorInvalidSubjectFilter: a mirror transform's source is not a subject.
    MirrorInvalidSubjectFilter(String),
    /// JSMirrorInvalidTransformDestination.
    MirrorInvalidTransformDestination(String),
    /// JSSourceInvalidSubjectFilter: a source transform's source is not a subject.
    SourceInvalidSubjectFilter(String),
    /// JSSourceInvalidTransformDestination.
    SourceInvalidTransformDestination(String),
    /// JSStreamInvalidExternalDeliverySubjErrF: the prefix.
    ExternalDeliverPrefixWildcards(String),
    /// JSStreamExternalDelPrefixOverlapsErrF: a local origin's subject would catch what
    /// comes back under the deliver prefix.
    ExternalDeliverPrefixOverlaps { prefix: String, subject: String },
    /// JSStreamExternalApiOverlapErrF: the prefix overlaps `$JS.API`.
    ExternalApiOverlap(String),
    /// JSPedanticErrF: what pedantic mode refuses to adjust.
    Pedantic(String),
    /// An error with a fixed text, by its err_code, with nats-server's code and description
    /// from [`CODED`].
    Coded(u16),
    /// An error whose description is built at run time: code, err_code, description.
    Text(u16, u16, String),
}

/// nats-server's fixed-text errors by err_code (`server/errors.json`): code and description.
const CODED: &[(u16, u16, &str)] = &[
    (10013, 400, "consumer name already in use"),
    (10014, 404, "consumer not found"),
    (10016, 400, "consumer expected to be durable but no durable name set in subject"),
    (10017, 400, "consumer name in subject does not match durable name in request"),
    (10018, 400, "consumer expected to be durable but a durable name was not set"),
    (10019, 400, "consumer expected to be ephemeral but detected a durable name set in subject"),
    (10020, 400, "consumer expected to be ephemeral but a durable name was set in request"),
    (10026, 400, "maximum consumers limit reached"),
    (10030, 400, "stream mirror must have max message size >= source"),
    (10031, 400, "stream mirrors can not also contain other sources"),
    (10034, 400, "stream mirrors can not contain subjects"),
    (10046, 400, "stream source must have max message size >= target"),
    (10055, 400, "stream mirror configuration can not be updated"),
    (10078, 400, "consumer config required"),
    (10079, 400, "consumer deliver subject has wildcards"),
    (10080, 400, "consumer in push mode can not set max waiting"),
    (10081, 400, "consumer deliver subject forms a cycle"),
    (10082, 400, "consumer requires ack policy for max ack pending"),
    (10083, 400, "consumer idle heartbeat needs to be >= 100ms"),
    (10084, 400, "consumer in pull mode requires explicit ack policy on workqueue stream"),
    (10086, 400, "consumer in pull mode can not have rate limit set"),
    (10087, 400, "consumer max waiting needs to be positive"),
    (10088, 400, "consumer idle heartbeat requires a push based consumer"),
    (10089, 400, "consumer flow control requires a push based consumer"),
    (10098, 400, "workqueue stream requires explicit ack"),
    (10099, 400, "multiple non-filtered consumers not allowed on workqueue stream"),
    (10100, 400, "filtered consumer not unique on workqueue stream"),
    (10101, 400, "consumer must be deliver all on workqueue stream"),
    (10103, 400, "durable name can not contain '.', '*', '>'"),
    (10108, 400, "consumer with flow control also needs heartbeats"),
    (10112, 400, "invalid push consumer deliver subject"),
    (10114, 400, "consumer max request batch needs to be > 0"),
    (10115, 400, "consumer max request expires needs to be >= 1ms"),
    (10116, 400, "max deliver is required to be > length of backoff values"),
    (10126, 400, "consumer config replica count exceeds parent stream"),
    (10127, 400, "Consumer name can not contain path separators"),
    (10131, 400, "Consumer create request did not match filtered subject from create subject"),
    (10132, 400, "Consumer Durable and Name have to be equal if both are provided"),
    (10136, 400, "consumer cannot have both FilterSubject and FilterSubjects specified"),
    (10137, 400, "consumer with multiple subject filters cannot use subject based API"),
    (10138, 400, "consumer subject filters cannot overlap"),
    (10139, 400, "consumer filter in FilterSubjects cannot be empty"),
    (10140, 400, "duplicate source configuration detected"),
    (10141, 400, "sourced stream name is invalid"),
    (10142, 400, "mirrored stream name is invalid"),
    (10143, 400, "stream mirrors can not have first sequence configured"),
    (10144, 400, "source with multiple subject transforms cannot also have a single subject filter"),
    (10147, 400, "source filters can not overlap"),
    (10148, 400, "consumer already exists"),
    (10149, 400, "consumer does not exist"),
    (10150, 400, "mirror with multiple subject transforms cannot also have a single subject filter"),
    (10152, 400, "mirror subject filters can not overlap"),
    (10159, 400, "Setting PriorityPolicy requires at least one PriorityGroup to be set"),
    (10161, 400, "Group name cannot be an empty string"),
    (10162, 400, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
    (10173, 400, "stream mirrors can not also calculate counters"),
    (10178, 400, "priority groups can not be used with push consumers"),
    (10181, 400, "consumer ack policy invalid"),
    (10182, 400, "consumer replay policy invalid"),
    (10183, 400, "consumer ack wait needs to be positive"),
    (10184, 400, "consumer backoff needs to be positive"),
    (10186, 400, "stream mirrors can not also schedule messages"),
    (10187, 400, "stream source can not also schedule messages"),
    (10196, 400, "consumer can not have priority groups when policy is none"),
    (10197, 400, "PinnedTTL cannot be set when PriorityPolicy is none"),
    (10198, 400, "stream mirrors can not also use atomic publishing"),
    (10209, 400, "stream mirrors can not also use batch publishing"),
    (10213, 400, "stream mirror consumer config is invalid"),
    (10215, 400, "stream source consumer config is invalid"),
    (10216, 400, "duplicate stream source consumer detected"),
];

impl JsError {
    /// JSConsumerCreateErrF (500, 10012): a create or update refused for `why`.
    pub fn consumer_create(why: impl Into<String>) -> JsError {
        JsError::Text(500, 10012, why.into())
    }

    /// JSConsumerInvalidPolicyErrF (400, 10094).
    pub fn consumer_policy(why: impl Into<String>) -> JsError {
        JsError::Text(400, 10094, why.into())
    }

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
            JsError::MirrorInvalidSubjectFilter(e) => {
                (400, 10151, format!("mirror transform source: {e}"))
            }
            JsError::MirrorInvalidTransformDestination(e) => {
                (400, 10154, format!("mirror transform: {e}"))
            }
            JsError::SourceInvalidSubjectFilter(e) => {
                (400, 10145, format!("source transform source: {e}"))
            }
            JsError::SourceInvalidTransformDestination(e) => {
                (400, 10146, format!("source transform: {e}"))
            }
            JsError::ExternalDeliverPrefixWildcards(p) => (
                400,
                10024,
                format!("stream external delivery prefix {p} must not contain wildcards"),
            ),
            JsError::ExternalDeliverPrefixOverlaps { prefix, subject } => (
                400,
                10022,
                format!("stream external delivery prefix {prefix} overlaps with stream subject {subject}"),
            ),
            JsError::ExternalApiOverlap(p) => (
                400,
                10021,
                format!("stream external api prefix {p} must not overlap with $JS.API"),
            ),
            JsError::Pedantic(e) => (400, 10157, format!("pedantic mode: {e}")),
            JsError::Coded(err_code) => match CODED.iter().find(|(e, _, _)| e == err_code) {
                Some((e, code, text)) => (*code, *e, (*text).to_string()),
                None => (500, *err_code, "unknown error".into()),
            },
            JsError::Text(code, err_code, text) => (*code, *err_code, text.clone()),
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
