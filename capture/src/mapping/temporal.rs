//! Dates and times as Debezium's `io.debezium.time.*` types.

use chrono::{DateTime, NaiveDate};
use mysql_async::Value;
use serde_json::{Value as Json, json};

use crate::config::TimePrecisionMode;

fn epoch() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)
}

/// DATE: days since the epoch (`io.debezium.time.Date`); the zero date is null.
pub(crate) fn date(value: &Value) -> Option<Json> {
    let Value::Date(y, m, d, ..) = *value else {
        return None;
    };
    if y == 0 || m == 0 || d == 0 {
        return Some(Json::Null);
    }
    let date = NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))?;
    Some(json!((date - epoch()?).num_days()))
}

/// TIME: µs (`MicroTime`) or, in `connect` mode, ms (`org.apache.kafka.connect.data.Time`).
pub(crate) fn time(value: &Value, mode: TimePrecisionMode) -> Option<Json> {
    let Value::Time(neg, days, h, m, s, us) = *value else {
        return None;
    };
    let micros = ((i64::from(days) * 24 + i64::from(h)) * 3600 + i64::from(m) * 60 + i64::from(s))
        * 1_000_000
        + i64::from(us);
    let micros = if neg { -micros } else { micros };
    Some(match mode {
        TimePrecisionMode::Connect => json!(micros / 1000),
        _ => json!(micros),
    })
}

/// DATETIME: epoch ms (`Timestamp`) for precision 0-3, epoch µs (`MicroTimestamp`) for 4-6;
/// always ms in `connect` mode. The zero datetime is null.
pub(crate) fn datetime(value: &Value, fsp: u8, mode: TimePrecisionMode) -> Option<Json> {
    let Value::Date(y, mo, d, h, mi, s, us) = *value else {
        return None;
    };
    if y == 0 || mo == 0 || d == 0 {
        return Some(Json::Null);
    }
    let dt = NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d))?
        .and_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us)?
        .and_utc();
    let micros = dt.timestamp_micros();
    Some(if fsp <= 3 || matches!(mode, TimePrecisionMode::Connect) {
        json!(micros.div_euclid(1000))
    } else {
        json!(micros)
    })
}

/// TIMESTAMP: an ISO-8601 string in UTC (`ZonedTimestamp`), with as many fraction digits as
/// the column's precision.
pub(crate) fn timestamp(value: &Value, fsp: u8) -> Option<Json> {
    let (secs, micros) = match value {
        Value::Int(s) => (*s, 0u32),
        Value::Bytes(b) => {
            let text = std::str::from_utf8(b).ok()?;
            match text.split_once('.') {
                Some((s, f)) => (s.parse().ok()?, f.parse().ok()?),
                None => (text.parse().ok()?, 0),
            }
        }
        _ => return None,
    };
    let dt = DateTime::from_timestamp(secs, micros * 1000)?;
    let base = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = if fsp == 0 {
        String::new()
    } else {
        let digits = format!("{micros:06}");
        format!(".{}", &digits[..usize::from(fsp.min(6))])
    };
    Some(Json::String(format!("{base}{frac}Z")))
}

/// `2018-06-20T13:37:03.120Z` → `2018-06-20T13:37:03.12Z`, `….000Z` → `…03Z`.
pub(crate) fn trim_fraction(iso: &str) -> String {
    let Some(body) = iso.strip_suffix('Z') else {
        return iso.to_owned();
    };
    match body.split_once('.') {
        Some((secs, frac)) => match frac.trim_end_matches('0') {
            "" => format!("{secs}Z"),
            frac => format!("{secs}.{frac}Z"),
        },
        None => iso.to_owned(),
    }
}
