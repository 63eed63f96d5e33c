//! Domain types that parse untrusted input at the boundary ("parse, don't validate").
//! Every parse error says which field was wrong and how to fix it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use std::fmt;
use std::str::FromStr;

/// A field of a client's input that could not be accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A WGS84 position. Longitude first, as in GeoJSON; degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub lon: f64,
    pub lat: f64,
}

impl Coordinates {
    /// Checks ranges and finiteness; `lat_field`/`lon_field` name the inputs in errors.
    pub fn new(lon: f64, lat: f64, lon_field: &str, lat_field: &str) -> Result<Self, FieldError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(FieldError::new(
                lat_field,
                format!("{lat} is not a latitude between -90 and 90 degrees"),
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(FieldError::new(
                lon_field,
                format!("{lon} is not a longitude between -180 and 180 degrees"),
            ));
        }
        Ok(Coordinates { lon, lat })
    }

    /// Parses the Open311 pair (`lat`, `long` by default); both or neither must be given.
    pub fn parse_pair(
        lat: Option<&str>,
        lon: Option<&str>,
        lat_field: &str,
        lon_field: &str,
    ) -> Result<Option<Self>, FieldError> {
        match (lat, lon) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(FieldError::new(
                lon_field,
                format!("is required when {lat_field} is given"),
            )),
            (None, Some(_)) => Err(FieldError::new(
                lat_field,
                format!("is required when {lon_field} is given"),
            )),
            (Some(lat), Some(lon)) => {
                let lat_value = parse_number(lat, lat_field)?;
                let lon_value = parse_number(lon, lon_field)?;
                Coordinates::new(lon_value, lat_value, lon_field, lat_field).map(Some)
            }
        }
    }

    /// Great-circle distance in metres (haversine, mean Earth radius).
    pub fn distance_m(self, other: Coordinates) -> f64 {
        use geo::{Distance, Haversine, Point};
        Haversine.distance(
            Point::new(self.lon, self.lat),
            Point::new(other.lon, other.lat),
        )
    }
}

/// Parses a finite decimal number, naming `field` in the error.
pub fn parse_number(raw: &str, field: &str) -> Result<f64, FieldError> {
    match raw.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(FieldError::new(field, format!("'{raw}' is not a number"))),
    }
}

/// An axis-aligned box in degrees. Does not cross the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub south_west: Coordinates,
    pub north_east: Coordinates,
}

impl BoundingBox {
    pub fn contains(&self, point: Coordinates) -> bool {
        (self.south_west.lat..=self.north_east.lat).contains(&point.lat)
            && (self.south_west.lon..=self.north_east.lon).contains(&point.lon)
    }

    pub fn centre(&self) -> Coordinates {
        Coordinates {
            lon: (self.south_west.lon + self.north_east.lon) / 2.0,
            lat: (self.south_west.lat + self.north_east.lat) / 2.0,
        }
    }

    /// The smallest box holding every point, or None if there are none.
    pub fn around(points: impl IntoIterator<Item = Coordinates>) -> Option<BoundingBox> {
        points.into_iter().fold(None, |bbox, p| {
            Some(match bbox {
                None => BoundingBox {
                    south_west: p,
                    north_east: p,
                },
                Some(b) => BoundingBox {
                    south_west: Coordinates {
                        lon: b.south_west.lon.min(p.lon),
                        lat: b.south_west.lat.min(p.lat),
                    },
                    north_east: Coordinates {
                        lon: b.north_east.lon.max(p.lon),
                        lat: b.north_east.lat.max(p.lat),
                    },
                },
            })
        })
    }

    pub fn intersects(&self, other: &BoundingBox) -> bool {
        self.south_west.lon <= other.north_east.lon
            && other.south_west.lon <= self.north_east.lon
            && self.south_west.lat <= other.north_east.lat
            && other.south_west.lat <= self.north_east.lat
    }
}

/// A circle on the ground: centre and radius in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub centre: Coordinates,
    pub radius_m: f64,
}

impl Circle {
    /// The largest radius a query may ask for, in metres. Larger areas belong in a
    /// bounding box or a ward query.
    pub const MAX_RADIUS_M: f64 = 50_000.0;

