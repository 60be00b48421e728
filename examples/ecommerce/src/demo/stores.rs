//! Connections to every store the checks read: MariaDB, the event store, Redis,
//! Elasticsearch and Jaeger.

use keel::store::PostgresStore;

use crate::settings::Settings;

/// The stores of one deployment.
pub struct Stores {
    /// The settings they were opened with.
    pub settings: Settings,
    /// The legacy database.
    pub mariadb: mysql_async::Pool,
    /// The event store.
    pub events: PostgresStore,
    /// Redis.
    pub redis: redis::aio::MultiplexedConnection,
    /// Elasticsearch and Jaeger over HTTP.
    pub http: reqwest::Client,
}

impl Stores {
    /// Opens them; an unreachable service says `run make up`.
    pub async fn open(settings: &Settings) -> crate::Result<Self> {
        let names = settings.names();
        let mariadb = mysql_async::Pool::new(settings.mariadb_url(Some(&names.database)).as_str());
        let events = crate::store::connect(settings).await.map_err(|e| {
            format!(
                "the event store at {}: {e} (run make up)",
                settings.postgres
            )
        })?;
        let redis = redis::Client::open(settings.redis.as_str())?
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("redis at {}: {e} (run make up)", settings.redis))?;
        // The saga tables exist with either saga style (the checks query them).
        keel::sagas::store::PostgresSagaStore::from_pool(events.pool().clone()).await?;
        Ok(Self {
            settings: settings.clone(),
            mariadb,
            events,
            redis,
            http: reqwest::Client::new(),
        })
    }

    /// `<elasticsearch>/<path>`.
    pub fn es(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.settings.elasticsearch.trim_end_matches('/')
        )
    }
}
