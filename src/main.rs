//! The `mesure` binary: parse the command line, load the configuration, run a command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mesure::config::Config;

#[derive(Parser)]
#[command(name = "mesure", version, about = "Privacy-first web-analytics collector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector (tracking endpoints, health, metrics).
    Serve(ConfigArg),
    /// Apply the schema migrations and exit.
    Migrate(ConfigArg),
    /// Validate the configuration: print every error, or a summary.
    CheckConfig(ConfigArg),
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(long, env = "MESURE_CONFIG", default_value = "mesure.toml")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (ConfigArg { config: path }, command) = match cli.command {
        Command::Serve(a) => (a, "serve"),
        Command::Migrate(a) => (a, "migrate"),
        Command::CheckConfig(a) => (a, "check-config"),
    };
    let config = match Config::load(&path, std::env::vars()) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{}: {errors}", path.display());
            return ExitCode::from(2);
        }
    };
    if command == "check-config" {
        print!("{}", mesure::summary::render(&config));
        return ExitCode::SUCCESS;
    }
    mesure::telemetry::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match command {
            "serve" => serve(config).await,
            _ => migrate(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("mesure {command}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    mesure::app::run(config, listener, mesure::app::termination_signal()).await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let applied = mesure::store::migrations::apply(&config.clickhouse, mesure::store::migrations::MIGRATIONS).await?;
    for name in &applied.newly_applied {
        println!("applied {name}");
    }
    println!("{} migration(s) applied, {} already present", applied.newly_applied.len(), applied.already_applied);
    Ok(())
}
