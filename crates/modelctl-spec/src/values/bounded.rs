//! Whole numbers with bounds: GPU counts, retries, replica counts, batch
//! sizes, sweep parallelism, canary weights.
//!
//! Each is its own newtype made by [`bounded_int!`]: `Deserialize` rejects a
//! value outside the range with the type's own message and hint (so the error
//! points at the value in the file), and the JSON Schema carries the same
//! `minimum` and `maximum`, so an editor flags the value before CI does.

use super::ValueError;

/// Declares a `u32` newtype that accepts `$min..=$max`. `$error` turns a
/// rejected value (as written, so negative numbers too) into the message and
/// hint a user sees; `$desc` is the schema's description.
macro_rules! bounded_int {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, desc = $desc:expr, error = $error:expr $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(into = "u32")]
        pub struct $name(u32);

        impl $name {
            /// The smallest value accepted.
            pub const MIN: u32 = $min;
            /// The largest value accepted.
            pub const MAX: u32 = $max;

            /// The value.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = $crate::values::ValueError;
            fn try_from(v: i64) -> Result<Self, Self::Error> {
                match u32::try_from(v) {
                    Ok(n) if (Self::MIN..=Self::MAX).contains(&n) => Ok(Self(n)),
                    _ => {
                        let error: fn(i64) -> $crate::values::ValueError = $error;
                        Err(error(v))
                    }
                }
            }
        }

        impl TryFrom<u32> for $name {
            type Error = $crate::values::ValueError;
            fn try_from(v: u32) -> Result<Self, Self::Error> {
                Self::try_from(i64::from(v))
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                de.deserialize_i64($crate::values::bounded::BoundedVisitor::<$name>::new())
            }
        }

        impl $crate::values::bounded::Bounded for $name {
            const MIN: u32 = $min;
            const MAX: u32 = $max;
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "integer",
                    "description": $desc,
                    "minimum": $min,
                    "maximum": $max,
                })
            }
        }
    };
}

/// What the shared visitor needs to know of a bounded type.
pub(crate) trait Bounded: TryFrom<i64, Error = ValueError> {
    const MIN: u32;
    const MAX: u32;
}

/// Reads an integer into a bounded type; any other TOML type is a wrong type
/// whose message names the range.
pub(crate) struct BoundedVisitor<T>(std::marker::PhantomData<T>);

