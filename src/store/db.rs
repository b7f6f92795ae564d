//! The two SQL engines behind one small interface: SQLite (one file, the default) and
//! PostgreSQL (one server for many hosts). The store's queries are written once, in SQL both
//! engines read, with `?N` parameters; [`Db::pick`] gives a query per engine where they
//! differ. For PostgreSQL the text is translated once per statement (`?N` becomes `$N`, and
//! the `rowid` of `send_log` is its `seq` column) and the prepared statement kept for the
//! life of the connection. Parameter and column types follow the engine: a value is encoded
//! as the type PostgreSQL inferred for the parameter, and a column is read from whatever
//! integer, float, numeric, text or bytes type the engine returned.

use anyhow::{Context, Result, anyhow, bail};
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// An open connection to one of the engines.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

/// A PostgreSQL connection with its prepared statements.
pub(crate) struct PgConn {
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// The store's URL without its password, for errors.
    place: String,
}

impl PgConn {
    pub(crate) fn new(client: postgres::Client, place: String) -> PgConn {
        PgConn {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            place,
        }
    }

    /// A failed statement, naming the store; a lost connection says so.
    fn error(&self, error: postgres::Error) -> anyhow::Error {
        let closed = self.client.borrow().is_closed();
        let error = pg_error(error);
        if closed {
            error.context(format!("lost the connection to store {}", self.place))
        } else {
            error.context(format!("store {}", self.place))
        }
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let text = to_postgres(sql);
        let result = self.client.borrow_mut().prepare(&text);
        let statement = result
            .map_err(|e| self.error(e))
            .with_context(|| format!("cannot prepare: {}", one_line(&text)))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// A parameter value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
    Bool(bool),
}

/// Turns a Rust value into a parameter (see [`params!`]).
pub(crate) trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for [u8; 32] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}
macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_value!(i64, i32, u32, u16, u8, usize, u64);
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(value) => value.to_value(),
            None => Value::Null,
        }
    }
}

/// The parameters of a query: `params![a, b, c]`.
macro_rules! params {
    () => { &[] as &[$crate::store::db::Value] };
    ($($x:expr),+ $(,)?) => {
        &[$($crate::store::db::ToValue::to_value(&$x)),+] as &[$crate::store::db::Value]
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(f) => ValueRef::Real(f),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Bool(b) => ValueRef::Integer(b as i64),
        }))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let int = |i: i64, out: &mut postgres::types::private::BytesMut| match *ty {
            Type::INT8 => i.to_sql(ty, out),
            Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
            Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
            Type::FLOAT8 => (i as f64).to_sql(ty, out),
            Type::BOOL => (i != 0).to_sql(ty, out),
            _ => i.to_string().as_str().to_sql(ty, out),
        };
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => int(i, out),
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ => int(b as i64, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One row of a result.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as a `T`.
    pub(crate) fn get<T: FromColumn>(&self, index: usize) -> Result<T> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index),
            Row::Postgres(row) => {
                let value: Option<Any> = row
                    .try_get(index)
                    .map_err(pg_error)
                    .with_context(|| format!("cannot read column {index}"))?;
                T::from_any(value)
                    .with_context(|| format!("column {index} ({})", row.columns()[index].name()))
            }
        }
    }
}

/// A column value as PostgreSQL sent it, whatever its type.
#[derive(Debug)]
pub(crate) enum Any {
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
}

