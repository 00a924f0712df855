//! Which townships' rows a piece of work sees.
//!
//! Work done for a person runs in a transaction from [`Db::read_scoped`] or
//! [`Db::begin_scoped`]. On PostgreSQL that transaction takes the role
//! `fenghuo_scoped` and sets `fenghuo.townships`, both `LOCAL` to it, and the
//! row-level security policies of migration 0022 then hide every row outside
//! the scope, so that a query that forgot its township filter still cannot
//! read or change another township's rows. The daemon's own work (sending,
//! escalating, reminders), which is every township's, uses the pools
//! directly. SQLite holds one township: there the transaction is a plain one.

use super::{Backend, Db, Result};

/// The townships a transaction may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The county bureau: every township of the install.
    County,
    /// These townships only: a township office's (or a village's) one.
    Townships(Vec<i64>),
}

impl Scope {
    pub fn township(id: i64) -> Scope {
        Scope::Townships(vec![id])
    }

    pub fn covers(&self, township: i64) -> bool {
        match self {
            Scope::County => true,
            Scope::Townships(ids) => ids.contains(&township),
        }
    }

    /// The value of `fenghuo.townships` the policies read: `*` for the
    /// county, else the ids separated by commas (empty: nothing).
    fn setting(&self) -> String {
        match self {
            Scope::County => "*".into(),
            Scope::Townships(ids) => ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
        }
    }
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Db {
    /// A transaction for reading as `scope` sees (on the read pool).
    pub async fn read_scoped(&self, scope: &Scope) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        self.enter(&mut tx, scope).await?;
        Ok(tx)
    }

    /// A write transaction (see [`Db::begin`]) that sees and may change only
    /// what `scope` covers.
    pub async fn begin_scoped(&self, scope: &Scope) -> Result<Tx> {
        let mut tx = self.begin().await?;
        self.enter(&mut tx, scope).await?;
        Ok(tx)
    }

    async fn enter(&self, tx: &mut Tx, scope: &Scope) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL ROLE fenghuo_scoped")
                .execute(&mut **tx)
                .await?;
            sqlx::query("SELECT set_config('fenghuo.townships', $1, true)")
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
    }
}
