//! The legacy schema and its starting customers and products.

use mysql_async::prelude::Queryable;

use super::rng::Rng;

/// The tables capture reads, in the order they are created.
pub const TABLES: [&str; 4] = ["customers", "products", "orders", "order_items"];

/// Customers created by `setup`.
pub const CUSTOMERS: i64 = 200;
/// Products created by `setup`.
pub const PRODUCTS: i64 = 40;

/// Drops the legacy database `db`, if it exists.
pub async fn drop_database(conn: &mut mysql_async::Conn, db: &str) -> mysql_async::Result<()> {
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await
}

/// Creates database `db` with the legacy tables (dropping an existing one).
pub async fn create(conn: &mut mysql_async::Conn, db: &str) -> mysql_async::Result<()> {
    drop_database(conn, db).await?;
    conn.query_drop(format!("CREATE DATABASE `{db}` CHARACTER SET utf8mb4"))
        .await?;
    conn.query_drop(format!("USE `{db}`")).await?;
    for ddl in [
        "CREATE TABLE customers (
            id BIGINT PRIMARY KEY,
            name VARCHAR(100) NOT NULL,
            email VARCHAR(200) NOT NULL,
            address VARCHAR(200) NOT NULL,
            credit_limit DECIMAL(10,2) NOT NULL,
            created_at DATETIME(6) NOT NULL)",
        "CREATE TABLE products (
            id BIGINT PRIMARY KEY,
            sku VARCHAR(32) NOT NULL,
            name VARCHAR(100) NOT NULL,
            price DECIMAL(10,2) NOT NULL,
            stock INT NOT NULL)",
        "CREATE TABLE orders (
            id BIGINT AUTO_INCREMENT PRIMARY KEY,
            customer_id BIGINT NOT NULL,
            status ENUM('placed','cancelled') NOT NULL,
            shipping_address VARCHAR(200) NOT NULL,
            total DECIMAL(12,2) NOT NULL,
            item_count INT NOT NULL,
            created_at DATETIME(6) NOT NULL,
            updated_at DATETIME(6) NOT NULL,
            FOREIGN KEY (customer_id) REFERENCES customers(id))",
        "CREATE TABLE order_items (
            id BIGINT AUTO_INCREMENT PRIMARY KEY,
            order_id BIGINT NOT NULL,
            product_id BIGINT NOT NULL,
            quantity INT NOT NULL,
            unit_price DECIMAL(10,2) NOT NULL,
            FOREIGN KEY (order_id) REFERENCES orders(id),
            FOREIGN KEY (product_id) REFERENCES products(id))",
    ] {
        conn.query_drop(ddl).await?;
    }
    Ok(())
}

/// A product as the load generator prices it.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// `products.id`.
    pub id: i64,
    /// `products.price` in cents.
    pub price_cents: i64,
}

/// Writes the starting customers and products of `seed`; returns the products.
pub async fn seed(conn: &mut mysql_async::Conn, seed: u64) -> mysql_async::Result<Vec<Product>> {
    let mut rng = Rng::new(seed);
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    for id in 1..=CUSTOMERS {
        // One customer in seven has a low limit: their larger orders are declined.
        let limit = if rng.chance(1.0 / 7.0) {
            rng.range(30, 120) * 100
        } else {
            1_000_000
        };
        tx.exec_drop(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, NOW(6))",
            (
                id,
                format!("Customer {id}"),
                format!("customer{id}@example.com"),
                format!("{id} Main Street"),
                cents_text(limit),
            ),
        )
        .await?;
    }
    let mut products = Vec::new();
    for id in 1..=PRODUCTS {
        let price_cents = rng.range(200, 6000);
        let stock = rng.range(40, 240);
        tx.exec_drop(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?)",
            (
                id,
                format!("SKU-{id:04}"),
                format!("Product {id}"),
                cents_text(price_cents),
                stock,
            ),
        )
        .await?;
        products.push(Product { id, price_cents });
    }
    tx.commit().await?;
    Ok(products)
}

/// Reads the products back (for a load run after `setup`).
pub async fn products(conn: &mut mysql_async::Conn) -> mysql_async::Result<Vec<Product>> {
    let rows: Vec<(i64, String)> = conn
        .query("SELECT id, CAST(price AS CHAR) FROM products ORDER BY id")
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, price)| Product {
            id,
            price_cents: parse_cents(&price).unwrap_or(0),
        })
        .collect())
}

/// `1234` → `"12.34"`.
pub fn cents_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `"12.34"` (a DECIMAL as text, as capture writes it with `decimal.handling.mode=string`) → `1234`.
pub fn parse_cents(text: &str) -> Option<i64> {
    let (units, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let fraction = format!("{fraction:0<2}");
    let units: i64 = units.parse().ok()?;
    let fraction: i64 = fraction.get(..2)?.parse().ok()?;
    Some(units * 100 + if units < 0 { -fraction } else { fraction })
}

#[cfg(test)]
mod tests {
    use super::{cents_text, parse_cents};

    #[test]
    fn cents_survive_the_decimal_text() {
        for cents in [0, 5, 99, 100, 1234, 600_000] {
            assert_eq!(parse_cents(&cents_text(cents)), Some(cents));
        }
        assert_eq!(parse_cents("12.5"), Some(1250));
        assert_eq!(parse_cents("7"), Some(700));
        assert_eq!(parse_cents("x"), None);
    }
}
