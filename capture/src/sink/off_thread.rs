//! Kafka clients dropped off the caller's thread.
//!
//! Dropping a rust-rdkafka client blocks: a producer purges and flushes again, every client
//! with a polling thread joins it (the thread polls in 100 ms waits), and librdkafka then
//! destroys its handle and broker threads. At the end of a capture run that is 0.1–0.5 s of
//! waiting after everything was already delivered and acknowledged, so the caller hands the
//! client to a short-lived thread instead.

use std::ops::Deref;

/// A value dropped on a thread of its own.
pub(crate) struct OffThread<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> OffThread<T> {
    /// Wraps `value`.
    pub(crate) fn new(value: T) -> Self {
        Self(Some(value))
    }
}

impl<T: Send + 'static> Deref for OffThread<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.0 {
            Some(value) => value,
            None => unreachable!("the value is only taken by drop"),
        }
    }
}

impl<T: Send + 'static> Drop for OffThread<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            drop_off_thread(value);
        }
    }
}

/// Drops `value` on a new thread; inline when no thread can be started.
fn drop_off_thread<T: Send + 'static>(value: T) {
    // On a spawn error the closure, and `value` with it, is dropped here.
    let _ = std::thread::Builder::new()
        .name("keel-kafka-drop".into())
        .spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::OffThread;

    /// Sends its dropping thread's id after a slow teardown.
    struct SlowTeardown(mpsc::Sender<std::thread::ThreadId>);

    impl Drop for SlowTeardown {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(300));
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn the_drop_returns_at_once_and_the_teardown_runs_on_another_thread() {
        let (tx, rx) = mpsc::channel();
        let wrapped = OffThread::new(SlowTeardown(tx));
        let started = Instant::now();
        drop(wrapped);
        assert!(started.elapsed() < Duration::from_millis(200));
        let dropped_on = rx.recv_timeout(Duration::from_secs(5)).expect("dropped");
        assert_ne!(dropped_on, std::thread::current().id());
    }
}
