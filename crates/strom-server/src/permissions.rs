//! Per-user publish and subscribe permissions, with nats-server's rules.
//!
//! A rule has an optional allow list (absent means "everything") and a deny list. Publishing needs
//! the literal subject to match an allow entry and no deny entry. Subscribing checks the (possibly
//! wildcard) subject against the lists at SUB time; a wildcard subscription that overlaps a deny
//! entry is allowed, and the denied subjects are filtered out at delivery instead — as
//! nats-server does. Queue permissions (`"foo.> grp"`) allow a subject only with that queue.

use strom_proto::subject::{has_wildcard, matches};

/// One permission entry: a subject pattern, and for subscribe entries, an optional queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub subject: Vec<u8>,
    pub queue: Option<Vec<u8>>,
}

impl Pattern {
    /// Parses `"subject"` or `"subject queue"`.
    pub fn parse(entry: &str) -> Pattern {
        let mut parts = entry.split_whitespace();
        let subject = parts.next().unwrap_or_default().as_bytes().to_vec();
        let queue = parts.next().map(|q| q.as_bytes().to_vec());
        Pattern { subject, queue }
    }
}

/// Allow and deny lists for one direction (publish or subscribe).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// `None`: everything not denied is allowed.
    pub allow: Option<Vec<Pattern>>,
    pub deny: Vec<Pattern>,
}

/// What a responder may publish back: `allow_responses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// How many replies per request (nats-server's default is 1).
    pub max: u32,
    /// How long after the request a reply is allowed; zero means no limit.
    pub expires: std::time::Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max: 1,
            expires: std::time::Duration::ZERO,
        }
    }
}

/// A user's permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<Rule>,
    pub subscribe: Option<Rule>,
    pub responses: Option<ResponsePermission>,
}

impl Permissions {
    /// The permissions as nats-server shows them to their user (`$SYS.REQ.USER.INFO`):
    /// `publish`/`subscribe` with `allow` and `deny` lists, `responses` with `max` and `ttl`
    /// (nanoseconds), each left out when not set.
    pub fn public_json(&self) -> serde_json::Value {
        fn rule(r: &Rule) -> serde_json::Value {
            let list = |ps: &[Pattern]| -> Vec<String> {
                ps.iter()
                    .map(|p| {
                        let s = String::from_utf8_lossy(&p.subject).into_owned();
                        match &p.queue {
                            Some(q) => format!("{s} {}", String::from_utf8_lossy(q)),
                            None => s,
                        }
                    })
                    .collect()
            };
            let mut m = serde_json::Map::new();
            if let Some(allow) = &r.allow {
                m.insert("allow".into(), list(allow).into());
            }
            if !r.deny.is_empty() {
                m.insert("deny".into(), list(&r.deny).into());
            }
            serde_json::Value::Object(m)
        }
        let mut m = serde_json::Map::new();
        if let Some(p) = &self.publish {
            m.insert("publish".into(), rule(p));
        }
        if let Some(s) = &self.subscribe {
            m.insert("subscribe".into(), rule(s));
        }
        if let Some(r) = &self.responses {
            m.insert(
                "responses".into(),
                serde_json::json!({"max": r.max, "ttl": r.expires.as_nanos() as u64}),
            );
        }
        serde_json::Value::Object(m)
    }
}

