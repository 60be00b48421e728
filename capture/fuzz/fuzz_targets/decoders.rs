//! Arbitrary bytes into every MariaDB event decoder keel-capture owns: each must return a value
//! or an `EventError`, never panic. The first byte picks the decoder; the rest is the body
//! (ROTATE also takes a 19-byte header from it).
#![no_main]

use keel_capture::binlog::events::{AnnotateRows, BinlogCheckpoint, GtidList, MariadbGtid, Rotate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => drop(AnnotateRows::decode(body)),
        1 => drop(BinlogCheckpoint::decode(body)),
        2 => drop(MariadbGtid::decode(body, 1)),
        3 => drop(GtidList::decode(body)),
        _ => {
            if body.len() >= 19 {
                let mut header = [0u8; 19];
                header.copy_from_slice(&body[..19]);
                drop(Rotate::decode(&header, &body[19..]));
            }
        }
    }
});
