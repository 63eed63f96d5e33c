//! The order a crew visits its day's work orders in.
//!
//! The route minimises the priority-weighted time at which each order is reached
//! (the weighted "travelling repairman" objective): an urgent order waits for little,
//! and a detour is only worth it when what lies on it is urgent enough. Time is counted
//! in metres of driving, with each job's own duration as a fixed number of metres.
//!
//! A weighted nearest-neighbour tour (next: the stop with the least distance per point
//! of priority) is improved by 2-opt reversals and single-stop moves until neither
//! helps. A day holds a few dozen stops, so the O(n³) passes take microseconds.

use crate::domain::Coordinates;

/// One place to visit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    pub id: i64,
    pub at: Coordinates,
    /// Larger is more urgent; must be positive to count (others are treated as tiny).
    pub priority: f64,
}

/// How long a job takes, as metres a crew could have driven meanwhile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub job_m: f64,
}

impl Pace {
    /// `job_minutes` per job at `speed_kmh` between jobs.
    pub fn new(job_minutes: f64, speed_kmh: f64) -> Pace {
        Pace {
            job_m: job_minutes / 60.0 * speed_kmh * 1000.0,
        }
    }
}

/// A planned route: `order` holds indices into the stops given.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub order: Vec<usize>,
    /// Driving distance from the start through every stop, metres (no return leg).
    pub length_m: f64,
}

/// The smallest priority a stop counts with, so a zero never divides.
const MIN_PRIORITY: f64 = 1e-6;

fn weight(stop: &Stop) -> f64 {
    if stop.priority.is_finite() {
        stop.priority.max(MIN_PRIORITY)
    } else {
        MIN_PRIORITY
    }
}

/// Driving distance from `start` through `order`, metres.
pub fn length_m(start: Coordinates, stops: &[Stop], order: &[usize]) -> f64 {
    let mut at = start;
    let mut total = 0.0;
    for &i in order {
        total += at.distance_m(stops[i].at);
        at = stops[i].at;
    }
    total
}

/// Σ priority × metres (of driving and earlier jobs) before reaching each stop.
fn cost(start: Coordinates, stops: &[Stop], order: &[usize], pace: Pace) -> f64 {
    let mut at = start;
    let mut elapsed = 0.0;
    let mut total = 0.0;
    for &i in order {
        elapsed += at.distance_m(stops[i].at);
        total += weight(&stops[i]) * elapsed;
        elapsed += pace.job_m;
        at = stops[i].at;
    }
    total
}

/// Plans the visit of every stop from `start`. Every stop appears exactly once.
pub fn plan(start: Coordinates, stops: &[Stop], pace: Pace) -> Route {
    let mut order = nearest_by_priority(start, stops, pace);
    let mut best = cost(start, stops, &order, pace);
    // Each accepted change lowers the cost strictly, so this ends; the cap is a guard.
    for _ in 0..100 {
        let before = best;
        improve_by_reversals(start, stops, pace, &mut order, &mut best);
        improve_by_moves(start, stops, pace, &mut order, &mut best);
        if best >= before - before.abs() * 1e-12 {
            break;
        }
    }
    Route {
        length_m: length_m(start, stops, &order),
        order,
    }
}

