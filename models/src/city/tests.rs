//! The generator checks itself against the figures the design asks of it.

use super::*;
use chrono::Datelike;
use std::sync::OnceLock;

fn end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date")
}

fn small_city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| generate(&CityParams::demo(7, CitySize::Small, end()), &mut |_| {}))
}

fn years(city: &City) -> f64 {
    (city.params.end - city.params.start()).num_days() as f64 / 365.25
}

#[test]
fn the_small_city_has_about_two_thousand_segments_of_at_most_250_m() {
    let city = small_city();
    assert!(
        (1_800..=2_200).contains(&city.segments.len()),
        "{}",
        city.segments.len()
    );
    assert!(
        city.segments
            .iter()
            .all(|s| s.length_m <= 250.0 && s.length_m > 50.0)
    );
    for class in crate::network::RoadClass::ALL {
        assert!(city.segments.iter().any(|s| s.class == class), "{class}");
    }
    assert!(city.segments.iter().any(|s| s.bus_route));
}

fn potholes_per_km_year(city: &City) -> f64 {
    city.truth.potholes.len() as f64 / (city.road_length_m() / 1000.0) / years(city)
}

fn spring_share(city: &City) -> f64 {
    let spring = city
        .truth
        .potholes
        .iter()
        .filter(|p| p.formed_on.month() <= 4)
        .count();
    spring as f64 / city.truth.potholes.len() as f64
}

fn reports_per_pothole(city: &City) -> f64 {
    let reports = city.truth.report_pothole.iter().flatten().count();
    reports as f64 / city.truth.potholes.len() as f64
}

#[test]
fn potholes_per_km_per_year_are_between_15_and_50() {
    let per_km_year = potholes_per_km_year(small_city());
    assert!((15.0..=50.0).contains(&per_km_year), "{per_km_year:.1}");
}

#[test]
fn most_potholes_form_between_january_and_april() {
    let share = spring_share(small_city());
    assert!(share > 0.5, "{share:.2}");
}

#[test]
fn reports_per_pothole_fall_in_the_configured_band() {
    let city = small_city();
    let per_pothole = reports_per_pothole(city);
    let (low, high) = city.params.reports_per_pothole;
    assert!((low..=high).contains(&per_pothole), "{per_pothole:.2}");
}

#[test]
fn eager_neighbourhoods_report_about_three_times_as_readily_as_reluctant_ones() {
    let city = small_city();
    // Reports per open pothole-day, per neighbourhood.
    let mut reports = vec![0.0; city.neighbourhoods.len()];
    let mut exposure = vec![0.0; city.neighbourhoods.len()];
    let hood_of_segment = |id: u32| city.segments[id as usize - 1].neighbourhood as usize - 1;
    for pothole in &city.truth.potholes {
        let open_until = pothole.repaired_on.unwrap_or(city.params.end);
        let hood = hood_of_segment(pothole.segment);
        exposure[hood] += (open_until - pothole.formed_on).num_days().max(1) as f64;
        reports[hood] += f64::from(pothole.reports);
    }
    let mut rates: Vec<(f64, f64)> = city
        .neighbourhoods
        .iter()
        .enumerate()
        .filter(|(i, _)| exposure[*i] > 0.0)
        .map(|(i, n)| (n.reporting_propensity, reports[i] / exposure[i]))
        .collect();
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let third = rates.len() / 3;
    let mean = |xs: &[(f64, f64)]| xs.iter().map(|x| x.1).sum::<f64>() / xs.len() as f64;
    let ratio = mean(&rates[rates.len() - third..]) / mean(&rates[..third]);
    assert!((2.3..=3.9).contains(&ratio), "{ratio:.2}");
}

#[test]
fn probe_roughness_tracks_the_truth_with_correlation_085_to_090() {
    let city = small_city();
    let observed: Vec<f64> = city
        .probe_readings
        .iter()
        .map(|r| r.roughness_m_per_km())
        .collect();
    let truth: Vec<f64> = city
        .truth
        .reading_roughness
        .iter()
        .map(|t| f64::from(*t))
        .collect();
    let n = observed.len() as f64;
    let (mo, mt) = (
        observed.iter().sum::<f64>() / n,
        truth.iter().sum::<f64>() / n,
    );
    let cov: f64 = observed
        .iter()
        .zip(&truth)
        .map(|(o, t)| (o - mo) * (t - mt))
        .sum();
    let so: f64 = observed
        .iter()
        .map(|o| (o - mo).powi(2))
        .sum::<f64>()
        .sqrt();
    let st: f64 = truth.iter().map(|t| (t - mt).powi(2)).sum::<f64>().sqrt();
    let correlation = cov / (so * st);
    assert!((0.85..=0.90).contains(&correlation), "{correlation:.3}");
}

