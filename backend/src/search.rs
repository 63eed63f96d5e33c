//! Searching by place: the areas a caller may ask about, and the exact tests behind them.
//!
//! The database narrows a search to the grid cells around the area ([`crate::grid`]);
//! this module decides, for each candidate, whether it truly lies in the area (great-
//! circle distance, point in polygon, line crossing a polygon) and orders the result.
//! Nothing here knows SQL or HTTP.

use crate::domain::{BoundingBox, Circle, Coordinates, FieldError};
use crate::grid;
use geo::{
    Closest, Coord, Distance, Haversine, HaversineClosestPoint, Intersects, LineString,
    MultiPolygon, Point, Polygon, Rect, Validation,
};

/// Most vertices a polygon in a query may have.
pub const MAX_POLYGON_VERTICES: usize = 10_000;
/// Most results a nearest-k query may ask for.
pub const MAX_NEAREST: usize = 1_000;
/// A nearest-k search starts this close, metres, and widens fourfold until it has k.
const NEAREST_FIRST_RADIUS_M: f64 = 250.0;

/// Where to look.
#[derive(Debug, Clone)]
pub enum Area {
    Circle(Circle),
    Bbox(BoundingBox),
    Polygon(Region),
    /// The `k` nearest to a point (within [`Circle::MAX_RADIUS_M`]).
    Nearest {
        centre: Coordinates,
        k: usize,
    },
}

/// A GeoJSON Polygon or MultiPolygon from a query, checked and ready to test against.
#[derive(Debug, Clone)]
pub struct Region {
    shape: MultiPolygon<f64>,
    bbox: BoundingBox,
}

/// What is being searched for: a report or issue is a point, a segment its lines
/// (longitude, latitude).
#[derive(Debug, Clone)]
pub enum Located {
    Point(Coordinates),
    Lines(Vec<Vec<(f64, f64)>>),
}

/// A candidate that lies in the area, with its distance from the area's centre in metres
/// when the area has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: i64,
    pub distance_m: Option<f64>,
}

/// How hits come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Nearest the area's centre first (ties by id); as fetched for areas without one.
    Nearest,
    /// In the order the database gave the candidates (a nearest-k search is always
    /// nearest first).
    AsFetched,
}

/// The part of the world a database search reads: the cells (None: too many to list,
/// read by latitude and longitude alone) and the box they cover.
#[derive(Debug, Clone)]
pub struct Window {
    pub cells: Option<Vec<i64>>,
    pub bbox: BoundingBox,
}

impl Window {
    /// The window for points inside `bbox`.
    pub fn for_points(bbox: BoundingBox) -> Window {
        Window {
            cells: grid::cells_covering(&bbox),
            bbox,
        }
    }

    /// The window for segments crossing `bbox`: segments are filed under the centre of
    /// their bounding box, so the cells reach further by a segment's greatest reach. The
    /// box itself is not widened: segments are kept whose bounding box meets it.
    pub fn for_segments(bbox: BoundingBox) -> Window {
        Window {
            cells: grid::cells_covering(&grid::widen(&bbox, grid::SEGMENT_REACH_DEG)),
            bbox,
        }
    }
}

impl Area {
    /// The box the area lies in; None for a nearest-k search, which widens as it goes.
    pub fn bounding_box(&self) -> Option<BoundingBox> {
        match self {
            Area::Circle(circle) => Some(circle.bounding_box()),
            Area::Bbox(bbox) => Some(*bbox),
            Area::Polygon(region) => Some(region.bbox),
            Area::Nearest { .. } => None,
        }
    }

    fn centre(&self) -> Option<Coordinates> {
        match self {
            Area::Circle(circle) => Some(circle.centre),
            Area::Nearest { centre, .. } => Some(*centre),
            Area::Bbox(_) | Area::Polygon(_) => None,
        }
    }

    /// Whether `item` lies in (or, for a line, reaches into) the area; with its
    /// distance from the centre where the area has one.
    pub fn test(&self, id: i64, item: &Located) -> Option<Hit> {
        let distance_m = self.centre().map(|centre| distance_m(centre, item));
        let inside = match self {
            Area::Circle(circle) => distance_m.is_some_and(|d| d <= circle.radius_m),
            Area::Nearest { .. } => true,
            Area::Bbox(bbox) => {
                let rect = Rect::new(
                    Coord {
                        x: bbox.south_west.lon,
                        y: bbox.south_west.lat,
                    },
                    Coord {
                        x: bbox.north_east.lon,
                        y: bbox.north_east.lat,
                    },
                );
                match item {
                    Located::Point(p) => bbox.contains(*p),
                    Located::Lines(lines) => lines.iter().any(|l| line(l).intersects(&rect)),
                }
            }
            Area::Polygon(region) => match item {
                Located::Point(p) => region.shape.intersects(&Point::new(p.lon, p.lat)),
                Located::Lines(lines) => lines.iter().any(|l| region.shape.intersects(&line(l))),
            },
        };
        inside.then_some(Hit { id, distance_m })
    }

