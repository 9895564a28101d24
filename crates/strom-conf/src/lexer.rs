//! Characters to keys and value tokens, with nats-server's rules for what a bare word means.
//!
//! The [`Lexer`] is a cursor the parser drives: it asks for a key, a value or an include path
//! where the grammar expects one. This module knows quoting, escapes, comments, `( ... )`
//! blocks, booleans and `$VAR` references; `number.rs` knows what starts with a digit (sizes,
//! floats, dates). Structure is the parser's business.

mod number;

use std::sync::Arc;

use crate::error::ConfError;
use crate::value::{Position, ValueKind};

/// A value as the lexer sees it: a scalar, the start of an array or map, or a reference.
#[derive(Debug, PartialEq)]
pub(crate) enum Token {
    Scalar(ValueKind),
    ArrayStart,
    MapStart,
    /// `$NAME`, without the `$`.
    Variable(String),
}

/// A key and where it was written.
#[derive(Debug)]
pub(crate) struct Key {
    pub name: String,
    pub at: Position,
    /// Written without quotes (only a bare `include` is the keyword).
    pub bare: bool,
}

pub(crate) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    column: u32,
    file: Arc<str>,
}

/// Where a bare string stops.
fn ends_bare_string(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some('\n' | '\r' | ';' | ',' | ']' | '}' | ' ' | '\t')
    )
}

