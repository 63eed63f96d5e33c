//! A mapping file: how one city's export reads as Upkeep's records. It names the
//! columns, the time format and zone of local times, and what the source's statuses and
//! categories are in Upkeep's words. Cities copy one from `data/mappings/` and edit it;
//! no code changes for a new city.

use crate::catalogue::Catalogue;
use crate::domain::{FieldError, RequestStatus};
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A mapping for past service requests (`upkeep import reports`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportMapping {
    /// The source's name. A report's id is unique within its source, so importing the
    /// same file again updates what is stored instead of adding to it.
    pub source: String,
    /// The field separator, one character (`,` unless given).
    #[serde(default = "comma")]
    pub delimiter: char,
    /// How times are written, in `strftime` form (e.g. `%Y-%m-%d %H:%M:%S`).
    pub time_format: String,
    /// The IANA time zone of times written without an offset (e.g. `America/Chicago`).
    pub time_zone: String,
    /// Cell values that mean "no value" (e.g. `Unknown`); an empty cell always does.
    #[serde(default)]
    pub missing: Vec<String>,
    pub columns: ReportColumns,
    /// Source status → Upkeep status (`open`, `acknowledged`, `in_progress`, `fixed`,
    /// `nothing_found`, `closed`), or `duplicate` for the source's duplicates, which join
    /// their issue and are closed.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
    /// Source category → Upkeep service code.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// The service of rows whose category is missing or not in `services`; without
    /// it, such rows are rejected.
    pub default_service: Option<String>,
}

/// Which column holds what. Only `id` and `requested` are required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportColumns {
    pub id: String,
    pub requested: String,
    pub updated: Option<String>,
    pub closed: Option<String>,
    pub status: Option<String>,
    pub service: Option<String>,
    pub lat: Option<String>,
    pub lon: Option<String>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub channel: Option<String>,
}

fn comma() -> char {
    ','
}

/// What a source status means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMeaning {
    Status(RequestStatus),
    /// A duplicate of an earlier request: it joins that request's issue, closed.
    Duplicate,
}

/// A mapping checked against the catalogue, ready to read rows with.
#[derive(Debug, Clone)]
pub struct CheckedMapping {
    pub mapping: ReportMapping,
    pub zone: Tz,
    /// The field separator as the CSV reader takes it (ASCII, checked).
    pub delimiter: u8,
    pub statuses: BTreeMap<String, StatusMeaning>,
}

impl ReportMapping {
    /// Reads a mapping file, checking it against `catalogue`; every problem is named.
    pub fn load(path: &Path, catalogue: &Catalogue) -> Result<CheckedMapping, Vec<FieldError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![FieldError::new(
                "mapping",
                format!("cannot read {}: {e}", path.display()),
            )]
        })?;
        let mapping: ReportMapping = toml::from_str(&text).map_err(|e| {
            vec![FieldError::new(
                "mapping",
                format!("{} is not a report mapping: {e}", path.display()),
            )]
        })?;
        mapping.check(catalogue)
    }

    /// Checks names, zone, statuses and services; every problem is named.
    pub fn check(self, catalogue: &Catalogue) -> Result<CheckedMapping, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.source.trim().is_empty() {
            errors.push(FieldError::new("source", "must name the source"));
        }
        let delimiter = u8::try_from(self.delimiter)
            .ok()
            .filter(|d| d.is_ascii() && *d != b'"');
        if delimiter.is_none() {
            errors.push(FieldError::new(
                "delimiter",
                format!(
                    "'{}' is not a one-byte separator other than '\"'",
                    self.delimiter
                ),
            ));
        }
        let zone = self.time_zone.parse::<Tz>().map_err(|_| {
            FieldError::new(
                "time_zone",
                format!(
                    "'{}' is not an IANA time zone (e.g. America/Chicago)",
                    self.time_zone
                ),
            )
        });
        let mut statuses = BTreeMap::new();
        for (source_word, ours) in &self.statuses {
            let meaning = match ours.as_str() {
                "duplicate" => Ok(StatusMeaning::Duplicate),
                word => word.parse().map(StatusMeaning::Status),
            };
            match meaning {
                Ok(meaning) => {
                    statuses.insert(source_word.clone(), meaning);
                }
                Err(why) => errors.push(FieldError::new(
                    format!("statuses.{source_word}"),
                    format!("{why}, nor duplicate"),
                )),
            }
        }
        for (category, code) in self
            .services
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(self.default_service.iter().map(|v| ("default_service", v)))
        {
            if catalogue.get(code).is_none() {
                errors.push(FieldError::new(
                    format!("services.{category}"),
                    format!("'{code}' is not a service code of the catalogue"),
                ));
            }
        }
        match (zone, delimiter) {
            (Ok(zone), Some(delimiter)) if errors.is_empty() => Ok(CheckedMapping {
                mapping: self,
                zone,
                delimiter,
                statuses,
            }),
            (Ok(_), _) => Err(errors),
            (Err(e), _) => {
                errors.push(e);
                Err(errors)
            }
        }
    }
}

impl CheckedMapping {
    /// A local time of the source as UTC. A local time that a clock change skipped is
    /// refused; one it repeated is read as the earlier of the two.
    pub fn utc(&self, text: &str) -> Result<NaiveDateTime, String> {
        let local =
            NaiveDateTime::parse_from_str(text, &self.mapping.time_format).map_err(|e| {
                format!(
                    "'{text}' is not a time as {}: {e}",
                    self.mapping.time_format
                )
            })?;
        self.zone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.naive_utc())
            .ok_or_else(|| format!("{text} did not exist in {} (a clock change)", self.zone))
    }

    /// Whether a cell holds nothing.
    pub fn is_missing(&self, value: &str) -> bool {
        let value = value.trim();
        value.is_empty() || self.mapping.missing.iter().any(|m| m == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue {
            services: crate::catalogue::load(None).expect("the shipped catalogue"),
            changed_at: NaiveDateTime::default(),
        }
    }

    fn mapping(extra: &str) -> ReportMapping {
        toml::from_str(&format!(
            "source = \"test\"\ntime_format = \"%Y-%m-%d %H:%M\"\ntime_zone = \"America/Chicago\"\n{extra}\n[columns]\nid = \"ID\"\nrequested = \"MADE\"\n"
        ))
        .expect("a mapping")
    }

    #[test]
    fn every_problem_of_a_mapping_is_named_before_any_row_is_read() {
        let mut bad = mapping("default_service = \"unicorns\"\n[statuses]\nDone = \"finished\"");
        bad.time_zone = "Mars/Olympus".into();
        let errors = bad.check(&catalogue()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["statuses.Done", "services.default_service", "time_zone"]
        );
    }

    #[test]
    fn local_times_become_utc_and_a_time_a_clock_change_skipped_is_refused() {
        let checked = mapping("").check(&catalogue()).expect("a good mapping");
        let summer = checked.utc("2019-07-01 12:00").unwrap();
        assert_eq!(summer.to_string(), "2019-07-01 17:00:00", "CDT is UTC-5");
        let winter = checked.utc("2019-01-15 12:00").unwrap();
        assert_eq!(winter.to_string(), "2019-01-15 18:00:00", "CST is UTC-6");
        assert!(
            checked
                .utc("2019-03-10 02:30")
                .unwrap_err()
                .contains("clock change")
        );
        assert!(
            checked
                .utc("10/03/2019")
                .unwrap_err()
                .contains("is not a time")
        );
    }
}
