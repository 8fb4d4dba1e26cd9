//! SCIM filters and sort orders as SQL, so list requests are answered by the database,
//! paged, whatever the organization's size.
//!
//! A filter compiles to a [`Condition`]: `Exact` when the SQL selects exactly what the
//! filter's own evaluator (`scim::filter`) would, so the database can count and page;
//! `Superset` when part of it cannot be said in SQL with the same meaning (a number, a
//! case-insensitive comparison with a non-ASCII literal, `meta.created` compared with
//! sub-millisecond precision): the database then narrows and the evaluator decides, row
//! by row. A leaf whose value is missing is NULL in SQL; `not` counts NULL as false
//! before negating it (`COALESCE`), which keeps `not` exact.
//!
//! Columns stand in for attributes where they exist (`id`, `userName` through its
//! normalized key, `externalId`, `active`, `meta.created`, `meta.lastModified`, a
//! group's `displayName` key and `members`, a user's `groups`); everything else is read
//! from the stored record (`json_extract` on SQLite, `->`/`->>` on PostgreSQL), and
//! multi-valued attributes through `json_each` / `json_array_elements`.
//!
//! Templates are written with `?` placeholders; on PostgreSQL they are numbered.

use chrono::{DateTime, Utc};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, Order};

use crate::domain::text::{fold, normalize_key};
use crate::scim::error::ScimError;
use crate::scim::filter::{AttrRef, CompareOp, Filter, Literal};
use crate::scim::schema::{Attr, AttrType, Scope, find};

/// Which resource's table a filter is compiled against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Users,
    Groups,
}

/// A filter as a SQL condition; `None` inside means no condition (every row).
#[derive(Debug, Clone)]
pub enum Condition {
    /// Selects exactly the rows the filter matches.
    Exact(Option<Expr>),
    /// Selects at least those rows; the filter's evaluator must check each.
    Superset(Option<Expr>),
}

impl Condition {
    pub fn expr(&self) -> Option<&Expr> {
        match self {
            Condition::Exact(e) | Condition::Superset(e) => e.as_ref(),
        }
    }

    pub fn is_exact(&self) -> bool {
        matches!(self, Condition::Exact(_))
    }
}

pub fn compile(
    filter: &Filter,
    resource: Resource,
    backend: DbBackend,
) -> Result<Condition, ScimError> {
    Sql { backend, resource }.filter(filter, Base::Resource)
}

/// `ORDER BY` terms for `sortBy` (missing values last, ascending; first, descending, as
/// the in-memory order had it), then the id as the stable tie-break.
pub fn order(
    sort_by: Option<&AttrRef>,
    descending: bool,
    resource: Resource,
    backend: DbBackend,
) -> Result<Vec<(Expr, Order)>, ScimError> {
    let sql = Sql { backend, resource };
    let id = match resource {
        Resource::Users => Expr::cust("memberships.id"),
        Resource::Groups => Expr::cust("groups.id"),
    };
    let mut terms = Vec::new();
    if let Some(a) = sort_by {
        let (key, never_null) = sql.sort_key(a)?;
        let dir = if descending { Order::Desc } else { Order::Asc };
        if !never_null {
            terms.push((sql.cust("(? IS NULL)", vec![key.clone()]), dir.clone()));
        }
        terms.push((key, dir));
    }
    terms.push((id, Order::Asc));
    Ok(terms)
}

/// Where a reference's values are read: the resource row, or one element of a
/// multi-valued attribute inside `EXISTS (… json_each …)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Resource,
    Element,
}

struct Sql {
    backend: DbBackend,
    resource: Resource,
}

fn unsupported(what: &str) -> ScimError {
    ScimError::invalid_filter(format!("filtering on {what} is not supported"))
}

