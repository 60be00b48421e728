//! The statement parser: CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE, CREATE INDEX and database
//! statements, in MariaDB's grammar as far as the schema model needs it. Anything it does not
//! know inside those statements is an error (the caller then reads the table from the
//! server); other statements are [`Statement::Other`].

use super::ast::{
    AlterSpec, ColumnDef, CreateDef, DataType, Default, Place, Statement, TableOptions,
};
use super::cursor::{Cursor, ParseResult};
use super::lexer::{Kind, tokenize};

/// Parses one statement.
pub(crate) fn parse(sql: &str) -> ParseResult<Statement> {
    let mut c = Cursor::new(sql, tokenize(sql)?);
    let start = c.offset();
    let statement = if c.eat_kw("CREATE") {
        create(&mut c)?
    } else if c.eat_kw("ALTER") {
        alter(&mut c)?
    } else if c.eat_kw("DROP") {
        drop(&mut c, start)?
    } else if c.eat_kw("RENAME") {
        rename(&mut c, start)?
    } else if c.eat_kw("TRUNCATE") {
        Statement::Truncate
    } else {
        Statement::Other
    };
    Ok(statement)
}

fn create(c: &mut Cursor<'_>) -> ParseResult<Statement> {
    c.eat_kws(&["OR", "REPLACE"]);
    if c.is_kw("TEMPORARY") {
        return Ok(Statement::Other);
    }
    let unique = c.eat_kw("UNIQUE");
    if !unique {
        let _ = c.eat_kw("FULLTEXT") || c.eat_kw("SPATIAL");
    }
    if c.eat_kw("INDEX") {
        c.if_not_exists();
        c.name()?;
        if c.eat_kw("USING") {
            c.name()?;
        }
        c.expect_kw("ON")?;
        let table = c.qname()?;
        let columns = c.index_columns()?;
        return Ok(Statement::CreateIndex {
            unique,
            table,
            columns,
        });
    }
    if c.eat_kw("DATABASE") || c.eat_kw("SCHEMA") {
        c.if_not_exists();
        let name = c.name()?;
        return Ok(Statement::Database {
            name: Some(name),
            charset: database_charset(c)?,
            drop: false,
        });
    }
    if !c.eat_kw("TABLE") {
        return Ok(Statement::Other);
    }
    let if_not_exists = c.if_not_exists();
    let table = c.qname()?;
    if c.eat_kw("LIKE") {
        return Ok(Statement::CreateTableLike {
            table,
            like: c.qname()?,
        });
    }
    if c.is('(') && c.peek_at(1).is_some_and(|t| t.is_kw("LIKE")) {
        c.expect('(')?;
        c.expect_kw("LIKE")?;
        let like = c.qname()?;
        c.expect(')')?;
        return Ok(Statement::CreateTableLike { table, like });
    }
    c.expect('(')?;
    let mut defs = Vec::new();
    loop {
        defs.push(create_def(c)?);
        if c.eat(',') {
            continue;
        }
        c.expect(')')?;
        break;
    }
    let options = table_options(c, false)?;
    Ok(Statement::CreateTable {
        table,
        if_not_exists,
        defs,
        options,
    })
}

/// `[DEFAULT] CHARACTER SET [=] x`, `COLLATE [=] y`, `COMMENT ...` of a database.
fn database_charset(c: &mut Cursor<'_>) -> ParseResult<Option<String>> {
    let mut charset = None;
    let mut collate = None;
    while !c.at_end() {
        c.eat_kw("DEFAULT");
        if let Some(cs) = charset_clause(c)? {
            charset = Some(cs);
        } else if c.eat_kw("COLLATE") {
            c.eat('=');
            collate = Some(c.name()?);
        } else if c.eat_kw("COMMENT") {
            c.eat('=');
            c.string()?;
        } else {
            return Err(c.error("a database option"));
        }
    }
    Ok(charset.or_else(|| collate.as_deref().map(super::types::charset_of_collation)))
}

/// `CHARACTER SET [=] x` / `CHARSET [=] x` / `CHAR SET x`: the charset, when one is next.
fn charset_clause(c: &mut Cursor<'_>) -> ParseResult<Option<String>> {
    if c.eat_kws(&["CHARACTER", "SET"]) || c.eat_kw("CHARSET") || c.eat_kws(&["CHAR", "SET"]) {
        c.eat('=');
        return Ok(Some(c.name()?));
    }
    Ok(None)
}

