//! The city's history, day by day: pavement decays, potholes form and grow, residents
//! report some of them, crews with limited capacity repair them, the worst streets are
//! resurfaced each summer, and probe vehicles measure roughness as they pass.

use super::network::{Network, Segment};
use super::weather::WeatherDay;
use super::{CityParams, to_lon_lat};
use crate::network::RoadClass;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// New potholes per km per day on a segment at condition index 50 with typical traffic
/// and drainage, at the height of the spring season (calibrated so the network sees
/// 15–50 potholes per km per year, most of them January to April).
const POTHOLE_RATE_PER_KM_DAY: f64 = 0.16;
/// Chance per day that an open pothole draws a report, at reporting propensity 1.
const REPORT_RATE_PER_DAY: f64 = 0.010;
/// Reports of a pothole that does not exist, per neighbourhood-day, at propensity 1.
const FALSE_REPORT_RATE_PER_DAY: f64 = 0.035;
/// Share of pothole reports filed under another service.
const MISFILED_SHARE: f64 = 0.03;
/// Extra days of ageing a freeze–thaw day gives the pavement.
const FREEZE_THAW_AGEING_DAYS: f64 = 2.0;
/// Potholes form this many days after freeze–thaw spells (window start and end).
const FREEZE_THAW_LAG_DAYS: (usize, usize) = (75, 40);
/// Repairs a crew can do on a working day; the city has one crew per this many segments.
pub const REPAIRS_PER_CREW_DAY: usize = 10;
pub const SEGMENTS_PER_CREW: usize = 400;
/// Standard deviation of a probe reading around the true roughness, m/km.
const PROBE_NOISE_M_PER_KM: f64 = 1.28;

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: u32,
    pub service_code: &'static str,
    pub lon: f64,
    pub lat: f64,
    pub reported_at: NaiveDateTime,
    pub description: String,
    pub attributes: Vec<(&'static str, &'static str)>,
    /// The work order the city opened for it (several reports share one when the city
    /// recognised them as the same problem).
    pub work_order: u32,
    pub neighbourhood: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkOrderOutcome {
    /// The defect was repaired.
    Repaired,
    /// The crew found nothing to fix.
    NothingFound,
    /// Fixed by resurfacing the street.
    Resurfaced,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkOrder {
    pub id: u32,
    pub service_code: &'static str,
    pub segment: Option<u32>,
    pub lon: f64,
    pub lat: f64,
    pub created_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub outcome: Option<WorkOrderOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceKind {
    PotholeRepair,
    Resurfacing,
}

impl MaintenanceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceKind::PotholeRepair => "pothole_repair",
            MaintenanceKind::Resurfacing => "resurfacing",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Maintenance {
    pub segment: u32,
    pub work_order: Option<u32>,
    pub kind: MaintenanceKind,
    pub performed_on: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeSource {
    /// Refuse trucks: weekly, on local streets.
    RefuseTruck,
    /// Buses: daily, on bus routes.
    Bus,
}

impl ProbeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeSource::RefuseTruck => "refuse_truck",
            ProbeSource::Bus => "bus",
        }
    }
}

/// A probe reading, in 12 bytes: the large demo city has 39 million of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReading {
    pub segment: u32,
    pub source: ProbeSource,
    pub observed_on: NaiveDate,
    /// International Roughness Index, hundredths of a m/km: a reading is read to 0.01.
    pub centi_iri: u16,
}

impl ProbeReading {
    /// International Roughness Index, m/km.
    pub fn roughness_m_per_km(&self) -> f64 {
        f64::from(self.centi_iri) / 100.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TruePothole {
    pub id: u32,
    pub segment: u32,
    pub lon: f64,
    pub lat: f64,
    pub formed_on: NaiveDate,
    pub repaired_on: Option<NaiveDate>,
    pub reports: u32,
}

/// A segment's true state at the start of a week.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueSegmentWeek {
    pub segment: u32,
    pub week_start: NaiveDate,
    /// Pavement condition index, 0–100.
    pub pci: f64,
    /// True probability of at least one new pothole in the next 28 days.
    pub hazard_28d: f64,
}

/// What really happened; only evaluation may read it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroundTruth {
    pub potholes: Vec<TruePothole>,
    /// For each report (same index as `City::reports`), the pothole it was about, or
    /// None for other services and for reports of potholes that did not exist.
    pub report_pothole: Vec<Option<u32>>,
    /// The true roughness behind each probe reading (same index), m/km.
    pub reading_roughness: Vec<f32>,
    pub segment_weeks: Vec<TrueSegmentWeek>,
}

