//! Every accepted report's position in memory, for searches by place without reading
//! the candidates from the database: the server answers "reports within 500 m" from an
//! R-tree and reads only the page it returns.
//!
//! The index follows the database, whoever writes to it (this server, another one, an
//! import). Before each search it reads the reports with ids above the greatest it
//! holds (one short read by primary key), so a report stored through another server is
//! found at once. Every few seconds it reads the reports accepted since a little before
//! the last one it saw, which catches a transaction that committed late with an earlier
//! id and queued reports accepted later; once a minute it compares its size with the
//! database's count up to the greatest id it holds and rebuilds on any difference. Reports this server
//! accepts are added as they are. Until the first load is done, and for
//! searches it cannot answer (filters by status, category or time), the database does
//! the work as before.

use crate::db::requests::{LocatedSince, located_since};
use crate::db::{Database, DbResult};
use crate::domain::Coordinates;
use crate::search::{Located, Window};
use chrono::{Duration, NaiveDateTime};
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};
use std::sync::RwLock;

/// How far before the latest acceptance seen each read starts again. Intake commits
/// within milliseconds; a transaction slower than this (an import) is caught by the
/// count check instead. Kept short because each read takes every report accepted in
/// it again: at 8,000 reports a second, ten seconds is 80,000 rows.
fn overlap() -> Duration {
    Duration::seconds(10)
}

/// An accepted report with a position: id, longitude, latitude, when it was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub lon: f64,
    pub lat: f64,
    pub requested_at: NaiveDateTime,
}

type Point = GeomWithData<[f64; 2], (i64, NaiveDateTime)>;

struct Loaded {
    tree: RTree<Point>,
    /// The latest acceptance time read from the database.
    watermark: Option<NaiveDateTime>,
    /// The greatest id held.
    max_id: i64,
}

/// The index, empty until [`ReportIndex::sync`] first loads it.
#[derive(Default)]
pub struct ReportIndex {
    loaded: RwLock<Option<Loaded>>,
}

impl ReportIndex {
    /// Whether searches can be answered from memory.
    pub fn is_ready(&self) -> bool {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// How many reports it holds (0 before the first load).
    pub fn len(&self) -> usize {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |l| l.tree.size())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The reports in `window`'s box, most recently made first (ties by id, highest
    /// first), as the database lists them; None before the first load.
    pub fn located(&self, window: &Window) -> Option<Vec<(i64, Located)>> {
        let guard = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        let loaded = guard.as_ref()?;
        let b = window.bbox;
        let envelope = AABB::from_corners(
            [b.south_west.lon, b.south_west.lat],
            [b.north_east.lon, b.north_east.lat],
        );
        let mut found: Vec<&Point> = loaded.tree.locate_in_envelope(&envelope).collect();
        found.sort_unstable_by(|a, b| b.data.1.cmp(&a.data.1).then(b.data.0.cmp(&a.data.0)));
        Some(
            found
                .into_iter()
                .map(|p| {
                    let [lon, lat] = *p.geom();
                    (p.data.0, Located::Point(Coordinates { lon, lat }))
                })
                .collect(),
        )
    }

    /// Adds a report this server just accepted (a no-op before the first load, which
    /// will read it, and for a report already held).
    pub fn add(&self, entry: Entry) {
        let mut guard = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = guard.as_mut() {
            insert(loaded, entry);
        }
    }

    /// Brings the index up to date with the database: the first time (or when `recount`
    /// finds the sizes differ) by reading every accepted report, else by reading those
    /// accepted since shortly before the last one seen. Returns how many it added.
    pub fn sync(&self, db: &Database, recount: bool) -> DbResult<usize> {
        let watermark = {
            let guard = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            guard
                .as_ref()
                .map(|l| (l.watermark, l.tree.size(), l.max_id))
        };
        let stale = match watermark {
            None => true,
            // Counted up to the greatest id held, so reports arriving meanwhile do not
            // look missing; every id held is at most that.
            Some((_, held, max_id)) if recount => {
                let stored = db.read(|conn| crate::db::requests::located_count(conn, max_id))?;
                usize::try_from(stored).unwrap_or(0) != held
            }
            Some(_) => false,
        };
        if stale {
            let rows = db.read(|conn| located_since(conn, LocatedSince::All))?;
            let watermark = rows.iter().map(|r| r.1).max();
            let max_id = rows.iter().map(|r| r.0.id).max().unwrap_or(0);
            let points: Vec<Point> = rows.iter().map(|(e, _)| point(*e)).collect();
            let added = points.len();
            let tree = RTree::bulk_load(points);
            *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some(Loaded {
                tree,
                watermark,
                max_id,
            });
            return Ok(added);
        }
        let since = match watermark.and_then(|(w, _, _)| w) {
            Some(w) => LocatedSince::AcceptedFrom(w - overlap()),
            None => LocatedSince::All,
        };
        // Read from this server's clock too: at rest the latest acceptance stays where
        // it was, and reading from it would take the same window again every time.
        let read_at = crate::domain::now();
        let rows = db.read(|conn| located_since(conn, since))?;
        Ok(self.take(rows, Some(read_at)))
    }

    /// Reads the reports with ids above the greatest held: those other servers stored
    /// since the last read, so a search sees them at once. (A report whose id was
    /// overtaken before it committed, or accepted after waiting in a queue, is read by
    /// the next [`ReportIndex::sync`].) Does nothing before the first load.
    pub fn catch_up(&self, db: &Database) -> DbResult<usize> {
        let max_id = {
            let guard = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(loaded) => loaded.max_id,
                None => return Ok(0),
            }
        };
        let rows = db.read(|conn| located_since(conn, LocatedSince::IdAbove(max_id)))?;
        if rows.is_empty() {
            return Ok(0);
        }
        Ok(self.take(rows, None))
    }