fn create_def(c: &mut Cursor<'_>) -> ParseResult<CreateDef> {
    let word = c
        .peek()
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.value.to_ascii_uppercase());
    match word.as_deref() {
        Some("CONSTRAINT") => {
            c.next();
            if !(c.is_kw("PRIMARY") || c.is_kw("UNIQUE") || c.is_kw("FOREIGN") || c.is_kw("CHECK"))
            {
                c.name()?;
            }
            create_def(c)
        }
        Some("PRIMARY") => {
            c.next();
            c.expect_kw("KEY")?;
            if c.eat_kw("USING") {
                c.name()?;
            }
            let cols = c.index_columns()?;
            c.skip_item()?;
            Ok(CreateDef::PrimaryKey(cols))
        }
        Some("UNIQUE") => {
            c.next();
            Ok(CreateDef::Unique(unique_columns(c)?))
        }
        Some("INDEX" | "KEY" | "FULLTEXT" | "SPATIAL" | "FOREIGN" | "CHECK") => {
            c.skip_item()?;
            Ok(CreateDef::Other)
        }
        Some("PERIOD") if c.peek_at(1).is_some_and(|t| t.is_kw("FOR")) => {
            c.skip_item()?;
            Ok(CreateDef::Other)
        }
        _ => Ok(CreateDef::Column(column_def(c)?)),
    }
}

/// After `UNIQUE`: `[INDEX|KEY] [IF NOT EXISTS] [name] [USING x] (cols) [options]`.
fn unique_columns(c: &mut Cursor<'_>) -> ParseResult<Vec<String>> {
    let _ = c.eat_kw("INDEX") || c.eat_kw("KEY");
    c.if_not_exists();
    if !c.is('(') && !c.is_kw("USING") {
        c.name()?;
    }
    if c.eat_kw("USING") {
        c.name()?;
    }
    let cols = c.index_columns()?;
    c.skip_item()?;
    Ok(cols)
}

/// A column: its name, type and attributes, up to the next `,` or `)`.
fn column_def(c: &mut Cursor<'_>) -> ParseResult<ColumnDef> {
    let name = c.name()?;
    let data_type = data_type(c)?;
    // SERIAL is BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE.
    let serial = data_type.words.first().is_some_and(|w| w == "SERIAL");
    let mut def = ColumnDef {
        name,
        auto_increment: serial,
        data_type,
        nullable: None,
        default: None,
        primary_key: false,
        unique: serial,
        comment: None,
    };
    while !c.at_end() && !c.is(',') && !c.is(')') && !c.is_kw("FIRST") && !c.is_kw("AFTER") {
        column_attribute(c, &mut def)?;
    }
    if serial {
        def.nullable.get_or_insert(false);
    }
    Ok(def)
}

fn column_attribute(c: &mut Cursor<'_>, def: &mut ColumnDef) -> ParseResult<()> {
    if c.eat_kws(&["NOT", "NULL"]) {
        def.nullable = Some(false);
    } else if c.eat_kw("NULL") {
        def.nullable = Some(true);
    } else if c.eat_kw("DEFAULT") {
        def.default = Some(default_value(c)?);
    } else if c.eat_kw("AUTO_INCREMENT") {
        def.auto_increment = true;
    } else if c.eat_kws(&["SERIAL", "DEFAULT", "VALUE"]) {
        def.auto_increment = true;
        def.unique = true;
        def.nullable.get_or_insert(false);
    } else if c.eat_kws(&["ON", "UPDATE"]) {
        timestamp_function(c)?;
    } else if c.eat_kws(&["PRIMARY", "KEY"]) || c.eat_kw("KEY") {
        def.primary_key = true;
    } else if c.eat_kw("UNIQUE") {
        c.eat_kw("KEY");
        def.unique = true;
    } else if c.eat_kw("COMMENT") {
        def.comment = Some(c.string()?);
    } else if c.eat_kw("COLLATE") {
        c.name()?;
    } else if charset_clause(c)?.is_some() {
    } else if c.eat_kw("CONSTRAINT") {
        if !c.is_kw("CHECK") {
            c.name()?;
        }
    } else if c.eat_kw("CHECK") {
        c.expect('(')?;
        c.skip_to_close()?;
    } else if c.eat_kws(&["GENERATED", "ALWAYS"]) || c.is_kw("AS") {
        c.expect_kw("AS")?;
        c.expect('(')?;
        c.skip_to_close()?;
        let _ = c.eat_kw("VIRTUAL") || c.eat_kw("PERSISTENT") || c.eat_kw("STORED");
    } else if c.eat_kw("INVISIBLE")
        || c.eat_kws(&["WITH", "SYSTEM", "VERSIONING"])
        || c.eat_kws(&["WITHOUT", "SYSTEM", "VERSIONING"])
    {
    } else if c.eat_kw("COLUMN_FORMAT") || c.eat_kw("STORAGE") {
        c.name()?;
    } else if c.eat_kw("COMPRESSED") {
        if c.eat('=') {
            c.name()?;
        }
    } else if c.eat_kw("REFERENCES") {
        // A column-level foreign key: table, columns and ON DELETE/UPDATE actions.
        c.skip_item()?;
    } else {
        return Err(c.error("a column attribute"));
    }
    Ok(())
}

