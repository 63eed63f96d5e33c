//! A file's rows, one at a time, whatever its format: CSV, Open311 JSON or XML, or
//! Socrata JSON. Nothing holds a whole file: CSV is read record by record, JSON element
//! by element of its top-level array, and XML event by event. Every row comes out as
//! column names and text values, so each kind's importer reads all formats alike.

use super::mapping::{CheckedMapping, Format};
use super::{ImportError, NamedFile};
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::io::BufRead;
use std::rc::Rc;

/// The column names of rows: a file's header, or one JSON object's keys.
#[derive(Debug, Default)]
pub struct Names {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Names {
    fn new(list: Vec<String>) -> Names {
        let index = list
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        Names { list, index }
    }
}

/// One row: where it is, and its cells by column name.
#[derive(Debug)]
pub struct Row {
    /// The row's line in a CSV file (the header is line 1), or the record's number in a
    /// JSON or XML file (the first is 1).
    pub line: u64,
    names: Rc<Names>,
    values: Vec<String>,
}

impl Row {
    /// The cell of a column, as written.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.names
            .index
            .get(column)
            .and_then(|&i| self.values.get(i))
            .map(String::as_str)
    }

    /// Every cell with its column name.
    pub fn cells(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names
            .list
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().map(String::as_str))
    }
}

/// A row that could not be read as a row at all: where, and why.
#[derive(Debug)]
pub struct Unreadable {
    pub line: u64,
    pub reason: String,
}

/// What the caller does with each row; an error stops the file.
pub type OnRow<'a> = dyn FnMut(Result<Row, Unreadable>) -> Result<(), ImportError> + 'a;

/// Reads every row of `file` in turn; `consumed` follows how many of its bytes have
/// been read, for a progress bar.
pub fn each(
    file: &NamedFile,
    mapping: &CheckedMapping,
    consumed: &Cell<u64>,
    on_row: &mut OnRow<'_>,
) -> Result<(), ImportError> {
    let reader = std::io::BufReader::with_capacity(
        1 << 16,
        Counted {
            inner: open(file)?,
            consumed,
        },
    );
    match mapping.mapping.format {
        Format::Csv => csv_rows(file, mapping, reader, on_row),
        Format::Open311Json | Format::SocrataJson => json_rows(file, reader, on_row),
        Format::Open311Xml => xml_rows(file, reader, on_row),
    }
}

/// A reader that counts the bytes read through it.
struct Counted<'a, R> {
    inner: R,
    consumed: &'a Cell<u64>,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// The file, past a UTF-8 byte-order mark if it starts with one. (The csv crate skips a
/// mark itself, but then numbers every line one too low.)
fn open(file: &NamedFile) -> Result<std::io::BufReader<std::fs::File>, ImportError> {
    let unreadable = |e: std::io::Error| ImportError::File {
        file: file.name.clone(),
        reason: e.to_string(),
    };
    let mut reader = std::io::BufReader::with_capacity(
        1 << 16,
        std::fs::File::open(&file.path).map_err(unreadable)?,
    );
    if reader
        .fill_buf()
        .map_err(unreadable)?
        .starts_with(b"\xEF\xBB\xBF")
    {
        reader.consume(3);
    }
    Ok(reader)
}

fn csv_rows(
    file: &NamedFile,
    mapping: &CheckedMapping,
    reader: impl std::io::Read,
    on_row: &mut OnRow<'_>,
) -> Result<(), ImportError> {
    // Rows end at a line feed: with CR LF endings the csv crate would number every row
    // one line too low. A CR left at a row's end is trimmed with the cell.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .from_reader(reader);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::File {
            file: file.name.clone(),
            reason: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let names = Rc::new(Names::new(headers));
    // A column the mapping names must be in the header: a typo would otherwise read as
    // an empty column on every row.
    for column in mapping
        .mapping
        .columns
        .values()
        .chain(mapping.mapping.keep.iter())
    {
        if !names.index.contains_key(column) {
            return Err(ImportError::Header {
                file: file.name.clone(),
                column: column.clone(),
            });
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        // A row that does not read starts on the line after the last one that did.
        let next_line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(next_line, |p| p.line());
                on_row(Err(Unreadable {
                    line,
                    reason: e.to_string(),
                }))?;
                continue;
            }
        }
        let line = record.position().map_or(next_line, |p| p.line());
        if record.len() != names.list.len() {
            on_row(Err(Unreadable {
                line,
                reason: format!(
                    "has {} fields where the header has {}",
                    record.len(),
                    names.list.len()
                ),
            }))?;
            continue;
        }
        on_row(Ok(Row {
            line,
            names: Rc::clone(&names),
            values: record.iter().map(str::to_owned).collect(),
        }))?;
    }
}

