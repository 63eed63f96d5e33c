//! The `upkeep` command: a thin shell over the `backend` library.

use anyhow::Context;
use backend::Settings;
use backend::db::Database;
use backend::domain::Role;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// mimalloc returns freed memory to the system; with glibc's malloc a server under
/// steady load grew by megabytes a minute while its live heap stayed at 25 MB
/// (BENCHMARKS.md, "The soak").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Upkeep: municipal infrastructure issue tracker with predictive maintenance.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Default: ./upkeep.toml when it exists.
    #[arg(long, global = true, env = "UPKEEP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (Open311 at /open311/v2, the API at /api/v1).
    Serve {
        /// Address and port to listen on, e.g. 0.0.0.0:8080 (also UPKEEP_BIND).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Start on an empty database without loading the demo city (also UPKEEP_DEMO=false).
        #[arg(long)]
        no_demo: bool,
    },
    /// Generate the synthetic demo city: load it into the database and/or write it out.
    Demo {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// tiny (about 100 segments), small (about 2,000) or large (about 100,000).
        #[arg(long, default_value = "small")]
        size: String,
        /// Last day of the history, YYYY-MM-DD (default: today).
        #[arg(long)]
        end: Option<chrono::NaiveDate>,
        /// Map centre as LON,LAT in degrees (default: Syracuse, NY).
        #[arg(long, value_parser = parse_centre, allow_hyphen_values = true)]
        centre: Option<(f64, f64)>,
        /// Also write the city as CSV and GeoJSON into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not load it into the database (only with --out).
        #[arg(long, requires = "out")]
        no_load: bool,
    },
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage API keys (shown once at creation, stored hashed).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage the road network.
    #[command(subcommand)]
    Segments(SegmentsCommand),
    /// Import a city's history through a mapping file (examples in data/mappings/).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Copy a SQLite database to FILE while servers keep using it: one consistent
    /// snapshot (PostgreSQL: use pg_dump; see docs/deploy.md).
    Backup { file: PathBuf },
    /// Train a risk model on everything observed and make it the active one. What it
    /// predicts comes from the settings (risk_unit, risk_cell_m, risk_horizon,
    /// risk_annual_from) unless the flags say otherwise.
    Train {
        /// logistic, forest, or auto (evaluate both first, keep the better one, and
        /// store its hold-out figures with it).
        #[arg(long, default_value = "auto")]
        model: String,
        /// segment, or cell (a grid square of --cell-m).
        #[arg(long)]
        unit: Option<models::risk::Unit>,
        /// The side of a grid cell, metres.
        #[arg(long)]
        cell_m: Option<f64>,
        /// 28d (from every week), season (183 days) or year (365 days), the last two
        /// from --annual-from each year.
        #[arg(long)]
        horizon: Option<String>,
        /// The day of the year annual horizons start on, MM-DD.
        #[arg(long, default_value = "04-01")]
        annual_from: String,
    },
    /// Score every segment (or cell) with the active model and store the scores.
    Score,
    /// Evaluate both learners in time order (rolling-origin folds and a hold-out year)
    /// beside the baselines; prints a table, or one JSON object with --json. With
    /// --as-of, the annual task instead: features as of that day, labels over the next
    /// --horizon-days, streets held out in blocks.
    Evaluate {
        #[arg(long)]
        json: bool,
        /// The as-of day of the annual task (YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Days the annual task's label looks ahead (183: April to September).
        #[arg(long, default_value_t = 365, requires = "as_of")]
        horizon_days: i64,
        /// What a row is: segment; street (segments sharing the city's street id, as
        /// its ratings and repair logs count them); or cell (a grid square of --cell-m,
        /// for a city whose reports have positions and no street network).
        #[arg(long, default_value = "segment")]
        unit: models::risk::Unit,
        /// The side of a grid cell, metres (with --unit cell).
        #[arg(long, default_value_t = 1000.0)]
        cell_m: f64,
        /// Instead of the database: generate N demo cities (seeds 1..=N) of --size up to
        /// --end and report each headline figure's mean and 95 % interval.
        #[arg(long, conflicts_with_all = ["as_of"])]
        seeds: Option<u64>,
        /// With --seeds: a generator variant (none, hidden_durability, vehicle_noise,
        /// sparse_reports, freeze_thaw_lag, surveys).
        #[arg(long, default_value = "none", requires = "seeds")]
        variant: String,
        /// With --seeds: data taken away (none, no_probe, no_weather,
        /// reports_and_ratings_only).
        #[arg(long, default_value = "none", requires = "seeds")]
        ablation: models::risk::seeds::Ablation,
        /// With --seeds: tiny, small or large.
        #[arg(long, default_value = "small", requires = "seeds")]
        size: String,
        /// With --seeds: the cities' last day (today unless given).
        #[arg(long, requires = "seeds")]
        end: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum SegmentsCommand {
    /// Import road segments from a GeoJSON FeatureCollection of LineStrings and
    /// MultiLineStrings; lines longer than 250 m are split. Unreadable features are
    /// listed by index and reason; the rest are imported.
    Import {
        file: PathBuf,
        /// Property holding the file's own id of the street (kept as external_id).
        #[arg(long)]
        id_field: Option<String>,
        /// Property holding the street name.
        #[arg(long)]
        name_field: Option<String>,
        /// Property holding the road class.
        #[arg(long)]
        class_field: Option<String>,
        /// The file's class values as Upkeep classes, e.g. MAJOR=arterial,MINOR=local.
        /// Other values are kept as they are.
        #[arg(long)]
        class_map: Option<String>,
        /// Property holding the surface.
        #[arg(long)]
        surface_field: Option<String>,
        /// Property holding traffic (vehicles per day).
        #[arg(long)]
        traffic_field: Option<String>,
        /// Property holding the last resurfacing date (YYYY-MM-DD or a year).
        #[arg(long)]
        resurfaced_field: Option<String>,
        /// Property holding the ward (its name or id).
        #[arg(long)]
        ward_field: Option<String>,
        /// Only report what would be imported.
        #[arg(long)]
        dry_run: bool,
    },
}

/// What every import takes.
#[derive(clap::Args)]
struct ImportArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The mapping file (TOML): format, columns, time format and zone, and the source's
    /// words in Upkeep's (examples in data/mappings/).
    #[arg(long)]
    mapping: PathBuf,
    /// Read and check every row, and count, but store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Each kind of record a city's history holds. Unreadable rows are listed by file, line,
/// field and reason, and the rest are stored; importing a file again updates what
/// changed and adds nothing.
#[derive(Subcommand)]
enum ImportCommand {
    /// Past service requests (311 exports); they keep their own times, status and id.
    Reports(ImportArgs),
    /// Repairs and other events on segments (pothole fills, resurfacing, water-main
    /// breaks), of the kinds the mapping gives.
    Repairs(ImportArgs),
    /// Dated condition ratings per segment.
    Ratings(ImportArgs),
    /// Roughness (or other) readings from probe vehicles and phones.
    Sensors(ImportArgs),
    /// A daily weather series per station (GHCN-Daily: date, TMIN, TMAX, PRCP).
    Weather(ImportArgs),
    /// Attributes joined onto segments by their external id.
    SegmentAttributes(ImportArgs),
    /// The data-quality report of a source (a mapping's `source`), or of every source:
    /// completeness per column, positions, duplicates, snapping, coverage by month and
    /// ward with gaps flagged.
    Quality {
        source: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it.
    Create {
        /// Who holds it, e.g. "FixMyStreet" or "North depot crew".
        #[arg(long)]
        name: String,
        /// client (Open311 apps), crew, planner or admin.
        #[arg(long, default_value = "client")]
        role: String,
        /// For a crew key: the crew's id (see GET /api/v1/crews).
        #[arg(long)]
        crew: Option<i64>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: i64 },
}

fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(Settings::load(cli.config.as_deref())?)
}

fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    Database::open(&settings.database_url, settings.database_pool_size)
        .with_context(|| format!("cannot open the database {}", settings.database_url))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = load_settings(&cli)?;
    backend::app::init_logging(&settings);
    match cli.command {
        Command::Serve { bind, no_demo } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            if no_demo {
                settings.demo = false;
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let app = backend::Application::build(settings).await?;
                app.run_until_stopped().await?;
                tracing::info!("Upkeep stopped");
                Ok(())
            })
        }
        Command::Demo {
            seed,
            size,
            end,
            centre,
            out,
            no_load,
        } => demo(&settings, seed, &size, end, centre, out.as_deref(), no_load),
        Command::Import(command) => {
            use backend::import::mapping::Kind;
            let (kind, args) = match command {
                ImportCommand::Reports(args) => (Kind::Reports, args),
                ImportCommand::Repairs(args) => (Kind::Repairs, args),
                ImportCommand::Ratings(args) => (Kind::Ratings, args),
                ImportCommand::Sensors(args) => (Kind::Sensors, args),
                ImportCommand::Weather(args) => (Kind::Weather, args),
                ImportCommand::SegmentAttributes(args) => (Kind::SegmentAttributes, args),
                ImportCommand::Quality { source, json } => {
                    return quality(&settings, source.as_deref(), json);
                }
            };
            import(&settings, kind, &args)
        }
        Command::Backup { file } => {
            let started = std::time::Instant::now();
            let bytes = backend::db::backup(&settings.database_url, &file)?;
            println!(
                "{} copied to {} ({:.1} MB) in {:.1} s",
                settings.database_url,
                file.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Migrate => {
            open_database(&settings)?;
            println!("database {} is up to date", settings.database_url);
            Ok(())
        }
        Command::Segments(SegmentsCommand::Import {
            file,
            id_field,
            name_field,
            class_field,
            class_map,
            surface_field,
            traffic_field,
            resurfaced_field,
            ward_field,
            dry_run,
        }) => {
            let options = [
                ("id_field", id_field),
                ("name_field", name_field),
                ("class_field", class_field),
                ("class_map", class_map),
                ("surface_field", surface_field),
                ("traffic_field", traffic_field),
                ("resurfaced_field", resurfaced_field),
                ("ward_field", ward_field),
            ];
            let mapping = backend::roads::Mapping::from_options(|name| {
                options
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, v)| v.as_deref())
            })?;
            import_segments(&settings, &file, &mapping, dry_run)
        }
        Command::Train {
            model,
            unit,
            cell_m,
            horizon,
            annual_from,
        } => {
            let configured = settings.risk_task;
            let horizon = match horizon {
                Some(h) => models::risk::Horizon::parse(&h, &annual_from)
                    .map_err(|e| anyhow::anyhow!("--horizon: {e}"))?,
                None => configured.horizon,
            };
            let task = backend::risk::Task::new(
                unit.unwrap_or(configured.unit),
                cell_m.unwrap_or(configured.cell_m),
                horizon,
            )
            .map_err(|e| anyhow::anyhow!("--unit or --cell-m: {e}"))?;
            train(&settings, &model, task)
        }
        Command::Score => score(&settings),
        Command::Evaluate {
            json,
            seeds: Some(seeds),
            variant,
            ablation,
            size,
            end,
            ..
        } => evaluate_seeds(seeds, &variant, ablation, &size, end, json),
        Command::Evaluate {
            json,
            as_of: Some(as_of),
            horizon_days,
            unit,
            cell_m,
            ..
        } => evaluate_annual(
            &settings,
            models::risk::annual::Task {
                as_of,
                horizon_days,
                unit,
            },
            cell_m,
            json,
        ),
        Command::Evaluate {
            json, unit, cell_m, ..
        } => evaluate(&settings, unit, cell_m, json),
        Command::ApiKey(command) => {
            let db = open_database(&settings)?;
            match command {
                ApiKeyCommand::Create { name, role, crew } => {
                    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
                    match (role, crew) {
                        (Role::Crew, None) => {
                            anyhow::bail!("a crew key needs --crew ID (see GET /api/v1/crews)")
                        }
                        (Role::Crew, Some(id)) => {
                            if db
                                .read(|conn| backend::db::crews::find(conn, id))?
                                .is_none()
                            {
                                anyhow::bail!("there is no crew {id}");
                            }
                        }
                        (_, Some(_)) => anyhow::bail!("--crew is only for crew keys"),
                        (_, None) => {}
                    }
                    let key = backend::auth::issue_for_crew(&db, &name, role, crew)?;
                    println!("created key {} for {name} ({})", key.id, role.as_str());
                    println!("{}", key.secret);
                    eprintln!("store it now: it is not shown again");
                }
                ApiKeyCommand::List => {
                    for key in db.read(backend::db::api_keys::list)? {
                        let state = if key.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        };
                        let crew = key.crew_id.map(|c| format!("crew {c}")).unwrap_or_default();
                        println!(
                            "{}\t{}\t{}\t{}\t{state}\t{crew}",
                            key.id,
                            key.role.as_str(),
                            key.name,
                            key.created_at
                        );
                    }
                }
                ApiKeyCommand::Revoke { id } => {
                    if db.write(|conn| backend::db::api_keys::revoke(conn, id))? {
                        println!("key {id} revoked");
                    } else {
                        anyhow::bail!("there is no live key with id {id}");
                    }
                }
            }
            Ok(())
        }
    }
}