/// `CURRENT_TIMESTAMP[(n)]`, `NOW([n])`, `LOCALTIME[()]`, `LOCALTIMESTAMP[()]`: its text as
/// Debezium keeps it; `None` when no such function is next.
fn timestamp_function(c: &mut Cursor<'_>) -> ParseResult<Option<String>> {
    let Some(t) = c.peek() else {
        return Ok(None);
    };
    let word = t.value.to_ascii_uppercase();
    if t.kind != Kind::Word
        || !matches!(
            word.as_str(),
            "CURRENT_TIMESTAMP" | "NOW" | "LOCALTIME" | "LOCALTIMESTAMP"
        )
    {
        return Ok(None);
    }
    let start = t.start;
    c.next();
    if c.eat('(') {
        c.skip_to_close()?;
    }
    Ok(Some(match word.as_str() {
        "CURRENT_TIMESTAMP" | "NOW" => "1970-01-01 00:00:00".to_owned(),
        _ => c.text_since(start).split_whitespace().collect(),
    }))
}

/// After `DEFAULT`: the default, as Debezium's parser turns it into an expression.
fn default_value(c: &mut Cursor<'_>) -> ParseResult<Default> {
    if c.eat_kw("NULL") {
        return Ok(Default::Null);
    }
    if let Some(expr) = timestamp_function(c)? {
        if c.eat_kws(&["ON", "UPDATE"]) {
            timestamp_function(c)?;
        }
        return Ok(Default::Expression(expr));
    }
    let sign = if c.eat('-') {
        "-"
    } else {
        c.eat('+');
        ""
    };
    let Some(t) = c.next() else {
        return Err(c.error("a default value"));
    };
    Ok(match t.kind {
        Kind::Number => Default::Expression(format!("{sign}{}", t.value)),
        // Debezium strips the quotes of the literal as written (no unescaping).
        Kind::Str => Default::Expression(c.sql[t.start + 1..t.end - 1].to_owned()),
        Kind::Bits => Default::Expression(t.value),
        Kind::Word if t.is_kw("TRUE") || t.is_kw("FALSE") => Default::Expression(t.value),
        Kind::Punct('(') => {
            c.skip_to_close()?;
            Default::Unknown
        }
        Kind::Word => {
            // A function (`uuid()`, `curdate()`) or a charset introducer (`_utf8mb4'x'`).
            if c.eat('(') {
                c.skip_to_close()?;
            } else if c.peek().is_some_and(|n| n.kind == Kind::Str) {
                c.next();
            }
            Default::Unknown
        }
        _ => Default::Unknown,
    })
}

