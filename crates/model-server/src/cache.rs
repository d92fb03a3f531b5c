//! Precompute cache (`--cache-entries N`): a least-recently-used map from
//! the exact bytes of a request's inputs to the model's outputs, so an
//! identical request is answered without running the model.
//!
//! Keys are the full input bytes (names, types, shapes, elements), not a
//! hash of them, so two different requests can never share an answer.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::tensor::Tensor;

/// A bounded cache of predictions.
pub struct PredictionCache {
    entries: Mutex<LruCache<Vec<u8>, Arc<Vec<Tensor>>>>,
}

impl PredictionCache {
    /// A cache of `capacity` entries, or `None` when `capacity` is 0 (off).
    pub fn new(capacity: usize) -> Option<PredictionCache> {
        NonZeroUsize::new(capacity).map(|capacity| PredictionCache {
            entries: Mutex::new(LruCache::new(capacity)),
        })
    }

    /// The cache key of a request's inputs.
    pub fn key(inputs: &[Tensor]) -> Vec<u8> {
        let mut key = Vec::with_capacity(inputs.iter().map(|t| t.data.len() * 4 + 32).sum());
        for tensor in inputs {
            key.extend_from_slice(tensor.name.as_bytes());
            key.push(0);
            key.extend_from_slice(tensor.datatype().as_str().as_bytes());
            key.push(0);
            for dim in &tensor.shape {
                key.extend_from_slice(&(*dim as u64).to_le_bytes());
            }
            key.push(0xff);
            tensor.data.write_bytes(&mut key);
        }
        key
    }

    pub fn get(&self, key: &[u8]) -> Option<Arc<Vec<Tensor>>> {
        self.lock().get(key).cloned()
    }

    pub fn put(&self, key: Vec<u8>, outputs: Arc<Vec<Tensor>>) {
        self.lock().put(key, outputs);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Vec<u8>, Arc<Vec<Tensor>>>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorData;

    fn input(values: Vec<f32>) -> Vec<Tensor> {
        vec![Tensor::new(
            "x",
            vec![1, values.len()],
            TensorData::Fp32(values),
        )]
    }

    #[test]
    fn zero_capacity_turns_the_cache_off() {
        assert!(PredictionCache::new(0).is_none());
    }

    #[test]
    fn identical_inputs_hit_and_different_ones_miss() {
        let cache = PredictionCache::new(2).unwrap();
        let answer = Arc::new(input(vec![9.0]));
        cache.put(PredictionCache::key(&input(vec![1.0, 2.0])), answer.clone());
        assert_eq!(
            cache.get(&PredictionCache::key(&input(vec![1.0, 2.0]))),
            Some(answer)
        );
        assert_eq!(
            cache.get(&PredictionCache::key(&input(vec![2.0, 1.0]))),
            None
        );
    }

    #[test]
    fn least_recently_used_entry_is_evicted() {
        let cache = PredictionCache::new(1).unwrap();
        cache.put(PredictionCache::key(&input(vec![1.0])), Arc::new(vec![]));
        cache.put(PredictionCache::key(&input(vec![2.0])), Arc::new(vec![]));
        assert!(
            cache
                .get(&PredictionCache::key(&input(vec![1.0])))
                .is_none()
        );
    }
}
