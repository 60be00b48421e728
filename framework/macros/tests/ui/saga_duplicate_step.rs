use keel::Saga;

#[derive(Saga)]
#[saga(step(name = "reserve", participant = "inventory", action = "Reserve"))]
#[saga(step(name = "reserve", participant = "payment", action = "Capture"))]
struct Order {
    sku: String,
}

fn main() {}
