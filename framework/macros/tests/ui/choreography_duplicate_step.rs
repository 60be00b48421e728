use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "inventory")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = Self::reserve, emits = "InventoryReserved"))]
#[choreography(step(name = "reserve", on = "OrderChanged", handler = Self::reserve, emits = "InventoryChanged"))]
struct Inventory;

fn main() {}
