//! Dated condition ratings per segment (a pavement survey): overall, cracking and
//! patching grades, the last overlay year, the pavement type and who rated it. A rating
//! of a street applies to every segment cut from it. A last-overlay year also becomes a
//! dated resurfacing event, so features as of a past date see only overlays done by
//! then (a segment's `last_resurfaced` is only today's snapshot).

use super::locate::Locator;
use super::mapping::CheckedMapping;
use super::{Cells, Context, Fault, ImportError, Importer, Summary};
use crate::db::maintenance::ImportedMaintenance;
use crate::db::segment_ratings::{self, Grades, NewRating};
use crate::db::{Conn, DbResult};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};

pub struct Ratings<'a> {
    mapping: &'a CheckedMapping,
    locator: Locator<'a>,
    /// The grades of every (street, day, section) read in this import and the line
    /// they came from. Real surveys repeat a rating with other grades; the first
    /// stands, so importing the same files again changes nothing.
    seen: HashMap<(String, NaiveDate, String), (u64, Grades)>,
}

pub struct Rating {
    line: u64,
    /// One per segment of the street; none when the row repeats one read before.
    ratings: Vec<NewRating>,
}

impl<'a> Ratings<'a> {
    pub fn new(ctx: &Context<'a>, mapping: &'a CheckedMapping) -> Result<Self, ImportError> {
        Ok(Ratings {
            mapping,
            locator: Locator::load(ctx.db, ctx.segments, ctx.snap_limit_m)?,
            seen: HashMap::new(),
        })
    }
}

/// When an overlay of `year` is surely done: the year's last day. Dating it earlier
/// would let features as of a day in that year see work that may not have happened yet.
pub fn overlay_done(year: i32) -> Option<chrono::NaiveDateTime> {
    NaiveDate::from_ymd_opt(year, 12, 31)?.and_hms_opt(0, 0, 0)
}

impl Importer for Ratings<'_> {
    type Record = Rating;

    fn read(&mut self, cells: &Cells<'_>) -> Result<Rating, Fault> {
        let pieces = self.locator.street(cells)?.ok_or_else(|| {
            Fault::new(
                cells.column("segment"),
                "is empty: every rating names its segment",
            )
        })?;
        let rated_on = cells.date("rated")?.ok_or_else(|| {
            Fault::new(
                cells.column("rated"),
                "is empty: every rating needs its date",
            )
        })?;
        let last_overlay_year = cells.year("last_overlay")?;
        if last_overlay_year.is_some_and(|year| overlay_done(year).is_none()) {
            return Err(Fault::new(cells.column("last_overlay"), "is not a year"));
        }
        let now = crate::domain::now();
        let template = NewRating {
            segment_id: 0,
            source: self.mapping.mapping.source.clone(),
            rated_on,
            section: cells.text("section").unwrap_or_default().to_owned(),
            overall: cells.number("overall")?,
            cracking: cells.number("cracking")?,
            patching: cells.number("patching")?,
            last_overlay_year,
            pavement_type: cells.text("pavement").map(|w| self.mapping.pavement(w)),
            rater: cells.text("rater").map(str::to_owned),
            imported_at: now,
        };
        let street = super::locate::street_id(cells)
            .unwrap_or_default()
            .to_owned();
        let key = (street, rated_on, template.section.clone());
        match self.seen.get(&key) {
            Some((_, grades)) if *grades == template.grades() => {
                return Ok(Rating {
                    line: cells.line(),
                    ratings: Vec::new(),
                });
            }
            Some((line, _)) => {
                return Err(Fault::new(
                    cells.column("rated"),
                    format!(
                        "repeats the rating of the same street, day and section read before (line {line}) with other grades; the first stands"
                    ),
                ));
            }
            None => {
                self.seen.insert(key, (cells.line(), template.grades()));
            }
        }
        Ok(Rating {
            line: cells.line(),
            ratings: pieces
                .iter()
                .map(|&segment_id| NewRating {
                    segment_id,
                    ..template.clone()
                })
                .collect(),
        })
    }

    fn line(record: &Rating) -> u64 {
        record.line
    }

    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [Rating]) -> DbResult<Summary> {
        let source = &self.mapping.mapping.source;
        let segments: Vec<i64> = batch
            .iter()
            .flat_map(|r| r.ratings.iter().map(|x| x.segment_id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut stored = segment_ratings::known(conn, source, &segments)?;
        let mut counted = Summary::default();
        let mut new = Vec::new();
        let mut overlays = HashSet::new();
        for rating in batch.iter() {
            let (mut added, mut changed) = (false, false);
            for one in &rating.ratings {
                let key = (one.segment_id, one.rated_on, one.section.clone());
                match stored.get(&key) {
                    Some((_, grades)) if *grades == one.grades() => {}
                    Some((id, _)) => {
                        segment_ratings::update(conn, *id, one)?;
                        changed = true;
                    }
                    None => {
                        new.push(one.clone());
                        added = true;
                    }
                }
                stored.insert(key, (0, one.grades()));
                if let Some(year) = one.last_overlay_year {
                    overlays.insert((one.segment_id, year));
                }
            }
            // A row that repeats an earlier one has nothing of its own: already present.
            match (added, changed) {
                (true, _) => counted.imported += 1,
                (false, true) => counted.updated += 1,
                (false, false) => counted.already_present += 1,
            }
        }
        segment_ratings::insert(conn, &new)?;
        counted.derived =
            super::repairs::store_new_events(conn, source, overlay_events(source, overlays))?;
        Ok(counted)
    }
}

/// Each (segment, year) of last overlay as a resurfacing event.
fn overlay_events(source: &str, overlays: HashSet<(i64, i32)>) -> Vec<ImportedMaintenance> {
    overlays
        .into_iter()
        .filter_map(|(segment_id, year)| {
            Some(ImportedMaintenance {
                segment_id,
                kind: "resurfacing".to_owned(),
                performed_at: overlay_done(year)?,
                notes: Some(format!("last overlay {year}, from a condition rating")),
                source: source.to_owned(),
                external_id: format!("overlay:{year}"),
            })
        })
        .collect()
}
