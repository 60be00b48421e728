//! One connection's binlog events, in order: groups, table maps, rows, DDL, rotations and
//! MariaDB's own events, each turned into records or bookkeeping.

use std::time::Duration;

use mysql_common::binlog::events::EventData;
use tracing::debug;

use super::Capture;
use super::emit::{self, Emitter};
use super::state::{Group, Outcome, State};
use crate::binlog::events::{self, AnnotateRows, BinlogCheckpoint, GtidList, MariadbGtid, Rotate};
use crate::binlog::{ReadAhead, ReadEvent, checksum};
use crate::offsets::Offset;
use crate::{Error, Result};

/// Events taken while ready before pending offsets are handed over and stop and heartbeat
/// looked at.
const READY_IN_A_ROW: u32 = 1024;

impl Capture {
    pub(super) async fn consume(
        &self,
        events: &mut ReadAhead,
        out: &Emitter,
        state: &mut State,
        end: Option<&Offset>,
        failures: &mut u32,
    ) -> Result<Outcome> {
        let mut beat = (self.config.heartbeat_interval_ms > 0).then(|| {
            let period = Duration::from_millis(self.config.heartbeat_interval_ms);
            let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        let mut shutdown = self.shutdown.clone();
        let mut ready_in_a_row = 0u32;
        loop {
            // While events are ready, take them without the select below (its timers and
            // wake-ups cost more than decoding a small event); every so often, and whenever
            // the reader would wait, hand pending offsets over and look at stop and heartbeat.
            let ready = if ready_in_a_row < READY_IN_A_ROW {
                events.ready()
            } else {
                None
            };
            let next = match ready {
                Some(next) => {
                    ready_in_a_row += 1;
                    next
                }
                None => {
                    ready_in_a_row = 0;
                    out.flush().await?;
                    tokio::select! {
                        next = events.next() => next,
                        () = emit::stop_requested(&mut shutdown) => return Ok(Outcome::Stopped),
                        () = async {
                            match beat.as_mut() {
                                Some(i) => { i.tick().await; }
                                None => std::future::pending::<()>().await,
                            }
                        } => {
                            if self.heartbeat(out, state).await? {
                                return Ok(Outcome::Stopped);
                            }
                            continue;
                        }
                    }
                }
            };
            let Some(event) = next else { break };
            *failures = 0;
            if let Some(outcome) = self.on_event(out, state, end, event?).await? {
                return Ok(outcome);
            }
        }
        Err(Error::Mysql(mysql_async::Error::Io(
            mysql_async::IoError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server ended the binlog stream",
            )),
        )))
    }

