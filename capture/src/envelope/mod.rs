//! Debezium's change event envelope, as Kafka Connect's JsonConverter writes it
//! (`schemas.enable=false`: the bare payload; `true`: `{"schema": ..., "payload": ...}`).

mod java_order;
mod schema;
mod source_json;
mod writer;

use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value as Json;

pub use java_order::hash_map_order;
pub use schema::EnvelopeSchemas;
pub use source_json::SourceJson;

/// The connector name written to `source.connector`.
pub const CONNECTOR: &str = "mariadb";

/// Column values in table order (serialized as a JSON object that keeps that order). Names
/// are shared with the table's description (no copy per row).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<(Arc<str>, Json)>);

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

/// `op`: what happened to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `c`: an insert.
    Create,
    /// `u`: an update.
    Update,
    /// `d`: a delete.
    Delete,
    /// `r`: a snapshot read.
    Read,
}

impl Op {
    /// The one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
        }
    }
}

/// The `source` block: where in the binlog the change comes from. Its strings are shared
/// (`Arc<str>`): every record of a rows event carries the same ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// Our version.
    pub version: Arc<str>,
    /// Always `mariadb`.
    pub connector: &'static str,
    /// `topic.prefix`.
    pub name: Arc<str>,
    /// Commit time on the server, ms.
    pub ts_ms: i64,
    /// `"false"` while streaming.
    pub snapshot: &'static str,
    /// The database.
    pub db: Arc<str>,
    /// Unused by this connector (null).
    pub sequence: Option<String>,
    /// Commit time on the server, µs.
    pub ts_us: i64,
    /// Commit time on the server, ns.
    pub ts_ns: i64,
    /// The table.
    pub table: Arc<str>,
    /// The originating server id.
    pub server_id: u32,
    /// The transaction's GTID (`domain-server-seq`).
    pub gtid: Option<Arc<str>>,
    /// The binlog file.
    pub file: Arc<str>,
    /// The rows event's start position.
    pub pos: u64,
    /// The row's index within its rows event.
    pub row: u32,
    /// The thread id (null: MariaDB's GTID events do not carry it).
    pub thread: Option<u64>,
    /// The statement (`include.query=true` and `binlog_annotate_row_events=ON`).
    pub query: Option<Arc<str>>,
}

/// The `transaction` block of a change event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// The transaction id: its GTID (or `file:pos` without one).
    pub id: String,
    /// The event's position among the transaction's change events, from 1.
    pub total_order: u64,
    /// The event's position among the transaction's change events of its table, from 1.
    pub data_collection_order: u64,
}

/// One table's count in a transaction's END record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataCollection {
    /// `db.table`.
    pub data_collection: String,
    /// Change events of that table.
    pub event_count: u64,
}

/// A record of the transaction metadata topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionStatus {
    /// `BEGIN` or `END`.
    pub status: &'static str,
    /// The transaction id.
    pub id: String,
    /// Change events in the transaction (END only).
    pub event_count: Option<u64>,
    /// Per table counts (END only).
    pub data_collections: Option<Vec<DataCollection>>,
    /// The transaction's binlog time, ms.
    pub ts_ms: i64,
}

/// The value of a change event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// The row before (updates, deletes).
    pub before: Option<Row>,
    /// The row after (inserts, updates).
    pub after: Option<Row>,
    /// Where it comes from.
    pub source: Source,
    /// Transaction metadata (`provide.transaction.metadata=true`).
    pub transaction: Option<Transaction>,
    /// `c`, `u`, `d` or `r`.
    pub op: &'static str,
    /// Processing time, ms.
    pub ts_ms: i64,
    /// Processing time, µs.
    pub ts_us: i64,
    /// Processing time, ns.
    pub ts_ns: i64,
    /// `source` written once for its rows event (everything but `row`), when built so: the
    /// record is then written without serializing it again.
    #[serde(skip)]
    pub source_json: Option<SourceJson>,
}

impl Envelope {
    /// Writes the envelope as [`to_json`] does (no schema), by hand, using `source_json` for
    /// `source` when it is there.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"before\":");
        writer::opt_row(out, self.before.as_ref())?;
        out.extend_from_slice(b",\"after\":");
        writer::opt_row(out, self.after.as_ref())?;
        out.extend_from_slice(b",\"source\":");
        match &self.source_json {
            Some(source) => source.write(self.source.row, out),
            None => self.source.write_json(out)?,
        }
        out.extend_from_slice(b",\"transaction\":");
        serde_json::to_writer(&mut *out, &self.transaction)?;
        out.extend_from_slice(b",\"op\":");
        writer::string(out, self.op)?;
        for (name, v) in [
            (&b",\"ts_ms\":"[..], self.ts_ms),
            (b",\"ts_us\":", self.ts_us),
            (b",\"ts_ns\":", self.ts_ns),
        ] {
            out.extend_from_slice(name);
            writer::int(out, v);
        }
        out.push(b'}');
        Ok(())
    }
}

