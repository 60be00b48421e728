use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
use elasticsearch::{Elasticsearch, IndexParts, SearchParts};
use keel::testing::stack;
use serde_json::{Value, json};

/// A document indexed, then refreshed, is found by a search.
#[tokio::test]
async fn index_refresh_and_search() {
    let url = stack::elasticsearch().require().url;
    let client = Elasticsearch::new(Transport::single_node(&url).unwrap());
    let index = crate::unique("smoke", '_');

    let indexed = client
        .index(IndexParts::IndexId(&index, "order-1"))
        .body(json!({"customer": "ada", "total": 42.5, "status": "confirmed"}))
        .send()
        .await
        .unwrap();
    assert!(
        indexed.status_code().is_success(),
        "{:?}",
        indexed.text().await
    );

    let refreshed = client
        .indices()
        .refresh(IndicesRefreshParts::Index(&[&index]))
        .send()
        .await
        .unwrap();
    assert!(refreshed.status_code().is_success());

    let found: Value = client
        .search(SearchParts::Index(&[&index]))
        .body(json!({"query": {"match": {"customer": "ada"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["hits"]["total"]["value"], 1, "{found}");
    assert_eq!(found["hits"]["hits"][0]["_id"], "order-1");
    assert_eq!(found["hits"]["hits"][0]["_source"]["status"], "confirmed");

    client
        .indices()
        .delete(IndicesDeleteParts::Index(&[&index]))
        .send()
        .await
        .unwrap();
}
