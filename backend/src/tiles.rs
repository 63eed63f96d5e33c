//! Vector tiles (Mapbox Vector Tile 2.1) of the city for the maps: streets, risk, open
//! issues and wards, addressed as `{z}/{x}/{y}` on the Web Mercator grid every web map
//! uses.
//!
//! A tile is 4,096 units across with 64 units of buffer around it, so that lines
//! crossing an edge join up. Lines and rings are simplified to a quarter of a unit per
//! tile pixel (Ramer–Douglas–Peucker, 4 units of 4,096: under half a pixel on a 512 px
//! tile), so a tile of the whole city stays small and a street tile keeps every bend.
//! Nothing here reads the database: callers hand over the streets (kept in memory with
//! the snapping index), the latest run's scores, open issues or wards.

use crate::domain::{BoundingBox, Coordinates};
use crate::spatial::SegmentShape;
use geo::{Coord, LineString, MapCoords, MultiPolygon, Orient, Simplify, orient::Direction};
use models::network::RoadClass;
use mvt::{GeomEncoder, GeomType, Tile};
use pointy::BBox;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use std::collections::HashMap;
use std::sync::Arc;

/// Units across a tile.
pub const EXTENT: u32 = 4096;
/// Units drawn beyond each edge.
const BUFFER: f64 = 64.0;
/// Simplification tolerance, tile units.
const TOLERANCE: f64 = 4.0;
/// The deepest zoom served (about 10 cm a unit).
pub const MAX_ZOOM: u8 = 22;
/// Below this zoom the streets layer keeps arterials and collectors only: local streets
/// would be sub-pixel lines that cost bytes and hide the network's shape.
pub const LOCAL_STREETS_ZOOM: u8 = 13;
/// The most features a tile carries. A risk tile past it keeps the riskiest.
pub const MAX_FEATURES: usize = 60_000;
/// Web Mercator's latitude limit, degrees.
const MAX_LATITUDE: f64 = 85.051_128_78;

/// Why a tile address was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TileError {
    #[error("'{0}' is not a layer; known: streets, risk, issues, wards")]
    UnknownLayer(String),
    #[error("'{value}' is not a whole number for {field}")]
    NotANumber { field: &'static str, value: String },
    #[error("zoom {0} is out of range 0 to {MAX_ZOOM}")]
    Zoom(u32),
    #[error("{field} {value} is out of range 0 to {last} at zoom {zoom}")]
    OutOfGrid {
        field: &'static str,
        value: u32,
        last: u32,
        zoom: u8,
    },
    #[error("the tile name must end in .mvt, not '{0}'")]
    Format(String),
}

impl TileError {
    /// The path part the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            TileError::UnknownLayer(_) => "layer",
            TileError::NotANumber { field, .. } | TileError::OutOfGrid { field, .. } => field,
            TileError::Zoom(_) => "z",
            TileError::Format(_) => "y",
        }
    }
}

/// The layers served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Every segment: `segment_id`, `road_class`.
    Streets,
    /// The active model's latest run: `segment_id`, `probability`, `length_m` per
    /// segment, or `cell_id`, `probability` per grid cell.
    Risk,
    /// Open issues as points: `issue_id`, `service_code`.
    Issues,
    /// Ward boundaries: `ward_id`, `name`.
    Wards,
}

