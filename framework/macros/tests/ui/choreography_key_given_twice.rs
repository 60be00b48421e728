use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "inventory", name = "shipping")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = Self::reserve, emits = "InventoryReserved"))]
struct Inventory;

fn main() {}
