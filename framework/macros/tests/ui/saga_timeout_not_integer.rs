use keel::Saga;

#[derive(Saga)]
#[saga(step(name = "reserve", participant = "inventory", action = "Reserve", timeout_ms = "5s"))]
struct Order {
    sku: String,
}

fn main() {}
