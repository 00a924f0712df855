//! A small builder for statements whose shape depends on the request (filters,
//! multi-row inserts): it numbers placeholders `$1, $2, …` itself, because the
//! `Any` driver passes SQL through untouched to either backend.

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, FromRow, any::AnyRow};

#[derive(Debug, Clone)]
pub enum Arg {
    I(i64),
    F(f64),
    T(String),
    NullI,
    NullT,
    NullF,
}

/// A NULL that PostgreSQL types as `double precision`. sqlx 0.9's Any
/// driver declares a NULL `f64` as `real` (and a NULL `f32` as `double
/// precision`): a statement first prepared with a NULL there then refuses
/// an 8-byte value on the same connection ("incorrect binary data format").
const NULL_DOUBLE: Option<f32> = None;

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::F(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::T(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::T(v.to_string())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        v.map_or(Arg::NullT, Arg::T)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::NullI, Arg::I)
    }
}
impl From<Option<f64>> for Arg {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Arg::NullF, Arg::F)
    }
}

/// Rows per multi-row statement with `params_per_row` placeholders each.
///
/// sqlx's SQLite driver asks SQLite for every placeholder's name
/// (`sqlite3_bind_parameter_name`), and SQLite finds it by walking a list
/// as long as the statement's placeholders: binding costs grow with the
/// square of a statement's size. 250 rows of 14 placeholders spent 24 µs a
/// row there (37% of a profile of a 100k fan-out); ~256 placeholders keeps
/// that small next to the ~20 µs every statement costs anyway. PostgreSQL
/// has no such cost, and fewer round trips win up to its limit of 65,535.
pub fn rows_per_statement(sqlite: bool, params_per_row: usize) -> usize {
    let budget = if sqlite { 256 } else { 8192 };
    (budget / params_per_row.max(1)).max(1)
}

/// Whether a connection of the `Any` driver is SQLite.
pub fn is_sqlite(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Arg>) -> &mut Self {
        self.args.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `(p, p, …)` bound to each value, for `IN` lists.
    pub fn bind_list<T: Into<Arg>>(&mut self, vs: impl IntoIterator<Item = T>) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for v in vs {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(v);
        }
        if first {
            // An empty IN list is invalid SQL; NULL matches nothing.
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    /// The rows of `SELECT cols FROM table <self> ORDER BY order LIMIT … OFFSET …`
    /// and how many match in all: `self` is the WHERE clause a list filters by.
    pub async fn page_with_total<T>(
        &self,
        db: &super::Db,
        cols: &str,
        table: &str,
        order: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<T>, i64), sqlx::Error>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let mut count = Sql::new(&format!("SELECT COUNT(*) FROM {table}"));
        count.push(&self.text);
        count.args = self.args.clone();
        // In the handle's scope (on PostgreSQL, row-level security too).
        let mut tx = db.read().await.map_err(|e| match e {
            super::StoreError::Db(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })?;
        let (total,): (i64,) = count.query_as().fetch_one(&mut *tx).await?;
        let mut sel = Sql::new(&format!("SELECT {cols} FROM {table}"));
        sel.push(&self.text);
        sel.args = self.args.clone();
        sel.push(" ORDER BY ")
            .push(order)
            .push(" LIMIT ")
            .bind(limit)
            .push(" OFFSET ")
            .bind(offset);
        let rows = sel.query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok((rows, total))
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for a in &self.args {
            q = match a {
                Arg::I(v) => q.bind(*v),
                Arg::F(v) => q.bind(*v),
                Arg::T(v) => q.bind(v.as_str()),
                Arg::NullI => q.bind(None::<i64>),
                Arg::NullT => q.bind(None::<String>),
                Arg::NullF => q.bind(NULL_DOUBLE),
            };
        }
        q
    }

    pub fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let mut q = sqlx::query_as::<Any, T>(sqlx::AssertSqlSafe(self.text.clone()));
        for a in &self.args {
            q = match a {
                Arg::I(v) => q.bind(*v),
                Arg::F(v) => q.bind(*v),
                Arg::T(v) => q.bind(v.as_str()),
                Arg::NullI => q.bind(None::<i64>),
                Arg::NullT => q.bind(None::<String>),
                Arg::NullF => q.bind(NULL_DOUBLE),
            };
        }
        q
    }
}

/// A `LIKE … ESCAPE '\'` pattern that finds `text` anywhere: the text's own
/// `%`, `_` and `\` are taken literally, so `q=%` finds a percent sign
/// rather than everything.
pub fn like_contains(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