/// A data type: its words, dimensions or options, and the flags and charset after it.
fn data_type(c: &mut Cursor<'_>) -> ParseResult<DataType> {
    let first = match c.next() {
        Some(t) if t.kind == Kind::Word => t.value.to_ascii_uppercase(),
        _ => return Err(c.error("a data type")),
    };
    let mut dt = DataType {
        words: vec![first.clone()],
        ..DataType::default()
    };
    let follow: &[&str] = match first.as_str() {
        "CHARACTER" | "CHAR" | "NCHAR" => &["VARYING", "VARCHAR"],
        "NATIONAL" => &["CHAR", "CHARACTER", "VARCHAR"],
        "LONG" => &["VARCHAR", "VARBINARY"],
        _ => &[],
    };
    // `CHAR SET` is a charset clause, not a type word.
    while let Some(t) = c.peek() {
        let w = t.value.to_ascii_uppercase();
        let after_national = dt.words.len() == 2 && dt.words[0] == "NATIONAL" && w == "VARYING";
        if t.kind == Kind::Word && (follow.contains(&w.as_str()) || after_national) {
            dt.words.push(w);
            c.next();
        } else {
            break;
        }
    }
    if c.eat('(') {
        if matches!(first.as_str(), "ENUM" | "SET") {
            loop {
                match c.next() {
                    Some(t) if t.kind == Kind::Str => {
                        dt.options.push(c.sql[t.start..t.end].to_owned());
                    }
                    _ => return Err(c.error("an ENUM/SET value")),
                }
                if c.eat(',') {
                    continue;
                }
                c.expect(')')?;
                break;
            }
        } else {
            loop {
                match c.next() {
                    Some(t) if t.kind == Kind::Number => dt.dims.push(t.value),
                    _ => return Err(c.error("a length")),
                }
                if c.eat(',') {
                    continue;
                }
                c.expect(')')?;
                break;
            }
        }
    }
    loop {
        if let Some(t) = c.peek().filter(|t| t.kind == Kind::Word) {
            let w = t.value.to_ascii_uppercase();
            if matches!(
                w.as_str(),
                "SIGNED"
                    | "UNSIGNED"
                    | "ZEROFILL"
                    | "BINARY"
                    | "ASCII"
                    | "UNICODE"
                    | "BYTE"
                    | "PRECISION"
            ) {
                dt.flags.push(w);
                c.next();
                continue;
            }
        }
        if let Some(cs) = charset_clause(c)? {
            dt.charset = Some(cs);
        } else if c.eat_kw("COLLATE") {
            dt.collate = Some(c.name()?);
        } else {
            break;
        }
    }
    Ok(dt)
}

/// Table options after `CREATE TABLE (...)` (and in `ALTER TABLE`): the charset and comment;
/// others are read and dropped. `in_alter` stops at a `,` (the next specification).
fn table_options(c: &mut Cursor<'_>, in_alter: bool) -> ParseResult<TableOptions> {
    let mut options = TableOptions::default();
    while !c.at_end() {
        if c.is(',') {
            if in_alter {
                break;
            }
            c.next();
            continue;
        }
        if c.is_kw("PARTITION") {
            // Partitioning does not change the columns.
            while c.next().is_some() {}
            break;
        }
        c.eat_kw("DEFAULT");
        if let Some(cs) = charset_clause(c)? {
            options.charset = Some(cs);
        } else if c.eat_kw("COMMENT") {
            c.eat('=');
            options.comment = Some(c.string()?);
        } else if c.is_kw("AS")
            || c.is_kw("SELECT")
            || c.is_kw("IGNORE")
            || c.is_kw("REPLACE")
            || c.is('(')
        {
            return Err(c.error("a table option (CREATE TABLE ... SELECT is not read)"));
        } else {
            // `ENGINE=InnoDB`, `AUTO_INCREMENT=5`, `COLLATE=x`, `ROW_FORMAT DYNAMIC`, ...
            match c.peek() {
                Some(t) if t.kind == Kind::Word => {
                    c.next();
                }
                _ => return Err(c.error("a table option")),
            }
            c.eat('=');
            c.any_value()?;
        }
    }
    Ok(options)
}

fn place(c: &mut Cursor<'_>) -> ParseResult<Option<Place>> {
    if c.eat_kw("FIRST") {
        Ok(Some(Place::First))
    } else if c.eat_kw("AFTER") {
        Ok(Some(Place::After(c.name()?)))
    } else {
        Ok(None)
    }
}

