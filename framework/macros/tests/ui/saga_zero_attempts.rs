use keel::Saga;

#[derive(Saga)]
#[saga(step(name = "reserve", participant = "inventory", action = "Reserve", attempts = 0))]
struct Order {
    sku: String,
}

fn main() {}
