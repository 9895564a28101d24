//! Subject routing: a token trie of subscriptions with `*` and `>` nodes.
//!
//! Writers (SUB, UNSUB, disconnect) take the write lock and bump a generation counter; readers
//! match under the read lock. Publishers keep their own cache of match results keyed by subject
//! and drop it when the generation moves, so the publish path usually takes no lock at all.
//!
//! **Architecture Invariant:** a match result is never used once the generation it was computed
//! at has passed — every insert and remove bumps the generation after changing the trie.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use strom_proto::subject::{is_fwc, is_pwc};

use crate::subscription::Subscription;

/// The subscriptions interested in one subject: plain ones, and queue groups by name.
#[derive(Debug, Default)]
pub struct SubResult {
    pub psubs: Vec<Arc<Subscription>>,
    /// Each group: its name and its members; a message goes to one member of each.
    pub qsubs: Vec<(bytes::Bytes, Vec<Arc<Subscription>>)>,
}

impl SubResult {
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }

    fn add_node(&mut self, node: &Node) {
        self.psubs.extend(node.psubs.iter().cloned());
        for (name, members) in &node.qsubs {
            match self.qsubs.iter_mut().find(|(n, _)| n == name) {
                Some((_, group)) => group.extend(members.iter().cloned()),
                None => self.qsubs.push((name.clone(), members.clone())),
            }
        }
    }
}

#[derive(Default)]
struct Level {
    literals: FxHashMap<Box<[u8]>, Node>,
    pwc: Option<Box<Node>>,
    fwc: Option<Box<Node>>,
}

#[derive(Default)]
struct Node {
    next: Option<Box<Level>>,
    psubs: Vec<Arc<Subscription>>,
    qsubs: Vec<(bytes::Bytes, Vec<Arc<Subscription>>)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.psubs.is_empty()
            && self.qsubs.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

impl Level {
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    fn node_mut(&mut self, token: &[u8]) -> &mut Node {
        if is_fwc(token) {
            self.fwc.get_or_insert_with(Box::default)
        } else if is_pwc(token) {
            self.pwc.get_or_insert_with(Box::default)
        } else {
            self.literals.entry(token.into()).or_default()
        }
    }
}

/// The subscription index of one account.
pub struct Sublist {
    root: RwLock<Level>,
    generation: AtomicU64,
    count: AtomicU64,
    /// Lifetime counts for monitoring (`/subsz`): inserts, removes and trie lookups.
    inserts: AtomicU64,
    removes: AtomicU64,
    lookups: AtomicU64,
}

/// What `/subsz` reports of a sublist.
#[derive(Debug, Default, Clone, Copy)]
pub struct SublistStats {
    pub subscriptions: u64,
    pub inserts: u64,
    pub removes: u64,
    pub matches: u64,
}

impl Default for Sublist {
    fn default() -> Self {
        Self::new()
    }
}

impl Sublist {
    pub fn new() -> Self {
        Sublist {
            root: RwLock::new(Level::default()),
            generation: AtomicU64::new(1),
            count: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
        }
    }