impl<T> BoundedVisitor<T> {
    pub(crate) fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T: Bounded> serde::de::Visitor<'_> for BoundedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a whole number from {} to {}", T::MIN, T::MAX)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

/// Most GPUs one pod may request (the largest common node has 8).
pub const MAX_GPUS_PER_POD: u32 = 8;
/// Most retries of a training run.
pub const MAX_RETRIES: u32 = 100;
/// Most replicas of a serving Deployment.
pub const MAX_REPLICAS: u32 = 1000;
/// Largest `serve.batching.max-batch`.
pub const MAX_BATCH: u32 = 4096;

bounded_int!(
    /// A number of GPUs for one pod: 0 to 8 (the largest common node has 8).
    GpuCount,
    min = 0,
    max = MAX_GPUS_PER_POD,
    desc = "A number of GPUs for one pod, at most 8 (the largest common node has 8).",
    error = |v| {
        if v < 0 {
            ValueError::new(
                format!("{v} is not a number of GPUs"),
                format!("write a whole number from 0 to {MAX_GPUS_PER_POD}"),
            )
        } else {
            ValueError::new(
                format!("{v} GPUs is more than one node has ({MAX_GPUS_PER_POD})"),
                format!("request at most {MAX_GPUS_PER_POD} GPUs per pod"),
            )
        }
    },
);

/// Most nodes one training run spans.
pub const MAX_NODES: u32 = 512;

bounded_int!(
    /// How many nodes one training run spans: 1 to 512 (1, the default, is
    /// a plain Job on one node).
    NodeCount,
    min = 1,
    max = MAX_NODES,
    desc = "How many nodes one training run spans, 1 to 512; `resources` are per node.",
    error = |v| {
        if v < 1 {
            ValueError::new(
                format!("`nodes` is {v}, so no worker would run"),
                "write 1 for a run on one node, or more to spread it over several",
            )
        } else {
            ValueError::new(
                format!("`nodes` is {v}, more than {MAX_NODES}"),
                format!("spread a run over at most {MAX_NODES} nodes"),
            )
        }
    },
);

bounded_int!(
    /// How many times a failed training pod is retried: 0 to 100.
    Retries,
    min = 0,
    max = MAX_RETRIES,
    desc = "How many times a failed training pod is retried, at most 100.",
    error = |v| {
        if v < 0 {
            ValueError::new(
                "`retries` cannot be negative".to_owned(),
                format!("write a whole number from 0 to {MAX_RETRIES}"),
            )
        } else {
            ValueError::new(
                format!("`retries` is more than {MAX_RETRIES}"),
                "a run that fails this often will not succeed; fix the cause",
            )
        }
    },
);

bounded_int!(
    /// How many sweep combinations run at once: at least 1.
    Parallelism,
    min = 1,
    max = u32::MAX,
    desc = "How many combinations of the sweep run at the same time, at least 1.",
    error = |v| {
        if v == 0 {
            ValueError::new(
                "`parallelism` is 0, so no combination would run",
                "run at least 1 combination at a time",
            )
        } else {
            ValueError::new(
                format!("`parallelism` is {v}"),
                format!("write a whole number from 1 to {}", u32::MAX),
            )
        }
    },
);

bounded_int!(
    /// How many trials of a sweep may fail before the rest are stopped: 0 to 256.
    MaxFailedTrials,
    min = 0,
    max = 256,
    desc = "How many trials of the sweep may fail before the others are stopped (Kubernetes' `maxFailedIndexes`), at most the number of trials.",
    error = |v| {
        ValueError::new(
            format!("`max-failed-trials` is {v}"),
            "write a whole number from 0 to the number of trials (at most 256)",
        )
    },
);

bounded_int!(
    /// How many trials a random search runs: 1 to 256.
    RandomTrials,
    min = 1,
    max = 256,
    desc = "How many trials the random search runs, 1 to 256.",
    error = |v| {
        ValueError::new(
            format!("`random` is {v}"),
            "run from 1 to 256 trials; each is a training pod",
        )
    },
);

bounded_int!(
    /// The seed of a random search.
    Seed,
    min = 0,
    max = u32::MAX,
    desc = "The seed of the random search, a whole number from 0 to 4294967295.",
    error = |v| {
        ValueError::new(
            format!("`seed` is {v}"),
            format!("write a whole number from 0 to {}", u32::MAX),
        )
    },
);

bounded_int!(
    /// A fixed number of serving replicas: 0 (stop serving) to 1000.
    ReplicaCount,
    min = 0,
    max = MAX_REPLICAS,
    desc = "A fixed number of replicas, 0 (stop serving) to 1000.",
    error = |v| {
        if v < 0 {
            ValueError::new(
                format!("{v} is not a replica count"),
                format!("write a whole number from 0 to {MAX_REPLICAS}, or `{{ min, max }}`"),
            )
        } else {
            ValueError::new(
                format!("{v} replicas is more than {MAX_REPLICAS}"),
                format!("use at most {MAX_REPLICAS}"),
            )
        }
    },
);

bounded_int!(
    /// The fewest replicas the autoscaler keeps: 1 to 1000.
    MinReplicas,
    min = 1,
    max = MAX_REPLICAS,
    desc = "Fewest replicas the autoscaler keeps, 1 to 1000.",
    error = |v| {
        if v == 0 {
            ValueError::new(
                "`min` replicas is 0",
                "the autoscaler needs at least 1 replica; use `replicas = 0` to stop serving",
            )
        } else if v < 0 {
            ValueError::new(
                format!("`min` ({v}) is not a replica count"),
                format!("write a whole number from 1 to {MAX_REPLICAS}"),
            )
        } else {
            ValueError::new(
                format!("`min` ({v}) is more than {MAX_REPLICAS} replicas"),
                format!("use at most {MAX_REPLICAS}"),
            )
        }
    },
);

bounded_int!(
    /// The most replicas the autoscaler starts: 1 to 1000.
    MaxReplicas,
    min = 1,
    max = MAX_REPLICAS,
    desc = "Most replicas the autoscaler starts, 1 to 1000.",
    error = |v| {
        if v < 1 {
            ValueError::new(
                format!("`max` ({v}) is not a replica count"),
                format!("write a whole number from 1 to {MAX_REPLICAS}"),
            )
        } else {
            ValueError::new(
                format!("`max` ({v}) is more than {MAX_REPLICAS} replicas"),
                format!("use at most {MAX_REPLICAS}"),
            )
        }
    },
);

bounded_int!(
    /// Most rows `model-server` runs as one batch: 1 to 4096.
    BatchSize,
    min = 1,
    max = MAX_BATCH,
    desc = "Most rows run as one batch, 1 to 4096.",
    error = |_| ValueError::new(
        format!("`max-batch` must be from 1 to {MAX_BATCH}"),
        "leave `batching` out for lowest latency, or batch up to a few hundred rows",
    ),
);

/// Most rows `serve.batching.max-queue` may let wait.
pub const MAX_QUEUE: u32 = 1_000_000;

bounded_int!(
    /// Most rows that may wait for `model-server`'s engine: 1 to 1000000.
    QueueLimit,
    min = 1,
    max = MAX_QUEUE,
    desc = "Most rows that may wait for the engine, 1 to 1000000.",
    error = |_| ValueError::new(
        format!("`max-queue` must be from 1 to {MAX_QUEUE}"),
        "a few batches' worth of rows (e.g. 4 × `max-batch`) bounds the wait; leave it out for no limit",
    ),
);

bounded_int!(
    /// Percent of traffic a canary receives: 1 to 99 (100 would leave none
    /// for the main version).
    CanaryWeight,
    min = 1,
    max = 99,
    desc = "Percent of traffic sent to the canary, 1 to 99.",
    error = |v| {
        if v >= 100 {
            ValueError::new(
                format!("canary weight {v} leaves no traffic for the main version"),
                "use 1 to 99; to switch over completely, set `serve.model` and remove the canary",
            )
        } else {
            ValueError::new(
                format!("canary weight {v} sends no traffic to the canary"),
                "use 1 to 99 (percent of the traffic, without `%`)",
            )
        }
    },
);

/// Largest per-replica load target (`target-inflight`, `target-queue`).
pub const MAX_LOAD_TARGET: u32 = 100_000;

bounded_int!(
    /// Requests per replica an autoscaler aims for (`target-inflight`,
    /// `target-queue`): 1 to 100000.
    LoadTarget,
    min = 1,
    max = MAX_LOAD_TARGET,
    desc = "Requests per replica the autoscaler aims for, 1 to 100000.",
    error = |v| {
        if v <= 0 {
            ValueError::new(
                format!("a per-replica load target of {v} never scales"),
                "write the number of requests one replica should hold on average, at least 1",
            )
        } else {
            ValueError::new(
                format!("a per-replica load target of {v} is more than {MAX_LOAD_TARGET}"),
                format!("use at most {MAX_LOAD_TARGET}"),
            )
        }
    },
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(GpuCount::try_from(8i64).unwrap().get(), 8);
        assert_eq!(GpuCount::try_from(0i64).unwrap().get(), 0);
        assert!(GpuCount::try_from(9i64).is_err());
        assert!(GpuCount::try_from(-1i64).is_err());
        assert!(BatchSize::try_from(0i64).is_err());
        assert_eq!(BatchSize::try_from(4096u32).unwrap().get(), 4096);
        assert!(QueueLimit::try_from(0i64).is_err());
        assert_eq!(QueueLimit::try_from(MAX_QUEUE).unwrap().get(), MAX_QUEUE);
        let too_many = QueueLimit::try_from(i64::from(MAX_QUEUE) + 1).unwrap_err();
        assert_eq!(too_many.message, "`max-queue` must be from 1 to 1000000");
        assert!(CanaryWeight::try_from(100i64).is_err());
        assert_eq!(
            Parallelism::try_from(i64::from(u32::MAX)).unwrap().get(),
            u32::MAX
        );
        assert!(Parallelism::try_from(i64::from(u32::MAX) + 1).is_err());
    }