    /// A box that certainly holds the circle, for a cheap index pre-filter.
    pub fn bounding_box(&self) -> BoundingBox {
        const METRES_PER_DEGREE_LAT: f64 = 111_320.0;
        let dlat = self.radius_m / METRES_PER_DEGREE_LAT * 1.01;
        let cos_lat = self.centre.lat.to_radians().cos().max(0.01);
        let dlon = (dlat / cos_lat).min(180.0);
        BoundingBox {
            south_west: Coordinates {
                lon: (self.centre.lon - dlon).max(-180.0),
                lat: (self.centre.lat - dlat).max(-90.0),
            },
            north_east: Coordinates {
                lon: (self.centre.lon + dlon).min(180.0),
                lat: (self.centre.lat + dlat).min(90.0),
            },
        }
    }

    pub fn contains(&self, point: Coordinates) -> bool {
        self.centre.distance_m(point) <= self.radius_m
    }
}

/// `outer.inner`, or `inner` at the top: the place of a value nested in a document
/// (a JSON body's field, a flattened column).
pub fn dotted(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_owned()
    } else {
        format!("{outer}.{inner}")
    }
}

/// The first control character in `text` that Upkeep refuses: C0 controls (NUL, ESC, …)
/// other than tab, line feed and carriage return. XML cannot carry them, and no
/// person types them.
pub fn forbidden_control(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{7f}'))
}

/// Whether an issue still gathers reports: a closed issue takes none, and a later report
/// nearby starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum IssueStatus {
    Open,
    Closed,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Open => "open",
            IssueStatus::Closed => "closed",
        }
    }
}

impl FromStr for IssueStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(IssueStatus::Open),
            "closed" => Ok(IssueStatus::Closed),
            other => Err(format!("'{other}' is not open or closed")),
        }
    }
}

/// The life of a report inside Upkeep. Open311 only knows `open` and `closed`; the
/// richer states map onto those two (see [`RequestStatus::is_open`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum RequestStatus {
    /// Received, not yet looked at.
    Open,
    /// Seen by staff and queued for a crew.
    Acknowledged,
    /// A crew is working on it.
    InProgress,
    /// Repaired.
    Fixed,
    /// A crew went and found nothing to fix.
    NothingFound,
    /// Closed for another reason (out of scope, referred elsewhere, …).
    Closed,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 6] = [
        RequestStatus::Open,
        RequestStatus::Acknowledged,
        RequestStatus::InProgress,
        RequestStatus::Fixed,
        RequestStatus::NothingFound,
        RequestStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Acknowledged => "acknowledged",
            RequestStatus::InProgress => "in_progress",
            RequestStatus::Fixed => "fixed",
            RequestStatus::NothingFound => "nothing_found",
            RequestStatus::Closed => "closed",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestStatus::Open | RequestStatus::Acknowledged | RequestStatus::InProgress
        )
    }

    /// The Open311 word for this status.
    pub fn open311(self) -> Open311Status {
        if self.is_open() {
            Open311Status::Open
        } else {
            Open311Status::Closed
        }
    }

    /// Internal statuses that Open311's `open` or `closed` stands for.
    pub fn all_with(status: Open311Status) -> impl Iterator<Item = RequestStatus> {
        RequestStatus::ALL
            .into_iter()
            .filter(move |s| s.open311() == status)
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<_> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "'{s}' is not a status (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// Why a work order exists: a reported problem to repair, or a proactive inspection of
/// a segment the risk model ranks high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum WorkOrderKind {
    Repair,
    Inspection,
}

impl WorkOrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderKind::Repair => "repair",
            WorkOrderKind::Inspection => "inspection",
        }
    }
}

impl FromStr for WorkOrderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "repair" => Ok(WorkOrderKind::Repair),
            "inspection" => Ok(WorkOrderKind::Inspection),
            other => Err(format!("'{other}' is not repair or inspection")),
        }
    }
}

/// Where a work order is in its life: `new → assigned → in_progress → completed |
/// cancelled`, and back to `new` or `assigned` when a closed order is reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum WorkOrderStatus {
    New,
    Assigned,
    InProgress,
    Completed,
    Cancelled,
}

impl WorkOrderStatus {
    pub const ALL: [WorkOrderStatus; 5] = [
        WorkOrderStatus::New,
        WorkOrderStatus::Assigned,
        WorkOrderStatus::InProgress,
        WorkOrderStatus::Completed,
        WorkOrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderStatus::New => "new",
            WorkOrderStatus::Assigned => "assigned",
            WorkOrderStatus::InProgress => "in_progress",
            WorkOrderStatus::Completed => "completed",
            WorkOrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(
            self,
            WorkOrderStatus::Completed | WorkOrderStatus::Cancelled
        )
    }

