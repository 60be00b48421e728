use keel::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
enum AccountEvent {
    Opened,
    #[event(name = "Opened", version = 2)]
    Reopened,
}

fn main() {}
