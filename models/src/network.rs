//! Road-network vocabulary shared by the generator, the features and the server.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Functional class of a road segment, from busiest to quietest.
///
/// Service levels (SLA days), traffic exposure and crew priorities all depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadClass {
    Arterial,
    Collector,
    Local,
}

impl RoadClass {
    pub const ALL: [RoadClass; 3] = [RoadClass::Arterial, RoadClass::Collector, RoadClass::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            RoadClass::Arterial => "arterial",
            RoadClass::Collector => "collector",
            RoadClass::Local => "local",
        }
    }
}

impl fmt::Display for RoadClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name a road class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRoadClass(pub String);

impl fmt::Display for UnknownRoadClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a road class (expected arterial, collector or local)",
            self.0
        )
    }
}

impl std::error::Error for UnknownRoadClass {}

impl FromStr for RoadClass {
    type Err = UnknownRoadClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoadClass::ALL
            .into_iter()
            .find(|class| class.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRoadClass(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn road_classes_parse_from_their_names_in_any_case() {
        for class in RoadClass::ALL {
            assert_eq!(
                class.as_str().to_uppercase().parse::<RoadClass>(),
                Ok(class)
            );
        }
    }

    #[test]
    fn an_unknown_road_class_is_named_in_the_error() {
        let err = "motorway".parse::<RoadClass>().unwrap_err();
        assert!(err.to_string().contains("motorway"));
    }
}
