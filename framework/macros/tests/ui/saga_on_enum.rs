use keel::Saga;

#[derive(Saga)]
#[saga(step(name = "reserve", participant = "inventory", action = "Reserve"))]
enum Order {
    Placed,
}

fn main() {}
