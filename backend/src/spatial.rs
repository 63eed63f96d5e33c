//! Road segments in memory, for snapping a point to the nearest one.
//!
//! Segments are held in an R-tree in a local metric plane (metres east and north of a
//! reference point, equirectangular), where "nearest" is cheap; the distance reported is
//! the great-circle (haversine) distance from the point to the nearest point of the
//! segment, in metres.

use crate::domain::Coordinates;
use models::network::RoadClass;
use rstar::{AABB, PointDistance, RTree, RTreeObject};
use std::sync::Arc;

const METRES_PER_DEGREE: f64 = 111_195.0;

/// One straight piece of a segment, in local metres.
#[derive(Debug, Clone)]
struct Piece {
    segment_id: i64,
    class: Option<RoadClass>,
    a: [f64; 2],
    b: [f64; 2],
}

impl Piece {
    /// The point of the piece nearest to `p`, in local metres.
    fn nearest_point(&self, p: [f64; 2]) -> [f64; 2] {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let length_2 = dx * dx + dy * dy;
        let t = if length_2 == 0.0 {
            0.0
        } else {
            (((p[0] - self.a[0]) * dx + (p[1] - self.a[1]) * dy) / length_2).clamp(0.0, 1.0)
        };
        [self.a[0] + t * dx, self.a[1] + t * dy]
    }
}

impl RTreeObject for Piece {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.a, self.b)
    }
}

impl PointDistance for Piece {
    fn distance_2(&self, point: &[f64; 2]) -> f64 {
        let q = self.nearest_point(*point);
        (q[0] - point[0]).powi(2) + (q[1] - point[1]).powi(2)
    }
}

/// A segment as the index takes it: id, class and its line, longitude first.
pub struct SegmentShape {
    pub id: i64,
    pub class: Option<RoadClass>,
    pub lines: Vec<Vec<(f64, f64)>>,
}

/// Where a point snapped to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snap {
    pub segment_id: i64,
    pub class: Option<RoadClass>,
    /// Great-circle distance from the point to the segment, metres.
    pub distance_m: f64,
}

/// Every road segment, ready for nearest-segment queries.
pub struct SegmentIndex {
    tree: RTree<Piece>,
    origin: Coordinates,
    cos_lat: f64,
}

