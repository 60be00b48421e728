//! The schema history: the captured tables as the DDL in the binlog leaves them, persisted like
//! Debezium's `schema.history.internal` (a file or a Kafka topic), and described in schema change
//! events' `tableChanges` as Debezium describes them (ADRs 0044, 0045).
//!
//! Rows decode by their binlog table map (`binlog_row_metadata=FULL` carries names, types and
//! the key); the history adds what the table map lacks (defaults, comments, lengths as
//! declared) and is checked against every new table map.
//!
//! | module | role |
//! |---|---|
//! | `ddl` | the DDL tokenizer, parser and data type resolution |
//! | [`tables`] | the model: what each statement does to the captured tables |
//! | [`model`] | a table as `tableChanges` describes it |
//! | [`history`] | the stored records and the recovery |
//! | `server` | `SHOW CREATE TABLE` and charsets, for the snapshot and fallbacks |

pub(crate) mod ddl;
pub mod history;
pub mod model;
pub(crate) mod server;
pub mod tables;