fn is_bool_word(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A character for an error message.
fn shown(c: Option<char>) -> String {
    match c {
        None => "the end of the file".to_string(),
        Some('\n') => "a new line".to_string(),
        Some(c) => format!("'{c}'"),
    }
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, file: Arc<str>) -> Self {
        Lexer {
            text,
            pos: 0,
            line: 1,
            column: 1,
            file,
        }
    }

    pub fn position(&self) -> Position {
        Position::new(self.file.clone(), self.line, self.column)
    }

    pub fn error(&self, at: Position, message: impl Into<String>) -> ConfError {
        ConfError::Syntax {
            at,
            message: message.into(),
        }
    }

    fn error_here(&self, message: impl Into<String>) -> ConfError {
        self.error(self.position(), message)
    }

    pub fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Spaces and tabs.
    pub fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    /// Any white space, new lines included.
    pub fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// `#` or `//` starts here.
    pub fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_second() == Some('/'),
            _ => false,
        }
    }

    /// The rest of the line, not the new line itself.
    pub fn skip_comment(&mut self) {
        while !matches!(self.peek(), None | Some('\n' | '\r')) {
            self.bump();
        }
    }

    pub fn skip_whitespace_and_comments(&mut self) {
        loop {
            self.skip_whitespace();
            if !self.at_comment() {
                return;
            }
            self.skip_comment();
        }
    }

    /// The text between the quote `q` at the cursor and its match, taken as written (keys and
    /// include paths have no escapes). `what` names it in the error for a missing close.
    fn quoted_raw(&mut self, q: char, at: &Position, what: &str) -> Result<String, ConfError> {
        self.bump();
        let start = self.pos;
        while self.peek() != Some(q) {
            if self.bump().is_none() {
                return Err(self.error(
                    at.clone(),
                    format!("the quoted {what} is never closed; add the closing {q}"),
                ));
            }
        }
        let text = self.text[start..self.pos].to_string();
        self.bump();
        Ok(text)
    }

    /// A key: quoted, or bare up to white space, `:` or `=`.
    pub fn key(&mut self, in_map: bool) -> Result<Key, ConfError> {
        let at = self.position();
        match self.peek() {
            Some(c @ (':' | '=')) => Err(self.error(
                at,
                format!("expected a key before '{c}'; write `name: value`"),
            )),
            Some(q @ ('"' | '\'')) => Ok(Key {
                name: self.quoted_raw(q, &at, "key")?,
                at,
                bare: false,
            }),
            _ => {
                let start = self.pos;
                self.bump();
                loop {
                    match self.peek() {
                        None if in_map => {
                            return Err(self.error_here(
                                "the file ends inside a map key; add the value and the closing '}'",
                            ))
                        }
                        None | Some(':' | '=') => break,
                        Some(c) if c.is_whitespace() => break,
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
                Ok(Key {
                    name: self.text[start..self.pos].to_string(),
                    at,
                    bare: true,
                })
            }
        }
    }

    /// A value, after optional spaces or tabs. At the end of the file the value is the empty
    /// string, as in nats-server.
    pub fn value(&mut self) -> Result<(Token, Position), ConfError> {
        self.skip_blanks();
        let at = self.position();
        let token = match self.peek() {
            None => Token::Scalar(ValueKind::String(String::new())),
            Some('\n' | '\r') => {
                return Err(self.error(
                    at,
                    "expected a value but found a new line; write the value on the same line as its key",
                ))
            }
            Some('[') => {
                self.bump();
                Token::ArrayStart
            }
            Some('{') => {
                self.bump();
                Token::MapStart
            }
            Some('\'') => self.single_quoted(&at)?,
            Some('"') => self.double_quoted(&at)?,
            Some('(') => self.block(&at)?,
            Some('-') => {
                self.bump();
                self.negative_number(&at)?
            }
            Some('.') => {
                return Err(self.error(
                    at,
                    "a number must start with a digit, not '.'; write 0.5, or quote the value if it is a string",
                ))
            }
            Some(c) if c.is_ascii_digit() => self.number(&at)?,
            Some(_) => self.bare_string(Vec::new(), true)?,
        };
        Ok((token, at))
    }

    fn single_quoted(&mut self, at: &Position) -> Result<Token, ConfError> {
        self.bump();
        let start = self.pos;
        while self.peek() != Some('\'') {
            if self.bump().is_none() {
                return Err(self.error(
                    at.clone(),
                    "the single-quoted string is never closed; add the closing '",
                ));
            }
        }
        let s = self.text[start..self.pos].to_string();
        self.bump();
        Ok(Token::Scalar(ValueKind::String(s)))
    }

    fn double_quoted(&mut self, at: &Position) -> Result<Token, ConfError> {
        self.bump();
        let mut buf = Vec::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.error(
                        at.clone(),
                        "the double-quoted string is never closed; add the closing \"",
                    ))
                }
                Some('"') => break,
                Some('\\') => self.escape(&mut buf)?,
                Some(c) => push_char(&mut buf, c),
            }
        }
        Ok(Token::Scalar(ValueKind::String(self.utf8(buf, at)?)))
    }

    /// After a `\`: `\xHH`, `\t`, `\n`, `\r`, `\"`, `\\`.
    fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfError> {
        // Errors point at the backslash, one character back on this line.
        let mut at = self.position();
        at.column = at.column.saturating_sub(1).max(1);
        match self.bump() {
            Some('t') => buf.push(b'\t'),
            Some('n') => buf.push(b'\n'),
            Some('r') => buf.push(b'\r'),
            Some('"') => buf.push(b'"'),
            Some('\\') => buf.push(b'\\'),
            Some('x') => {
                let hex: String = [self.bump(), self.bump()].iter().flatten().collect();
                if hex.len() != 2 || hex.contains(['\n', '\r']) {
                    return Err(self.error(at, "expected two hexadecimal digits after '\\x'"));
                }
                let byte = u8::from_str_radix(&hex, 16).map_err(|_| {
                    self.error(
                        at,
                        format!("expected two hexadecimal digits after '\\x', found '{hex}'"),
                    )
                })?;
                buf.push(byte);
            }
            other => {
                return Err(self.error(
                    at,
                    format!(
                        "invalid escape '\\' followed by {}; only \\xHH, \\t, \\n, \\r, \\\" and \\\\ are allowed (write \\\\ for a backslash)",
                        shown(other)
                    ),
                ))
            }
        }
        Ok(())
    }

    fn utf8(&self, buf: Vec<u8>, at: &Position) -> Result<String, ConfError> {
        String::from_utf8(buf).map_err(|_| {
            self.error(
                at.clone(),
                "the \\x escapes in this string do not form valid UTF-8 text",
            )
        })
    }

    /// A bare string from here; `buf` holds what was already read. A bare word may be a
    /// boolean or a `$VAR` unless it contained escapes or ended with a quote.
    fn bare_string(&mut self, mut buf: Vec<u8>, may_be_word: bool) -> Result<Token, ConfError> {
        let at = self.position();
        let mut plain = may_be_word;
        loop {
            let c = self.peek();
            if ends_bare_string(c) {
                break;
            }
            self.bump();
            match c {
                // nats-server ends a bare string at a single quote and drops the quote.
                Some('\'') => {
                    plain = false;
                    break;
                }
                Some('\\') => {
                    plain = false;
                    self.escape(&mut buf)?;
                }
                Some(c) => push_char(&mut buf, c),
                None => break,
            }
        }
        let s = self.utf8(buf, &at)?;
        if plain {
            if let Some(b) = is_bool_word(&s) {
                return Ok(Token::Scalar(ValueKind::Bool(b)));
            }
            if let Some(name) = s.strip_prefix('$') {
                return Ok(Token::Variable(name.to_string()));
            }
        }
        Ok(Token::Scalar(ValueKind::String(s)))
    }

    /// After `(`: everything up to a `)` alone at the start of a line.
    fn block(&mut self, at: &Position) -> Result<Token, ConfError> {
        self.bump();
        let start = self.pos;
        loop {
            match self.bump() {
                None => {
                    return Err(self.error(
                        at.clone(),
                        "the ( block is never closed; end it with ')' alone on a line",
                    ))
                }
                Some(')') => {
                    let close = self.pos - 1;
                    let after_newline = close > 0 && self.text.as_bytes()[close - 1] == b'\n';
                    if after_newline && matches!(self.peek(), None | Some('\n')) {
                        let s = self.text[start..close].to_string();
                        return Ok(Token::Scalar(ValueKind::String(s)));
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// The file name after `include`.
    pub fn include_path(&mut self) -> Result<String, ConfError> {
        self.skip_blanks();
        let at = self.position();
        match self.peek() {
            Some(q @ ('"' | '\'')) => self.quoted_raw(q, &at, "include path"),
            c @ (None | Some('\n' | '\r' | '[' | '{' | '(' | '-' | '\\')) => Err(self.error(
                at,
                format!(
                    "expected a file name after include but found {}; write `include ./other.conf`",
                    shown(c)
                ),
            )),
            Some(c) if c.is_ascii_digit() => Err(self.error(
                at,
                "nats-server does not accept an include path that starts with a digit; quote it or write ./ before it",
            )),
            Some(_) => {
                let start = self.pos;
                loop {
                    match self.peek() {
                        None | Some('\n' | '\r' | ';' | '}' | ' ' | '\t') => {
                            return Ok(self.text[start..self.pos].to_string())
                        }
                        Some('\'') => {
                            let path = self.text[start..self.pos].to_string();
                            self.bump();
                            return Ok(path);
                        }
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
            }
        }
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// What the lexer tests here and in `number.rs` share.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The first value token of `text`.
    pub fn value(text: &str) -> Result<Token, ConfError> {
        Lexer::new(text, Arc::from("t")).value().map(|(t, _)| t)
    }

    pub fn int(n: i64) -> Token {
        Token::Scalar(ValueKind::Integer(n))
    }

    pub fn string(s: &str) -> Token {
        Token::Scalar(ValueKind::String(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{int, string, value};
    use super::*;

    #[test]
    fn words_booleans_and_variables() {
        for (s, b) in [
            ("true", true),
            ("Yes", true),
            ("ON", true),
            ("false", false),
        ] {
            assert_eq!(value(s).ok(), Some(Token::Scalar(ValueKind::Bool(b))));
        }
        assert_eq!(
            value("off").ok(),
            Some(Token::Scalar(ValueKind::Bool(false)))
        );
        assert_eq!(value("null").ok(), Some(string("null")));
        assert_eq!(value("$SYS").ok(), Some(Token::Variable("SYS".into())));
        assert_eq!(value("\"$SYS\"").ok(), Some(string("$SYS")));
        assert_eq!(value("true'").ok(), Some(string("true")));
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(value(r#""a\tb\x41\"""#).ok(), Some(string("a\tbA\"")));
        assert_eq!(value(r"'a\tb'").ok(), Some(string(r"a\tb")));
        assert_eq!(value(r"C:\\dir").ok(), Some(string(r"C:\dir")));
        assert!(value(r"a\qb").is_err());
        assert!(value("\"open").is_err());
        assert!(value("\"\\xZZ\"").is_err());
    }

    #[test]
    fn blocks_end_at_a_lone_parenthesis() {
        assert_eq!(value("(\nline (x)\n)\n").ok(), Some(string("\nline (x)\n")));
        assert!(value("(\nnever closed)").is_err());
    }

    #[test]
    fn value_at_end_of_file_is_empty_and_new_line_is_an_error() {
        assert_eq!(value("  ").ok(), Some(string("")));
        assert!(value("\n5").is_err());
    }

    #[test]
    fn keys_and_positions() {
        let mut lx = Lexer::new("  \"a b\": 1\n$SYS {", Arc::from("t"));
        lx.skip_whitespace();
        let k = lx.key(false).expect("quoted key");
        assert_eq!(
            (k.name.as_str(), k.at.line, k.at.column, k.bare),
            ("a b", 1, 3, false)
        );
        lx.bump();
        let (tok, at) = lx.value().expect("value");
        assert_eq!((tok, at.column), (int(1), 10));
        lx.skip_whitespace();
        let k = lx.key(true).expect("bare key");
        assert_eq!((k.name.as_str(), k.at.line, k.at.column), ("$SYS", 2, 1));
    }

    #[test]
    fn include_paths() {
        let path = |s: &str| Lexer::new(s, Arc::from("t")).include_path();
        assert_eq!(path(" ./a.conf\n").ok(), Some("./a.conf".to_string()));
        assert_eq!(path(" \"a b.conf\"").ok(), Some("a b.conf".to_string()));
        assert!(path(" 2.conf").is_err());
        assert!(path("\n").is_err());
    }
}
