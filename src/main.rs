//! The `mesure` binary: parse the command line, load the configuration, run a command.

use std::path::PathBuf;

// Measured on the load benchmark: malloc and free were about 10 % of the collector's CPU with
// glibc's allocator (an Event is a few dozen small strings).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mesure::clock::{Clock, SystemClock};
use mesure::config::Config;
use mesure::erasure;
use mesure::store::Store;
use mesure::store::dialect::Dialect;
use mesure::store::migrations::MIGRATIONS;

#[derive(Parser)]
#[command(name = "mesure", version, about = "Privacy-first web-analytics collector")]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "MESURE_CONFIG", default_value = "mesure.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector (tracking endpoints, health, metrics).
    Serve,
    /// Apply the schema migrations and exit.
    Migrate,
    /// Validate the configuration: print every error, or the privacy summary.
    CheckConfig,
    /// Delete what is past each site's retention now, and print what was deleted per site.
    Retention {
        /// Print what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Erase one visitor of a cookie-mode site (from their visitor cookie), or replay the ledger.
    Erase {
        #[arg(long, required_unless_present = "replay")]
        site: Option<u32>,
        /// The visitor's cookie value (Matomo `_pk_id` first part / `_id`).
        #[arg(long, required_unless_present = "replay")]
        visitor_id: Option<String>,
        /// Erase again every visitor recorded in the erasure ledger (after a backup restore).
        #[arg(long, conflicts_with_all = ["site", "visitor_id"])]
        replay: bool,
    },
    /// Print one visitor's rows of a cookie-mode site as JSON lines (the right of access).
    Export {
        #[arg(long)]
        site: u32,
        #[arg(long)]
        visitor_id: String,
    },
    /// Make the running collector re-read its configuration file (sends it SIGHUP).
    Reload,
    /// List each site: retention, identifier mode, events in the last 24 hours, the last hit,
    /// and what its /privacy.json says.
    Sites {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Manage read-only API tokens (of one site, several or all).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print every SQL statement mesure sends, as JSON lines, for a server version (checks).
    #[command(hide = true)]
    SqlCatalog {
        #[arg(long, default_value = "26.9")]
        server_version: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a site (or several, or all); it is printed once and stored hashed.
    Create {
        /// The site it reads.
        #[arg(long, required_unless_present_any = ["sites", "all_sites"], conflicts_with_all = ["sites", "all_sites"])]
        site: Option<u32>,
        /// The sites it reads, e.g. `1,2`.
        #[arg(long, value_delimiter = ',', conflicts_with = "all_sites")]
        sites: Vec<u32>,
        /// Every site, including those configured later.
        #[arg(long)]
        all_sites: bool,
        #[arg(long, default_value = "")]
        name: String,
        /// Also print a one-time link that signs the dashboard in with this token (valid one hour).
        #[arg(long)]
        sign_in_link: bool,
    },
    /// Revoke a token by its id (from `create` or `list`).
    Revoke {
        #[arg(long)]
        id: String,
    },
    /// List tokens (ids, sites, names; never the tokens).
    List {
        #[arg(long)]
        site: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::SqlCatalog { server_version } = &cli.command {
        for statement in mesure::catalog::statements(Dialect::from_version(server_version)) {
            println!("{}", serde_json::to_string(&statement).expect("statements serialise"));
        }
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(&cli.config, std::env::vars()) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{}: {errors}", cli.config.display());
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig = cli.command {
        print!("{}", mesure::summary::render(&config));
        return ExitCode::SUCCESS;
    }
    mesure::telemetry::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli.command, config, cli.config.clone())) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("mesure: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config, config_path: PathBuf) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now();
    let store = Store::new(&config.clickhouse);
    match command {
        Command::Serve => {
            // The spool is this process's alone while it runs: claimed before anything else.
            let owner = mesure::sink::owner::SpoolOwner::claim(&config.spool.dir)?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            mesure::app::run(config, Some(config_path), owner, listener, mesure::app::termination_signal()).await?;
        }
        Command::Migrate => {
            let applied = store.migrate(MIGRATIONS).await?;
            for name in &applied.newly_applied {
                println!("applied {name}");
            }
            println!(
                "{} migration(s) applied, {} already present",
                applied.newly_applied.len(),
                applied.already_applied
            );
        }
        Command::CheckConfig | Command::SqlCatalog { .. } => unreachable!("handled before the runtime starts"),
        Command::Retention { dry_run } => {
            let plan = store.enforce_retention(&config.sites, now, dry_run).await?;
            print!("{}", plan.report(dry_run));
        }
        Command::Erase { replay: true, .. } => {
            let (entries, rows) = erasure::replay(&store).await?;
            println!("replayed {entries} erasures from the ledger: {rows} rows deleted");
        }
        Command::Erase { site, visitor_id, .. } => {
            let (site, cookie) = (site.expect("clap requires it"), visitor_id.expect("clap requires it"));
            let Some(site) = config.site(site) else { anyhow::bail!("no site {site} in the configuration") };
            match erasure::erase(&store, site, &cookie, now).await {
                Ok(rows) => {
                    println!("site {}: erased {rows} rows of that visitor; recorded in the erasure ledger", site.id)
                }
                Err(erasure::ErasureError::Cookieless(_)) => {
                    print!("{}", erasure::COOKIELESS_EXPLANATION);
                    return Ok(ExitCode::from(3));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Reload => {
            let pid = mesure::sink::owner::running_owner(&config.spool.dir)?.to_string();
            let pid = pid.as_str();
            let status = std::process::Command::new("kill").args(["-HUP", pid]).status().context("running kill")?;
            anyhow::ensure!(status.success(), "no running collector with process id {pid}");
            println!("asked process {pid} to reload {}; its log says what changed", config_path.display());
        }
        Command::Sites { json } => {
            let activity = store.site_activity(now.saturating_sub(mesure::clock::DAY)).await?;
            if json {
                println!("{}", mesure::summary::sites_json(&config, &activity));
            } else {
                print!("{}", mesure::summary::sites_report(&config, &activity, now));
            }
        }
        Command::Token(TokenCommand::Create { site, sites, all_sites, name, sign_in_link }) => {
            let mut sites: Vec<u32> = site.into_iter().chain(sites).collect();
            sites.sort_unstable();
            sites.dedup();
            if let Some(missing) = sites.iter().find(|id| config.site(**id).is_none()) {
                anyhow::bail!("no site {missing} in the configuration");
            }
            // Site 0 in the stored row: every site.
            let stored = if all_sites { vec![0] } else { sites.clone() };
            let first = if all_sites { config.sites.first().map(|s| s.id) } else { sites.first().copied() };
            let Some(first) = first else { anyhow::bail!("no site in the configuration") };
            let site = if all_sites {
                "every site".to_string()
            } else {
                let ids: Vec<String> = sites.iter().map(u32::to_string).collect();
                format!("site{} {}", if ids.len() > 1 { "s" } else { "" }, ids.join(", "))
            };
            store.migrate(MIGRATIONS).await?;
            let (token, id) = store.create_token(&stored, &name, now).await?;
            if sign_in_link {
                let code = store.create_sign_in_link(&mesure::store::tokens::hash(&token), first, now, 3600).await?;
                let base = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen));
                println!(
                    "dashboard sign-in link (works once, for an hour):\n{}/signin?code={code}",
                    base.trim_end_matches('/')
                );
            }
            println!("token for {site} (id {id}); shown once, keep it secret:\n{token}");
        }
        Command::Token(TokenCommand::Revoke { id }) => match store.revoke_token(&id, now).await? {
            0 => anyhow::bail!("no token with id {id}"),
            n => println!("revoked {n} token(s) with id {id}"),
        },
        Command::Token(TokenCommand::List { site }) => {
            for t in store.list_tokens(site).await? {
                let state = if t.revoked == 1 { "revoked" } else { "active" };
                let site = if t.site_id == 0 { "every site".to_string() } else { format!("site {}", t.site_id) };
                println!("{}  {site}  {}  {}", t.id, state, t.name);
            }
        }
        Command::Export { site, visitor_id } => {
            let Some(site) = config.site(site) else { anyhow::bail!("no site {site} in the configuration") };
            match erasure::export(&store, site, &visitor_id).await {
                Ok(rows) => {
                    for row in rows {
                        println!("{}", serde_json::to_string(&row)?);
                    }
                }
                Err(erasure::ErasureError::Cookieless(_)) => {
                    print!("{}", erasure::COOKIELESS_EXPLANATION);
                    return Ok(ExitCode::from(3));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