pub(crate) struct History {
    pub reports: Vec<Report>,
    pub work_orders: Vec<WorkOrder>,
    pub maintenance: Vec<Maintenance>,
    pub probe_readings: Vec<ProbeReading>,
    pub surveys: Vec<Survey>,
    pub truth: GroundTruth,
}

/// A condition survey of one segment: its PCI (0–100, 100 new) as a rater judged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub segment: u32,
    pub surveyed_on: NaiveDate,
    pub pci: f64,
}

/// The chance that residents report an open pothole on `segment` today, `age_days`
/// after it formed, in a neighbourhood of reporting `propensity`: busier streets and
/// bigger holes draw more reports.
pub fn report_chance(segment: &Segment, propensity: f64, age_days: i64) -> f64 {
    let traffic = (f64::from(segment.aadt.max(50)) / 2_000.0).powf(0.25);
    let growth = (1.0 + age_days as f64 / 30.0).min(2.0);
    (REPORT_RATE_PER_DAY * propensity * traffic * growth).min(0.9)
}

/// How many road crews a city of `segments` segments has.
pub fn road_crews(segments: usize) -> usize {
    segments.div_ceil(SEGMENTS_PER_CREW)
}

/// Days the city gives itself to fix a pothole on a road of `class`.
pub fn sla_days(class: RoadClass) -> i64 {
    match class {
        RoadClass::Arterial => 2,
        RoadClass::Collector => 5,
        RoadClass::Local => 10,
    }
}

/// Other services: (code, reports per neighbourhood-day, days to resolve, attributes).
type OtherService = (
    &'static str,
    f64,
    i64,
    &'static [(&'static str, &'static [&'static str])],
);
const OTHER_SERVICES: [OtherService; 10] = [
    (
        "street_light_out",
        0.09,
        5,
        &[("problem", &["off", "flickering", "day_burning", "damaged"])],
    ),
    (
        "graffiti",
        0.07,
        12,
        &[("offensive", &["yes", "no", "no", "no"])],
    ),
    (
        "illegal_dumping",
        0.06,
        5,
        &[("items", &["bags", "furniture", "appliances", "tyres"])],
    ),
    ("blocked_drain", 0.03, 3, &[]),
    (
        "sidewalk_damage",
        0.04,
        14,
        &[("hazard", &["trip", "broken", "curb"])],
    ),
    (
        "damaged_sign",
        0.02,
        6,
        &[
            ("sign_type", &["stop", "speed", "street_name", "other"]),
            ("problem", &["missing", "down", "turned", "unreadable"]),
        ],
    ),
    (
        "tree_hazard",
        0.02,
        2,
        &[("blocking", &["road", "sidewalk", "no"])],
    ),
    (
        "traffic_signal_fault",
        0.01,
        1,
        &[(
            "problem",
            &["dark", "stuck", "bulb_out", "pedestrian", "damaged"],
        )],
    ),
    (
        "missed_collection",
        0.06,
        2,
        &[("bin", &["waste", "recycling", "garden"])],
    ),
    ("other", 0.025, 10, &[]),
];

struct Pothole {
    truth: usize,
    segment: usize,
    work_order: Option<u32>,
}

struct State<'a> {
    segments: &'a [Segment],
    /// A hidden factor on each segment's pothole rate (1 unless the variant asks).
    durability: Vec<f64>,
    history: History,
    /// Days of effective age of each segment's surface.
    age_days: Vec<f64>,
    open: Vec<Pothole>,
    queue: BinaryHeap<Reverse<(NaiveDateTime, u32)>>,
    next_report: u32,
}

