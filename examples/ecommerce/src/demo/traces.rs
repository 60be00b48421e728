//! Check 6 and the printed links: one confirmed and one compensated saga, found in the saga
//! table, and their traces fetched from Jaeger's query API.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::checks::Check;
use keel::EventStore;
use keel::sagas::choreography::{ChoreographyState, ChoreographyView, StatusQuery};
use keel::store::StreamQuery;

use super::stores::Stores;
use crate::settings::SagaStyle;

/// A saga and its trace.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SagaTrace {
    /// The saga id (`order-<id>`).
    pub saga_id: String,
    /// The W3C trace id.
    pub trace_id: String,
    /// Jaeger's page of the trace.
    pub url: String,
}

fn trace_of(stores: &Stores, saga_id: String, traceparent: Option<&str>) -> Option<SagaTrace> {
    let trace_id = traceparent?.split('-').nth(1)?.to_owned();
    let url = format!(
        "{}/trace/{trace_id}",
        stores.settings.jaeger.trim_end_matches('/')
    );
    Some(SagaTrace {
        saga_id,
        trace_id,
        url,
    })
}

/// The traces of up to `n` `order-fulfilment` sagas in `state` (`completed` or
/// `compensated`), the latest first: from the saga table (orchestration), or from the saga view
/// and each order's first event (choreography: compensated ones that released stock).
pub async fn candidates(stores: &Stores, state: &str, n: usize) -> crate::Result<Vec<SagaTrace>> {
    let mut found = Vec::new();
    if stores.settings.saga == SagaStyle::Choreography {
        let view = crate::roles::choreography::view(&stores.events).await?;
        let wanted =
            ChoreographyState::parse(state).ok_or_else(|| format!("no state `{state}`"))?;
        let statuses = view
            .find(&StatusQuery::in_state(wanted).newest_first().limit(500))
            .await?;
        for status in statuses {
            let released = status.compensated.iter().any(|step| step == "reserve");
            let order = status
                .events
                .iter()
                .find(|e| e.stream_id.starts_with("order-"));
            let Some(order) = order.filter(|_| state != "compensated" || released) else {
                continue;
            };
            let first = stores
                .events
                .read_stream(&order.stream_id, StreamQuery::all().limit(1))
                .await?;
            let traceparent = first.first().and_then(|e| e.metadata.traceparent.clone());
            found.extend(trace_of(
                stores,
                order.stream_id.clone(),
                traceparent.as_deref(),
            ));
            if found.len() == n {
                break;
            }
        }
        return Ok(found);
    }
    let rows: Vec<(String, Value)> = sqlx::query_as(
        "SELECT saga_id, body FROM keel_saga_instances WHERE saga_type = 'order-fulfilment' AND state = $1 \
         ORDER BY updated_at DESC LIMIT $2",
    )
    .bind(state)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(stores.events.pool())
    .await?;
    for (saga_id, body) in rows {
        let traceparent = body["trace"]["traceparent"].as_str().map(str::to_owned);
        found.extend(trace_of(stores, saga_id, traceparent.as_deref()));
    }
    Ok(found)
}

/// The operation names and services of a trace's spans, once Jaeger has them.
async fn spans(
    stores: &Stores,
    trace_id: &str,
    patience: Duration,
) -> crate::Result<Vec<(String, String)>> {
    let url = format!(
        "{}/api/traces/{trace_id}",
        stores.settings.jaeger.trim_end_matches('/')
    );
    let started = Instant::now();
    loop {
        let response = stores
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("jaeger at {}: {e} (run make up)", stores.settings.jaeger))?;
        if response.status().is_success() {
            let body: Value = response.json().await?;
            let trace = &body["data"][0];
            let service = |process: &str| {
                trace["processes"][process]["serviceName"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            };
            let spans: Vec<(String, String)> = trace["spans"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        s["operationName"].as_str().unwrap_or("").to_owned(),
                        service(s["processID"].as_str().unwrap_or("")),
                    )
                })
                .collect();
            let compensation =
                |op: &str| op == "keel.saga.compensation" || op == "keel.choreography.compensate";
            if spans.iter().any(|(op, _)| compensation(op)) || started.elapsed() > patience {
                return Ok(spans);
            }
        } else if started.elapsed() > patience {
            return Ok(vec![]);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Jaeger holds a compensated saga's trace, with its steps, its compensations, the
/// participants' spans, and the change event it started from. Up to `candidates` are looked
/// at, latest first: a role killed with SIGKILL loses the spans it had not exported yet, so a
/// saga it worked on can have a partial trace (see docs/example.md).
pub async fn check(
    stores: &Stores,
    candidates: &[SagaTrace],
) -> crate::Result<(Check, Option<SagaTrace>)> {
    let name = "Jaeger returns a compensated saga's trace with its compensation spans";
    let (expected, service): (&[&str], &str) = match stores.settings.saga {
        SagaStyle::Orchestration => (
            &[
                "ecommerce.translate",
                "keel.saga",
                "keel.saga.step",
                "keel.saga.compensation",
                "keel.saga.participant",
            ],
            "ecommerce-saga",
        ),
        SagaStyle::Choreography => (
            &[
                "ecommerce.translate",
                "keel.choreography.react",
                "keel.choreography.compensate",
                "keel.execute",
            ],
            "ecommerce-inventory",
        ),
    };
    let mut seen = Vec::new();
    for (i, saga) in candidates.iter().enumerate() {
        let patience = Duration::from_secs(if i == 0 { 30 } else { 3 });
        let spans = spans(stores, &saga.trace_id, patience).await?;
        let has = |op: &str| spans.iter().any(|(o, _)| o == op);
        let services: std::collections::BTreeSet<&str> =
            spans.iter().map(|(_, s)| s.as_str()).collect();
        let missing: Vec<&str> = expected.iter().copied().filter(|op| !has(op)).collect();
        let detail = format!(
            "{}: {} spans from {}{}",
            saga.saga_id,
            spans.len(),
            services.iter().copied().collect::<Vec<_>>().join(", "),
            if missing.is_empty() {
                String::new()
            } else {
                format!("; missing {}", missing.join(", "))
            }
        );
        if missing.is_empty() && services.contains(service) {
            let detail = if seen.is_empty() {
                detail
            } else {
                format!(
                    "{detail} (after {} partial traces: {})",
                    seen.len(),
                    seen.join("; ")
                )
            };
            return Ok((
                Check {
                    name,
                    passed: true,
                    detail,
                },
                Some(saga.clone()),
            ));
        }
        seen.push(detail);
    }
    let detail = if seen.is_empty() {
        "no compensated saga to look at".into()
    } else {
        seen.join("; ")
    };
    Ok((
        Check {
            name,
            passed: false,
            detail,
        },
        candidates.first().cloned(),
    ))
}
