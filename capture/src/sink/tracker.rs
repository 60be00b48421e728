//! The acknowledgement tracker: awaits deliveries in order and stores the offset of the
//! acknowledged prefix (ADR 0030).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::KafkaError;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, error, info};

use super::{AckBoard, Delivery, Pending, PendingOffset};
use crate::offsets::{Offset, OffsetStore};
use crate::{Error, Result};

/// What the tracker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// Records acknowledged.
    pub acknowledged: u64,
    /// The last offset stored.
    pub stored: Option<Offset>,
}

/// Awaits deliveries in order (they arrive in batches) and stores the offset of the
/// acknowledged prefix every `flush_every` (also while nothing new arrives) and when the
/// channel closes.
///
/// A failed Kafka delivery stops it with the error: its offset and everything after are not
/// stored, so a restart delivers them again. `consumer_acks` carries the highest sequence
/// number an in-process consumer acknowledged; when its sender is gone (the stream was closed),
/// nothing after the last acknowledged record is stored and the tracker drains the channel.
pub async fn track_acks(
    mut rx: mpsc::Receiver<Vec<Pending>>,
    store: OffsetStore,
    flush_every: Duration,
    kafka: Option<Arc<AckBoard>>,
    mut consumer_acks: Option<watch::Receiver<u64>>,
) -> Result<AckSummary> {
    let mut summary = AckSummary::default();
    let mut latest: Option<PendingOffset> = None;
    // One timer for the whole run (a timer per record cost a fifth of the tracker's time).
    let timer = tokio::time::sleep(flush_every);
    tokio::pin!(timer);
    // Once a record is not acknowledged, nothing after it may be stored.
    let mut stalled = false;
    loop {
        let received = tokio::select! {
            batch = rx.recv() => batch,
            () = &mut timer => {
                store_latest(&store, &latest, &mut summary).await?;
                timer.as_mut().reset(Instant::now() + flush_every);
                continue;
            }
        };
        let Some(batch) = received else {
            break;
        };
        for p in batch {
            if stalled {
                continue;
            }
            match p.delivery {
                None => {}
                Some(Delivery::Kafka(seq)) => {
                    let Some(board) = kafka.as_ref() else {
                        return Err(Error::Kafka(KafkaError::Canceled));
                    };
                    if let Err(error) = board.wait(seq).await {
                        let (file, pos) = p.offset.at();
                        error!(%error, file, pos, "Kafka delivery failed.");
                        store_latest(&store, &latest, &mut summary).await?;
                        return Err(error.into());
                    }
                    summary.acknowledged += 1;
                }
                Some(Delivery::Consumer(seq)) => {
                    let acked = match consumer_acks.as_mut() {
                        Some(acks) => {
                            wait_for_ack(
                                acks,
                                seq,
                                &store,
                                &latest,
                                &mut summary,
                                flush_every,
                                timer.as_mut(),
                            )
                            .await?
                        }
                        None => false,
                    };
                    if !acked {
                        let (file, pos) = p.offset.at();
                        info!(
                            file,
                            pos,
                            "The change stream was closed; offsets stay at the last acknowledged event."
                        );
                        stalled = true;
                        continue;
                    }
                    summary.acknowledged += 1;
                }
            }
            latest = Some(p.offset);
        }
        if timer.is_elapsed() {
            store_latest(&store, &latest, &mut summary).await?;
            timer.as_mut().reset(Instant::now() + flush_every);
        }
    }
    store_latest(&store, &latest, &mut summary).await?;
    Ok(summary)
}

/// Waits until the consumer acknowledged `seq`, storing the acknowledged prefix every
/// `flush_every` meanwhile; false when the consumer is gone first.
async fn wait_for_ack(
    acks: &mut watch::Receiver<u64>,
    seq: u64,
    store: &OffsetStore,
    latest: &Option<PendingOffset>,
    summary: &mut AckSummary,
    flush_every: Duration,
    mut timer: std::pin::Pin<&mut tokio::time::Sleep>,
) -> Result<bool> {
    loop {
        if *acks.borrow_and_update() >= seq {
            return Ok(true);
        }
        tokio::select! {
            changed = acks.changed() => if changed.is_err() {
                return Ok(*acks.borrow() >= seq);
            },
            () = &mut timer => {
                store_latest(store, latest, summary).await?;
                timer.as_mut().reset(Instant::now() + flush_every);
            }
        }
    }
}

/// Saves `latest` unless it is what was stored last.
async fn store_latest(
    store: &OffsetStore,
    latest: &Option<PendingOffset>,
    summary: &mut AckSummary,
) -> Result<()> {
    let Some(latest) = latest else {
        return Ok(());
    };
    let o = latest.to_offset();
    if summary.stored.as_ref() != Some(&o) {
        store.save(&o).await?;
        debug!(file = %o.file, pos = o.pos, skip = o.skip, "Offset stored.");
        summary.stored = Some(o);
    }
    Ok(())
}
