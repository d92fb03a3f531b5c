//! The traffic split of a route: which Services receive its requests, and
//! what share each gets. A leaf that every route kind reads.

/// One Service receiving a share of the route's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend {
    /// Service name.
    pub service: String,
    /// Percent of the traffic (all backends sum to 100).
    pub weight: u32,
}

/// The backends of a route: the main Service alone, or the main Service and
/// the canary's with `canary_weight` percent.
pub(crate) fn backends(model: &str, canary: Option<(String, u32)>) -> Vec<Backend> {
    match canary {
        None => vec![Backend {
            service: model.to_owned(),
            weight: 100,
        }],
        Some((service, weight)) => {
            let weight = weight.min(100);
            vec![
                Backend {
                    service: model.to_owned(),
                    weight: 100 - weight,
                },
                Backend { service, weight },
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, backends};

    #[test]
    fn without_a_canary_the_main_service_gets_everything() {
        assert_eq!(
            backends("digits", None),
            [Backend {
                service: "digits".into(),
                weight: 100
            }]
        );
    }

    #[test]
    fn a_canary_takes_its_weight_from_the_main_service() {
        let b = backends("digits", Some(("digits-canary".into(), 10)));
        assert_eq!(
            b.iter().map(|b| b.weight).collect::<Vec<_>>(),
            [90, 10],
            "{b:?}"
        );
        assert_eq!(b[1].service, "digits-canary");
    }

    #[test]
    fn weights_never_exceed_100() {
        let b = backends("digits", Some(("digits-canary".into(), 250)));
        assert_eq!(b.iter().map(|b| b.weight).sum::<u32>(), 100);
    }
}
