//! The spec reference in Markdown, generated from the JSON Schemas (hence
//! from the doc comments on the spec types), so the reference in `docs/spec.md`
//! cannot drift from the code: one table per section, one row per key.

use std::fmt::Write;

use serde_json::Value as Json;

use crate::schema::{SchemaKind, schema};

/// The reference of both files, as Markdown.
pub fn markdown() -> String {
    let mut out = String::new();
    section(&mut out, "`models/<name>.toml`", &schema(SchemaKind::Model));
    section(&mut out, "`modelctl.toml`", &schema(SchemaKind::Config));
    out
}

fn section(out: &mut String, file: &str, root: &Json) {
    let _ = writeln!(out, "### {file}\n");
    if let Some(d) = root.get("description").and_then(Json::as_str) {
        let _ = writeln!(out, "{}\n", one_line(d));
    }
    let mut queue: Vec<(String, &Json)> = vec![(String::new(), root)];
    while let Some((path, table)) = queue.pop() {
        let Some(props) = table.get("properties").and_then(Json::as_object) else {
            continue;
        };
        if !path.is_empty() {
            let _ = writeln!(out, "#### `{path}`\n");
            if let Some(d) = table.get("description").and_then(Json::as_str) {
                let _ = writeln!(out, "{}\n", one_line(d));
            }
        }
        let required: Vec<&str> = table
            .get("required")
            .and_then(Json::as_array)
            .map(|r| r.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let _ = writeln!(out, "| key | type | required | description |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        let mut nested = Vec::new();
        for (key, prop) in props {
            let def = resolve(root, prop);
            let _ = writeln!(
                out,
                "| `{key}` | {} | {} | {} |",
                type_name(root, prop),
                if required.contains(&key.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                one_line(
                    prop.get("description")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                )
                .replace('|', "\\|"),
            );
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if def.get("properties").is_some() {
                nested.push((child, def));
            } else if let Some(items) = def.get("items") {
                let item = resolve(root, items);
                if item.get("properties").is_some() {
                    nested.push((format!("{child}[]"), item));
                }
            } else if let Some(any) = def.get("anyOf").and_then(Json::as_array) {
                for alt in any {
                    let alt = resolve(root, alt);
                    if alt.get("properties").is_some() {
                        nested.push((child.clone(), alt));
                    }
                }
            } else if let Some(values) = def
                .get("patternProperties")
                .and_then(Json::as_object)
                .and_then(|p| p.values().next())
                .or_else(|| def.get("additionalProperties"))
            {
                let value = resolve(root, values);
                if value.get("properties").is_some() {
                    nested.push((format!("{child}.<name>"), value));
                }
            }
        }
        out.push('\n');
        // Depth first, in key order.
        nested.reverse();
        queue.extend(nested);
    }
}

/// Follows a `$ref` into `$defs`.
fn resolve<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
    schema
        .get("$ref")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs")?.get(name))
        .unwrap_or(schema)
}

fn type_name(root: &Json, schema: &Json) -> String {
    let def = resolve(root, schema);
    if let Some(any) = def.get("anyOf").and_then(Json::as_array) {
        return any
            .iter()
            .map(|alt| type_name(root, alt))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    if let Some(values) = def.get("enum").and_then(Json::as_array) {
        return values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ");
    }
    if let Some(one) = def.get("oneOf").and_then(Json::as_array) {
        let consts: Vec<String> = one
            .iter()
            .filter_map(|v| v.get("const").and_then(Json::as_str))
            .map(|c| format!("`{c}`"))
            .collect();
        if !consts.is_empty() {
            return consts.join(", ");
        }
    }
    match def.get("type").and_then(Json::as_str) {
        Some("array") => {
            let item = def
                .get("items")
                .map_or_else(|| "value".to_owned(), |i| type_name(root, i));
            format!("array of {item}")
        }
        Some("object") if def.get("properties").is_some() || def.get("propertyNames").is_some() => {
            "table".to_owned()
        }
        Some("object") => "table of tables".to_owned(),
        Some("integer") => integer_range(def),
        Some("boolean") => "boolean".to_owned(),
        Some("string") => {
            let name = schema
                .get("$ref")
                .and_then(Json::as_str)
                .and_then(|r| r.rsplit('/').next());
            name.map_or_else(|| "string".to_owned(), |n| format!("string ({n})"))
        }
        Some(other) => other.to_owned(),
        None => "value".to_owned(),
    }
}

/// `integer`, with the bounds a bounded type declares (`integer (1 to 4096)`).
fn integer_range(def: &Json) -> String {
    let min = def.get("minimum").and_then(Json::as_u64);
    let max = def.get("maximum").and_then(Json::as_u64);
    match (min, max) {
        (Some(min), Some(max)) if max < u64::from(u32::MAX) => format!("integer ({min} to {max})"),
        (Some(min), _) if min > 0 => format!("integer (at least {min})"),
        _ => "integer".to_owned(),
    }
}

/// A doc comment's first paragraph on one line.
fn one_line(text: &str) -> String {
    let first = text.split("\n\n").next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_and_key_is_documented() {
        let md = markdown();
        for heading in [
            "#### `train`",
            "#### `train.data[]`",
            "#### `serve.replicas`",
            "#### `serve.canary`",
            "#### `environments.<name>`",
            "#### `defaults.route`",
        ] {
            assert!(md.contains(heading), "{heading} missing:\n{md}");
        }
        assert!(
            md.contains("| `max-delay` | string (BatchDelay) | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| `kind` | `gateway`, `openshift`, `ingress` | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| `max-batch` | integer (1 to 4096) | yes |"),
            "{md}"
        );
        // Every row has a description.
        assert!(!md.lines().any(|l| l.ends_with("|  |")), "{md}");
    }
}
