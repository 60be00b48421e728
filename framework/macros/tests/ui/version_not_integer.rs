use keel::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
enum AccountEvent {
    #[event(version = "2")]
    Opened,
}

fn main() {}
