//! Daemon configuration: embedded defaults, then an optional TOML file, then
//! the `FENGHUO_*` environment variables. `deploy/fenghuo.example.toml`
//! documents every setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid setting {name}: {message}")]
    Invalid { name: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the spool outbox.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `<data_dir>/fenghuo.db`.
    pub database_url: String,
    /// Directory holding the plan files.
    pub plans_dir: PathBuf,
    /// Zone used to show and schedule times.
    pub timezone: String,
    /// Base URL that recipients use for answer links.
    pub public_base_url: String,
    /// Name of the office, shown in notices and the CAP sender name.
    pub office_name: String,
    /// Largest number of database connections.
    pub max_db_connections: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            plans_dir: PathBuf::from("plans"),
            timezone: "Asia/Shanghai".into(),
            public_base_url: String::new(),
            office_name: "湖上乡应急办".into(),
            max_db_connections: 8,
        }
    }
}

impl Config {
    /// Loads the file (if given) and applies environment overrides.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Config::from_toml(&text).map_err(|message| ConfigError::Parse {
                    path: path.display().to_string(),
                    message,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("FENGHUO_LISTEN") {
            self.listen = v.parse().map_err(|_| ConfigError::Invalid {
                name: "FENGHUO_LISTEN".into(),
                message: format!("'{v}' is not an address such as 127.0.0.1:8080"),
            })?;
        }
        if let Some(v) = get("FENGHUO_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("FENGHUO_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::Invalid {
                name: "timezone".into(),
                message: format!("'{}' is not an IANA time zone", self.timezone),
            });
        }
        Ok(())
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("fenghuo.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Base for links in notices; falls back to the listen address.
    pub fn public_base(&self) -> String {
        if self.public_base_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_base_url.trim_end_matches('/').to_string()
        }
    }
}
