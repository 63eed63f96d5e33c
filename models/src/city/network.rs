//! The street network: a jittered grid of arterials, collectors and local streets, with
//! wards and neighbourhoods laid over it.

use super::{CityParams, to_lon_lat};
use crate::network::RoadClass;
use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

/// Distance between neighbouring intersections before jitter, metres.
const BLOCK_M: f64 = 150.0;
/// Intersections move this far at most from the regular grid, metres.
const JITTER_M: f64 = 18.0;
/// Every this many grid lines is an arterial; every half of it a collector.
const ARTERIAL_EVERY: usize = 8;
/// Share of local blocks left out (parks, dead ends) so the grid is not perfect.
const MISSING_LOCAL_SHARE: f64 = 0.04;
/// Neighbourhoods along one side of the grid, per this many intersections.
const NEIGHBOURHOOD_SIDE: usize = 8;

/// Pavement type; it sets the design life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Asphalt,
    Concrete,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Asphalt => "asphalt",
            Surface::Concrete => "concrete",
        }
    }

    /// Years from resurfacing until the condition index would reach zero untouched.
    pub fn design_life_years(self) -> f64 {
        match self {
            Surface::Asphalt => 22.0,
            Surface::Concrete => 35.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ward {
    pub id: u32,
    pub name: String,
    pub population: u32,
    /// Closed ring, longitude first.
    pub boundary: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Neighbourhood {
    pub id: u32,
    pub ward: u32,
    pub name: String,
    pub population: u32,
    /// Relative household income, 1.0 = city median.
    pub income_index: f64,
    /// People per km².
    pub density_per_km2: f64,
    /// How readily residents report (reports per open pothole-day, relative). Hidden:
    /// it is part of the truth, used to check the model is fair across neighbourhoods.
    pub reporting_propensity: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: u32,
    pub name: String,
    pub class: RoadClass,
    pub surface: Surface,
    pub length_m: f64,
    /// Annual average daily traffic, vehicles.
    pub aadt: u32,
    pub bus_route: bool,
    /// Last resurfaced before the history starts.
    pub last_resurfaced: NaiveDate,
    /// 0 (water stands) to 1 (drains well). Hidden: part of the truth.
    pub drainage: f64,
    pub ward: u32,
    pub neighbourhood: u32,
    /// Longitude-first line from one intersection to the next.
    pub geometry: Vec<(f64, f64)>,
    /// Metres east and north of the centre of each end, for fast local geometry.
    pub(crate) ends_m: [(f64, f64); 2],
}

pub(crate) struct Network {
    pub wards: Vec<Ward>,
    pub neighbourhoods: Vec<Neighbourhood>,
    pub segments: Vec<Segment>,
}

fn class_of_line(index: usize) -> RoadClass {
    if index.is_multiple_of(ARTERIAL_EVERY) {
        RoadClass::Arterial
    } else if index.is_multiple_of(ARTERIAL_EVERY / 2) {
        RoadClass::Collector
    } else {
        RoadClass::Local
    }
}

const STREET_NAMES: [&str; 24] = [
    "Oak", "Maple", "Elm", "Cedar", "Pine", "Birch", "Walnut", "Chestnut", "Willow", "Spruce",
    "Hickory", "Ash", "Locust", "Laurel", "Poplar", "Magnolia", "Juniper", "Sycamore", "Alder",
    "Cherry", "Holly", "Linden", "Hazel", "Aspen",
];

fn street_name(index: usize, horizontal: bool, class: RoadClass) -> String {
    let base = STREET_NAMES[index % STREET_NAMES.len()];
    let round = index / STREET_NAMES.len();
    let suffix = match (class, horizontal) {
        (RoadClass::Arterial, _) => "Boulevard",
        (RoadClass::Collector, true) => "Avenue",
        (RoadClass::Collector, false) => "Road",
        (RoadClass::Local, true) => "Street",
        (RoadClass::Local, false) => "Lane",
    };
    if round == 0 {
        format!("{base} {suffix}")
    } else {
        format!("{base} {suffix} {}", round + 1)
    }
}

pub(crate) fn build(params: &CityParams, rng: &mut ChaCha8Rng) -> Network {
    let side = params.size.grid_side();
    let half = (side as f64 - 1.0) * BLOCK_M / 2.0;
    // Intersections, jittered (arterial crossings stay put, as main roads are straight).
    let mut nodes = Vec::with_capacity(side * side);
    for row in 0..side {
        for col in 0..side {
            let straight = row % ARTERIAL_EVERY == 0 || col % ARTERIAL_EVERY == 0;
            let jitter = if straight { 0.0 } else { JITTER_M };
            let east = col as f64 * BLOCK_M - half + rng.gen_range(-1.0..=1.0) * jitter;
            let north = row as f64 * BLOCK_M - half + rng.gen_range(-1.0..=1.0) * jitter;
            nodes.push((east, north));
        }
    }

    let (wards, neighbourhoods) = areas(params, side, half, rng);
    let hood_side = side.div_ceil(NEIGHBOURHOOD_SIDE);
    let hood_of = |row: usize, col: usize| -> u32 {
        let r = (row / NEIGHBOURHOOD_SIDE).min(hood_side - 1);
        let c = (col / NEIGHBOURHOOD_SIDE).min(hood_side - 1);
        u32::try_from(r * hood_side + c).unwrap_or(0)
    };
    // Drainage varies by neighbourhood (old combined sewers, low ground) and by street.
    let hood_drainage: Vec<f64> = neighbourhoods
        .iter()
        .map(|_| rng.gen_range(0.25..0.9))
        .collect();

    let traffic = |class: RoadClass| -> f64 {
        match class {
            RoadClass::Arterial => 16_000.0,
            RoadClass::Collector => 5_000.0,
            RoadClass::Local => 700.0,
        }
    };
    let traffic_noise = LogNormal::new(0.0, 0.35).expect("valid");
    let years_back = |rng: &mut ChaCha8Rng, surface: Surface| {
        // Ages spread over the design life, so the network holds every condition.
        rng.gen_range(0.0..surface.design_life_years() * 0.95)
    };
    let start = params.start();

    let mut segments = Vec::new();
    for row in 0..side {
        for col in 0..side {
            for horizontal in [true, false] {
                let (r2, c2) = if horizontal {
                    (row, col + 1)
                } else {
                    (row + 1, col)
                };
                if r2 >= side || c2 >= side {
                    continue;
                }
                let line = if horizontal { row } else { col };
                let class = class_of_line(line);
                if class == RoadClass::Local && rng.gen_bool(MISSING_LOCAL_SHARE) {
                    continue;
                }
                let a = nodes[row * side + col];
                let b = nodes[r2 * side + c2];
                let length_m = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
                let surface = if class == RoadClass::Arterial && rng.gen_bool(0.25) {
                    Surface::Concrete
                } else {
                    Surface::Asphalt
                };
                let age_years = years_back(rng, surface);
                let last_resurfaced =
                    start - chrono::Duration::days((age_years * 365.25).round() as i64);
                let bus_route = class == RoadClass::Arterial
                    || (class == RoadClass::Collector
                        && line % ARTERIAL_EVERY == ARTERIAL_EVERY / 2
                        && line % (2 * ARTERIAL_EVERY) != 0);
                let neighbourhood = hood_of(row.min(r2), col.min(c2));
                let drainage = (hood_drainage[neighbourhood as usize] + rng.gen_range(-0.2..0.2))
                    .clamp(0.0, 1.0);
                let aadt = (traffic(class) * traffic_noise.sample(rng)).round() as u32;
                let id = u32::try_from(segments.len() + 1).unwrap_or(u32::MAX);
                segments.push(Segment {
                    id,
                    name: street_name(line, horizontal, class),
                    class,
                    surface,
                    length_m,
                    aadt,
                    bus_route,
                    last_resurfaced,
                    drainage,
                    ward: neighbourhoods[neighbourhood as usize].ward,
                    neighbourhood: neighbourhood + 1,
                    geometry: vec![
                        to_lon_lat(params.centre, a.0, a.1),
                        to_lon_lat(params.centre, b.0, b.1),
                    ],
                    ends_m: [a, b],
                });
            }
        }
    }
    Network {
        wards,
        neighbourhoods,
        segments,
    }
}

/// Neighbourhoods are squares of the grid; wards are groups of 2×2 neighbourhoods.
fn areas(
    params: &CityParams,
    side: usize,
    half: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<Ward>, Vec<Neighbourhood>) {
    let hood_side = side.div_ceil(NEIGHBOURHOOD_SIDE);
    let ward_side = hood_side.div_ceil(2);
    let hood_m = NEIGHBOURHOOD_SIDE as f64 * BLOCK_M;
    let count = hood_side * hood_side;
    // Income and density are drawn first; reporting propensity then follows their rank,
    // so it varies about threefold between the most and least eager thirds (5^z below:
    // the mean of the top third is about 2.9 times that of the bottom third).
    let incomes: Vec<f64> = (0..count)
        .map(|_| LogNormal::new(0.0, 0.35).expect("valid").sample(rng))
        .collect();
    let densities: Vec<f64> = (0..count)
        .map(|_| rng.gen_range(1_500.0..9_000.0))
        .collect();
    let rank = |values: &[f64], i: usize| {
        values.iter().filter(|v| **v < values[i]).count() as f64 / (count.max(2) - 1) as f64
    };
    let scores: Vec<f64> = (0..count)
        .map(|i| 0.7 * rank(&incomes, i) + 0.3 * rank(&densities, i))
        .collect();
    let mut neighbourhoods = Vec::with_capacity(count);
    for i in 0..count {
        let (r, c) = (i / hood_side, i % hood_side);
        let ward = u32::try_from((r / 2) * ward_side + c / 2 + 1).unwrap_or(1);
        let area_km2 = (hood_m / 1000.0).powi(2);
        let z = rank(&scores, i);
        neighbourhoods.push(Neighbourhood {
            id: u32::try_from(i + 1).unwrap_or(u32::MAX),
            ward,
            name: format!(
                "{} {}",
                [
                    "North", "South", "East", "West", "Upper", "Lower", "Old", "New"
                ][i % 8],
                STREET_NAMES[(i * 7) % STREET_NAMES.len()]
            ),
            population: (densities[i] * area_km2).round() as u32,
            income_index: incomes[i],
            density_per_km2: densities[i],
            reporting_propensity: 5f64.powf(z),
        });
    }
    let mut wards = Vec::new();
    for w in 0..ward_side * ward_side {
        let (wr, wc) = (w / ward_side, w % ward_side);
        let id = u32::try_from(w + 1).unwrap_or(u32::MAX);
        let population = neighbourhoods
            .iter()
            .filter(|n| n.ward == id)
            .map(|n| n.population)
            .sum();
        let west = (wc as f64 * 2.0 * hood_m - half - BLOCK_M / 2.0).max(-half - BLOCK_M / 2.0);
        let south = (wr as f64 * 2.0 * hood_m - half - BLOCK_M / 2.0).max(-half - BLOCK_M / 2.0);
        let east = (west + 2.0 * hood_m).min(half + BLOCK_M / 2.0);
        let north = (south + 2.0 * hood_m).min(half + BLOCK_M / 2.0);
        let corner = |e: f64, n: f64| to_lon_lat(params.centre, e, n);
        wards.push(Ward {
            id,
            name: format!("Ward {id}"),
            population,
            // Counter-clockwise, as RFC 7946 wants exterior rings.
            boundary: vec![
                corner(west, south),
                corner(east, south),
                corner(east, north),
                corner(west, north),
                corner(west, south),
            ],
        });
    }
    (wards, neighbourhoods)
}
