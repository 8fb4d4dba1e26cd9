//! The SCIM filter language (RFC 7644 §3.4.2.2): a tokenizer, a recursive-descent parser
//! that resolves every attribute against the resource schema while it parses, and an
//! evaluator over canonical resource JSON.
//!
//! Limits are enforced during parsing, before any work proportional to the input is done
//! twice: at most [`MAX_FILTER_LEN`] bytes and [`MAX_DEPTH`] levels of nesting.

use std::cmp::Ordering;

use serde_json::Value;

use super::error::ScimError;
use super::schema::{Attr, AttrType, ResourceSchema, Scope, find};

pub const MAX_FILTER_LEN: usize = 4096;
pub const MAX_DEPTH: usize = 16;

/// An attribute reference, resolved against the schema.
#[derive(Debug, Clone)]
pub struct AttrRef {
    /// `None` for an attribute inside a value-path filter, relative to one element.
    pub scope: Option<Scope>,
    pub attr: &'static Attr,
    pub sub: Option<&'static Attr>,
}

impl AttrRef {
    /// The attribute whose type and case sensitivity a comparison uses: the named
    /// sub-attribute, or `value` of a multi-valued complex attribute.
    fn leaf(&self) -> &'static Attr {
        if let Some(sub) = self.sub {
            return sub;
        }
        if self.attr.ty == AttrType::Complex
            && let Some(v) = find(self.attr.sub, "value")
        {
            return v;
        }
        self.attr
    }

    /// Every value the reference denotes in `doc` (several for multi-valued attributes).
    pub fn values<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        let base = match self.scope {
            Some(Scope::Extension(urn)) => match doc.get(urn) {
                Some(b) => b,
                None => return Vec::new(),
            },
            _ => doc,
        };
        let Some(v) = base.get(self.attr.name) else {
            return Vec::new();
        };
        let items: Vec<&Value> = match v {
            Value::Array(a) if self.attr.multi => a.iter().collect(),
            other => vec![other],
        };
        // A complex attribute with a `value` (emails, manager) compares by it; one without
        // (name) is its own value, present when it holds anything (RFC 7644 §3.4.2.2).
        let implicit_value = find(self.attr.sub, "value").is_some();
        items
            .into_iter()
            .filter_map(|item| match (self.sub, implicit_value) {
                (Some(sub), _) => item.get(sub.name),
                (None, true) => item.get("value"),
                (None, false) => Some(item),
            })
            .filter(|v| !v.is_null())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
pub enum Filter {
    Present(AttrRef),
    Compare(AttrRef, CompareOp, Literal),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: true when one element of the attribute matches.
    ValuePath(AttrRef, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Num(f64),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b'[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            b']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err(ScimError::invalid_filter("unterminated string")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let s: String = serde_json::from_str(&input[start..i])
                    .map_err(|_| ScimError::invalid_filter("invalid string literal"))?;
                tokens.push(Token::Str(s));
            }
            b'-' | b'0'..=b'9' => {
                // The first byte is one the loop accepts too.
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit()
                        || matches!(bytes[i], b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                let n: f64 = input[start..i]
                    .parse()
                    .map_err(|_| ScimError::invalid_filter("invalid number"))?;
                tokens.push(Token::Num(n));
            }
            c if c.is_ascii_alphabetic() || matches!(c, b'.' | b'$' | b'_') => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'.' | b'$' | b'_' | b'-' | b':'))
                {
                    i += 1;
                }
                tokens.push(Token::Word(input[start..i].to_string()));
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "unexpected character at offset {i}"
                )));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'s> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    schema: &'s ResourceSchema,
}