impl Sql {
    fn pg(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// A custom expression; `?` are the arguments in order (numbered on PostgreSQL).
    fn cust(&self, template: &str, args: Vec<Expr>) -> Expr {
        if !self.pg() {
            return Expr::cust_with_exprs(template.to_string(), args);
        }
        let mut out = String::with_capacity(template.len() + 8);
        let mut n = 0;
        for c in template.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        Expr::cust_with_exprs(out, args)
    }

    /// `EXISTS (SELECT 1 <rest>)`. On SQLite it is written as a scalar subquery: SQLite
    /// 3.51's EXISTS-to-join rewrite returns wrong rows once `OFFSET` pages the outer
    /// query (found by this module's tests), and the scalar form is not rewritten.
    fn exists(&self, rest: &str, args: Vec<Expr>) -> Expr {
        if self.pg() {
            self.cust(&format!("EXISTS (SELECT 1 {rest})"), args)
        } else {
            self.cust(&format!("((SELECT 1 {rest} LIMIT 1) IS NOT NULL)"), args)
        }
    }

    fn truth(&self, b: bool) -> Expr {
        Expr::cust(if b { "(1 = 1)" } else { "(1 = 0)" })
    }

    /// `not`: a missing value (NULL) counts as false before it is negated.
    fn not(&self, e: Option<Expr>) -> Expr {
        match e {
            Some(e) => self.cust("NOT (COALESCE((?), FALSE))", vec![e]),
            None => self.truth(false),
        }
    }

    fn filter(&self, f: &Filter, base: Base) -> Result<Condition, ScimError> {
        Ok(match f {
            Filter::And(l, r) => {
                let (l, r) = (self.filter(l, base)?, self.filter(r, base)?);
                let exact = l.is_exact() && r.is_exact();
                let e = match (l.expr().cloned(), r.expr().cloned()) {
                    (Some(a), Some(b)) => Some(self.cust("(?) AND (?)", vec![a, b])),
                    (a, b) => a.or(b),
                };
                if exact {
                    Condition::Exact(e)
                } else {
                    Condition::Superset(e)
                }
            }
            Filter::Or(l, r) => {
                let (l, r) = (self.filter(l, base)?, self.filter(r, base)?);
                let exact = l.is_exact() && r.is_exact();
                let e = match (l.expr().cloned(), r.expr().cloned()) {
                    (Some(a), Some(b)) => Some(self.cust("(?) OR (?)", vec![a, b])),
                    _ => None,
                };
                if exact {
                    Condition::Exact(e)
                } else {
                    Condition::Superset(e)
                }
            }
            Filter::Not(inner) => match self.filter(inner, base)? {
                Condition::Exact(e) => Condition::Exact(Some(self.not(e))),
                // The complement of a superset says nothing: every row is a candidate.
                Condition::Superset(_) => Condition::Superset(None),
            },
            Filter::Present(a) => self.present(a, base)?,
            Filter::Compare(a, CompareOp::Ne, lit) => {
                match self.compare(a, CompareOp::Eq, lit, base)? {
                    Condition::Exact(e) => Condition::Exact(Some(self.not(e))),
                    Condition::Superset(_) => Condition::Superset(None),
                }
            }
            Filter::Compare(a, op, lit) => self.compare(a, *op, lit, base)?,
            Filter::ValuePath(a, inner) => {
                if base == Base::Element {
                    return Err(ScimError::invalid_filter("value paths cannot be nested"));
                }
                if self.relation(a)?.is_some() {
                    return Err(unsupported(&format!("{}[…]", a.attr.name)));
                }
                let inner = self.filter(inner, Base::Element)?;
                let exact = inner.is_exact();
                let e = self.elements(a, inner.expr().cloned().unwrap_or(self.truth(true)));
                if exact {
                    Condition::Exact(Some(e))
                } else {
                    Condition::Superset(Some(e))
                }
            }
        })
    }

    /// `groups` of a user and `members` of a group live in the member table.
    fn relation(&self, a: &AttrRef) -> Result<Option<&'static str>, ScimError> {
        let name = a.attr.name;
        let rel = match (self.resource, a.scope) {
            (Resource::Users, Some(Scope::Core)) if name == "groups" => "groups",
            (Resource::Groups, Some(Scope::Core)) if name == "members" => "members",
            _ => return Ok(None),
        };
        match a.sub {
            None => Ok(Some(rel)),
            Some(s) if s.name == "value" => Ok(Some(rel)),
            Some(s) => Err(unsupported(&format!("{name}.{}", s.name))),
        }
    }

    /// `EXISTS` a member row (of this user's groups, or this group's members) matching
    /// `id_cond` on the other side's id.
    fn related(&self, rel: &str, id_cond: Option<Expr>) -> Expr {
        let cond = id_cond.unwrap_or(self.truth(true));
        match rel {
            "groups" => self.exists(
                "FROM group_members gm WHERE gm.organization_id = memberships.organization_id AND gm.member_id = memberships.scim_id AND (?)",
                vec![cond],
            ),
            _ => self.exists(
                "FROM group_members gm WHERE gm.group_id = groups.id AND (?)",
                vec![cond],
            ),
        }
    }

