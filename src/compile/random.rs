//! Random search: the trials of `random = N`, sampled from `ranges` (and
//! one value of each `grid` parameter) by a seeded SplitMix64 generator,
//! so a render is the same on every machine and every run.
//!
//! Owns the sampling and the text of a sampled value. Values are rounded to
//! six significant digits and printed by Rust's own float formatting, so
//! neither the platform's `printf` nor a last-bit difference of its `ln`
//! and `exp` can change a rendered byte.

use std::collections::BTreeMap;

use modelctl_spec::model::{ParamRange, Sweep};

/// SplitMix64 (Steele, Lea and Flood, 2014): a fixed, fully specified
/// sequence for a given seed.
///
/// Hand-written on purpose rather than taken from `rand`: `rand` does not
/// promise the same values for a seed across its versions, and a sampled
/// trial is a rendered byte that must not move with a dependency update.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_unit() * n as f64) as usize).min(n - 1)
    }
}

/// The seed of a model's search without `seed`: FNV-1a of its name.
pub fn default_seed(model: &str) -> u64 {
    model.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The `trials` of a random search: for each, every range in parameter
/// order, then every grid parameter in order, one draw each.
pub fn sample(sweep: &Sweep, model: &str, trials: u32) -> Vec<BTreeMap<String, String>> {
    let seed = sweep
        .seed
        .map_or_else(|| default_seed(model), |s| u64::from(s.get()));
    let mut rng = SplitMix64(seed);
    (0..trials)
        .map(|_| {
            let mut trial = BTreeMap::new();
            for (name, range) in &sweep.ranges {
                trial.insert(name.to_string(), draw(&mut rng, range));
            }
            for (name, values) in sweep.grid.iter().flat_map(|g| g.iter()) {
                let value = values[rng.below(values.len())].clone();
                trial.insert(name.to_string(), value);
            }
            trial
        })
        .collect()
}

/// One value of `range`: uniform, or log-uniform; whole when asked.
fn draw(rng: &mut SplitMix64, range: &ParamRange) -> String {
    let u = rng.next_unit();
    if range.integer {
        let (lo, hi) = (range.min.ceil(), range.max.floor());
        let value = if range.log && lo > 0.0 {
            // Log-uniform over [lo, hi + 1), then down to a whole number.
            let (a, b) = (lo.ln(), (hi + 1.0).ln());
            (a + u * (b - a)).exp().floor()
        } else {
            lo + (u * (hi - lo + 1.0)).floor()
        };
        return format!("{}", value.clamp(lo, hi) as i64);
    }
    let value = if range.log {
        let (a, b) = (range.min.ln(), range.max.ln());
        (a + u * (b - a)).exp()
    } else {
        range.min + u * (range.max - range.min)
    };
    stable(value.clamp(range.min, range.max))
}

/// `value` rounded to six significant digits, in Rust's shortest form
/// (`0.00123457`, `42.5`).
fn stable(value: f64) -> String {
    let rounded: f64 = format!("{value:.5e}").parse().unwrap_or(value);
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_the_published_sequence() {
        // The reference implementation's first outputs for seed 0.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn values_print_the_same_everywhere() {
        assert_eq!(stable(0.001_234_567_89), "0.00123457");
        assert_eq!(stable(42.5), "42.5");
        assert_eq!(stable(1.0), "1");
    }
}