impl Layer {
    pub fn parse(raw: &str) -> Result<Layer, TileError> {
        match raw {
            "streets" => Ok(Layer::Streets),
            "risk" => Ok(Layer::Risk),
            "issues" => Ok(Layer::Issues),
            "wards" => Ok(Layer::Wards),
            other => Err(TileError::UnknownLayer(other.chars().take(40).collect())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Streets => "streets",
            Layer::Risk => "risk",
            Layer::Issues => "issues",
            Layer::Wards => "wards",
        }
    }
}

/// A tile's address on the Web Mercator grid (y counted from the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// Parses `z`, `x` and `y.mvt` from a path.
    pub fn parse(z: &str, x: &str, y_mvt: &str) -> Result<TileId, TileError> {
        let number = |field: &'static str, raw: &str| {
            raw.parse::<u32>().map_err(|_| TileError::NotANumber {
                field,
                value: raw.chars().take(40).collect(),
            })
        };
        let y = y_mvt
            .strip_suffix(".mvt")
            .ok_or_else(|| TileError::Format(y_mvt.chars().take(40).collect()))?;
        let zoom = number("z", z)?;
        if zoom > u32::from(MAX_ZOOM) {
            return Err(TileError::Zoom(zoom));
        }
        let z = zoom as u8;
        let last = (1u32 << z) - 1;
        let (x, y) = (number("x", x)?, number("y", y)?);
        for (field, value) in [("x", x), ("y", y)] {
            if value > last {
                return Err(TileError::OutOfGrid {
                    field,
                    value,
                    last,
                    zoom: z,
                });
            }
        }
        Ok(TileId { z, x, y })
    }

    /// Tiles across the world at this zoom.
    fn scale(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// A world position (see [`world`]) in this tile's units.
    fn units(self, [wx, wy]: [f64; 2]) -> [f64; 2] {
        let extent = f64::from(EXTENT);
        [
            (wx * self.scale() - f64::from(self.x)) * extent,
            (wy * self.scale() - f64::from(self.y)) * extent,
        ]
    }

    /// The tile with its buffer, in world coordinates.
    fn world_box(self) -> AABB<[f64; 2]> {
        let margin = BUFFER / f64::from(EXTENT);
        let s = self.scale();
        AABB::from_corners(
            [
                (f64::from(self.x) - margin) / s,
                (f64::from(self.y) - margin) / s,
            ],
            [
                (f64::from(self.x) + 1.0 + margin) / s,
                (f64::from(self.y) + 1.0 + margin) / s,
            ],
        )
    }

    /// The tile with its buffer in longitude and latitude.
    pub fn bounding_box(self) -> BoundingBox {
        let b = self.world_box();
        let (west, north) = lon_lat(b.lower());
        let (east, south) = lon_lat(b.upper());
        BoundingBox {
            south_west: Coordinates {
                lon: west.max(-180.0),
                lat: south,
            },
            north_east: Coordinates {
                lon: east.min(180.0),
                lat: north,
            },
        }
    }
}

/// A position on the Web Mercator square: 0 to 1 from west to east and from north to
/// south.
pub fn world(lon: f64, lat: f64) -> [f64; 2] {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    [x, y]
}

