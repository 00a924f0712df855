//! The `fenghuo` command: serve, migrate, tokens, backup and restore.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fenghuo::store::Scope;

use fenghuo::auth::Role;
use fenghuo::config::Config;

// The benchmark drives the daemon from outside, so it belongs to the command, not the library.
mod bench;

#[derive(Parser)]
#[command(
    name = "fenghuo",
    version,
    about = "烽火 — township emergency registry and alerting daemon"
)]
struct Cli {
    /// TOML configuration file (see deploy/fenghuo.example.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the benchmark's many settings make one variant
// large, which costs nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the daemon until SIGINT/SIGTERM.
    Serve {
        /// Load the sample township into an empty database and print an admin token.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Run the performance benchmark (see the README's Performance section).
    Bench(bench::BenchArgs),
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Dashboard users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The townships of a county install (one database for a county).
    Township {
        #[command(subcommand)]
        command: TownshipCommand,
    },
    /// Plan files.
    Plans {
        #[command(subcommand)]
        command: PlansCommand,
    },
    /// The configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Write a consistent copy of the database into DIR while the daemon
    /// runs: fenghuo-YYYYMMDDTHHMMSSZ.db (SQLite), or .pgdump (PostgreSQL,
    /// with pg_dump). Prints the file, its size and SHA-256.
    Backup {
        dir: PathBuf,
        /// Then keep only the N newest backups this command made in DIR.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        keep: Option<u64>,
    },
    /// Put a backup in place of the configured SQLite database (stop the
    /// daemon first); the database it replaces is kept beside it.
    Restore { file: PathBuf },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Read and check the whole configuration as `serve` would (file, environment, secret
    /// files, providers, URLs, certificates, time zone, rates); print every setting with
    /// where it came from (secrets masked) and every problem by its key; exit 1 on a problem.
    Check,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a dashboard user; the password is read from standard input.
    Add {
        name: String,
        /// viewer, editor, dispatcher or admin
        #[arg(long)]
        role: String,
        /// Also the leader permission (带班领导/签发人): approves what others draft.
        #[arg(long)]
        leader: bool,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Set a user's password (read from standard input) and end their sessions.
    Passwd { name: String },
    /// Set what a user may see and change; their sessions end.
    Scope {
        name: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// The first line of standard input, without its line ending: a password is
/// piped in (or typed), never given on the command line where `ps` shows it.
/// `auth::role_within` for the command line: the role fits the scope, or
/// an error saying why not.
fn role_fits(role: Role, scope: &fenghuo::store::Scope) -> anyhow::Result<()> {
    if fenghuo::auth::role_within(role, scope) != role {
        anyhow::bail!(
            "{} is above editor, the most a village scope carries (notices are sent by the township or the county)",
            role.as_str()
        );
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[derive(Subcommand)]
enum PlansCommand {
    /// Check every plan file; print problems as file:line:column: message.
    /// Village and shelter codes are checked against the configured
    /// database (the one `serve` uses) when it exists.
    Check {
        /// Directory of plan files (default: the configured plans_dir).
        dir: Option<PathBuf>,
        /// Require the database (fail if it cannot be opened) instead of
        /// skipping the village and shelter checks without one.
        #[arg(long)]
        with_database: bool,
    },
    /// Write the sample plans built into fenghuo (and their field
    /// reference) into DIR, to adapt them.
    Init {
        dir: PathBuf,
        /// Overwrite files that exist already.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (it is stored hashed and cannot be shown again).
    Create {
        #[arg(long)]
        name: String,
        /// viewer, editor, dispatcher or admin
        #[arg(long)]
        role: String,
        /// Also the leader permission (带班领导/签发人): approves what others draft.
        #[arg(long)]
        leader: bool,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// Who a token or user may see and change.
#[derive(Args)]
struct ScopeArgs {
    /// county, township (default) or village.
    #[arg(long, default_value = "township")]
    scope: String,
    /// The township's 12-digit division code (default: the home township).
    #[arg(long)]
    township: Option<String>,
    /// The village's code, for a village scope.
    #[arg(long)]
    village: Option<String>,
}

impl ScopeArgs {
    /// The scope named, and the township its holder belongs to.
    async fn resolve(&self, db: &fenghuo::store::Db) -> anyhow::Result<(Scope, i64)> {
        Ok(fenghuo::registry::townships::resolve_scope(
            db,
            &self.scope,
            self.township.as_deref(),
            self.village.as_deref(),
        )
        .await?)
    }
}

#[derive(Subcommand)]
enum TownshipCommand {
    /// Add a township (or with --county the county bureau's own row, whose
    /// contacts are its duty staff).
    Add {
        /// The 12-digit administrative division code (统计用区划代码).
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        county: bool,
    },
    /// List the townships.
    List,
}

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run())
}

/// glibc gives each thread that allocates an arena of its own (up to eight
/// per core), and each arena keeps the memory freed in it. The daemon's
/// threads (runtime workers, one per SQLite connection) mostly wait, so two
/// arenas serve them, with about a megabyte less held while idle.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    const M_ARENA_MAX: std::os::raw::c_int = -8;
    unsafe extern "C" {
        fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    // SAFETY: mallopt only sets an allocator parameter; it runs before any
    // other thread exists.
    unsafe {
        mallopt(M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// The log on standard error: colour only on a terminal (a file or journald
/// gets plain text), or one JSON object per line (`log.format = "json"`) with
/// the current request's span (id, route, actor) on each.
fn init_logging(log: &fenghuo::config::LogConfig) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FENGHUO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if log.format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// `fenghuo config check`: every setting and its source, then the problems.
fn check_config(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let checked = Config::check(file).context("reading the configuration")?;
    let width = checked
        .settings
        .iter()
        .map(|s| s.key.len())
        .max()
        .unwrap_or(0);
    for s in &checked.settings {
        println!(
            "{:width$} = {}    # {}",
            s.key,
            s.value,
            s.source,
            width = width
        );
    }
    if checked.problems.is_empty() {
        eprintln!("配置无误 / the configuration is valid");
        return Ok(());
    }
    for p in &checked.problems {
        eprintln!("error: {p}");
    }
    eprintln!(
        "{n} problem(s) / 发现 {n} 个问题",
        n = checked.problems.len()
    );
    std::process::exit(1);
}

async fn run() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Command::Config {
        command: ConfigCommand::Check,
    } = cli.command
    {
        return check_config(cli.config.as_deref());
    }
    // The same check as `config check`: `serve` does not start on a setting that cannot work.
    let cfg = Config::load(cli.config.as_deref()).context("loading configuration")?;
    init_logging(&cfg.log);
    match cli.command {
        Command::Config { .. } => {}
        Command::Serve { demo } => {
            let mut cfg = cfg;
            cfg.sample_plans = demo;
            // The demo shows calls too: written to files, as its SMS are, unless configured.
            if demo && cfg.voice.provider.trim() == "off" {
                cfg.voice.provider = "spool".into();
            }
            if demo && !cfg.plans_dir.exists() {
                println!(
                    "预案目录 {} 不存在，使用内置示例预案 / no plans directory {}: using the built-in sample plans",
                    cfg.plans_dir.display(),
                    cfg.plans_dir.display()
                );
            }
            let db = fenghuo::server::open_db(&cfg)
                .await
                .context("opening the database")?;
            if demo {
                let tz = cfg.tz();
                // Named as configured before the sample records are written
                // (their documents and 督办 records carry the township's name).
                fenghuo::registry::townships::settle_home(&db, &cfg.area_code, &cfg.township_name)
                    .await
                    .context("naming the township")?;
                if fenghuo::demo::load(&db, tz)
                    .await
                    .context("loading sample data")?
                {
                    println!(
                        "已载入示例乡镇数据（13 个村，均标注为示例）/ loaded the sample township (marked as sample)"
                    );
                }
                // A new token at each start; the previous one stops working.
                let (_, token) = fenghuo::auth::rotate_token(&db, "demo-admin", Role::Admin)
                    .await
                    .context("creating the demo admin token")?;
                println!("管理员令牌 admin token: {token}");
                println!("（上次启动的令牌已作废 / the token of the previous start is revoked）");
                // Full names (shown where a person signs) marked as sample.
                for (name, full_name, role, leader, label) in [
                    (
                        "demo",
                        "林晓燕（示例）",
                        Role::Admin,
                        false,
                        "控制台用户 dashboard user",
                    ),
                    (
                        "demo-leader",
                        "陈建国（示例）",
                        Role::Dispatcher,
                        true,
                        "带班领导（签发人） leader who signs off",
                    ),
                ] {
                    let (password, created) = demo_user(&db, name, full_name, role, leader).await?;
                    println!(
                        "{label}: {name} / {password}{}",
                        if created { "" } else { "（已重置 reset）" }
                    );
                }
            }
            // Caught from here on, before anyone can be told the address.
            let signal = fenghuo::server::shutdown_signal();
            let running = fenghuo::server::start(cfg, db)
                .await
                .context("starting the server")?;
            println!("fenghuo 已启动 listening on http://{}", running.addr);
            let stop = running.stopper();
            tokio::spawn(async move {
                signal.await;
                tracing::info!("shutting down");
                let _ = stop.send(true);
            });
            running.wait().await.context("serving")?;
        }
        Command::Bench(args) => {
            bench::run(args)
                .await
                .map_err(|e| anyhow::anyhow!("benchmark: {e}"))?;
        }
        Command::Migrate => {
            fenghuo::server::open_db(&cfg)
                .await
                .context("migrating the database")?;
            println!("migrations applied");
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    name,
                    role,
                    leader,
                    scope,
                },
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role '{role}': use viewer, editor, dispatcher or admin")
            })?;
            let db = fenghuo::server::open_db(&cfg)
                .await
                .context("opening the database")?;
            let (scope, township) = scope.resolve(&db).await?;
            role_fits(role, &scope).context("--role")?;
            let (_, token) =
                fenghuo::auth::create_scoped_token(&db, &name, role, leader, &scope, township)
                    .await
                    .context("creating the token")?;
            println!("{token}");
        }
        Command::Township { command } => {
            let db = fenghuo::server::open_db(&cfg)
                .await
                .context("opening the database")?;
            match command {
                TownshipCommand::Add { code, name, county } => {
                    let t = fenghuo::registry::townships::add(&db, &code, &name, county).await?;
                    println!("{} {} {} (id {})", t.kind, t.code, t.name, t.id);
                }
                TownshipCommand::List => {
                    for t in fenghuo::registry::townships::list(&db).await? {
                        println!("{}\t{}\t{}\t{}", t.id, t.kind, t.code, t.name);
                    }
                }
            }
        }
        Command::User { command } => {
            let db = fenghuo::server::open_db(&cfg)
                .await
                .context("opening the database")?;
            match command {
                UserCommand::Add {
                    name,
                    role,
                    leader,
                    scope,
                } => {
                    let role = Role::parse(&role).with_context(|| {
                        format!("unknown role '{role}': use viewer, editor, dispatcher or admin")
                    })?;
                    let (scope, township) = scope.resolve(&db).await?;
                    role_fits(role, &scope).context("--role")?;
                    let password = read_password()?;
                    fenghuo::accounts::users::create(&db, "cli", &name, role, &password)
                        .await
                        .with_context(|| format!("creating user '{name}'"))?;
                    fenghuo::accounts::users::set_scope(&db, "cli", &name, &scope, township)
                        .await
                        .with_context(|| format!("setting the scope of '{name}'"))?;
                    if leader {
                        fenghuo::accounts::users::set_leader(&db, "cli", &name, true)
                            .await
                            .with_context(|| format!("making '{name}' a leader"))?;
                    }
                    println!(
                        "user {name} created ({}{})",
                        role.as_str(),
                        if leader { ", leader" } else { "" }
                    );
                }
                UserCommand::Scope { name, scope } => {
                    let (scope, township) = scope.resolve(&db).await?;
                    let role = fenghuo::accounts::users::find(&db, &name)
                        .await
                        .context("reading the user")?
                        .and_then(|u| Role::parse(&u.role));
                    if let Some(role) = role {
                        role_fits(role, &scope).with_context(|| {
                            format!("{name}: add a village user with role editor instead")
                        })?;
                    }
                    fenghuo::accounts::users::set_scope(&db, "cli", &name, &scope, township)
                        .await
                        .with_context(|| format!("setting the scope of '{name}'"))?;
                    println!("scope of {name} set: {}", scope.kind());
                }
                UserCommand::Passwd { name } => {
                    let password = read_password()?;
                    fenghuo::accounts::users::set_password(&db, "cli", &name, &password)
                        .await
                        .with_context(|| format!("setting the password of '{name}'"))?;
                    println!("password of {name} set");
                }
            }
        }
        Command::Backup { dir, keep } => {
            let keep = keep.map(|k| usize::try_from(k).unwrap_or(usize::MAX));
            let url = cfg.database_url();
            let w = fenghuo::store::backup::backup(&url, &dir, keep, chrono::Utc::now())
                .await
                .context("备份失败 / backup failed")?;
            println!("备份已写入 / backup written: {}", w.path.display());
            println!("size: {} bytes", w.size);
            println!("sha256: {}", w.sha256);
            println!("migration: {}", w.migration);
            for p in &w.pruned {
                println!("pruned: {}", p.display());
            }
        }
        Command::Restore { file } => {
            let url = cfg.database_url();
            let key_path = cfg.answer_key_path();
            let r = fenghuo::store::backup::restore(&url, &file, &key_path, chrono::Utc::now())
                .await
                .context("恢复失败，未做任何更改 / restore failed, nothing was changed")?;
            let c = &r.copy;
            println!(
                "已恢复 / restored: {} -> {}",
                file.display(),
                r.target.display()
            );
            println!(
                "contents: {} villages, {} contacts, {} sites; migration {}",
                c.villages, c.contacts, c.sites, c.migration
            );
            if c.migration < r.known {
                println!(
                    "the daemon applies the newer migrations (up to {}) when it starts",
                    r.known
                );
            }
            match &r.kept {
                Some(k) => println!(
                    "原数据库保留为 / the replaced database is kept as: {}",
                    k.display()
                ),
                None => println!("there was no database to replace"),
            }
            use fenghuo::store::backup::KeyCheck;
            match &r.key {
                KeyCheck::Matches | KeyCheck::NotNeeded => {}
                KeyCheck::Missing(p) => println!(
                    "注意 / warning: no answer key file at {}: copy answer.key from where the \
                     backup was made (the daemon does not start without the key its answer \
                     links were made with)",
                    p.display()
                ),
                KeyCheck::Differs(p) => println!(
                    "注意 / warning: {} is not the answer key this database's links were made \
                     with: copy answer.key from where the backup was made (the daemon does not \
                     start with another)",
                    p.display()
                ),
            }
            println!("启动守护进程 / now start the daemon (systemctl start fenghuo)");
        }
        Command::Plans {
            command: PlansCommand::Check { dir, with_database },
        } => check_plans(&cfg, dir, with_database).await?,
        Command::Plans {
            command: PlansCommand::Init { dir, force },
        } => {
            let written = fenghuo::plans::sample::write(&dir, force)
                .with_context(|| format!("writing the sample plans into {}", dir.display()))?;
            for f in &written {
                println!("{}", f.display());
            }
            eprintln!(
                "已写出示例预案，请按本乡镇实际修改后用 fenghuo plans check {} 检查 / sample plans written: adapt them, then check them",
                dir.display()
            );
        }
    }
    Ok(())
}

async fn check_plans(
    cfg: &Config,
    dir: Option<PathBuf>,
    with_database: bool,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| cfg.plans_dir.clone());
    // The register the daemon checks against: the configured database, if
    // there is one (an embedded SQLite file that does not exist yet is not
    // created by a check).
    let sqlite_missing = cfg.database_url.is_empty() && !cfg.data_dir.join("fenghuo.db").exists();
    let mut registers = None;
    if with_database || !sqlite_missing {
        match read_registers(cfg).await {
            Ok(r) => registers = Some(r),
            Err(e) if with_database => return Err(e),
            Err(e) => eprintln!(
                "note: the database could not be read ({e:#}); village and shelter codes not checked"
            ),
        }
    }
    // Each township's folder against its own villages and shelters; without
    // a database, only what the files say.
    let result = match &registers {
        Some(r) => r.load(&dir),
        None => fenghuo::plans::load_tree(&dir, &fenghuo::plans::Tree::default()),
    };
    for note in &result.notes {
        eprintln!("note: {note}");
    }
    let mut n = 0;
    for p in result.problems() {
        println!("{p}");
        n += 1;
    }
    for p in result.plans() {
        eprintln!(
            "ok: {} ({}) {}",
            p.file,
            p.plan.id,
            p.content_hash.get(..12).unwrap_or("")
        );
    }
    if n > 0 {
        eprintln!("{n} problem(s) / 发现 {n} 个问题");
        std::process::exit(1);
    }
    Ok(())
}

/// Every township's villages and shelter codes, from the configured database.
async fn read_registers(cfg: &Config) -> anyhow::Result<fenghuo::planbook::Registers> {
    let db = fenghuo::server::open_db(cfg)
        .await
        .context("opening the database")?;
    fenghuo::planbook::Registers::read(&db)
        .await
        .context("reading the villages, townships and shelter register")
}

/// A demo user with a new random password (created, or its password reset):
/// returns the password and whether the user was created.
async fn demo_user(
    db: &fenghuo::store::Db,
    name: &str,
    full_name: &str,
    role: Role,
    leader: bool,
) -> anyhow::Result<(String, bool)> {
    let password =
        fenghuo::accounts::users::random_password().context("making the demo password")?;
    let created = match fenghuo::accounts::users::find(db, name)
        .await
        .context("looking up a demo user")?
    {
        Some(_) => {
            fenghuo::accounts::users::set_password(db, "demo-loader", name, &password)
                .await
                .context("resetting a demo user's password")?;
            false
        }
        None => {
            fenghuo::accounts::users::create(db, "demo-loader", name, role, &password)
                .await
                .context("creating a demo user")?;
            if leader {
                fenghuo::accounts::users::set_leader(db, "demo-loader", name, true)
                    .await
                    .context("making the demo leader")?;
            }
            fenghuo::accounts::users::set_full_name(db, "demo-loader", name, full_name)
                .await
                .context("naming a demo user")?;
            true
        }
    };
    Ok((password, created))
}
