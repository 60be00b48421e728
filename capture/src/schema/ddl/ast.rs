//! The DDL statements the schema history understands, as the parser reads them.

/// A possibly qualified name: `db.table` or `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QName {
    /// The qualifier, when written.
    pub(crate) db: Option<String>,
    /// The name.
    pub(crate) name: String,
}

/// A column's data type as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DataType {
    /// The type's words as written, upper-cased (`INT`, `DOUBLE PRECISION`, `CHAR VARYING`).
    pub(crate) words: Vec<String>,
    /// `(n)` or `(m, d)`.
    pub(crate) dims: Vec<String>,
    /// ENUM/SET options as written, quotes included (`'a'`).
    pub(crate) options: Vec<String>,
    /// SIGNED, UNSIGNED, ZEROFILL, BINARY as written after the type, upper-cased.
    pub(crate) flags: Vec<String>,
    /// `CHARACTER SET x` right after the type.
    pub(crate) charset: Option<String>,
    /// `COLLATE y` right after the type.
    pub(crate) collate: Option<String>,
}

/// A column default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Default {
    /// `DEFAULT NULL`.
    Null,
    /// A literal or timestamp function, as Debezium writes its expression.
    Expression(String),
    /// An expression Debezium treats as unknown (`DEFAULT (expr)`).
    Unknown,
}

/// A column definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnDef {
    /// The name.
    pub(crate) name: String,
    /// The type.
    pub(crate) data_type: DataType,
    /// `NULL` (true) or `NOT NULL` (false), when written.
    pub(crate) nullable: Option<bool>,
    /// `DEFAULT ...`.
    pub(crate) default: Option<Default>,
    /// `AUTO_INCREMENT` (or `SERIAL DEFAULT VALUE`).
    pub(crate) auto_increment: bool,
    /// `[PRIMARY] KEY` on the column.
    pub(crate) primary_key: bool,
    /// `UNIQUE [KEY]` on the column.
    pub(crate) unique: bool,
    /// `COMMENT '...'`.
    pub(crate) comment: Option<String>,
}

/// Where `ADD`, `CHANGE` and `MODIFY` put a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// `FIRST`.
    First,
    /// `AFTER col`.
    After(String),
}

/// One element of `CREATE TABLE (...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CreateDef {
    /// A column.
    Column(ColumnDef),
    /// `PRIMARY KEY (cols)`.
    PrimaryKey(Vec<String>),
    /// `UNIQUE [KEY] (cols)`.
    Unique(Vec<String>),
    /// An index, foreign key, check or period: nothing the model keeps.
    Other,
}

/// Table options of CREATE and ALTER TABLE that the model keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TableOptions {
    /// `[DEFAULT] CHARACTER SET|CHARSET [=] x`.
    pub(crate) charset: Option<String>,
    /// `COMMENT [=] '...'`.
    pub(crate) comment: Option<String>,
}

/// One specification of `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AlterSpec {
    /// `ADD [COLUMN] [IF NOT EXISTS] def [FIRST|AFTER c]`.
    AddColumn(ColumnDef, Option<Place>, bool),
    /// `ADD [COLUMN] (def, ...)`.
    AddColumns(Vec<ColumnDef>),
    /// `ADD [CONSTRAINT [x]] PRIMARY KEY (cols)`.
    AddPrimaryKey(Vec<String>),
    /// `ADD [CONSTRAINT [x]] UNIQUE [KEY|INDEX] [name] (cols)`.
    AddUnique(Vec<String>),
    /// `CHANGE [COLUMN] [IF EXISTS] old def [FIRST|AFTER c]`.
    Change(String, ColumnDef, Option<Place>),
    /// `MODIFY [COLUMN] [IF EXISTS] def [FIRST|AFTER c]`.
    Modify(ColumnDef, Option<Place>),
    /// `DROP [COLUMN] [IF EXISTS] c`.
    DropColumn(String),
    /// `DROP PRIMARY KEY`.
    DropPrimaryKey,
    /// `RENAME COLUMN a TO b`.
    RenameColumn(String, String),
    /// `RENAME [TO|AS] t`.
    RenameTo(QName),
    /// `ALTER [COLUMN] c SET DEFAULT x` (`Some`) or `DROP DEFAULT` (`None`).
    AlterDefault(String, Option<Default>),
    /// `CONVERT TO CHARACTER SET x`.
    ConvertCharset(String),
    /// Table options (`DEFAULT CHARSET=x`, `COMMENT='...'`, `ENGINE=...`).
    Options(TableOptions),
    /// Index, constraint, partition, algorithm, lock, ...: nothing the model keeps.
    Other,
}

/// A statement, with the byte spans that rebuild Debezium's per-table statement texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Statement {
    /// `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t (...) options`.
    CreateTable {
        /// The table.
        table: QName,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Columns and keys.
        defs: Vec<CreateDef>,
        /// Options.
        options: TableOptions,
    },
    /// `CREATE TABLE t LIKE u`.
    CreateTableLike {
        /// The new table.
        table: QName,
        /// The table copied.
        like: QName,
    },
    /// `ALTER TABLE t spec, ...`.
    AlterTable {
        /// The table.
        table: QName,
        /// What changes, in order.
        specs: Vec<AlterSpec>,
    },
    /// `DROP TABLE [IF EXISTS] t, ... [RESTRICT|CASCADE]`.
    DropTable {
        /// The text before the first table (`DROP TABLE IF EXISTS `).
        prefix: String,
        /// The tables.
        tables: Vec<QName>,
        /// `RESTRICT` or `CASCADE`, as written.
        drop_type: Option<String>,
    },
    /// `RENAME TABLE a TO b, ...`.
    RenameTable {
        /// The text before the first pair (`RENAME TABLE `).
        prefix: String,
        /// Each pair with its text (`a TO b`).
        pairs: Vec<(QName, QName, String)>,
    },
    /// `TRUNCATE [TABLE] t`.
    Truncate,
    /// `CREATE [UNIQUE] INDEX i ON t (cols)`.
    CreateIndex {
        /// `UNIQUE`.
        unique: bool,
        /// The table.
        table: QName,
        /// The indexed columns.
        columns: Vec<String>,
    },
    /// `CREATE DATABASE`, `ALTER DATABASE` with their charset.
    Database {
        /// The database (`None`: the session's, for `ALTER DATABASE`).
        name: Option<String>,
        /// Its character set, when written (or derived from `COLLATE`).
        charset: Option<String>,
        /// `DROP DATABASE`.
        drop: bool,
    },
    /// Anything else (indexes dropped, views, routines, users): no table changes.
    Other,
}