    /// Whether an order may go from `self` to `to` in one step. Reopening (from completed
    /// or cancelled) is allowed here; the caller must also demand a reason.
    pub fn can_become(self, to: WorkOrderStatus) -> bool {
        use WorkOrderStatus::*;
        matches!(
            (self, to),
            (New, Assigned | Cancelled)
                | (Assigned, New | InProgress | Completed | Cancelled)
                | (InProgress, Assigned | Completed | Cancelled)
                | (Completed | Cancelled, New | Assigned)
        )
    }
}

impl fmt::Display for WorkOrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkOrderStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkOrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a work order status (expected new, assigned, in_progress, completed or cancelled)"
                )
            })
    }
}

/// What a completed order found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The problem was fixed (for an inspection: defects were found and fixed).
    Repaired,
    /// The crew found nothing to fix.
    NothingFound,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Repaired => "repaired",
            Outcome::NothingFound => "nothing_found",
        }
    }

    /// The status the order's reports get.
    pub fn report_status(self) -> RequestStatus {
        match self {
            Outcome::Repaired => RequestStatus::Fixed,
            Outcome::NothingFound => RequestStatus::NothingFound,
        }
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "repaired" => Ok(Outcome::Repaired),
            "nothing_found" => Ok(Outcome::NothingFound),
            other => Err(format!(
                "'{other}' is not an outcome (expected repaired or nothing_found)"
            )),
        }
    }
}

/// Open311's two statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Open311Status {
    Open,
    Closed,
}

impl Open311Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Open311Status::Open => "open",
            Open311Status::Closed => "closed",
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Open311Status::Open),
            "closed" => Ok(Open311Status::Closed),
            _ => Err(FieldError::new(
                field,
                format!("'{raw}' is not a status (expected open or closed)"),
            )),
        }
    }
}

/// How a service accepts requests (Open311 `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceType {
    /// Gets a `service_request_id` at once.
    Realtime,
    /// Gets a token; the id follows once the request is accepted.
    Batch,
    /// Accepted, but never tracked publicly.
    Blackbox,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Realtime => "realtime",
            ServiceType::Batch => "batch",
            ServiceType::Blackbox => "blackbox",
        }
    }
}

impl FromStr for ServiceType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "realtime" => Ok(ServiceType::Realtime),
            "batch" => Ok(ServiceType::Batch),
            "blackbox" => Ok(ServiceType::Blackbox),
            other => Err(format!(
                "'{other}' is not a service type (expected realtime, batch or blackbox)"
            )),
        }
    }
}

/// Who an API key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Role {
    /// An Open311 client application (a city app, FixMyStreet, …): may post reports.
    Client,
    /// A public-works crew.
    Crew,
    /// A planner: may change statuses, weights, models and the catalogue.
    Planner,
    /// Everything a planner may, and manage keys.
    Admin,
    /// Files reports for residents who phone or come to a counter (`channel`), with
    /// their name and number; otherwise sees what the public sees.
    Agent,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Client,
        Role::Crew,
        Role::Planner,
        Role::Admin,
        Role::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Crew => "crew",
            Role::Planner => "planner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    /// Staff are the city's own people, who may change a report's status. An agent
    /// only files reports, so is not among them.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Client | Role::Agent)
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s.trim())
            .ok_or_else(|| {
                format!("'{s}' is not a role (expected client, crew, planner, admin or agent)")
            })
    }
}

