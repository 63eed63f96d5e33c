//! Operational replay on the demo city (issue 6's measure; see BENCHMARKS.md).
//!
//! The last 52 weeks of a generated city are played again, day by day, under two ways of
//! running the same road crews with the same daily capacity:
//!
//! - (a) first come, first served: reported potholes in the order of their first report;
//! - (b) Upkeep: every open order ranked by `backend::priority` with the default weights,
//!   the segments' risk from a forest trained only on what was known before the replay,
//!   re-scored every Monday from the replay's own reports and repairs, plus each Monday's
//!   proactive inspections of the riskiest segments without an open order (a budget of
//!   inspections per week; several budgets are tried).
//!
//! Both replays see the same potholes form (the city's truth), the same reports of
//! potholes that were not there, and the same chances of residents reporting a pothole
//! on each day it is open (one random stream per pothole, shared by both). A visit is one
//! unit of a crew's daily capacity: a repair crew fixes the pothole it came for and the
//! open ones within a radius of it (50 m; or the whole segment), an inspection crew
//! every open pothole on its segment. Potholes reported before the replay starts wait
//! for a crew in both replays from its first day.
//!
//! Usage: `cargo run --release --example ops_replay -- [SEED] [END] [BUDGETS]
//! [CAPACITIES] [RADIUS]`, e.g. `42 2026-11-01 0,25,50,100 50,20 50` (capacity in visits
//! per working day, the city's own when 0; radius in metres or `segment`).

use backend::priority::{self, Inputs, Weights};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use models::city::{
    City, CityParams, CitySize, REPAIRS_PER_CREW_DAY, generate, report_chance, road_crews, sla_days,
};
use models::network::RoadClass;
use models::risk::evaluate::{Rows, as_of_dates, train_both, windows_before};
use models::risk::features::row;
use models::risk::{ForestParams, History, LogisticParams, Model, from_city};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::time::Instant;

