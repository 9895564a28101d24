//! [`ConfError`], every way a configuration can be refused, and [`ConfWarning`].
//!
//! Each error names `file:line:col` (a file that cannot be read at all names its path) and
//! ends with what to do about it. The typed layer reports every problem it finds at once, as
//! nats-server does, wrapped in [`ConfError::Several`].

use std::fmt;
use std::io;

use crate::value::Position;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfError {
    /// The configuration file itself cannot be read.
    #[error(
        "{path}: cannot read the configuration file: {source}; check the path and its permissions"
    )]
    Read {
        /// The path as given.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The text does not follow the configuration language.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Position,
        /// What is wrong and what to write instead.
        message: String,
    },

    /// A `$NAME` that is neither defined earlier in the file nor in the environment.
    #[error("{at}: variable `${name}` is not defined; define `{name}` earlier in this block or an enclosing one, or set the environment variable {name}")]
    UndefinedVariable {
        /// Where the reference is.
        at: Position,
        /// The name without `$`.
        name: String,
    },

    /// Environment variables that refer to each other in a loop.
    #[error("{at}: variable `${name}` refers back to itself through the environment; change the environment variables so that they do not refer to each other in a loop")]
    VariableCycle {
        /// Where the reference is.
        at: Position,
        /// The name without `$`.
        name: String,
    },

    /// An environment variable whose text is not a valid value (it is parsed like a value in
    /// the file, so `a b` needs quotes).
    #[error("{at}: environment variable {name} (used as `${name}`) does not hold a valid value: {source}; if it is meant as a string, put quotes inside it")]
    BadEnvironmentValue {
        /// Where the reference is.
        at: Position,
        /// The variable.
        name: String,
        /// What is wrong with its text.
        #[source]
        source: Box<ConfError>,
    },

    /// An `include` whose file cannot be read.
    #[error("{at}: cannot read included file {path}: {source}; include paths are relative to the folder of the including file (even when they start with /)")]
    IncludeRead {
        /// Where the `include` is.
        at: Position,
        /// The path that was tried.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// A file that includes itself, directly or not.
    #[error(
        "{at}: including {path} here would include it inside itself; remove the include cycle"
    )]
    IncludeCycle {
        /// Where the `include` is.
        at: Position,
        /// The path that was already being read.
        path: String,
    },

    /// An error inside an included file.
    #[error("{source} (included from {at})")]
    InInclude {
        /// Where the `include` is.
        at: Position,
        /// The error, positioned in the included file.
        #[source]
        source: Box<ConfError>,
    },

    /// A field nats-server does not know in this place.
    #[error("{at}: unknown field `{field}` in {place}{}", hint_suffix(.hint))]
    UnknownField {
        /// Where the key is.
        at: Position,
        /// The key as written.
        field: String,
        /// "the top level", "authorization", ...
        place: String,
        /// The field probably meant, or where this one belongs.
        hint: Option<String>,
    },

    /// A value of the wrong type.
    #[error("{at}: `{field}` must be {expected}, but it is {found}")]
    WrongType {
        /// Where the value is.
        at: Position,
        /// The field.
        field: String,
        /// What it should be, with an example.
        expected: String,
        /// What it is.
        found: String,
    },

    /// A value of the right type that is still not acceptable.
    #[error("{at}: `{field}`: {message}")]
    InvalidValue {
        /// Where the value is.
        at: Position,
        /// The field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// More than one of the above, in file order.
    #[error("{}", lines(.0))]
    Several(Vec<ConfError>),
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!("; {h}"),
        None => "; remove it or check its spelling".to_string(),
    }
}

fn lines(errors: &[ConfError]) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join("\n")
}

impl ConfError {
    /// Where the error is (for an error in an included file, the place inside that file).
    pub fn position(&self) -> Option<&Position> {
        match self {
            ConfError::Read { .. } | ConfError::Several(_) => None,
            ConfError::InInclude { source, .. } => source.position(),
            ConfError::Syntax { at, .. }
            | ConfError::UndefinedVariable { at, .. }
            | ConfError::VariableCycle { at, .. }
            | ConfError::BadEnvironmentValue { at, .. }
            | ConfError::IncludeRead { at, .. }
            | ConfError::IncludeCycle { at, .. }
            | ConfError::UnknownField { at, .. }
            | ConfError::WrongType { at, .. }
            | ConfError::InvalidValue { at, .. } => Some(at),
        }
    }

    /// The single errors, with [`ConfError::Several`] flattened.
    pub fn errors(&self) -> Vec<&ConfError> {
        match self {
            ConfError::Several(list) => list.iter().flat_map(ConfError::errors).collect(),
            one => vec![one],
        }
    }

    /// One error, or [`ConfError::Several`]; `None` if the list is empty.
    pub(crate) fn from_list(mut errors: Vec<ConfError>) -> Option<ConfError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfError::Several(errors)),
        }
    }
}

/// Something nats-server accepts but warns about (and `nats-server -t` refuses).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfWarning {
    /// Where.
    pub at: Position,
    /// The field.
    pub field: String,
    /// What is off and what to write instead.
    pub message: String,
}

impl fmt::Display for ConfWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`: {}", self.at, self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn at(line: u32) -> Position {
        Position::new(Arc::from("a.conf"), line, 1)
    }

    #[test]
    fn unknown_field_without_hint_says_what_to_do() {
        let e = ConfError::UnknownField {
            at: at(2),
            field: "foo".into(),
            place: "the top level".into(),
            hint: None,
        };
        assert_eq!(
            e.to_string(),
            "a.conf:2:1: unknown field `foo` in the top level; remove it or check its spelling"
        );
    }

    #[test]
    fn several_errors_print_one_per_line_and_flatten() {
        let one = |line| ConfError::Syntax {
            at: at(line),
            message: "bad".into(),
        };
        let e = ConfError::Several(vec![one(1), ConfError::Several(vec![one(2), one(3)])]);
        assert_eq!(
            e.to_string(),
            "a.conf:1:1: bad\na.conf:2:1: bad\na.conf:3:1: bad"
        );
        assert_eq!(e.errors().len(), 3);
        assert_eq!(e.position(), None);
    }

    #[test]
    fn included_error_reports_inner_position() {
        let inner = ConfError::Syntax {
            at: Position::new(Arc::from("inc.conf"), 4, 2),
            message: "bad".into(),
        };
        let e = ConfError::InInclude {
            at: at(1),
            source: Box::new(inner),
        };
        assert_eq!(e.position().map(|p| p.line), Some(4));
        assert_eq!(
            e.to_string(),
            "inc.conf:4:2: bad (included from a.conf:1:1)"
        );
    }
}
