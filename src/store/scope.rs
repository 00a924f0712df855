//! Which townships' rows a piece of work sees.
//!
//! Work done for a person runs on a [`Db`] made for their scope
//! ([`Db::scoped`]): its transactions ([`Db::read`], [`Db::begin`]) see only
//! that scope, and the services add [`Db::township_filter`] (and
//! [`Db::village_filter`]) to their queries, which is what keeps townships
//! apart on SQLite. On PostgreSQL each such transaction also takes the role
//! `fenghuo_scoped` and sets `fenghuo.townships`, both `LOCAL` to it, and the
//! row-level security policies of migration 0022 then hide every row outside
//! the scope, so that a query that forgot its township filter still cannot
//! read or change another township's rows. The daemon's own work (sending,
//! escalating, reminders), which is every township's, uses the pools
//! directly, on an unscoped `Db`. A `Db` scoped to nothing
//! ([`Scope::nothing`]) is what the web and API layers hold until they know
//! who is asking: a handler that forgot to take the asker's scope sees
//! nothing rather than everything.

use super::{Backend, Db, Result};

/// The townships a transaction may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The county bureau: every township of the install.
    County,
    /// These townships only: a township office's.
    Townships(Vec<i64>),
    /// One village of a township: row-level security holds the township,
    /// the services narrow to the village ([`Db::village_filter`]).
    Village { township: i64, village: i64 },
}

impl Scope {
    pub fn township(id: i64) -> Scope {
        Scope::Townships(vec![id])
    }

    /// No township at all: what a request has before its asker is known.
    pub fn nothing() -> Scope {
        Scope::Townships(Vec::new())
    }

    /// A person's or token's scope as stored (`users.scope`,
    /// `api_tokens.scope`, migration 0023) with their township and village.
    /// An unknown kind, or a village scope without a village, is nothing.
    pub fn from_stored(kind: &str, township: i64, village: Option<i64>) -> Scope {
        match (kind, village) {
            ("county", _) => Scope::County,
            ("township", _) => Scope::township(township),
            ("village", Some(village)) => Scope::Village { township, village },
            _ => Scope::nothing(),
        }
    }

    /// The stored kind: `county`, `township` or `village`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::County => "county",
            Scope::Townships(_) => "township",
            Scope::Village { .. } => "village",
        }
    }

    pub fn covers(&self, township: i64) -> bool {
        match self {
            Scope::County => true,
            Scope::Townships(ids) => ids.contains(&township),
            Scope::Village { township: t, .. } => *t == township,
        }
    }

    /// The village a village scope is narrowed to.
    pub fn village(&self) -> Option<i64> {
        match self {
            Scope::Village { village, .. } => Some(*village),
            _ => None,
        }
    }

    /// The value of `fenghuo.townships` the policies read: `*` for the
    /// county, else the ids separated by commas (empty: nothing).
    fn setting(&self) -> String {
        match self {
            Scope::County => "*".into(),
            Scope::Townships(ids) => ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
            Scope::Village { township, .. } => township.to_string(),
        }
    }
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The column holding the village of an owned table's row, for village
/// scopes; `None` for tables without one.
pub(crate) fn village_column(table: &str) -> Option<&'static str> {
    match table {
        "villages" => Some("id"),
        "contacts" | "sites" | "shelters" | "danger_zones" | "households" | "group_robots" => {
            Some("village_id")
        }
        _ => None,
    }
}

impl Db {
    /// This database as `scope` sees it: the same pools, and transactions
    /// limited to the scope.
    pub fn scoped(&self, scope: Scope) -> Db {
        Db {
            scope: Some(std::sync::Arc::new(scope)),
            ..self.clone()
        }
    }

    /// The daemon's own view: every township (token and session look-ups,
    /// public pages, answer links, the workers).
    pub fn unscoped(&self) -> Db {
        Db {
            scope: None,
            ..self.clone()
        }
    }

    /// The scope this handle is limited to; `None` for the daemon's own work.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_deref()
    }

    /// A SQL condition keeping `column` (a township id) inside the scope:
    /// `TRUE` unscoped or for the county, else `column IN (…)` (ids are
    /// numbers, written into the text), `FALSE` for no township.
    pub fn township_filter(&self, column: &str) -> String {
        match self.scope() {
            None | Some(Scope::County) => "TRUE".into(),
            Some(Scope::Townships(ids)) if ids.is_empty() => "FALSE".into(),
            Some(s) => format!("{column} IN ({})", s.setting()),
        }
    }

    /// A SQL condition keeping `column` (a village id) inside a village
    /// scope; `TRUE` for every other scope. A row without a village (NULL)
    /// is outside a village scope.
    pub fn village_filter(&self, column: &str) -> String {
        match self.scope().and_then(Scope::village) {
            Some(v) => format!("{column} = {v}"),
            None => "TRUE".into(),
        }
    }

    /// The whole scope condition for rows of the owned `table` (unaliased):
    /// its township, and its village where the table has one.
    pub fn scope_filter(&self, table: &str) -> String {
        let township = self.township_filter("township_id");
        match village_column(table) {
            Some(v) => format!("{township} AND {}", self.village_filter(v)),
            None => township,
        }
    }

    /// One row (`columns`) of the owned `table` by id, if this handle's
    /// scope covers it; another township's (or village's) is `None`: a 404.
    pub async fn get_in_scope<T>(&self, columns: &str, table: &str, id: i64) -> Result<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut tx = self.read().await?;
        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM {table} WHERE id = $1 AND {}",
            self.scope_filter(table)
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A transaction for reading (on the read pool) that sees what this
    /// handle's scope covers.
    pub async fn read(&self) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        self.enter(&mut tx).await?;
        Ok(tx)
    }

    /// On PostgreSQL, limits a scoped handle's transaction to its scope:
    /// the role the policies apply to and the townships they admit, both
    /// for this transaction only (one round trip).
    pub(super) async fn enter(&self, tx: &mut Tx) -> Result<()> {
        if let (Backend::Postgres, Some(scope)) = (self.backend, self.scope()) {
            sqlx::query(
                "SELECT set_config('role', 'fenghuo_scoped', true), \
                 set_config('fenghuo.townships', $1, true)",
            )
            .bind(scope.setting())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn the_setting_names_the_townships() {
        assert_eq!(Scope::County.setting(), "*");
        assert_eq!(Scope::township(3).setting(), "3");
        assert_eq!(Scope::Townships(vec![1, 12]).setting(), "1,12");
        assert_eq!(Scope::Townships(vec![]).setting(), "");
        assert!(Scope::County.covers(7));
        assert!(Scope::township(3).covers(3));
        assert!(!Scope::township(3).covers(4));
        let village = Scope::Village {
            township: 2,
            village: 9,
        };
        assert_eq!(village.setting(), "2");
        assert!(village.covers(2) && !village.covers(1));
        assert_eq!(Scope::from_stored("county", 2, None), Scope::County);
        assert_eq!(
            Scope::from_stored("township", 2, Some(9)),
            Scope::township(2)
        );
        assert_eq!(Scope::from_stored("village", 2, Some(9)), village);
        assert_eq!(Scope::from_stored("village", 2, None), Scope::nothing());
        assert_eq!(Scope::from_stored("planet", 2, None), Scope::nothing());
    }
}