#[test]
fn some_winters_are_about_twice_as_harsh_as_others() {
    let city = small_city();
    let mut by_winter = std::collections::BTreeMap::new();
    for day in city.weather.iter().filter(|d| d.is_freeze_thaw()) {
        let winter = if day.date.month() >= 7 {
            day.date.year() + 1
        } else {
            day.date.year()
        };
        *by_winter.entry(winter).or_insert(0) += 1;
    }
    let counts: Vec<i32> = by_winter.values().copied().filter(|c| *c > 5).collect();
    let (min, max) = (
        counts.iter().min().copied().unwrap_or(0),
        counts.iter().max().copied().unwrap_or(0),
    );
    assert!(f64::from(max) >= 1.4 * f64::from(min), "{by_winter:?}");
}

#[test]
fn the_same_seed_gives_the_same_city_and_another_seed_another() {
    let params = CityParams::demo(7, CitySize::Small, end());
    assert_eq!(&generate(&params, &mut |_| {}), small_city());
    let other = generate(&CityParams { seed: 8, ..params }, &mut |_| {});
    assert_ne!(other.truth.potholes, small_city().truth.potholes);
}

#[test]
fn reports_and_work_orders_are_consistent() {
    let city = small_city();
    assert_eq!(city.reports.len(), city.truth.report_pothole.len());
    assert_eq!(
        city.probe_readings.len(),
        city.truth.reading_roughness.len()
    );
    for report in &city.reports {
        let order = &city.work_orders[report.work_order as usize - 1];
        assert!(
            order.created_at <= report.reported_at + chrono::Duration::seconds(1)
                || order.created_at.date() <= report.reported_at.date()
        );
        assert!(report.reported_at.date() <= city.params.end);
    }
    assert!(
        city.work_orders
            .iter()
            .any(|o| o.outcome == Some(WorkOrderOutcome::NothingFound))
    );
    let other_services = city
        .reports
        .iter()
        .filter(|r| r.service_code != "pothole")
        .count();
    assert!(other_services > city.reports.len() / 10, "not pothole-only");
}

#[test]
fn the_headline_figures_hold_for_other_seeds_too() {
    for seed in [1, 42, 2026] {
        let city = generate(&CityParams::demo(seed, CitySize::Small, end()), &mut |_| {});
        let per_km_year = potholes_per_km_year(&city);
        assert!(
            (15.0..=50.0).contains(&per_km_year),
            "seed {seed}: {per_km_year:.1}"
        );
        assert!(spring_share(&city) > 0.5, "seed {seed}: spring share");
        let (low, high) = city.params.reports_per_pothole;
        let per_pothole = reports_per_pothole(&city);
        assert!(
            (low..=high).contains(&per_pothole),
            "seed {seed}: {per_pothole:.2}"
        );
    }
}

fn small_variant(name: &str) -> City {
    let variant = Variant::named(name).expect("a variant");
    generate(
        &CityParams::demo(7, CitySize::Small, end()).with_variant(variant),
        &mut |_| {},
    )
}

#[test]
fn the_sparse_reports_variant_draws_a_tenth_to_three_tenths_of_a_report_per_pothole() {
    let city = small_variant("sparse_reports");
    let per_pothole = reports_per_pothole(&city);
    let (low, high) = city.params.reports_per_pothole;
    assert!((low..=high).contains(&per_pothole), "{per_pothole}");
}

#[test]
fn the_survey_variant_rates_every_street_every_other_summer_and_has_no_probes() {
    let city = small_variant("surveys");
    assert!(city.probe_readings.is_empty());
    let surveyed: std::collections::HashSet<u32> = city.surveys.iter().map(|s| s.segment).collect();
    assert_eq!(surveyed.len(), city.segments.len());
    assert!(
        city.surveys
            .iter()
            .all(|s| (7..=8).contains(&s.surveyed_on.month()))
    );
    assert!(city.surveys.iter().all(|s| (0.0..=100.0).contains(&s.pci)));
}

#[test]
fn variants_that_change_only_observation_leave_the_potholes_as_they_were() {
    let plain = small_city();
    let noisy = small_variant("vehicle_noise");
    assert_eq!(noisy.truth.potholes, plain.truth.potholes);
    assert_ne!(noisy.probe_readings, plain.probe_readings);
    let hidden = small_variant("hidden_durability");
    assert_ne!(hidden.truth.potholes.len(), plain.truth.potholes.len());
}