/// Whether the subscription subject `sub` covers only subjects that `allow` covers: a literal
/// or wildcard subject inside the allow pattern.
fn is_subset(sub: &[u8], allow: &[u8]) -> bool {
    let mut s = sub.split(|&b| b == b'.');
    let mut a = allow.split(|&b| b == b'.');
    loop {
        match (s.next(), a.next()) {
            (_, Some(b">")) => return true,
            (Some(st), Some(at)) => {
                if at == b"*" {
                    if st == b">" {
                        return false;
                    }
                } else if st != at {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl Rule {
    /// A literal subject is allowed for publishing.
    pub fn allows_publish(&self, subject: &[u8]) -> bool {
        if let Some(allow) = &self.allow {
            if !allow.iter().any(|p| matches(&p.subject, subject)) {
                return false;
            }
        }
        !self.deny.iter().any(|p| matches(&p.subject, subject))
    }

    /// A subscription (subject, queue) is allowed when it falls inside an allow entry whose
    /// queue (if any) matches, and is not itself inside a deny entry.
    pub fn allows_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        if let Some(allow) = &self.allow {
            let ok = allow.iter().any(|p| {
                is_subset(subject, &p.subject)
                    && match (&p.queue, queue) {
                        (None, _) => true,
                        (Some(pq), Some(q)) => matches(pq, q),
                        (Some(_), None) => false,
                    }
            });
            if !ok {
                return false;
            }
        }
        !self.deny.iter().any(|p| {
            is_subset(subject, &p.subject)
                && match (&p.queue, queue) {
                    (None, _) => true,
                    (Some(pq), Some(q)) => matches(pq, q),
                    (Some(_), None) => false,
                }
        })
    }

    /// Whether a message on the literal `subject` must be withheld from a wildcard subscription
    /// because the subject is denied.
    pub fn denies_delivery(&self, subject: &[u8]) -> bool {
        self.deny
            .iter()
            .any(|p| p.queue.is_none() && matches(&p.subject, subject))
    }

    /// Whether delivery-time checks are needed at all.
    pub fn has_deny(&self) -> bool {
        !self.deny.is_empty()
    }
}

impl Permissions {
    /// Whether the publish rules allow `subject` (replies allowed by `allow_responses` are
    /// checked separately). With `allow_responses` and no publish rules, nats-server allows only
    /// replies.
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        match &self.publish {
            Some(r) => r.allows_publish(subject),
            None => self.responses.is_none(),
        }
    }

    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.subscribe
            .as_ref()
            .is_none_or(|r| r.allows_subscribe(subject, queue))
    }

    /// Whether delivering `subject` to a subscription on `sub_subject` is withheld.
    pub fn withholds(&self, sub_subject: &[u8], subject: &[u8]) -> bool {
        has_wildcard(sub_subject)
            && self
                .subscribe
                .as_ref()
                .is_some_and(|r| r.denies_delivery(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: Option<&[&str]>, deny: &[&str]) -> Rule {
        Rule {
            allow: allow.map(|a| a.iter().map(|s| Pattern::parse(s)).collect()),
            deny: deny.iter().map(|s| Pattern::parse(s)).collect(),
        }
    }

    #[test]
    fn publish_allow_and_deny() {
        let r = rule(Some(&["foo.>", "_INBOX.>"]), &["foo.secret"]);
        assert!(r.allows_publish(b"foo.ok"));
        assert!(r.allows_publish(b"_INBOX.abc.1"));
        assert!(!r.allows_publish(b"foo.secret"));
        assert!(!r.allows_publish(b"bar"));
        let open = rule(None, &["admin.>"]);
        assert!(open.allows_publish(b"anything"));
        assert!(!open.allows_publish(b"admin.reset"));
    }

    #[test]
    fn subscribe_rules_follow_nats_server() {
        let r = rule(Some(&["foo.>", "q.> grp"]), &["foo.private"]);
        assert!(r.allows_subscribe(b"foo.ok", None));
        assert!(r.allows_subscribe(b"foo.*", None));
        assert!(r.allows_subscribe(b"foo.>", None));
        assert!(!r.allows_subscribe(b"foo.private", None));
        assert!(!r.allows_subscribe(b"bar", None));
        assert!(!r.allows_subscribe(b">", None));
        assert!(!r.allows_subscribe(b"q.x", None));
        assert!(r.allows_subscribe(b"q.x", Some(b"grp")));
        assert!(!r.allows_subscribe(b"q.x", Some(b"other")));
        assert!(r.denies_delivery(b"foo.private"));
        assert!(!r.denies_delivery(b"foo.ok"));
    }

    #[test]
    fn wildcard_subscriptions_are_filtered_at_delivery() {
        let p = Permissions {
            subscribe: Some(rule(Some(&["foo.>"]), &["foo.private"])),
            ..Permissions::default()
        };
        assert!(p.withholds(b"foo.>", b"foo.private"));
        assert!(!p.withholds(b"foo.>", b"foo.ok"));
    }
}
