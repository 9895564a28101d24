//! nats-server's mapping functions in a transform destination (`{{partition(3,1)}}`,
//! `{{split(1,-)}}`, ...): how a token is parsed, and what each writes given the tokens the
//! source's wildcards matched. The behaviour at the edges (a position past the token, an
//! empty piece) is nats-server's, case by case.

/// One destination token that is a function of the matched tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Function {
    /// The N-th (1-based) wildcard's token.
    Wildcard(usize),
    /// A bucket in `0..buckets` from the FNV-1a hash of the given wildcards' tokens run
    /// together, or of the whole subject when none are given.
    Partition {
        buckets: u32,
        wildcards: Vec<usize>,
    },
    SplitFromLeft(usize, i64),
    SplitFromRight(usize, i64),
    SliceFromLeft(usize, i64),
    SliceFromRight(usize, i64),
    /// The token split at each occurrence of the delimiter, empty pieces dropped.
    Split(usize, String),
    Left(usize, i64),
    Right(usize, i64),
    /// A random number in `0..max`.
    Random(u32),
}

/// nats-server's reasons, as its `ErrMappingDestination...` texts name them.
pub(super) fn error(reason: &str, token: &str) -> String {
    format!("invalid mapping destination: {reason} in {token}")
}

const NOT_ENOUGH: &str = "not enough arguments passed to the function";
const TOO_MANY: &str = "too many arguments passed to the function";
const INVALID_ARG: &str = "function argument is invalid or in the wrong format";
pub(super) const OUT_OF_RANGE: &str = "wildcard index out of range";

/// Whether `name` spells `canonical` as nats-server's patterns accept it: the first letter
/// and each capital of `canonical` in either case, the rest exactly.
fn named(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len()
        && name
            .chars()
            .zip(canonical.chars())
            .enumerate()
            .all(|(i, (n, c))| {
                if i == 0 || c.is_ascii_uppercase() {
                    n.eq_ignore_ascii_case(&c)
                } else {
                    n == c
                }
            })
}

/// Go's `strconv.Atoi` of a trimmed argument.
fn int(arg: &str, token: &str) -> Result<i64, String> {
    arg.trim_matches(' ')
        .parse::<i64>()
        .map_err(|_| error(INVALID_ARG, token))
}

/// A wildcard index argument (checked against the source later).
fn index(arg: &str, token: &str) -> Result<usize, String> {
    let n = int(arg, token)?;
    usize::try_from(n).map_err(|_| error(OUT_OF_RANGE, token))
}

/// A count that must fit nats-server's int32.
fn count(arg: &str, token: &str) -> Result<u32, String> {
    let n = int(arg, token)?;
    if n > i64::from(i32::MAX) {
        return Err(error(INVALID_ARG, token));
    }
    // A negative count behaves as nats-server's modulo of a negative: treat as none.
    Ok(u32::try_from(n).unwrap_or(0))
}

/// Builds a function of a wildcard and a number.
type Make = fn(usize, i64) -> Function;

