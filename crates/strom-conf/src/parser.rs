//! The structure of a configuration: top-level keys, maps, arrays, `include` and `$VAR`.
//!
//! A recursive-descent parser over the [`Lexer`]. Variables resolve as in nats-server's
//! `conf/parse.go`: first keys already set in the enclosing maps (innermost first, arrays
//! skipped), then the environment, whose text is parsed as a value. An included file is
//! parsed on its own (it does not see the includer's variables) and its keys are merged into
//! the map where the `include` stands.

use std::cell::RefCell;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::error::ConfError;
use crate::lexer::{Key, Lexer, Token};
use crate::value::{Map, Position, Value, ValueKind};

/// How deep maps and arrays may nest; far beyond any real configuration, and keeps a hostile
/// file from exhausting the stack.
const MAX_DEPTH: usize = 100;

/// Reads and parses a configuration file. `$VAR`s not defined in the file come from the
/// process environment; `include` paths are relative to the file's folder.
///
/// # Errors
/// [`ConfError::Read`] if the file cannot be read, otherwise the first syntax, variable or
/// include error, naming `file:line:col`.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Map, ConfError> {
    parse_file_with_env(path, &process_env)
}

/// [`parse_file`] with the environment given as a lookup function.
///
/// # Errors
/// As [`parse_file`].
pub fn parse_file_with_env(
    path: impl AsRef<Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Map, ConfError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| ConfError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let shared = Shared::new(env);
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let includes = vec![fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())];
    let file: Arc<str> = Arc::from(path.display().to_string());
    Parser::new(&text, file, dir, &shared, includes).document()
}

/// Parses configuration text; `name` is the file name used in error positions. As in
/// nats-server, `include` paths are relative to the current directory here.
///
/// # Errors
/// The first syntax, variable or include error, naming `name:line:col`.
pub fn parse_str(text: &str, name: &str) -> Result<Map, ConfError> {
    parse_str_with_env(text, name, &process_env)
}

/// [`parse_str`] with the environment given as a lookup function.
///
/// # Errors
/// As [`parse_str`].
pub fn parse_str_with_env(
    text: &str,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Map, ConfError> {
    let shared = Shared::new(env);
    Parser::new(text, Arc::from(name), PathBuf::new(), &shared, Vec::new()).document()
}

/// The process environment, as `parse_file` and `parse_str` use it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What all the parsers of one configuration share: the environment, and the environment
/// variables being expanded right now (a name met twice is a loop).
struct Shared<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    expanding: RefCell<Vec<String>>,
}

impl<'e> Shared<'e> {
    fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Shared {
            env,
            expanding: RefCell::new(Vec::new()),
        }
    }
}

struct Parser<'t, 's> {
    lx: Lexer<'t>,
    /// The folder `include` paths are relative to.
    dir: PathBuf,
    /// The maps being built, outermost first: where `$VAR`s are looked up.
    scopes: Vec<Map>,
    shared: &'s Shared<'s>,
    /// The files being read, outermost first, to refuse include cycles.
    includes: Vec<PathBuf>,
    depth: usize,
}

impl<'t, 's> Parser<'t, 's> {
    fn new(
        text: &'t str,
        file: Arc<str>,
        dir: PathBuf,
        shared: &'s Shared<'s>,
        includes: Vec<PathBuf>,
    ) -> Self {
        Parser {
            lx: Lexer::new(text, file),
            dir,
            scopes: Vec::new(),
            shared,
            includes,
            depth: 0,
        }
    }

    fn scope(&mut self) -> &mut Map {
        self.scopes
            .last_mut()
            .expect("a scope is open while keys are parsed")
    }