/// A JSON object's leaves as columns: nested objects as `outer.inner`, arrays as
/// `outer.0`; `null` is no cell at all.
fn flatten(prefix: &str, value: Value, names: &mut Vec<String>, values: &mut Vec<String>) {
    let join = |key: &str| crate::domain::dotted(prefix, key);
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, inner) in map {
                flatten(&join(&key), inner, names, values);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.into_iter().enumerate() {
                flatten(&join(&i.to_string()), inner, names, values);
            }
        }
        Value::String(text) => {
            names.push(prefix.to_owned());
            values.push(text);
        }
        other => {
            names.push(prefix.to_owned());
            values.push(other.to_string());
        }
    }
}

/// Calls back with each element of a top-level JSON array as it is read.
struct EachElement<'a, 'b> {
    on_row: &'a mut OnRow<'b>,
    stopped: &'a mut Option<ImportError>,
}

impl<'de> Visitor<'de> for EachElement<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut number = 0;
        while let Some(element) = seq.next_element::<Value>()? {
            number += 1;
            let row = match element {
                Value::Object(_) => {
                    let (mut names, mut values) = (Vec::new(), Vec::new());
                    flatten("", element, &mut names, &mut values);
                    Ok(Row {
                        line: number,
                        names: Rc::new(Names::new(names)),
                        values,
                    })
                }
                other => Err(Unreadable {
                    line: number,
                    reason: format!("is not an object but {other}"),
                }),
            };
            if let Err(e) = (self.on_row)(row) {
                *self.stopped = Some(e);
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for EachElement<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

fn json_rows(
    file: &NamedFile,
    reader: impl std::io::Read,
    on_row: &mut OnRow<'_>,
) -> Result<(), ImportError> {
    let mut stopped = None;
    let mut json = serde_json::Deserializer::from_reader(reader);
    let read = EachElement {
        on_row,
        stopped: &mut stopped,
    }
    .deserialize(&mut json)
    .and_then(|()| json.end());
    match (stopped, read) {
        (Some(error), _) => Err(error),
        (None, Ok(())) => Ok(()),
        (None, Err(e)) => Err(ImportError::File {
            file: file.name.clone(),
            reason: format!("is not a JSON array of records: {e}"),
        }),
    }
}

/// Open311 XML: the root holds records (`<request>`), whose child elements are the
/// columns (deeper ones as `outer.inner`).
fn xml_rows(
    file: &NamedFile,
    reader: impl BufRead,
    on_row: &mut OnRow<'_>,
) -> Result<(), ImportError> {
    use quick_xml::events::Event;
    let broken = |reason: String| ImportError::File {
        file: file.name.clone(),
        reason: format!("is not well-formed XML: {reason}"),
    };
    // Text is trimmed per cell, not per event: an entity splits a cell's text into
    // several events, and the spaces around it belong to the cell.
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut number = 0;
    let (mut names, mut values): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut text = String::new();
    loop {
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| broken(format!("at byte {}: {e}", xml.buffer_position())))?;
        match event {
            Event::Eof => return Ok(()),
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Event::Empty(_) => {}
            Event::Text(e) => text.push_str(&e.xml_content().map_err(|e| broken(e.to_string()))?),
            Event::CData(e) => text.push_str(&e.xml_content().map_err(|e| broken(e.to_string()))?),
            Event::GeneralRef(e) => {
                let name = e.decode().map_err(|e| broken(e.to_string()))?;
                match e.resolve_char_ref().map_err(|e| broken(e.to_string()))? {
                    Some(c) => text.push(c),
                    None => match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => return Err(broken(format!("the entity &{name}; is not XML's"))),
                    },
                }
            }
            Event::End(_) => {
                match path.len() {
                    // A column ends: its text is the cell.
                    n if n >= 3 && !text.trim().is_empty() => {
                        names.push(path[2..].join("."));
                        values.push(text.trim().to_owned());
                    }
                    // A record ends.
                    2 => {
                        number += 1;
                        on_row(Ok(Row {
                            line: number,
                            names: Rc::new(Names::new(std::mem::take(&mut names))),
                            values: std::mem::take(&mut values),
                        }))?;
                    }
                    _ => {}
                }
                text.clear();
                path.pop();
            }
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(format: &str, text: &str) -> Vec<Result<Vec<(String, String)>, String>> {
        let mapping = super::super::mapping::Mapping::parse(&format!(
            "kind = \"reports\"\nsource = \"t\"\nformat = \"{format}\"\ntime_format = \"rfc3339\"\ntime_zone = \"UTC\"\n[columns]\nid = \"id\"\nrequested = \"at\"\n"
        ))
        .unwrap()
        .check(&crate::catalogue::Catalogue {
            services: Vec::new(),
            changed_at: chrono::NaiveDateTime::default(),
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        each(&NamedFile::at(&path), &mapping, &Cell::new(0), &mut |row| {
            out.push(
                row.map(|r| {
                    r.cells()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect()
                })
                .map_err(|u| format!("{}: {}", u.line, u.reason)),
            );
            Ok(())
        })
        .unwrap();
        out
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn socrata_json_objects_read_with_their_nested_location_as_columns() {
        let rows = rows_of(
            "socrata-json",
            r#"[{"id":"1","at":"2020-01-01T00:00:00Z","location":{"latitude":"41.8","longitude":"-87.6"},"n":3,"gone":null},
                {"id":"2","location":{"type":"Point","coordinates":[-87.6,41.8]}}, 7]"#,
        );
        assert_eq!(
            rows[0],
            Ok(pairs(&[
                ("at", "2020-01-01T00:00:00Z"),
                ("id", "1"),
                ("location.latitude", "41.8"),
                ("location.longitude", "-87.6"),
                ("n", "3"),
            ]))
        );
        assert_eq!(
            rows[1],
            Ok(pairs(&[
                ("id", "2"),
                ("location.coordinates.0", "-87.6"),
                ("location.coordinates.1", "41.8"),
                ("location.type", "Point"),
            ]))
        );
        assert_eq!(rows[2], Err("3: is not an object but 7".to_owned()));
    }

    #[test]
    fn open311_xml_requests_read_as_rows_with_entities_resolved() {
        let rows = rows_of(
            "open311-xml",
            "<?xml version=\"1.0\"?>\n<service_requests>\n<request><service_request_id>7</service_request_id>\n<description>Fish &amp; chips &#x263A;</description><media_url/></request>\n<request><service_request_id>8</service_request_id></request></service_requests>",
        );
        assert_eq!(
            rows,
            [
                Ok(pairs(&[
                    ("service_request_id", "7"),
                    ("description", "Fish & chips \u{263A}")
                ])),
                Ok(pairs(&[("service_request_id", "8")])),
            ]
        );
    }
}

/// Generated files for the row readers and the cell parsers of every shipped mapping
/// (`fuzz_` tests; set PROPTEST_CASES for a long run): rows or named refusals, never a
/// panic, whatever the file holds.
#[cfg(test)]
mod fuzz {
    use super::super::cells::Cells;
    use super::super::mapping::Mapping;
    use super::*;
    use proptest::prelude::*;

    const MAPPINGS: [&str; 8] = [
        include_str!("../../../data/mappings/houston-reports.toml"),
        include_str!("../../../data/mappings/chicago-socrata-reports.toml"),
        include_str!("../../../data/mappings/open311-json-reports.toml"),
        include_str!("../../../data/mappings/open311-xml-reports.toml"),
        include_str!("../../../data/mappings/syracuse-ratings.toml"),
        include_str!("../../../data/mappings/syracuse-repairs.toml"),
        include_str!("../../../data/mappings/kitchener-segment-attributes.toml"),
        include_str!("../../../data/mappings/ghcn-daily-weather.toml"),
    ];

    fn checked(text: &str) -> CheckedMapping {
        let services = crate::catalogue::load(None).expect("the built-in catalogue");
        Mapping::parse(text)
            .expect("a shipped mapping parses")
            .check(&crate::catalogue::Catalogue {
                services,
                changed_at: chrono::NaiveDateTime::default(),
            })
            .expect("a shipped mapping is valid")
    }

    thread_local! {
        /// Read once per thread: millions of cases need not check the mappings again.
        static CHECKED: Vec<CheckedMapping> = MAPPINGS.iter().map(|m| checked(m)).collect();
        /// One file per thread, written again for each case.
        static SCRATCH: tempfile::TempDir = tempfile::tempdir().expect("a folder");
    }

    /// Cell text as files hold it: dates and times in several shapes, numbers, words
    /// the mappings know, or anything.
    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            "20[0-9]{2}-[0-1][0-9]-[0-3][0-9]( [0-2][0-9]:[0-5][0-9]:[0-5][0-9])?",
            "[0-1]?[0-9]/[0-3]?[0-9]/(19|20)?[0-9]{2}( [0-9]{1,2}:[0-9]{2}( [AP]M)?)?",
            "-?[0-9]{1,4}(\\.[0-9]{1,9})?",
            Just("Unknown".to_owned()),
            Just("Closed".to_owned()),
            Just("Pothole".to_owned()),
            Just(String::new()),
            ".{0,24}",
        ]
    }

    /// A file for `mapping`: its own columns (and strangers) with generated cells in its
    /// format, or arbitrary bytes.
    fn file_for(
        mapping: &CheckedMapping,
        rows: &[Vec<String>],
        extra: &str,
        raw: &[u8],
    ) -> Vec<u8> {
        let mut columns: Vec<String> = mapping
            .kind()
            .roles()
            .iter()
            .filter_map(|role| mapping.column(role.name).map(str::to_owned))
            .collect();
        columns.push(extra.to_owned());
        let value = |row: &Vec<String>, i: usize| row.get(i).cloned().unwrap_or_default();
        let mut out = match mapping.mapping.format {
            Format::Csv => {
                let mut writer = csv::Writer::from_writer(Vec::new());
                let _ = writer.write_record(&columns);
                for row in rows {
                    let _ = writer.write_record((0..columns.len()).map(|i| value(row, i)));
                }
                writer.into_inner().unwrap_or_default()
            }
            Format::Open311Json | Format::SocrataJson => {
                let records: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|row| {
                        columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (c.clone(), serde_json::Value::from(value(row, i))))
                            .collect::<serde_json::Map<_, _>>()
                            .into()
                    })
                    .collect();
                serde_json::to_vec(&records).unwrap_or_default()
            }
            Format::Open311Xml => {
                let mut text = String::from("<service_requests>");
                for row in rows {
                    text.push_str("<request>");
                    for (i, c) in columns.iter().enumerate() {
                        text.push_str(&format!("<{c}>{}</{c}>", value(row, i)));
                    }
                    text.push_str("</request>");
                }
                text.push_str("</service_requests>");
                text.into_bytes()
            }
        };
        out.extend_from_slice(raw);
        out
    }

    proptest! {
        #[test]
        fn fuzz_import_rows_and_cells_are_read_without_panicking(
            which in 0..MAPPINGS.len(),
            rows in proptest::collection::vec(proptest::collection::vec(cell(), 0..16), 0..4),
            extra in ".{0,8}",
            raw in prop_oneof![
                Just(Vec::new()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ],
            only_raw in any::<bool>(),
        ) {
            let mapping = CHECKED.with(|all| all[which].clone());
            let bytes = if only_raw { raw.clone() } else { file_for(&mapping, &rows, &extra, &raw) };
            let path = SCRATCH.with(|dir| dir.path().join("rows"));
            std::fs::write(&path, &bytes).expect("written");
            let roles = mapping.kind().roles();
            let _ = each(&NamedFile::at(&path), &mapping, &Cell::new(0), &mut |row| {
                if let Ok(row) = row {
                    let cells = Cells::new(&mapping, &row);
                    for role in &roles {
                        let _ = cells.text(role.name);
                        let _ = cells.time(role.name);
                        let _ = cells.date(role.name);
                        let _ = cells.number(role.name);
                        let _ = cells.year(role.name);
                        let _ = cells.flag(role.name);
                        if let Some(text) = cells.text(role.name) {
                            let _ = mapping.utc(text);
                            let _ = mapping.date(text);
                            let _ = mapping.pavement(text);
                        }
                    }
                    let _ = cells.position();
                    let _ = super::super::locate::street_id(&cells);
                }
                Ok(())
            });
        }
    }
}
