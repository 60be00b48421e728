use keel::Saga;

#[derive(Saga)]
#[saga(name = "order")]
struct Order {
    sku: String,
}

fn main() {}
