//! MariaDB SQL tokens: words, quoted names, string and number literals, punctuation; comments
//! skipped, executable comments (`/*! ... */`, `/*M!100100 ... */`) read as code. Each token
//! keeps its span in the statement, so statement text can be cut back out.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An unquoted word (keyword or name).
    Word,
    /// A back-quoted name; the token's `value` is the name without quotes.
    Quoted,
    /// A string literal (single or double quotes); `value` is unescaped.
    Str,
    /// A number literal as written.
    Number,
    /// `b'0101'`; `value` is the digits.
    Bits,
    /// `x'0a'` or `0x0a`; `value` is the hex digits.
    Hex,
    /// Any other character.
    Punct(char),
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    /// The name, literal value or word as written.
    pub(crate) value: String,
    /// Byte offsets in the statement: `[start, end)`.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    /// A word equal to `kw`, ignoring case.
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.value.eq_ignore_ascii_case(kw)
    }

    /// The punctuation `c`.
    pub(crate) fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

/// Splits `sql` into tokens; an unterminated quote or comment is an error.
pub(crate) fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => i += 1,
            b'#' => i = line_end(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-')
                && bytes.get(i + 2).is_none_or(|b| b.is_ascii_whitespace()) =>
            {
                i = line_end(bytes, i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let executable = matches!(bytes.get(i + 2), Some(b'!'))
                    || (bytes.get(i + 2) == Some(&b'M') && bytes.get(i + 3) == Some(&b'!'));
                if executable {
                    // Read the body as code: skip the marker and the version digits; the
                    // closing `*/` is skipped when reached.
                    i += if bytes[i + 2] == b'!' { 3 } else { 4 };
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    let close = find(bytes, i + 2, b"*/").ok_or("an unterminated comment")?;
                    i = close + 2;
                }
            }
            b'*' if bytes.get(i + 1) == Some(&b'/') => i += 2,
            b'`' => {
                let (value, end) = quoted(sql, i, b'`')?;
                out.push(token(Kind::Quoted, value, i, end));
                i = end;
            }
            b'\'' | b'"' => {
                let (value, end) = quoted(sql, i, c)?;
                out.push(token(Kind::Str, value, i, end));
                i = end;
            }
            b'0' if matches!(bytes.get(i + 1), Some(b'x' | b'X')) => {
                let end = scan(bytes, i + 2, |b| b.is_ascii_hexdigit());
                out.push(token(Kind::Hex, sql[i + 2..end].to_owned(), i, end));
                i = end;
            }
            b'x' | b'X' | b'b' | b'B' if bytes.get(i + 1) == Some(&b'\'') => {
                let close = find(bytes, i + 2, b"'").ok_or("an unterminated literal")?;
                let kind = if matches!(c, b'x' | b'X') {
                    Kind::Hex
                } else {
                    Kind::Bits
                };
                out.push(token(kind, sql[i + 2..close].to_owned(), i, close + 1));
                i = close + 1;
            }
            b'0'..=b'9' => {
                let end = number_end(bytes, i);
                // A name may start with digits (`1col`).
                if end < bytes.len() && is_word_byte(bytes[end]) {
                    let end = scan(bytes, end, is_word_byte);
                    out.push(token(Kind::Word, sql[i..end].to_owned(), i, end));
                    i = end;
                } else {
                    out.push(token(Kind::Number, sql[i..end].to_owned(), i, end));
                    i = end;
                }
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                && out
                    .last()
                    .is_none_or(|t: &Token| !matches!(t.kind, Kind::Word | Kind::Quoted)) =>
            {
                let end = number_end(bytes, i);
                out.push(token(Kind::Number, sql[i..end].to_owned(), i, end));
                i = end;
            }
            c if is_word_byte(c) => {
                let end = scan(bytes, i, is_word_byte);
                out.push(token(Kind::Word, sql[i..end].to_owned(), i, end));
                i = end;
            }
            _ => {
                let ch = sql[i..].chars().next().ok_or("a broken character")?;
                out.push(token(Kind::Punct(ch), ch.to_string(), i, i + ch.len_utf8()));
                i += ch.len_utf8();
            }
        }
    }
    Ok(out)
}

