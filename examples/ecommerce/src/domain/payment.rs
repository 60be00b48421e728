//! The payment of one order, owned by the payment participant: captured at most once,
//! declined over the customer's credit limit, refunded in full.

use keel::{Aggregate, Event};
use serde::{Deserialize, Serialize};

/// What happens to a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Event)]
pub enum PaymentEvent {
    /// The amount was charged.
    PaymentCaptured {
        /// Who paid.
        customer_id: i64,
        /// Cents.
        amount_cents: i64,
    },
    /// The provider refused.
    PaymentDeclined {
        /// Cents asked for.
        amount_cents: i64,
        /// Why.
        reason: String,
    },
    /// The captured amount was paid back.
    PaymentRefunded {
        /// Cents.
        amount_cents: i64,
    },
}

/// A payment's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Payment {
    /// Cents captured (0 when none).
    pub captured_cents: i64,
    /// Cents refunded.
    pub refunded_cents: i64,
    /// The decline reason, when declined.
    pub declined: Option<String>,
}

/// What the payment participant asks.
#[derive(Debug, Clone)]
pub enum PaymentCommand {
    /// Charge `amount_cents`, declined above `credit_limit_cents`.
    Capture {
        /// Who pays.
        customer_id: i64,
        /// Cents.
        amount_cents: i64,
        /// The customer's limit.
        credit_limit_cents: i64,
    },
    /// Refuse without charging (the order was cancelled before payment).
    Decline(String),
    /// Pay back what was captured, if anything.
    Refund,
}

/// Payments record declines as events; they never refuse a command.
#[derive(Debug)]
pub enum Never {}

impl std::fmt::Display for Never {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Never {}

impl Aggregate for Payment {
    const TYPE: &'static str = "payment";
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = Never;

    fn handle(&self, command: PaymentCommand) -> Result<Vec<PaymentEvent>, Never> {
        let decided = self.captured_cents > 0 || self.declined.is_some();
        Ok(match command {
            PaymentCommand::Capture { .. } if decided => vec![],
            PaymentCommand::Capture {
                amount_cents,
                credit_limit_cents,
                ..
            } if amount_cents > credit_limit_cents => {
                vec![PaymentEvent::PaymentDeclined {
                    amount_cents,
                    reason: format!(
                        "{amount_cents} cents is over the customer's limit of {credit_limit_cents}"
                    ),
                }]
            }
            PaymentCommand::Capture {
                customer_id,
                amount_cents,
                ..
            } => vec![PaymentEvent::PaymentCaptured {
                customer_id,
                amount_cents,
            }],
            PaymentCommand::Decline(_) if decided => vec![],
            PaymentCommand::Decline(reason) => vec![PaymentEvent::PaymentDeclined {
                amount_cents: 0,
                reason,
            }],
            PaymentCommand::Refund if self.captured_cents > self.refunded_cents => {
                vec![PaymentEvent::PaymentRefunded {
                    amount_cents: self.captured_cents - self.refunded_cents,
                }]
            }
            PaymentCommand::Refund => vec![],
        })
    }

    fn apply(&mut self, event: &PaymentEvent) {
        match event {
            PaymentEvent::PaymentCaptured { amount_cents, .. } => {
                self.captured_cents += amount_cents
            }
            PaymentEvent::PaymentDeclined { reason, .. } => self.declined = Some(reason.clone()),
            PaymentEvent::PaymentRefunded { amount_cents } => self.refunded_cents += amount_cents,
        }
    }
}

#[cfg(test)]
mod tests {
    use keel::testing::AggregateFixture;

    use super::*;

    fn capture(amount_cents: i64) -> PaymentCommand {
        PaymentCommand::Capture {
            customer_id: 1,
            amount_cents,
            credit_limit_cents: 1000,
        }
    }

    #[test]
    fn a_second_capture_charges_nothing() {
        AggregateFixture::<Payment>::new()
            .given(vec![PaymentEvent::PaymentCaptured {
                customer_id: 1,
                amount_cents: 500,
            }])
            .when(capture(500))
            .then_expect_events(vec![]);
    }

    #[test]
    fn over_the_limit_is_declined() {
        AggregateFixture::<Payment>::new()
            .when(capture(1001))
            .then_expect_events(vec![PaymentEvent::PaymentDeclined {
                amount_cents: 1001,
                reason: "1001 cents is over the customer's limit of 1000".into(),
            }]);
    }

    #[test]
    fn a_refund_pays_back_the_capture_once() {
        AggregateFixture::<Payment>::new()
            .given(vec![
                PaymentEvent::PaymentCaptured {
                    customer_id: 1,
                    amount_cents: 500,
                },
                PaymentEvent::PaymentRefunded { amount_cents: 500 },
            ])
            .when(PaymentCommand::Refund)
            .then_expect_events(vec![]);
    }
}