    /// The whole file: keys at the top level, optionally wrapped in braces (JSON style).
    fn document(mut self) -> Result<Map, ConfError> {
        self.scopes.push(Map::new());
        let mut open_braces: Vec<Position> = Vec::new();
        loop {
            self.lx.skip_whitespace_and_comments();
            let at = self.lx.position();
            match self.lx.peek() {
                None => {
                    if let Some(open) = open_braces.last() {
                        return Err(self
                            .lx
                            .error(at, format!("the '{{' at {open} is never closed; add '}}'")));
                    }
                    break;
                }
                Some('{') => {
                    self.lx.bump();
                    open_braces.push(at);
                    continue;
                }
                Some('}') => {
                    self.lx.bump();
                    if open_braces.pop().is_none() {
                        self.stray_close(at)?;
                    }
                    continue;
                }
                _ => {}
            }
            let key = self.entry(false)?;
            self.lx.skip_blanks();
            if self.lx.at_comment() {
                self.lx.skip_comment();
                continue;
            }
            match self.lx.peek() {
                None => {}
                Some('\n' | '\r' | ';' | ',') => {
                    self.lx.bump();
                }
                // At the top level nats-server takes a '}' after a value as its end, braces
                // or not.
                Some('}') => {
                    self.lx.bump();
                    open_braces.pop();
                }
                Some(c) => return Err(self.after_value_error(&key, c)),
            }
        }
        Ok(self
            .scopes
            .pop()
            .expect("the top-level scope was pushed above"))
    }

    /// A '}' with no '{' is tolerated only as the last thing in the file, as nats-server does.
    fn stray_close(&mut self, at: Position) -> Result<(), ConfError> {
        self.lx.skip_whitespace_and_comments();
        if self.lx.peek().is_none() {
            return Ok(());
        }
        Err(self
            .lx
            .error(at, "unexpected '}' with no '{' before it; remove it"))
    }

    fn after_value_error(&self, key: &str, c: char) -> ConfError {
        self.lx.error(
            self.lx.position(),
            format!(
                "unexpected '{c}' after the value of `{key}`; end the value with a new line, ',' or ';', and quote it if it contains spaces"
            ),
        )
    }

    /// One `key value` (or `include`) into the innermost map; returns the key.
    fn entry(&mut self, in_map: bool) -> Result<String, ConfError> {
        let key = self.lx.key(in_map)?;
        let spaced = self.lx.peek().is_some_and(char::is_whitespace);
        if key.bare && spaced && key.name.eq_ignore_ascii_case("include") {
            self.include(key.at)?;
            return Ok(key.name);
        }
        // nats-server allows any white space, new lines too, between a key and its separator.
        self.lx.skip_whitespace();
        if self.lx.peek().is_none() {
            return Err(self.no_value(&key));
        }
        if matches!(self.lx.peek(), Some(':' | '=')) {
            self.lx.bump();
        }
        if in_map {
            // Inside a map the value may even start on the next line.
            self.lx.skip_whitespace();
            match self.lx.peek() {
                Some('}') => return Err(self.no_value(&key)),
                Some(',') => {
                    return Err(self.lx.error(
                        self.lx.position(),
                        format!("expected the value of `{}` before ','", key.name),
                    ))
                }
                _ => {}
            }
        }
        let value = self.value()?;
        let name = key.name.clone();
        self.scope().insert(key.name, key.at, value);
        Ok(name)
    }

    fn no_value(&self, key: &Key) -> ConfError {
        self.lx.error(
            key.at.clone(),
            format!("`{}` has no value; write `{}: value`", key.name, key.name),
        )
    }

    fn value(&mut self) -> Result<Value, ConfError> {
        let (token, at) = self.lx.value()?;
        match token {
            Token::Scalar(kind) => Ok(Value::new(kind, at)),
            Token::ArrayStart => self.nested(at, Self::array),
            Token::MapStart => self.nested(at, Self::map),
            Token::Variable(name) => self.resolve(&name, at),
        }
    }