    #[test]
    fn errors_name_the_bound() {
        let e = Retries::try_from(101i64).unwrap_err();
        assert_eq!(e.message, "`retries` is more than 100");
        let e = MinReplicas::try_from(0i64).unwrap_err();
        assert_eq!(e.message, "`min` replicas is 0");
        let e = GpuCount::try_from(16i64).unwrap_err();
        assert_eq!(e.message, "16 GPUs is more than one node has (8)");
    }

    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct T {
        n: BatchSize,
    }

    #[test]
    fn deserialize_checks_range_and_type() {
        assert_eq!(toml::from_str::<T>("n = 32").unwrap().n.get(), 32);
        let e = toml::from_str::<T>("n = 5000").unwrap_err();
        assert!(
            e.message()
                .starts_with("`max-batch` must be from 1 to 4096"),
            "{}",
            e.message()
        );
        let e = toml::from_str::<T>("n = \"32\"").unwrap_err();
        assert_eq!(
            e.message(),
            "invalid type: string \"32\", expected a whole number from 1 to 4096"
        );
    }

    #[test]
    fn schema_carries_the_bounds() {
        let schema = schemars::schema_for!(T);
        let json = serde_json::to_value(&schema).unwrap();
        let def = &json["$defs"]["BatchSize"];
        assert_eq!(def["minimum"], 1);
        assert_eq!(def["maximum"], 4096);
    }
}
