//! Work-order priority: a number made of named parts, so anyone can see why an order
//! ranks where it does (design §3).
//!
//! Each part is a weight (points, set by planners) times a factor between 0 and 1 (age
//! may reach 2 when an order is twice past its SLA). The priority is the sum of the
//! parts, stored with them; nothing else goes into it.

pub use crate::domain::Breakdown;
use crate::domain::FieldError;
use models::network::RoadClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many points each consideration is worth. Planners change them through
/// `PUT /api/v1/priority/weights`; the configured values apply until they do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Points for the most severe problem (severity 5 of 5).
    pub severity: f64,
    /// Points for a segment at the top of the latest risk ranking.
    pub risk: f64,
    /// Points for an arterial road (collectors get 0.6 of it, locals 0.3).
    pub road_class: f64,
    /// Points for traffic of `TRAFFIC_FULL_AADT` vehicles a day or more.
    pub traffic: f64,
    /// Points for `REPORTERS_FULL` or more distinct reporters.
    pub reporters: f64,
    /// Points for an order that has used up its SLA; twice past it, twice the points.
    pub age: f64,
    /// Points in the most vulnerable ward (vulnerability 1).
    pub vulnerability: f64,
    /// Severity (1–5) of a proactive inspection, which nobody has reported.
    pub inspection_severity: f64,
    /// Added to a category's default severity when a report answers an attribute so:
    /// `"pothole.size=large" = 1.0`. The largest answer over an issue's reports counts.
    pub attribute_severity: BTreeMap<String, f64>,
}

/// Traffic at which the traffic part is full, vehicles a day.
pub const TRAFFIC_FULL_AADT: f64 = 20_000.0;
/// Distinct reporters at which the reporters part is full.
pub const REPORTERS_FULL: f64 = 10.0;
/// How far past its SLA an order's age part keeps growing, in multiples of the SLA.
pub const AGE_CAP: f64 = 2.0;

