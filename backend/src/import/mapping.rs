//! A mapping file: how one city's export reads as Upkeep's records. It says what the
//! file is (its format and source), which column holds what, the time format and zone
//! of local times, and what the source's words (statuses, categories, repair kinds,
//! road classes) are in Upkeep's. Cities copy one from `data/mappings/` and edit it; a
//! new city needs no code change.

use crate::catalogue::Catalogue;
use crate::domain::{FieldError, RequestStatus, SegmentClass};
use chrono::format::{Parsed, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What kind of record a file holds; each has its own importer and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Past service requests.
    Reports,
    /// Maintenance and repair events on segments.
    Repairs,
    /// Dated condition ratings per segment.
    Ratings,
    /// Roughness (or other) readings from probe vehicles or phones.
    Sensors,
    /// A daily weather series per station (GHCN-Daily: date, TMIN, TMAX, PRCP).
    Weather,
    /// Attributes joined onto segments by their external id.
    SegmentAttributes,
}

/// One column a kind reads: its role in the mapping's `[columns]` and whether every
/// mapping of that kind must name it.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    pub name: &'static str,
    pub required: bool,
}

const fn role(name: &'static str, required: bool) -> Role {
    Role { name, required }
}

/// Roles every kind located by a point may use: `lat` and `lon`, or `point` (a
/// `POINT (lon lat)` or `(lat, lon)` text).
const POSITION: [Role; 3] = [role("lat", false), role("lon", false), role("point", false)];

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Reports,
        Kind::Repairs,
        Kind::Ratings,
        Kind::Sensors,
        Kind::Weather,
        Kind::SegmentAttributes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reports => "reports",
            Kind::Repairs => "repairs",
            Kind::Ratings => "ratings",
            Kind::Sensors => "sensors",
            Kind::Weather => "weather",
            Kind::SegmentAttributes => "segment-attributes",
        }
    }

    pub fn parse(word: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == word)
            .ok_or_else(|| {
                format!(
                    "'{word}' is not a kind of import; known: {}",
                    Kind::ALL.map(Kind::as_str).join(", ")
                )
            })
    }

    /// The columns this kind reads.
    pub fn roles(self) -> Vec<Role> {
        let own: &[Role] = match self {
            Kind::Reports => &[
                role("id", true),
                role("requested", true),
                role("updated", false),
                role("closed", false),
                role("status", false),
                role("service", false),
                role("address", false),
                role("description", false),
                role("channel", false),
            ],
            Kind::Repairs => &[
                role("id", false),
                role("performed", true),
                role("kind", false),
                role("segment", false),
                role("notes", false),
            ],
            Kind::Ratings => &[
                role("segment", true),
                role("rated", true),
                role("section", false),
                role("overall", false),
                role("cracking", false),
                role("patching", false),
                role("last_overlay", false),
                role("pavement", false),
                role("rater", false),
            ],
            Kind::Sensors => &[
                role("observed", true),
                role("value", true),
                role("segment", false),
                role("device", false),
            ],
            Kind::Weather => &[
                role("station", false),
                role("date", true),
                role("tmin", true),
                role("tmax", true),
                role("prcp", true),
            ],
            Kind::SegmentAttributes => &[
                role("segment", true),
                role("name", false),
                role("class", false),
                role("surface", false),
                role("aadt", false),
                role("bus_route", false),
                role("last_resurfaced", false),
                role("start_lon", false),
                role("start_lat", false),
                role("end_lon", false),
                role("end_lat", false),
            ],
        };
        let located = matches!(self, Kind::Reports | Kind::Repairs | Kind::Sensors);
        own.iter()
            .copied()
            .chain(located.then_some(POSITION).into_iter().flatten())
            .collect()
    }
}

/// How the file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Comma-separated (or `delimiter`) values with a header row; quoting, a BOM and
    /// CR LF endings as real exports have them.
    #[default]
    Csv,
    /// An Open311 GeoReport v2 `requests.json`: an array of request objects.
    Open311Json,
    /// An Open311 GeoReport v2 `requests.xml`: `<service_requests>` of `<request>`s.
    Open311Xml,
    /// A Socrata (SODA) JSON export: an array of objects whose nested objects (such as
    /// `location`) are read as `location.latitude`, and arrays as `location.coordinates.0`.
    SocrataJson,
}

