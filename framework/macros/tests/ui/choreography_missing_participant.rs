use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = Self::reserve, emits = "InventoryReserved"))]
struct Inventory;

fn main() {}
