use mysql_async::Value;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType::{self, *};
use serde_json::json;

use super::*;
use crate::config::TimePrecisionMode;

fn col(ty: ColumnType) -> ColumnMeta {
    ColumnMeta::new("c", ty)
}

fn map(c: &ColumnMeta, v: Value) -> Json {
    map_value(c, &BinlogValue::Value(v), &Handling::default()).unwrap()
}

fn map_with(c: &ColumnMeta, v: Value, h: Handling) -> Json {
    map_value(c, &BinlogValue::Value(v), &h).unwrap()
}

#[test]
fn integers_signed_and_unsigned() {
    assert_eq!(map(&col(MYSQL_TYPE_TINY), Value::Int(-5)), json!(-5));
    let mut c = col(MYSQL_TYPE_LONG);
    c.unsigned = true;
    assert_eq!(map(&c, Value::UInt(4_294_967_295)), json!(4_294_967_295u64));
    assert_eq!(c.connect_schema(&Handling::default())["type"], "int64");
    let mut c = col(MYSQL_TYPE_LONGLONG);
    c.unsigned = true;
    // `long` wraps like Java; `precise` is a Decimal with scale 0.
    assert_eq!(map(&c, Value::UInt(u64::MAX)), json!(-1));
    let precise = Handling {
        bigint_unsigned: BigintUnsignedHandlingMode::Precise,
        ..Handling::default()
    };
    assert_eq!(
        map_with(&c, Value::UInt(u64::MAX), precise),
        json!("AP//////////")
    );
    assert_eq!(map(&col(MYSQL_TYPE_SHORT), Value::NULL), Json::Null);
    // A signed MEDIUMINT as mysql_common reads it from the binlog (no sign extension).
    let m = col(MYSQL_TYPE_INT24);
    assert_eq!(map(&m, Value::Int(0xff_fffb)), json!(-5));
    assert_eq!(map(&m, Value::Int(0x80_0000)), json!(-8_388_608));
    assert_eq!(map(&m, Value::Int(-5)), json!(-5));
    assert_eq!(map(&m, Value::Int(8_388_607)), json!(8_388_607));
    let mut m = m;
    m.unsigned = true;
    assert_eq!(map(&m, Value::Int(0xff_ffff)), json!(16_777_215));
}

#[test]
fn decimals_in_each_handling_mode() {
    let mut c = col(MYSQL_TYPE_NEWDECIMAL);
    c.meta = vec![10, 2];
    let v = || Value::Bytes(b"12.50".to_vec());
    assert_eq!(map(&c, v()), json!("BOI="));
    let s = c.connect_schema(&Handling::default());
    assert_eq!(s["name"], "org.apache.kafka.connect.data.Decimal");
    assert_eq!(
        s["parameters"],
        json!({"scale": "2", "connect.decimal.precision": "10"})
    );
    let string = Handling {
        decimal: DecimalHandlingMode::String,
        ..Handling::default()
    };
    assert_eq!(map_with(&c, v(), string), json!("12.50"));
    let double = Handling {
        decimal: DecimalHandlingMode::Double,
        ..Handling::default()
    };
    assert_eq!(map_with(&c, v(), double), json!(12.5));
    assert_eq!(map(&c, Value::Bytes(b"-0.01".to_vec())), json!("/w=="));
}

#[test]
fn floats_keep_their_shortest_text() {
    assert_eq!(map(&col(MYSQL_TYPE_FLOAT), Value::Float(1.1)), json!(1.1));
    assert_eq!(
        map(&col(MYSQL_TYPE_DOUBLE), Value::Double(2.25)),
        json!(2.25)
    );
}

#[test]
fn temporal_types() {
    assert_eq!(
        map(&col(MYSQL_TYPE_DATE), Value::Date(2024, 3, 1, 0, 0, 0, 0)),
        json!(19783)
    );
    assert_eq!(
        map(&col(MYSQL_TYPE_DATE), Value::Date(0, 0, 0, 0, 0, 0, 0)),
        Json::Null
    );
    let mut t = col(MYSQL_TYPE_TIME2);
    t.meta = vec![3];
    assert_eq!(
        map(&t, Value::Time(false, 0, 1, 2, 3, 500_000)),
        json!(3_723_500_000i64)
    );
    assert_eq!(
        map(&t, Value::Time(true, 1, 0, 0, 0, 0)),
        json!(-86_400_000_000i64)
    );
    let connect = Handling {
        time_precision: TimePrecisionMode::Connect,
        ..Handling::default()
    };
    assert_eq!(
        map_with(&t, Value::Time(false, 0, 1, 2, 3, 500_000), connect),
        json!(3_723_500)
    );
    let mut dt = col(MYSQL_TYPE_DATETIME2);
    dt.meta = vec![0];
    // Debezium's example: 2018-06-20 06:37:03 becomes 1529476623000.
    assert_eq!(
        map(&dt, Value::Date(2018, 6, 20, 6, 37, 3, 0)),
        json!(1_529_476_623_000i64)
    );
    dt.meta = vec![6];
    assert_eq!(
        map(&dt, Value::Date(2018, 6, 20, 6, 37, 3, 123_456)),
        json!(1_529_476_623_123_456i64)
    );
    assert_eq!(
        dt.connect_schema(&Handling::default())["name"],
        "io.debezium.time.MicroTimestamp"
    );
    let mut ts = col(MYSQL_TYPE_TIMESTAMP2);
    ts.meta = vec![0];
    assert_eq!(
        map(&ts, Value::Bytes(b"1529501823".to_vec())),
        json!("2018-06-20T13:37:03Z")
    );
    ts.meta = vec![3];
    assert_eq!(
        map(&ts, Value::Bytes(b"1529501823.120000".to_vec())),
        json!("2018-06-20T13:37:03.120Z")
    );
    assert_eq!(
        map(&col(MYSQL_TYPE_YEAR), Value::Bytes(b"2024".to_vec())),
        json!(2024)
    );
    assert_eq!(
        map(&col(MYSQL_TYPE_YEAR), Value::Bytes(b"1900".to_vec())),
        json!(0)
    );
}