    /// One event: records sent, bookkeeping done; the outcome when it ends the stream.
    async fn on_event(
        &self,
        out: &Emitter,
        state: &mut State,
        end: Option<&Offset>,
        read: ReadEvent,
    ) -> Result<Option<Outcome>> {
        let ReadEvent { event, checksum_ok } = read;
        if !checksum_ok {
            checksum::verify(&event, &state.file)?;
        }
        let header = event.header();
        let code = header.event_type_raw();
        let log_pos = u64::from(header.log_pos());
        let start = log_pos.saturating_sub(u64::from(header.event_size()));
        let decode_err = |e: events::EventError| Error::Decode {
            event: e.event.to_owned(),
            file: state.file.clone(),
            pos: start,
            reason: e.reason,
        };
        match code {
            events::MARIADB_GTID => {
                let g =
                    MariadbGtid::decode(event.data(), header.server_id()).map_err(decode_err)?;
                state.group = Some(Group::new(
                    &state.file,
                    start,
                    Some(g.gtid),
                    state.gtid_position(),
                    g.is_standalone(),
                    i64::from(header.timestamp()) * 1000,
                ));
            }
            events::ROTATE => {
                // mysql_common strips a checksum only once it has seen a format
                // description; the first (artificial) rotate comes before it.
                let body: Vec<u8> = event
                    .data()
                    .iter()
                    .copied()
                    .chain(event.checksum().into_iter().flatten())
                    .collect();
                let r = Rotate::decode(&events::header_bytes(&event), &body).map_err(decode_err)?;
                state.file = r.file;
                if state.group.is_none() {
                    // Between groups the GTID position is the same at the new file's start:
                    // an offset stored here (a heartbeat's) still resumes by GTID.
                    state.resume = Offset {
                        gtid_position: state.gtid_position(),
                        ..Offset::at(state.file.clone(), r.position)
                    };
                }
            }
            events::ANNOTATE_ROWS => {
                state.annotate = Some(
                    AnnotateRows::decode(event.data())
                        .map_err(decode_err)?
                        .query,
                );
            }
            events::BINLOG_CHECKPOINT => {
                let c = BinlogCheckpoint::decode(event.data()).map_err(decode_err)?;
                debug!(checkpoint = %c.file, "Binlog checkpoint.");
            }
            events::GTID_LIST => {
                let l = GtidList::decode(event.data()).map_err(decode_err)?;
                let gtids: Vec<String> = l.gtids.iter().map(ToString::to_string).collect();
                debug!(gtids = %gtids.join(","), "GTID list.");
            }
            code if events::is_undecodable_rows_event(code) => {
                return Err(Error::UnsupportedEvent {
                    name: events::event_type_name(code).to_owned(),
                    type_code: code,
                    file: state.file.clone(),
                    pos: start,
                    hint:
                        "set log_bin_compress=OFF and binlog_row_value_options='' on the server; \
                           events already written this way cannot be captured"
                            .into(),
                });
            }
            _ => match event.read_data() {
                Ok(Some(EventData::TableMapEvent(t))) => {
                    // Every transaction repeats its tables' maps; only a changed one (DDL,
                    // a reused table id) invalidates what was built from the last, and is
                    // checked against the schema history.
                    let same = state.table_maps.get(&t.table_id()) == Some(&t);
                    if !same {
                        state.tables.remove(&t.table_id());
                        self.check_table_map(state, &t, &header, start).await?;
                        state.table_maps.insert(t.table_id(), t.into_owned());
                    }
                }
                Ok(Some(EventData::RowsEvent(rows))) => {
                    let records = self.rows_to_records(&event, &rows, state, start)?;
                    for record in records {
                        if self.send(out, state, record).await? {
                            return Ok(Some(Outcome::Stopped));
                        }
                    }
                }
                Ok(Some(EventData::XidEvent(_))) => {
                    if self.end_group(out, state, log_pos).await? {
                        return Ok(Some(Outcome::Stopped));
                    }
                }
                Ok(Some(EventData::QueryEvent(q))) => {
                    let query = q.query();
                    if query != "BEGIN"
                        && query != "COMMIT"
                        && self
                            .on_statement(out, state, &query, &q.schema(), &header, start)
                            .await?
                    {
                        return Ok(Some(Outcome::Stopped));
                    }
                    if query == "BEGIN" {
                        if state.group.is_none() {
                            state.group = Some(Group::new(
                                &state.file,
                                start,
                                None,
                                state.gtid_position(),
                                false,
                                i64::from(header.timestamp()) * 1000,
                            ));
                        }
                    } else if (query == "COMMIT"
                        || state.group.as_ref().is_none_or(|g| g.standalone))
                        && self.end_group(out, state, log_pos).await?
                    {
                        return Ok(Some(Outcome::Stopped));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    return Err(Error::Decode {
                        event: events::event_type_name(code).to_owned(),
                        file: state.file.clone(),
                        pos: start,
                        reason: error.to_string(),
                    });
                }
            },
        }
        if let Some(end) = end
            && state.group.is_none()
            && log_pos > 0
            && Offset::at(state.file.clone(), log_pos).reached(&end.file, end.pos)
        {
            return Ok(Some(Outcome::ReachedEnd));
        }
        Ok(None)
    }
}