fn bar(length: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {percent:>3}% {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

/// Parses LON,LAT, longitude first.
fn parse_centre(raw: &str) -> Result<(f64, f64), String> {
    let (lon, lat) = raw
        .split_once(',')
        .ok_or_else(|| format!("'{raw}' is not LON,LAT (e.g. -76.15,43.05)"))?;
    let point = backend::domain::Coordinates::new(
        lon.trim()
            .parse()
            .map_err(|_| format!("'{lon}' is not a longitude"))?,
        lat.trim()
            .parse()
            .map_err(|_| format!("'{lat}' is not a latitude"))?,
        "longitude",
        "latitude",
    )
    .map_err(|e| e.to_string())?;
    if point.lat.abs() > 80.0 {
        return Err("the demo city needs a centre between 80°S and 80°N".into());
    }
    Ok((point.lon, point.lat))
}

#[allow(clippy::too_many_arguments)]
fn demo(
    settings: &Settings,
    seed: u64,
    size: &str,
    end: Option<chrono::NaiveDate>,
    centre: Option<(f64, f64)>,
    out: Option<&std::path::Path>,
    no_load: bool,
) -> anyhow::Result<()> {
    use models::city::{CityParams, CitySize, generate};
    let size = CitySize::parse(size).map_err(anyhow::Error::msg)?;
    let end = end.unwrap_or_else(|| backend::domain::now().date());
    let mut params = CityParams::demo(seed, size, end);
    if let Some(centre) = centre {
        params.centre = centre;
    }
    let started = std::time::Instant::now();
    let progress = bar(1000, "generate");
    let city = generate(&params, &mut |f| progress.set_position((f * 1000.0) as u64));
    progress.finish();
    println!(
        "city: {} segments, {:.0} km of road, {} reports, {} potholes (truth), generated in {:.1} s",
        city.segments.len(),
        city.road_length_m() / 1000.0,
        city.reports.len(),
        city.truth.potholes.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(dir) = out {
        let files = backend::demo::export(&city, dir)?;
        println!("wrote {} files to {}", files.len(), dir.display());
    }
    if !no_load {
        let db = open_database(settings)?;
        let catalogue = backend::catalogue::Catalogue {
            services: {
                let configured = backend::catalogue::load(settings.catalogue_path.as_deref())?;
                db.write(|conn| backend::db::services::seed(conn, &configured))?;
                db.read(backend::db::services::active)?.0
            },
            changed_at: backend::domain::now(),
        };
        let loading = std::time::Instant::now();
        let progress = bar(1, "load");
        let rows = backend::demo::load(
            &db,
            city,
            &catalogue,
            settings.snap_limit_m,
            &mut |done, total| {
                progress.set_length(total as u64);
                progress.set_position(done as u64);
            },
        )?;
        progress.finish();
        println!(
            "loaded {rows} rows into {} in {:.1} s",
            settings.database_url,
            loading.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn import_segments(
    settings: &Settings,
    file: &std::path::Path,
    mapping: &backend::roads::Mapping,
    dry_run: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let db = open_database(settings)?;
    let wards = db.read(backend::db::wards::lookup)?;
    let imported = backend::roads::read(&text, mapping, &wards, backend::domain::now())
        .with_context(|| format!("cannot import {}", file.display()))?;
    for rejected in &imported.rejected {
        eprintln!("feature {}: {}", rejected.index, rejected.reason);
    }
    for (class, count) in &imported.unmapped_classes {
        eprintln!("class '{class}' ({count} features) is not an Upkeep road class: kept as it is");
    }
    for ward in &imported.unknown_wards {
        eprintln!("ward '{ward}' matches no ward: those segments have none");
    }
    if !dry_run {
        db.write(|conn| backend::db::segments::insert(conn, &imported.segments))?;
    }
    println!(
        "{} of {} features {}, as {} segments; {} rejected",
        imported.features_imported,
        imported.features,
        if dry_run { "readable" } else { "imported" },
        imported.segments_created,
        imported.rejected.len()
    );
    if imported.features_imported == 0 && imported.features > 0 {
        anyhow::bail!("no feature could be imported");
    }
    Ok(())
}

fn import(
    settings: &Settings,
    kind: backend::import::mapping::Kind,
    args: &ImportArgs,
) -> anyhow::Result<()> {
    use backend::import::{self, ImportError, NamedFile, mapping::Mapping};
    let db = open_database(settings)?;
    let configured = backend::catalogue::load(settings.catalogue_path.as_deref())?;
    db.write(|conn| backend::db::services::seed(conn, &configured))?;
    let (services, changed_at) = db.read(backend::db::services::active)?;
    let catalogue = backend::catalogue::Catalogue {
        services,
        changed_at,
    };
    let mapping = Mapping::load(&args.mapping, &catalogue).map_err(ImportError::Mapping)?;
    if mapping.kind() != kind {
        anyhow::bail!(
            "{} is a mapping for {}, not {}",
            args.mapping.display(),
            mapping.kind().as_str(),
            kind.as_str()
        );
    }
    let index = backend::roads::load_index(&db)?.current();
    let ctx = import::Context {
        db: &db,
        catalogue: &catalogue,
        segments: &index,
        snap_limit_m: settings.snap_limit_m,
        dry_run: args.dry_run,
    };
    let files: Vec<NamedFile> = args.files.iter().map(NamedFile::at).collect();
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    let progress = bar(total.max(1), kind.as_str());
    let started = std::time::Instant::now();
    let summary = import::import(&ctx, &mapping, &files, &mut |p| {
        progress.set_position(p.bytes);
        progress.set_message(format!("{} rows", p.rows));
    });
    progress.finish_and_clear();
    let summary = summary?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        for r in &summary.rejects {
            eprintln!("{}:{}: {}: {}", r.file, r.line, r.field, r.reason);
        }
        let mut line = format!(
            "{} rows read in {:.1} s: {} {}, {} updated, {} already present, {} rejected",
            summary.read,
            started.elapsed().as_secs_f64(),
            summary.imported,
            if args.dry_run { "readable" } else { "imported" },
            summary.updated,
            summary.already_present,
            summary.rejected,
        );
        if kind == backend::import::mapping::Kind::Reports {
            line += &format!(
                "; {} joined an issue, {} without a position (address only)",
                summary.joined_to_issue, summary.address_only
            );
        }
        if summary.derived > 0 {
            line += &format!(
                "; {} records derived (resurfacing events, new segments)",
                summary.derived
            );
        }
        println!("{line}");
    }
    if summary.good() == 0 && summary.read > 0 {
        anyhow::bail!("no row could be imported");
    }
    Ok(())
}

fn quality(settings: &Settings, source: Option<&str>, json: bool) -> anyhow::Result<()> {
    use backend::import::quality;
    let db = open_database(settings)?;
    let sources: Vec<String> = match source {
        Some(source) => vec![source.to_owned()],
        None => quality::sources(&db)?.into_iter().map(|(s, _)| s).collect(),
    };
    if sources.is_empty() {
        anyhow::bail!("nothing has been imported yet");
    }
    let reports = sources
        .iter()
        .map(|s| quality::report(&db, s))
        .collect::<Result<Vec<_>, _>>()?;
    if json {
        let value = match (source, reports.as_slice()) {
            (Some(_), [one]) => serde_json::to_value(one)?,
            _ => serde_json::json!({ "items": reports }),
        };
        println!("{value}");
        return Ok(());
    }
    for q in &reports {
        println!(
            "{} ({}): {} imports, last {}; {} rows read, {} refused; {} records stored",
            q.source, q.kind, q.imports, q.last_import, q.rows_read, q.rows_rejected, q.records
        );
        for c in &q.columns {
            println!("  {:<28} {:>6.1} % filled", c.column, 100.0 * c.share);
        }
        if let Some(coverage) = &q.by_month {
            let first = coverage.months.first().map_or("", |m| m.month.as_str());
            let last = coverage.months.last().map_or("", |m| m.month.as_str());
            println!(
                "  {} months {first} – {last}, a usual month {:.0} records",
                coverage.months.len(),
                coverage.median
            );
        }
        if q.problems.is_empty() {
            println!("  no problems found");
        }
        for problem in &q.problems {
            println!("  ! {problem}");
        }
    }
    Ok(())
}

/// A spinner that shows what long work is doing.
fn spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn observe(
    db: &Database,
    bar: &indicatif::ProgressBar,
    task: backend::risk::Task,
    reading: backend::risk::Reading,
) -> anyhow::Result<backend::risk::Observed> {
    let started = std::time::Instant::now();
    let observed = backend::risk::observe_for(db, task, reading, &mut |what| {
        bar.set_message(format!("reading {what}"))
    })?;
    bar.println(format!(
        "read {} {}s, history {} – {}, in {:.1} s",
        observed.segment_ids.len(),
        observed.unit.as_str(),
        observed.start,
        observed.end,
        started.elapsed().as_secs_f64()
    ));
    Ok(observed)
}

fn train(settings: &Settings, model: &str, task: backend::risk::Task) -> anyhow::Result<()> {
    let db = open_database(settings)?;
    let bar = spinner();
    let started = std::time::Instant::now();
    let choice = match model {
        "auto" => backend::risk::Choice::Auto,
        other => backend::risk::Choice::Only(other.parse().map_err(anyhow::Error::msg)?),
    };
    // Only an evaluation compares with the demo city's oracle.
    let reading = match choice {
        backend::risk::Choice::Auto => backend::risk::Reading::Evaluation,
        backend::risk::Choice::Only(_) => backend::risk::Reading::Training,
    };
    let observed = observe(&db, &bar, task, reading)?;
    let trained = backend::risk::retrain(&db, &observed, choice, &mut |what| {
        bar.set_message(what.to_owned())
    })?;
    bar.finish_and_clear();
    if choice == backend::risk::Choice::Auto {
        println!(
            "evaluated both learners; kept the {}",
            trained.kind.as_str()
        );
    }
    println!(
        "model {} ({}, {}) trained on {} rows: fit and calibration {:.1} s, whole command {:.1} s; it is now active",
        trained.version,
        trained.kind.as_str(),
        task.describe(),
        trained.rows,
        trained.fit_seconds,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn score(settings: &Settings) -> anyhow::Result<()> {
    let db = open_database(settings)?;
    let bar = spinner();
    let run =
        backend::risk::score_active(&db, &mut |what| bar.set_message(format!("reading {what}")))?;
    bar.finish_and_clear();
    println!(
        "scored {} {}s as of {} with model {} in {:.2} s (features, probabilities and explanations; reading and storing not included)",
        run.units,
        run.unit.as_str(),
        run.as_of,
        run.version,
        run.seconds
    );
    Ok(())
}

/// What the database holds, read by `unit`.
fn observe_by(
    db: &Database,
    bar: &indicatif::ProgressBar,
    unit: models::risk::Unit,
    cell_m: f64,
) -> anyhow::Result<backend::risk::Observed> {
    use models::risk::Unit;
    Ok(match unit {
        Unit::Segment => observe(
            db,
            bar,
            backend::risk::Task::default(),
            backend::risk::Reading::Evaluation,
        )?,
        Unit::Street => observe(
            db,
            bar,
            backend::risk::Task::default(),
            backend::risk::Reading::Evaluation,
        )?
        .by_street(),
        Unit::Cell => {
            anyhow::ensure!(
                (50.0..=20_000.0).contains(&cell_m),
                "--cell-m {cell_m}: give 50 to 20000 metres"
            );
            backend::risk::observe_cells(
                db,
                cell_m,
                backend::risk::KnownCells::BeforeHoldOut,
                &mut |what| bar.set_message(format!("reading {what}")),
            )?
        }
    })
}

fn evaluate_seeds(
    seeds: u64,
    variant: &str,
    ablation: models::risk::seeds::Ablation,
    size: &str,
    end: Option<chrono::NaiveDate>,
    json: bool,
) -> anyhow::Result<()> {
    use models::city::{CityParams, Variant};
    anyhow::ensure!((2..=50).contains(&seeds), "--seeds {seeds}: give 2 to 50");
    let variant_options = Variant::named(variant).ok_or_else(|| {
        anyhow::anyhow!(
            "'{variant}' is not a generator variant ({})",
            Variant::NAMES.join(", ")
        )
    })?;
    let size = models::city::CitySize::parse(size).map_err(anyhow::Error::msg)?;
    let end = end.unwrap_or_else(|| backend::domain::now().date());
    let bar = spinner();
    let started = std::time::Instant::now();
    let seed_list: Vec<u64> = (1..=seeds).collect();
    let runs = models::risk::seeds::run(
        &seed_list,
        &|seed| CityParams::demo(seed, size, end).with_variant(variant_options),
        ablation,
        &mut |what| bar.set_message(what.to_owned()),
    )?;
    bar.finish_and_clear();
    let summary = models::risk::seeds::summarise(&runs);
    let out = serde_json::json!({
        "seeds": seeds,
        "variant": variant,
        "ablation": ablation,
        "size": size.as_str(),
        "end": end,
        "label": "true_potholes",
        "unit": "segment",
        "horizon_days": models::risk::evaluate::HORIZON_DAYS,
        "figures": summary,
        "per_seed": runs,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if json {
        println!("{out}");
    } else {
        println!(
            "{seeds} seeds, variant {variant}, ablation {}: mean [95 % interval]",
            ablation.as_str()
        );
        for (name, i) in &summary {
            println!("  {name:<40} {:.3} [{:.3}, {:.3}]", i.mean, i.low, i.high);
        }
    }
    Ok(())
}

fn evaluate_annual(
    settings: &Settings,
    task: models::risk::annual::Task,
    cell_m: f64,
    json: bool,
) -> anyhow::Result<()> {
    let db = open_database(settings)?;
    let bar = spinner();
    let observed = observe_by(&db, &bar, task.unit, cell_m)?;
    let started = std::time::Instant::now();
    let evaluation = backend::risk::evaluate_annual(&observed, task, &mut |what| {
        bar.set_message(what.to_owned())
    })?;
    bar.finish_and_clear();
    if json {
        println!("{}", evaluation.summary());
        return Ok(());
    }
    println!(
        "as of {}, label over {} days ({}): {} {}s, {} held out in blocks (base rate {:.3}); evaluated in {:.1} s",
        task.as_of,
        task.horizon_days,
        evaluation.label.as_str(),
        evaluation.streets,
        task.unit.as_str(),
        evaluation.holdout_streets,
        evaluation.holdout_base_rate,
        started.elapsed().as_secs_f64()
    );
    println!("chosen on the folds (mean PR-AUC):");
    for c in &evaluation.candidates {
        println!(
            "  {:<32} ROC-AUC {:.3}  PR-AUC {:.3}  P@10% {:.3}",
            c.name, c.mean_roc_auc, c.mean_pr_auc, c.mean_precision_at_10pct
        );
    }
    println!(
        "{:<26} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9}",
        "hold-out",
        "ROC-AUC",
        "P@5%",
        "P@10%",
        "P@20%",
        "R@5%",
        "R@10%",
        "R@20%",
        "P@10%len",
        "R@10%len"
    );
    let line = |name: &str, r: &models::risk::annual::Ranking| {
        let at = |i: usize| r.at.get(i).cloned().unwrap_or_default();
        println!(
            "{:<26} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>9.3} {:>9.3}",
            name,
            r.roc_auc,
            at(0).precision,
            at(1).precision,
            at(2).precision,
            at(0).recall,
            at(1).recall,
            at(2).recall,
            at(1).precision_of_length,
            at(1).recall_of_length,
        );
    };
    line(&evaluation.selected, &evaluation.holdout.ranking);
    for (name, r) in &evaluation.baselines {
        line(&format!("baseline: {name}"), r);
    }
    Ok(())
}

fn evaluate(
    settings: &Settings,
    unit: models::risk::Unit,
    cell_m: f64,
    json: bool,
) -> anyhow::Result<()> {
    let db = open_database(settings)?;
    let bar = spinner();
    let observed = observe_by(&db, &bar, unit, cell_m)?;
    let started = std::time::Instant::now();
    let evaluation =
        backend::risk::evaluate(&observed, &mut |what| bar.set_message(what.to_owned()))?;
    // The demo city is also read with the label a real city has, side by side.
    let evidence = match observed.defects.kind {
        models::risk::LabelKind::TruePotholes => Some(backend::risk::evaluate_on(
            &observed,
            &observed.evidence,
            &mut |what| bar.set_message(format!("{what} (evidence label)")),
        )?),
        models::risk::LabelKind::NewDefectEvidence => None,
    };
    bar.finish_and_clear();
    if json {
        let mut summary = evaluation.summary();
        if let (Some(evidence), Some(object)) = (&evidence, summary.as_object_mut()) {
            object.insert("new_defect_evidence".into(), evidence.summary());
        }
        println!("{summary}");
        return Ok(());
    }
    if let Some(evidence) = &evidence {
        let (t, e) = (evaluation.selected_scores(), evidence.selected_scores());
        println!(
            "two labels on the hold-out: true potholes ROC-AUC {:.3}, P@10% {:.3} (base rate {:.3}); new defect evidence ROC-AUC {:.3}, P@10% {:.3} (base rate {:.3})",
            t.ranking.roc_auc,
            t.ranking.precision_at_10pct,
            evaluation.holdout.base_rate,
            e.ranking.roc_auc,
            e.ranking.precision_at_10pct,
            evidence.holdout.base_rate
        );
    }
    let h = &evaluation.holdout;
    println!(
        "hold-out {} – {}: {} rows, base rate {:.3}; evaluated in {:.1} s",
        h.from,
        h.to,
        h.rows,
        h.base_rate,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<22} {:>7} {:>7} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7} {:>7}",
        "score",
        "ROC-AUC",
        "PR-AUC",
        "P@1%",
        "P@10%",
        "R@10%",
        "lift@1%",
        "P@10%len",
        "Brier",
        "ECE"
    );
    let line =
        |name: &str, r: &models::risk::evaluate::Ranking, brier: Option<f64>, ece: Option<f64>| {
            let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
            println!(
                "{:<22} {:>7.3} {:>7.3} {:>8.3} {:>8.3} {:>8.3} {:>9.2} {:>8.3} {:>7} {:>7}",
                name,
                r.roc_auc,
                r.pr_auc,
                r.precision_at_1pct,
                r.precision_at_10pct,
                r.recall_at_10pct,
                r.lift_at_1pct,
                r.precision_at_10pct_of_length,
                opt(brier),
                opt(ece)
            );
        };
    line(
        "logistic regression",
        &h.logistic.ranking,
        Some(h.logistic.brier),
        Some(h.logistic.ece),
    );
    line(
        "forest",
        &h.forest.ranking,
        Some(h.forest.brier),
        Some(h.forest.ece),
    );
    let mut names: Vec<&String> = h.baselines.keys().collect();
    names.sort();
    for name in names {
        line(&format!("baseline: {name}"), &h.baselines[name], None, None);
    }
    if let Some(oracle) = &h.oracle {
        line("oracle (true hazard)", oracle, None, None);
    }
    println!("selected on the folds: {}", evaluation.selected);
    println!("{}", serde_json::to_string_pretty(&evaluation.summary())?);
    Ok(())
}