    /// Runs the search: `fetch` reads the candidates in a window from the database; the
    /// hits come back in `order`.
    pub fn search<E>(
        &self,
        window_for: fn(BoundingBox) -> Window,
        order: Order,
        mut fetch: impl FnMut(&Window) -> Result<Vec<(i64, Located)>, E>,
    ) -> Result<Vec<Hit>, E> {
        let mut hits = match self {
            Area::Nearest { centre, k } => {
                let mut radius_m = NEAREST_FIRST_RADIUS_M;
                loop {
                    let circle = Area::Circle(Circle {
                        centre: *centre,
                        radius_m,
                    });
                    let window = window_for(
                        circle
                            .bounding_box()
                            .unwrap_or_else(|| unreachable!("a circle has a bounding box")),
                    );
                    let hits: Vec<Hit> = fetch(&window)?
                        .iter()
                        .filter_map(|(id, item)| circle.test(*id, item))
                        .collect();
                    if hits.len() >= *k || radius_m >= Circle::MAX_RADIUS_M {
                        break hits;
                    }
                    radius_m = (radius_m * 4.0).min(Circle::MAX_RADIUS_M);
                }
            }
            _ => {
                let bbox = self
                    .bounding_box()
                    .unwrap_or_else(|| unreachable!("only nearest-k has no box"));
                fetch(&window_for(bbox))?
                    .iter()
                    .filter_map(|(id, item)| self.test(*id, item))
                    .collect()
            }
        };
        let by_distance = match self {
            Area::Nearest { .. } => true,
            _ => order == Order::Nearest && self.centre().is_some(),
        };
        if by_distance {
            hits.sort_by(|a, b| {
                a.distance_m
                    .unwrap_or(0.0)
                    .total_cmp(&b.distance_m.unwrap_or(0.0))
                    .then(a.id.cmp(&b.id))
            });
        }
        if let Area::Nearest { k, .. } = self {
            hits.truncate(*k);
        }
        Ok(hits)
    }
}

/// One page of a listing, and how many there are in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Each row with its distance in metres from the area's centre, if it has one.
    pub items: Vec<(T, Option<f64>)>,
    pub total: usize,
}

/// The candidates of a search in a window: (id, where it is).
pub type Candidates<E> = Result<Vec<(i64, Located)>, E>;

pub type Rows<T, E> = Result<Vec<T>, E>;

/// How to read one kind of row, for [`page_of`].
pub struct Source<'a, T, E> {
    pub window_for: fn(BoundingBox) -> Window,
    /// The candidates in a window, in the listing's order.
    pub located: &'a dyn Fn(&Window) -> Candidates<E>,
    pub by_ids: &'a dyn Fn(&[i64]) -> Rows<T, E>,
    /// A page of the listing with no area, (limit, offset) → (rows, how many in all),
    /// read in one snapshot ([`crate::db::Conn::snapshot`]) so that the two agree.
    pub page: &'a dyn Fn(i64, i64) -> Result<(Vec<T>, i64), E>,
    pub id_of: fn(&T) -> i64,
}

/// A page of rows in `area` (nearest first when it has a centre), or of all rows when
/// there is no area (then the database pages and counts).
pub fn page_of<T, E>(
    area: Option<&Area>,
    limit: usize,
    offset: usize,
    source: Source<'_, T, E>,
) -> Result<Page<T>, E> {
    let Some(area) = area else {
        let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let (rows, total) = (source.page)(to_i64(limit), to_i64(offset))?;
        let total = usize::try_from(total).unwrap_or(0);
        return Ok(Page {
            items: rows.into_iter().map(|row| (row, None)).collect(),
            total,
        });
    };
    let hits = area.search(source.window_for, Order::Nearest, source.located)?;
    let total = hits.len();
    let wanted: Vec<Hit> = hits.into_iter().skip(offset).take(limit).collect();
    let ids: Vec<i64> = wanted.iter().map(|h| h.id).collect();
    let distances: std::collections::HashMap<i64, Option<f64>> =
        wanted.iter().map(|h| (h.id, h.distance_m)).collect();
    let rows = (source.by_ids)(&ids)?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|row| {
                let distance_m = distances.get(&(source.id_of)(&row)).copied().flatten();
                (row, distance_m)
            })
            .collect(),
        total,
    })
}

fn line(points: &[(f64, f64)]) -> LineString<f64> {
    LineString::from(points.to_vec())
}

