//! Vector tiles at city scale (see scripts/tile_bench.sh and BENCHMARKS.md).
//!
//! `tile_bench BASE_URL DATABASE_URL N`:
//! - coverage: every risk tile over the city at zooms 10, 11 and 12, decoded, counting
//!   the distinct segments coloured against the segments stored;
//! - latency: N tiles at zooms 12 to 16 around random segments, for the risk and
//!   streets layers, fetched once (built by the server: cold) and again (from its
//!   cache: warm), sequentially over HTTP; p50, p99 and the slowest, with bytes.

#![allow(clippy::unwrap_used)]

use backend::config::DatabaseUrl;
use backend::db::Database;
use backend::tiles::world;
use mvt_reader::Reader;
use mvt_reader::feature::Value;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::time::Instant;

type Tile = (u8, u32, u32);

fn tile_of(lon: f64, lat: f64, z: u8) -> Tile {
    let [x, y] = world(lon, lat);
    let n = f64::from(1u32 << z);
    (z, (x * n) as u32, (y * n) as u32)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn fetch(
    client: &reqwest::Client,
    base: &str,
    layer: &str,
    (z, x, y): Tile,
) -> (f64, Vec<u8>) {
    let started = Instant::now();
    let response = client
        .get(format!("{base}/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap().to_vec();
    (started.elapsed().as_secs_f64() * 1000.0, bytes)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, database, n] = args.as_slice() else {
        anyhow::bail!("usage: tile_bench BASE_URL DATABASE_URL N");
    };
    let n: usize = n.parse()?;
    let url = DatabaseUrl::parse(database).map_err(anyhow::Error::msg)?;
    let db = Database::open(&url, 2)?;
    let (west, south, east, north) = db
        .read(backend::db::segments::extent)?
        .ok_or_else(|| anyhow::anyhow!("no segments"))?;
    let shapes = db.read(backend::db::segments::shapes)?;
    let client = reqwest::Client::new();

    println!("coverage: segments coloured by the risk tiles over the whole city");
    println!(
        "| zoom | tiles | bytes (all tiles) | slowest tile (ms) | segments coloured | of stored |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for z in [10u8, 11, 12] {
        let (_, x0, y0) = tile_of(west, north, z);
        let (_, x1, y1) = tile_of(east, south, z);
        let mut seen = HashSet::new();
        let (mut tiles, mut bytes, mut slowest) = (0, 0, 0.0f64);
        for x in x0..=x1 {
            for y in y0..=y1 {
                let (ms, body) = fetch(&client, base, "risk", (z, x, y)).await;
                tiles += 1;
                bytes += body.len();
                slowest = slowest.max(ms);
                let reader = Reader::new(body).unwrap();
                if reader.get_layer_names().unwrap().is_empty() {
                    continue;
                }
                for feature in reader.get_features(0).unwrap() {
                    if let Some(Value::SInt(id) | Value::Int(id)) = feature
                        .properties
                        .as_ref()
                        .and_then(|p| p.get("segment_id"))
                    {
                        seen.insert(*id);
                    }
                }
            }
        }
        println!(
            "| {z} | {tiles} | {bytes} | {slowest:.1} | {} | {} |",
            seen.len(),
            shapes.len()
        );
    }

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let tiles: Vec<Tile> = (0..n)
        .map(|_| {
            let shape = &shapes[rng.gen_range(0..shapes.len())];
            let (lon, lat) = shape.lines[0][0];
            tile_of(lon, lat, rng.gen_range(12..=16))
        })
        .collect();
    println!();
    println!("latency: {n} tiles at zooms 12-16 around random segments, sequential");
    println!("| layer | pass | p50 (ms) | p99 (ms) | slowest (ms) | mean bytes |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for layer in ["risk", "streets"] {
        for pass in ["cold", "warm"] {
            let mut times = Vec::with_capacity(n);
            let mut bytes = 0;
            for &tile in &tiles {
                let (ms, body) = fetch(&client, base, layer, tile).await;
                times.push(ms);
                bytes += body.len();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "| {layer} | {pass} | {:.2} | {:.2} | {:.1} | {} |",
                quantile(&times, 0.5),
                quantile(&times, 0.99),
                times[times.len() - 1],
                bytes / n
            );
        }
    }
    Ok(())
}
