//! `edge/openapi.json` (written by hand, served at `GET /admin/v1/openapi.json`) against the route
//! table the edge dispatches on: the same admin routes, each with its route's role and summary,
//! every reference resolving, every path parameter declared, and the device routes marked.

use fota_shared::api::routes::{Role, ROUTES};
use serde_json::Value;
use std::collections::BTreeSet;

const ADMIN_PREFIX: &str = "/admin/v1/";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn document() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge/openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every operation: (METHOD, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut ops = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("{path} is not an object"));
        for (key, op) in item {
            if METHODS.contains(&key.as_str()) {
                ops.push((key.to_ascii_uppercase(), path.clone(), op));
            }
        }
    }
    ops
}

fn admin_operation<'a>(
    ops: &'a [(String, String, &'a Value)],
    method: &str,
    pattern: &str,
) -> &'a Value {
    let path = format!("{ADMIN_PREFIX}{pattern}");
    ops.iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, op)| *op)
        .unwrap_or_else(|| panic!("{method} {path} is missing from openapi.json"))
}

#[test]
fn admin_paths_are_exactly_the_route_table() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .filter(|(_, path, _)| path.starts_with(ADMIN_PREFIX))
        .map(|(method, path, _)| (method, path))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), format!("{ADMIN_PREFIX}{}", r.pattern)))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes not documented: {missing:?}\ndocumented but not routed: {extra:?}"
    );
}

#[test]
fn every_admin_operation_names_its_routes_role_and_summary() {
    let doc = document();
    let ops = operations(&doc);
    for route in ROUTES {
        let op = admin_operation(&ops, route.method, route.pattern);
        let role = op["x-role"].as_str().and_then(Role::parse);
        assert_eq!(
            role,
            Some(route.role),
            "x-role of {} {}",
            route.method,
            route.pattern
        );
        assert_eq!(
            op["summary"], route.summary,
            "summary of {} {}",
            route.method, route.pattern
        );
        assert!(
            op.get("security").is_none(),
            "{} {} overrides the bearer requirement",
            route.method,
            route.pattern
        );
        let codes = op["responses"]
            .as_object()
            .map(|r| r.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(
            codes.contains(&"401".to_string()),
            "{} {} does not document 401",
            route.method,
            route.pattern
        );
        assert_eq!(
            codes.contains(&"403".to_string()),
            route.role > Role::Viewer,
            "403 of {} {}",
            route.method,
            route.pattern
        );
    }
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[test]
fn device_routes_are_documented_and_need_no_token() {
    let doc = document();
    let ops = operations(&doc);
    let mut device_paths: Vec<&str> = fota_shared::rules::luat::CHECK_PATHS.to_vec();
    device_paths.extend(["/images/{sha256}", "/healthz"]);
    for path in device_paths {
        let op = ops
            .iter()
            .find(|(m, p, _)| m == "GET" && p == path)
            .map(|(_, _, op)| *op)
            .unwrap_or_else(|| panic!("GET {path} is missing from openapi.json"));
        assert_eq!(
            op["x-device-route"], true,
            "{path} is not marked as a device route"
        );
        assert_eq!(
            op["security"],
            serde_json::json!([]),
            "{path} must need no token"
        );
        assert!(op.get("x-role").is_none(), "{path} has a role");
    }
    // Everything else is admin.
    for (method, path, op) in &ops {
        assert!(
            path.starts_with(ADMIN_PREFIX) || op["x-device-route"] == true,
            "{method} {path} is neither admin nor device"
        );
    }
}

/// Walks every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} points outside the document"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

#[test]
fn every_path_parameter_is_declared() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| match p["$ref"].as_str() {
                Some(r) => doc
                    .pointer(r.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => p.clone(),
            })
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        assert_eq!(declared, in_path, "path parameters of {method} {path}");
    }
}

#[test]
fn schemas_name_the_main_types() {
    let doc = document();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    for name in [
        "Project",
        "ProjectSpec",
        "Firmware",
        "UploadReceipt",
        "PlanSpec",
        "RolloutSpec",
        "Plan",
        "RolloutStatus",
        "Device",
        "DeviceList",
        "DeviceHistory",
        "TokenSpec",
        "TokenCreated",
        "TokenList",
        "AuditPage",
        "AuditEntry",
        "Error",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is missing");
    }
    // Listing a token never shows its secret.
    let info = &schemas["TokenInfo"]["properties"];
    assert!(
        info.get("token").is_none() && info.get("hash").is_none(),
        "TokenInfo exposes a secret: {info}"
    );
}

/// The admin API speaks RFC 3339: no schema property carries milliseconds (`*_ms`), and every
/// `*_at` property is a date-time. Stored records with milliseconds stay behind the API.
#[test]
fn admin_times_are_rfc3339() {
    let doc = document();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    for (name, schema) in schemas {
        for (property, spec) in schema["properties"].as_object().into_iter().flatten() {
            assert!(
                !property.ends_with("_ms"),
                "{name}.{property} carries milliseconds"
            );
            if property.ends_with("_at") {
                assert_eq!(
                    spec["format"], "date-time",
                    "{name}.{property} is not a date-time"
                );
            }
        }
    }
}
