use keel::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
enum AccountEvent {
    #[event(version = 0)]
    Opened,
}

fn main() {}
