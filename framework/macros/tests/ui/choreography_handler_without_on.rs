use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "orders")]
#[choreography(step(name = "place", handler = Self::place, emits = "OrderPlaced"))]
struct Orders;

fn main() {}