/// A mapping file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// What the file holds.
    pub kind: Kind,
    /// The source's name. Records are unique within their source, so importing the same
    /// file again updates what is stored instead of adding to it.
    pub source: String,
    #[serde(default)]
    pub format: Format,
    /// The field separator of a CSV file, one character (`,` unless given).
    #[serde(default = "comma")]
    pub delimiter: char,
    /// How times are written: a `strftime` pattern (e.g. `%Y-%m-%d %H:%M:%S`; parts it
    /// leaves out are the first day, month or midnight, so `%m/%y` reads `12/98`), or
    /// `rfc3339`, `epoch_s` or `epoch_ms`.
    pub time_format: String,
    /// The IANA time zone of times written without an offset (e.g. `America/Chicago`).
    pub time_zone: String,
    /// Cell values that mean "no value" (e.g. `Unknown`); an empty cell always does.
    #[serde(default)]
    pub missing: Vec<String>,
    /// Role → the file's column (see each kind's roles).
    pub columns: BTreeMap<String, String>,
    /// Reports: source status → Upkeep status (`open`, `acknowledged`, `in_progress`,
    /// `fixed`, `nothing_found`, `closed`), or `duplicate` for the source's duplicates,
    /// which join their issue and are closed.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
    /// Reports: source category → catalogue service code.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Reports: the service of rows whose category is missing or not in `services`;
    /// without it, such rows are rejected.
    pub default_service: Option<String>,
    /// Repairs: the source's kind of work → a repair kind (a lower-case word such as
    /// `pothole_repair`, `resurfacing`, `water_main_break`).
    #[serde(default)]
    pub kinds: BTreeMap<String, String>,
    /// Repairs: the kind of rows whose kind is missing or not in `kinds`.
    pub default_kind: Option<String>,
    /// Segment attributes: the source's road classes → Upkeep's (`arterial`,
    /// `collector`, `local`).
    #[serde(default)]
    pub classes: BTreeMap<String, String>,
    /// Ratings and segment attributes: the source's pavement or surface words → a
    /// pavement family (`asphalt`, `concrete`, `composite` for asphalt over concrete,
    /// `thin` for surface treatments, thin asphalt without a base, gravel or brick).
    /// Words not listed are kept as written; the risk model recognises the usual ones.
    #[serde(default)]
    pub pavements: BTreeMap<String, String>,
    /// Segment attributes: further columns kept whole in the segment's properties.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Sensors: what the value measures (`roughness_iri_m_per_km` unless given).
    pub sensor_kind: Option<String>,
    /// Numbers of a role multiplied by a factor when read, e.g. GHCN's tenths of a
    /// degree (`tmin = 0.1`) or feet as metres.
    #[serde(default)]
    pub scale: BTreeMap<String, f64>,
    /// Repairs and sensors located by a point: how far from a segment it may be, metres
    /// (the server's snap limit unless given).
    pub snap_limit_m: Option<f64>,
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

/// How times are written, checked.
#[derive(Debug, Clone)]
enum TimeFormat {
    Pattern(String),
    Rfc3339,
    EpochSeconds,
    EpochMillis,
}

/// A mapping checked against the catalogue, ready to read rows with.
#[derive(Debug, Clone)]
pub struct CheckedMapping {
    pub mapping: Mapping,
    pub zone: Tz,
    /// The field separator as the CSV reader takes it (ASCII, checked).
    pub delimiter: u8,
    pub statuses: BTreeMap<String, StatusMeaning>,
    pub classes: BTreeMap<String, SegmentClass>,
    time_format: TimeFormat,
}

