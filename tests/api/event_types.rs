//! The published event types: each has a JSON Schema generated from the payload types,
//! committed under `docs/events/` (kept current: this test fails on a stale file; run it
//! with `OFFBOARD_WRITE_EVENT_SCHEMAS=1` to rewrite them) and served by the admin API.
//! Every event the tests read back is validated against its schema (`helpers`).

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, expect_json};
use offboard::domain::events::EventType;

fn docs_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/events")
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let write = std::env::var("OFFBOARD_WRITE_EVENT_SCHEMAS").is_ok();
    let mut expected = Vec::new();
    for t in EventType::ALL {
        let file = format!("{}.json", t.as_str());
        expected.push(file.clone());
        let text = format!("{}\n", serde_json::to_string_pretty(&t.schema()).unwrap());
        let path = docs_dir().join(&file);
        if write {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with OFFBOARD_WRITE_EVENT_SCHEMAS=1)",
                path.display()
            )
        });
        assert_eq!(
            committed, text,
            "{file} is stale: run the tests with OFFBOARD_WRITE_EVENT_SCHEMAS=1"
        );
        // A valid JSON Schema, by an independent implementation.
        jsonschema::meta::validate(&t.schema()).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let mut found: Vec<String> = std::fs::read_dir(docs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "one file per type, no leftovers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_lists_every_type_with_its_schema() {
    let app: TestApp = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, &[]).await;
    let res = app.admin_send(Method::GET, "/event-types", None).await;
    let body = expect_json(res, 200).await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), EventType::ALL.len());
    for (row, t) in data.iter().zip(EventType::ALL) {
        assert_eq!(row["type"], t.as_str());
        assert!(!row["description"].as_str().unwrap().is_empty());
        let committed: Value = serde_json::from_str(
            &std::fs::read_to_string(docs_dir().join(format!("{}.json", t.as_str()))).unwrap(),
        )
        .unwrap();
        assert_eq!(row["schema"], committed);
    }
    // Operators only.
    let res = app
        .client
        .get(app.admin("/event-types"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}
