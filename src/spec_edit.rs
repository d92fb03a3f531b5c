//! Editing a model spec in place for `promote`: sets `serve.model` (or
//! `serve.canary.model` and `weight`) to a new value and changes nothing
//! else, comments, order, spacing and quoting of every other key included.
//! Works on the text with `toml_edit`, whatever form the keys take: a
//! `[serve]` table, an inline `serve = { … }`, dotted `serve.model = …`,
//! `[serve.canary]` or `canary = { … }`, and `[env.<name>]` overrides.
//!
//! Which key is edited: with an environment whose `[env.<name>]` overrides
//! the key, that override (the base would not change what it serves);
//! otherwise the base key, and every environment overriding it is reported
//! as shadowing the edit. Pure: text in, text out; validating and writing
//! the result is the caller's.

use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike, Value};

/// What to point at the new model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `serve.model`.
    Serve,
    /// `serve.canary.model`, and `serve.canary.weight` set to this percent.
    Canary(u32),
}

/// The result of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new text of the file.
    pub text: String,
    /// The dotted key that was set (`serve.model`, `env.staging.serve.model`).
    pub key: String,
    /// The value it had, when it had one.
    pub previous: Option<String>,
    /// Environments whose overrides of the key keep serving what they did.
    pub shadowed_by: Vec<String>,
}

/// Why a spec could not be edited.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// The text is not TOML.
    #[error("the spec is not valid TOML: {0}")]
    Syntax(String),
    /// There is no `[serve]` to point at the model.
    #[error("the spec has no `[serve]` section to point at the model")]
    NoServe,
    /// A key on the way is not a table (`serve = "x"`).
    #[error("`{0}` is not a table")]
    NotATable(String),
}

/// Sets the model of `slot` to `uri` in `text`, in environment `env`'s
/// override when it has one for the key.
pub fn promote(text: &str, slot: Slot, uri: &str, env: Option<&str>) -> Result<Edited, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Syntax(e.message().to_owned()))?;
    let key: &[&str] = match slot {
        Slot::Serve => &["serve", "model"],
        Slot::Canary(_) => &["serve", "canary", "model"],
    };
    let overriding: Vec<String> = env_names(&doc)
        .into_iter()
        .filter(|e| lookup(doc.as_table(), &env_path(e, key)).is_some())
        .collect();
    let edit_env = env.filter(|e| overriding.iter().any(|o| o == e));
    let path: Vec<String> = match edit_env {
        Some(e) => env_path(e, key),
        None => key.iter().map(|k| (*k).to_owned()).collect(),
    };
    if edit_env.is_none() && lookup(doc.as_table(), &path[..1]).is_none() {
        return Err(EditError::NoServe);
    }
    let previous = lookup(doc.as_table(), &path)
        .and_then(Item::as_str)
        .map(str::to_owned);
    let (parent, leaf) = path.split_at(path.len() - 1);
    let table = table_at(doc.as_item_mut(), parent)?;
    set(table, &leaf[0], Value::from(uri));
    if let Slot::Canary(weight) = slot {
        set(table, "weight", Value::from(i64::from(weight)));
    }
    let shadowed_by = match edit_env {
        Some(_) => Vec::new(),
        None => overriding,
    };
    Ok(Edited {
        text: doc.to_string(),
        key: path.join("."),
        previous,
        shadowed_by,
    })
}

/// `["env", env, key…]`.
fn env_path(env: &str, key: &[&str]) -> Vec<String> {
    ["env", env]
        .iter()
        .chain(key)
        .map(|k| (*k).to_owned())
        .collect()
}

/// The names under `[env]`, in file order.
fn env_names(doc: &DocumentMut) -> Vec<String> {
    doc.get("env")
        .and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default()
}

/// The item at `path`, through tables of any form.
fn lookup<'a>(table: &'a dyn TableLike, path: &[String]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    let item = table.get(first)?;
    if rest.is_empty() {
        return Some(item);
    }
    lookup(item.as_table_like()?, rest)
}

/// The table at `path` under `item`, created where missing in the form of
/// its parent: an inline table inside an inline one, a dotted key under a
/// dotted one, else a `[a.b]` table placed right after its parent.
fn table_at<'a>(item: &'a mut Item, path: &[String]) -> Result<&'a mut dyn TableLike, EditError> {
    let inline = item.is_inline_table();
    let (dotted, position) = match item.as_table() {
        Some(t) => (t.is_dotted(), t.position()),
        None => (false, None),
    };
    let table = item
        .as_table_like_mut()
        .ok_or_else(|| EditError::NotATable(path.first().cloned().unwrap_or_default()))?;
    let Some((first, rest)) = path.split_first() else {
        return Ok(table);
    };
    if table.get(first).is_none() {
        let new = if inline {
            Item::Value(Value::InlineTable(InlineTable::new()))
        } else {
            let mut t = Table::new();
            t.set_implicit(!rest.is_empty());
            t.set_dotted(dotted);
            t.set_position(position);
            Item::Table(t)
        };
        table.insert(first, new);
    }
    let child = table
        .get_mut(first)
        .ok_or_else(|| EditError::NotATable(first.clone()))?;
    if !child.is_table_like() {
        return Err(EditError::NotATable(first.clone()));
    }
    table_at(child, rest)
}

/// Sets `key` to `value`, keeping the old value's surrounding whitespace
/// and comments.
fn set(table: &mut dyn TableLike, key: &str, mut value: Value) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        None => {
            table.insert(key, Item::Value(value));
        }
    }
}
