//! Subject validation, with nats-server's rules.
//!
//! A subject is one or more non-empty tokens separated by `.`; no token holds whitespace; `>` may
//! only be the last token. `*` and `>` are wildcards only as whole tokens (`foo*` is a literal).

/// Whether a token is the single-token wildcard.
#[inline]
pub fn is_pwc(token: &[u8]) -> bool {
    token == b"*"
}

/// Whether a token is the full wildcard.
#[inline]
pub fn is_fwc(token: &[u8]) -> bool {
    token == b">"
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// A valid subscription subject (wildcards allowed), as nats-server's `IsValidSubject`.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for token in subject.split(|&b| b == b'.') {
        if token.is_empty() || seen_fwc || token.iter().any(|&b| is_ws(b)) {
            return false;
        }
        seen_fwc = is_fwc(token);
    }
    true
}

/// A valid subject without wildcards: what a PUB may name (checked in pedantic mode).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    is_valid_subject(subject)
        && subject
            .split(|&b| b == b'.')
            .all(|t| !is_pwc(t) && !is_fwc(t))
}

/// Whether the subject contains a wildcard token.
pub fn has_wildcard(subject: &[u8]) -> bool {
    subject
        .split(|&b| b == b'.')
        .any(|t| is_pwc(t) || is_fwc(t))
}

/// A queue group name: non-empty and without whitespace.
pub fn is_valid_queue(queue: &[u8]) -> bool {
    !queue.is_empty() && !queue.iter().any(|&b| is_ws(b))
}

/// Whether the literal subject `subject` matches the (possibly wildcard) `filter`.
pub fn matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut f = filter.split(|&b| b == b'.');
    let mut s = subject.split(|&b| b == b'.');
    loop {
        match (f.next(), s.next()) {
            (Some(ft), Some(_)) if is_fwc(ft) => return true,
            (Some(ft), Some(st)) => {
                if !is_pwc(ft) && ft != st {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some literal subject matches both filters (JetStream refuses streams whose subjects
/// overlap).
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let mut x = a.split(|&c| c == b'.');
    let mut y = b.split(|&c| c == b'.');
    loop {
        match (x.next(), y.next()) {
            (Some(p), Some(q)) => {
                if is_fwc(p) || is_fwc(q) {
                    return true;
                }
                if !is_pwc(p) && !is_pwc(q) && p != q {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether every subject `inner` matches is also matched by `outer`.
pub fn is_subset(inner: &[u8], outer: &[u8]) -> bool {
    let mut x = inner.split(|&c| c == b'.');
    let mut y = outer.split(|&c| c == b'.');
    loop {
        match (x.next(), y.next()) {
            (Some(_), Some(q)) if is_fwc(q) => return true,
            (Some(p), Some(q)) => {
                if is_fwc(p) || (is_pwc(p) && !is_pwc(q)) || (!is_pwc(q) && p != q) {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_subset() {
        assert!(overlaps(b"orders.>", b"orders.new"));
        assert!(overlaps(b"orders.*", b"*.new"));
        assert!(overlaps(b">", b"a"));
        assert!(!overlaps(b"orders.*", b"orders.a.b"));
        assert!(!overlaps(b"a.b", b"a.c"));
        assert!(is_subset(b"orders.new", b"orders.>"));
        assert!(is_subset(b"orders.*", b"orders.>"));
        assert!(is_subset(b"orders.*", b"orders.*"));
        assert!(!is_subset(b"orders.>", b"orders.*"));
        assert!(!is_subset(b"orders.*", b"orders.a"));
        assert!(!is_subset(b"a", b"a.>"));
    }

    #[test]
    fn valid_subjects() {
        for s in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            "*",
            ">",
            "foo*.bar",
            "a.*.c",
            "$JS.API.>",
        ] {
            assert!(is_valid_subject(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn invalid_subjects() {
        for s in [
            "",
            ".",
            "foo.",
            ".foo",
            "foo..bar",
            "foo.>.bar",
            "foo bar",
            "foo\tbar",
            ">.a",
        ] {
            assert!(!is_valid_subject(s.as_bytes()), "{s:?}");
        }
    }

    #[test]
    fn literal_subjects() {
        assert!(is_valid_literal_subject(b"foo.bar"));
        assert!(is_valid_literal_subject(b"foo*.bar>"));
        assert!(!is_valid_literal_subject(b"foo.*"));
        assert!(!is_valid_literal_subject(b"foo.>"));
    }

    #[test]
    fn wildcard_matching() {
        assert!(matches(b"foo.*", b"foo.bar"));
        assert!(!matches(b"foo.*", b"foo.bar.baz"));
        assert!(matches(b"foo.>", b"foo.bar.baz"));
        assert!(!matches(b"foo.>", b"foo"));
        assert!(matches(b">", b"foo"));
        assert!(matches(b"*.bar", b"foo.bar"));
        assert!(!matches(b"foo", b"foo.bar"));
    }
}
