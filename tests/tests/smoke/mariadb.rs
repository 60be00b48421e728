use std::time::Duration;

use futures::StreamExt;
use keel::testing::stack;
use mysql_async::binlog::events::EventData;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, Opts, Value};
use mysql_common::binlog::value::BinlogValue;

/// A row written on MariaDB comes back from the binlog with its column names
/// (`binlog_row_metadata=FULL`) and its values, read by the CDC user.
#[tokio::test]
async fn row_change_is_read_back_from_the_binlog_with_column_names() {
    let root_url = stack::mariadb_root().require().url;
    let cdc_url = stack::mariadb().require().url;
    let table = crate::unique("smoke", '_');

    let mut root = Conn::new(Opts::from_url(&root_url).unwrap()).await.unwrap();
    root.query_drop(format!(
        "CREATE TABLE keel_test.{table} (id INT PRIMARY KEY, name VARCHAR(64), qty INT)"
    ))
    .await
    .unwrap();

    let mut cdc = Conn::new(Opts::from_url(&cdc_url).unwrap()).await.unwrap();
    let (file, pos): (String, u64) = cdc
        .query_first("SHOW MASTER STATUS")
        .await
        .unwrap()
        .map(|row: mysql_async::Row| (row.get(0).unwrap(), row.get(1).unwrap()))
        .expect("binary logging is on");

    root.exec_drop(
        format!("INSERT INTO keel_test.{table} (id, name, qty) VALUES (?, ?, ?)"),
        (7, "grüße", 42),
    )
    .await
    .unwrap();

    // A server id of our own, distinct per run, as a replica would register with.
    let server_id = 1_000_000 + (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32;
    let request = BinlogStreamRequest::new(server_id)
        .with_filename(file.as_bytes())
        .with_pos(pos);
    let mut binlog = cdc.get_binlog_stream(request).await.unwrap();

    let row = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = binlog.next().await {
            let event = event.expect("binlog event");
            let Ok(Some(EventData::RowsEvent(rows))) = event.read_data() else {
                continue;
            };
            let tme = binlog
                .get_tme(rows.table_id())
                .expect("table map precedes rows");
            if tme.table_name() != table {
                continue;
            }
            let (before, after) = rows
                .rows(tme)
                .next()
                .expect("one row")
                .expect("row decodes");
            assert!(before.is_none(), "an INSERT has no before image");
            return after.expect("an INSERT has an after image");
        }
        panic!("binlog stream ended before our row");
    })
    .await
    .expect("our row arrived within 20 s");

    let names: Vec<String> = row
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    assert_eq!(
        names,
        ["id", "name", "qty"],
        "column names come from binlog_row_metadata=FULL"
    );
    let values: Vec<Value> = (0..row.len())
        .map(|i| match row.as_ref(i) {
            Some(BinlogValue::Value(v)) => v.clone(),
            other => panic!("column {i}: unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        values,
        [
            Value::Int(7),
            Value::Bytes("grüße".as_bytes().to_vec()),
            Value::Int(42)
        ]
    );

    root.query_drop(format!("DROP TABLE keel_test.{table}"))
        .await
        .unwrap();
}
