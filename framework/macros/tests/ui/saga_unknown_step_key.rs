use keel::Saga;

#[derive(Saga)]
#[saga(step(name = "reserve", participant = "inventory", action = "Reserve", retries = 3))]
struct Order {
    sku: String,
}

fn main() {}