/// Great-circle metres from `centre` to the nearest point of `item`.
pub fn distance_m(centre: Coordinates, item: &Located) -> f64 {
    match item {
        Located::Point(p) => centre.distance_m(*p),
        Located::Lines(lines) => {
            let from = Point::new(centre.lon, centre.lat);
            lines
                .iter()
                .filter_map(|l| match line(l).haversine_closest_point(&from) {
                    Closest::Intersection(p) | Closest::SinglePoint(p) => {
                        Some(Haversine.distance(from, p))
                    }
                    Closest::Indeterminate => None,
                })
                .fold(f64::INFINITY, f64::min)
        }
    }
}

impl Region {
    /// Reads a GeoJSON Polygon or MultiPolygon geometry and checks it: closed rings of at
    /// least four positions, coordinates on the globe (longitude first), no ring crossing
    /// itself or another, holes inside their shell. `field` names the input in errors.
    pub fn parse(raw: &str, field: &str) -> Result<Region, FieldError> {
        let bad = |message: String| FieldError::new(field, message);
        let geometry: geojson::Geometry = raw.parse().map_err(|e| {
            bad(format!(
                "is not a GeoJSON geometry ({e}); send a Polygon or MultiPolygon object"
            ))
        })?;
        let polygons = match geometry.value {
            geojson::GeometryValue::Polygon { coordinates } => vec![coordinates],
            geojson::GeometryValue::MultiPolygon { coordinates } => coordinates,
            other => {
                return Err(bad(format!(
                    "is a {}; only Polygon and MultiPolygon are accepted",
                    other.type_name()
                )));
            }
        };
        if polygons.is_empty() {
            return Err(bad("has no polygons".into()));
        }
        let vertices: usize = polygons.iter().flatten().map(Vec::len).sum();
        if vertices > MAX_POLYGON_VERTICES {
            return Err(bad(format!(
                "has {vertices} positions; at most {MAX_POLYGON_VERTICES} are accepted"
            )));
        }
        let mut shapes = Vec::with_capacity(polygons.len());
        for (p, rings) in polygons.iter().enumerate() {
            let place = |r: usize| {
                let ring = if r == 0 {
                    "the outer ring".to_string()
                } else {
                    format!("hole {r}")
                };
                if polygons.len() > 1 {
                    format!("{ring} of polygon {p}")
                } else {
                    ring
                }
            };
            if rings.is_empty() {
                return Err(bad(format!("polygon {p} has no rings")));
            }
            let mut checked = Vec::with_capacity(rings.len());
            for (r, ring) in rings.iter().enumerate() {
                if ring.len() < 4 {
                    return Err(bad(format!(
                        "{} has {} positions; a ring needs at least 4, the last equal to the first",
                        place(r),
                        ring.len()
                    )));
                }
                let mut coords = Vec::with_capacity(ring.len());
                for (i, position) in ring.iter().enumerate() {
                    let values = position.as_slice();
                    if !(2..=3).contains(&values.len()) {
                        return Err(bad(format!(
                            "position {i} of {} has {} numbers; give [longitude, latitude]",
                            place(r),
                            values.len()
                        )));
                    }
                    let point = Coordinates::new(values[0], values[1], field, field)
                        .map_err(|e| bad(format!("position {i} of {}: {}", place(r), e.message)))?;
                    coords.push(Coord {
                        x: point.lon,
                        y: point.lat,
                    });
                }
                if coords.first() != coords.last() {
                    return Err(bad(format!(
                        "{} is not closed: its last position must equal its first",
                        place(r)
                    )));
                }
                checked.push(LineString::new(coords));
            }
            let mut rings = checked.into_iter();
            let exterior = rings
                .next()
                .unwrap_or_else(|| unreachable!("rings were checked to be non-empty"));
            let polygon = Polygon::new(exterior, rings.collect());
            if let Err(problem) = polygon.check_validation() {
                let at = if polygons.len() > 1 {
                    format!("polygon {p} ")
                } else {
                    String::new()
                };
                return Err(bad(format!("{at}is not a valid polygon: {problem}")));
            }
            shapes.push(polygon);
        }
        let shape = MultiPolygon::new(shapes);
        if let Err(problem) = shape.check_validation() {
            return Err(bad(format!("is not a valid multipolygon: {problem}")));
        }
        let bbox = BoundingBox::around(
            shape
                .0
                .iter()
                .flat_map(|p| p.exterior().coords())
                .map(|c| Coordinates { lon: c.x, lat: c.y }),
        )
        .unwrap_or_else(|| unreachable!("a checked polygon has positions"));
        Ok(Region { shape, bbox })
    }

    pub fn bounding_box(&self) -> BoundingBox {
        self.bbox
    }
}

#[cfg(test)]
mod tests;