/// Longitude and latitude, degrees.
type LonLat = (f64, f64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    FirstComeFirstServed,
    /// For reference: the earliest SLA due date first.
    EarliestDue,
    Upkeep {
        inspections_per_week: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// From residents' reports of a real pothole.
    Repair,
    /// From a report of a pothole that was not there.
    FalseReport,
    Inspection,
}

#[derive(Debug, Clone)]
struct Order {
    kind: Kind,
    segment: usize,
    /// Where the crew goes (lon, lat); None: the whole segment (an inspection).
    at: Option<(f64, f64)>,
    /// First report (or planning) day.
    since: NaiveDate,
    reporters: u32,
    closed_on: Option<NaiveDate>,
}

/// One pothole as the replay sees it.
#[derive(Debug, Clone)]
struct Hole {
    segment: usize,
    at: (f64, f64),
    formed_on: NaiveDate,
    /// Formed inside the replay window (the only ones measured).
    measured: bool,
    first_report: Option<NaiveDate>,
    repaired_on: Option<NaiveDate>,
    order: Option<usize>,
    draws: ChaCha8Rng,
}

/// What one replay measured.
#[derive(Debug, Clone, Default)]
struct Outcome {
    potholes: usize,
    repaired_before_report: usize,
    repaired: usize,
    mean_days_open: f64,
    still_open: usize,
    /// Reported potholes and false reports, by road class: (orders, SLA breaches).
    sla: HashMap<RoadClass, (usize, usize)>,
    visits: usize,
    inspections: usize,
    inspections_finding: usize,
}

struct Setting<'a> {
    city: &'a City,
    model: &'a Model,
    /// The observed history before the replay starts (reports and repairs cut there).
    before: &'a History,
    origin: NaiveDate,
    end: NaiveDate,
    propensity: Vec<f64>,
    vulnerability: Vec<f64>,
    capacity: usize,
    /// A repair crew also fixes the open potholes this close to the one it came for,
    /// metres; None: every pothole on the segment.
    repair_radius_m: Option<f64>,
    /// Upkeep's priority weights: the defaults, or `REPLAY_WEIGHTS` (JSON) to try others.
    weights: Weights,
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = args.first().map_or(Ok(42), |s| s.parse())?;
    let end: NaiveDate = args.get(1).map_or(
        Ok(NaiveDate::from_ymd_opt(2026, 11, 1).expect("date")),
        |s| s.parse(),
    )?;
    let budgets: Vec<usize> = args
        .get(2)
        .map_or("0,25,50,100", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let capacities: Vec<usize> = args
        .get(3)
        .map_or("0", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let repair_radius_m = match args.get(4).map_or("50", String::as_str) {
        "segment" => None,
        metres => Some(metres.parse::<f64>()?),
    };

    let started = Instant::now();
    let city = generate(&CityParams::demo(seed, CitySize::Small, end), &mut |_| {});
    let (history, defects, _) = from_city(&city);
    // 52 weeks, starting on a Monday.
    let mut origin = end - Duration::weeks(52);
    while origin.weekday() != Weekday::Mon {
        origin += Duration::days(1);
    }
    let (train_end, calibration_start, calibration_end) = windows_before(origin);
    let dates = as_of_dates(city.params.start(), origin);
    let pick = |from: NaiveDate, to: NaiveDate| -> Vec<NaiveDate> {
        dates
            .iter()
            .copied()
            .filter(|d| *d >= from && *d <= to)
            .collect()
    };
    let train = Rows::build(&history, &defects, &pick(NaiveDate::MIN, train_end));
    let calibrate = Rows::build(
        &history,
        &defects,
        &pick(calibration_start, calibration_end),
    );
    let (_, model) = train_both(
        &train,
        &calibrate,
        LogisticParams::default(),
        ForestParams::default(),
    )?;
    eprintln!(
        "city and model ready in {:.1} s ({} segments, forest trained up to {train_end})",
        started.elapsed().as_secs_f64(),
        city.segments.len()
    );

    let mut before = history.clone();
    for list in before.reports.iter_mut().chain(before.repairs.iter_mut()) {
        list.retain(|d| *d < origin);
    }
    let hood = |s: &models::city::Segment| {
        city.neighbourhoods
            .iter()
            .find(|n| n.id == s.neighbourhood)
            .expect("every segment has its neighbourhood")
    };
    // As the demo loader sets it: poorest ward 1, richest 0.
    let ward_vulnerability = city.ward_vulnerability();
    let own_capacity = road_crews(city.segments.len()) * REPAIRS_PER_CREW_DAY;
    let mut setting = Setting {
        city: &city,
        model: &model,
        before: &before,
        origin,
        end,
        propensity: city
            .segments
            .iter()
            .map(|s| hood(s).reporting_propensity)
            .collect(),
        vulnerability: city
            .segments
            .iter()
            .map(|s| ward_vulnerability.get(&s.ward).copied().unwrap_or(0.0))
            .collect(),
        capacity: own_capacity,
        repair_radius_m,
        weights: match std::env::var("REPLAY_WEIGHTS") {
            Ok(json) => serde_json::from_str(&json)?,
            Err(_) => Weights::default(),
        },
        seed,
    };

    let mut policies = vec![Policy::FirstComeFirstServed, Policy::EarliestDue];
    policies.extend(budgets.iter().map(|&b| Policy::Upkeep {
        inspections_per_week: b,
    }));
    for capacity in capacities {
        setting.capacity = if capacity == 0 {
            own_capacity
        } else {
            capacity
        };
        println!(
            "\ncity seed {seed}, {} segments, replay {origin} – {end}, {} visits per working day, repairs fix potholes {}",
            city.segments.len(),
            setting.capacity,
            repair_radius_m.map_or("on the whole segment".to_owned(), |r| format!(
                "within {r} m"
            ))
        );
        println!(
            "| policy | potholes formed | repaired before any report | repaired | mean days open | open at end | SLA breaches arterial / collector / local (of orders) | visits | inspections (finding potholes) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for &policy in &policies {
            let run = Instant::now();
            let o = replay(&setting, policy);
            let sla = |class| {
                let (orders, breaches) = o.sla.get(&class).copied().unwrap_or_default();
                format!("{breaches} ({orders})")
            };
            println!(
                "| {} | {} | {} | {} | {:.1} | {} | {} / {} / {} | {} | {} ({}) |",
                match policy {
                    Policy::FirstComeFirstServed => "(a) first come, first served".to_owned(),
                    Policy::EarliestDue => "earliest SLA due date first (reference)".to_owned(),
                    Policy::Upkeep {
                        inspections_per_week,
                    } => format!("(b) Upkeep, {inspections_per_week} inspections/week"),
                },
                o.potholes,
                o.repaired_before_report,
                o.repaired,
                o.mean_days_open,
                o.still_open,
                sla(RoadClass::Arterial),
                sla(RoadClass::Collector),
                sla(RoadClass::Local),
                o.visits,
                o.inspections,
                o.inspections_finding,
            );
            eprintln!("  replayed in {:.1} s", run.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

fn replay(setting: &Setting<'_>, policy: Policy) -> Outcome {
    let city = setting.city;
    let segments = &city.segments;
    let index: HashMap<u32, usize> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let weights = setting.weights.clone();
    let mut history = setting.before.clone();
    let mut orders: Vec<Order> = Vec::new();
    let mut open_on: Vec<Vec<usize>> = vec![Vec::new(); segments.len()];

    // Potholes open at the start (formed earlier, not yet repaired then) and those that
    // will form; the first reports before the start are kept.
    let mut first_report_before: HashMap<u32, NaiveDate> = HashMap::new();
    for (report, pothole) in city.reports.iter().zip(&city.truth.report_pothole) {
        if let Some(p) = pothole
            && report.reported_at.date() < setting.origin
        {
            let day = report.reported_at.date();
            first_report_before
                .entry(*p)
                .and_modify(|d| *d = (*d).min(day))
                .or_insert(day);
        }
    }
    let mut holes: Vec<Hole> = city
        .truth
        .potholes
        .iter()
        .filter(|p| {
            p.formed_on >= setting.origin || p.repaired_on.is_none_or(|r| r >= setting.origin)
        })
        .filter(|p| p.formed_on <= setting.end)
        .map(|p| Hole {
            segment: index[&p.segment],
            at: (p.lon, p.lat),
            formed_on: p.formed_on,
            measured: p.formed_on >= setting.origin,
            first_report: first_report_before.get(&p.id).copied(),
            repaired_on: None,
            order: None,
            draws: ChaCha8Rng::seed_from_u64(setting.seed ^ (u64::from(p.id) << 20)),
        })
        .collect();
    holes.sort_by_key(|h| h.formed_on);
    // Carried-over reported potholes wait in the queue from their first report.
    for hole in &mut holes {
        if let Some(day) = hole.first_report {
            orders.push(Order {
                kind: Kind::Repair,
                segment: hole.segment,
                at: Some(hole.at),
                since: day,
                reporters: 1,
                closed_on: None,
            });
            hole.order = Some(orders.len() - 1);
        }
    }
    // Reports of potholes that were not there, by day.
    let segment_of_order: HashMap<u32, Option<u32>> =
        city.work_orders.iter().map(|o| (o.id, o.segment)).collect();
    let mut false_reports: HashMap<NaiveDate, Vec<(usize, LonLat)>> = HashMap::new();
    for (report, pothole) in city.reports.iter().zip(&city.truth.report_pothole) {
        let day = report.reported_at.date();
        if pothole.is_none()
            && report.service_code == "pothole"
            && day >= setting.origin
            && day <= setting.end
            && let Some(Some(segment)) = segment_of_order.get(&report.work_order)
        {
            false_reports
                .entry(day)
                .or_default()
                .push((index[segment], (report.lon, report.lat)));
        }
    }

    let mut percentile = vec![0.0; segments.len()];
    let mut outcome = Outcome::default();
    let mut next_hole = 0;
    let mut visible: Vec<usize> = Vec::new();
    let mut day = setting.origin;
    while day <= setting.end {
        // Potholes that form today (or were open at the start) are there to be found.
        while next_hole < holes.len() && holes[next_hole].formed_on <= day {
            open_on[holes[next_hole].segment].push(next_hole);
            visible.push(next_hole);
            next_hole += 1;
        }
        // Residents report open potholes: one draw per pothole per day it is open.
        for &i in &visible {
            let hole = &mut holes[i];
            let at = hole.at;
            if hole.repaired_on.is_some() {
                continue;
            }
            let age = (day - hole.formed_on).num_days();
            let chance = report_chance(
                &segments[hole.segment],
                setting.propensity[hole.segment],
                age,
            );
            if hole.draws.r#gen::<f64>() >= chance {
                continue;
            }
            history.reports[hole.segment].push(day);
            match hole.order {
                Some(o) => orders[o].reporters += 1,
                None => {
                    hole.first_report = Some(day);
                    orders.push(Order {
                        kind: Kind::Repair,
                        segment: hole.segment,
                        at: Some(at),
                        since: day,
                        reporters: 1,
                        closed_on: None,
                    });
                    hole.order = Some(orders.len() - 1);
                }
            }
        }
        visible.retain(|&i| holes[i].repaired_on.is_none());
        for &(segment, at) in false_reports.get(&day).into_iter().flatten() {
            history.reports[segment].push(day);
            orders.push(Order {
                kind: Kind::FalseReport,
                segment,
                at: Some(at),
                since: day,
                reporters: 1,
                closed_on: None,
            });
        }
        // Mondays: Upkeep re-scores every segment and plans the week's inspections.
        if let Policy::Upkeep {
            inspections_per_week,
        } = policy
            && day.weekday() == Weekday::Mon
        {
            let scores: Vec<f64> = (0..segments.len())
                .map(|s| setting.model.probability(&row(&history, s, day)))
                .collect();
            let mut ranked: Vec<usize> = (0..segments.len()).collect();
            ranked.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]).then(a.cmp(b)));
            let top = (segments.len().max(2) - 1) as f64;
            for (rank, &s) in ranked.iter().enumerate() {
                percentile[s] = rank as f64 / top;
            }
            let busy: std::collections::HashSet<usize> = orders
                .iter()
                .filter(|o| o.closed_on.is_none())
                .map(|o| o.segment)
                .collect();
            for &s in ranked
                .iter()
                .rev()
                .filter(|s| !busy.contains(s))
                .take(inspections_per_week)
            {
                orders.push(Order {
                    kind: Kind::Inspection,
                    segment: s,
                    at: None,
                    since: day,
                    reporters: 0,
                    closed_on: None,
                });
                outcome.inspections += 1;
            }
        }
        // Working days: the crews make their visits.
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let mut waiting: Vec<(f64, usize)> = orders
                .iter()
                .enumerate()
                .filter(|(_, o)| o.closed_on.is_none())
                .map(|(i, o)| {
                    let rank = match policy {
                        // Earliest first report first, then the order they came in.
                        Policy::FirstComeFirstServed => {
                            -((o.since - setting.origin).num_days() as f64) - i as f64 * 1e-9
                        }
                        Policy::EarliestDue => {
                            let class = segments[o.segment].class;
                            -((o.since - setting.origin).num_days() + sla_days(class)) as f64
                                - i as f64 * 1e-9
                        }
                        // Reported problems first; inspections fill what capacity is
                        // left, as a crew's day in the server does.
                        Policy::Upkeep { .. } => {
                            let fill = if o.kind == Kind::Inspection { 1e6 } else { 0.0 };
                            priority::breakdown(
                                &weights,
                                &inputs(setting, o, &percentile, &weights, day),
                            )
                            .total()
                                - fill
                        }
                    };
                    (rank, i)
                })
                .collect();
            waiting.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, o) in waiting.iter().take(setting.capacity) {
                if orders[o].closed_on.is_some() {
                    // Closed earlier today by a visit to the same segment.
                    continue;
                }
                outcome.visits += 1;
                let segment = orders[o].segment;
                let reach = match (orders[o].at, setting.repair_radius_m) {
                    (Some(at), Some(radius)) => Some((at, radius)),
                    _ => None,
                };
                let (fixed, left): (Vec<usize>, Vec<usize>) =
                    open_on[segment].iter().partition(|&&h| {
                        reach.is_none_or(|(at, radius)| metres(at, holes[h].at) <= radius)
                    });
                open_on[segment] = left;
                for &h in &fixed {
                    debug_assert!(holes[h].repaired_on.is_none(), "repaired twice");
                    holes[h].repaired_on = Some(day);
                    if let Some(other) = holes[h].order {
                        orders[other].closed_on.get_or_insert(day);
                    }
                }
                if !fixed.is_empty() {
                    history.repairs[segment].push(day);
                }
                if orders[o].kind == Kind::Inspection {
                    if !fixed.is_empty() {
                        outcome.inspections_finding += 1;
                    }
                    // The whole segment was looked at: its other open orders are done.
                    for order in orders.iter_mut().filter(|x| x.segment == segment) {
                        order.closed_on.get_or_insert(day);
                    }
                }
                orders[o].closed_on.get_or_insert(day);
            }
        }
        day += Duration::days(1);
    }

    let measured: Vec<&Hole> = holes.iter().filter(|h| h.measured).collect();
    outcome.potholes = measured.len();
    outcome.repaired = measured.iter().filter(|h| h.repaired_on.is_some()).count();
    outcome.repaired_before_report = measured
        .iter()
        .filter(|h| {
            h.repaired_on.is_some()
                && h.first_report
                    .is_none_or(|r| r > h.repaired_on.unwrap_or(r))
        })
        .count();
    outcome.still_open = measured.len() - outcome.repaired;
    let stop = setting.end + Duration::days(1);
    outcome.mean_days_open = measured
        .iter()
        .map(|h| (h.repaired_on.unwrap_or(stop) - h.formed_on).num_days() as f64)
        .sum::<f64>()
        / measured.len().max(1) as f64;
    for order in orders
        .iter()
        .filter(|o| o.kind != Kind::Inspection && o.since >= setting.origin)
    {
        let class = segments[order.segment].class;
        let due = order.since + Duration::days(sla_days(class));
        let breached = order.closed_on.unwrap_or(stop) > due;
        let entry = outcome.sla.entry(class).or_default();
        entry.0 += 1;
        entry.1 += usize::from(breached);
    }
    outcome
}

/// Metres between two (lon, lat) points a few hundred metres apart (equirectangular).
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let north = (b.1 - a.1) * 111_195.0;
    let east = (b.0 - a.0) * 111_195.0 * a.1.to_radians().cos();
    north.hypot(east)
}

fn inputs(
    setting: &Setting<'_>,
    order: &Order,
    percentile: &[f64],
    weights: &Weights,
    day: NaiveDate,
) -> Inputs {
    let segment = &setting.city.segments[order.segment];
    Inputs {
        // A pothole's default severity; an inspection's as the weights say.
        severity: if order.kind == Kind::Inspection {
            weights.inspection_severity
        } else {
            4.0
        },
        risk_percentile: Some(percentile[order.segment]),
        road_class: Some(segment.class),
        aadt: Some(f64::from(segment.aadt)),
        distinct_reporters: order.reporters,
        age_days: (day - order.since).num_days() as f64,
        sla_days: if order.kind == Kind::Inspection {
            backend::work_orders::INSPECTION_DAYS as f64
        } else {
            sla_days(segment.class) as f64
        },
        ward_vulnerability: setting.vulnerability[order.segment],
    }
}
