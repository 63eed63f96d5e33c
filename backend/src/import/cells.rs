//! One row's cells read by role (`requested`, `segment`, `lat`…) through the mapping:
//! missing values, times in the source's zone, scaled numbers and positions, each fault
//! naming the file's own column.

use super::mapping::CheckedMapping;
use super::rows::Row;
use crate::domain::Coordinates;
use chrono::{NaiveDate, NaiveDateTime};

/// Why a row was refused: the file's column and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub column: String,
    pub reason: String,
}

impl Fault {
    pub fn new(column: impl Into<String>, reason: impl Into<String>) -> Fault {
        Fault {
            column: column.into(),
            reason: reason.into(),
        }
    }
}

/// A row as the mapping reads it.
pub struct Cells<'a> {
    pub mapping: &'a CheckedMapping,
    pub row: &'a Row,
}

impl<'a> Cells<'a> {
    pub fn new(mapping: &'a CheckedMapping, row: &'a Row) -> Cells<'a> {
        Cells { mapping, row }
    }

    pub fn line(&self) -> u64 {
        self.row.line
    }

    /// The file's name of a role's column (the role itself when the mapping has none).
    pub fn column(&self, role: &str) -> String {
        self.mapping.column(role).unwrap_or(role).to_owned()
    }

    /// A role's value, trimmed; `None` when the mapping has no such column or the cell
    /// holds nothing.
    pub fn text(&self, role: &str) -> Option<&'a str> {
        let value = self.row.get(self.mapping.column(role)?)?.trim();
        (!self.mapping.is_missing(value)).then_some(value)
    }

    pub fn required(&self, role: &str) -> Result<&'a str, Fault> {
        self.text(role)
            .ok_or_else(|| Fault::new(self.column(role), "is empty: every row needs it"))
    }

    fn parsed<T>(
        &self,
        role: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Fault> {
        self.text(role)
            .map(parse)
            .transpose()
            .map_err(|why| Fault::new(self.column(role), why))
    }

    /// A time as UTC.
    pub fn time(&self, role: &str) -> Result<Option<NaiveDateTime>, Fault> {
        self.parsed(role, |raw| self.mapping.utc(raw))
    }

    /// A calendar day.
    pub fn date(&self, role: &str) -> Result<Option<NaiveDate>, Fault> {
        self.parsed(role, |raw| self.mapping.date(raw))
    }

    /// A finite number, times the mapping's scale for the role.
    pub fn number(&self, role: &str) -> Result<Option<f64>, Fault> {
        let scale = self.mapping.scale(role);
        self.parsed(role, |raw| {
            raw.replace(',', "")
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                // Rounded so that tenths scaled read as written (-28 × 0.1 is -2.8).
                .map(|n| (n * scale * 1e9).round() / 1e9)
                .ok_or_else(|| format!("'{raw}' is not a number"))
        })
    }

    /// A year such as 1988 (`1988.0` too, as spreadsheets write it).
    pub fn year(&self, role: &str) -> Result<Option<i32>, Fault> {
        self.parsed(role, |raw| {
            raw.parse::<f64>()
                .ok()
                .filter(|y| y.fract() == 0.0 && (1800.0..=2200.0).contains(y))
                .map(|y| y as i32)
                .ok_or_else(|| format!("'{raw}' is not a year"))
        })
    }

    /// A yes/no value: yes, y, true, t, 1 or no, n, false, f, 0.
    pub fn flag(&self, role: &str) -> Result<Option<bool>, Fault> {
        self.parsed(role, |raw| match raw.to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "t" | "1" => Ok(true),
            "no" | "n" | "false" | "f" | "0" => Ok(false),
            _ => Err(format!("'{raw}' is not yes or no")),
        })
    }

    /// The row's position: `lat` and `lon`, or `point` as `POINT (lon lat)` or
    /// `(lat, lon)`.
    pub fn position(&self) -> Result<Option<Coordinates>, Fault> {
        if let Some(point) = self.text("point") {
            return parse_point(point)
                .map(Some)
                .map_err(|why| Fault::new(self.column("point"), why));
        }
        Coordinates::parse_pair(
            self.text("lat"),
            self.text("lon"),
            &self.column("lat"),
            &self.column("lon"),
        )
        .map_err(|e| Fault::new(e.field, e.message))
    }
}

/// `POINT (lon lat)` (WKT, longitude first) or `(lat, lon)` (as Socrata and many
/// exports write a location).
fn parse_point(text: &str) -> Result<Coordinates, String> {
    let wrong = || format!("'{text}' is not POINT (lon lat) or (lat, lon)");
    let number = |s: &str| s.trim().parse::<f64>().map_err(|_| wrong());
    let upper = text.trim().to_ascii_uppercase();
    let (lon, lat) = if let Some(rest) = upper.strip_prefix("POINT") {
        let inner = rest
            .trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(wrong)?;
        let mut parts = inner.split_whitespace();
        let (lon, lat) = (
            parts.next().ok_or_else(wrong)?,
            parts.next().ok_or_else(wrong)?,
        );
        if parts.next().is_some() {
            return Err(wrong());
        }
        (number(lon)?, number(lat)?)
    } else {
        let inner = upper
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(wrong)?;
        let (lat, lon) = inner.split_once(',').ok_or_else(wrong)?;
        (number(lon)?, number(lat)?)
    };
    Coordinates::new(lon, lat, "longitude", "latitude")
        .map_err(|e| format!("{wrong}: {e}", wrong = wrong()))
}

#[cfg(test)]
mod tests {
    use super::parse_point;

    #[test]
    fn a_point_reads_longitude_first_in_wkt_and_latitude_first_in_parentheses() {
        let wkt = parse_point("POINT (-87.6 41.8)").unwrap();
        assert_eq!((wkt.lon, wkt.lat), (-87.6, 41.8));
        let pair = parse_point("(41.8, -87.6)").unwrap();
        assert_eq!((pair.lon, pair.lat), (-87.6, 41.8));
        assert!(parse_point("(91, 0)").unwrap_err().contains("latitude"));
        assert!(parse_point("POINT (1)").is_err());
        assert!(parse_point("41.8 -87.6").is_err());
    }
}