/// The longitude and latitude of a world position.
fn lon_lat([x, y]: [f64; 2]) -> (f64, f64) {
    let lon = x * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

fn coordinates((lon, lat): (f64, f64)) -> Coordinates {
    Coordinates { lon, lat }
}

/// One segment as the tiles draw it: its lines in world coordinates.
struct Street {
    id: i64,
    class: Option<RoadClass>,
    lines: Vec<Vec<[f64; 2]>>,
    length_m: f64,
}

/// Every street, found by the tiles it crosses. Built with the snapping index and
/// replaced with it when segments change.
pub struct Streets {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    streets: Vec<Street>,
}

impl Streets {
    pub fn new(shapes: &[SegmentShape]) -> Streets {
        let streets: Vec<Street> = shapes
            .iter()
            .map(|shape| Street {
                id: shape.id,
                class: shape.class,
                lines: shape
                    .lines
                    .iter()
                    .map(|line| line.iter().map(|&(lon, lat)| world(lon, lat)).collect())
                    .collect(),
                length_m: shape
                    .lines
                    .iter()
                    .map(|line| {
                        line.windows(2)
                            .map(|w| coordinates(w[0]).distance_m(coordinates(w[1])))
                            .sum::<f64>()
                    })
                    .sum(),
            })
            .collect();
        let boxes = streets
            .iter()
            .enumerate()
            .filter_map(|(i, street)| {
                let mut points = street.lines.iter().flatten();
                let first = *points.next()?;
                let (low, high) = points.fold((first, first), |(lo, hi), p| {
                    (
                        [lo[0].min(p[0]), lo[1].min(p[1])],
                        [hi[0].max(p[0]), hi[1].max(p[1])],
                    )
                });
                Some(GeomWithData::new(Rectangle::from_corners(low, high), i))
            })
            .collect();
        Streets {
            tree: RTree::bulk_load(boxes),
            streets,
        }
    }

    /// The ids of the streets whose box meets `bbox` (all of them without one), of the
    /// classes named (any without a list).
    pub fn ids_in(&self, bbox: Option<BoundingBox>, classes: Option<&[String]>) -> Vec<i64> {
        let of_class = |s: &Street| {
            classes.is_none_or(|names| {
                s.class
                    .is_some_and(|c| names.iter().any(|n| n.as_str() == c.as_str()))
            })
        };
        match bbox {
            None => self
                .streets
                .iter()
                .filter(|s| of_class(s))
                .map(|s| s.id)
                .collect(),
            Some(b) => {
                let [x0, y0] = world(b.south_west.lon, b.north_east.lat);
                let [x1, y1] = world(b.north_east.lon, b.south_west.lat);
                self.tree
                    .locate_in_envelope_intersecting(&AABB::from_corners([x0, y0], [x1, y1]))
                    .map(|found| &self.streets[found.data])
                    .filter(|s| of_class(s))
                    .map(|s| s.id)
                    .collect()
            }
        }
    }

    /// The streets whose box meets the tile with its buffer.
    fn in_tile(&self, tile: TileId) -> impl Iterator<Item = &Street> {
        self.tree
            .locate_in_envelope_intersecting(&tile.world_box())
            .map(|found| &self.streets[found.data])
    }
}

/// A grid cell's score: id, (west, south, east, north) in degrees, probability.
pub type CellScore = (i64, [f64; 4], f64);

/// The active model's latest run, as the risk layer draws it.
pub enum RiskScores<'a> {
    /// No model or no run yet: an empty layer.
    None,
    /// Probability by segment id.
    Segments(&'a HashMap<i64, f64>),
    /// Grid cells.
    Cells(&'a [CellScore]),
}

/// The streets tile: each segment with its class (arterials and collectors only below
/// [`LOCAL_STREETS_ZOOM`]).
pub fn streets(streets: &Streets, tile: TileId) -> Vec<u8> {
    let locals = tile.z >= LOCAL_STREETS_ZOOM;
    let mut features: Vec<Feature> = streets
        .in_tile(tile)
        .filter(|s| locals || matches!(s.class, Some(RoadClass::Arterial | RoadClass::Collector)))
        .filter_map(|s| {
            let geometry = lines(tile, &s.lines)?;
            let mut tags = vec![("segment_id", Tag::Int(s.id))];
            if let Some(class) = s.class {
                tags.push(("road_class", Tag::Text(class.as_str())));
            }
            Some(Feature { geometry, tags })
        })
        .collect();
    features.truncate(MAX_FEATURES);
    encode(Layer::Streets, features)
}

/// The risk tile: segments (or cells) with their probability. When more than
/// [`MAX_FEATURES`] are in the tile the riskiest are kept; features come least risky
/// first, so a map drawing in order puts the riskiest on top.
pub fn risk(streets: &Streets, scores: &RiskScores<'_>, tile: TileId) -> Vec<u8> {
    let mut features: Vec<(f64, Feature)> = match scores {
        RiskScores::None => Vec::new(),
        RiskScores::Segments(by_segment) => {
            let mut scored: Vec<(f64, &Street)> = streets
                .in_tile(tile)
                .filter_map(|s| Some((*by_segment.get(&s.id)?, s)))
                .collect();
            riskiest_first(&mut scored);
            scored
                .into_iter()
                .filter_map(|(p, s)| {
                    let geometry = lines(tile, &s.lines)?;
                    // Rounded as the API shows them: values repeat, and a tile keeps each
                    // distinct value once.
                    let tags = vec![
                        ("segment_id", Tag::Int(s.id)),
                        ("probability", Tag::Float(crate::risk::rounded(p))),
                        ("length_m", Tag::Int(s.length_m.round() as i64)),
                    ];
                    Some((p, Feature { geometry, tags }))
                })
                .take(MAX_FEATURES)
                .collect()
        }
        RiskScores::Cells(cells) => {
            let b = tile.world_box();
            let mut inside: Vec<(f64, &CellScore)> = cells
                .iter()
                .filter(|(_, [west, south, east, north], _)| {
                    let [x0, y0] = world(*west, *north);
                    let [x1, y1] = world(*east, *south);
                    x1 >= b.lower()[0]
                        && x0 <= b.upper()[0]
                        && y1 >= b.lower()[1]
                        && y0 <= b.upper()[1]
                })
                .map(|cell| (cell.2, cell))
                .collect();
            riskiest_first(&mut inside);
            inside
                .into_iter()
                .filter_map(|(p, (id, [west, south, east, north], _))| {
                    let square = geo::Rect::new(
                        Coord {
                            x: *west,
                            y: *south,
                        },
                        Coord {
                            x: *east,
                            y: *north,
                        },
                    );
                    let geometry = polygons(tile, &MultiPolygon::new(vec![square.to_polygon()]))?;
                    let tags = vec![
                        ("cell_id", Tag::Int(*id)),
                        ("probability", Tag::Float(crate::risk::rounded(p))),
                    ];
                    Some((p, Feature { geometry, tags }))
                })
                .take(MAX_FEATURES)
                .collect()
        }
    };
    features.reverse();
    encode(Layer::Risk, features.into_iter().map(|(_, f)| f).collect())
}

/// The riskiest first (a stable sort: ties keep the index's order).
fn riskiest_first<T>(scored: &mut [(f64, T)]) {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
}

/// A point to draw: id, category, longitude, latitude.
pub type Point = (i64, String, f64, f64);

/// The open issues tile.
pub fn issues(points: &[Point], tile: TileId) -> Vec<u8> {
    let features = points
        .iter()
        .filter_map(|(id, code, lon, lat)| {
            let [x, y] = tile.units(world(*lon, *lat));
            let geometry = GeomEncoder::new(GeomType::Point)
                .point(x.round(), y.round())
                .ok()?
                .encode()
                .ok()?;
            let tags = vec![
                ("issue_id", Tag::Int(*id)),
                ("service_code", Tag::Text(code)),
            ];
            Some(Feature { geometry, tags })
        })
        .take(MAX_FEATURES)
        .collect();
    encode(Layer::Issues, features)
}

/// A ward to draw: id, name, boundary (longitude and latitude).
pub type WardShape = (i64, String, MultiPolygon<f64>);

/// A stored GeoJSON Polygon or MultiPolygon as a boundary; None for anything else.
pub fn boundary(stored: &str) -> Option<MultiPolygon<f64>> {
    let geometry: geojson::Geometry = stored.parse().ok()?;
    match geo::Geometry::<f64>::try_from(geometry).ok()? {
        geo::Geometry::Polygon(p) => Some(MultiPolygon::new(vec![p])),
        geo::Geometry::MultiPolygon(p) => Some(p),
        _ => None,
    }
}

/// The wards tile.
pub fn wards(wards: &[WardShape], tile: TileId) -> Vec<u8> {
    let features = wards
        .iter()
        .filter_map(|(id, name, shape)| {
            let geometry = polygons(tile, shape)?;
            let tags = vec![("ward_id", Tag::Int(*id)), ("name", Tag::Text(name))];
            Some(Feature { geometry, tags })
        })
        .collect();
    encode(Layer::Wards, features)
}

/// A property's value.
enum Tag<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
}

struct Feature<'a> {
    geometry: mvt::GeomData,
    tags: Vec<(&'static str, Tag<'a>)>,
}

