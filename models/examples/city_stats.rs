//! Prints the headline figures of a generated city: `cargo run -p models --release --example city_stats -- SEED small|large`.

use models::city::{CityParams, CitySize, generate};

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let size = CitySize::parse(&args.next().unwrap_or_else(|| "small".into())).expect("size");
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let started = std::time::Instant::now();
    let city = generate(&CityParams::demo(seed, size, end), &mut |_| {});
    let years = (city.params.end - city.params.start()).num_days() as f64 / 365.25;
    let km = city.road_length_m() / 1000.0;
    let potholes = &city.truth.potholes;
    let repaired = potholes.iter().filter(|p| p.repaired_on.is_some()).count();
    let reported = potholes.iter().filter(|p| p.reports > 0).count();
    let open_days: f64 = potholes
        .iter()
        .map(|p| (p.repaired_on.unwrap_or(city.params.end) - p.formed_on).num_days() as f64)
        .sum::<f64>()
        / potholes.len() as f64;
    println!("generated in {:.2?}", started.elapsed());
    println!(
        "segments {} road {:.0} km, wards {}, neighbourhoods {}",
        city.segments.len(),
        km,
        city.wards.len(),
        city.neighbourhoods.len()
    );
    println!(
        "potholes {} ({:.1}/km/yr), reported {reported}, repaired {repaired}, mean days open {open_days:.1}",
        potholes.len(),
        potholes.len() as f64 / km / years
    );
    println!(
        "reports {} (pothole-linked {}), work orders {}, maintenance {}, probe readings {}",
        city.reports.len(),
        city.truth.report_pothole.iter().flatten().count(),
        city.work_orders.len(),
        city.maintenance.len(),
        city.probe_readings.len()
    );
    let mut by_code = std::collections::BTreeMap::new();
    for r in &city.reports {
        *by_code.entry(r.service_code).or_insert(0) += 1;
    }
    println!("by service {by_code:?}");
    let mut by_month = [0; 12];
    for p in potholes {
        by_month[chrono::Datelike::month0(&p.formed_on) as usize] += 1;
    }
    println!("potholes by month {by_month:?}");
    let ft: usize = city.weather.iter().filter(|w| w.is_freeze_thaw()).count();
    println!("freeze-thaw days {ft}");
}