/// Whether a repair or sensor kind is a plain lower-case word.
fn is_word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 40
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Mapping {
    /// Reads a mapping file, checking it against `catalogue`; every problem is named.
    pub fn load(path: &Path, catalogue: &Catalogue) -> Result<CheckedMapping, Vec<FieldError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![FieldError::new(
                "mapping",
                format!("cannot read {}: {e}", path.display()),
            )]
        })?;
        Mapping::parse(&text)
            .map_err(|e| {
                vec![FieldError::new(
                    "mapping",
                    format!("{}: {e}", path.display()),
                )]
            })?
            .check(catalogue)
    }

    /// Reads a mapping's text (TOML).
    pub fn parse(text: &str) -> Result<Mapping, String> {
        toml::from_str(text).map_err(|e| format!("is not a mapping: {e}"))
    }

    /// Checks names, roles, zone and every translation; every problem is named.
    pub fn check(self, catalogue: &Catalogue) -> Result<CheckedMapping, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fault = |field: String, message: String| {
            errors.push(FieldError::new(field, message));
        };
        if self.source.trim().is_empty() {
            fault("source".into(), "must name the source".into());
        }
        let roles = self.kind.roles();
        for role in &roles {
            if role.required && !self.columns.contains_key(role.name) {
                fault(
                    format!("columns.{}", role.name),
                    format!("is required for {}", self.kind.as_str()),
                );
            }
        }
        for name in self.columns.keys() {
            if !roles.iter().any(|r| r.name == name) {
                fault(
                    format!("columns.{name}"),
                    format!(
                        "is not a column of {}; known: {}",
                        self.kind.as_str(),
                        roles.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        for name in self.scale.keys() {
            if !self.columns.contains_key(name) {
                fault(format!("scale.{name}"), "names no mapped column".into());
            }
        }
        let has = |name: &str| self.columns.contains_key(name);
        if has("lat") != has("lon") {
            fault(
                "columns".into(),
                "names one of lat and lon without the other".into(),
            );
        }
        if matches!(self.kind, Kind::Repairs | Kind::Sensors)
            && !has("segment")
            && !has("point")
            && !has("lat")
        {
            fault(
                "columns".into(),
                "needs segment (the segment's external id), or lat and lon, or point".into(),
            );
        }
        let delimiter = u8::try_from(self.delimiter)
            .ok()
            .filter(|d| d.is_ascii() && *d != b'"');
        if delimiter.is_none() {
            fault(
                "delimiter".into(),
                format!(
                    "'{}' is not a one-byte separator other than '\"'",
                    self.delimiter
                ),
            );
        }
        let time_format = match self.time_format.as_str() {
            "rfc3339" => TimeFormat::Rfc3339,
            "epoch_s" => TimeFormat::EpochSeconds,
            "epoch_ms" => TimeFormat::EpochMillis,
            pattern => {
                let broken = StrftimeItems::new(pattern)
                    .any(|item| matches!(item, chrono::format::Item::Error));
                if broken || pattern.trim().is_empty() {
                    fault(
                        "time_format".into(),
                        format!(
                            "'{pattern}' is not a strftime pattern, rfc3339, epoch_s or epoch_ms"
                        ),
                    );
                }
                TimeFormat::Pattern(pattern.to_owned())
            }
        };
        let zone = self.time_zone.parse::<Tz>().ok();
        if zone.is_none() {
            fault(
                "time_zone".into(),
                format!(
                    "'{}' is not an IANA time zone (e.g. America/Chicago)",
                    self.time_zone
                ),
            );
        }
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
                Err(why) => fault(
                    format!("statuses.{source_word}"),
                    format!("{why}, nor duplicate"),
                ),
            }
        }
        for (category, code) in self
            .services
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(self.default_service.iter().map(|v| ("default_service", v)))
        {
            if catalogue.get(code).is_none() {
                fault(
                    format!("services.{category}"),
                    format!("'{code}' is not a service code of the catalogue"),
                );
            }
        }
        for (source_word, kind) in self
            .kinds
            .iter()
            .map(|(k, v)| (format!("kinds.{k}"), v))
            .chain(
                self.default_kind
                    .iter()
                    .map(|v| ("default_kind".to_owned(), v)),
            )
            .chain(
                self.sensor_kind
                    .iter()
                    .map(|v| ("sensor_kind".to_owned(), v)),
            )
        {
            if !is_word(kind) {
                fault(
                    source_word,
                    format!("'{kind}' is not a lower-case word (letters, digits, _)"),
                );
            }
        }
        let mut classes = BTreeMap::new();
        for (source_word, ours) in &self.classes {
            match SegmentClass::from_word(ours) {
                class @ SegmentClass::Road(_) => {
                    classes.insert(source_word.clone(), class);
                }
                SegmentClass::Other(_) => fault(
                    format!("classes.{source_word}"),
                    format!("'{ours}' is not an Upkeep road class (arterial, collector, local)"),
                ),
            }
        }
        for (source_word, ours) in &self.pavements {
            if !models::risk::features::Pavement::ALL
                .iter()
                .any(|p| p.as_str() == ours)
            {
                fault(
                    format!("pavements.{source_word}"),
                    format!(
                        "'{ours}' is not a pavement family (asphalt, concrete, composite, thin)"
                    ),
                );
            }
        }
        if self
            .snap_limit_m
            .is_some_and(|m| !(m > 0.0 && m <= 1_000.0))
        {
            fault(
                "snap_limit_m".into(),
                "must be more than 0 and at most 1000 metres".into(),
            );
        }
        match (zone, delimiter) {
            (Some(zone), Some(delimiter)) if errors.is_empty() => Ok(CheckedMapping {
                mapping: self,
                zone,
                delimiter,
                statuses,
                classes,
                time_format,
            }),
            _ => Err(errors),
        }
    }
}