impl<'a> FromSql<'a> for Any {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Any, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Any::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Any::Int(i32::from_sql(ty, raw)? as i64),
            Type::INT2 => Any::Int(i16::from_sql(ty, raw)? as i64),
            Type::OID => Any::Int(u32::from_sql(ty, raw)? as i64),
            Type::FLOAT8 => Any::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Any::Real(f32::from_sql(ty, raw)? as f64),
            Type::BOOL => Any::Bool(bool::from_sql(ty, raw)?),
            Type::BYTEA => Any::Blob(raw.to_vec()),
            Type::NUMERIC => numeric(raw)?,
            _ => Any::Text(String::from_utf8(raw.to_vec())?),
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A NUMERIC in PostgreSQL's binary form (base-10000 digits), as an integer when it is one
/// (the sums of integer columns), else as a float.
fn numeric(raw: &[u8]) -> Result<Any, Box<dyn std::error::Error + Sync + Send>> {
    let field = |i: usize| -> Result<i16, Box<dyn std::error::Error + Sync + Send>> {
        let bytes = raw.get(i * 2..i * 2 + 2).ok_or("short NUMERIC")?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    };
    let (ndigits, weight, sign, scale) = (field(0)?, field(1)?, field(2)? as u16, field(3)?);
    if sign == 0xC000 {
        return Err("NUMERIC is NaN".into());
    }
    let mut value = 0f64;
    for i in 0..ndigits.max(0) as usize {
        let digit = field(4 + i)? as f64;
        value += digit * 10000f64.powi(weight as i32 - i as i32);
    }
    if sign == 0x4000 {
        value = -value;
    }
    Ok(if scale == 0 && value.abs() < 9.0e15 {
        Any::Int(value as i64)
    } else {
        Any::Real(value)
    })
}

/// A Rust type a column can be read as.
pub(crate) trait FromColumn: Sized {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self>;
    fn from_any(value: Option<Any>) -> Result<Self>;
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
        match row.get_ref(index)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            _ => T::from_sqlite(row, index).map(Some),
        }
    }
    fn from_any(value: Option<Any>) -> Result<Self> {
        match value {
            None => Ok(None),
            some => T::from_any(some).map(Some),
        }
    }
}

fn null() -> anyhow::Error {
    anyhow!("unexpected NULL")
}

impl FromColumn for i64 {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
        Ok(row.get(index)?)
    }
    fn from_any(value: Option<Any>) -> Result<Self> {
        match value.ok_or_else(null)? {
            Any::Int(i) => Ok(i),
            Any::Bool(b) => Ok(b as i64),
            Any::Real(f) if f.fract() == 0.0 => Ok(f as i64),
            other => bail!("expected an integer, found {other:?}"),
        }
    }
}

macro_rules! narrow_int {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
            fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
                Ok(row.get(index)?)
            }
            fn from_any(value: Option<Any>) -> Result<Self> {
                Ok(<$t>::try_from(i64::from_any(value)?)?)
            }
        }
    )*};
}
narrow_int!(u32, u16, u64);

impl FromColumn for bool {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
        Ok(row.get(index)?)
    }
    fn from_any(value: Option<Any>) -> Result<Self> {
        match value.ok_or_else(null)? {
            Any::Bool(b) => Ok(b),
            Any::Int(i) => Ok(i != 0),
            other => bail!("expected a boolean, found {other:?}"),
        }
    }
}

impl FromColumn for f64 {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
        Ok(row.get(index)?)
    }
    fn from_any(value: Option<Any>) -> Result<Self> {
        match value.ok_or_else(null)? {
            Any::Real(f) => Ok(f),
            Any::Int(i) => Ok(i as f64),
            other => bail!("expected a number, found {other:?}"),
        }
    }
}

impl FromColumn for String {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
        Ok(row.get(index)?)
    }
    fn from_any(value: Option<Any>) -> Result<Self> {
        match value.ok_or_else(null)? {
            Any::Text(t) => Ok(t),
            other => bail!("expected text, found {other:?}"),
        }
    }
}

impl FromColumn for Vec<u8> {
    fn from_sqlite(row: &rusqlite::Row, index: usize) -> Result<Self> {
        Ok(row.get(index)?)
    }
    fn from_any(value: Option<Any>) -> Result<Self> {
        match value.ok_or_else(null)? {
            Any::Blob(b) => Ok(b),
            Any::Text(t) => Ok(t.into_bytes()),
            other => bail!("expected bytes, found {other:?}"),
        }
    }
}

