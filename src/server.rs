//! The daemon: opens storage, mounts the HTTP server, runs the background
//! workers, and stops them all on one shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api;
use crate::app::AppState;
use crate::config::Config;
use crate::notify::delivery::outbox::{self, Notifier, Senders};
use crate::notify::response::escalation;
use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("notice channels: {0}")]
    Channels(#[from] crate::notify::delivery::outbox::SenderError),
    #[error(transparent)]
    AnswerKey(#[from] crate::notify::response::answers::KeyError),
    #[error("{0}: another fenghuo is running on this SQLite database")]
    Locked(String),
}

/// Takes `<database file>.lock` for as long as the returned file is open
/// (`fenghuo restore` takes it too, to refuse while a daemon runs).
pub(crate) fn lock_database(url: &str) -> Result<std::fs::File, ServeError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::Locked(lock_path)),
        Err(std::fs::TryLockError::Error(e)) => Err(ServeError::Io(e)),
    }
}

/// A running daemon. Dropping it does not stop it; call `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served without a token (`metrics.listen`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    pub db: Db,
    pub notifier: Arc<Notifier>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), std::io::Error>>,
    workers: Vec<JoinHandle<()>>,
    /// The SQLite lock, held until the workers have stopped.
    _lock: Option<std::fs::File>,
}

impl Running {
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server and workers stop (after the stop signal).
    pub async fn wait(self) -> Result<(), ServeError> {
        let served = match self.task.await {
            Ok(r) => r.map_err(ServeError::from),
            Err(e) => Err(ServeError::Io(std::io::Error::other(e))),
        };
        for w in self.workers {
            let _ = w.await;
        }
        drop(self._lock);
        served
    }

    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

pub async fn open_db(cfg: &Config) -> Result<Db, StoreError> {
    if cfg.database_url.is_empty() {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|source| StoreError::DataDir {
            path: cfg.data_dir.display().to_string(),
            source,
        })?;
    }
    Db::connect(&cfg.database_url(), cfg.max_db_connections).await
}

/// `metrics.listen`: a listener of its own that answers `GET /metrics` (and
/// nothing else) without a token, for a Prometheus on the same host or a
/// private network. It stops with the daemon.
async fn serve_metrics(
    at: SocketAddr,
    notifier: Arc<Notifier>,
    mut stopped: watch::Receiver<bool>,
) -> Result<SocketAddr, ServeError> {
    let listener = TcpListener::bind(at)
        .await
        .map_err(|source| ServeError::Listen { addr: at, source })?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "metrics are served without a token beyond this host");
    }
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = notifier.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        crate::telemetry::CONTENT_TYPE,
                    )],
                    crate::telemetry::render(&n).await,
                )
            }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!(%addr, "metrics listening");
    Ok(addr)
}