fn token(kind: Kind, value: String, start: usize, end: usize) -> Token {
    Token {
        kind,
        value,
        start,
        end,
    }
}

/// Letters, digits, `_`, `$` and any non-ASCII byte (names may be UTF-8).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

fn line_end(bytes: &[u8], i: usize) -> usize {
    scan(bytes, i, |b| b != b'\n')
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    (from..bytes.len().saturating_sub(needle.len() - 1)).find(|&j| bytes[j..].starts_with(needle))
}

/// Digits, an optional fraction and exponent.
fn number_end(bytes: &[u8], i: usize) -> usize {
    let mut end = scan(bytes, i, |b| b.is_ascii_digit());
    if bytes.get(end) == Some(&b'.') {
        end = scan(bytes, end + 1, |b| b.is_ascii_digit());
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            end = scan(bytes, j, |b| b.is_ascii_digit());
        }
    }
    end
}

/// A quoted string or name starting at `start` (the quote): its value (doubled quotes and,
/// for strings, backslash escapes resolved) and the end after the closing quote.
fn quoted(sql: &str, start: usize, quote: u8) -> Result<(String, usize), String> {
    let bytes = sql.as_bytes();
    let mut value = Vec::new();
    let mut i = start + 1;
    while i < bytes.len() {
        let b = bytes[i];
        if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                value.push(quote);
                i += 2;
                continue;
            }
            let value = String::from_utf8(value).map_err(|e| e.to_string())?;
            return Ok((value, i + 1));
        }
        if b == b'\\' && quote != b'`' && i + 1 < bytes.len() {
            value.push(match bytes[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'Z' => 0x1a,
                other => other,
            });
            i += 2;
            continue;
        }
        value.push(b);
        i += 1;
    }
    Err(format!("an unterminated {} quote", quote as char))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, String)> {
        tokenize(sql)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.value))
            .collect()
    }

    #[test]
    fn reads_words_names_literals_and_punctuation() {
        assert_eq!(
            kinds("ALTER TABLE `a``b`.t2 ADD c VARCHAR(10) DEFAULT 'it''s\\n' -- x\n, ADD d INT"),
            [
                (Kind::Word, "ALTER".into()),
                (Kind::Word, "TABLE".into()),
                (Kind::Quoted, "a`b".into()),
                (Kind::Punct('.'), ".".into()),
                (Kind::Word, "t2".into()),
                (Kind::Word, "ADD".into()),
                (Kind::Word, "c".into()),
                (Kind::Word, "VARCHAR".into()),
                (Kind::Punct('('), "(".into()),
                (Kind::Number, "10".into()),
                (Kind::Punct(')'), ")".into()),
                (Kind::Word, "DEFAULT".into()),
                (Kind::Str, "it's\n".into()),
                (Kind::Punct(','), ",".into()),
                (Kind::Word, "ADD".into()),
                (Kind::Word, "d".into()),
                (Kind::Word, "INT".into()),
            ]
        );
    }

    #[test]
    fn numbers_bits_hex_and_comments() {
        assert_eq!(
            kinds("1.50 -3 1e5 b'101' x'0A' 0xff /* c */ # d\n.5 t.5x /*!40101 KEEP */"),
            [
                (Kind::Number, "1.50".into()),
                (Kind::Punct('-'), "-".into()),
                (Kind::Number, "3".into()),
                (Kind::Number, "1e5".into()),
                (Kind::Bits, "101".into()),
                (Kind::Hex, "0A".into()),
                (Kind::Hex, "ff".into()),
                (Kind::Number, ".5".into()),
                (Kind::Word, "t".into()),
                (Kind::Punct('.'), ".".into()),
                (Kind::Word, "5x".into()),
                (Kind::Word, "KEEP".into()),
            ]
        );
    }

    #[test]
    fn spans_cut_the_original_text() {
        let sql = "DROP TABLE `s`.`t` /* generated by server */";
        let tokens = tokenize(sql).unwrap();
        assert_eq!(&sql[tokens[2].start..tokens[4].end], "`s`.`t`");
        assert!(tokenize("SELECT 'open").is_err());
        assert!(tokenize("/* open").is_err());
    }
}
