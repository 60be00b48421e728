//! MariaDB `ANNOTATE_ROWS_EVENT` (160): the SQL statement that produced the row events after
//! it (with `binlog_annotate_row_events=ON`). Body: the statement text, nothing else.

use super::EventError;

/// A decoded `ANNOTATE_ROWS_EVENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotateRows {
    /// The statement, decoded lossily: a statement in a non-UTF-8 charset keeps its ASCII.
    pub query: String,
}

impl AnnotateRows {
    /// Decodes the body.
    pub fn decode(body: &[u8]) -> Result<Self, EventError> {
        Ok(Self {
            query: String::from_utf8_lossy(body).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_statement() {
        let e = AnnotateRows::decode(b"INSERT INTO t VALUES (1, 'gr\xc3\xbc\xc3\x9fe')").unwrap();
        assert_eq!(e.query, "INSERT INTO t VALUES (1, 'grüße')");
        assert_eq!(AnnotateRows::decode(b"").unwrap().query, "");
    }

    #[test]
    fn invalid_utf8_is_kept_lossily() {
        assert_eq!(AnnotateRows::decode(b"a\xffb").unwrap().query, "a\u{fffd}b");
    }
}
