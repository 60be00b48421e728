//! The projections area's figures.

use std::time::Duration;

use super::Sizes;
use super::live;
use crate::BenchError;
use crate::cpu::CpuUse;
use crate::report::{Figure, Report};
use crate::stats::percentile_ms;
use crate::support::per_second;

/// What the phases measured, turned into figures.
pub(super) struct Figures {
    pub(super) sizes: Sizes,
    pub(super) redis: (Duration, Duration),
    /// The CPU of the Redis catch-up and of the raw Redis pipelines.
    pub(super) redis_cpu: (CpuUse, CpuUse),
    /// The Redis catch-up from a `MemoryStore` holding the same history: its time and CPU.
    pub(super) from_memory: (Duration, CpuUse),
    pub(super) es: (Duration, Duration),
    /// The history read alone, just before the Redis and the Elasticsearch catch-up.
    pub(super) reads: (Duration, Duration),
    /// The runner's `read.size`, the page size of those reads.
    pub(super) read_size: usize,
    /// The runner's `read.concurrency`, pages read at the same time while catching up.
    pub(super) read_concurrency: usize,
    /// The runner's `max.in.flight.requests`.
    pub(super) in_flight: usize,
    pub(super) rebuild: (keel_projections::RebuildReport, Duration, live::Reads, u64),
    pub(super) lag: live::LiveLag,
    pub(super) flush_ms: u64,
}

impl Figures {
    pub(super) fn record(&self, report: &mut Report) -> Result<(), BenchError> {
        let s = self.sizes;
        let history = s.history();
        let setup = format!(
            "a fresh projection (no checkpoint) over a PostgresStore of its own holding \
             {history} Deposited events ({} accounts x {} events, one append each), \
             batch.size {}, read.size {}, read.concurrency {}, max.in.flight.requests {}: \
             read ahead (pages read at the same time), decode, \
             load the documents the batch needs (none when each account's history starts in \
             its batch, as when batch.size is a multiple of the events per account), apply, \
             write one change per document, commit the checkpoint after the sink \
             acknowledged, the stages overlapped",
            s.accounts(),
            s.per_doc,
            s.batch,
            self.read_size,
            self.read_concurrency,
            self.in_flight
        );
        let raw_note = format!(
            "the same {} final documents in groups of {} (the documents of one batch), one \
             group after the other",
            s.accounts(),
            s.group()
        );
        for (bench, sink, (took, raw_took), floor, baseline) in [
            (
                "projections.catch_up_redis",
                "Redis (RedisSink, JSON, Lua version guard: one EVALSHA per chunk of up to 500 \
                 documents)",
                self.redis,
                100_000.0,
                "raw Redis pipelines of SET document + SET version key (redis crate \
                 ConnectionManager)",
            ),
            (
                "projections.catch_up_elasticsearch",
                "Elasticsearch (ElasticsearchSink behind an alias, _mget + _bulk with \
                 external versions)",
                self.es,
                20_000.0,
                "raw Elasticsearch _bulk index requests (reqwest) into an index with the same \
                 mapping",
            ),
        ] {
            let value = per_second(history, took);
            let baseline_value = per_second(history, raw_took);
            let ratio = value / baseline_value;
            report.record(Figure {
                bench,
                value,
                unit: "events/s",
                baseline: format!("{baseline}: {raw_note}"),
                baseline_value,
                goal: Some((
                    format!(">= {floor} events/s and ratio >= 0.8"),
                    value >= floor && ratio >= 0.8,
                )),
                notes: format!(
                    "into {sink}; {setup}; {:.2} s vs {:.2} s",
                    took.as_secs_f64(),
                    raw_took.as_secs_f64()
                ),
            })?;
        }
        self.record_redis_cpu(report)?;

        for (bench, (took, _), read) in [
            (
                "projections.catch_up_redis_vs_read",
                self.redis,
                self.reads.0,
            ),
            (
                "projections.catch_up_elasticsearch_vs_read",
                self.es,
                self.reads.1,
            ),
        ] {
            let value = per_second(history, took);
            let baseline_value = per_second(history, read);
            report.record(Figure {
                bench,
                value,
                unit: "events/s",
                baseline: format!(
                    "the same history read alone from the store just before (EventStore::read_all \
                     in pages of read.size {}, one after the other, nothing decoded or \
                     written): what a catch-up reads before it writes",
                    self.read_size
                ),
                baseline_value,
                goal: None,
                notes: format!(
                    "the catch-up of the figure without _vs_read; ratio near 1: the catch-up \
                     goes as fast as the store can be read; {:.2} s vs {:.2} s",
                    took.as_secs_f64(),
                    read.as_secs_f64()
                ),
            })?;
        }

        let (rebuilt, took, reads, after) = &self.rebuild;
        let no_downtime =
            reads.failed == 0 && reads.incomplete == 0 && *after == u64::try_from(s.accounts())?;
        report.record(Figure {
            bench: "projections.rebuild_elasticsearch_ms",
            value: took.as_secs_f64() * 1e3,
            unit: "ms",
            baseline: "the fresh projection's first catch-up of the same history into \
                       Elasticsearch (projections.catch_up_elasticsearch)"
                .into(),
            baseline_value: self.es.0.as_secs_f64() * 1e3,
            goal: Some((
                "no downtime: every read during the rebuild sees the whole model".into(),
                no_downtime,
            )),
            notes: format!(
                "rebuild_elasticsearch: {} events replayed into {} (was {}), alias switched, \
                 old index deleted, while the live runner followed the store; a reader counted \
                 the documents behind the alias every 50 ms: {} complete, {} incomplete, {} \
                 failed; {after} documents after",
                rebuilt.events,
                rebuilt.new_index,
                rebuilt.old_index.as_deref().unwrap_or("none"),
                reads.complete,
                reads.incomplete,
                reads.failed
            ),
        })?;

        let lag = &self.lag;
        let p99 = percentile_ms(&lag.samples, 99.0);
        report.record(Figure {
            bench: "projections.live_lag_p99_ms",
            value: p99,
            unit: "ms",
            baseline: "flush.timeout.ms, the longest a partial batch waits".into(),
            #[allow(clippy::cast_precision_loss, reason = "milliseconds")]
            baseline_value: self.flush_ms as f64,
            goal: None,
            notes: format!(
                "the Redis projection following the store (run) while {} events were appended \
                 at {} events/s ({} per append, each to a new account, started on schedule \
                 whether the one before finished or not; kept {:.0} events/s); lag().ms_behind \
                 sampled every 100 ms by a task of its own from the first append until caught \
                 up ({} samples): p50 {:.0} ms, p99 {p99:.0} ms, max {:.0} ms; caught up {:.0} \
                 ms after the last append; batch.size {}; an append (its commit included, \
                 before which its events cannot be read) took p50 {:.0} ms, p99 {:.0} ms, max \
                 {:.0} ms",
                lag.events,
                s.live_rate,
                s.live_per_append,
                per_second(lag.events, lag.appending),
                lag.samples.len(),
                percentile_ms(&lag.samples, 50.0),
                percentile_ms(&lag.samples, 100.0),
                lag.drained.as_secs_f64() * 1e3,
                s.batch,
                percentile_ms(&lag.appends, 50.0),
                percentile_ms(&lag.appends, 99.0),
                percentile_ms(&lag.appends, 100.0)
            ),
        })?;
        Ok(())
    }

