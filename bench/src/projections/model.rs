//! The read model under test: one balance document per ledger stream, fed by the ledger's
//! `Deposited` events; the streams it is built from; and its final documents, which the raw
//! baselines write directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_core::store::PostgresStore;
use keel_core::testing::conformance::LedgerEvent;
use keel_core::{EventStore, ExpectedVersion, NewEvent};
use keel_projections::{DocChange, Envelope, Projection};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::BenchError;
use crate::support::bar;

/// The document: an account's balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Account {
    /// The stream id (also the document key).
    pub(crate) account: String,
    /// The sum of the deposits.
    pub(crate) balance: i64,
    /// How many deposits.
    pub(crate) deposits: u64,
    /// The deposits' currency.
    pub(crate) currency: String,
    /// The newest deposit.
    pub(crate) last_amount: i64,
}

/// The Elasticsearch mapping of [`Account`] (the raw index gets the same).
pub(crate) fn mapping() -> Value {
    json!({
        "account": { "type": "keyword" },
        "balance": { "type": "long" },
        "deposits": { "type": "long" },
        "currency": { "type": "keyword" },
        "last_amount": { "type": "long" },
    })
}

/// The projection: each deposit adds to its stream's document.
#[derive(Debug, Clone)]
pub(crate) struct Balances {
    /// The projection's name (its checkpoint key).
    pub(crate) name: String,
}

impl Projection for Balances {
    type Event = LedgerEvent;
    type Doc = Account;

    fn name(&self) -> &str {
        &self.name
    }

    fn apply(&self, e: &Envelope<'_, LedgerEvent>, doc: Option<Account>) -> DocChange<Account> {
        let LedgerEvent::Deposited { amount, currency } = &e.event;
        let mut doc = doc.unwrap_or_else(|| Account {
            account: e.recorded.stream_id.clone(),
            balance: 0,
            deposits: 0,
            currency: currency.clone(),
            last_amount: 0,
        });
        doc.balance += amount;
        doc.deposits += 1;
        doc.last_amount = *amount;
        DocChange::Upsert(doc)
    }
}

/// The id of account stream `i`.
pub(crate) fn stream(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}")
}

/// The `per_doc` deposits of one account: 1, 2, … EUR.
pub(crate) fn deposits(per_doc: usize) -> Result<Vec<NewEvent>, BenchError> {
    (1..=per_doc)
        .map(|amount| {
            Ok(NewEvent::from_domain(&LedgerEvent::Deposited {
                amount: i64::try_from(amount)?,
                currency: "EUR".into(),
            })?)
        })
        .collect()
}

/// The document of an account after its `per_doc` deposits, and its version.
pub(crate) fn final_doc(account: String, per_doc: usize) -> Result<(Account, u64), BenchError> {
    let n = i64::try_from(per_doc)?;
    Ok((
        Account {
            account,
            balance: n * (n + 1) / 2,
            deposits: u64::try_from(per_doc)?,
            currency: "EUR".into(),
            last_amount: n,
        },
        u64::try_from(per_doc)?,
    ))
}

/// A store on `url` for loading a history fast: its connections commit without waiting for the
/// WAL to reach the disk (`synchronous_commit = off`, the run's database is thrown away), so
/// appends that each commit alone do not queue behind one flush each. Only the setup uses it;
/// the projections and the live appends use a store with the server's settings.
pub(crate) async fn loader(url: &str) -> Result<PostgresStore, BenchError> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *conn, "SET synchronous_commit = off").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(PostgresStore::from_pool(pool).await?)
}

/// Appends accounts `from..to` (streams `<prefix><i>`, `per_doc` deposits each, one append per
/// stream) to `store` with `writers` concurrent tasks, showing progress.
pub(crate) async fn append_accounts<S: EventStore + Clone>(
    store: &S,
    prefix: &str,
    range: std::ops::Range<usize>,
    per_doc: usize,
    writers: usize,
    label: &str,
) -> Result<(), BenchError> {
    let progress = bar(range.len() * per_doc, label);
    let next = Arc::new(AtomicUsize::new(range.start));
    let mut tasks = Vec::with_capacity(writers);
    for _ in 0..writers {
        let (store, next, progress, prefix) = (
            store.clone(),
            Arc::clone(&next),
            progress.clone(),
            prefix.to_owned(),
        );
        let end = range.end;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, BenchError>(());
                }
                store
                    .append(
                        &stream(&prefix, i),
                        ExpectedVersion::NoStream,
                        deposits(per_doc)?,
                    )
                    .await?;
                progress.inc(per_doc as u64);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    progress.finish_and_clear();
    Ok(())
}
