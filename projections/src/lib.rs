//! Projections: turn domain events into Elasticsearch and Redis read models, with checkpoints,
//! idempotent writes and rebuilds without downtime.
//!
//! Not built yet: tracked as its own issue.
