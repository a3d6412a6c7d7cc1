//! The `berth` binary: parses the command line and runs the server from the library.

use berth::app::RunningApp;
use berth::config::Config;
use berth::service::auth::Bootstrap;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// jemalloc instead of glibc's malloc: with one arena per thread (tokio's workers, one thread per SQLite
/// connection) glibc kept every arena at its peak, so the RSS grew with requests; jemalloc returns freed pages.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Berth manages Docker containers across many Docker hosts: registries, hosts, container definitions and
/// their live status, through one GraphQL API and a web app.
#[derive(Parser)]
#[command(name = "berth", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (GraphQL API, subscriptions, web app).
    Serve(Box<ServeArgs>),
    /// Copy the SQLite database into a new file, consistently, while the server may run (PostgreSQL: use
    /// pg_dump). The secret key is not in it: keep BERTH_SECRET_KEY or <data folder>/secret.key with it.
    Backup(BackupArgs),
    /// Make a backup the database of a data folder that has none (then start `berth serve` on it with the same
    /// secret key).
    Restore(RestoreArgs),
}

#[derive(clap::Args)]
struct BackupArgs {
    /// The new file to write (never overwritten).
    #[arg(long)]
    to: PathBuf,
    /// The data folder whose database is copied.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL (default: SQLite in the data folder).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    from: PathBuf,
    /// The data folder to restore into; it must not have a database.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// The secret key the server will use (default: `secret.key` in the data folder), to check it opens the
    /// stored secrets.
    #[arg(long, env = "BERTH_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder for the embedded database and local state.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL: sqlite://… or postgres://… (default: SQLite in the data folder).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Password for the bootstrap user `admin`, used at first start only (default: generated and printed once).
    #[arg(long, env = "BERTH_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Folder with the built web app (Trunk's output).
    #[arg(long, env = "BERTH_STATIC_DIR", default_value = "./dist")]
    static_dir: PathBuf,
    /// Serve Prometheus metrics at GET /metrics to requests with `Authorization: Bearer <this token>`; unset:
    /// /metrics answers 404.
    #[arg(long, env = "BERTH_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    #[command(flatten)]
    settings: berth::config::Settings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    berth::telemetry::init();
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Backup(args) => backup(args).await,
        Command::Restore(args) => restore(args).await,
    }
}

fn describe(summary: &berth::service::backup::Summary) -> String {
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} ({} bytes): {}, {}, {}, {}",
        summary.file.display(),
        summary.bytes,
        plural(summary.users, "user", "users"),
        plural(summary.hosts, "host", "hosts"),
        plural(summary.registries, "registry", "registries"),
        plural(summary.definitions, "definition", "definitions"),
    )
}

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: args.data_dir,
        database_url: args.database_url,
        admin_password: None,
        static_dir: PathBuf::new(),
        metrics_token: None,
        settings: berth::config::Settings::default(),
    };
    let summary = berth::service::backup::backup(&config.database_url(), &args.to).await?;
    println!("Backed up to {}.", describe(&summary));
    println!(
        "The secret key is not in the backup: keep BERTH_SECRET_KEY or {} with it, or the stored secrets \
         (registry passwords, TLS keys, alert channels) cannot be opened after a restore.",
        config.data_dir.join("secret.key").display()
    );
    Ok(())
}

async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let summary =
        berth::service::backup::restore(&args.from, &args.data_dir, args.secret_key.as_deref())
            .await?;
    println!("Restored {}.", describe(&summary));
    match summary.secrets_open {
        Some(true) => println!("The stored secrets open with this key."),
        Some(false) => println!(
            "The stored secrets do NOT open with this key: put the secret key of the backed-up installation at \
             {} (or set BERTH_SECRET_KEY) before `berth serve`.",
            args.data_dir.join("secret.key").display()
        ),
        None => println!(
            "No secret key at hand to check ({} or BERTH_SECRET_KEY): give `berth serve` the key of the \
             backed-up installation, or its stored secrets cannot be opened.",
            args.data_dir.join("secret.key").display()
        ),
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        admin_password: args.admin_password,
        static_dir: args.static_dir,
        metrics_token: args.metrics_token.filter(|t| !t.trim().is_empty()),
        settings: args.settings,
    };
    let app = RunningApp::start(config).await?;
    match &app.bootstrap {
        Bootstrap::Existing => {}
        Bootstrap::CreatedWithConfiguredPassword => {
            println!("Created user `admin` with the password from BERTH_ADMIN_PASSWORD.");
        }
        Bootstrap::CreatedWithGeneratedPassword(password) => {
            println!("Created user `admin` with the generated password: {password}");
            println!("It is shown only this once; change it after logging in.");
        }
    }
    println!("Berth is serving on http://{}", app.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.shutdown().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
