//! The `upkeep` command: a thin shell over the `backend` library.

use anyhow::Context;
use backend::Settings;
use backend::db::Database;
use backend::domain::Role;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    },
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage API keys (shown once at creation, stored hashed).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
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
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.bind = bind;
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
        Command::Migrate => {
            open_database(&settings)?;
            println!("database {} is up to date", settings.database_url);
            Ok(())
        }
        Command::ApiKey(command) => {
            let db = open_database(&settings)?;
            match command {
                ApiKeyCommand::Create { name, role } => {
                    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
                    let key = backend::auth::issue(&db, &name, role)?;
                    println!("created key {} for {name} ({})", key.id, role.as_str());
                    println!("{}", key.secret);
                    eprintln!("store it now: it is not shown again");
                }
                ApiKeyCommand::List => {
                    for key in backend::db::api_keys::list(&db)? {
                        let state = if key.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        };
                        println!(
                            "{}\t{}\t{}\t{}\t{state}",
                            key.id, key.role, key.name, key.created_at
                        );
                    }
                }
                ApiKeyCommand::Revoke { id } => {
                    if backend::db::api_keys::revoke(&db, id)? {
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
