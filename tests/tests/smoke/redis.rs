use std::time::Duration;

use keel::testing::stack;
use redis::AsyncCommands;

/// SET with a TTL is readable, reports its TTL, and is gone once the TTL passed.
#[tokio::test]
async fn set_get_with_ttl_expires() {
    let url = stack::redis().require().url;
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = crate::unique("smoke", '_');

    let _: () = conn.set_ex(&key, "value", 30).await.unwrap();
    let got: Option<String> = conn.get(&key).await.unwrap();
    assert_eq!(got.as_deref(), Some("value"));
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!((1..=30).contains(&ttl), "ttl {ttl}");

    let _: () = conn.pset_ex(&key, "short", 100).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gone: Option<String> = conn.get(&key).await.unwrap();
    assert_eq!(gone, None, "the key expired");
}
