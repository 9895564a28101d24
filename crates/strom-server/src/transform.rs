//! Subject transforms, as nats-server writes them: a source filter (with `*` and `>`) and a
//! destination made of literal tokens and references to what the wildcards matched —
//! `{{wildcard(N)}}` (any case), `$N`, or, for a destination that uses none of those, its own
//! `*` and `>` taking the source's wildcards in order. Used by streams
//! (`subject_transform`, `republish`).

use strom_proto::subject;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The N-th (1-based) wildcard of the source; for a `>` it is the rest of the subject.
    Wildcard(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    src: String,
    dest: Vec<Part>,
}

/// The wildcard a `{{wildcard(N)}}` or `$N` token names, if it is one.
fn reference(token: &str) -> Result<Option<usize>, String> {
    if let Some(n) = token.strip_prefix('$') {
        return n
            .parse()
            .map(Some)
            .map_err(|_| format!("invalid wildcard reference {token:?}"));
    }
    let Some(inner) = token
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim)
    else {
        return Ok(None);
    };
    let open = inner
        .find('(')
        .ok_or_else(|| format!("invalid mapping function {token:?}"))?;
    let (name, args) = inner.split_at(open);
    let args = args
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .ok_or_else(|| format!("invalid mapping function {token:?}"))?;
    if !name.trim().eq_ignore_ascii_case("wildcard") {
        return Err(format!(
            "mapping function {} is not supported by Strom yet",
            name.trim()
        ));
    }
    args.trim()
        .parse()
        .map(Some)
        .map_err(|_| format!("invalid wildcard reference {token:?}"))
}

impl Transform {
    /// Parses and checks a transform; an empty source means `>`.
    ///
    /// # Errors
    /// Why nats-server would refuse it.
    pub fn new(src: &str, dest: &str) -> Result<Transform, String> {
        let src = if src.is_empty() { ">" } else { src };
        if !subject::is_valid_subject(src.as_bytes()) {
            return Err(format!("invalid source subject {src:?}"));
        }
        let wildcards = src.split('.').filter(|t| *t == "*" || *t == ">").count();
        let tokens: Vec<&str> = dest.split('.').collect();
        if dest.is_empty() || tokens.iter().any(|t| t.is_empty()) {
            return Err(format!("invalid destination subject {dest:?}"));
        }
        let mut refs = Vec::new();
        for t in &tokens {
            refs.push(reference(t)?);
        }
        let explicit = refs.iter().any(Option::is_some);
        let mut next = 0;
        let mut parts = Vec::new();
        for (t, r) in tokens.iter().zip(refs) {
            let part = match r {
                Some(n) => Part::Wildcard(n),
                None if !explicit && (*t == "*" || *t == ">") => {
                    next += 1;
                    Part::Wildcard(next)
                }
                None if *t == "*" || *t == ">" => {
                    return Err("destination mixes wildcards and references".into())
                }
                None => Part::Literal((*t).to_string()),
            };
            if let Part::Wildcard(n) = part {
                if n == 0 || n > wildcards {
                    return Err(format!(
                        "wildcard reference {n} is out of range: the source has {wildcards}"
                    ));
                }
            }
            parts.push(part);
        }
        Ok(Transform {
            src: src.to_string(),
            dest: parts,
        })
    }

    /// The transformed subject, when `subject` matches the source.
    pub fn apply(&self, subj: &[u8]) -> Option<Vec<u8>> {
        if !subject::matches(self.src.as_bytes(), subj) {
            return None;
        }
        // What each wildcard of the source matched.
        let mut captured: Vec<&[u8]> = Vec::new();
        let mut rest = subj;
        for t in self.src.split('.') {
            match t {
                ">" => {
                    captured.push(rest);
                    break;
                }
                _ => {
                    let end = rest.iter().position(|&b| b == b'.').unwrap_or(rest.len());
                    if t == "*" {
                        captured.push(&rest[..end]);
                    }
                    rest = rest.get(end + 1..).unwrap_or(&[]);
                }
            }
        }
        let mut out = Vec::with_capacity(subj.len() + 16);
        for (i, p) in self.dest.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match p {
                Part::Literal(l) => out.extend_from_slice(l.as_bytes()),
                Part::Wildcard(n) => out.extend_from_slice(captured.get(n - 1)?),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(src: &str, dest: &str, subj: &str) -> Option<String> {
        Transform::new(src, dest)
            .expect("valid")
            .apply(subj.as_bytes())
            .map(|v| String::from_utf8(v).expect("utf-8"))
    }

    #[test]
    fn mappings() {
        assert_eq!(
            t(
                "orders.*.*",
                "archive.{{wildcard(2)}}.{{wildcard(1)}}",
                "orders.eu.new"
            ),
            Some("archive.new.eu".into())
        );
        assert_eq!(t("orders.*", "x.$1", "orders.a"), Some("x.a".into()));
        assert_eq!(t("orders.>", "all.>", "orders.a.b"), Some("all.a.b".into()));
        assert_eq!(t("a.*.>", "b.*.>", "a.1.2.3"), Some("b.1.2.3".into()));
        assert_eq!(t("", "copy.>", "x.y"), Some("copy.x.y".into()));
        assert_eq!(t("orders.*", "fixed", "orders.a"), Some("fixed".into()));
        assert_eq!(t("orders.*", "x.$1", "other.a"), None);
    }

    #[test]
    fn refused() {
        assert!(Transform::new("a.*", "b.{{wildcard(2)}}").is_err());
        assert!(Transform::new("a.*", "b.$0").is_err());
        assert!(Transform::new("a..b", "b").is_err());
        assert!(Transform::new("a.*", "b..c").is_err());
        assert!(Transform::new("a.*", "b.{{partition(3,1)}}").is_err());
    }
}
