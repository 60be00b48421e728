use keel::testing::stack;
use sqlx::Connection as _;
use sqlx::postgres::PgPoolOptions;

/// A rolled-back transaction leaves nothing; a committed one is visible to another connection.
#[tokio::test]
async fn transaction_commits_and_rolls_back() {
    let url = stack::postgres().require().url;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS keel_smoke_tx (id UUID PRIMARY KEY, run UUID NOT NULL, note TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    // Rows of this run only, so parallel or earlier runs do not interfere.
    let run = uuid::Uuid::new_v4();
    let insert = "INSERT INTO keel_smoke_tx (id, run, note) VALUES ($1, $2, $3)";

    let mut tx = pool.begin().await.unwrap();
    sqlx::query(insert)
        .bind(uuid::Uuid::new_v4())
        .bind(run)
        .bind("rolled back")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let committed = uuid::Uuid::new_v4();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(insert)
        .bind(committed)
        .bind(run)
        .bind("committed")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM keel_smoke_tx WHERE run = $1")
        .bind(run)
        .fetch_all(&mut other)
        .await
        .unwrap();
    assert_eq!(ids, [committed]);
}