impl SegmentIndex {
    pub fn new(segments: Vec<SegmentShape>) -> SegmentIndex {
        let points = segments.iter().flat_map(|s| s.lines.iter().flatten());
        let (count, lon_sum, lat_sum) = points.fold((0.0, 0.0, 0.0), |(n, x, y), (lon, lat)| {
            (n + 1.0, x + lon, y + lat)
        });
        let origin = if count > 0.0 {
            Coordinates {
                lon: lon_sum / count,
                lat: lat_sum / count,
            }
        } else {
            Coordinates { lon: 0.0, lat: 0.0 }
        };
        let cos_lat = origin.lat.to_radians().cos().max(0.01);
        let mut index = SegmentIndex {
            tree: RTree::new(),
            origin,
            cos_lat,
        };
        let mut pieces = Vec::new();
        for segment in segments {
            for line in &segment.lines {
                for pair in line.windows(2) {
                    pieces.push(Piece {
                        segment_id: segment.id,
                        class: segment.class,
                        a: index.to_local(pair[0]),
                        b: index.to_local(pair[1]),
                    });
                }
            }
        }
        index.tree = RTree::bulk_load(pieces);
        index
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    fn to_local(&self, (lon, lat): (f64, f64)) -> [f64; 2] {
        [
            (lon - self.origin.lon) * METRES_PER_DEGREE * self.cos_lat,
            (lat - self.origin.lat) * METRES_PER_DEGREE,
        ]
    }

    fn to_coordinates(&self, p: [f64; 2]) -> Coordinates {
        Coordinates {
            lon: self.origin.lon + p[0] / (METRES_PER_DEGREE * self.cos_lat),
            lat: self.origin.lat + p[1] / METRES_PER_DEGREE,
        }
    }

    /// The nearest segment to `point` if it lies within `limit_m` metres.
    pub fn snap(&self, point: Coordinates, limit_m: f64) -> Option<Snap> {
        let local = self.to_local((point.lon, point.lat));
        let piece = self.tree.nearest_neighbor(&local)?;
        let nearest = self.to_coordinates(piece.nearest_point(local));
        let distance_m = point.distance_m(nearest);
        (distance_m <= limit_m).then_some(Snap {
            segment_id: piece.segment_id,
            class: piece.class,
            distance_m,
        })
    }
}

impl SegmentIndex {
    /// The nearest segment to `point` among those `allowed` (e.g. the pieces of one
    /// street), if it lies within `limit_m` metres.
    pub fn snap_among(
        &self,
        point: Coordinates,
        limit_m: f64,
        allowed: impl Fn(i64) -> bool,
    ) -> Option<Snap> {
        let local = self.to_local((point.lon, point.lat));
        // The plane's metres are close to the great-circle ones at city scale; a margin
        // keeps a piece near the limit from being missed.
        let limit_2 = (limit_m * 1.1).powi(2);
        let piece = self
            .tree
            .nearest_neighbor_iter_with_distance_2(&local)
            .take_while(|(_, d2)| *d2 <= limit_2)
            .map(|(piece, _)| piece)
            .find(|piece| allowed(piece.segment_id))?;
        let nearest = self.to_coordinates(piece.nearest_point(local));
        let distance_m = point.distance_m(nearest);
        (distance_m <= limit_m).then_some(Snap {
            segment_id: piece.segment_id,
            class: piece.class,
            distance_m,
        })
    }
}

/// What changes when segments are added, edited or removed: their count and the latest
/// edit. Servers compare it to know when to rebuild their index.
pub type Fingerprint = (i64, Option<chrono::NaiveDateTime>);

/// The segment index as of the last check, rebuilt when the stored segments change.
/// It knows nothing of where segments are stored: callers hand it their fingerprint
/// and, when that changed, their shapes.
pub struct SegmentCache {
    current: std::sync::RwLock<Current>,
}

/// The segments as of a fingerprint: for snapping, and for the map tiles.
struct Current {
    fingerprint: Fingerprint,
    index: Arc<SegmentIndex>,
    streets: Arc<crate::tiles::Streets>,
}

impl Current {
    fn of(fingerprint: Fingerprint, shapes: Vec<SegmentShape>) -> Current {
        let streets = Arc::new(crate::tiles::Streets::new(&shapes));
        Current {
            fingerprint,
            index: Arc::new(SegmentIndex::new(shapes)),
            streets,
        }
    }
}

impl SegmentCache {
    /// Builds the index of `shapes`, which have this `fingerprint`.
    pub fn new(fingerprint: Fingerprint, shapes: Vec<SegmentShape>) -> SegmentCache {
        SegmentCache {
            current: std::sync::RwLock::new(Current::of(fingerprint, shapes)),
        }
    }

    pub fn current(&self) -> Arc<SegmentIndex> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .index
            .clone()
    }

    /// The streets as the tiles draw them, with the fingerprint they are as of.
    pub fn streets(&self) -> (Fingerprint, Arc<crate::tiles::Streets>) {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        (current.fingerprint, current.streets.clone())
    }

