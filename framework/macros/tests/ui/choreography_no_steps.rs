use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "inventory")]
struct Inventory;

fn main() {}
