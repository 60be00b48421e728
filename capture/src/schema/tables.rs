//! The schema model: the captured tables as DDL leaves them, and what each statement changes,
//! following Debezium's MariaDB parser (which defaults, lengths and keys it records) so that
//! `tableChanges` read the same.

use std::collections::{BTreeMap, HashMap};

use super::ddl::ast::{AlterSpec, ColumnDef, CreateDef, Default, Place, QName, Statement};
use super::ddl::types;
use super::model::{ChangeKind, Column, Table, TableChange, TableId};

/// One schema change event a statement makes: Debezium makes one per table it changes, and
/// one without a table for statements that change none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEvent {
    /// `databaseName`: the table's database, the statement's for database statements, the
    /// session's otherwise.
    pub database: String,
    /// The statement text for this table (Debezium's per-table text for DROP and RENAME).
    pub ddl: String,
    /// The table change, if any.
    pub change: Option<TableChange>,
}

/// Why a statement could not be applied: the tables to read from the server instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unapplied {
    /// What went wrong.
    pub reason: String,
}

/// The captured tables and the databases' default charsets.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    tables: BTreeMap<TableId, Table>,
    db_charsets: HashMap<String, String>,
    /// `character_set_server`, for tables of databases whose charset is not known.
    pub server_charset: Option<String>,
}

impl Tables {
    /// The table `id`, if known.
    pub fn get(&self, id: &TableId) -> Option<&Table> {
        self.tables.get(id)
    }

