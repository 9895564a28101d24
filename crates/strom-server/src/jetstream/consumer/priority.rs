//! Priority groups (nats-server 2.11+): which waiting pull request a consumer serves next
//! under the `overflow`, `pinned_client` and `prioritized` policies, and the pin itself — given
//! to one requester, carried in `Nats-Pin-Id`, lost after `priority_timeout` without requests
//! from its holder or by `CONSUMER.UNPIN`.

use std::time::{Duration, Instant};

use super::pull::PullRequest;
use super::Inner;
use crate::jetstream::consumer_config::{ConsumerConfig, PriorityPolicy};

/// The requester a `pinned_client` consumer serves.
#[derive(Debug, Clone)]
pub struct Pin {
    pub id: String,
    pub group: String,
    /// When it was given (nanoseconds).
    pub since: i64,
    /// When it goes unless its holder asks again.
    pub expires: Instant,
}

/// What serving the head of the queue needs first.
pub enum Verdict {
    /// Serve it.
    Serve,
    /// Not now: to the back of the queue.
    PassOver,
    /// End it with this status line (code, text).
    End(u16, &'static str),
}

/// A new request's priority fields, checked against the consumer's policy: the status it is
/// refused with, if any. A request from the pin's holder keeps the pin.
pub fn check(
    cfg: &ConsumerConfig,
    inner: &mut Inner,
    req: &PullRequest,
    now: Instant,
) -> Option<(u16, String)> {
    let policy = cfg.priority_policy;
    if (req.min_pending != 0 || req.min_ack_pending != 0) && policy != PriorityPolicy::Overflow {
        return Some((400, "Bad Request - Not a Overflow Priority consumer".into()));
    }
    if !req.pin.is_empty() && policy != PriorityPolicy::PinnedClient {
        return Some((
            400,
            "Bad Request - Not a Pinned Client Priority consumer".into(),
        ));
    }
    if !(0..=9).contains(&req.priority) {
        return Some((400, "Bad Request - Priority must be between 0 and 9".into()));
    }
    if policy == PriorityPolicy::None {
        return None;
    }
    if req.group.is_empty() {
        return Some((400, "Bad Request - Priority Group missing".into()));
    }
    if !cfg.priority_groups.contains(&req.group) {
        return Some((400, "Bad Request - Invalid Priority Group".into()));
    }
    if let Some(pin) = inner.pin.as_mut() {
        if req.pin == pin.id {
            pin.expires = now + ttl(cfg);
        } else if !req.pin.is_empty() {
            return Some((423, "Nats-Pin-Id mismatch".into()));
        }
    }
    None
}

/// Queues a request: by priority (lowest first, in arrival order within one) under the
/// `prioritized` policy, at the back otherwise.
pub fn enqueue(cfg: &ConsumerConfig, inner: &mut Inner, req: PullRequest) {
    if cfg.priority_policy == PriorityPolicy::Prioritized {
        let at = inner
            .waiting
            .iter()
            .position(|r| r.priority > req.priority)
            .unwrap_or(inner.waiting.len());
        inner.waiting.insert(at, req);
    } else {
        inner.waiting.push_back(req);
    }
}

fn ttl(cfg: &ConsumerConfig) -> Duration {
    Duration::from_nanos(cfg.priority_timeout.max(0) as u64)
}

/// Whether the request at the head of the queue may be served now. Under `pinned_client`
/// the first request without a pin id gets a new pin (returned in `pinned`, for the
/// advisory); requests holding an old pin are ended.
pub fn verdict(
    cfg: &ConsumerConfig,
    inner: &mut Inner,
    now: Instant,
    pinned: &mut Option<Pin>,
) -> Verdict {
    let num_pending = super::Consumer::num_pending(inner) as i64;
    let ack_pending = inner.state.pending.len() as i64;
    let Some(r) = inner.waiting.front() else {
        return Verdict::PassOver;
    };
    match cfg.priority_policy {
        PriorityPolicy::Overflow => {
            let limited = r.min_pending > 0 || r.min_ack_pending > 0;
            let over = (r.min_pending > 0 && num_pending >= r.min_pending)
                || (r.min_ack_pending > 0 && ack_pending >= r.min_ack_pending);
            if limited && !over {
                Verdict::PassOver
            } else {
                Verdict::Serve
            }
        }
        PriorityPolicy::PinnedClient => match &inner.pin {
            Some(pin) if r.pin == pin.id => Verdict::Serve,
            Some(_) if r.pin.is_empty() => Verdict::PassOver,
            Some(_) => Verdict::End(423, "Nats-Wrong-Pin-Id"),
            None if !r.pin.is_empty() => Verdict::End(423, "Nats-Wrong-Pin-Id"),
            None => {
                let pin = Pin {
                    id: crate::jetstream::wire::random_token(22),
                    group: r.group.clone(),
                    since: crate::jetstream::wire::now_nanos(),
                    expires: now + ttl(cfg),
                };
                if let Some(front) = inner.waiting.front_mut() {
                    front.pin = pin.id.clone();
                }
                inner.pin = Some(pin.clone());
                *pinned = Some(pin);
                Verdict::Serve
            }
        },
        _ => Verdict::Serve,
    }
}

/// Takes the pin away when its holder has not asked for `priority_timeout`: the group it
/// was for.
pub fn expire(inner: &mut Inner, now: Instant) -> Option<String> {
    if inner.pin.as_ref().is_some_and(|p| p.expires <= now) {
        return inner.pin.take().map(|p| p.group);
    }
    None
}

/// `priority_groups` of consumer info: the first group, with its pin.
#[derive(serde::Serialize)]
pub struct GroupState {
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pinned_client_id: String,
    pub pinned_ts: String,
}

pub fn info(cfg: &ConsumerConfig, inner: &Inner) -> Option<Vec<GroupState>> {
    let group = cfg.priority_groups.first()?;
    let (id, since) = inner
        .pin
        .as_ref()
        .map_or((String::new(), 0), |p| (p.id.clone(), p.since));
    Some(vec![GroupState {
        group: group.clone(),
        pinned_client_id: id,
        pinned_ts: crate::jetstream::wire::time_json(since),
    }])
}