    /// Adds what was read; returns how many were new. `read_at`: when a read of
    /// everything accepted since the watermark began, which the next one may start from.
    ///
    /// Most of what a sync reads is held already (this server added its own reports as
    /// it stored them), and at full intake a sync reads a hundred thousand rows. They
    /// are looked up a chunk at a time under the read lock, and only the missing ones
    /// inserted under the write lock, so requests adding their reports meanwhile wait
    /// a millisecond at most, not for the whole batch.
    fn take(&self, rows: Vec<(Entry, NaiveDateTime)>, read_at: Option<NaiveDateTime>) -> usize {
        let watermark = rows.iter().map(|r| r.1).max().max(read_at);
        let mut missing = Vec::new();
        for chunk in rows.chunks(LOOKUPS_PER_LOCK) {
            let guard = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            let Some(loaded) = guard.as_ref() else {
                return 0;
            };
            missing.extend(
                chunk
                    .iter()
                    .filter(|(entry, _)| entry.id > loaded.max_id || !holds(loaded, entry))
                    .map(|(entry, _)| *entry),
            );
        }
        let mut guard = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        let Some(loaded) = guard.as_mut() else {
            return 0;
        };
        loaded.watermark = loaded.watermark.max(watermark);
        // Checked again: a request may have added one since.
        missing.into_iter().filter(|e| insert(loaded, *e)).count()
    }
}

/// Rows looked up per hold of the read lock.
const LOOKUPS_PER_LOCK: usize = 1_000;

fn point(e: Entry) -> Point {
    GeomWithData::new([e.lon, e.lat], (e.id, e.requested_at))
}

/// Whether `entry` is held.
fn holds(loaded: &Loaded, entry: &Entry) -> bool {
    loaded
        .tree
        .locate_all_at_point(&[entry.lon, entry.lat])
        .any(|p| p.data.0 == entry.id)
}

/// Inserts `entry` unless held already; returns whether it did.
fn insert(loaded: &mut Loaded, entry: Entry) -> bool {
    // An id above every one held is new, which is every report this server has just
    // stored: the search for it is only needed for ids that may have been read before.
    let held = entry.id <= loaded.max_id && holds(loaded, &entry);
    if !held {
        loaded.tree.insert(point(entry));
        loaded.max_id = loaded.max_id.max(entry.id);
    }
    !held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BoundingBox;

    fn at(minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(9, minute, 0)
            .unwrap()
    }

    fn window(west: f64, south: f64, east: f64, north: f64) -> Window {
        Window {
            cells: None,
            bbox: BoundingBox {
                south_west: Coordinates {
                    lon: west,
                    lat: south,
                },
                north_east: Coordinates {
                    lon: east,
                    lat: north,
                },
            },
        }
    }

    #[test]
    fn a_box_finds_its_reports_newest_first_and_a_report_is_held_once() {
        let index = ReportIndex::default();
        assert!(
            index.located(&window(0.0, 0.0, 1.0, 1.0)).is_none(),
            "not loaded"
        );
        *index.loaded.write().unwrap() = Some(Loaded {
            tree: RTree::new(),
            watermark: None,
            max_id: 0,
        });
        let entry = |id, lon, lat, minute| Entry {
            id,
            lon,
            lat,
            requested_at: at(minute),
        };
        index.add(entry(1, 0.5, 0.5, 1));
        index.add(entry(2, 0.6, 0.6, 3));
        index.add(entry(3, 0.7, 0.7, 3));
        index.add(entry(4, 2.0, 2.0, 5));
        index.add(entry(2, 0.6, 0.6, 3));
        assert_eq!(index.len(), 4);
        // A report that committed after a later one is still taken, once.
        index.add(entry(6, 2.5, 2.5, 6));
        index.add(entry(5, 2.1, 2.1, 6));
        index.add(entry(5, 2.1, 2.1, 6));
        assert_eq!(index.len(), 6);
        let ids: Vec<i64> = index
            .located(&window(0.0, 0.0, 1.0, 1.0))
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, vec![3, 2, 1]);
    }
}