    /// The Redis catch-up from memory, and the fastest the catch-up from PostgreSQL could go on
    /// this machine's cores for the CPU it used: where the Redis ratio is bound.
    fn record_redis_cpu(&self, report: &mut Report) -> Result<(), BenchError> {
        const PARTIES: [&str; 3] = ["keel-bench", "postgres", "redis-server"];
        let history = self.sizes.history();
        let (took, raw_took) = self.redis;
        let (cpu, raw_cpu) = &self.redis_cpu;
        let raw_rate = per_second(history, raw_took);
        let raw_note = format!(
            "the raw Redis pipelines of projections.catch_up_redis (SET document + SET version \
             key, the same final documents in the same groups); {}",
            raw_cpu.describe(&["keel-bench", "redis-server"])
        );

        let (memory_took, memory_cpu) = &self.from_memory;
        let value = per_second(history, *memory_took);
        report.record(Figure {
            bench: "projections.catch_up_redis_from_memory",
            value,
            unit: "events/s",
            baseline: raw_note.clone(),
            baseline_value: raw_rate,
            goal: None,
            notes: format!(
                "the catch-up of projections.catch_up_redis (same projection, sink and runner \
                 settings) from a MemoryStore holding the same {history} events: the \
                 projection's own part, with reading nearly free (no server, no wire, no \
                 decoding); {:.2} s; {}",
                memory_took.as_secs_f64(),
                memory_cpu.describe(&["keel-bench", "redis-server"])
            ),
        })?;

        if !cpu.measured() {
            eprintln!("projections.catch_up_redis_cpu_ceiling: not recorded, no CPU readings");
            return Ok(());
        }
        let used = cpu.of_all(&PARTIES);
        let floor = cpu.floor(used);
        let value = per_second(history, floor);
        report.record(Figure {
            bench: "projections.catch_up_redis_cpu_ceiling",
            value,
            unit: "events/s",
            baseline: raw_note,
            baseline_value: raw_rate,
            goal: None,
            notes: format!(
                "the fastest projections.catch_up_redis could go on this machine for the CPU \
                 it used: its {used:.2} CPU seconds spread over the {} cores, every core busy \
                 throughout ({:.2} s; it took {:.2} s); {}; a ratio below 0.8 here means the \
                 catch-up's 0.8 needs less CPU per event or more cores, not more overlap",
                cpu.cores,
                floor.as_secs_f64(),
                took.as_secs_f64(),
                cpu.describe(&PARTIES)
            ),
        })?;
        Ok(())
    }
}