    fn present(&self, a: &AttrRef, base: Base) -> Result<Condition, ScimError> {
        if base == Base::Resource {
            if let Some(rel) = self.relation(a)? {
                return Ok(Condition::Exact(Some(self.related(rel, None))));
            }
            if let Some(col) = self.column(a)? {
                return Ok(match col {
                    Column::Text { sql, .. } | Column::Time(sql) => {
                        Condition::Exact(Some(self.cust(&format!("{sql} IS NOT NULL"), vec![])))
                    }
                    Column::Active => Condition::Exact(None),
                    Column::Unsupported => Condition::Superset(None),
                });
            }
        }
        let present = |x: Expr| self.cust("? IS NOT NULL", vec![x]);
        Ok(Condition::Exact(Some(self.values(a, base, present))))
    }

    fn compare(
        &self,
        a: &AttrRef,
        op: CompareOp,
        lit: &Literal,
        base: Base,
    ) -> Result<Condition, ScimError> {
        if base == Base::Resource {
            if let Some(rel) = self.relation(a)? {
                let column = if rel == "groups" {
                    "gm.group_id"
                } else {
                    "gm.member_id"
                };
                let cond = match lit {
                    Literal::Str(s) => self.text_cmp(Expr::cust(column), true, op, s),
                    _ => Some(self.truth(false)),
                };
                return Ok(match cond {
                    Some(c) => Condition::Exact(Some(self.related(rel, Some(c)))),
                    None => Condition::Superset(None),
                });
            }
            if let Some(col) = self.column(a)? {
                return Ok(self.column_cmp(col, op, lit));
            }
        }
        let leaf = leaf_attr(a);
        // The per-value condition; where SQL cannot say it exactly, every value passes
        // and the evaluator decides.
        let mut exact = true;
        let e = self.values(a, base, |x| match (leaf.ty, lit) {
            (_, Literal::Null) => self.truth(false),
            (AttrType::Boolean, Literal::Bool(b)) => {
                let v = if self.pg() {
                    Expr::val(if *b { "true" } else { "false" })
                } else {
                    Expr::val(i32::from(*b))
                };
                self.cust("? = ?", vec![x, v])
            }
            (AttrType::String | AttrType::Reference | AttrType::Binary, Literal::Str(s)) => {
                match self.text_cmp(x, leaf.case_exact, op, s) {
                    Some(c) => c,
                    None => {
                        exact = false;
                        self.truth(true)
                    }
                }
            }
            _ => {
                exact = false;
                self.truth(true)
            }
        });
        Ok(if exact {
            Condition::Exact(Some(e))
        } else {
            Condition::Superset(Some(e))
        })
    }

    /// A text comparison as the evaluator makes it; `None` when SQL cannot make it with
    /// the same meaning (a case-insensitive comparison with a non-ASCII literal).
    fn text_cmp(&self, x: Expr, case_exact: bool, op: CompareOp, lit: &str) -> Option<Expr> {
        let (x, lit) = if case_exact {
            (x, lit.to_string())
        } else {
            if !lit.is_ascii() {
                return None;
            }
            (self.cust("lower(?)", vec![x]), lit.to_ascii_lowercase())
        };
        Some(self.string_op(x, op, lit))
    }

    fn string_op(&self, x: Expr, op: CompareOp, lit: String) -> Expr {
        let v = || Expr::val(lit.clone());
        let collate = if self.pg() { " COLLATE \"C\"" } else { "" };
        match op {
            CompareOp::Eq | CompareOp::Ne => self.cust("? = ?", vec![x, v()]),
            CompareOp::Co if self.pg() => self.cust("strpos(?, ?) > 0", vec![x, v()]),
            CompareOp::Co => self.cust("instr(?, ?) > 0", vec![x, v()]),
            CompareOp::Sw if self.pg() => self.cust("left(?, length(?)) = ?", vec![x, v(), v()]),
            CompareOp::Sw => self.cust("substr(?, 1, length(?)) = ?", vec![x, v(), v()]),
            CompareOp::Ew if self.pg() => self.cust("right(?, length(?)) = ?", vec![x, v(), v()]),
            CompareOp::Ew => self.cust(
                "(length(?) >= length(?) AND substr(?, -length(?)) = ?)",
                vec![x.clone(), v(), x, v(), v()],
            ),
            CompareOp::Gt => self.cust(&format!("(?){collate} > ?"), vec![x, v()]),
            CompareOp::Ge => self.cust(&format!("(?){collate} >= ?"), vec![x, v()]),
            CompareOp::Lt => self.cust(&format!("(?){collate} < ?"), vec![x, v()]),
            CompareOp::Le => self.cust(&format!("(?){collate} <= ?"), vec![x, v()]),
        }
    }

