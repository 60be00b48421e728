use keel::Choreography;

#[derive(Choreography)]
#[choreography(name = "order", participant = "inventory")]
#[choreography(step(name = "reserve", on = "OrderPlaced", handler = Self::reserve, emits = "InventoryReserved",
                    compensation(on = "PaymentFailed", emits = "InventoryReleased")))]
struct Inventory;

fn main() {}