/// Formats a stored UTC time as Open311 wants it: W3C date-time to the second, with `Z`.
pub fn format_datetime(time: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&time)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a client's date-time: RFC 3339 with `T` or a space, `Z` or an offset, optional
/// fraction; a time without a zone is taken as UTC, and a bare date as its midnight UTC.
pub fn parse_datetime(raw: &str, field: &str) -> Result<NaiveDateTime, FieldError> {
    let text = raw.trim();
    let with_t = if text.len() > 10 && text.as_bytes()[10] == b' ' {
        format!("{}T{}", &text[..10], &text[11..])
    } else {
        text.to_owned()
    };
    if let Ok(time) = DateTime::parse_from_rfc3339(&with_t) {
        return Ok(time.with_timezone(&Utc).naive_utc());
    }
    // Query strings turn a '+' offset into a space; put it back.
    if with_t.len() > 19 {
        let repaired = with_t.replacen(' ', "+", 1);
        if let Ok(time) = DateTime::parse_from_rfc3339(&repaired) {
            return Ok(time.with_timezone(&Utc).naive_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(&with_t, format) {
            return Ok(time);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists"));
    }
    Err(FieldError::new(
        field,
        format!("'{raw}' is not a date-time; use ISO 8601 such as 2026-01-05T14:18:00Z"),
    ))
}

/// The current time as stored: UTC, truncated to microseconds, which both databases keep.
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    let micros = now.and_utc().timestamp_micros();
    DateTime::from_timestamp_micros(micros)
        .expect("now is representable")
        .naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_keeps_each_answer_once_whatever_its_reports_repeat() {
        let one = |pairs: &[(&str, AttributeAnswer)]| -> Answers {
            pairs
                .iter()
                .map(|(code, answer)| (code.to_string(), answer.clone()))
                .collect()
        };
        let medium = AttributeAnswer::One("medium".into());
        let mut kept = AnswerPairs::of(&one(&[("size", medium.clone())]));
        assert!(!kept.add(&one(&[("size", medium)])));
        assert!(kept.add(&one(&[
            ("size", AttributeAnswer::One("large".into())),
            (
                "hazards",
                AttributeAnswer::Many(vec!["glass".into(), "water".into()])
            ),
        ])));
        let pairs: Vec<(&str, &str)> = kept
            .as_slice()
            .iter()
            .map(|(a, v)| (a.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("hazards", "glass"),
                ("hazards", "water"),
                ("size", "large"),
                ("size", "medium")
            ]
        );
        assert!(!kept.add(&Answers::new()));
    }

    #[test]
    fn control_characters_other_than_tab_and_line_ends_are_refused() {
        assert_eq!(forbidden_control("Deep pothole\tnear the kerb\r\n"), None);
        assert_eq!(forbidden_control("a\u{0}b"), Some('\u{0}'));
        assert_eq!(forbidden_control("\u{1b}[31m"), Some('\u{1b}'));
        assert_eq!(forbidden_control("Straße, 北京"), None);
    }

    #[test]
    fn coordinates_outside_the_globe_name_the_field() {
        let err = Coordinates::parse_pair(Some("91"), Some("0"), "lat", "long").unwrap_err();
        assert_eq!(err.field, "lat");
        let err = Coordinates::parse_pair(Some("0"), Some("NaN"), "lat", "long").unwrap_err();
        assert_eq!(err.field, "long");
        let err = Coordinates::parse_pair(Some("0"), None, "lat", "long").unwrap_err();
        assert_eq!(err.field, "long");
    }

    #[test]
    fn haversine_distance_is_in_metres() {
        let a = Coordinates { lon: 0.0, lat: 0.0 };
        let b = Coordinates { lon: 0.0, lat: 1.0 };
        let d = a.distance_m(b);
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
    }

    #[test]
    fn a_circles_bounding_box_holds_every_point_of_the_circle() {
        let circle = Circle {
            centre: Coordinates {
                lon: -76.15,
                lat: 43.05,
            },
            radius_m: 500.0,
        };
        let bbox = circle.bounding_box();
        for step in 0..360 {
            let bearing = f64::from(step).to_radians();
            let dlat = 499.0 * bearing.cos() / 111_195.0;
            let dlon = 499.0 * bearing.sin() / (111_195.0 * 43.05_f64.to_radians().cos());
            let p = Coordinates {
                lon: -76.15 + dlon,
                lat: 43.05 + dlat,
            };
            assert!(circle.contains(p));
            assert!(bbox.contains(p));
        }
    }

    #[test]
    fn datetimes_are_accepted_with_a_space_an_offset_or_a_bare_date() {
        let expected = NaiveDate::from_ymd_opt(2026, 1, 5)
            .unwrap()
            .and_hms_opt(14, 18, 0)
            .unwrap();
        for raw in [
            "2026-01-05T14:18:00Z",
            "2026-01-05 14:18:00Z",
            "2026-01-05T15:18:00+01:00",
            "2026-01-05T09:18:00-05:00",
            "2026-01-05T15:18:00 01:00",
            "2026-01-05T14:18:00",
            "2026-01-05T14:18:00.000Z",
        ] {
            assert_eq!(parse_datetime(raw, "start_date"), Ok(expected), "{raw}");
        }
        assert_eq!(
            parse_datetime("2026-01-05", "start_date")
                .unwrap()
                .to_string(),
            "2026-01-05 00:00:00"
        );
        assert_eq!(
            parse_datetime("yesterday", "start_date").unwrap_err().field,
            "start_date"
        );
    }

    #[test]
    fn datetimes_are_published_to_the_second_in_utc() {
        let t = parse_datetime("2026-01-05T14:18:00.75Z", "x").unwrap();
        assert_eq!(format_datetime(t), "2026-01-05T14:18:00Z");
    }

    #[test]
    fn richer_statuses_map_onto_open311s_two() {
        assert_eq!(RequestStatus::InProgress.open311(), Open311Status::Open);
        assert_eq!(RequestStatus::NothingFound.open311(), Open311Status::Closed);
        assert_eq!(RequestStatus::all_with(Open311Status::Open).count(), 3);
        for status in RequestStatus::ALL {
            assert_eq!(status.as_str().parse::<RequestStatus>(), Ok(status));
        }
    }
}

/// The parts of a priority, in points. Their sum is the priority.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, Default)]
/// An order not yet prioritised stores `{}`, which reads as all zero.
#[serde(default)]
pub struct Breakdown {
    pub severity: f64,
    pub risk: f64,
    pub road_class: f64,
    pub traffic: f64,
    pub reporters: f64,
    pub age: f64,
    pub vulnerability: f64,
}

impl Breakdown {
    /// Every part, in a fixed order.
    pub fn parts(&self) -> [f64; 7] {
        [
            self.severity,
            self.risk,
            self.road_class,
            self.traffic,
            self.reporters,
            self.age,
            self.vulnerability,
        ]
    }

    pub fn total(&self) -> f64 {
        self.parts().iter().sum()
    }
}

/// A checked answer to an attribute, as stored with the request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AttributeAnswer {
    One(String),
    Many(Vec<String>),
}

/// A material used on a job.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub item: String,
    pub quantity: f64,
    pub unit: String,
}