impl Default for Weights {
    fn default() -> Self {
        let attribute_severity = [
            ("pothole.size=large", 1.0),
            ("pothole.size=small", -1.0),
            ("pothole.depth=very_deep", 1.0),
            ("pothole.depth=shallow", -0.5),
            ("pothole.in_traffic_lane=yes", 0.5),
            ("tree_hazard.blocking=road", 1.0),
            ("traffic_signal_fault.problem=dark", 1.0),
            ("sidewalk_damage.hazard=trip", 0.5),
            ("damaged_sign.sign_type=stop", 1.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Weights {
            severity: 30.0,
            risk: 20.0,
            road_class: 10.0,
            traffic: 10.0,
            reporters: 10.0,
            age: 15.0,
            vulnerability: 5.0,
            inspection_severity: 1.0,
            attribute_severity,
        }
    }
}

impl Weights {
    /// Refuses weights that would make priorities meaningless, naming the field.
    pub fn check(&self) -> Result<(), FieldError> {
        let points = [
            ("severity", self.severity),
            ("risk", self.risk),
            ("road_class", self.road_class),
            ("traffic", self.traffic),
            ("reporters", self.reporters),
            ("age", self.age),
            ("vulnerability", self.vulnerability),
        ];
        for (field, value) in points {
            if !(value.is_finite() && (0.0..=1000.0).contains(&value)) {
                return Err(FieldError::new(
                    field,
                    format!("{value} is not a weight between 0 and 1000 points"),
                ));
            }
        }
        if !(1.0..=5.0).contains(&self.inspection_severity) {
            return Err(FieldError::new(
                "inspection_severity",
                format!("{} is not a severity from 1 to 5", self.inspection_severity),
            ));
        }
        for (key, value) in &self.attribute_severity {
            let field = format!("attribute_severity.{key}");
            let shaped = key
                .split_once('.')
                .and_then(|(_, rest)| rest.split_once('='))
                .is_some_and(|(attribute, answer)| !attribute.is_empty() && !answer.is_empty());
            if !shaped {
                return Err(FieldError::new(
                    field,
                    "keys look like SERVICE.ATTRIBUTE=ANSWER, e.g. pothole.size=large",
                ));
            }
            if !(value.is_finite() && (-4.0..=4.0).contains(value)) {
                return Err(FieldError::new(
                    field,
                    format!("{value} is not a severity change between -4 and 4"),
                ));
            }
        }
        Ok(())
    }

    /// The severity (1–5) of a problem of the service `service_code`, whose default
    /// severity is `default_severity`, with these attribute answers.
    pub fn severity(
        &self,
        service_code: &str,
        default_severity: i32,
        answers: &[(String, String)],
    ) -> f64 {
        let bump = answers
            .iter()
            .filter_map(|(attribute, answer)| {
                self.attribute_severity
                    .get(&format!("{service_code}.{attribute}={answer}"))
            })
            .fold(None, |best: Option<f64>, v| {
                Some(best.map_or(*v, |b| b.max(*v)))
            });
        // Answers that lower severity only count when nothing raises it.
        let lowest = answers
            .iter()
            .filter_map(|(attribute, answer)| {
                self.attribute_severity
                    .get(&format!("{service_code}.{attribute}={answer}"))
            })
            .fold(0.0f64, |low, v| low.min(*v));
        let change = match bump {
            Some(b) if b > 0.0 => b,
            _ => lowest,
        };
        (f64::from(default_severity) + change).clamp(1.0, 5.0)
    }
}

/// What an order's priority is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// 1 (cosmetic) to 5 (dangerous).
    pub severity: f64,
    /// Where the segment stands in the latest risk ranking, 0 (safest) to 1 (riskiest);
    /// None when there is no segment or no scores yet.
    pub risk_percentile: Option<f64>,
    pub road_class: Option<RoadClass>,
    /// Vehicles a day.
    pub aadt: Option<f64>,
    pub distinct_reporters: u32,
    /// Days since the problem was first reported (or the inspection planned).
    pub age_days: f64,
    /// The SLA of the category on this class of road, days.
    pub sla_days: f64,
    /// 0 to 1; 0 outside any ward.
    pub ward_vulnerability: f64,
}

/// The share of the road-class weight each class gets.
fn class_factor(class: Option<RoadClass>) -> f64 {
    match class {
        Some(RoadClass::Arterial) => 1.0,
        Some(RoadClass::Collector) => 0.6,
        Some(RoadClass::Local) => 0.3,
        None => 0.0,
    }
}

/// The parts of the priority of an order with these inputs.
pub fn breakdown(weights: &Weights, inputs: &Inputs) -> Breakdown {
    let traffic = inputs
        .aadt
        .filter(|a| a.is_finite() && *a > 0.0)
        // Logarithmic: a street of 2,000 vehicles is half as exposed as one of 20,000
        // only in this sense, which matches how damage and danger grow with traffic.
        .map_or(0.0, |a| {
            ((1.0 + a).ln() / (1.0 + TRAFFIC_FULL_AADT).ln()).min(1.0)
        });
    let reporters =
        (f64::from(inputs.distinct_reporters).ln_1p() / REPORTERS_FULL.ln_1p()).min(1.0);
    let age = if inputs.sla_days > 0.0 {
        (inputs.age_days.max(0.0) / inputs.sla_days).min(AGE_CAP)
    } else {
        AGE_CAP
    };
    Breakdown {
        severity: weights.severity * (inputs.severity.clamp(1.0, 5.0) / 5.0),
        risk: weights.risk * inputs.risk_percentile.unwrap_or(0.0).clamp(0.0, 1.0),
        road_class: weights.road_class * class_factor(inputs.road_class),
        traffic: weights.traffic * traffic,
        reporters: weights.reporters * reporters,
        age: weights.age * age,
        vulnerability: weights.vulnerability * inputs.ward_vulnerability.clamp(0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            severity: 4.0,
            risk_percentile: Some(0.9),
            road_class: Some(RoadClass::Collector),
            aadt: Some(5_000.0),
            distinct_reporters: 3,
            age_days: 2.0,
            sla_days: 5.0,
            ward_vulnerability: 0.5,
        }
    }

    #[test]
    fn the_parts_sum_to_the_priority_and_each_stays_within_its_weight() {
        let weights = Weights::default();
        let parts = breakdown(&weights, &inputs());
        let sum = parts.severity
            + parts.risk
            + parts.road_class
            + parts.traffic
            + parts.reporters
            + parts.age
            + parts.vulnerability;
        assert_eq!(parts.total(), sum);
        assert!((parts.severity - 24.0).abs() < 1e-9);
        assert!((parts.risk - 18.0).abs() < 1e-9);
        assert!((parts.road_class - 6.0).abs() < 1e-9);
        assert!((parts.age - 6.0).abs() < 1e-9);
        assert!((parts.vulnerability - 2.5).abs() < 1e-9);
        assert!(parts.traffic > 0.0 && parts.traffic < weights.traffic);
        assert!(parts.reporters > 0.0 && parts.reporters < weights.reporters);
    }

    #[test]
    fn age_grows_past_the_sla_up_to_twice_its_weight() {
        let weights = Weights::default();
        let mut overdue = inputs();
        overdue.age_days = 100.0;
        assert_eq!(breakdown(&weights, &overdue).age, weights.age * AGE_CAP);
    }

    #[test]
    fn more_reporters_and_more_risk_never_lower_a_priority() {
        let weights = Weights::default();
        let base = breakdown(&weights, &inputs()).total();
        let mut more = inputs();
        more.distinct_reporters = 8;
        more.risk_percentile = Some(0.95);
        assert!(breakdown(&weights, &more).total() > base);
    }

    #[test]
    fn weights_out_of_range_are_refused_by_name() {
        let mut weights = Weights {
            risk: -1.0,
            ..Weights::default()
        };
        assert_eq!(weights.check().unwrap_err().field, "risk");
        weights.risk = 20.0;
        weights
            .attribute_severity
            .insert("size large".to_owned(), 1.0);
        assert_eq!(
            weights.check().unwrap_err().field,
            "attribute_severity.size large"
        );
    }
}
