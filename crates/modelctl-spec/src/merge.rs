//! `[env.<name>]` overrides: deep-merged over the rest of the spec in the
//! spanned tree, so a value that comes from an override keeps its own
//! position and errors in it point at the override.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The spec without its `env` table, with environment `env`'s overrides (if
/// any) merged in: tables merge key by key, anything else replaces.
pub(crate) fn resolve<'a>(root: &Spanned<DeTable<'a>>, env: &str) -> Spanned<DeTable<'a>> {
    let mut base = root.clone();
    let overrides = base
        .get_mut()
        .remove("env")
        .and_then(|v| match v.into_inner() {
            DeValue::Table(mut t) => t.remove(env),
            _ => None,
        });
    if let Some(over) = overrides
        && let DeValue::Table(over) = over.into_inner()
    {
        merge(base.get_mut(), over);
    }
    base
}

fn merge<'a>(base: &mut DeTable<'a>, over: DeTable<'a>) {
    for (k, v) in over {
        let both_tables = matches!(
            (
                base.get(k.get_ref().as_ref()).map(Spanned::get_ref),
                v.get_ref()
            ),
            (Some(DeValue::Table(_)), DeValue::Table(_))
        );
        if both_tables {
            if let (Some(DeValue::Table(b)), DeValue::Table(o)) = (
                base.get_mut(k.get_ref().as_ref()).map(Spanned::get_mut),
                v.into_inner(),
            ) {
                merge(b, o);
            }
        } else {
            base.remove(k.get_ref().as_ref());
            base.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_merge_deeply_and_keep_their_spans() {
        let text = "[serve]\nreplicas = 3\nwarmup = 2\n[env.staging]\nserve.replicas = 1\n";
        let root = DeTable::parse(text).unwrap();
        let staging = resolve(&root, "staging");
        let serve = staging.get_ref()["serve"].get_ref().as_table().unwrap();
        let replicas = &serve["replicas"];
        assert_eq!(&text[replicas.span()], "1");
        assert!(serve.contains_key("warmup"));
        assert!(!staging.get_ref().contains_key("env"));
        let production = resolve(&root, "production");
        let serve = production.get_ref()["serve"].get_ref().as_table().unwrap();
        assert_eq!(&text[serve["replicas"].span()], "3");
    }
}
