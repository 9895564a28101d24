//! The value tree a configuration file parses into.
//!
//! Every [`Value`] carries the [`Position`] it was written at (file, line, column), so that the
//! typed layer can name the exact spot of a wrong value. A [`Map`] keeps its entries in file
//! order and remembers which keys were used as `$VAR` references: nats-server does not call
//! those unknown fields.

use std::fmt;
use std::sync::Arc;

/// Where something was written: file name, line and column, both counted from 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    /// The file name as it was given (or the name passed to `parse_str`).
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl Position {
    /// A position in `file`.
    pub fn new(file: Arc<str>, line: u32, column: u32) -> Self {
        Position { file, line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// Where it starts. For a `$VAR` reference, where the reference was written.
    pub at: Position,
}

/// The kinds of values the language has. There is no null: a bare `null` is the string "null",
/// as in nats-server.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// A quoted or bare string, or a `( ... )` block.
    String(String),
    /// An integer, with any size suffix already applied (`2m` is 2,000,000; `1KB` is 1024).
    Integer(i64),
    /// A float such as `1.5`.
    Float(f64),
    /// `true`/`false`, `yes`/`no`, `on`/`off`, in any case.
    Bool(bool),
    /// An ISO 8601 Zulu date such as `2020-01-31T12:00:00Z`, kept as written.
    Datetime(String),
    /// `[ ... ]`.
    Array(Vec<Value>),
    /// `{ ... }`.
    Map(Map),
}

impl Value {
    /// A value of `kind` written at `at`.
    pub fn new(kind: ValueKind, at: Position) -> Self {
        Value { kind, at }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self.kind {
            ValueKind::Integer(n) => Some(n),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            ValueKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            ValueKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A short description for error messages: "the string \"abc\"", "a map", ...
    pub fn describe(&self) -> String {
        match &self.kind {
            ValueKind::String(s) => format!("the string {s:?}"),
            ValueKind::Integer(n) => format!("the integer {n}"),
            ValueKind::Float(x) => format!("the float {x}"),
            ValueKind::Bool(b) => format!("the boolean {b}"),
            ValueKind::Datetime(d) => format!("the date {d}"),
            ValueKind::Array(_) => "an array".to_string(),
            ValueKind::Map(_) => "a map".to_string(),
        }
    }

    /// Moves this value (not its children) to `at`; used when a `$VAR` is substituted.
    pub(crate) fn placed_at(mut self, at: Position) -> Self {
        self.at = at;
        self
    }

    /// Moves this value and all its children to `at`; used for values that came from the
    /// environment, which have no place in any file.
    pub(crate) fn placed_everywhere_at(mut self, at: &Position) -> Self {
        self.at = at.clone();
        match &mut self.kind {
            ValueKind::Array(items) => {
                let moved = std::mem::take(items);
                *items = moved
                    .into_iter()
                    .map(|v| v.placed_everywhere_at(at))
                    .collect();
            }
            ValueKind::Map(map) => {
                for entry in &mut map.entries {
                    entry.key_at = at.clone();
                    let value = std::mem::replace(
                        &mut entry.value,
                        Value::new(ValueKind::Bool(false), at.clone()),
                    );
                    entry.value = value.placed_everywhere_at(at);
                }
            }
            _ => {}
        }
        self
    }
}

/// One `key: value` of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key as written (case kept; the typed layer matches case-insensitively, as
    /// nats-server does).
    pub key: String,
    /// Where the key was written.
    pub key_at: Position,
    /// The value.
    pub value: Value,
    /// The key was referenced as a `$VAR` somewhere after it was defined.
    pub used_as_variable: bool,
}

/// A map in file order. A key written twice keeps its first place and its last value, as
/// nats-server keeps the last value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    /// The value under `key` (exact case).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry under `key` (exact case).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub(crate) fn entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// Sets `key`, replacing any earlier value under the same key.
    pub fn insert(&mut self, key: String, key_at: Position, value: Value) {
        self.insert_entry(Entry {
            key,
            key_at,
            value,
            used_as_variable: false,
        });
    }

    /// Sets an entry, replacing any earlier one with the same key.
    pub fn insert_entry(&mut self, entry: Entry) {
        match self.entry_mut(&entry.key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// The entries in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No keys at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl IntoIterator for Map {
    type Item = Entry;
    type IntoIter = std::vec::IntoIter<Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a Entry;
    type IntoIter = std::slice::Iter<'a, Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, column: u32) -> Position {
        Position::new(Arc::from("t.conf"), line, column)
    }

    #[test]
    fn position_displays_as_file_line_col() {
        assert_eq!(at(3, 7).to_string(), "t.conf:3:7");
    }

    #[test]
    fn later_key_replaces_value_but_keeps_place() {
        let mut m = Map::new();
        m.insert(
            "a".into(),
            at(1, 1),
            Value::new(ValueKind::Integer(1), at(1, 4)),
        );
        m.insert(
            "b".into(),
            at(2, 1),
            Value::new(ValueKind::Integer(2), at(2, 4)),
        );
        m.insert(
            "a".into(),
            at(3, 1),
            Value::new(ValueKind::Integer(3), at(3, 4)),
        );
        let keys: Vec<&str> = m.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(m.get("a").and_then(Value::as_i64), Some(3));
        assert_eq!(m.entry("a").map(|e| e.key_at.line), Some(3));
    }

    #[test]
    fn environment_values_are_placed_at_the_reference() {
        let mut inner = Map::new();
        inner.insert(
            "x".into(),
            at(1, 5),
            Value::new(ValueKind::Integer(1), at(1, 8)),
        );
        let v = Value::new(ValueKind::Map(inner), at(1, 4)).placed_everywhere_at(&at(9, 9));
        let m = v.as_map().expect("built as a map");
        assert_eq!(m.get("x").map(|x| x.at.clone()), Some(at(9, 9)));
        assert_eq!(m.entry("x").map(|e| e.key_at.clone()), Some(at(9, 9)));
    }

    #[test]
    fn describe_names_the_kind_and_value() {
        assert_eq!(
            Value::new(ValueKind::String("abc".into()), at(1, 1)).describe(),
            "the string \"abc\""
        );
        assert_eq!(
            Value::new(ValueKind::Map(Map::new()), at(1, 1)).describe(),
            "a map"
        );
    }
}