impl State<'_> {
    fn pci(&self, s: usize) -> f64 {
        let segment = &self.segments[s];
        let traffic = (2_000.0 / f64::from(segment.aadt.max(50))).powf(0.08);
        let life = segment.surface.design_life_years() * traffic * (0.8 + 0.4 * segment.drainage);
        let age = self.age_days[s] / 365.25;
        (100.0 * (1.0 - (age / life).powf(2.5))).clamp(0.0, 100.0)
    }

    /// Expected new potholes on segment `s` today, given the season factor.
    fn pothole_rate(&self, s: usize, season: f64) -> f64 {
        let segment = &self.segments[s];
        let poor = ((100.0 - self.pci(s)) / 50.0).powi(2);
        let traffic = (f64::from(segment.aadt.max(50)) / 2_000.0).powf(0.3);
        let drainage = 1.5 - segment.drainage;
        POTHOLE_RATE_PER_KM_DAY * segment.length_m / 1000.0
            * poor
            * traffic
            * drainage
            * season
            * self.durability[s]
    }

    fn open_work_order(
        &mut self,
        code: &'static str,
        segment: Option<usize>,
        at: NaiveDateTime,
        lon: f64,
        lat: f64,
        due_days: i64,
    ) -> u32 {
        let id = u32::try_from(self.history.work_orders.len() + 1).unwrap_or(u32::MAX);
        let due_at = at + chrono::Duration::days(due_days);
        self.history.work_orders.push(WorkOrder {
            id,
            service_code: code,
            segment: segment.map(|s| self.segments[s].id),
            lon,
            lat,
            created_at: at,
            due_at,
            completed_at: None,
            outcome: None,
        });
        self.queue.push(Reverse((due_at, id)));
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn add_report(
        &mut self,
        code: &'static str,
        at: NaiveDateTime,
        (lon, lat): (f64, f64),
        description: String,
        attributes: Vec<(&'static str, &'static str)>,
        work_order: u32,
        neighbourhood: u32,
        pothole: Option<u32>,
    ) {
        self.next_report += 1;
        self.history.reports.push(Report {
            id: self.next_report,
            service_code: code,
            lon,
            lat,
            reported_at: at,
            description,
            attributes,
            work_order,
            neighbourhood,
        });
        self.history.truth.report_pothole.push(pothole);
    }

    fn complete(&mut self, work_order: u32, at: NaiveDateTime, outcome: WorkOrderOutcome) {
        let order = &mut self.history.work_orders[work_order as usize - 1];
        if order.completed_at.is_none() {
            order.completed_at = Some(at);
            order.outcome = Some(outcome);
        }
    }
}

/// A point `along` (0–1) segment `s`, moved `offset_m` metres in a random direction.
fn point_on(
    segment: &Segment,
    centre: (f64, f64),
    along: f64,
    offset_m: f64,
    rng: &mut ChaCha8Rng,
) -> (f64, f64) {
    let [a, b] = segment.ends_m;
    let angle = rng.gen_range(0.0..std::f64::consts::TAU);
    let east = a.0 + (b.0 - a.0) * along + offset_m * angle.cos();
    let north = a.1 + (b.1 - a.1) * along + offset_m * angle.sin();
    to_lon_lat(centre, east, north)
}

/// A random street among `streets` and a point on it, moved 5 to `max_offset_m` metres
/// off the centre line (where people stand when they report).
fn spot_in(
    streets: &[usize],
    segments: &[Segment],
    centre: (f64, f64),
    max_offset_m: f64,
    rng: &mut ChaCha8Rng,
) -> (usize, (f64, f64)) {
    let s = *streets.choose(rng).expect("a neighbourhood with streets");
    let along = rng.gen_range(0.0..1.0);
    let offset = rng.gen_range(5.0..max_offset_m);
    (s, point_on(&segments[s], centre, along, offset, rng))
}

