//! Order-preserving parallel map over a slice, on scoped standard threads.
//!
//! Owns how rendering uses the machine's cores: the input is split into one
//! contiguous chunk per core and the results are joined in input order, so
//! the output is the same bytes whatever the core count. Small inputs stay
//! on the calling thread.

use std::num::NonZeroUsize;
use std::thread;

/// Below this many items the work runs on the calling thread.
const MIN_PARALLEL: usize = 64;

/// `items.iter().map(f)` collected in order, computed on all cores.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if cores < 2 || items.len() < MIN_PARALLEL {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(cores);
    let f = &f;
    thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for worker in workers {
            match worker.join() {
                Ok(part) => out.extend(part),
                // A panic in a worker is a bug; surface it unchanged.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::map;

    #[test]
    fn keeps_input_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = map(&items, |x| x * 2);
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
