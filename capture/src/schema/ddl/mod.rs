//! Reading MariaDB DDL: a tokenizer, a parser of the statements that change tables
//! (`CREATE`/`ALTER`/`DROP`/`RENAME TABLE`, `CREATE INDEX`, database statements) and the
//! resolution of data types as Debezium's MariaDB parser describes them. Not a full SQL
//! grammar: what it cannot read is an error, and the schema history then reads the table
//! from the server (ADR 0044).

pub(crate) mod ast;
mod cursor;
mod lexer;
mod parser;
mod target;
pub(crate) mod types;

pub(crate) use parser::parse;
pub(crate) use target::{DdlTarget, target};
