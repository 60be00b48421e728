use keel::Saga;

#[derive(Saga)]
#[saga(step(name = "reserve", participant = "inventory"))]
struct Order {
    sku: String,
}

fn main() {}
