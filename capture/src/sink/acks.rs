//! Kafka's delivery reports, without a future per record: the producer's callback marks each
//! record's sequence number acknowledged (or failed) on a board the tracker reads in order. A
//! future and a wake per record cost a quarter of capture's CPU at bulk rates
//! (`make bench BENCH=capture`).

use std::sync::Mutex;

use rdkafka::error::KafkaError;
use tokio::sync::Notify;

/// Which records Kafka acknowledged, by sequence number, in a ring of bits.
#[derive(Debug)]
pub struct AckBoard {
    state: Mutex<Board>,
    notify: Notify,
}

#[derive(Debug)]
struct Board {
    bits: Vec<u64>,
    mask: u64,
    /// The first record that failed, and why.
    failed: Option<(u64, KafkaError)>,
}

impl AckBoard {
    /// A board for at most `in_flight` records between their send and the tracker reading
    /// them (the ring is larger, so a sequence number never meets a live one's slot).
    pub fn new(in_flight: usize) -> Self {
        let slots = (in_flight.max(1) * 2).next_power_of_two().max(64) as u64;
        Self {
            state: Mutex::new(Board {
                bits: vec![0; (slots / 64) as usize],
                mask: slots - 1,
                failed: None,
            }),
            notify: Notify::new(),
        }
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        // A poisoned board still holds the marks made before the panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Kafka acknowledged record `seq`.
    pub fn acknowledge(&self, seq: u64) {
        {
            let mut b = self.board();
            let slot = seq & b.mask;
            b.bits[(slot / 64) as usize] |= 1 << (slot % 64);
        }
        self.notify.notify_one();
    }

    /// Record `seq` failed with `error`.
    pub fn fail(&self, seq: u64, error: KafkaError) {
        {
            let mut b = self.board();
            if b.failed.as_ref().is_none_or(|(s, _)| seq < *s) {
                b.failed = Some((seq, error));
            }
        }
        self.notify.notify_one();
    }

    /// Waits until record `seq` is acknowledged (and forgets it), or returns its error. The
    /// tracker asks for each record once, in order.
    pub async fn wait(&self, seq: u64) -> Result<(), KafkaError> {
        loop {
            {
                let mut b = self.board();
                let slot = seq & b.mask;
                let (word, bit) = ((slot / 64) as usize, 1u64 << (slot % 64));
                if b.bits[word] & bit != 0 {
                    b.bits[word] &= !bit;
                    return Ok(());
                }
                if let Some((s, e)) = &b.failed
                    && *s == seq
                {
                    return Err(e.clone());
                }
            }
            // A notification sent since the check is kept as a permit: no wake-up is lost.
            self.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::types::RDKafkaErrorCode;

    #[tokio::test]
    async fn acknowledgements_in_any_order_are_read_in_order() {
        let board = std::sync::Arc::new(AckBoard::new(8));
        board.acknowledge(2);
        board.acknowledge(0);
        board.wait(0).await.unwrap();
        let waiter = {
            let board = board.clone();
            tokio::spawn(async move {
                board.wait(1).await.unwrap();
                board.wait(2).await.unwrap();
                board.wait(3).await
            })
        };
        tokio::task::yield_now().await;
        board.acknowledge(1);
        board.fail(
            3,
            KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
        );
        let third = waiter.await.unwrap();
        assert!(matches!(third, Err(KafkaError::MessageProduction(_))));
        // A slot is reused once the ring goes round, without a stale mark.
        for seq in 4..100 {
            board.acknowledge(seq);
            board.wait(seq).await.unwrap();
        }
    }
}
