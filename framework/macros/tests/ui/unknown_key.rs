use keel::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
enum AccountEvent {
    #[event(nmae = "AccountOpened")]
    Opened,
}

fn main() {}