    /// The condition that some value of `a` satisfies `each` (a scalar attribute has at
    /// most one value; a multi-valued one is searched element by element).
    fn values(&self, a: &AttrRef, base: Base, each: impl FnOnce(Expr) -> Expr) -> Expr {
        if a.attr.multi && base == Base::Resource {
            let sub = implicit_sub(a);
            let x = match sub {
                Some(s) => self.text_at(Base::Element, &[s]),
                None => self.element_itself(),
            };
            return self.elements(a, each(x));
        }
        let mut keys: Vec<&str> = Vec::new();
        if let Some(Scope::Extension(urn)) = a.scope {
            keys.push(urn);
        }
        keys.push(a.attr.name);
        if let Some(s) = implicit_sub(a) {
            keys.push(s);
        }
        each(self.text_at(base, &keys))
    }

    /// `EXISTS` an element of the multi-valued attribute `a` satisfying `cond` (written
    /// against the element).
    fn elements(&self, a: &AttrRef, cond: Expr) -> Expr {
        let record = self.record_column();
        let mut keys: Vec<&str> = Vec::new();
        if let Some(Scope::Extension(urn)) = a.scope {
            keys.push(urn);
        }
        keys.push(a.attr.name);
        if self.pg() {
            let (json, args) = self.pg_json(record, &keys);
            let mut all = args.clone();
            all.extend(args);
            all.push(cond);
            self.exists(
                &format!(
                    "FROM json_array_elements(CASE WHEN json_typeof({json}) = 'array' THEN {json} ELSE '[]'::json END) AS e(v) WHERE (?)"
                ),
                all,
            )
        } else {
            self.exists(
                &format!("FROM json_each({record}, ?) AS e WHERE (?)"),
                vec![Expr::val(sqlite_path(&keys)), cond],
            )
        }
    }