    fn nested(
        &mut self,
        at: Position,
        parse: fn(&mut Self, &Position) -> Result<ValueKind, ConfError>,
    ) -> Result<Value, ConfError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.lx.error(
                at,
                format!("maps and arrays nest more than {MAX_DEPTH} deep here; flatten the configuration"),
            ));
        }
        self.depth += 1;
        let kind = parse(self, &at);
        self.depth -= 1;
        Ok(Value::new(kind?, at))
    }

    /// After `{`: keys up to `}`.
    fn map(&mut self, open: &Position) -> Result<ValueKind, ConfError> {
        self.scopes.push(Map::new());
        let body = self.map_body(open);
        let map = self.scopes.pop().expect("the map scope was pushed above");
        body.map(|()| ValueKind::Map(map))
    }

    fn map_body(&mut self, open: &Position) -> Result<(), ConfError> {
        let unclosed = |p: &Self| {
            p.lx.error(
                open.clone(),
                "this map is never closed; add '}' after its last value",
            )
        };
        loop {
            self.lx.skip_whitespace_and_comments();
            match self.lx.peek() {
                None => return Err(unclosed(self)),
                Some('}') => {
                    self.lx.bump();
                    return Ok(());
                }
                Some(']') => {
                    return Err(self.lx.error(
                        self.lx.position(),
                        format!("unexpected ']' inside the map opened at {open}; close the map with '}}' first"),
                    ))
                }
                _ => {}
            }
            let key = self.entry(true)?;
            self.lx.skip_blanks();
            if self.lx.at_comment() {
                self.lx.skip_comment();
                continue;
            }
            match self.lx.peek() {
                None => return Err(unclosed(self)),
                Some('\n' | '\r' | ';' | ',') => {
                    self.lx.bump();
                }
                Some('}') => {
                    self.lx.bump();
                    return Ok(());
                }
                Some(c) => return Err(self.after_value_error(&key, c)),
            }
        }
    }

    /// After `[`: values separated by commas or new lines, up to `]`.
    fn array(&mut self, open: &Position) -> Result<ValueKind, ConfError> {
        let unclosed = |p: &Self| {
            p.lx.error(
                open.clone(),
                "this array is never closed; add ']' after its last value",
            )
        };
        let mut items = Vec::new();
        loop {
            self.lx.skip_whitespace_and_comments();
            match self.lx.peek() {
                None => return Err(unclosed(self)),
                Some(']') => {
                    self.lx.bump();
                    return Ok(ValueKind::Array(items));
                }
                Some(',') => {
                    return Err(self.lx.error(
                        self.lx.position(),
                        "unexpected ',' with no array value before it; remove it",
                    ))
                }
                _ => {}
            }
            items.push(self.value()?);
            self.lx.skip_blanks();
            if self.lx.at_comment() {
                self.lx.skip_comment();
                continue;
            }
            match self.lx.peek() {
                None => return Err(unclosed(self)),
                Some('\n' | '\r' | ',') => {
                    self.lx.bump();
                }
                Some(']') => {
                    self.lx.bump();
                    return Ok(ValueKind::Array(items));
                }
                Some(c) => {
                    return Err(self.lx.error(
                        self.lx.position(),
                        format!("unexpected '{c}' after an array value; separate values with ',' or new lines, and quote values that contain spaces"),
                    ))
                }
            }
        }
    }

    /// `$name`: a bcrypt hash, a key of an enclosing map, or an environment variable.
    fn resolve(&mut self, name: &str, at: Position) -> Result<Value, ConfError> {
        // nats-server lets bcrypt hashes ($2a$...) be written without quotes.
        if name.is_empty() {
            return Err(self.lx.error(
                at,
                "a '$' alone is not a value; write $NAME for a variable, or quote the string",
            ));
        }
        if name.starts_with("2a$") {
            return Ok(Value::new(ValueKind::String(format!("${name}")), at));
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.entry_mut(name) {
                entry.used_as_variable = true;
                return Ok(entry.value.clone().placed_at(at));
            }
        }
        if self.shared.expanding.borrow().iter().any(|n| n == name) {
            return Err(ConfError::VariableCycle {
                at,
                name: name.to_string(),
            });
        }
        let Some(text) = (self.shared.env)(name) else {
            return Err(ConfError::UndefinedVariable {
                at,
                name: name.to_string(),
            });
        };
        // Like nats-server, parse the text as the value of a one-line configuration.
        self.shared.expanding.borrow_mut().push(name.to_string());
        let source = format!("pk={text}");
        let file: Arc<str> = Arc::from(format!("${name}"));
        let parsed = Parser::new(
            &source,
            file,
            self.dir.clone(),
            self.shared,
            self.includes.clone(),
        )
        .document();
        self.shared.expanding.borrow_mut().pop();
        match parsed {
            Ok(map) => Ok(match map.get("pk") {
                Some(v) => v.clone().placed_everywhere_at(&at),
                None => Value::new(ValueKind::String(String::new()), at),
            }),
            Err(ConfError::VariableCycle { .. }) => Err(ConfError::VariableCycle {
                at,
                name: name.to_string(),
            }),
            Err(e) => Err(ConfError::BadEnvironmentValue {
                at,
                name: name.to_string(),
                source: Box::new(e),
            }),
        }
    }

    /// `include path`: the file's keys go into the innermost map.
    fn include(&mut self, at: Position) -> Result<(), ConfError> {
        let name = self.lx.include_path()?;
        // nats-server joins the path onto the including file's folder even when it starts
        // with '/', so an absolute path is not absolute there either.
        let path: PathBuf = self
            .dir
            .join(name.trim_start_matches('/'))
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect();
        let shown = path.display().to_string();
        let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.includes.contains(&canonical) {
            return Err(ConfError::IncludeCycle { at, path: shown });
        }
        let text = fs::read_to_string(&path).map_err(|source| ConfError::IncludeRead {
            at: at.clone(),
            path: shown.clone(),
            source,
        })?;
        let mut chain = self.includes.clone();
        chain.push(canonical);
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let included = Parser::new(&text, Arc::from(shown), dir, self.shared, chain)
            .document()
            .map_err(|e| ConfError::InInclude {
                at,
                source: Box::new(e),
            })?;
        let scope = self.scope();
        for entry in included {
            scope.insert_entry(entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Map, ConfError> {
        parse_str_with_env(text, "t.conf", &no_env)
    }

    fn parse_env(text: &str, vars: &[(&str, &str)]) -> Result<Map, ConfError> {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        parse_str_with_env(text, "t.conf", &env)
    }

    fn error_at(text: &str) -> (u32, u32) {
        let e = parse(text).expect_err("the text is invalid");
        let p = e.position().expect("syntax errors have a position");
        (p.line, p.column)
    }

    #[test]
    fn all_separators_and_terminators() {
        let m = parse("a: 1\nb = 2\nc 3; d: 4, e: 5\nf {x: 1}\n").expect("valid");
        let keys: Vec<&str> = m.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(m.get("c").and_then(Value::as_i64), Some(3));
    }

    #[test]
    fn blocks_quoted_keys_and_dollar_keys() {
        let text =
            "accounts {\n  $SYS { users: [ {user: sys, password: sys} ] }\n  \"A B\": {}\n}\n";
        let m = parse(text).expect("valid");
        let accounts = m.get("accounts").and_then(Value::as_map).expect("a map");
        assert!(accounts.get("$SYS").is_some());
        assert!(accounts.get("A B").is_some());
        let sys = accounts.get("$SYS").expect("present");
        assert_eq!((sys.at.line, sys.at.column), (2, 8));
    }

    #[test]
    fn arrays_with_commas_new_lines_and_comments() {
        let m = parse("r: [\n  a, b # c\n  // d\n  e,\n]\n").expect("valid");
        let r = m.get("r").and_then(Value::as_array).expect("an array");
        let items: Vec<&str> = r.iter().filter_map(Value::as_str).collect();
        assert_eq!(items, ["a", "b", "e"]);
    }

    #[test]
    fn json_style_braces_around_the_file() {
        let m = parse("{\n  \"port\": 4222,\n  \"debug\": true\n}\n").expect("valid");
        assert_eq!(m.len(), 2);
        assert_eq!(error_at("{\n port: 1\n"), (3, 1));
    }

    #[test]
    fn variables_from_enclosing_scopes_then_environment() {
        let text = "P: 4222\nx { y { port: $P } }\nhost: $H\n";
        let m = parse_env(text, &[("H", "\"h\"")]).expect("valid");
        assert!(m.entry("P").is_some_and(|e| e.used_as_variable));
        let port = m
            .get("x")
            .and_then(Value::as_map)
            .and_then(|x| x.get("y"))
            .and_then(Value::as_map)
            .and_then(|y| y.get("port"))
            .expect("present");
        assert_eq!(
            (port.as_i64(), port.at.line, port.at.column),
            (Some(4222), 2, 15)
        );
        assert_eq!(m.get("host").and_then(Value::as_str), Some("h"));
    }

    #[test]
    fn variables_in_a_closed_block_are_out_of_scope() {
        let e = parse("a { P: 1 }\nb: $P\n").expect_err("P is local to a");
        assert!(matches!(e, ConfError::UndefinedVariable { ref name, .. } if name == "P"));
        assert_eq!(e.position().map(|p| (p.line, p.column)), Some((2, 4)));
    }

    #[test]
    fn environment_values_are_typed_and_may_chain() {
        let m = parse_env("port: $A\n", &[("A", "$B"), ("B", "4222")]).expect("valid");
        assert_eq!(m.get("port").and_then(Value::as_i64), Some(4222));
        let e = parse_env("port: $A\n", &[("A", "$A")]).expect_err("a loop");
        assert!(matches!(e, ConfError::VariableCycle { .. }));
        let e = parse_env("name: $A\n", &[("A", "a b")]).expect_err("needs quotes");
        assert!(matches!(e, ConfError::BadEnvironmentValue { .. }));
    }

    #[test]
    fn bcrypt_hashes_need_no_quotes() {
        let m = parse("p: $2a$11$abc\n").expect("valid");
        assert_eq!(m.get("p").and_then(Value::as_str), Some("$2a$11$abc"));
    }

    #[test]
    fn key_and_value_may_be_split_only_where_nats_server_allows() {
        assert!(parse("server_name\n  abc\n").is_ok());
        assert_eq!(error_at("server_name:\n  abc\n"), (1, 13));
        assert!(parse("a {\n  b:\n    1\n}\n").is_ok());
        assert_eq!(
            parse("a:")
                .ok()
                .and_then(|m| m.get("a").cloned())
                .and_then(|v| v.as_str().map(String::from)),
            Some(String::new())
        );
    }

    #[test]
    fn syntax_errors_point_at_the_spot() {
        assert_eq!(error_at("port: 4222 x\n"), (1, 12));
        assert_eq!(error_at("a {\n  b: 1\n"), (1, 3));
        assert_eq!(error_at("a [1, 2]\n"), (1, 8));
        assert_eq!(error_at("a: [x, , y]\n"), (1, 8));
        assert_eq!(error_at("a { b }\n"), (1, 5));
        assert_eq!(error_at("a\n"), (1, 1));
        assert_eq!(error_at("}\nport: 1\n"), (1, 1));
        assert!(parse("port: 1\n}\n").is_ok());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("a: {}{}", "[".repeat(500), "]".repeat(500));
        let e = parse(&deep).expect_err("too deep");
        assert!(e.to_string().contains("nest"));
    }

    #[test]
    fn later_duplicate_wins() {
        let m = parse("port: 1\nport: 2\nhttp: $port\n").expect("valid");
        assert_eq!(m.get("http").and_then(Value::as_i64), Some(2));
    }
}