impl Filter {
    pub fn parse(input: &str, schema: &ResourceSchema) -> Result<Filter, ScimError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "filter longer than {MAX_FILTER_LEN} bytes"
            )));
        }
        let tokens = tokenize(input)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
            schema,
        };
        let f = p.or_expr(None)?;
        if p.pos != p.tokens.len() {
            return Err(ScimError::invalid_filter("unexpected trailing input"));
        }
        Ok(f)
    }

    /// The filter applied to one resource document.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Filter::Present(a) => a.values(doc).iter().any(|v| is_present(v)),
            Filter::Compare(a, op, lit) => {
                let values = a.values(doc);
                if *op == CompareOp::Ne {
                    return !values
                        .iter()
                        .any(|v| compare(a.leaf(), v, CompareOp::Eq, lit));
                }
                values.iter().any(|v| compare(a.leaf(), v, *op, lit))
            }
            Filter::And(l, r) => l.matches(doc) && r.matches(doc),
            Filter::Or(l, r) => l.matches(doc) || r.matches(doc),
            Filter::Not(f) => !f.matches(doc),
            Filter::ValuePath(a, f) => element_values(a, doc).into_iter().any(|e| f.matches(e)),
        }
    }

    /// The `eq` comparisons joined by `and` at the top of the filter, as
    /// (attribute name, value) pairs: what an index or a new multi-valued element can use.
    pub fn equalities(&self) -> Vec<(&'static Attr, &str)> {
        let mut out = Vec::new();
        self.collect_equalities(&mut out);
        out
    }

    fn collect_equalities<'a>(&'a self, out: &mut Vec<(&'static Attr, &'a str)>) {
        match self {
            Filter::Compare(a, CompareOp::Eq, Literal::Str(s))
                if a.sub.is_none() && matches!(a.scope, None | Some(Scope::Core)) =>
            {
                out.push((a.attr, s.as_str()))
            }
            Filter::And(l, r) => {
                l.collect_equalities(out);
                r.collect_equalities(out);
            }
            _ => {}
        }
    }

    /// Whether the filter refers to a top-level attribute of this name.
    pub fn mentions(&self, name: &str) -> bool {
        match self {
            Filter::Present(a) | Filter::Compare(a, _, _) | Filter::ValuePath(a, _) => {
                a.attr.name.eq_ignore_ascii_case(name)
            }
            Filter::And(l, r) | Filter::Or(l, r) => l.mentions(name) || r.mentions(name),
            Filter::Not(f) => f.mentions(name),
        }
    }

    /// True when this filter is only `eq` comparisons joined by `and`, so that the
    /// pairs of [`Filter::equalities`] describe it completely.
    pub fn is_conjunction_of_equalities(&self) -> bool {
        match self {
            Filter::Compare(a, CompareOp::Eq, Literal::Str(_)) => a.sub.is_none(),
            Filter::And(l, r) => {
                l.is_conjunction_of_equalities() && r.is_conjunction_of_equalities()
            }
            _ => false,
        }
    }
}

/// The elements (objects) of a multi-valued complex attribute, for value-path filters.
pub fn element_values<'a>(a: &AttrRef, doc: &'a Value) -> Vec<&'a Value> {
    let base = match a.scope {
        Some(Scope::Extension(urn)) => match doc.get(urn) {
            Some(b) => b,
            None => return Vec::new(),
        },
        _ => doc,
    };
    match base.get(a.attr.name) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(attr: &Attr, v: &Value, op: CompareOp, lit: &Literal) -> bool {
    match (v, lit) {
        (Value::Bool(b), Literal::Bool(l)) => op == CompareOp::Eq && b == l,
        (Value::Number(n), Literal::Num(l)) => {
            let Some(n) = n.as_f64() else { return false };
            ordered(n.partial_cmp(l), op)
        }
        (Value::String(s), Literal::Str(l)) => {
            if attr.ty == AttrType::DateTime
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
            {
                let (Ok(a), Ok(b)) = (
                    chrono::DateTime::parse_from_rfc3339(s),
                    chrono::DateTime::parse_from_rfc3339(l),
                ) else {
                    return false;
                };
                return ordered(Some(a.cmp(&b)), op);
            }
            if attr.case_exact {
                return text_op(s.as_bytes(), l.as_bytes(), op);
            }
            // ASCII text (nearly all of it) folds byte by byte, without allocating;
            // anything else is lower-cased first.
            if s.is_ascii() && l.is_ascii() {
                return text_op_ascii(s.as_bytes(), l.as_bytes(), op);
            }
            text_op(s.to_lowercase().as_bytes(), l.to_lowercase().as_bytes(), op)
        }
        _ => false,
    }
}

