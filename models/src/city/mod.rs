//! A deterministic synthetic city with hidden ground truth.
//!
//! [`generate`] builds a street network, its weather, the true life of its pavement
//! (condition, potholes, repairs, resurfacing) and what a city's systems would have
//! observed of it (residents' reports, probe-vehicle roughness, work orders, maintenance
//! history). The truth ([`GroundTruth`]) is kept apart from the observations so that a
//! model can be scored against the real hazard, not only against who happened to report.
//!
//! The same [`CityParams`] always give the same city, bit for bit.

mod network;
mod simulate;
mod weather;

pub use network::{Neighbourhood, Segment, Surface, Ward};
pub use simulate::{
    GroundTruth, Maintenance, MaintenanceKind, ProbeReading, ProbeSource, REPAIRS_PER_CREW_DAY,
    Report, SEGMENTS_PER_CREW, Survey, TruePothole, TrueSegmentWeek, WorkOrder, WorkOrderOutcome,
    report_chance, road_crews, sla_days,
};
pub use weather::WeatherDay;

use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How big a city to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CitySize {
    /// About 100 segments: quick end-to-end tests of loading.
    Tiny,
    /// About 2,000 segments: tests and the demo.
    Small,
    /// About 100,000 segments: benchmarks.
    Large,
}

impl CitySize {
    /// Intersections along one side of the (square) street grid.
    fn grid_side(self) -> usize {
        match self {
            CitySize::Tiny => 8,
            CitySize::Small => 32,
            CitySize::Large => 224,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CitySize::Tiny => "tiny",
            CitySize::Small => "small",
            CitySize::Large => "large",
        }
    }

    pub fn parse(raw: &str) -> Result<CitySize, String> {
        match raw {
            "tiny" => Ok(CitySize::Tiny),
            "small" => Ok(CitySize::Small),
            "large" => Ok(CitySize::Large),
            other => Err(format!(
                "'{other}' is not a city size (expected tiny, small or large)"
            )),
        }
    }
}

/// Everything that decides a city.
#[derive(Debug, Clone, PartialEq)]
pub struct CityParams {
    pub seed: u64,
    pub size: CitySize,
    /// The last day of history (inclusive); history starts `years` before it.
    pub end: NaiveDate,
    pub years: u32,
    /// Longitude and latitude of the city centre, degrees.
    pub centre: (f64, f64),
    /// The band the mean number of reports per reported-or-not pothole must fall in.
    pub reports_per_pothole: (f64, f64),
    /// Departures from the demo city's world that the risk model's features were not
    /// built to mirror (all off for the demo city).
    pub variant: Variant,
}

/// Generator options that break the risk model's fit to the generator's formula, for an
/// honest test (issue 14): each makes the world harder in a way real cities are.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Variant {
    /// Every segment carries a hidden durability (a log-normal factor on its pothole
    /// rate, σ = 0.6) that nothing observed reveals: construction quality, subgrade.
    pub hidden_durability: bool,
    /// Probe noise depends on the vehicle and its speed: buses read 1.5× as noisy as
    /// refuse trucks, and arterials (faster) 1.6×, collectors 1.25×, locals 1×.
    pub vehicle_noise: bool,
    /// Residents report far less often: 0.1–0.3 reports per pothole (the daily chance is
    /// scaled by 0.012; unreported potholes stay open longer and draw more chances, so
    /// the scale is far below the share it gives).
    pub sparse_reports: bool,
    /// Potholes follow freeze–thaw spells by this many days (window start, end) instead
    /// of 75–40.
    pub freeze_thaw_lag: Option<(usize, usize)>,
    /// No probe vehicles: the city surveys each street's condition every two years
    /// instead (PCI with a rater's noise, σ = 6), as most cities do.
    pub surveys_not_probes: bool,
}

impl Variant {
    /// The variant named by `name` (`hidden_durability`, `vehicle_noise`,
    /// `sparse_reports`, `freeze_thaw_lag`, `surveys`), or the plain demo world for
    /// `none`.
    pub fn named(name: &str) -> Option<Variant> {
        let plain = Variant::default();
        Some(match name {
            "none" => plain,
            "hidden_durability" => Variant {
                hidden_durability: true,
                ..plain
            },
            "vehicle_noise" => Variant {
                vehicle_noise: true,
                ..plain
            },
            "sparse_reports" => Variant {
                sparse_reports: true,
                ..plain
            },
            "freeze_thaw_lag" => Variant {
                freeze_thaw_lag: Some((35, 10)),
                ..plain
            },
            "surveys" => Variant {
                surveys_not_probes: true,
                ..plain
            },
            _ => return None,
        })
    }

