use keel::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
#[serde(rename_all = "snake_case")]
enum AccountEvent {
    Opened,
    Closed,
}

fn main() {}