impl CheckedMapping {
    pub fn kind(&self) -> Kind {
        self.mapping.kind
    }

    /// A pavement or surface word as stored: its family when the mapping translates it.
    pub fn pavement(&self, word: &str) -> String {
        self.mapping
            .pavements
            .get(word)
            .cloned()
            .unwrap_or_else(|| word.to_owned())
    }

    /// The file's column for `role`, if the mapping names one.
    pub fn column(&self, role: &str) -> Option<&str> {
        self.mapping.columns.get(role).map(String::as_str)
    }

    /// A time of the source as UTC. Local times (without an offset) are in the mapping's
    /// zone; one that a clock change skipped is refused, and one it repeated is read as
    /// the earlier of the two.
    pub fn utc(&self, text: &str) -> Result<NaiveDateTime, String> {
        let epoch = |scale: i64| {
            text.parse::<i64>()
                .ok()
                .and_then(|n| chrono::DateTime::from_timestamp_millis(n.checked_mul(scale)?))
                .map(|t| t.naive_utc())
                .ok_or_else(|| format!("'{text}' is not a time as {}", self.mapping.time_format))
        };
        let pattern = match &self.time_format {
            TimeFormat::EpochSeconds => return epoch(1_000),
            TimeFormat::EpochMillis => return epoch(1),
            TimeFormat::Rfc3339 => {
                return chrono::DateTime::parse_from_rfc3339(text)
                    .map(|t| t.naive_utc())
                    .map_err(|e| format!("'{text}' is not an RFC 3339 time: {e}"));
            }
            TimeFormat::Pattern(pattern) => pattern,
        };
        let wrong = |e: chrono::ParseError| format!("'{text}' is not a time as {pattern}: {e}");
        let parsed = filled(text, pattern, "time")?;
        if parsed.offset().is_some() {
            return parsed.to_datetime().map(|t| t.naive_utc()).map_err(wrong);
        }
        let local = parsed.to_naive_datetime_with_offset(0).map_err(wrong)?;
        self.zone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.naive_utc())
            .ok_or_else(|| format!("{text} did not exist in {} (a clock change)", self.zone))
    }

    /// A calendar day of the source, as written (no zone conversion: a day is a day).
    pub fn date(&self, text: &str) -> Result<NaiveDate, String> {
        match &self.time_format {
            TimeFormat::Pattern(pattern) => filled(text, pattern, "date")?
                .to_naive_date()
                .map_err(|e| format!("'{text}' is not a date as {pattern}: {e}")),
            _ => self.utc(text).map(|t| t.date()),
        }
    }

    /// Whether a cell holds nothing.
    pub fn is_missing(&self, value: &str) -> bool {
        let value = value.trim();
        value.is_empty() || self.mapping.missing.iter().any(|m| m == value)
    }

    /// The factor a role's numbers are multiplied by.
    pub fn scale(&self, role: &str) -> f64 {
        self.mapping.scale.get(role).copied().unwrap_or(1.0)
    }
}