#[derive(Serialize)]
struct WithSchema<'a, T: Serialize> {
    schema: &'a Json,
    payload: &'a T,
}

/// Serializes `payload`, wrapped with `schema` when it is given.
pub fn to_json<T: Serialize>(payload: &T, schema: Option<&Json>) -> serde_json::Result<Vec<u8>> {
    // A change event is some hundreds of bytes: one allocation instead of a few regrowths.
    let mut out = Vec::with_capacity(if schema.is_some() { 4096 } else { 512 });
    match schema {
        Some(schema) => serde_json::to_writer(&mut out, &WithSchema { schema, payload })?,
        None => serde_json::to_writer(&mut out, payload)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source() -> Source {
        Source {
            version: "0.1.0".into(),
            connector: CONNECTOR,
            name: "p".into(),
            ts_ms: 1,
            snapshot: "false",
            db: "d".into(),
            sequence: None,
            ts_us: 1000,
            ts_ns: 1_000_000,
            table: "t".into(),
            server_id: 1,
            gtid: Some("0-1-5".into()),
            file: "bin.000001".into(),
            pos: 400,
            row: 0,
            thread: None,
            query: None,
        }
    }

    #[test]
    fn envelope_fields_in_debezium_order() {
        let env = Envelope {
            before: None,
            after: Some(Row(vec![("id".into(), json!(1)), ("a".into(), json!("x"))])),
            source: source(),
            transaction: None,
            op: Op::Create.code(),
            ts_ms: 2,
            ts_us: 2000,
            ts_ns: 2_000_000,
            source_json: None,
        };
        let text = String::from_utf8(to_json(&env, None).unwrap()).unwrap();
        assert!(text.starts_with(r#"{"before":null,"after":{"id":1,"a":"x"},"source":{"version":"0.1.0","connector":"mariadb","name":"p","ts_ms":1,"snapshot":"false","db":"d","sequence":null,"ts_us":1000,"ts_ns":1000000,"table":"t","server_id":1,"gtid":"0-1-5","file":"bin.000001","pos":400,"row":0,"thread":null,"query":null},"transaction":null,"op":"c","ts_ms":2"#), "{text}");
        let wrapped: Json =
            serde_json::from_slice(&to_json(&env, Some(&json!({"type": "struct"}))).unwrap())
                .unwrap();
        assert_eq!(wrapped["schema"]["type"], "struct");
        assert_eq!(wrapped["payload"]["op"], "c");
    }

    #[test]
    fn a_source_written_once_writes_the_same_record() {
        let mut source = source();
        source.query = Some("INSERT INTO t VALUES (\"row\":0,\"thread\":)".into());
        let json = SourceJson::new(&source).unwrap();
        for row in [0, 7, 4_000_000_000] {
            source.row = row;
            let env = Envelope {
                before: Some(Row(vec![("id".into(), json!(0))])),
                after: Some(Row(vec![
                    ("id".into(), json!(1)),
                    ("a".into(), json!("x\"y")),
                ])),
                source: source.clone(),
                transaction: Some(Transaction {
                    id: "0-1-5".into(),
                    total_order: 3,
                    data_collection_order: 2,
                }),
                op: Op::Update.code(),
                ts_ms: -2,
                ts_us: 2000,
                ts_ns: 2_000_000,
                source_json: Some(json.clone()),
            };
            let mut fast = Vec::new();
            env.write_json(&mut fast).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(to_json(&env, None).unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn the_hand_written_envelope_is_what_serde_writes() {
        let mut source = source();
        source.query = Some("UPDATE t SET a = 'x\"y\\z\n\u{1}' -- ünï".into());
        source.thread = Some(42);
        source.gtid = None;
        source.sequence = Some("[\"a\"]".into());
        for (before, after) in [
            (None, None),
            (
                Some(Row(vec![
                    ("id".into(), json!(-7)),
                    ("q\"uote".into(), json!(null)),
                ])),
                Some(Row(vec![
                    ("id".into(), json!(u64::MAX)),
                    ("f".into(), json!(1.5)),
                    ("s".into(), json!("tab\there")),
                    ("j".into(), json!({"k": [1, "v"]})),
                    ("b".into(), json!(true)),
                ])),
            ),
        ] {
            let env = Envelope {
                before,
                after,
                source: source.clone(),
                transaction: None,
                op: Op::Delete.code(),
                ts_ms: i64::MIN,
                ts_us: i64::MAX,
                ts_ns: 0,
                source_json: None,
            };
            let mut fast = Vec::new();
            env.write_json(&mut fast).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(to_json(&env, None).unwrap()).unwrap()
            );
        }
    }
}
