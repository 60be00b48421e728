//! A cursor over a statement's tokens: keywords, names, literals, balanced skips.

use super::ast::QName;
use super::lexer::{Kind, Token};

/// Parse failures name what was expected and where.
pub(crate) type ParseResult<T> = Result<T, String>;

/// The tokens of one statement and a position in them.
pub(crate) struct Cursor<'a> {
    pub(crate) sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(sql: &'a str, tokens: Vec<Token>) -> Self {
        Self {
            sql,
            tokens,
            pos: 0,
        }
    }

    pub(crate) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.pos + ahead)
    }

    pub(crate) fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.tokens.len() || (self.pos + 1 == self.tokens.len() && self.is(';'))
    }

    /// The byte offset of the current token (the statement's length at the end).
    pub(crate) fn offset(&self) -> usize {
        self.peek().map_or(self.sql.len(), |t| t.start)
    }

    /// The end offset of the previous token.
    pub(crate) fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.end)
    }

    pub(crate) fn error(&self, expected: &str) -> String {
        match self.peek() {
            Some(t) => format!("expected {expected} at `{}` (offset {})", t.value, t.start),
            None => format!("expected {expected} at the end"),
        }
    }

    /// The current token is the keyword `kw`.
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_kw(kw))
    }

    /// The current token is the punctuation `c`.
    pub(crate) fn is(&self, c: char) -> bool {
        self.peek().is_some_and(|t| t.is(c))
    }

    /// Consumes the keyword `kw` when it is next.
    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    /// Consumes the keywords `kws` when all are next, in order.
    pub(crate) fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let all = kws
            .iter()
            .enumerate()
            .all(|(i, kw)| self.peek_at(i).is_some_and(|t| t.is_kw(kw)));
        if all {
            self.pos += kws.len();
        }
        all
    }

    /// Consumes the punctuation `c` when it is next.
    pub(crate) fn eat(&mut self, c: char) -> bool {
        let yes = self.is(c);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub(crate) fn expect_kw(&mut self, kw: &str) -> ParseResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.error(kw))
        }
    }

    pub(crate) fn expect(&mut self, c: char) -> ParseResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("`{c}`")))
        }
    }

    /// A name: a word or a back-quoted name (or, as MariaDB allows in places, a string).
    pub(crate) fn name(&mut self) -> ParseResult<String> {
        match self.peek() {
            Some(t) if matches!(t.kind, Kind::Word | Kind::Quoted | Kind::Str) => {
                let v = t.value.clone();
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.error("a name")),
        }
    }

    /// `name` or `db.name`.
    pub(crate) fn qname(&mut self) -> ParseResult<QName> {
        let first = self.name()?;
        if self.is('.') {
            self.pos += 1;
            let second = self.name()?;
            Ok(QName {
                db: Some(first),
                name: second,
            })
        } else {
            Ok(QName {
                db: None,
                name: first,
            })
        }
    }

    /// `IF EXISTS`.
    pub(crate) fn if_exists(&mut self) -> bool {
        self.eat_kws(&["IF", "EXISTS"])
    }

    /// `IF NOT EXISTS`.
    pub(crate) fn if_not_exists(&mut self) -> bool {
        self.eat_kws(&["IF", "NOT", "EXISTS"])
    }

    /// A string literal's value.
    pub(crate) fn string(&mut self) -> ParseResult<String> {
        match self.peek() {
            Some(t) if t.kind == Kind::Str => {
                let v = t.value.clone();
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.error("a string")),
        }
    }

    /// A value of an option (`ENGINE=InnoDB`, `ROW_FORMAT=DYNAMIC`, `AUTO_INCREMENT=5`).
    pub(crate) fn any_value(&mut self) -> ParseResult<String> {
        match self.next() {
            Some(t) if !matches!(t.kind, Kind::Punct(_)) => Ok(t.value),
            Some(t) if t.is('(') => {
                self.skip_to_close()?;
                Ok(String::new())
            }
            _ => Err(self.error("a value")),
        }
    }

    /// After an opening parenthesis: skips to just after its closing one.
    pub(crate) fn skip_to_close(&mut self) -> ParseResult<()> {
        let mut depth = 1usize;
        while let Some(t) = self.next() {
            if t.is('(') {
                depth += 1;
            } else if t.is(')') {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
        }
        Err("an unclosed parenthesis".into())
    }

    /// Skips to the next `,` or `)` at this nesting level (not consumed), or the end.
    pub(crate) fn skip_item(&mut self) -> ParseResult<()> {
        while let Some(t) = self.peek() {
            if t.is(',') || t.is(')') || t.is(';') {
                return Ok(());
            }
            let open = t.is('(');
            self.pos += 1;
            if open {
                self.skip_to_close()?;
            }
        }
        Ok(())
    }

    /// `(col [(len)] [ASC|DESC], ...)`: the column names (expressions are skipped).
    pub(crate) fn index_columns(&mut self) -> ParseResult<Vec<String>> {
        self.expect('(')?;
        let mut out = Vec::new();
        loop {
            if self.eat('(') {
                self.skip_to_close()?;
            } else {
                out.push(self.name()?);
            }
            self.skip_item()?;
            if self.eat(',') {
                continue;
            }
            self.expect(')')?;
            return Ok(out);
        }
    }

    /// The text from byte `from` to the previous token's end.
    pub(crate) fn text_since(&self, from: usize) -> String {
        self.sql[from..self.prev_end().max(from)].to_owned()
    }
}
