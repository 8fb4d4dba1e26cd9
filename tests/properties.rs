#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Property tests for the protocol parsers a client controls: the filter language, PATCH
//! paths and PATCH application. Whatever the input, they answer (a value or a SCIM
//! error) without panicking, and their work grows no faster than the input. The corpus
//! in `tests/corpus/` holds the RFC's examples and inputs that once mattered; proptest
//! adds generated ones (`PROPTEST_CASES` raises the count; CI runs the default).

use std::time::Duration;

use offboard::scim::filter::Filter;
use offboard::scim::patch::PatchRequest;
use offboard::scim::path::PatchPath;
use offboard::scim::resource::canonicalize;
use offboard::scim::schema::{GROUP, USER};
use proptest::prelude::*;
use serde_json::{Value, json};

fn corpus(name: &str) -> Vec<String> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

fn a_user() -> Value {
    json!({
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "roles": [{"value": "admin"}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour", "manager": {"value": "m1"}}
    })
}

#[test]
fn the_corpus_parses_or_fails_cleanly() {
    let doc = a_user();
    for f in corpus("filters.txt") {
        for schema in [&USER, &GROUP] {
            if let Ok(parsed) = Filter::parse(&f, schema) {
                let _ = parsed.matches(&doc);
            }
        }
    }
    for p in corpus("patch_paths.txt") {
        let _ = PatchPath::parse(&p, &USER);
        let _ = PatchPath::parse(&p, &GROUP);
    }
}

/// Strings that look like filters: attribute names, operators, literals and brackets in
/// any order.
fn filter_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("userName".to_string()),
        Just("emails".to_string()),
        Just("emails.value".to_string()),
        Just("name.familyName".to_string()),
        Just("meta.lastModified".to_string()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".to_string()),
        Just("active".to_string()),
        Just("eq".to_string()),
        Just("co".to_string()),
        Just("gt".to_string()),
        Just("pr".to_string()),
        Just("and".to_string()),
        Just("or".to_string()),
        Just("not".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("\"x\"".to_string()),
        Just("\"2011-05-13T04:42:34Z\"".to_string()),
        Just("-1.5e3".to_string()),
        "\"[^\"]{0,8}\"".prop_map(|s| s),
        "[a-zA-Z.:$_-]{1,12}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..40).prop_map(|t| t.join(" "))
}

proptest! {
    #[test]
    fn filters_parse_or_fail_cleanly_and_evaluate(input in filter_like()) {
        let doc = a_user();
        if let Ok(f) = Filter::parse(&input, &USER) {
            let _ = f.matches(&doc);
            let _ = f.equalities();
        }
        let _ = Filter::parse(&input, &GROUP);
    }

    #[test]
    fn arbitrary_text_never_breaks_the_filter_parser(input in ".{0,300}") {
        let _ = Filter::parse(&input, &USER);
    }

    #[test]
    fn arbitrary_text_never_breaks_the_path_parser(input in ".{0,200}") {
        let _ = PatchPath::parse(&input, &USER);
        let _ = PatchPath::parse(&input, &GROUP);
    }

    #[test]
    fn a_patch_applies_whole_or_not_at_all_and_its_result_is_canonical(
        ops in prop::collection::vec(
            (
                prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("bogus")],
                prop_oneof![
                    Just(None),
                    Just(Some("displayName")),
                    Just(Some("name.familyName")),
                    Just(Some("emails")),
                    Just(Some("emails[type eq \"work\"].value")),
                    Just(Some("emails[type eq \"other\"].value")),
                    Just(Some("roles")),
                    Just(Some("active")),
                    Just(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")),
                    Just(Some("meta.created")),
                    Just(Some("nope[")),
                ],
                prop_oneof![
                    Just(Value::Null),
                    Just(json!("x")),
                    Just(json!("False")),
                    Just(json!(7)),
                    Just(json!([{"value": "r1"}, {"value": "r1"}])),
                    Just(json!({"value": "v", "type": "work"})),
                    Just(json!({"active": false, "name.givenName": "B"})),
                    Just(json!([])),
                ],
            ),
            1..12,
        )
    ) {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops.iter().map(|(op, path, value)| {
                let mut o = json!({"op": op, "value": value});
                if let Some(p) = path { o["path"] = json!(p); }
                o
            }).collect::<Vec<_>>(),
        });
        let doc = canonicalize(&USER, &a_user()).unwrap();
        if let Ok(req) = PatchRequest::parse(&body, &USER)
            && let Ok(out) = req.apply(&USER, &doc)
        {
            // What comes out is itself valid, and validating it again changes nothing.
            let again = canonicalize(&USER, &Value::Object(out.clone())).unwrap();
            prop_assert_eq!(again, out);
        }
    }
}