    /// Rebuilds the index from `shapes` if the segments' `fingerprint` changed (on this
    /// server or another one); returns whether it did.
    pub fn refresh<E>(
        &self,
        fingerprint: Fingerprint,
        shapes: impl FnOnce() -> Result<Vec<SegmentShape>, E>,
    ) -> Result<bool, E> {
        if self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .fingerprint
            == fingerprint
        {
            return Ok(false);
        }
        let current = Current::of(fingerprint, shapes()?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = current;
        Ok(true)
    }
}

/// Reads the lines of a GeoJSON LineString or MultiLineString geometry.
pub fn lines_of_geojson(geometry: &str) -> Option<Vec<Vec<(f64, f64)>>> {
    let value: serde_json::Value = serde_json::from_str(geometry).ok()?;
    let line = |v: &serde_json::Value| -> Option<Vec<(f64, f64)>> {
        v.as_array()?
            .iter()
            .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
            .collect()
    };
    match value.get("type")?.as_str()? {
        "LineString" => Some(vec![line(value.get("coordinates")?)?]),
        "MultiLineString" => value
            .get("coordinates")?
            .as_array()?
            .iter()
            .map(line)
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn grid() -> Vec<SegmentShape> {
        // A 10 × 10 grid of 150 m blocks around Syracuse.
        let mut segments = Vec::new();
        let step = 150.0 / METRES_PER_DEGREE;
        let cos = 43.05_f64.to_radians().cos();
        for i in 0..10 {
            for j in 0..10 {
                let (lon, lat) = (
                    -76.2 + f64::from(i) * step / cos,
                    43.0 + f64::from(j) * step,
                );
                let id = i64::from(i * 10 + j) * 2;
                segments.push(SegmentShape {
                    id,
                    class: Some(RoadClass::Local),
                    lines: vec![vec![(lon, lat), (lon + step / cos, lat)]],
                });
                segments.push(SegmentShape {
                    id: id + 1,
                    class: None,
                    lines: vec![vec![(lon, lat), (lon, lat + step)]],
                });
            }
        }
        segments
    }

    /// The nearest segment by checking every one, sampling each line densely.
    fn brute_force(segments: &[SegmentShape], point: Coordinates) -> (i64, f64) {
        let mut best = (0, f64::INFINITY);
        for segment in segments {
            for line in &segment.lines {
                for pair in line.windows(2) {
                    for k in 0..=300 {
                        let t = f64::from(k) / 300.0;
                        let q = Coordinates {
                            lon: pair[0].0 + t * (pair[1].0 - pair[0].0),
                            lat: pair[0].1 + t * (pair[1].1 - pair[0].1),
                        };
                        let d = point.distance_m(q);
                        if d < best.1 {
                            best = (segment.id, d);
                        }
                    }
                }
            }
        }
        best
    }

    #[test]
    fn snapping_finds_the_truly_nearest_segment_within_the_limit() {
        let segments = grid();
        let index = SegmentIndex::new(grid());
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..300 {
            let point = Coordinates {
                lon: rng.gen_range(-76.21..-76.17),
                lat: rng.gen_range(42.99..43.015),
            };
            let (id, distance) = brute_force(&segments, point);
            match index.snap(point, 50.0) {
                Some(snap) => {
                    // As near as the nearest by brute force (two equidistant segments
                    // may tie, so the distance is compared, and the id where it is clear).
                    assert!(
                        (snap.distance_m - distance).abs() < 0.5,
                        "{snap:?} vs {distance}"
                    );
                    let runner_up = segments
                        .iter()
                        .filter(|s| s.id != snap.segment_id)
                        .map(|s| brute_force(std::slice::from_ref(s), point).1)
                        .fold(f64::INFINITY, f64::min);
                    if runner_up > distance + 1.0 {
                        assert_eq!(snap.segment_id, id);
                    }
                    assert!(snap.distance_m <= 50.0);
                }
                None => assert!(distance > 49.5, "missed a segment {distance} m away"),
            }
        }
    }

    #[test]
    fn geojson_lines_and_multilines_are_read_longitude_first() {
        let lines =
            lines_of_geojson(r#"{"type":"LineString","coordinates":[[-76.1,43.0],[-76.2,43.1]]}"#)
                .unwrap();
        assert_eq!(lines, vec![vec![(-76.1, 43.0), (-76.2, 43.1)]]);
        let multi = lines_of_geojson(
            r#"{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}"#,
        )
        .unwrap();
        assert_eq!(multi.len(), 2);
        assert!(lines_of_geojson(r#"{"type":"Point","coordinates":[0,0]}"#).is_none());
    }
}
