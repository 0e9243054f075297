//! A canonical, hashable form of an item's primary key, used to fold changes by key.

use super::value::{AttributeValue, Item};

/// The primary key of an item as one string: each key attribute's DynamoDB JSON in key-schema
/// order, joined by a separator no JSON text contains unescaped. Two items have the same key
/// exactly when their `ItemKey`s are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey(pub String);

impl ItemKey {
    /// Builds the key of `item` from the attribute names in `key_attributes`; `None` when the
    /// item lacks one of them.
    pub fn of(item: &Item, key_attributes: &[String]) -> Option<ItemKey> {
        let mut out = String::new();
        for (i, name) in key_attributes.iter().enumerate() {
            let value: &AttributeValue = item.get(name)?;
            if i > 0 {
                out.push('\u{1f}');
            }
            out.push_str(&serde_json::to_string(value).expect("attribute values always serialize"));
        }
        Some(ItemKey(out))
    }
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.replace('\u{1f}', ", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_uses_schema_order_and_ignores_other_attributes() {
        let mut item = Item::new();
        item.insert("sk".into(), AttributeValue::N("2".into()));
        item.insert("pk".into(), AttributeValue::S("a".into()));
        item.insert("x".into(), AttributeValue::Bool(true));
        let key = ItemKey::of(&item, &["pk".into(), "sk".into()]).unwrap();
        assert_eq!(key.to_string(), r#"{"S":"a"}, {"N":"2"}"#);
        assert!(ItemKey::of(&item, &["missing".into()]).is_none());
    }
}