    fn record_column(&self) -> &'static str {
        match self.resource {
            Resource::Users => "memberships.scim",
            Resource::Groups => "groups.scim",
        }
    }

    /// `base -> ? -> ?` on PostgreSQL, with the keys as arguments.
    fn pg_json(&self, base: &str, keys: &[&str]) -> (String, Vec<Expr>) {
        let mut s = format!("({base}");
        let mut args = Vec::new();
        for k in keys {
            s.push_str(" -> ?");
            args.push(Expr::val(k.to_string()));
        }
        s.push(')');
        (s, args)
    }

    /// The text at `keys` below the base (the record, or the current element).
    fn text_at(&self, base: Base, keys: &[&str]) -> Expr {
        let root = match (base, self.pg()) {
            (Base::Resource, _) => self.record_column(),
            (Base::Element, true) => "e.v",
            (Base::Element, false) => "e.value",
        };
        if self.pg() {
            let mut s = format!("({root}");
            let mut args = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                s.push_str(if i + 1 == keys.len() {
                    " ->> ?"
                } else {
                    " -> ?"
                });
                args.push(Expr::val(k.to_string()));
            }
            s.push(')');
            self.cust(&s, args)
        } else {
            self.cust(
                &format!("json_extract({root}, ?)"),
                vec![Expr::val(sqlite_path(keys))],
            )
        }
    }

    /// An element of a multi-valued attribute of simple values, as text.
    fn element_itself(&self) -> Expr {
        if self.pg() {
            Expr::cust("(e.v #>> '{}')")
        } else {
            Expr::cust("e.value")
        }
    }

    /// The column an attribute maps to, if any.
    fn column(&self, a: &AttrRef) -> Result<Option<Column>, ScimError> {
        if !matches!(a.scope, None | Some(Scope::Core)) {
            return Ok(None);
        }
        let table = match self.resource {
            Resource::Users => "memberships",
            Resource::Groups => "groups",
        };
        let sub = a.sub.map(|s| s.name);
        Ok(Some(match (self.resource, a.attr.name, sub) {
            (Resource::Users, "id", _) => Column::Text {
                sql: format!("{table}.scim_id"),
                key: Key::Exact,
            },
            (Resource::Groups, "id", _) => Column::Text {
                sql: format!("{table}.id"),
                key: Key::Exact,
            },
            (_, "externalId", _) => Column::Text {
                sql: format!("{table}.external_id"),
                key: Key::Exact,
            },
            (Resource::Users, "userName", _) => Column::Text {
                sql: format!("{table}.user_name_key"),
                key: Key::Normalized,
            },
            (Resource::Groups, "displayName", _) => Column::Text {
                sql: format!("{table}.display_name_key"),
                key: Key::Normalized,
            },
            (Resource::Users, "active", _) => Column::Active,
            (Resource::Users, "displayName", _) => Column::Text {
                sql: format!("{table}.display_name_key"),
                key: Key::Folded,
            },
            (Resource::Users, "name", Some("givenName")) => Column::Text {
                sql: format!("{table}.given_name_key"),
                key: Key::Folded,
            },
            (Resource::Users, "name", Some("familyName")) => Column::Text {
                sql: format!("{table}.family_name_key"),
                key: Key::Folded,
            },
            (_, "meta", Some("created")) => Column::Time(format!("{table}.created_at")),
            (_, "meta", Some("lastModified")) => Column::Time(format!("{table}.updated_at")),
            (_, "meta", _) => Column::Unsupported,
            _ => return Ok(None),
        }))
    }

    fn column_cmp(&self, col: Column, op: CompareOp, lit: &Literal) -> Condition {
        match (col, lit) {
            (_, Literal::Null) => Condition::Exact(Some(self.truth(false))),
            (Column::Unsupported, _) => Condition::Superset(None),
            (Column::Active, Literal::Bool(b)) => {
                let cond = if *b {
                    "memberships.status = 'ACTIVE'"
                } else {
                    "memberships.status <> 'ACTIVE'"
                };
                Condition::Exact(Some(Expr::cust(cond)))
            }
            (Column::Active, _) => Condition::Exact(Some(self.truth(false))),
            (Column::Text { sql, key }, Literal::Str(s)) => {
                let lit = match (key, op) {
                    (Key::Exact, _) => s.clone(),
                    // The stored key is trimmed, NFC and lower case.
                    (Key::Normalized, CompareOp::Eq | CompareOp::Ne) => normalize_key(s),
                    (Key::Normalized | Key::Folded, _) => fold(s),
                };
                Condition::Exact(Some(self.string_op(Expr::cust(sql), op, lit)))
            }
            (Column::Time(sql), Literal::Str(s)) => self.time_cmp(&sql, op, s),
            (Column::Text { .. } | Column::Time(_), _) => Condition::Exact(Some(self.truth(false))),
        }
    }

    /// `meta.created` / `meta.lastModified` are rendered with millisecond precision; a
    /// millisecond literal compares with what the client sees through a range. Anything
    /// finer (or a substring operator) is left to the evaluator.
    fn time_cmp(&self, column: &str, op: CompareOp, lit: &str) -> Condition {
        let Ok(at) = DateTime::parse_from_rfc3339(lit).map(|d| d.with_timezone(&Utc)) else {
            return Condition::Exact(Some(self.truth(false)));
        };
        if at.timestamp_subsec_nanos() % 1_000_000 != 0
            || matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        {
            return Condition::Superset(None);
        }
        let next = at + chrono::Duration::milliseconds(1);
        let c =
            |t: &str, v: DateTime<Utc>| self.cust(&format!("{column} {t} ?"), vec![Expr::val(v)]);
        let e = match op {
            CompareOp::Eq | CompareOp::Ne => {
                self.cust("(?) AND (?)", vec![c(">=", at), c("<", next)])
            }
            CompareOp::Gt => c(">=", next),
            CompareOp::Ge => c(">=", at),
            CompareOp::Lt => c("<", at),
            CompareOp::Le => c("<", next),
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return Condition::Superset(None),
        };
        Condition::Exact(Some(e))
    }

    /// The sort expression, and whether it is never NULL (so an index can order by it).
    fn sort_key(&self, a: &AttrRef) -> Result<(Expr, bool), ScimError> {
        let collate = if self.pg() { " COLLATE \"C\"" } else { "" };
        if let Some(col) = self.column(a)? {
            return Ok(match col {
                // Already lower case: ordered as stored, by the index.
                Column::Text {
                    sql,
                    key: Key::Normalized,
                } => (Expr::cust(format!("{sql}{collate}")), true),
                Column::Text {
                    sql,
                    key: Key::Folded,
                } => (Expr::cust(format!("{sql}{collate}")), false),
                Column::Text { sql, .. } => (Expr::cust(format!("lower({sql}){collate}")), false),
                Column::Time(sql) => (Expr::cust(sql), true),
                Column::Active => (Expr::cust("(memberships.status = 'ACTIVE')"), true),
                Column::Unsupported => (self.truth(true), true),
            });
        }
        if self.relation(a)?.is_some() {
            return Err(ScimError::invalid_value(format!(
                "cannot sort by '{}'",
                a.attr.name
            )));
        }
        let mut keys: Vec<String> = Vec::new();
        if let Some(Scope::Extension(urn)) = a.scope {
            keys.push(urn.to_string());
        }
        keys.push(a.attr.name.to_string());
        // A multi-valued attribute sorts by its first value.
        let index = a.attr.multi.then_some(0usize);
        let sub = implicit_sub(a).map(str::to_string);
        let text = if self.pg() {
            let mut s = format!("({}", self.record_column());
            let mut args = Vec::new();
            let mut parts: Vec<Option<String>> = keys.into_iter().map(Some).collect();
            if index.is_some() {
                parts.push(None);
            }
            if let Some(sub) = sub {
                parts.push(Some(sub));
            }
            for (i, p) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                match p {
                    Some(k) => {
                        s.push_str(if last { " ->> ?" } else { " -> ?" });
                        args.push(Expr::val(k.clone()));
                    }
                    None => s.push_str(if last { " ->> 0" } else { " -> 0" }),
                }
            }
            s.push(')');
            self.cust(&format!("lower({s}) COLLATE \"C\""), args)
        } else {
            let mut path = sqlite_path(&keys.iter().map(String::as_str).collect::<Vec<_>>());
            if index.is_some() {
                path.push_str("[0]");
            }
            if let Some(sub) = sub {
                path.push_str(&format!(".\"{sub}\""));
            }
            self.cust(
                &format!("lower(json_extract({}, ?))", self.record_column()),
                vec![Expr::val(path)],
            )
        };
        Ok((text, false))
    }
}

