//! Change data capture: reads the MariaDB/MySQL binlog and emits Debezium-compatible change
//! events to Kafka.
//!
//! Not built yet: the binlog reader, the Debezium envelope, offsets and schema history are
//! tracked as their own issue. The smoke test in `keel-tests` already reads the binlog of the
//! local stack's MariaDB.
