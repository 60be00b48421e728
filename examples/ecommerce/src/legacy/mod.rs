//! The legacy application: its MariaDB schema, its starting data, and a load generator that
//! writes orders as it would.

pub mod load;
pub mod rng;
pub mod schema;