fn at_time(day: NaiveDate, rng: &mut ChaCha8Rng, from_hour: u32, to_hour: u32) -> NaiveDateTime {
    let seconds = rng.gen_range(from_hour * 3600..to_hour * 3600);
    day.and_hms_opt(seconds / 3600, seconds / 60 % 60, seconds % 60)
        .expect("a valid time of day")
}

fn pothole_attributes(
    age_days: i64,
    class: RoadClass,
    rng: &mut ChaCha8Rng,
) -> Vec<(&'static str, &'static str)> {
    let size = match age_days {
        0..=14 => "small",
        15..=45 => "medium",
        _ => "large",
    };
    let depth = ["shallow", "deep", "very_deep"]
        [rng.gen_range(0..3usize).min(usize::from(age_days > 20) + 1)];
    let lane_share = if class == RoadClass::Local { 0.6 } else { 0.8 };
    let lane = if rng.gen_bool(lane_share) {
        "yes"
    } else {
        "no"
    };
    vec![("size", size), ("depth", depth), ("in_traffic_lane", lane)]
}

pub(crate) fn run(
    params: &CityParams,
    network: &Network,
    weather: &[WeatherDay],
    rng: &mut ChaCha8Rng,
    progress: &mut dyn FnMut(f64),
) -> History {
    let segments = &network.segments;
    let start = params.start();
    let variant = params.variant;
    // The variants draw from generators of their own, so the plain city's stream of
    // draws is untouched where they change nothing.
    let mut variant_rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(
        params.seed.wrapping_add(0x005E_ED0F_0DD5),
    );
    let durability = if variant.hidden_durability {
        let spread = rand_distr::LogNormal::new(-0.18, 0.6).expect("valid");
        segments
            .iter()
            .map(|_| spread.sample(&mut variant_rng))
            .collect()
    } else {
        vec![1.0; segments.len()]
    };
    let report_scale = if variant.sparse_reports { 0.012 } else { 1.0 };
    let survey_noise = Normal::new(0.0, 6.0).expect("valid");
    let mut state = State {
        segments,
        durability,
        history: History {
            reports: Vec::new(),
            work_orders: Vec::new(),
            maintenance: Vec::new(),
            probe_readings: Vec::new(),
            surveys: Vec::new(),
            truth: GroundTruth::default(),
        },
        age_days: segments
            .iter()
            .map(|s| (start - s.last_resurfaced).num_days() as f64)
            .collect(),
        open: Vec::new(),
        queue: BinaryHeap::new(),
        next_report: 0,
    };
    let by_neighbourhood: Vec<Vec<usize>> = network
        .neighbourhoods
        .iter()
        .map(|n| {
            (0..segments.len())
                .filter(|&s| segments[s].neighbourhood == n.id)
                .collect()
        })
        .collect();
    let propensity = |s: usize| {
        network.neighbourhoods[segments[s].neighbourhood as usize - 1].reporting_propensity
    };
    let crews = road_crews(segments.len());
    let daily_capacity = crews * REPAIRS_PER_CREW_DAY;
    let noise = Normal::new(0.0, PROBE_NOISE_M_PER_KM).expect("valid");
    let freeze_thaw: Vec<f64> = weather
        .iter()
        .map(|w| f64::from(u8::from(w.is_freeze_thaw())))
        .collect();
    let weeks = weather.len().div_ceil(7);
    // Expected new potholes per segment per week, for the true 28-day hazard.
    let mut weekly_rate = vec![0f32; segments.len() * weeks];
    let mut week_pci = vec![0f32; segments.len() * weeks];
    let total_days = weather.len();
    let mut open_count = vec![0u8; segments.len()];
    // The long lists are sized before they fill: grown by doubling, the large city's
    // readings would briefly need three times their room.
    if !variant.surveys_not_probes {
        let readings: usize = segments
            .iter()
            .map(|s| {
                if s.bus_route {
                    total_days
                } else if s.class == RoadClass::Local {
                    total_days.div_ceil(7)
                } else {
                    0
                }
            })
            .sum();
        state.history.probe_readings.reserve_exact(readings);
        state
            .history
            .truth
            .reading_roughness
            .reserve_exact(readings);
    }
    state
        .history
        .truth
        .segment_weeks
        .reserve_exact(segments.len() * weeks.saturating_sub(4));

    for (day_index, today) in weather.iter().enumerate() {
        let day = today.date;
        // Potholes appear about two months after freeze–thaw spells.
        let (lag_from, lag_to) = variant.freeze_thaw_lag.unwrap_or(FREEZE_THAW_LAG_DAYS);
        let window = day_index.saturating_sub(lag_from)..day_index.saturating_sub(lag_to);
        let spell_days: f64 = freeze_thaw[window].iter().sum();
        let season = 0.08 + spell_days / 12.0;
        let week = day_index / 7;

        for s in 0..segments.len() {
            state.age_days[s] += 1.0 + FREEZE_THAW_AGEING_DAYS * freeze_thaw[day_index];
            let rate = state.pothole_rate(s, season);
            weekly_rate[s * weeks + week] += rate as f32;
            if day_index % 7 == 0 {
                week_pci[s * weeks + week] = state.pci(s) as f32;
            }
            if rng.gen_bool(rate.min(1.0)) {
                let along = rng.gen_range(0.05..0.95);
                let (lon, lat) = point_on(&segments[s], params.centre, along, 0.0, rng);
                let id = u32::try_from(state.history.truth.potholes.len() + 1).unwrap_or(u32::MAX);
                state.history.truth.potholes.push(TruePothole {
                    id,
                    segment: segments[s].id,
                    lon,
                    lat,
                    formed_on: day,
                    repaired_on: None,
                    reports: 0,
                });
                state.open.push(Pothole {
                    truth: id as usize - 1,
                    segment: s,
                    work_order: None,
                });
            }
        }

        // Residents report open potholes; busier streets and eager neighbourhoods more.
        for i in 0..state.open.len() {
            let (truth, s) = (state.open[i].truth, state.open[i].segment);
            let age = (day - state.history.truth.potholes[truth].formed_on).num_days();
            let chance = report_chance(&segments[s], propensity(s), age) * report_scale;
            if !rng.gen_bool(chance) {
                continue;
            }
            let at = at_time(day, rng, 7, 22);
            let pothole = &state.history.truth.potholes[truth];
            let (lon, lat) = {
                let offset = rng.gen_range(10.0..30.0);
                let angle = rng.gen_range(0.0..std::f64::consts::TAU);
                let (dlon, dlat) = (
                    offset * angle.cos() / (111_195.0 * pothole.lat.to_radians().cos()),
                    offset * angle.sin() / 111_195.0,
                );
                (pothole.lon + dlon, pothole.lat + dlat)
            };
            let work_order = match state.open[i].work_order {
                Some(id) => id,
                None => {
                    let id = state.open_work_order(
                        "pothole",
                        Some(s),
                        at,
                        pothole.lon,
                        pothole.lat,
                        sla_days(segments[s].class),
                    );
                    state.open[i].work_order = Some(id);
                    id
                }
            };
            let misfiled = rng.gen_bool(MISFILED_SHARE);
            let (code, attributes) = if misfiled {
                if rng.gen_bool(0.5) {
                    ("sidewalk_damage", vec![("hazard", "broken")])
                } else {
                    ("other", vec![])
                }
            } else {
                ("pothole", pothole_attributes(age, segments[s].class, rng))
            };
            let description = format!("Pothole on {}", segments[s].name);
            state.history.truth.potholes[truth].reports += 1;
            let neighbourhood = segments[s].neighbourhood;
            state.add_report(
                code,
                at,
                (lon, lat),
                description,
                attributes,
                work_order,
                neighbourhood,
                Some(u32::try_from(truth + 1).unwrap_or(0)),
            );
        }

        // Reports of potholes that are not there, and the other services.
        for (n, hood) in network.neighbourhoods.iter().enumerate() {
            let streets = &by_neighbourhood[n];
            if streets.is_empty() {
                continue;
            }
            if rng.gen_bool((FALSE_REPORT_RATE_PER_DAY * hood.reporting_propensity).min(1.0)) {
                let at = at_time(day, rng, 7, 22);
                let (s, (lon, lat)) = spot_in(streets, segments, params.centre, 20.0, rng);
                let order = state.open_work_order(
                    "pothole",
                    Some(s),
                    at,
                    lon,
                    lat,
                    sla_days(segments[s].class),
                );
                let attributes = pothole_attributes(0, segments[s].class, rng);
                state.add_report(
                    "pothole",
                    at,
                    (lon, lat),
                    format!("Pothole on {}", segments[s].name),
                    attributes,
                    order,
                    hood.id,
                    None,
                );
            }
            let storm = if today.precipitation_mm > 20.0 {
                6.0
            } else {
                1.0
            };
            for (code, rate, resolve_days, questions) in OTHER_SERVICES {
                let rate = rate
                    * hood.reporting_propensity.sqrt()
                    * if code == "blocked_drain" { storm } else { 1.0 };
                let count = Poisson::new(rate).map_or(0.0, |p| p.sample(rng)) as usize;
                for _ in 0..count {
                    let at = at_time(day, rng, 6, 23);
                    let (s, (lon, lat)) = spot_in(streets, segments, params.centre, 25.0, rng);
                    let order = state.open_work_order(code, Some(s), at, lon, lat, resolve_days);
                    let attributes = questions
                        .iter()
                        .map(|(q, answers)| (*q, *answers.choose(rng).expect("answers")))
                        .collect();
                    let done =
                        at + chrono::Duration::hours(rng.gen_range(4..(resolve_days * 36).max(6)));
                    if done.date() <= params.end {
                        state.complete(order, done, WorkOrderOutcome::Repaired);
                    }
                    state.add_report(
                        code,
                        at,
                        (lon, lat),
                        format!("Reported near {}", segments[s].name),
                        attributes,
                        order,
                        hood.id,
                        None,
                    );
                }
            }
        }

        // Crews work the queue, earliest due first, on working days.
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let mut done = 0;
            while done < daily_capacity {
                let Some(Reverse((_, order_id))) = state.queue.pop() else {
                    break;
                };
                let order = &state.history.work_orders[order_id as usize - 1];
                // Road crews handle road defects; other services resolve on their own clock.
                if order.completed_at.is_some()
                    || order.created_at.date() > day
                    || order.service_code != "pothole"
                {
                    continue;
                }
                done += 1;
                let at =
                    at_time(day, rng, 8, 17).max(order.created_at + chrono::Duration::minutes(30));
                if let Some(position) = state
                    .open
                    .iter()
                    .position(|p| p.work_order == Some(order_id))
                {
                    let pothole = state.open.swap_remove(position);
                    state.history.truth.potholes[pothole.truth].repaired_on = Some(day);
                    state.complete(order_id, at, WorkOrderOutcome::Repaired);
                    state.history.maintenance.push(Maintenance {
                        segment: segments[pothole.segment].id,
                        work_order: Some(order_id),
                        kind: MaintenanceKind::PotholeRepair,
                        performed_on: day,
                    });
                } else {
                    state.complete(order_id, at, WorkOrderOutcome::NothingFound);
                }
            }
        }

        // Each summer the worst streets (with some noise in the judgement) are resurfaced.
        if day.month() == 7 && day.day() == 15 {
            let share = rng.gen_range(0.02..0.04);
            let budget_m = share * segments.iter().map(|s| s.length_m).sum::<f64>();
            let mut ranked: Vec<(f64, usize)> = (0..segments.len())
                .map(|s| (state.pci(s) + rng.gen_range(-12.0..12.0), s))
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut used = 0.0;
            for (_, s) in ranked {
                if used >= budget_m {
                    break;
                }
                used += segments[s].length_m;
                state.age_days[s] = 0.0;
                state.history.maintenance.push(Maintenance {
                    segment: segments[s].id,
                    work_order: None,
                    kind: MaintenanceKind::Resurfacing,
                    performed_on: day,
                });
                let at = day.and_hms_opt(15, 0, 0).expect("valid");
                let mut kept = Vec::with_capacity(state.open.len());
                for pothole in std::mem::take(&mut state.open) {
                    if pothole.segment == s {
                        state.history.truth.potholes[pothole.truth].repaired_on = Some(day);
                        if let Some(order) = pothole.work_order {
                            state.complete(order, at, WorkOrderOutcome::Resurfaced);
                        }
                    } else {
                        kept.push(pothole);
                    }
                }
                state.open = kept;
            }
        }

        // Probe vehicles: buses daily on their routes, refuse trucks weekly on local streets.
        open_count.iter_mut().for_each(|c| *c = 0);
        for pothole in &state.open {
            open_count[pothole.segment] = open_count[pothole.segment].saturating_add(1);
        }
        for (s, segment) in segments.iter().enumerate() {
            let source = if segment.bus_route {
                Some(ProbeSource::Bus)
            } else if segment.class == RoadClass::Local
                && day.weekday().num_days_from_monday() == segment.id % 5
            {
                Some(ProbeSource::RefuseTruck)
            } else {
                None
            };
            if let Some(source) = source {
                let open_here = f64::from(open_count[s].min(3));
                let truth = 1.2 + 0.055 * (100.0 - state.pci(s)) + 0.8 * open_here;
                // The same draw whatever the variant, scaled by vehicle and speed if asked.
                let spread = if variant.vehicle_noise {
                    let vehicle = match source {
                        ProbeSource::Bus => 1.5,
                        ProbeSource::RefuseTruck => 1.0,
                    };
                    let speed = match segment.class {
                        RoadClass::Arterial => 1.6,
                        RoadClass::Collector => 1.25,
                        RoadClass::Local => 1.0,
                    };
                    vehicle * speed
                } else {
                    1.0
                };
                let reading = (truth + spread * noise.sample(rng)).max(0.5);
                if variant.surveys_not_probes {
                    continue;
                }
                state.history.probe_readings.push(ProbeReading {
                    segment: segment.id,
                    source,
                    observed_on: day,
                    centi_iri: (reading * 100.0).round().min(f64::from(u16::MAX)) as u16,
                });
                state.history.truth.reading_roughness.push(truth as f32);
            }
        }
        // Surveys: each segment every other summer, spread over July and August.
        if variant.surveys_not_probes {
            for (s, segment) in segments.iter().enumerate() {
                let surveyed = day.month() == 7 + segment.id % 2
                    && day.day() == 1 + segment.id % 28
                    && (day.year() as u32 + segment.id).is_multiple_of(2);
                if surveyed {
                    let pci =
                        (state.pci(s) + survey_noise.sample(&mut variant_rng)).clamp(0.0, 100.0);
                    state.history.surveys.push(Survey {
                        segment: segment.id,
                        surveyed_on: day,
                        pci: (pci * 10.0).round() / 10.0,
                    });
                }
            }
        }
        if day_index % 30 == 0 {
            progress(day_index as f64 / total_days as f64);
        }
    }

    // The true 28-day hazard at each week's start: P(at least one pothole) from the rate
    // summed over the next four weeks (only weeks fully inside the history).
    for (s, segment) in segments.iter().enumerate() {
        for week in 0..weeks.saturating_sub(4) {
            let expected: f64 = (week..week + 4)
                .map(|w| f64::from(weekly_rate[s * weeks + w]))
                .sum();
            state.history.truth.segment_weeks.push(TrueSegmentWeek {
                segment: segment.id,
                week_start: start + chrono::Duration::days(i64::try_from(week * 7).unwrap_or(0)),
                pci: f64::from(week_pci[s * weeks + week]),
                hazard_28d: 1.0 - (-expected).exp(),
            });
        }
    }
    progress(1.0);
    state.history
}
