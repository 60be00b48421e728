//! Dead letters in memory, for tests.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{DeadLetter, DeadLetterStore};
use crate::Result;

/// Dead letters in a list; clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryDeadLetters {
    letters: Arc<Mutex<Vec<DeadLetter>>>,
}

impl MemoryDeadLetters {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every letter, oldest first.
    pub fn all(&self) -> Vec<DeadLetter> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<DeadLetter>> {
        self.letters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DeadLetterStore for MemoryDeadLetters {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, letters: &[DeadLetter]) -> Result<()> {
        let mut stored = self.lock();
        for letter in letters {
            if !stored.iter().any(|s| s.same_record(letter)) {
                stored.push(letter.clone());
            }
        }
        Ok(())
    }

    async fn list(&self, projection: &str) -> Result<Vec<DeadLetter>> {
        Ok(self
            .lock()
            .iter()
            .filter(|l| l.projection == projection)
            .cloned()
            .collect())
    }
}