fn encode(layer: Layer, features: Vec<Feature<'_>>) -> Vec<u8> {
    let mut tile = Tile::new(EXTENT);
    if features.is_empty() {
        return tile.to_bytes().unwrap_or_default();
    }
    let mut out = tile.create_layer(layer.name());
    for feature in features {
        let mut f = out.into_feature(feature.geometry);
        for (key, value) in feature.tags {
            match value {
                Tag::Int(v) => f.add_tag_sint(key, v),
                Tag::Float(v) => f.add_tag_double(key, v),
                Tag::Text(v) => f.add_tag_string(key, v),
            }
        }
        out = f.into_layer();
    }
    // Adding a layer fails only on a duplicate name; there is one layer a tile.
    if tile.add_layer(out).is_err() {
        return Vec::new();
    }
    tile.to_bytes().unwrap_or_default()
}

/// The encoder clips to the tile and its buffer.
fn encoder(kind: GeomType) -> GeomEncoder<f64> {
    let low = -BUFFER;
    let high = f64::from(EXTENT) + BUFFER;
    GeomEncoder::new(kind).bbox(BBox::new([(low, low), (high, high)]))
}

/// A (multi)line in tile units, simplified; None when nothing of it is in the tile.
/// A line shorter than a unit is kept as a one-unit dash, so every street shows at
/// every zoom.
fn lines(tile: TileId, parts: &[Vec<[f64; 2]>]) -> Option<mvt::GeomData> {
    let mut encoder = encoder(GeomType::Linestring);
    for part in parts {
        let line: LineString<f64> = part
            .iter()
            .map(|&p| {
                let [x, y] = tile.units(p);
                Coord { x, y }
            })
            .collect();
        let mut points: Vec<(f64, f64)> = line
            .simplify(TOLERANCE)
            .0
            .into_iter()
            .map(|c| (c.x.round(), c.y.round()))
            .collect();
        points.dedup();
        match points.as_slice() {
            [] => continue,
            [(x, y)] => points.push((x + 1.0, *y)),
            _ => {}
        }
        for (x, y) in points {
            encoder.add_point(x, y).ok()?;
        }
        encoder.complete_geom().ok()?;
    }
    let data = encoder.encode().ok()?;
    (!data.is_empty()).then_some(data)
}

