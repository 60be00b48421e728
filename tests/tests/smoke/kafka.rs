use std::time::Duration;

use keel::testing::stack;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A record produced with a key and a header is consumed through a consumer group, and the
/// group's committed offset moves past it.
#[tokio::test(flavor = "multi_thread")]
async fn produce_then_consume_through_a_consumer_group() {
    let brokers = stack::kafka().require().url;
    let topic = crate::unique("smoke", '_');
    let group = crate::unique("smoke-group", '_');

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let headers = OwnedHeaders::new().insert(Header {
        key: "kind",
        value: Some("smoke"),
    });
    let delivery = producer
        .send(
            FutureRecord::to(&topic)
                .key("order-1")
                .payload("hello")
                .headers(headers),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let (partition, offset) = (delivery.partition, delivery.offset);

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a record within 30 s")
        .unwrap();
    assert_eq!(message.key(), Some(&b"order-1"[..]));
    assert_eq!(message.payload(), Some(&b"hello"[..]));
    assert_eq!((message.partition(), message.offset()), (partition, offset));
    let header = message.headers().expect("headers").get(0);
    assert_eq!((header.key, header.value), ("kind", Some(&b"smoke"[..])));
    consumer.commit_message(&message, CommitMode::Sync).unwrap();

    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, partition);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    let elem = committed
        .find_partition(&topic, partition)
        .expect("partition");
    assert_eq!(elem.offset(), Offset::Offset(offset + 1));

    admin
        .delete_topics(&[&topic], &AdminOptions::new())
        .await
        .unwrap();
}