fn alter(c: &mut Cursor<'_>) -> ParseResult<Statement> {
    let _ = c.eat_kw("ONLINE") || c.eat_kw("OFFLINE");
    c.eat_kw("IGNORE");
    if c.eat_kw("DATABASE") || c.eat_kw("SCHEMA") {
        let name = if c.is_kw("DEFAULT")
            || c.is_kw("CHARACTER")
            || c.is_kw("CHARSET")
            || c.is_kw("COLLATE")
            || c.is_kw("COMMENT")
        {
            None
        } else {
            Some(c.name()?)
        };
        return Ok(Statement::Database {
            name,
            charset: database_charset(c)?,
            drop: false,
        });
    }
    if !c.eat_kw("TABLE") {
        return Ok(Statement::Other);
    }
    c.if_exists();
    let table = c.qname()?;
    if c.eat_kw("WAIT") {
        c.next();
    } else {
        c.eat_kw("NOWAIT");
    }
    let mut specs = Vec::new();
    while !c.at_end() {
        specs.push(alter_spec(c)?);
        if !c.eat(',') && !c.at_end() {
            return Err(c.error("`,` or the end of the statement"));
        }
    }
    Ok(Statement::AlterTable { table, specs })
}

fn alter_spec(c: &mut Cursor<'_>) -> ParseResult<AlterSpec> {
    if c.eat_kw("ADD") {
        return add_spec(c);
    }
    if c.eat_kw("CHANGE") {
        c.eat_kw("COLUMN");
        c.if_exists();
        let old = c.name()?;
        let def = column_def(c)?;
        return Ok(AlterSpec::Change(old, def, place(c)?));
    }
    if c.eat_kw("MODIFY") {
        c.eat_kw("COLUMN");
        c.if_exists();
        let def = column_def(c)?;
        return Ok(AlterSpec::Modify(def, place(c)?));
    }
    if c.eat_kw("DROP") {
        if c.eat_kws(&["PRIMARY", "KEY"]) {
            return Ok(AlterSpec::DropPrimaryKey);
        }
        if [
            "INDEX",
            "KEY",
            "FOREIGN",
            "CONSTRAINT",
            "CHECK",
            "PARTITION",
            "SYSTEM",
            "PERIOD",
        ]
        .iter()
        .any(|kw| c.is_kw(kw))
        {
            c.skip_item()?;
            return Ok(AlterSpec::Other);
        }
        c.eat_kw("COLUMN");
        c.if_exists();
        let name = c.name()?;
        let _ = c.eat_kw("RESTRICT") || c.eat_kw("CASCADE");
        return Ok(AlterSpec::DropColumn(name));
    }
    if c.eat_kw("ALTER") {
        if c.is_kw("INDEX") || c.is_kw("KEY") {
            c.skip_item()?;
            return Ok(AlterSpec::Other);
        }
        c.eat_kw("COLUMN");
        c.if_exists();
        let name = c.name()?;
        if c.eat_kws(&["SET", "DEFAULT"]) {
            return Ok(AlterSpec::AlterDefault(name, Some(default_value(c)?)));
        }
        if c.eat_kws(&["DROP", "DEFAULT"]) {
            return Ok(AlterSpec::AlterDefault(name, None));
        }
        if c.eat_kws(&["SET", "VISIBLE"]) || c.eat_kws(&["SET", "INVISIBLE"]) {
            return Ok(AlterSpec::Other);
        }
        return Err(c.error("SET DEFAULT or DROP DEFAULT"));
    }
    if c.eat_kw("RENAME") {
        if c.eat_kw("COLUMN") {
            let old = c.name()?;
            c.expect_kw("TO")?;
            return Ok(AlterSpec::RenameColumn(old, c.name()?));
        }
        if c.is_kw("INDEX") || c.is_kw("KEY") {
            c.skip_item()?;
            return Ok(AlterSpec::Other);
        }
        let _ = c.eat_kw("TO") || c.eat_kw("AS");
        return Ok(AlterSpec::RenameTo(c.qname()?));
    }
    if c.eat_kws(&["CONVERT", "TO"]) {
        let charset = charset_clause(c)?.ok_or_else(|| c.error("CHARACTER SET"))?;
        if c.eat_kw("COLLATE") {
            c.name()?;
        }
        return Ok(AlterSpec::ConvertCharset(charset));
    }
    if [
        "ALGORITHM",
        "LOCK",
        "FORCE",
        "ENABLE",
        "DISABLE",
        "ORDER",
        "DISCARD",
        "IMPORT",
        "REMOVE",
        "COALESCE",
        "REORGANIZE",
        "EXCHANGE",
        "ANALYZE",
        "CHECK",
        "OPTIMIZE",
        "REBUILD",
        "REPAIR",
        "TRUNCATE",
        "CONVERT",
    ]
    .iter()
    .any(|kw| c.is_kw(kw))
    {
        c.skip_item()?;
        return Ok(AlterSpec::Other);
    }
    if c.is_kw("PARTITION") {
        while c.next().is_some() {}
        return Ok(AlterSpec::Other);
    }
    Ok(AlterSpec::Options(table_options(c, true)?))
}