/// Polygons in tile units, outer rings clockwise on screen and holes anticlockwise as
/// the format asks; None when nothing of them is left at this zoom.
fn polygons(tile: TileId, shape: &MultiPolygon<f64>) -> Option<mvt::GeomData> {
    let mut encoder = encoder(GeomType::Polygon);
    for polygon in shape {
        let projected = polygon.map_coords(|c| {
            let [x, y] = tile.units(world(c.x, c.y));
            Coord { x, y }
        });
        // With y pointing down, geo's anticlockwise (positive area) is the format's
        // clockwise exterior.
        let polygon = projected.simplify(TOLERANCE).orient(Direction::Default);
        let rings: Vec<Vec<(f64, f64)>> = std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .map(|ring| {
                let mut points: Vec<(f64, f64)> =
                    ring.0.iter().map(|c| (c.x.round(), c.y.round())).collect();
                points.dedup();
                if points.len() > 1 && points.first() == points.last() {
                    points.pop();
                }
                points
            })
            .collect();
        // A shell smaller than a unit goes, with its holes; a hole that small goes alone.
        if rings[0].len() < 3 {
            continue;
        }
        for points in rings.into_iter().filter(|ring| ring.len() >= 3) {
            for (x, y) in points {
                encoder.add_point(x, y).ok()?;
            }
            encoder.complete_geom().ok()?;
        }
    }
    let data = encoder.encode().ok()?;
    (!data.is_empty()).then_some(data)
}

/// Tiles as built, by layer, address and what they were built from (the streets'
/// fingerprint, the scoring run, a time bucket), so a new scoring run or changed
/// streets are new keys and stale tiles simply age out.
pub struct TileCache {
    tiles: moka::future::Cache<(Layer, TileId, u64), Arc<Vec<u8>>>,
}

/// Bytes of tiles a server keeps at most.
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl Default for TileCache {
    fn default() -> TileCache {
        TileCache {
            tiles: moka::future::Cache::builder()
                .max_capacity(CACHE_BYTES)
                .weigher(|_, tile: &Arc<Vec<u8>>| {
                    u32::try_from(tile.len().max(64)).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl TileCache {
    /// The tile for `key`, built by `build` only if no one has built it yet; however
    /// many ask at once, it is built once.
    pub async fn get_or_build<F, E>(
        &self,
        key: (Layer, TileId, u64),
        build: F,
    ) -> Result<Arc<Vec<u8>>, Arc<E>>
    where
        F: std::future::Future<Output = Result<Vec<u8>, E>>,
        E: Send + Sync + 'static,
    {
        self.tiles
            .try_get_with(key, async { build.await.map(Arc::new) })
            .await
    }
}

/// A version number for whatever a tile was built from.
pub fn version_of(parts: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(parts)
}

#[cfg(test)]
mod tests;
