use keel::Choreography;

#[derive(Choreography)]
#[choreography(participant = "inventory")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = Self::reserve, emits = "InventoryReserved"))]
struct Inventory;

fn main() {}