impl Db {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The query for this engine.
    pub(crate) fn pick<'q>(&self, sqlite: &'q str, postgres: &'q str) -> &'q str {
        match self {
            Db::Sqlite(_) => sqlite,
            Db::Postgres(_) => postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas).
    pub(crate) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Db::Sqlite(conn) => Some(conn),
            Db::Postgres(_) => None,
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Db::Sqlite(conn) => Ok(sqlite_statement(conn, sql)?
                .execute(rusqlite::params_from_iter(params))?
                as u64),
            Db::Postgres(pg) => {
                let statement = pg.statement(sql)?;
                let params = pg_params(params);
                let result = pg.client.borrow_mut().execute(&statement, &params);
                result.map_err(|e| pg.error(e))
            }
        }
    }

    /// Runs an INSERT into a table whose key is `id`; returns the new row's id, or None
    /// when its ON CONFLICT clause inserted nothing. SQLite reads the id from the
    /// connection (`RETURNING` would build a temporary table for each row); PostgreSQL
    /// appends `RETURNING id`.
    pub(crate) fn insert_for_id(&self, sql: &str, params: &[Value]) -> Result<Option<i64>> {
        match self {
            Db::Sqlite(conn) => {
                let inserted = self.execute(sql, params)?;
                Ok((inserted == 1).then(|| conn.last_insert_rowid()))
            }
            Db::Postgres(_) => self.query_opt(&format!("{sql} RETURNING id"), params, |r| r.get(0)),
        }
    }

    /// Runs statements without parameters, one after the other (schema changes).
    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres(pg) => {
                let result = pg.client.borrow_mut().batch_execute(sql);
                result.map_err(|e| pg.error(e))
            }
        }
    }

    /// Calls `each` for the rows of a query in order, until it returns false.
    pub(crate) fn walk(
        &self,
        sql: &str,
        params: &[Value],
        mut each: impl FnMut(&Row) -> Result<bool>,
    ) -> Result<()> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement = sqlite_statement(conn, sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params))?;
                while let Some(row) = rows.next()? {
                    if !each(&Row::Sqlite(row))? {
                        break;
                    }
                }
            }
            Db::Postgres(pg) => {
                let statement = pg.statement(sql)?;
                let params = pg_params(params);
                let result = pg.client.borrow_mut().query(&statement, &params);
                for row in &result.map_err(|e| pg.error(e))? {
                    if !each(&Row::Postgres(row))? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every row of a query, each turned into a `T` by `each`.
    pub(crate) fn query<T>(
        &self,
        sql: &str,
        params: &[Value],
        each: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query_sized(sql, params, 0, each)
    }

    /// [`Db::query`] with room made for `rows` rows first (a count the caller has), so that
    /// a large result is not copied into larger and larger vectors as it grows.
    pub(crate) fn query_sized<T>(
        &self,
        sql: &str,
        params: &[Value],
        rows: usize,
        mut each: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(rows);
        self.walk(sql, params, |row| {
            out.push(each(row)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row of a query, if there is one.
    pub(crate) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        each: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut each = Some(each);
        let mut first = None;
        self.walk(sql, params, |row| {
            if let Some(each) = each.take() {
                first = Some(each(row)?);
            }
            Ok(false)
        })?;
        Ok(first)
    }

    /// The first row of a query, which must have one.
    pub(crate) fn query_one<T>(
        &self,
        sql: &str,
        params: &[Value],
        each: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, each)?
            .ok_or_else(|| anyhow!("no row from: {}", one_line(sql)))
    }

    /// The first column of the first row, which must exist.
    pub(crate) fn value<T: FromColumn>(&self, sql: &str, params: &[Value]) -> Result<T> {
        self.query_one(sql, params, |r| r.get(0))
    }

    /// Whether a query returns any row.
    pub(crate) fn exists(&self, sql: &str, params: &[Value]) -> Result<bool> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }
}

/// A cached prepared statement, naming the query when it does not prepare.
fn sqlite_statement<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
) -> Result<rusqlite::CachedStatement<'c>> {
    conn.prepare_cached(sql)
        .with_context(|| format!("cannot prepare: {}", one_line(sql)))
}

