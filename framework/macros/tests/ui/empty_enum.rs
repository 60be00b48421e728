use keel::Event;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Event)]
enum AccountEvent {}

fn main() {}