fn nearest_by_priority(start: Coordinates, stops: &[Stop], pace: Pace) -> Vec<usize> {
    let mut left: Vec<usize> = (0..stops.len()).collect();
    let mut order = Vec::with_capacity(stops.len());
    let mut at = start;
    while !left.is_empty() {
        let (position, _) = left
            .iter()
            .enumerate()
            .map(|(p, &i)| {
                (
                    p,
                    (at.distance_m(stops[i].at) + pace.job_m) / weight(&stops[i]),
                )
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        let next = left.swap_remove(position);
        at = stops[next].at;
        order.push(next);
    }
    order
}

fn improve_by_reversals(
    start: Coordinates,
    stops: &[Stop],
    pace: Pace,
    order: &mut [usize],
    best: &mut f64,
) {
    let n = order.len();
    for i in 0..n {
        for j in i + 1..n {
            order[i..=j].reverse();
            let candidate = cost(start, stops, order, pace);
            if candidate < *best {
                *best = candidate;
            } else {
                order[i..=j].reverse();
            }
        }
    }
}

fn improve_by_moves(
    start: Coordinates,
    stops: &[Stop],
    pace: Pace,
    order: &mut Vec<usize>,
    best: &mut f64,
) {
    let n = order.len();
    for from in 0..n {
        for to in 0..n {
            if from == to {
                continue;
            }
            let stop = order.remove(from);
            order.insert(to, stop);
            let candidate = cost(start, stops, order, pace);
            if candidate < *best {
                *best = candidate;
            } else {
                let stop = order.remove(to);
                order.insert(from, stop);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn at(lon: f64, lat: f64) -> Coordinates {
        Coordinates { lon, lat }
    }

    fn random_stops(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Vec<Stop> {
        (0..n)
            .map(|i| Stop {
                id: i as i64 + 100,
                at: at(
                    -76.2 + rng.gen_range(0.0..0.1),
                    43.0 + rng.gen_range(0.0..0.08),
                ),
                priority: rng.gen_range(1.0..100.0),
            })
            .collect()
    }

    #[test]
    fn every_order_is_visited_exactly_once() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in 0..40 {
            let stops = random_stops(&mut rng, n);
            let route = plan(at(-76.15, 43.04), &stops, Pace::new(30.0, 30.0));
            let mut seen = route.order.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{n} stops");
        }
    }

    #[test]
    fn the_route_never_costs_more_than_plain_priority_order() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let start = at(-76.15, 43.04);
        let pace = Pace::new(30.0, 30.0);
        for _ in 0..20 {
            let stops = random_stops(&mut rng, 15);
            let mut by_priority: Vec<usize> = (0..stops.len()).collect();
            by_priority.sort_by(|a, b| stops[*b].priority.total_cmp(&stops[*a].priority));
            let route = plan(start, &stops, pace);
            assert!(
                cost(start, &stops, &route.order, pace)
                    <= cost(start, &stops, &by_priority, pace) * (1.0 + 1e-9)
            );
        }
    }

    #[test]
    fn with_equal_priorities_and_no_job_time_it_drives_a_straight_line_in_order() {
        let stops: Vec<Stop> = [3.0, 1.0, 4.0, 2.0]
            .into_iter()
            .enumerate()
            .map(|(i, x)| Stop {
                id: i as i64,
                at: at(-76.0 + x * 0.01, 43.0),
                priority: 1.0,
            })
            .collect();
        let route = plan(at(-76.0, 43.0), &stops, Pace { job_m: 0.0 });
        assert_eq!(route.order, vec![1, 3, 0, 2]);
        // Along the street from the start through stops 1, 2, 3 and 4: four legs.
        let expected: f64 = [0.0, 1.0, 2.0, 3.0, 4.0]
            .windows(2)
            .map(|w| at(-76.0 + w[0] * 0.01, 43.0).distance_m(at(-76.0 + w[1] * 0.01, 43.0)))
            .sum();
        assert!(
            (route.length_m - expected).abs() < 1e-6,
            "{}",
            route.length_m
        );
    }

    #[test]
    fn an_urgent_order_far_away_comes_before_trivial_ones_nearby() {
        let stops = vec![
            Stop {
                id: 1,
                at: at(-76.001, 43.0),
                priority: 1.0,
            },
            Stop {
                id: 2,
                at: at(-76.05, 43.0),
                priority: 1000.0,
            },
        ];
        let route = plan(at(-76.0, 43.0), &stops, Pace::new(30.0, 30.0));
        assert_eq!(route.order, vec![1, 0]);
    }
}