fn pg_params<'v>(params: &'v [Value<'v>]) -> Vec<&'v (dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// An error the PostgreSQL server reported, with its SQLSTATE code (so that a full disk,
/// `53100`, can be told from other failures).
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL: {message}")]
pub(crate) struct PgServerError {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// A PostgreSQL error with the server's own message (the crate's Display says only
/// "db error").
pub(crate) fn pg_error(error: postgres::Error) -> anyhow::Error {
    match error.as_db_error() {
        Some(db) => PgServerError {
            code: db.code().code().to_string(),
            message: db.message().to_string(),
        }
        .into(),
        None => anyhow!("PostgreSQL: {error}"),
    }
}

/// Whether an error comes from a store (or a disk) with no room left: SQLite's
/// `SQLITE_FULL`, PostgreSQL's `disk_full` (53100), or a full disk or quota in file IO.
pub fn is_disk_full(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(rusqlite::Error::SqliteFailure(failure, _)) =
            cause.downcast_ref::<rusqlite::Error>()
        {
            return failure.code == rusqlite::ErrorCode::DiskFull;
        }
        if let Some(server) = cause.downcast_ref::<PgServerError>() {
            return server.code == "53100";
        }
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    })
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The store's SQL in PostgreSQL's spelling: `?N` parameters become `$N`, and `rowid`
/// (which only `send_log` is read by) becomes its `seq` column.
pub(crate) fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            quoted = !quoted;
        }
        if !quoted && c == b'?' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push('$');
            i += 1;
            continue;
        }
        if !quoted
            && sql[i..].starts_with("rowid")
            && (i == 0 || !is_word(bytes[i - 1]))
            && !bytes.get(i + 5).copied().is_some_and(is_word)
        {
            out.push_str("seq");
            i += 5;
            continue;
        }
        let len = utf8_len(c);
        out.push_str(&sql[i..i + len]);
        i += len;
    }
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A column a later migration's code relies on, that a store made by a short-lived
/// development build can lack although its schema version says it has it: the migration of
/// that number was another one in that build (migrations are tracked by number only).
struct Repair {
    table: &'static str,
    column: &'static str,
    /// The statements that add it as its migration does, per engine.
    sqlite: &'static str,
    postgres: &'static str,
}

/// The columns checked after the migrations, each added when missing.
///
/// - 0016: builds from 150a4c8 to ff25135 made `send_log_positions` without `tail_sha256`,
///   `tail_bytes` and `file_id` (0016 gained them in place). A row without them reads its log
///   from the start once (its entries are known, so nothing is added twice).
/// - 0021: builds from 87f42c3 to 5217a24 had `0021_local_part_case` (now 0022, which finds
///   nothing left to do), so their stores at version 21 never had `0021_fact_send`.
const REPAIRS: [Repair; 4] = [
    Repair {
        table: "send_log_positions",
        column: "tail_sha256",
        sqlite: "ALTER TABLE send_log_positions ADD COLUMN tail_sha256 TEXT NOT NULL DEFAULT '';",
        postgres: "ALTER TABLE send_log_positions ADD COLUMN tail_sha256 TEXT COLLATE \"C\" NOT NULL DEFAULT '';
                   ALTER TABLE send_log_positions ALTER COLUMN tail_sha256 DROP DEFAULT;",
    },
    Repair {
        table: "send_log_positions",
        column: "tail_bytes",
        sqlite: "ALTER TABLE send_log_positions ADD COLUMN tail_bytes INTEGER NOT NULL DEFAULT 0;",
        postgres: "ALTER TABLE send_log_positions ADD COLUMN tail_bytes BIGINT NOT NULL DEFAULT 0;
                   ALTER TABLE send_log_positions ALTER COLUMN tail_bytes DROP DEFAULT;",
    },
    Repair {
        table: "send_log_positions",
        column: "file_id",
        sqlite: "ALTER TABLE send_log_positions ADD COLUMN file_id TEXT NOT NULL DEFAULT '';",
        postgres: "ALTER TABLE send_log_positions ADD COLUMN file_id TEXT COLLATE \"C\" NOT NULL DEFAULT '';
                   ALTER TABLE send_log_positions ALTER COLUMN file_id DROP DEFAULT;",
    },
    Repair {
        table: "complaint_facts",
        column: "send_rowid",
        sqlite: "ALTER TABLE complaint_facts ADD COLUMN send_rowid INTEGER;
                 CREATE INDEX IF NOT EXISTS complaint_facts_by_send ON complaint_facts (send_rowid)
                     WHERE send_rowid IS NOT NULL;
                 UPDATE complaint_facts SET placed = -1
                 WHERE placed = 1 AND (campaign IS NULL OR list IS NULL);",
        postgres: "ALTER TABLE complaint_facts ADD COLUMN send_rowid BIGINT;
                   CREATE INDEX IF NOT EXISTS complaint_facts_by_send ON complaint_facts (send_rowid)
                       WHERE send_rowid IS NOT NULL;
                   UPDATE complaint_facts SET placed = -1
                   WHERE placed = 1 AND (campaign IS NULL OR list IS NULL);",
    },
];