    pub const NAMES: [&'static str; 6] = [
        "none",
        "hidden_durability",
        "vehicle_noise",
        "sparse_reports",
        "freeze_thaw_lag",
        "surveys",
    ];
}

impl CityParams {
    /// The demo city: seeded, small, three years up to `end`, centred on Syracuse, NY
    /// (whose winters give the freeze-thaw cycles potholes need).
    pub fn demo(seed: u64, size: CitySize, end: NaiveDate) -> CityParams {
        CityParams {
            seed,
            size,
            end,
            years: 3,
            centre: (-76.1474, 43.0481),
            reports_per_pothole: (0.8, 2.5),
            variant: Variant::default(),
        }
    }

    /// The demo city in a generator `variant`.
    pub fn with_variant(self, variant: Variant) -> CityParams {
        CityParams {
            reports_per_pothole: if variant.sparse_reports {
                (0.1, 0.3)
            } else {
                self.reports_per_pothole
            },
            variant,
            ..self
        }
    }

    pub fn start(&self) -> NaiveDate {
        let years = i32::try_from(self.years).unwrap_or(3);
        NaiveDate::from_ymd_opt(self.end.year() - years, self.end.month(), 1)
            .unwrap_or(self.end)
            .max(NaiveDate::MIN)
    }

    /// Every day of history, oldest first.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.start().iter_days().take_while(move |d| *d <= self.end)
    }
}

/// A whole city: network, weather, observations and (apart) the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    pub params: CityParams,
    pub wards: Vec<Ward>,
    pub neighbourhoods: Vec<Neighbourhood>,
    pub segments: Vec<Segment>,
    pub weather: Vec<WeatherDay>,
    pub reports: Vec<Report>,
    pub work_orders: Vec<WorkOrder>,
    pub maintenance: Vec<Maintenance>,
    pub probe_readings: Vec<ProbeReading>,
    /// Condition surveys (only in the `surveys_not_probes` variant).
    pub surveys: Vec<Survey>,
    /// What really happened. Only evaluation may read it.
    pub truth: GroundTruth,
}

impl City {
    /// How many road crews repair its potholes.
    pub fn road_crews(&self) -> usize {
        road_crews(self.segments.len())
    }

    /// A ward's income index: its neighbourhoods', weighted by population (None for a
    /// ward nobody lives in).
    pub fn ward_income(&self, ward: u32) -> Option<f64> {
        let (weighted, people) =
            self.neighbourhoods
                .iter()
                .filter(|n| n.ward == ward)
                .fold((0.0, 0.0), |(w, p), n| {
                    let people = f64::from(n.population);
                    (w + n.income_index * people, p + people)
                });
        (people > 0.0).then(|| weighted / people)
    }

    /// Each ward's vulnerability, 0 to 1: its place among the wards by income, the
    /// poorest 1 and the richest 0. Wards without residents get none.
    pub fn ward_vulnerability(&self) -> std::collections::HashMap<u32, f64> {
        let incomes: Vec<(u32, f64)> = self
            .wards
            .iter()
            .filter_map(|w| Some((w.id, self.ward_income(w.id)?)))
            .collect();
        let top = (incomes.len().max(2) - 1) as f64;
        incomes
            .iter()
            .map(|(id, income)| {
                let richer = incomes.iter().filter(|(_, i)| i > income).count() as f64;
                (*id, (richer / top).clamp(0.0, 1.0))
            })
            .collect()
    }

    /// Total road length, metres.
    pub fn road_length_m(&self) -> f64 {
        self.segments.iter().map(|s| s.length_m).sum()
    }
}

/// Builds the city `params` describe. `progress` is called with a fraction in [0, 1].
pub fn generate(params: &CityParams, progress: &mut dyn FnMut(f64)) -> City {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let network = network::build(params, &mut rng);
    let weather = weather::simulate(params, &mut rng);
    let history = simulate::run(params, &network, &weather, &mut rng, progress);
    City {
        params: params.clone(),
        wards: network.wards,
        neighbourhoods: network.neighbourhoods,
        segments: network.segments,
        weather,
        reports: history.reports,
        work_orders: history.work_orders,
        maintenance: history.maintenance,
        probe_readings: history.probe_readings,
        surveys: history.surveys,
        truth: history.truth,
    }
}

/// Metres east and north of `centre` as longitude and latitude (equirectangular; the
/// error over a city's width is far below a street's).
pub(crate) fn to_lon_lat(centre: (f64, f64), east_m: f64, north_m: f64) -> (f64, f64) {
    const METRES_PER_DEGREE: f64 = 111_195.0;
    let lat = centre.1 + north_m / METRES_PER_DEGREE;
    let lon = centre.0 + east_m / (METRES_PER_DEGREE * centre.1.to_radians().cos());
    (lon, lat)
}

#[cfg(test)]
mod tests;