    /// Every table known.
    pub fn iter(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// Forgets every table (a new schema snapshot starts).
    pub fn clear(&mut self) {
        self.tables.clear();
        self.db_charsets.clear();
    }

    /// Records a database's default charset.
    pub fn set_db_charset(&mut self, db: &str, charset: &str) {
        self.db_charsets.insert(db.to_owned(), charset.to_owned());
    }

    /// Applies a table change read back from the history.
    pub fn apply_change(&mut self, change: &TableChange) {
        match (&change.table, change.kind) {
            (Some(t), ChangeKind::Create | ChangeKind::Alter) => {
                self.tables.insert(change.id.clone(), t.clone());
            }
            _ => {
                self.tables.remove(&change.id);
            }
        }
    }

    /// Forgets the table `id`.
    pub fn remove(&mut self, id: &TableId) {
        self.tables.remove(id);
    }

    /// Replaces (or adds) `table`.
    pub fn put(&mut self, table: Table) {
        self.tables.insert(table.id.clone(), table);
    }

    fn charset_for(&self, db: &str) -> Option<String> {
        self.db_charsets
            .get(db)
            .cloned()
            .or_else(|| self.server_charset.clone())
    }

    /// Applies `statement` (whose text is `sql`, run with default database `session_db`).
    /// Tables that `captured` refuses are neither kept nor reported. An error means the
    /// statement could not be applied (e.g. it alters a table the model does not know); the
    /// model is then unchanged.
    pub(crate) fn apply(
        &mut self,
        statement: &Statement,
        sql: &str,
        session_db: &str,
        captured: &dyn Fn(&TableId) -> bool,
    ) -> Result<Vec<SchemaEvent>, Unapplied> {
        let id_of = |q: &QName| TableId::new(q.db.as_deref().unwrap_or(session_db), &q.name);
        let no_table = |database: &str| {
            vec![SchemaEvent {
                database: database.to_owned(),
                ddl: sql.to_owned(),
                change: None,
            }]
        };
        let err = |reason: String| Unapplied { reason };
        Ok(match statement {
            Statement::CreateTable {
                table,
                if_not_exists,
                defs,
                options,
            } => {
                let id = id_of(table);
                if !captured(&id) {
                    return Ok(Vec::new());
                }
                if *if_not_exists && self.tables.contains_key(&id) {
                    return Ok(no_table(session_db));
                }
                let charset = options.charset.clone().or_else(|| self.charset_for(&id.db));
                let table =
                    build_table(id.clone(), charset, options.comment.clone(), defs).map_err(err)?;
                self.tables.insert(id.clone(), table.clone());
                vec![table_event(sql, ChangeKind::Create, table)]
            }
            Statement::CreateTableLike { table, like } => {
                let id = id_of(table);
                if !captured(&id) {
                    return Ok(Vec::new());
                }
                let mut copy =
                    self.tables.get(&id_of(like)).cloned().ok_or_else(|| {
                        err(format!("the table copied, {}, is not known", like.name))
                    })?;
                copy.id = id.clone();
                self.tables.insert(id, copy.clone());
                vec![table_event(sql, ChangeKind::Create, copy)]
            }
            Statement::AlterTable { table, specs } => {
                let id = id_of(table);
                if !captured(&id) {
                    return Ok(Vec::new());
                }
                let mut t =
                    self.tables.get(&id).cloned().ok_or_else(|| {
                        err(format!("the table {} is not known", id.double_quoted()))
                    })?;
                for spec in specs {
                    alter(&mut t, spec, session_db).map_err(err)?;
                }
                t.renumber();
                self.tables.remove(&id);
                if !captured(&t.id) {
                    return Ok(Vec::new());
                }
                self.tables.insert(t.id.clone(), t.clone());
                vec![table_event(sql, ChangeKind::Alter, t)]
            }
            Statement::DropTable {
                prefix,
                tables,
                drop_type,
            } => {
                let mut events = Vec::new();
                for q in tables {
                    let id = id_of(q);
                    if !captured(&id) {
                        continue;
                    }
                    self.tables.remove(&id);
                    let suffix = drop_type
                        .as_ref()
                        .map_or(String::new(), |d| format!(" {d}"));
                    events.push(SchemaEvent {
                        database: id.db.clone(),
                        ddl: format!("{prefix}{}{suffix}", id.back_quoted()),
                        change: Some(TableChange {
                            kind: ChangeKind::Drop,
                            id,
                            table: None,
                        }),
                    });
                }
                events
            }
            Statement::RenameTable { prefix, pairs } => {
                let mut events = Vec::new();
                for (old, new, text) in pairs {
                    let (old, new) = (id_of(old), id_of(new));
                    let known = self.tables.remove(&old);
                    if !captured(&new) {
                        continue;
                    }
                    let mut t = known.ok_or_else(|| {
                        err(format!(
                            "the table renamed, {}, is not known",
                            old.double_quoted()
                        ))
                    })?;
                    t.id = new.clone();
                    self.tables.insert(new, t.clone());
                    let mut event = table_event(sql, ChangeKind::Alter, t);
                    event.ddl = format!("{prefix}{text}");
                    events.push(event);
                }
                events
            }
            Statement::Truncate => Vec::new(),
            Statement::CreateIndex {
                unique,
                table,
                columns,
            } => {
                let id = id_of(table);
                let keyed = match self.tables.get_mut(&id) {
                    Some(t) if *unique && captured(&id) => {
                        set_unique_key(t, columns).then(|| t.clone())
                    }
                    _ => None,
                };
                match keyed {
                    Some(t) => vec![table_event(sql, ChangeKind::Alter, t)],
                    None => no_table(session_db),
                }
            }
            Statement::Database {
                name,
                charset,
                drop,
            } => {
                let db = name.clone().unwrap_or_else(|| session_db.to_owned());
                if *drop {
                    self.tables.retain(|id, _| id.db != db);
                    self.db_charsets.remove(&db);
                } else if let Some(cs) = charset {
                    self.db_charsets.insert(db.clone(), cs.clone());
                }
                no_table(&db)
            }
            Statement::Other => no_table(session_db),
        })
    }
}

fn table_event(sql: &str, kind: ChangeKind, table: Table) -> SchemaEvent {
    SchemaEvent {
        database: table.id.db.clone(),
        ddl: sql.to_owned(),
        change: Some(TableChange {
            kind,
            id: table.id.clone(),
            table: Some(table),
        }),
    }
}

fn build_table(
    id: TableId,
    charset: Option<String>,
    comment: Option<String>,
    defs: &[CreateDef],
) -> Result<Table, String> {
    let mut t = Table {
        id,
        default_charset: charset,
        primary_key: Vec::new(),
        columns: Vec::new(),
        comment,
    };
    for def in defs {
        match def {
            CreateDef::Column(c) => {
                let column = new_column(c, t.default_charset.as_deref())?;
                t.columns.push(column);
                column_keys(&mut t, c);
            }
            CreateDef::PrimaryKey(cols) => set_primary_key(&mut t, cols),
            CreateDef::Unique(cols) => {
                set_unique_key(&mut t, cols);
            }
            CreateDef::Other => {}
        }
    }
    t.renumber();
    Ok(t)
}

/// A column as its definition alone describes it.
fn new_column(def: &ColumnDef, table_charset: Option<&str>) -> Result<Column, String> {
    let r = types::resolve(&def.data_type).map_err(|e| format!("column `{}`: {e}", def.name))?;
    let optional = !def.primary_key && def.nullable.unwrap_or(true);
    let (default_expression, has_default) = match &def.default {
        Some(Default::Expression(e)) => (Some(e.clone()), true),
        Some(Default::Null | Default::Unknown) => (None, true),
        None => (None, optional),
    };
    Ok(Column {
        name: def.name.clone(),
        jdbc_type: r.jdbc_type,
        type_name: r.type_name,
        charset: r.charset.or_else(|| {
            types::uses_charset(r.jdbc_type)
                .then(|| table_charset.map(str::to_owned))
                .flatten()
        }),
        length: r.length,
        scale: r.scale,
        position: 0,
        optional,
        auto_incremented: def.auto_increment,
        generated: def.auto_increment,
        comment: def.comment.clone(),
        default_expression,
        has_default,
        enum_values: r.enum_values,
    })
}

/// A column's own `PRIMARY KEY` / `UNIQUE` (the first unique column is the key while the
/// table has none, as Debezium takes it).
fn column_keys(t: &mut Table, def: &ColumnDef) {
    if def.primary_key || (def.unique && t.primary_key.is_empty()) {
        t.primary_key = vec![def.name.clone()];
    }
}

fn set_primary_key(t: &mut Table, cols: &[String]) {
    let mut names = Vec::new();
    for name in cols {
        match t
            .columns
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
        {
            Some(c) => {
                if c.optional {
                    c.optional = false;
                    if c.default_expression.is_none() {
                        c.has_default = false;
                    }
                }
                names.push(c.name.clone());
            }
            None => names.push(name.clone()),
        }
    }
    t.primary_key = names;
}

/// A unique key becomes the primary key while the table has none and its columns exist and
/// are NOT NULL; true when it did.
fn set_unique_key(t: &mut Table, cols: &[String]) -> bool {
    if !t.primary_key.is_empty() {
        return false;
    }
    let found: Option<Vec<&Column>> = cols.iter().map(|n| t.column(n)).collect();
    match found {
        Some(found) if found.iter().all(|c| !c.optional) => {
            t.primary_key = found.iter().map(|c| c.name.clone()).collect();
            true
        }
        _ => false,
    }
}

fn place_column(t: &mut Table, index: usize, place: Option<&Place>) -> Result<(), String> {
    let Some(place) = place else {
        return Ok(());
    };
    let column = t.columns.remove(index);
    let at = match place {
        Place::First => 0,
        Place::After(after) => {
            t.column_index(after)
                .ok_or_else(|| format!("AFTER `{after}`: no such column"))?
                + 1
        }
    };
    t.columns.insert(at, column);
    Ok(())
}

fn rename_in_key(t: &mut Table, old: &str, new: &str) {
    for k in &mut t.primary_key {
        if k.eq_ignore_ascii_case(old) {
            *k = new.to_owned();
        }
    }
}

/// Applies one ALTER TABLE specification.
fn alter(t: &mut Table, spec: &AlterSpec, session_db: &str) -> Result<(), String> {
    let charset = t.default_charset.clone();
    match spec {
        AlterSpec::AddColumn(def, place, if_not_exists) => {
            if *if_not_exists && t.column(&def.name).is_some() {
                return Ok(());
            }
            let column = new_column(def, charset.as_deref())?;
            let index = match t.column_index(&def.name) {
                Some(i) => {
                    t.columns[i] = column;
                    i
                }
                None => {
                    t.columns.push(column);
                    t.columns.len() - 1
                }
            };
            column_keys(t, def);
            place_column(t, index, place.as_ref())?;
        }
        AlterSpec::AddColumns(defs) => {
            for def in defs {
                t.columns.push(new_column(def, charset.as_deref())?);
                column_keys(t, def);
            }
        }
        AlterSpec::AddPrimaryKey(cols) => set_primary_key(t, cols),
        AlterSpec::AddUnique(cols) => {
            set_unique_key(t, cols);
        }
        AlterSpec::Change(old, def, place) => {
            let index = t
                .column_index(old)
                .ok_or_else(|| format!("CHANGE `{old}`: no such column"))?;
            // As Debezium: the old column's flags stay unless the definition sets them; its
            // default, length and scale do not.
            let existing = t.columns[index].clone();
            let mut column = new_column(def, charset.as_deref())?;
            if def.nullable.is_none() && !def.primary_key {
                column.optional = existing.optional;
                column.has_default = def.default.is_some() || column.optional;
            }
            column.auto_incremented |= existing.auto_incremented;
            column.generated |= existing.generated;
            if def.comment.is_none() {
                column.comment = existing.comment;
            }
            t.columns[index] = column;
            if !old.eq_ignore_ascii_case(&def.name) {
                rename_in_key(t, old, &def.name);
            }
            column_keys(t, def);
            place_column(t, index, place.as_ref())?;
        }
        AlterSpec::Modify(def, place) => {
            let index = t
                .column_index(&def.name)
                .ok_or_else(|| format!("MODIFY `{}`: no such column", def.name))?;
            t.columns[index] = new_column(def, charset.as_deref())?;
            column_keys(t, def);
            place_column(t, index, place.as_ref())?;
        }
        AlterSpec::DropColumn(name) => {
            t.columns.retain(|c| !c.name.eq_ignore_ascii_case(name));
        }
        AlterSpec::DropPrimaryKey => t.primary_key.clear(),
        AlterSpec::RenameColumn(old, new) => {
            let index = t
                .column_index(old)
                .ok_or_else(|| format!("RENAME COLUMN `{old}`: no such column"))?;
            t.columns[index].name = new.clone();
            rename_in_key(t, old, new);
        }
        AlterSpec::RenameTo(q) => {
            t.id = TableId::new(q.db.as_deref().unwrap_or(session_db), &q.name);
        }
        AlterSpec::AlterDefault(name, default) => {
            let index = t
                .column_index(name)
                .ok_or_else(|| format!("ALTER COLUMN `{name}`: no such column"))?;
            let c = &mut t.columns[index];
            match default {
                Some(Default::Expression(e)) => {
                    c.default_expression = Some(e.clone());
                    c.has_default = true;
                }
                Some(Default::Null | Default::Unknown) => {
                    c.default_expression = None;
                    c.has_default = true;
                }
                None => {
                    c.default_expression = None;
                    c.has_default = false;
                }
            }
        }
        AlterSpec::ConvertCharset(cs) => {
            t.default_charset = Some(cs.clone());
            for c in &mut t.columns {
                if c.charset.is_some() && types::uses_charset(c.jdbc_type) {
                    c.charset = Some(cs.clone());
                }
            }
        }
        AlterSpec::Options(o) => {
            if let Some(cs) = &o.charset {
                t.default_charset = Some(cs.clone());
            }
            if let Some(comment) = &o.comment {
                t.comment = Some(comment.clone());
            }
        }
        AlterSpec::Other => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