fn text_op(a: &[u8], b: &[u8], op: CompareOp) -> bool {
    match op {
        CompareOp::Co => b.is_empty() || a.windows(b.len()).any(|w| w == b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordered(Some(a.cmp(b)), op),
    }
}

/// `text_op` on ASCII text, case-insensitively.
fn text_op_ascii(a: &[u8], b: &[u8], op: CompareOp) -> bool {
    let eq = |x: &[u8], y: &[u8]| x.eq_ignore_ascii_case(y);
    match op {
        CompareOp::Co => b.is_empty() || a.windows(b.len()).any(|w| eq(w, b)),
        CompareOp::Sw => a.len() >= b.len() && eq(&a[..b.len()], b),
        CompareOp::Ew => a.len() >= b.len() && eq(&a[a.len() - b.len()..], b),
        _ => {
            let ord = if op == CompareOp::Eq || op == CompareOp::Ne {
                if eq(a, b) {
                    Ordering::Equal
                } else {
                    Ordering::Less
                }
            } else {
                a.iter()
                    .map(u8::to_ascii_lowercase)
                    .cmp(b.iter().map(u8::to_ascii_lowercase))
            };
            ordered(Some(ord), op)
        }
    }
}

fn ordered(ord: Option<Ordering>, op: CompareOp) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "filter nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or_expr(&mut self, parent: Option<&'static Attr>) -> Result<Filter, ScimError> {
        let mut left = self.and_expr(parent)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr(parent)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, parent: Option<&'static Attr>) -> Result<Filter, ScimError> {
        let mut left = self.unary(parent)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary(parent)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, parent: Option<&'static Attr>) -> Result<Filter, ScimError> {
        if self.peek_keyword("not") && self.tokens.get(self.pos + 1) == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.group(parent)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            return self.group(parent);
        }
        self.attr_expr(parent)
    }

    fn group(&mut self, parent: Option<&'static Attr>) -> Result<Filter, ScimError> {
        self.enter()?;
        if self.next() != Some(Token::Open) {
            return Err(ScimError::invalid_filter("expected '('"));
        }
        let f = self.or_expr(parent)?;
        if self.next() != Some(Token::Close) {
            return Err(ScimError::invalid_filter("expected ')'"));
        }
        self.depth -= 1;
        Ok(f)
    }

    fn attr_expr(&mut self, parent: Option<&'static Attr>) -> Result<Filter, ScimError> {
        let Some(Token::Word(path)) = self.next() else {
            return Err(ScimError::invalid_filter("expected an attribute name"));
        };
        if self.peek() == Some(&Token::OpenBracket) {
            if parent.is_some() {
                return Err(ScimError::invalid_filter("value paths cannot be nested"));
            }
            let attr = self.resolve(&path, None)?;
            if attr.sub.is_some() || attr.attr.ty != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' has no sub-attributes to filter on"
                )));
            }
            self.pos += 1;
            self.enter()?;
            let inner = self.or_expr(Some(attr.attr))?;
            if self.next() != Some(Token::CloseBracket) {
                return Err(ScimError::invalid_filter("expected ']'"));
            }
            self.depth -= 1;
            // `emails[type eq "work"].value eq "x"`: the trailing comparison applies to
            // the same element the bracket selected.
            if let Some(Token::Word(w)) = self.peek().cloned()
                && let Some(sub) = w.strip_prefix('.')
            {
                self.pos += 1;
                let tail = self.comparison(sub.to_string(), Some(attr.attr))?;
                return Ok(Filter::ValuePath(
                    attr,
                    Box::new(Filter::And(Box::new(inner), Box::new(tail))),
                ));
            }
            return Ok(Filter::ValuePath(attr, Box::new(inner)));
        }
        self.comparison(path, parent)
    }

    fn comparison(
        &mut self,
        path: String,
        parent: Option<&'static Attr>,
    ) -> Result<Filter, ScimError> {
        let attr = self.resolve(&path, parent)?;
        let Some(Token::Word(op)) = self.next() else {
            return Err(ScimError::invalid_filter(format!(
                "expected an operator after '{path}'"
            )));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(attr));
        }
        let op = CompareOp::parse(&op)
            .ok_or_else(|| ScimError::invalid_filter(format!("unknown operator '{op}'")))?;
        let lit = match self.next() {
            Some(Token::Str(s)) => Literal::Str(s),
            Some(Token::Num(n)) => Literal::Num(n),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => {
                return Err(ScimError::invalid_filter(
                    "expected a value after the operator",
                ));
            }
        };
        let leaf = attr.leaf();
        // Entra writes booleans as strings; accept them in filters too.
        let lit = match (leaf.ty, lit) {
            (AttrType::Boolean, Literal::Str(s)) if s.eq_ignore_ascii_case("true") => {
                Literal::Bool(true)
            }
            (AttrType::Boolean, Literal::Str(s)) if s.eq_ignore_ascii_case("false") => {
                Literal::Bool(false)
            }
            (_, lit) => lit,
        };
        let ordering = matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        );
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        match leaf.ty {
            AttrType::Boolean | AttrType::Binary if ordering => {
                return Err(ScimError::invalid_filter(format!(
                    "'{}' cannot be ordered",
                    leaf.name
                )));
            }
            AttrType::Boolean | AttrType::Integer | AttrType::Decimal if substring => {
                return Err(ScimError::invalid_filter(format!(
                    "'{}' is not a string",
                    leaf.name
                )));
            }
            _ => {}
        }
        let type_ok = matches!(
            (leaf.ty, &lit),
            (AttrType::Boolean, Literal::Bool(_))
                | (AttrType::Integer | AttrType::Decimal, Literal::Num(_))
                | (
                    AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime,
                    Literal::Str(_)
                )
                | (_, Literal::Null)
        );
        if !type_ok {
            return Err(ScimError::invalid_filter(format!(
                "the value compared with '{}' has the wrong type",
                leaf.name
            )));
        }
        Ok(Filter::Compare(attr, op, lit))
    }

    fn resolve(&self, path: &str, parent: Option<&'static Attr>) -> Result<AttrRef, ScimError> {
        let unknown = || ScimError::invalid_filter(format!("unknown attribute '{path}'"));
        if let Some(parent) = parent {
            let sub = find(parent.sub, path).ok_or_else(unknown)?;
            return Ok(AttrRef {
                scope: None,
                attr: sub,
                sub: None,
            });
        }
        let (urn, rest) = self.schema.split_urn(path);
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let (scope, attr) = self.schema.resolve(urn, name).ok_or_else(unknown)?;
        let sub = match sub {
            Some(s) => Some(find(attr.sub, s).ok_or_else(unknown)?),
            None => None,
        };
        Ok(AttrRef {
            scope: Some(scope),
            attr,
            sub,
        })
    }
}