#[test]
fn strings_binary_enum_set_bit() {
    let mut s = col(MYSQL_TYPE_VARCHAR);
    s.charset = 45;
    assert_eq!(
        map(&s, Value::Bytes("grüße".as_bytes().to_vec())),
        json!("grüße")
    );
    s.charset = 8;
    assert_eq!(
        map(&s, Value::Bytes(b"gr\xfc\xdfe".to_vec())),
        json!("grüße")
    );
    s.charset = 45;
    let err = map_value(
        &s,
        &BinlogValue::Value(Value::Bytes(vec![0xff])),
        &Handling::default(),
    );
    assert!(err.unwrap_err().contains("collation id 45"));
    let mut b = col(MYSQL_TYPE_BLOB);
    b.charset = 63;
    assert_eq!(map(&b, Value::Bytes(vec![0, 1, 0xff])), json!("AAH/"));
    let hex = Handling {
        binary: BinaryHandlingMode::Hex,
        ..Handling::default()
    };
    assert_eq!(
        map_with(&b, Value::Bytes(vec![0, 1, 0xff]), hex),
        json!("0001ff")
    );
    assert_eq!(b.connect_schema(&Handling::default())["type"], "bytes");
    let mut e = col(MYSQL_TYPE_ENUM);
    e.enum_values = vec!["small".into(), "large".into()];
    assert_eq!(map(&e, Value::Int(2)), json!("large"));
    assert_eq!(
        e.connect_schema(&Handling::default())["parameters"]["allowed"],
        "small,large"
    );
    let mut st = col(MYSQL_TYPE_SET);
    st.set_values = vec!["a".into(), "b".into(), "c".into()];
    assert_eq!(map(&st, Value::Bytes(vec![0b101])), json!("a,c"));
    let mut bit = col(MYSQL_TYPE_BIT);
    bit.meta = vec![1, 0];
    assert_eq!(map(&bit, Value::Bytes(vec![1])), json!(true));
    bit.meta = vec![0, 2];
    assert_eq!(map(&bit, Value::Bytes(vec![0x01, 0x02])), json!("AgE="));
    assert_eq!(
        bit.connect_schema(&Handling::default())["parameters"]["length"],
        "16"
    );
}

#[test]
fn geometry_is_wkb_and_srid() {
    let mut wkb = vec![0, 0, 0, 0];
    wkb.extend_from_slice(&[1, 1, 0, 0, 0]);
    let v = map(&col(MYSQL_TYPE_GEOMETRY), Value::Bytes(wkb));
    assert_eq!(v, json!({"wkb": "AQEAAAA=", "srid": null}));
}

#[test]
fn a_point_column_adds_x_and_y_as_debezium_point() {
    let mut c = col(MYSQL_TYPE_GEOMETRY);
    c.point = true;
    let mut b = vec![0, 0, 0, 0, 1, 1, 0, 0, 0];
    b.extend_from_slice(&1.0f64.to_le_bytes());
    b.extend_from_slice(&(-2.5f64).to_le_bytes());
    let v = map(&c, Value::Bytes(b));
    assert_eq!(
        v,
        json!({"x": 1.0, "y": -2.5, "wkb": "AQEAAAAAAAAAAADwPwAAAAAAAATA", "srid": null})
    );
    let schema = c.connect_schema(&Handling::default());
    assert_eq!(schema["name"], "io.debezium.data.geometry.Point");
    assert!(
        map_value(
            &c,
            &BinlogValue::Value(Value::Bytes(vec![0; 9])),
            &Handling::default()
        )
        .is_err()
    );
}

#[test]
fn binary_is_padded_back_to_its_length_with_zero_bytes() {
    let mut c = col(MYSQL_TYPE_STRING);
    c.charset = 63;
    c.meta = vec![0xfe, 3];
    assert_eq!(c.binary_length(), Some(3));
    assert_eq!(map(&c, Value::Bytes(vec![])), json!("AAAA"));
    assert_eq!(map(&c, Value::Bytes(vec![1])), json!("AQAA"));
    // CHAR is not padded; VARBINARY has no fixed length.
    c.charset = 45;
    assert_eq!(map(&c, Value::Bytes(b"ab".to_vec())), json!("ab"));
    let mut v = col(MYSQL_TYPE_VARCHAR);
    v.charset = 63;
    assert_eq!(v.binary_length(), None);
}

#[test]
fn a_snapshot_timestamp_drops_trailing_fraction_zeros() {
    let c = col(MYSQL_TYPE_TIMESTAMP2);
    let form = |s: &str| snapshot_form(&c, json!(s));
    assert_eq!(
        form("2018-06-20T13:37:03.120Z"),
        json!("2018-06-20T13:37:03.12Z")
    );
    assert_eq!(
        form("2018-06-20T13:37:03.000Z"),
        json!("2018-06-20T13:37:03Z")
    );
    assert_eq!(form("2018-06-20T13:37:03Z"), json!("2018-06-20T13:37:03Z"));
    assert_eq!(
        snapshot_form(&col(MYSQL_TYPE_VARCHAR), json!("1.0Z")),
        json!("1.0Z")
    );
}

#[test]
fn a_value_of_the_wrong_shape_is_an_error_not_a_panic() {
    let err = map_value(
        &col(MYSQL_TYPE_DATE),
        &BinlogValue::Value(Value::Int(3)),
        &Handling::default(),
    );
    assert!(err.is_err());
}
