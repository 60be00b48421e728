//! `ecommerce replay order <id> --at <time>` / `--from <time>`: an order's state at a moment,
//! or every event after it with the state it produced (from the nearest snapshot on).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::streams;
use crate::settings::Settings;

/// Parses an RFC 3339 time, naming the flag in the error.
pub fn parse_time(flag: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{flag} {text:?} is not an RFC 3339 time (like 2026-11-25T10:00:00Z): {e}")
        })
}

/// Prints the order's state at `at` (one JSON object), or its events after `from` (one JSON
/// object per line).
pub async fn order(
    settings: &Settings,
    id: i64,
    at: Option<DateTime<Utc>>,
    from: Option<DateTime<Utc>>,
) -> crate::Result<()> {
    let repo = crate::store::orders(crate::store::connect(settings).await?);
    let stream = streams::order(id);
    if let Some(at) = at {
        let loaded = repo.load_at(&stream, at).await?;
        if loaded.version == 0 {
            return Err(format!("order {id} has no events recorded at or before {at}").into());
        }
        let line = json!({
            "order": id, "at": at, "version": loaded.version, "state": loaded.state,
            "from_snapshot_at_version": loaded.snapshot_version, "events_read": loaded.events_read,
        });
        println!("{}", serde_json::to_string_pretty(&line)?);
    }
    if let Some(from) = from {
        for (event, state) in repo.replay_from(&stream, from).await? {
            let line = json!({
                "version": event.stream_version, "recorded_at": event.recorded_at,
                "event": event.event_type, "payload": event.payload, "state": state,
            });
            println!("{}", serde_json::to_string(&line)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn a_bad_time_names_the_flag() {
        assert!(parse_time("--at", "2026-11-25T10:00:00Z").is_ok());
        let error = parse_time("--at", "yesterday").expect_err("not a time");
        assert!(
            error.starts_with("--at \"yesterday\" is not an RFC 3339 time"),
            "{error}"
        );
    }
}