/// A report's checked answers to its service's attributes, by attribute code.
pub type Answers = std::collections::BTreeMap<String, AttributeAnswer>;

/// The distinct (attribute, answer) pairs given by the reports of one issue, sorted: what
/// its order's severity reads, which asks which answers were given, not how often.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AnswerPairs(Vec<(String, String)>);

impl AnswerPairs {
    /// The pairs of one report's answers.
    pub fn of(answers: &Answers) -> AnswerPairs {
        let mut pairs = AnswerPairs::default();
        pairs.add(answers);
        pairs
    }

    /// Adds the pairs of a further report's answers; returns whether any was new.
    pub fn add(&mut self, answers: &Answers) -> bool {
        let mut added = false;
        for (attribute, answer) in answers {
            let values = match answer {
                AttributeAnswer::One(value) => std::slice::from_ref(value),
                AttributeAnswer::Many(values) => values.as_slice(),
            };
            for value in values {
                // Looked up borrowed: on the report writer nearly every answer is kept
                // already, and only a new one is copied.
                let found = self
                    .0
                    .binary_search_by(|(a, v)| (a.as_str(), v.as_str()).cmp(&(attribute, value)));
                if let Err(at) = found {
                    self.0.insert(at, (attribute.clone(), value.clone()));
                    added = true;
                }
            }
        }
        added
    }

    pub fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }
}

/// A segment's class as stored: one of Upkeep's road classes, or the source's own word
/// (`unclassified` when it gave none) for a street its mapping does not classify. Service
/// levels and priorities use the road class when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum SegmentClass {
    Road(models::network::RoadClass),
    Other(String),
}

impl SegmentClass {
    /// The class a word names: Upkeep's own, or else the source's word kept as it is.
    pub fn from_word(word: &str) -> SegmentClass {
        match word.parse() {
            Ok(class) => SegmentClass::Road(class),
            Err(_) => SegmentClass::Other(word.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            SegmentClass::Road(class) => class.as_str(),
            SegmentClass::Other(word) => word,
        }
    }

    /// The road class, unless the source's word names none.
    pub fn road_class(&self) -> Option<models::network::RoadClass> {
        match self {
            SegmentClass::Road(class) => Some(*class),
            SegmentClass::Other(_) => None,
        }
    }
}

impl FromStr for SegmentClass {
    type Err = String;

    /// Every word is a class: Upkeep's own, or the source's.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SegmentClass::from_word(s))
    }
}

/// Which learner a risk model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum ModelKind {
    Logistic,
    Forest,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Logistic => "logistic",
            ModelKind::Forest => "forest",
        }
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "logistic" => Ok(ModelKind::Logistic),
            "forest" => Ok(ModelKind::Forest),
            other => Err(format!(
                "'{other}' is not a model kind (logistic or forest)"
            )),
        }
    }
}