    /// Changes whenever the set of subscriptions changes.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of subscriptions held.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Adds a subscription. The subject must already be valid.
    pub fn insert(&self, sub: Arc<Subscription>) {
        let mut root = self.root.write();
        let mut level: &mut Level = &mut root;
        let mut tokens = sub.subject.split(|&b| b == b'.').peekable();
        loop {
            let token = tokens.next().unwrap_or_default();
            let node = level.node_mut(token);
            if tokens.peek().is_none() {
                match &sub.queue {
                    None => node.psubs.push(sub.clone()),
                    Some(q) => match node.qsubs.iter_mut().find(|(n, _)| n == q) {
                        Some((_, members)) => members.push(sub.clone()),
                        None => node.qsubs.push((q.clone(), vec![sub.clone()])),
                    },
                }
                break;
            }
            level = node.next.get_or_insert_with(Box::default);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Removes a subscription; returns whether it was present.
    pub fn remove(&self, sub: &Arc<Subscription>) -> bool {
        let mut root = self.root.write();
        let tokens: Vec<&[u8]> = sub.subject.split(|&b| b == b'.').collect();
        let removed = remove_from(&mut root, &tokens, sub);
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.removes.fetch_add(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Removes many subscriptions under one lock (a client going away).
    pub fn remove_all<'a>(&self, subs: impl IntoIterator<Item = &'a Arc<Subscription>>) {
        let mut root = self.root.write();
        let mut n = 0;
        for sub in subs {
            let tokens: Vec<&[u8]> = sub.subject.split(|&b| b == b'.').collect();
            if remove_from(&mut root, &tokens, sub) {
                n += 1;
            }
        }
        if n > 0 {
            self.count.fetch_sub(n, Ordering::Relaxed);
            self.removes.fetch_add(n, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Counts for monitoring. Matches are trie lookups: publishers answer repeated subjects
    /// from their own caches without one.
    pub fn stats(&self) -> SublistStats {
        SublistStats {
            subscriptions: self.count(),
            inserts: self.inserts.load(Ordering::Relaxed),
            removes: self.removes.load(Ordering::Relaxed),
            matches: self.lookups.load(Ordering::Relaxed),
        }
    }

    /// Every subscription held, in trie order.
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        fn walk(level: &Level, out: &mut Vec<Arc<Subscription>>) {
            let nodes = level
                .literals
                .values()
                .chain(level.pwc.as_deref())
                .chain(level.fwc.as_deref());
            for node in nodes {
                out.extend(node.psubs.iter().cloned());
                for (_, members) in &node.qsubs {
                    out.extend(members.iter().cloned());
                }
                if let Some(next) = &node.next {
                    walk(next, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.read(), &mut out);
        out
    }

    /// All subscriptions whose subject matches the literal `subject`.
    pub fn matches(&self, subject: &[u8]) -> SubResult {
        let mut result = SubResult::default();
        // nats-server matches nothing for a subject with an empty token.
        if subject.is_empty() || subject.split(|&b| b == b'.').any(<[u8]>::is_empty) {
            return result;
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let root = self.root.read();
        let mut tokens = [&[][..]; 32];
        let mut n = 0;
        let mut overflow: Vec<&[u8]> = Vec::new();
        for t in subject.split(|&b| b == b'.') {
            if n < tokens.len() {
                tokens[n] = t;
                n += 1;
            } else {
                if overflow.is_empty() {
                    overflow.extend_from_slice(&tokens);
                }
                overflow.push(t);
            }
        }
        let toks: &[&[u8]] = if overflow.is_empty() {
            &tokens[..n]
        } else {
            &overflow
        };
        match_level(&root, toks, &mut result);
        result
    }
}

/// Collects matches in nats-server's order, which a client subscribed through several wildcards
/// can observe: `>` first, then deeper `*` matches, then the literal node, then a final `*`.
fn match_level(level: &Level, tokens: &[&[u8]], result: &mut SubResult) {
    let Some((token, rest)) = tokens.split_first() else {
        return;
    };
    if let Some(fwc) = &level.fwc {
        result.add_node(fwc);
    }
    if rest.is_empty() {
        if let Some(node) = level.literals.get(*token) {
            result.add_node(node);
        }
        if let Some(pwc) = &level.pwc {
            result.add_node(pwc);
        }
        return;
    }
    if let Some(pwc) = &level.pwc {
        match_node(pwc, rest, result);
    }
    if let Some(node) = level.literals.get(*token) {
        match_node(node, rest, result);
    }
}

fn match_node(node: &Node, rest: &[&[u8]], result: &mut SubResult) {
    if rest.is_empty() {
        result.add_node(node);
    } else if let Some(next) = &node.next {
        match_level(next, rest, result);
    }
}

fn remove_from(level: &mut Level, tokens: &[&[u8]], sub: &Arc<Subscription>) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return false;
    };
    let removed;
    let empty;
    {
        let node: &mut Node = if is_fwc(token) {
            match level.fwc.as_deref_mut() {
                Some(n) => n,
                None => return false,
            }
        } else if is_pwc(token) {
            match level.pwc.as_deref_mut() {
                Some(n) => n,
                None => return false,
            }
        } else {
            match level.literals.get_mut(*token) {
                Some(n) => n,
                None => return false,
            }
        };
        removed = if rest.is_empty() {
            remove_sub_from_node(node, sub)
        } else {
            match node.next.as_deref_mut() {
                Some(next) => {
                    let r = remove_from(next, rest, sub);
                    if next.is_empty() {
                        node.next = None;
                    }
                    r
                }
                None => false,
            }
        };
        empty = node.is_empty();
    }
    if empty {
        if is_fwc(token) {
            level.fwc = None;
        } else if is_pwc(token) {
            level.pwc = None;
        } else {
            level.literals.remove(*token);
        }
    }
    removed
}

fn remove_sub_from_node(node: &mut Node, sub: &Arc<Subscription>) -> bool {
    match &sub.queue {
        None => match node.psubs.iter().position(|s| Arc::ptr_eq(s, sub)) {
            Some(i) => {
                node.psubs.swap_remove(i);
                true
            }
            None => false,
        },
        Some(q) => {
            let Some(gi) = node.qsubs.iter().position(|(n, _)| n == q) else {
                return false;
            };
            let members = &mut node.qsubs[gi].1;
            let Some(i) = members.iter().position(|s| Arc::ptr_eq(s, sub)) else {
                return false;
            };
            members.swap_remove(i);
            if members.is_empty() {
                node.qsubs.swap_remove(gi);
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientHandle;
    use bytes::Bytes;

    fn sub(subject: &str, queue: Option<&str>) -> Arc<Subscription> {
        let client = Arc::new(ClientHandle::new_for_test(1));
        Arc::new(Subscription::new(
            client,
            Arc::new(crate::account::Account::new("test")),
            Bytes::copy_from_slice(subject.as_bytes()),
            queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
            Bytes::from_static(b"1"),
        ))
    }

    fn subjects(r: &SubResult) -> Vec<String> {
        let mut v: Vec<String> = r
            .psubs
            .iter()
            .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn wildcards_match_like_nats_server() {
        let sl = Sublist::new();
        for s in [
            "foo.bar",
            "foo.*",
            "foo.>",
            ">",
            "*.bar",
            "foo.bar.baz",
            "*",
        ] {
            sl.insert(sub(s, None));
        }
        assert_eq!(
            subjects(&sl.matches(b"foo.bar")),
            vec!["*.bar", ">", "foo.*", "foo.>", "foo.bar"]
        );
        assert_eq!(subjects(&sl.matches(b"foo")), vec!["*", ">"]);
        assert_eq!(
            subjects(&sl.matches(b"foo.bar.baz")),
            vec![">", "foo.>", "foo.bar.baz"]
        );
        assert!(sl.matches(b"foo..bar").is_empty());
        assert_eq!(sl.count(), 7);
    }

    #[test]
    fn queue_groups_merge_across_nodes() {
        let sl = Sublist::new();
        sl.insert(sub("foo.bar", Some("q")));
        sl.insert(sub("foo.*", Some("q")));
        sl.insert(sub("foo.*", Some("other")));
        let r = sl.matches(b"foo.bar");
        assert!(r.psubs.is_empty());
        assert_eq!(r.qsubs.len(), 2);
        let q = r
            .qsubs
            .iter()
            .find(|(n, _)| &n[..] == b"q")
            .map(|(_, m)| m.len());
        assert_eq!(q, Some(2));
    }

    #[test]
    fn remove_prunes_and_bumps_generation() {
        let sl = Sublist::new();
        let a = sub("a.b.c", None);
        let b = sub("a.b.>", Some("q"));
        sl.insert(a.clone());
        sl.insert(b.clone());
        let g = sl.generation();
        assert!(sl.remove(&a));
        assert!(!sl.remove(&a));
        assert!(sl.generation() > g);
        assert_eq!(sl.matches(b"a.b.c").qsubs.len(), 1);
        sl.remove_all([&b]);
        assert!(sl.matches(b"a.b.c").is_empty());
        assert!(sl.root.read().is_empty());
        assert_eq!(sl.count(), 0);
    }

    #[test]
    fn deep_subjects_match() {
        let sl = Sublist::new();
        let deep: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let subject = deep.join(".");
        sl.insert(sub(&subject, None));
        sl.insert(sub("0.>", None));
        assert_eq!(sl.matches(subject.as_bytes()).psubs.len(), 2);
    }
}
