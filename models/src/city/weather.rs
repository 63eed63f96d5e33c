//! Daily weather at one station: a seasonal cycle, persistent anomalies, winters of
//! differing severity, and precipitation.

use super::CityParams;
use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};

#[derive(Debug, Clone, PartialEq)]
pub struct WeatherDay {
    pub date: NaiveDate,
    pub tmin_c: f64,
    pub tmax_c: f64,
    pub precipitation_mm: f64,
}

impl WeatherDay {
    /// A freeze–thaw day: the air froze and thawed again within the day.
    pub fn is_freeze_thaw(&self) -> bool {
        self.tmin_c < -1.0 && self.tmax_c > 1.0
    }
}

/// The winter a day belongs to, named by the year it ends in (Dec 2025 is winter 2026).
fn winter_of(date: NaiveDate) -> i32 {
    if date.month() >= 7 {
        date.year() + 1
    } else {
        date.year()
    }
}

pub(crate) fn simulate(params: &CityParams, rng: &mut ChaCha8Rng) -> Vec<WeatherDay> {
    let daily = Normal::new(0.0, 2.2).expect("valid");
    let rain = Exp::new(1.0 / 5.5).expect("valid");
    let mut anomaly = 0.0_f64;
    let mut winter = i32::MIN;
    let mut harshness = 0.0;
    params
        .days()
        .map(|date| {
            if winter_of(date) != winter {
                winter = winter_of(date);
                // Some winters run several degrees colder than others, which roughly
                // doubles their freeze-thaw days.
                harshness = rng.gen_range(-3.5..2.5);
            }
            let day_of_year = f64::from(date.ordinal());
            // Coldest around 20 January, warmest around 20 July (Syracuse: -5 to 22 °C).
            let seasonal =
                8.5 - 13.5 * (2.0 * std::f64::consts::PI * (day_of_year - 20.0) / 365.25).cos();
            let winter_weight =
                (-(2.0 * std::f64::consts::PI * (day_of_year - 20.0) / 365.25).cos()).max(0.0);
            // Persistent anomalies: today's departure carries most of yesterday's.
            anomaly = 0.8 * anomaly + daily.sample(rng);
            let mean = seasonal + anomaly + harshness * winter_weight;
            let range = rng.gen_range(6.0..12.0);
            let precipitation_mm: f64 = if rng.gen_bool(0.36) {
                rain.sample(rng)
            } else {
                0.0
            };
            WeatherDay {
                date,
                tmin_c: mean - range / 2.0,
                tmax_c: mean + range / 2.0,
                precipitation_mm: (precipitation_mm * 10.0).round() / 10.0,
            }
        })
        .collect()
}