/// `text` read with `pattern` (a `what`, for errors), what the pattern leaves out filled with the start of the
/// period it names (the first month, the first day, midnight).
fn filled(text: &str, pattern: &str, what: &str) -> Result<Parsed, String> {
    let wrong = |e: chrono::ParseError| format!("'{text}' is not a {what} as {pattern}: {e}");
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, StrftimeItems::new(pattern)).map_err(wrong)?;
    let dated = parsed.day().is_some() || parsed.ordinal().is_some();
    if parsed.month().is_none() && parsed.ordinal().is_none() && parsed.isoweek().is_none() {
        parsed.set_month(1).map_err(wrong)?;
    }
    if !dated && parsed.isoweek().is_none() {
        parsed.set_day(1).map_err(wrong)?;
    }
    if parsed.hour_div_12().is_none() {
        parsed.set_hour(0).map_err(wrong)?;
    }
    if parsed.minute().is_none() {
        parsed.set_minute(0).map_err(wrong)?;
    }
    Ok(parsed)
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

    fn mapping(time_format: &str, extra: &str) -> Mapping {
        Mapping::parse(&format!(
            "kind = \"reports\"\nsource = \"test\"\ntime_format = \"{time_format}\"\ntime_zone = \"America/Chicago\"\n{extra}\n[columns]\nid = \"ID\"\nrequested = \"MADE\"\n"
        ))
        .expect("a mapping")
    }

    #[test]
    fn every_problem_of_a_mapping_is_named_before_any_row_is_read() {
        let mut bad = mapping(
            "%Y-%m-%d %H:%M",
            "default_service = \"unicorns\"\n[statuses]\nDone = \"finished\"",
        );
        bad.time_zone = "Mars/Olympus".into();
        bad.columns.insert("colour".into(), "COLOUR".into());
        let errors = bad.check(&catalogue()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "columns.colour",
                "time_zone",
                "statuses.Done",
                "services.default_service"
            ]
        );
    }

    #[test]
    fn a_kind_that_needs_a_place_refuses_a_mapping_without_one() {
        let repairs = Mapping::parse(
            "kind = \"repairs\"\nsource = \"s\"\ntime_format = \"%Y\"\ntime_zone = \"UTC\"\ndefault_kind = \"Pothole\"\n[columns]\nperformed = \"WHEN\"\n",
        )
        .unwrap();
        let errors = repairs.check(&catalogue()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["columns", "default_kind"]);
    }

    #[test]
    fn local_times_become_utc_and_a_time_a_clock_change_skipped_is_refused() {
        let checked = mapping("%Y-%m-%d %H:%M", "")
            .check(&catalogue())
            .expect("a good mapping");
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

    #[test]
    fn a_pattern_without_a_day_or_a_time_reads_the_start_of_the_period() {
        let month = mapping("%m/%y", "").check(&catalogue()).unwrap();
        assert_eq!(month.date("12/98").unwrap().to_string(), "1998-12-01");
        assert_eq!(month.date("1/01").unwrap().to_string(), "2001-01-01");
        let day = mapping("%m/%d/%Y %H:%M", "").check(&catalogue()).unwrap();
        assert_eq!(
            day.utc("4/12/2016 7:54").unwrap().to_string(),
            "2016-04-12 12:54:00",
            "Chicago is UTC-5 in April"
        );
    }

    #[test]
    fn epoch_and_rfc3339_times_carry_their_own_zone() {
        let ms = mapping("epoch_ms", "").check(&catalogue()).unwrap();
        assert_eq!(
            ms.utc("1294963200000").unwrap().to_string(),
            "2011-01-14 00:00:00"
        );
        assert_eq!(ms.date("1294963200000").unwrap().to_string(), "2011-01-14");
        let rfc = mapping("rfc3339", "").check(&catalogue()).unwrap();
        assert_eq!(
            rfc.utc("2011-09-11T07:55:04-05:00").unwrap().to_string(),
            "2011-09-11 12:55:04"
        );
        let offset = mapping("%Y-%m-%dT%H:%M:%S%z", "")
            .check(&catalogue())
            .unwrap();
        assert_eq!(
            offset.utc("2011-09-11T07:55:04+0000").unwrap().to_string(),
            "2011-09-11 07:55:04"
        );
    }
}