/// How a column holds an attribute.
enum Column {
    Text {
        sql: String,
        key: Key,
    },
    Time(String),
    /// `memberships.status`.
    Active,
    /// A `meta` attribute with no column (`resourceType`, `location`, `version`).
    Unsupported,
}

#[derive(Clone, Copy)]
enum Key {
    /// Compared as stored.
    Exact,
    /// The column holds the normalized key (trimmed, NFC, lower case).
    Normalized,
    /// The column holds the folded value (NFC, lower case), NULL when absent.
    Folded,
}

/// The sub-attribute a reference reads: the named one, or `value` of a complex attribute.
fn implicit_sub(a: &AttrRef) -> Option<&'static str> {
    if let Some(s) = a.sub {
        return Some(s.name);
    }
    (a.attr.ty == AttrType::Complex && find(a.attr.sub, "value").is_some()).then_some("value")
}

/// The attribute whose type and case sensitivity a comparison uses.
fn leaf_attr(a: &AttrRef) -> &'static Attr {
    if let Some(s) = a.sub {
        return s;
    }
    if a.attr.ty == AttrType::Complex
        && let Some(v) = find(a.attr.sub, "value")
    {
        return v;
    }
    a.attr
}

/// `$."k1"."k2"` (keys quoted: extension URNs hold `:` and `.`).
fn sqlite_path(keys: &[&str]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(&k.replace('"', "\\\""));
        p.push('"');
    }
    p
}
/// A page of `base`'s rows under a compiled `condition`, in `order`.
pub async fn page_of<E: sea_orm::EntityTrait>(
    db: &impl sea_orm::ConnectionTrait,
    base: sea_orm::Select<E>,
    condition: Option<&Expr>,
    order: &[(Expr, Order)],
    offset: u64,
    limit: u64,
) -> Result<Vec<E::Model>, sea_orm::DbErr> {
    use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
    let mut q = base;
    if let Some(c) = condition {
        q = q.filter(c.clone());
    }
    for (e, o) in order {
        q = q.order_by(e.clone(), o.clone());
    }
    q.offset(offset).limit(limit).all(db).await
}

/// How many of `base`'s rows match a compiled `condition`.
pub async fn count_of<E: sea_orm::EntityTrait>(
    db: &impl sea_orm::ConnectionTrait,
    base: sea_orm::Select<E>,
    condition: Option<&Expr>,
) -> Result<u64, sea_orm::DbErr>
where
    E::Model: Sync,
{
    use sea_orm::{PaginatorTrait, QueryFilter};
    let mut q = base;
    if let Some(c) = condition {
        q = q.filter(c.clone());
    }
    q.count(db).await
}
