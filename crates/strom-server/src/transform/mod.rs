//! Subject transforms, as nats-server writes them: a source filter (with `*` and `>`) and a
//! destination made of literal tokens and functions of what the wildcards matched —
//! `{{wildcard(N)}}` or `$N`, and nats-server's mapping functions (`partition`, `split`,
//! `splitFromLeft`/`Right`, `sliceFromLeft`/`Right`, `left`, `right`, `random`; see
//! `function.rs`) — or, for a destination that uses none of those, its own `*` and `>`
//! taking the source's wildcards in order. Used by streams (`subject_transform`,
//! `republish`).

mod function;

use strom_proto::subject;

use function::Function;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Function(Function),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    src: String,
    dest: Vec<Part>,
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
        let mut functions = Vec::new();
        for t in &tokens {
            functions.push(function::parse(t)?);
        }
        let explicit = functions.iter().any(Option::is_some);
        let mut next = 0;
        let mut parts = Vec::new();
        for (t, f) in tokens.iter().zip(functions) {
            let part = match f {
                Some(f) => {
                    if wildcards == 0 && !f.needs_no_wildcard() {
                        return Err(function::error(function::OUT_OF_RANGE, t));
                    }
                    if let Some(n) = f.wildcards().into_iter().find(|&n| n == 0 || n > wildcards) {
                        // nats-server names the token and the index: "... in {{wildcard(2)}}: [2]".
                        return Err(function::error(
                            function::OUT_OF_RANGE,
                            &format!("{t}: [{n}]"),
                        ));
                    }
                    Part::Function(f)
                }
                None if !explicit && (*t == "*" || *t == ">") => {
                    next += 1;
                    if next > wildcards {
                        return Err(format!(
                            "wildcard reference {next} is out of range: the source has {wildcards}"
                        ));
                    }
                    Part::Function(Function::Wildcard(next))
                }
                None if *t == "*" || *t == ">" => {
                    return Err("destination mixes wildcards and references".into())
                }
                None => Part::Literal((*t).to_string()),
            };
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
                Part::Function(f) => f.write(&captured, subj, &mut out)?,
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
        assert!(Transform::new("a.*", "b.{{partition(3,2)}}").is_err());
        assert!(
            Transform::new("a", "b.{{split(1,-)}}").is_err(),
            "no wildcard to split"
        );
        assert!(Transform::new("a.*", "b.{{unknown(1)}}").is_err());
    }

    #[test]
    fn mapping_functions_as_nats_server() {
        let p = |dest: &str, subj: &str| t("orders.*.*", dest, subj);
        // nats-server 2.15.1 maps these the same (its subject_transform_test.go cases).
        assert_eq!(
            p("{{splitFromLeft(1,2)}}", "orders.abcd.x"),
            Some("ab.cd".into())
        );
        assert_eq!(
            p("{{splitFromRight(1,1)}}", "orders.abcd.x"),
            Some("abc.d".into())
        );
        assert_eq!(
            p("{{splitFromLeft(1,9)}}", "orders.abcd.x"),
            Some("abcd".into())
        );
        assert_eq!(
            p("{{sliceFromLeft(1,2)}}", "orders.abcde.x"),
            Some("ab.cd.e".into())
        );
        assert_eq!(
            p("{{sliceFromRight(1,2)}}", "orders.abcde.x"),
            Some("a.bc.de".into())
        );
        assert_eq!(p("{{split(1,-)}}", "orders.-a--b-.x"), Some("a.b".into()));
        assert_eq!(
            p("{{left(1,2)}}.{{right(2,1)}}", "orders.abc.xyz"),
            Some("ab.z".into())
        );
        // partition: FNV-1a of the tokens run together, modulo the count.
        let part = p("{{partition(10,1,2)}}", "orders.a.b").expect("mapped");
        assert_eq!(part, (fnv("ab") % 10).to_string());
        let whole = t("orders.*.*", "all.{{partition(5)}}", "orders.a.b").expect("mapped");
        assert_eq!(whole, format!("all.{}", fnv("orders.a.b") % 5));
        assert_eq!(
            t("fixed", "p.{{partition(4)}}", "fixed"),
            Some(format!("p.{}", fnv("fixed") % 4))
        );
        let r = t("fixed", "r.{{random(3)}}", "fixed").expect("mapped");
        assert!(["r.0", "r.1", "r.2"].contains(&r.as_str()), "{r}");
    }

    fn fnv(s: &str) -> u32 {
        s.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
    }
}
