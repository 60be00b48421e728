use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "inventory")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = "reserve", emits = "InventoryReserved"))]
struct Inventory;

fn main() {}