/// Parses one attribute path (`name.givenName`, `urn:…:User:department`) against a schema,
/// for `attributes`, `excludedAttributes` and `sortBy`.
pub fn parse_attr_path(path: &str, schema: &ResourceSchema) -> Result<AttrRef, ScimError> {
    let p = Parser {
        tokens: Vec::new(),
        pos: 0,
        depth: 0,
        schema,
    };
    p.resolve(path.trim(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_operators_treat_the_boundary_exactly() {
        let doc = serde_json::json!({"userName": "b", "name": {"familyName": "M"}});
        let check = |f: &str| Filter::parse(f, &USER).expect(f).matches(&doc);
        assert!(check(r#"userName ge "b""#));
        assert!(!check(r#"userName gt "b""#));
        assert!(check(r#"userName le "b""#));
        assert!(!check(r#"userName lt "b""#));
        assert!(check(r#"userName gt "a""#) && !check(r#"userName lt "a""#));
        assert!(check(r#"userName lt "c""#) && !check(r#"userName gt "c""#));
        // Case-insensitive, and the same for non-ASCII text.
        assert!(check(r#"name.familyName ge "m""#) && !check(r#"name.familyName gt "m""#));
        let accented = serde_json::json!({"userName": "é"});
        let check = |f: &str| Filter::parse(f, &USER).expect(f).matches(&accented);
        assert!(check(r#"userName ge "É""#) && !check(r#"userName gt "É""#));
        assert!(check(r#"userName le "É""#) && !check(r#"userName lt "É""#));
        // Unicode case folding can make non-ASCII text equal to ASCII text: the Kelvin
        // sign lower-cases to `k`.
        let kelvin = serde_json::json!({"userName": "kelvin"});
        let f = Filter::parse("userName eq \"\u{212A}elvin\"", &USER).expect("kelvin");
        assert!(f.matches(&kelvin));
    }
    use crate::scim::schema::USER;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "usr_1",
            "userName": "Alice@Example.com",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [
                {"value": "alice@work.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"}
            ],
            "meta": {"lastModified": "2026-11-25T10:00:00Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        })
    }

    fn check(f: &str) -> bool {
        Filter::parse(f, &USER).expect(f).matches(&user())
    }

    #[test]
    fn comparisons_follow_rfc_7644_semantics() {
        assert!(check(r#"userName eq "alice@example.com""#));
        assert!(check(r#"USERNAME Eq "ALICE@EXAMPLE.COM""#));
        assert!(!check(r#"userName ne "alice@example.com""#));
        assert!(check(r#"name.familyName co "dde""#));
        assert!(check(r#"userName sw "alice" and userName ew ".com""#));
        assert!(check(r#"emails co "home.example""#));
        assert!(check(r#"emails[type eq "work" and primary eq true]"#));
        assert!(check(
            r#"emails[type eq "work"].value eq "alice@work.example""#
        ));
        assert!(!check(
            r#"emails[type eq "home"].value eq "alice@work.example""#
        ));
        assert!(check(r#"not (active eq false) or title pr"#));
        assert!(!check(r#"title pr"#));
        assert!(check(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#
        ));
        assert!(check(r#"active eq "True""#));
        assert!(check(
            r#"(userName eq "x" or userName eq "alice@example.com") and active eq true"#
        ));
    }

    #[test]
    fn a_single_valued_attribute_is_compared_whole() {
        // Stored documents never hold an array there; if one did, its elements are not
        // values of the attribute.
        let doc = json!({"title": ["x"], "emails": [{"value": "x"}], "name": {"givenName": "x"}});
        let check = |f: &str| Filter::parse(f, &USER).expect(f).matches(&doc);
        assert!(!check(r#"title eq "x""#));
        assert!(check(r#"emails eq "x""#));
        assert!(check(r#"name pr"#) && check(r#"name.givenName eq "x""#));
    }

    #[test]
    fn ids_compare_case_exactly() {
        assert!(check(r#"id eq "usr_1""#));
        assert!(!check(r#"id eq "USR_1""#));
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"nosuch eq "a""#,
            r#"userName eq "a" and"#,
            r#"(userName eq "a""#,
            r#"userName eq "unterminated"#,
            r#"active gt true"#,
            r#"emails[type eq "work""#,
            r#"userName eq "a")"#,
        ] {
            let err = Filter::parse(bad, &USER).expect_err(bad);
            assert_eq!(err.status, 400, "{bad}");
            assert_eq!(
                err.scim_type,
                Some(crate::scim::error::ScimType::InvalidFilter),
                "{bad}"
            );
        }
    }

    #[test]
    fn nesting_and_length_are_limited_while_parsing() {
        let deep = format!(
            "{}userName pr{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(Filter::parse(&deep, &USER).is_err());
        let ok = format!(
            "{}userName pr{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(Filter::parse(&ok, &USER).is_ok());
        let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN));
        assert!(Filter::parse(&long, &USER).is_err());
    }

    #[test]
    fn top_level_equalities_are_extracted_for_index_lookups() {
        let f = Filter::parse(r#"userName eq "a" and externalId eq "b""#, &USER).expect("parse");
        let names: Vec<_> = f
            .equalities()
            .into_iter()
            .map(|(a, v)| (a.name, v))
            .collect();
        assert_eq!(names, vec![("userName", "a"), ("externalId", "b")]);
        let f = Filter::parse(r#"userName eq "a" or externalId eq "b""#, &USER).expect("parse");
        assert!(f.equalities().is_empty());
    }

    #[test]
    fn numbers_and_escaped_strings_tokenize_whole() {
        // No User attribute is numeric: a number reaches the type check whole, or the
        // tokenizer fails on it.
        for f in ["userName eq 42", "userName eq -1.5e3", "userName eq 2E-2"] {
            let e = Filter::parse(f, &USER).expect_err(f);
            assert!(e.detail.contains("wrong type"), "{f}: {}", e.detail);
        }
        let e = Filter::parse("userName eq 1-", &USER).expect_err("1-");
        assert!(e.detail.contains("invalid number"), "{}", e.detail);
        let quoted = json!({"userName": "say \"hi\" \\o/"});
        let f = Filter::parse(r#"userName eq "say \"hi\" \\o/""#, &USER).expect("escaped");
        assert!(f.matches(&quoted));
        assert!(!f.matches(&json!({"userName": "say"})));
    }

    #[test]
    fn a_filter_at_the_length_limit_parses() {
        let prefix = r#"userName eq ""#;
        let at_limit = format!(
            "{prefix}{}\"",
            "a".repeat(MAX_FILTER_LEN - prefix.len() - 1)
        );
        assert_eq!(at_limit.len(), MAX_FILTER_LEN);
        assert!(Filter::parse(&at_limit, &USER).is_ok());
    }

    #[test]
    fn only_top_level_core_equalities_are_index_equalities() {
        let f = Filter::parse(
            r#"name.givenName eq "a" and userName eq "b" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "c""#,
            &USER,
        )
        .expect("parse");
        let names: Vec<_> = f
            .equalities()
            .into_iter()
            .map(|(a, v)| (a.name, v))
            .collect();
        assert_eq!(names, vec![("userName", "b")]);
        assert!(
            !f.is_conjunction_of_equalities(),
            "a sub-attribute is not an index equality"
        );
        let simple =
            Filter::parse(r#"userName eq "a" and externalId eq "b""#, &USER).expect("parse");
        assert!(simple.is_conjunction_of_equalities());
        for not_only in [
            r#"userName eq "a" or externalId eq "b""#,
            "userName pr",
            r#"userName sw "a""#,
        ] {
            let f = Filter::parse(not_only, &USER).expect(not_only);
            assert!(!f.is_conjunction_of_equalities(), "{not_only}");
        }
    }

    #[test]
    fn mentions_looks_through_and_or_and_not() {
        let f = Filter::parse(r#"userName eq "a" or groups pr"#, &USER).expect("parse");
        assert!(f.mentions("groups") && f.mentions("USERNAME"));
        assert!(!f.mentions("emails"));
        let f = Filter::parse(r#"not (emails pr) and active eq true"#, &USER).expect("parse");
        assert!(f.mentions("emails") && f.mentions("active"));
    }

    #[test]
    fn value_paths_reach_into_extensions() {
        let doc = json!({
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "usr_9"}}
        });
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
        let f = Filter::parse(&format!(r#"{path}[value eq "usr_9"]"#), &USER).expect("parse");
        assert!(f.matches(&doc));
        assert!(!f.matches(&json!({"manager": {"value": "usr_9"}})));
    }

    #[test]
    fn present_means_a_non_empty_value() {
        for (doc, present) in [
            (json!({"title": "x"}), true),
            (json!({"title": ""}), false),
            (json!({"title": null}), false),
            (json!({}), false),
        ] {
            assert_eq!(
                Filter::parse("title pr", &USER).unwrap().matches(&doc),
                present,
                "{doc}"
            );
        }
        assert!(
            !Filter::parse("emails pr", &USER)
                .unwrap()
                .matches(&json!({"emails": []}))
        );
        assert!(
            !Filter::parse("name pr", &USER)
                .unwrap()
                .matches(&json!({"name": {}}))
        );
        assert!(
            Filter::parse("active pr", &USER)
                .unwrap()
                .matches(&json!({"active": false}))
        );
    }

    #[test]
    fn text_operators_on_dates_and_case_exact_values() {
        assert!(check(r#"meta.lastModified sw "2026-11""#));
        assert!(!check(r#"meta.lastModified sw "2025""#));
        assert!(check(r#"id co "sr_""#) && check(r#"id co """#));
        assert!(check(r#"id sw "usr""#) && !check(r#"id sw "USR""#));
        assert!(check(r#"id ew "_1""#) && !check(r#"id ew "x""#));
        assert!(!check(r#"id co "x""#));
        assert!(!check(r#"userName sw "bob""#) && !check(r#"userName ew ".org""#));
        assert!(!check(r#"userName sw "alice@example.com.and.more""#));
    }

    #[test]
    fn sibling_groups_and_value_paths_do_not_add_up_to_the_depth_limit() {
        let groups = vec!["(userName pr)"; MAX_DEPTH + 2].join(" or ");
        assert!(Filter::parse(&groups, &USER).is_ok(), "{groups}");
        let paths = vec![r#"emails[type pr]"#; MAX_DEPTH + 2].join(" and ");
        assert!(Filter::parse(&paths, &USER).is_ok(), "{paths}");
    }

    #[test]
    fn value_paths_need_a_complex_attribute() {
        for bad in [
            r#"userName[value eq "x"]"#,
            r#"name.givenName[value eq "x"]"#,
        ] {
            let e = Filter::parse(bad, &USER).expect_err(bad);
            assert!(
                e.detail.contains("no sub-attributes"),
                "{bad}: {}",
                e.detail
            );
        }
    }

    #[test]
    fn literals_are_read_as_their_type() {
        let lit = |f: &str| match Filter::parse(f, &USER).expect(f) {
            Filter::Compare(_, _, lit) => lit,
            other => panic!("{f}: {other:?}"),
        };
        assert_eq!(lit("active eq true"), Literal::Bool(true));
        assert_eq!(lit("active eq FALSE"), Literal::Bool(false));
        assert_eq!(lit(r#"active eq "False""#), Literal::Bool(false));
        assert_eq!(lit(r#"active eq "TRUE""#), Literal::Bool(true));
        assert_eq!(lit("title eq null"), Literal::Null);
        assert_eq!(lit(r#"title eq "false""#), Literal::Str("false".into()));
        assert!(Filter::parse(r#"active eq "yes""#, &USER).is_err());
        // A bare word is no value (Microsoft's collection sends `userName sw O`).
        assert!(Filter::parse("userName sw O", &USER).is_err());
        assert!(Filter::parse("title eq nothing", &USER).is_err());
        for bad in ["active sw true", "active co false", "active ew true"] {
            let e = Filter::parse(bad, &USER).expect_err(bad);
            assert!(e.detail.contains("is not a string"), "{bad}: {}", e.detail);
        }
    }
}