/// Parses `{{name(args)}}`; `Ok(None)` when `token` is not a function at all.
pub(super) fn parse(token: &str) -> Result<Option<Function>, String> {
    if let Some(n) = token.strip_prefix('$') {
        // `$N`, the old form; a `$` token that is not a number is a literal.
        return Ok(n.parse().ok().map(Function::Wildcard));
    }
    let Some(inner) = token
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .filter(|_| token.len() > 4)
    else {
        return Ok(None);
    };
    let inner = inner.trim();
    let (Some(open), true) = (inner.find('('), inner.ends_with(')')) else {
        return Err(error("unknown function", token));
    };
    let name = inner[..open].trim();
    let body = &inner[open + 1..inner.len() - 1];
    // nats-server splits on a comma and the spaces after it.
    let args: Vec<&str> = body.split(',').map(|a| a.trim_start()).collect();
    let two = |make: Make| -> Result<Option<Function>, String> {
        match args.as_slice() {
            [a, b] => Ok(Some(make(index(a, token)?, int(b, token)?))),
            [_] => Err(error(NOT_ENOUGH, token)),
            _ => Err(error(TOO_MANY, token)),
        }
    };
    if named(name, "wildcard") {
        return match args.as_slice() {
            [""] => Err(error(NOT_ENOUGH, token)),
            [a] => Ok(Some(Function::Wildcard(index(a, token)?))),
            _ => Err(error(TOO_MANY, token)),
        };
    }
    if named(name, "partition") {
        let Some((n, rest)) = args.split_first() else {
            return Err(error(NOT_ENOUGH, token));
        };
        let buckets = count(n, token)?;
        let wildcards = rest
            .iter()
            .map(|a| index(a, token))
            .collect::<Result<_, _>>()?;
        return Ok(Some(Function::Partition { buckets, wildcards }));
    }
    // Checked in nats-server's order: "split" would also match the start of the others.
    let pairs: [(&str, Make); 6] = [
        ("splitFromLeft", Function::SplitFromLeft),
        ("splitFromRight", Function::SplitFromRight),
        ("sliceFromLeft", Function::SliceFromLeft),
        ("sliceFromRight", Function::SliceFromRight),
        ("right", Function::Right),
        ("left", Function::Left),
    ];
    for (canonical, make) in pairs {
        if named(name, canonical) {
            return two(make);
        }
    }
    if named(name, "split") {
        return match args.as_slice() {
            [a, delim] => {
                if delim.contains(' ') || delim.contains('.') {
                    return Err(error(INVALID_ARG, token));
                }
                Ok(Some(Function::Split(
                    index(a, token)?,
                    (*delim).to_string(),
                )))
            }
            [_] => Err(error(NOT_ENOUGH, token)),
            _ => Err(error(TOO_MANY, token)),
        };
    }
    if named(name, "random") {
        return match args.as_slice() {
            [n] => Ok(Some(Function::Random(count(n, token)?))),
            _ => Err(error(NOT_ENOUGH, token)),
        };
    }
    Err(error("unknown function", token))
}

impl Function {
    /// The wildcards this function reads.
    pub(super) fn wildcards(&self) -> Vec<usize> {
        match self {
            Function::Wildcard(n)
            | Function::SplitFromLeft(n, _)
            | Function::SplitFromRight(n, _)
            | Function::SliceFromLeft(n, _)
            | Function::SliceFromRight(n, _)
            | Function::Split(n, _)
            | Function::Left(n, _)
            | Function::Right(n, _) => vec![*n],
            Function::Partition { wildcards, .. } => wildcards.clone(),
            Function::Random(_) => Vec::new(),
        }
    }

    /// Whether nats-server allows it in a destination whose source has no wildcards.
    pub(super) fn needs_no_wildcard(&self) -> bool {
        matches!(self, Function::Random(_) | Function::Partition { .. })
    }