/// Starts the daemon on an opened database.
pub async fn start(mut cfg: Config, db: Db) -> Result<Running, ServeError> {
    crate::telemetry::process::mark_start();
    if !cfg.answer_key.is_set() {
        cfg.answer_key =
            crate::notify::response::answers::AnswerKey::load_or_create(&cfg.answer_key_path())?;
    }
    crate::notify::response::answers::check_key(&db, &cfg.answer_key, &cfg.answer_key_path())
        .await?;
    // One process owns a SQLite file: the lock says so, and lets the claims
    // a killed run left behind be sent again at once (not after their lease).
    let lock = match db.backend {
        crate::store::Backend::Sqlite => Some(lock_database(&cfg.database_url())?),
        crate::store::Backend::Postgres => None,
    };
    if lock.is_some() {
        match outbox::release_orphaned_claims(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                deliveries = n,
                "sends cut short by the last stop are sent again now (they may reach someone twice)"
            ),
            Err(e) => {
                tracing::error!(error = %e, "releasing the last run's claims failed; their leases bring them back")
            }
        }
    }
    if crate::registry::townships::settle_home(&db, &cfg.area_code, &cfg.township_name).await? {
        tracing::info!(code = %cfg.area_code, name = %cfg.township_name, "the township is named as configured");
    }
    let cfg = Arc::new(cfg);
    let tz = cfg.tz();
    // Before the workers: an alert cut short between pages is completed
    // first, so its deliveries go out with the rest.
    match crate::notify::intake::alerts::recover_incomplete(&db, &cfg).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(alerts = n, "completed notices cut short by a stop"),
        Err(e) => tracing::error!(error = %e, "completing notices cut short failed"),
    }
    let senders = Senders::from_config(&cfg)?;
    let notifier = Arc::new(Notifier {
        db: db.clone(),
        cfg: cfg.clone(),
        wake: tokio::sync::Notify::new(),
        senders,
        plans: if cfg.sample_plans {
            crate::planbook::PlanBook::with_sample_fallback(cfg.plans_dir.clone())
        } else {
            crate::planbook::PlanBook::new(cfg.plans_dir.clone())
        },
        breakers: outbox::Breakers::new(&cfg),
        outbox: outbox::OutboxState::default(),
    });
    crate::telemetry::prepare(&notifier);
    // Plans are read before serving; a broken file is reported, not fatal.
    notifier.plans.reload(&db).await?;
    crate::drills::sync_from_plans(&db, &cfg.drills, &notifier.plans).await?;
    crate::drills::draft_those_over_the_limits(&db, &cfg.drills).await?;
    let state = AppState {
        db: db.scoped(crate::store::Scope::nothing()),
        system: db.clone(),
        cfg: cfg.clone(),
        tz,
        notifier: notifier.clone(),
        tokens: Arc::default(),
        signin: Arc::new(crate::accounts::signin::SigninGate::new(&cfg.signin)),
        figures: Arc::new(crate::county::Kept::default()),
    };
    let app = api::router(state.clone())
        .merge(crate::web::router(state))
        .fallback(not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(api::error::ApiError::internal())
            },
        ));
    let app = crate::telemetry::http::layer(app);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let metrics_addr = match cfg.metrics.listen {
        Some(at) => Some(serve_metrics(at, notifier.clone(), stopped.clone()).await?),
        None => None,
    };
    let mut workers = outbox::spawn(notifier.clone(), stopped.clone());
    workers.push(tokio::spawn(escalation::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(crate::drills::reminders::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(crate::daily::cycle::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(crate::enforcement::supervision::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(crate::notify::robots::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(crate::notify::delivery::paths::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(crate::notify::delivery::canary::run(
        notifier.clone(),
        stopped.clone(),
    )));
    workers.push(tokio::spawn(reload_on_sighup(
        notifier.clone(),
        stopped.clone(),
    )));
    if db.backend == crate::store::Backend::Postgres {
        workers.push(tokio::spawn(crate::planbook::follow(
            notifier.clone(),
            stopped.clone(),
        )));
        workers.push(tokio::spawn(
            crate::notify::intake::owner::complete_orphaned_notices(
                notifier.clone(),
                stopped.clone(),
            ),
        ));
    }
    let task = tokio::spawn(async move {
        // Connect info gives the dashboard the client address for its
        // sign-in lock-out.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
    });
    tracing::info!(%addr, "fenghuo listening");
    Ok(Running {
        addr,
        metrics_addr,
        db,
        notifier,
        stop,
        task,
        workers,
        _lock: lock,
    })
}

/// Resolves on SIGINT or SIGTERM.
/// Catches SIGINT and SIGTERM from the moment it is called (not from its
/// first poll: a signal arriving before the task runs would otherwise kill
/// the process unhandled) and resolves when one arrives.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async move {
        let term = async {
            match term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let int = async {
            match int.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = term => {},
            _ = int => {},
        }
    }
}

/// SIGHUP re-reads the plan files, as `POST /api/v1/plans/reload` does.
async fn reload_on_sighup(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    match n.plans.reload(&n.db).await {
                        Ok(r) => tracing::info!(plans = ?r.plans, problems = r.problems.len(), "plans reloaded on SIGHUP"),
                        Err(e) => tracing::warn!(error = %e, "plan reload failed"),
                    }
                    if let Err(e) = crate::drills::sync_from_plans(&n.db, &n.cfg.drills, &n.plans).await {
                        tracing::warn!(error = %e, "drill schedules from plans not updated");
                    }
                }
                _ = stop.changed() => {
                    if *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (n, stop.changed().await);
    }
}

/// Unknown paths: a JSON error where programs call (the API, providers'
/// webhooks), the dashboard's "not found" page where a person with a
/// browser may have typed or followed a link.
async fn not_found(
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/hooks/") {
        api::error::ApiError::not_found("route").into_response()
    } else {
        crate::web::not_found_page(&headers, &uri)
    }
}