/// The CPU time this thread has used: unlike the wall clock, other threads and
/// processes competing for the cores do not inflate it.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn once(f: &impl Fn()) -> Duration {
    let t = thread_cpu_time();
    f();
    thread_cpu_time().saturating_sub(t)
}

/// Work that grows with the input at most about linearly: four times the input may not
/// take sixteen times as long (quadratic would). A ratio, not a speed target, of CPU
/// time on this thread, the two sizes in turns and best of seven each, so a busy machine
/// (other tests, CI) does not skew it.
fn assert_not_quadratic(name: &str, small: impl Fn(), large: impl Fn()) {
    let (mut s, mut l) = (Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        s = s.min(once(&small));
        l = l.min(once(&large));
    }
    let (small, large) = (s, l);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    eprintln!("{name}: {ratio:.1}x ({small:?} -> {large:?})");
    assert!(
        ratio < 12.0,
        "{name}: 4x input took {ratio:.1}x as long ({small:?} -> {large:?})"
    );
}

#[test]
fn parsing_and_applying_grow_linearly_with_the_input() {
    // Filters at the length limit's quarter and whole: long or-chains and long strings.
    let chain = |n: usize| {
        (0..n)
            .map(|i| format!("userName eq \"u{i}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let (small, large) = (chain(40), chain(160));
    assert!(large.len() <= offboard::scim::filter::MAX_FILTER_LEN);
    let doc = a_user();
    assert_not_quadratic(
        "or-chain filter",
        || {
            for _ in 0..50 {
                Filter::parse(&small, &USER).unwrap().matches(&doc);
            }
        },
        || {
            for _ in 0..50 {
                Filter::parse(&large, &USER).unwrap().matches(&doc);
            }
        },
    );

    // A PATCH adding many distinct roles, then one with 4x as many.
    let add_roles = |n: usize| {
        let values: Vec<Value> = (0..n).map(|i| json!({"value": format!("r{i}")})).collect();
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "roles", "value": values}]
        })
    };
    let doc = canonicalize(&USER, &a_user()).unwrap();
    let (small, large) = (add_roles(240), add_roles(960));
    assert_not_quadratic(
        "multi-valued add",
        || {
            PatchRequest::parse(&small, &USER)
                .unwrap()
                .apply(&USER, &doc)
                .unwrap();
        },
        || {
            PatchRequest::parse(&large, &USER)
                .unwrap()
                .apply(&USER, &doc)
                .unwrap();
        },
    );

    // Many filtered operations on a large multi-valued attribute.
    let mut big = a_user();
    big["roles"] = Value::Array(
        (0..1000)
            .map(|i| json!({"value": format!("r{i}")}))
            .collect(),
    );
    let big = canonicalize(&USER, &big).unwrap();
    let filtered = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|i| json!({"op": "replace", "path": format!("roles[value eq \"r{i}\"].display"), "value": "d"}))
            .collect();
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
    };
    let (small, large) = (filtered(100), filtered(400));
    assert_not_quadratic(
        "filtered operations",
        || {
            PatchRequest::parse(&small, &USER)
                .unwrap()
                .apply(&USER, &big)
                .unwrap();
        },
        || {
            PatchRequest::parse(&large, &USER)
                .unwrap()
                .apply(&USER, &big)
                .unwrap();
        },
    );
}
