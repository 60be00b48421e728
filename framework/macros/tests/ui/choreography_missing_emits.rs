use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "inventory")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = Self::reserve))]
struct Inventory;

fn main() {}
