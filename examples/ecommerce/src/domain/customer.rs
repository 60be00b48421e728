//! The customer, as the legacy `customers` table says.

use keel::{Aggregate, Event};
use serde::{Deserialize, Serialize};

/// What happens to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Event)]
pub enum CustomerEvent {
    /// The customer row was written.
    CustomerRegistered {
        /// Full name.
        name: String,
        /// E-mail address.
        email: String,
        /// Postal address.
        address: String,
        /// Highest order total the payment provider accepts, in cents.
        credit_limit_cents: i64,
    },
    /// The legacy application changed the address.
    CustomerAddressChanged {
        /// The new address.
        address: String,
    },
}

/// A customer's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Customer {
    /// Whether the row was seen.
    pub registered: bool,
    /// Full name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Credit limit, in cents.
    pub credit_limit_cents: i64,
}

/// The legacy row, as the translator read it.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: String,
    /// `address`.
    pub address: String,
    /// `credit_limit` in cents.
    pub credit_limit_cents: i64,
}

/// Customers never refuse: they mirror the legacy rows.
#[derive(Debug)]
pub enum Never {}

impl std::fmt::Display for Never {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Never {}

impl Aggregate for Customer {
    const TYPE: &'static str = "customer";
    type Command = CustomerRow;
    type Event = CustomerEvent;
    type Error = Never;

    fn handle(&self, row: CustomerRow) -> Result<Vec<CustomerEvent>, Never> {
        Ok(if !self.registered {
            vec![CustomerEvent::CustomerRegistered {
                name: row.name,
                email: row.email,
                address: row.address,
                credit_limit_cents: row.credit_limit_cents,
            }]
        } else if row.address != self.address {
            vec![CustomerEvent::CustomerAddressChanged {
                address: row.address,
            }]
        } else {
            vec![]
        })
    }

    fn apply(&mut self, event: &CustomerEvent) {
        match event {
            CustomerEvent::CustomerRegistered {
                name,
                address,
                credit_limit_cents,
                ..
            } => {
                self.registered = true;
                self.name.clone_from(name);
                self.address.clone_from(address);
                self.credit_limit_cents = *credit_limit_cents;
            }
            CustomerEvent::CustomerAddressChanged { address } => self.address.clone_from(address),
        }
    }
}