fn add_spec(c: &mut Cursor<'_>) -> ParseResult<AlterSpec> {
    if c.eat_kw("CONSTRAINT") {
        c.if_not_exists();
        if !(c.is_kw("PRIMARY") || c.is_kw("UNIQUE") || c.is_kw("FOREIGN") || c.is_kw("CHECK")) {
            c.name()?;
        }
    }
    if c.eat_kws(&["PRIMARY", "KEY"]) {
        if c.eat_kw("USING") {
            c.name()?;
        }
        let cols = c.index_columns()?;
        c.skip_item()?;
        return Ok(AlterSpec::AddPrimaryKey(cols));
    }
    if c.eat_kw("UNIQUE") {
        return Ok(AlterSpec::AddUnique(unique_columns(c)?));
    }
    if [
        "INDEX",
        "KEY",
        "FULLTEXT",
        "SPATIAL",
        "FOREIGN",
        "CHECK",
        "PERIOD",
        "PARTITION",
        "SYSTEM",
    ]
    .iter()
    .any(|kw| c.is_kw(kw))
    {
        c.skip_item()?;
        return Ok(AlterSpec::Other);
    }
    c.eat_kw("COLUMN");
    let if_not_exists = c.if_not_exists();
    if c.eat('(') {
        let mut defs = Vec::new();
        loop {
            match create_def(c)? {
                CreateDef::Column(def) => defs.push(def),
                _ => return Err("only columns are read in ADD (...)".into()),
            }
            if c.eat(',') {
                continue;
            }
            c.expect(')')?;
            break;
        }
        return Ok(AlterSpec::AddColumns(defs));
    }
    let def = column_def(c)?;
    Ok(AlterSpec::AddColumn(def, place(c)?, if_not_exists))
}

fn drop(c: &mut Cursor<'_>, start: usize) -> ParseResult<Statement> {
    if c.eat_kw("DATABASE") || c.eat_kw("SCHEMA") {
        c.if_exists();
        return Ok(Statement::Database {
            name: Some(c.name()?),
            charset: None,
            drop: true,
        });
    }
    if c.is_kw("TEMPORARY") || !c.eat_kw("TABLE") {
        return Ok(Statement::Other);
    }
    c.if_exists();
    let prefix = c.sql[start..c.offset()].to_owned();
    let mut tables = vec![c.qname()?];
    while c.eat(',') {
        tables.push(c.qname()?);
    }
    if c.eat_kw("WAIT") {
        c.next();
    } else {
        c.eat_kw("NOWAIT");
    }
    let drop_type = c
        .peek()
        .filter(|t| t.is_kw("RESTRICT") || t.is_kw("CASCADE"))
        .map(|t| t.value.clone());
    Ok(Statement::DropTable {
        prefix,
        tables,
        drop_type,
    })
}

fn rename(c: &mut Cursor<'_>, start: usize) -> ParseResult<Statement> {
    if !(c.eat_kw("TABLE") || c.eat_kw("TABLES")) {
        return Ok(Statement::Other);
    }
    c.if_exists();
    let prefix = c.sql[start..c.offset()].to_owned();
    let mut pairs = Vec::new();
    loop {
        let from = c.offset();
        let old = c.qname()?;
        if c.eat_kw("WAIT") {
            c.next();
        } else {
            c.eat_kw("NOWAIT");
        }
        c.expect_kw("TO")?;
        let new = c.qname()?;
        pairs.push((old, new, c.text_since(from)));
        if !c.eat(',') {
            break;
        }
    }
    Ok(Statement::RenameTable { prefix, pairs })
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