    /// Appends what this function makes of the matched tokens (`captured[n - 1]` for
    /// wildcard n) and of the whole `subject`; `None` when a wildcard is missing.
    pub(super) fn write(
        &self,
        captured: &[&[u8]],
        subject: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let token = |n: &usize| captured.get(n.checked_sub(1)?).copied();
        match self {
            Function::Wildcard(n) => out.extend_from_slice(token(n)?),
            Function::Partition { buckets, wildcards } => {
                let key: Vec<u8> = if wildcards.is_empty() {
                    subject.to_vec()
                } else {
                    let mut k = Vec::new();
                    for n in wildcards {
                        k.extend_from_slice(token(n)?);
                    }
                    k
                };
                let bucket = if *buckets == 0 {
                    0
                } else {
                    fnv1a(&key) % buckets
                };
                out.extend_from_slice(bucket.to_string().as_bytes());
            }
            Function::SplitFromLeft(n, at) => {
                let t = token(n)?;
                match usize::try_from(*at).ok().filter(|&p| p > 0 && p < t.len()) {
                    Some(p) => join(out, &[&t[..p], &t[p..]]),
                    None => out.extend_from_slice(t),
                }
            }
            Function::SplitFromRight(n, at) => {
                let t = token(n)?;
                match usize::try_from(*at).ok().filter(|&p| p > 0 && p < t.len()) {
                    Some(p) => join(out, &[&t[..t.len() - p], &t[t.len() - p..]]),
                    None => out.extend_from_slice(t),
                }
            }
            Function::SliceFromLeft(n, size) => {
                let t = token(n)?;
                match usize::try_from(*size)
                    .ok()
                    .filter(|&s| s > 0 && s < t.len())
                {
                    Some(s) => join(out, &t.chunks(s).collect::<Vec<_>>()),
                    None => out.extend_from_slice(t),
                }
            }
            Function::SliceFromRight(n, size) => {
                let t = token(n)?;
                match usize::try_from(*size)
                    .ok()
                    .filter(|&s| s > 0 && s < t.len())
                {
                    Some(s) => {
                        let first = t.len() % s;
                        let mut pieces: Vec<&[u8]> = Vec::new();
                        if first > 0 {
                            pieces.push(&t[..first]);
                        }
                        pieces.extend(t[first..].chunks(s));
                        join(out, &pieces);
                    }
                    None => out.extend_from_slice(t),
                }
            }
            Function::Split(n, delim) => {
                let t = std::str::from_utf8(token(n)?).ok()?;
                let pieces: Vec<&[u8]> = t
                    .split(delim.as_str())
                    .filter(|p| !p.is_empty())
                    .map(str::as_bytes)
                    .collect();
                join(out, &pieces);
            }
            Function::Left(n, size) => {
                let t = token(n)?;
                match usize::try_from(*size)
                    .ok()
                    .filter(|&s| s > 0 && s < t.len())
                {
                    Some(s) => out.extend_from_slice(&t[..s]),
                    None => out.extend_from_slice(t),
                }
            }
            Function::Right(n, size) => {
                let t = token(n)?;
                match usize::try_from(*size)
                    .ok()
                    .filter(|&s| s > 0 && s < t.len())
                {
                    Some(s) => out.extend_from_slice(&t[t.len() - s..]),
                    None => out.extend_from_slice(t),
                }
            }
            Function::Random(max) => {
                let n = if *max == 0 {
                    0
                } else {
                    rand::random::<u32>() % max
                };
                out.extend_from_slice(n.to_string().as_bytes());
            }
        }
        Some(())
    }
}

fn join(out: &mut Vec<u8>, pieces: &[&[u8]]) {
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(p);
    }
}

/// 32-bit FNV-1a, Go's `hash/fnv` `New32a`.
fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_gos() {
        // Go: fnv.New32a().Write([]byte("foo")).Sum32() == 0xa9f37ed7
        assert_eq!(fnv1a(b"foo"), 0xa9f3_7ed7);
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
    }

    #[test]
    fn names_take_nats_servers_spellings() {
        assert!(named("splitFromLeft", "splitFromLeft"));
        assert!(named("SplitFromleft", "splitFromLeft"));
        assert!(!named("SPLITFROMLEFT", "splitFromLeft"));
        assert!(named("Partition", "partition"));
        assert!(!named("pArtition", "partition"));
    }

    #[test]
    fn parses_and_refuses_as_nats_server() {
        assert_eq!(
            parse("{{partition(3,1,2)}}"),
            Ok(Some(Function::Partition {
                buckets: 3,
                wildcards: vec![1, 2]
            }))
        );
        assert_eq!(
            parse("{{ split(1, -) }}"),
            Ok(Some(Function::Split(1, "-".into())))
        );
        assert_eq!(parse("$x"), Ok(None), "a literal");
        assert_eq!(parse("{{wildcard(1)}}"), Ok(Some(Function::Wildcard(1))));
        assert!(parse("{{wildcard()}}").is_err());
        assert!(parse("{{left(1)}}").is_err());
        assert!(parse("{{left(1,2,3)}}").is_err());
        assert!(parse("{{split(1,.)}}").is_err());
        assert!(parse("{{nope(1)}}").is_err());
    }
}