impl super::Store {
    /// After the migrations: adds the columns of `REPAIRS` a store lacks, each as its
    /// migration gives it, in one transaction (said on standard error: a store that needs it
    /// was made by a development build). One catalog query when nothing is missing.
    pub(super) fn repair_skipped_columns(&self) -> Result<()> {
        // The columns there are of the repairs' tables, in one query: this runs at every
        // open (every `ingest --mta` delivery), and a catalog query costs milliseconds on
        // PostgreSQL.
        let present: Vec<String> = self.db.query(
            self.db.pick(
                "SELECT 'send_log_positions.' || name FROM pragma_table_info('send_log_positions')
                 UNION ALL
                 SELECT 'complaint_facts.' || name FROM pragma_table_info('complaint_facts')",
                "SELECT table_name::text || '.' || column_name::text
                 FROM information_schema.columns
                 WHERE table_schema = current_schema()
                   AND table_name::text IN ('send_log_positions', 'complaint_facts')",
            ),
            &[],
            |r| r.get(0),
        )?;
        debug_assert!(
            REPAIRS
                .iter()
                .all(|r| ["send_log_positions", "complaint_facts"].contains(&r.table))
        );
        let missing: Vec<&Repair> = REPAIRS
            .iter()
            .filter(|repair| !present.contains(&format!("{}.{}", repair.table, repair.column)))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let sql: String = missing
            .iter()
            .map(|repair| self.db.pick(repair.sqlite, repair.postgres))
            .collect::<Vec<_>>()
            .join("\n");
        let names: Vec<String> = missing
            .iter()
            .map(|repair| format!("{}.{}", repair.table, repair.column))
            .collect();
        self.db
            .batch(&format!("BEGIN;\n{sql}\nCOMMIT;"))
            .inspect_err(|_| {
                let _ = self.db.batch("ROLLBACK");
            })
            .with_context(|| {
                format!(
                    "the store lacks {} (made by a development build of fbl) and fbl cannot add it",
                    names.join(", ")
                )
            })?;
        eprintln!(
            "fbl: the store lacked {} (made by a development build of fbl that numbered a \
             migration otherwise): added",
            names.join(", ")
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_rowid_are_translated_outside_quotes() {
        assert_eq!(
            to_postgres(
                "SELECT s.rowid, rowid_x FROM t WHERE a = ?1 AND b = '?2 rowid' AND c = ?12"
            ),
            "SELECT s.seq, rowid_x FROM t WHERE a = $1 AND b = '?2 rowid' AND c = $12"
        );
        assert_eq!(to_postgres("SELECT 'é' || ?1"), "SELECT 'é' || $1");
    }

    #[test]
    fn a_full_disk_is_recognised_on_either_engine() {
        let postgres = |code: &str| {
            anyhow::Error::from(PgServerError {
                code: code.to_string(),
                message: "could not extend file".to_string(),
            })
            .context("store postgres://db/fbl")
        };
        assert!(is_disk_full(&postgres("53100")));
        assert!(!is_disk_full(&postgres("23505")));
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert!(is_disk_full(&anyhow::Error::from(sqlite).context("commit")));
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(is_disk_full(&anyhow::Error::from(io)));
        assert!(!is_disk_full(&anyhow!("something else")));
    }

    #[test]
    fn numerics_decode_to_integers_and_floats() {
        // 12345678 = 1234 * 10000 + 5678: two digits, weight 1.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E];
        assert!(matches!(numeric(&raw).unwrap(), Any::Int(12345678)));
        // -0.5 = 5000 * 10000^-1, scale 1.
        let raw = [0, 1, 0xFF, 0xFF, 0x40, 0, 0, 1, 0x13, 0x88];
        assert!(matches!(numeric(&raw).unwrap(), Any::Real(f) if f == -0.5));
        // Zero has no digits.
        let raw = [0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(numeric(&raw).unwrap(), Any::Int(0)));
    }
}
