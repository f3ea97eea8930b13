//! Evaluating conditions and projections against an item.

use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand, Path, PathElement};
use crate::dynamodb::value::{AttributeValue, Item, type_name};

/// The value at `path`, if the item has one there.
pub fn resolve<'a>(item: &'a Item, path: &Path) -> Option<&'a AttributeValue> {
    let mut elements = path.iter();
    let Some(PathElement::Name(first)) = elements.next() else { return None };
    let mut current = item.get(first)?;
    for element in elements {
        current = match (element, current) {
            (PathElement::Name(name), AttributeValue::M(map)) => map.get(name)?,
            (PathElement::Index(index), AttributeValue::L(list)) => list.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Orders two values of the same scalar type (N, S, B); `None` otherwise.
pub fn compare(left: &AttributeValue, right: &AttributeValue) -> Option<Ordering> {
    match (left, right) {
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// The number of elements (or characters, or bytes) `size()` reports.
fn size_of(value: &AttributeValue) -> Option<AttributeValue> {
    let size = match value {
        AttributeValue::S(s) => s.chars().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(set) => set.len(),
        AttributeValue::Ns(set) => set.len(),
        AttributeValue::Bs(set) => set.len(),
        AttributeValue::M(map) => map.len(),
        AttributeValue::L(list) => list.len(),
        _ => return None,
    };
    Some(AttributeValue::N(size.to_string().parse().ok()?))
}

fn operand<'a>(item: &'a Item, operand: &'a Operand) -> Option<std::borrow::Cow<'a, AttributeValue>> {
    match operand {
        Operand::Path(path) => resolve(item, path).map(std::borrow::Cow::Borrowed),
        Operand::Value(value) => Some(std::borrow::Cow::Borrowed(value)),
        Operand::Size(path) => resolve(item, path).and_then(size_of).map(std::borrow::Cow::Owned),
    }
}

/// Whether `condition` holds for `item` (an absent item is an empty one).
pub fn matches(item: &Item, condition: &Condition) -> bool {
    match condition {
        Condition::Compare(left, comparator, right) => {
            let (left, right) = (operand(item, left), operand(item, right));
            match (left, right, comparator) {
                (Some(left), Some(right), Comparator::Eq) => left == right,
                (Some(left), Some(right), Comparator::Ne) => left != right,
                (None, _, Comparator::Ne) | (_, None, Comparator::Ne) => true,
                (Some(left), Some(right), comparator) => match compare(&left, &right) {
                    Some(ordering) => match comparator {
                        Comparator::Lt => ordering == Ordering::Less,
                        Comparator::Le => ordering != Ordering::Greater,
                        Comparator::Gt => ordering == Ordering::Greater,
                        Comparator::Ge => ordering != Ordering::Less,
                        Comparator::Eq | Comparator::Ne => unreachable!("handled above"),
                    },
                    None => false,
                },
                _ => false,
            }
        }
        Condition::Between(value, low, high) => {
            let (Some(value), Some(low), Some(high)) = (operand(item, value), operand(item, low), operand(item, high))
            else {
                return false;
            };
            matches!(compare(&value, &low), Some(Ordering::Greater | Ordering::Equal))
                && matches!(compare(&value, &high), Some(Ordering::Less | Ordering::Equal))
        }
        Condition::In(value, candidates) => {
            let Some(value) = operand(item, value) else { return false };
            candidates.iter().any(|candidate| operand(item, candidate).is_some_and(|c| c == value))
        }
        Condition::AttributeExists(path) => resolve(item, path).is_some(),
        Condition::AttributeNotExists(path) => resolve(item, path).is_none(),
        Condition::AttributeType(path, kind) => match (resolve(item, path), operand(item, kind)) {
            (Some(value), Some(kind)) => matches!(&*kind, AttributeValue::S(name) if name == type_name(value)),
            _ => false,
        },
        Condition::BeginsWith(value, prefix) => {
            match (operand(item, value).as_deref(), operand(item, prefix).as_deref()) {
                (Some(AttributeValue::S(value)), Some(AttributeValue::S(prefix))) => value.starts_with(prefix.as_str()),
                (Some(AttributeValue::B(value)), Some(AttributeValue::B(prefix))) => value.starts_with(prefix),
                _ => false,
            }
        }
        Condition::Contains(container, member) => {
            match (operand(item, container).as_deref(), operand(item, member).as_deref()) {
                (Some(AttributeValue::S(text)), Some(AttributeValue::S(part))) => text.contains(part.as_str()),
                (Some(AttributeValue::B(bytes)), Some(AttributeValue::B(part))) => {
                    part.is_empty() || bytes.windows(part.len()).any(|window| window == part.as_slice())
                }
                (Some(AttributeValue::Ss(set)), Some(AttributeValue::S(member))) => set.contains(member),
                (Some(AttributeValue::Ns(set)), Some(AttributeValue::N(member))) => set.contains(member),
                (Some(AttributeValue::Bs(set)), Some(AttributeValue::B(member))) => set.contains(member),
                (Some(AttributeValue::L(list)), Some(member)) => list.contains(member),
                _ => false,
            }
        }
        Condition::And(left, right) => matches(item, left) && matches(item, right),
        Condition::Or(left, right) => matches(item, left) || matches(item, right),
        Condition::Not(inner) => !matches(item, inner),
    }
}

/// Which parts of a value a projection keeps.
#[derive(Debug)]
enum Selection {
    Whole,
    Map(std::collections::BTreeMap<String, Selection>),
    List(std::collections::BTreeMap<usize, Selection>),
}

impl Selection {
    fn add(&mut self, path: &[PathElement]) {
        let Some((head, rest)) = path.split_first() else {
            *self = Selection::Whole;
            return;
        };
        let child = match (self, head) {
            (Selection::Whole, _) => return,
            (Selection::Map(children), PathElement::Name(name)) => {
                children.entry(name.clone()).or_insert_with(|| empty(rest))
            }
            (Selection::List(children), PathElement::Index(index)) => {
                children.entry(*index).or_insert_with(|| empty(rest))
            }
            // A path that treats the value as a map and as a list selects nothing more.
            _ => return,
        };
        child.add(rest);
    }

    fn apply(&self, value: &AttributeValue) -> Option<AttributeValue> {
        match (self, value) {
            (Selection::Whole, value) => Some(value.clone()),
            (Selection::Map(children), AttributeValue::M(map)) => {
                let kept: Item = children
                    .iter()
                    .filter_map(|(name, child)| Some((name.clone(), child.apply(map.get(name)?)?)))
                    .collect();
                (!kept.is_empty()).then_some(AttributeValue::M(kept))
            }
            (Selection::List(children), AttributeValue::L(list)) => {
                // Selected elements keep their document order, compacted.
                let kept: Vec<AttributeValue> =
                    children.iter().filter_map(|(index, child)| child.apply(list.get(*index)?)).collect();
                (!kept.is_empty()).then_some(AttributeValue::L(kept))
            }
            _ => None,
        }
    }
}

/// The selection for what follows a path element: a map for a name, a list
/// for an index, or the whole value at the end of the path.
fn empty(rest: &[PathElement]) -> Selection {
    match rest.first() {
        None => Selection::Whole,
        Some(PathElement::Name(_)) => Selection::Map(Default::default()),
        Some(PathElement::Index(_)) => Selection::List(Default::default()),
    }
}

/// The part of `item` that `paths` select, nested structure kept; list
/// elements selected by index keep their document order, compacted, and
/// each appears once however many paths reach into it.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut selection = Selection::Map(Default::default());
    for path in paths {
        selection.add(path);
    }
    match selection.apply(&AttributeValue::M(item.clone())) {
        Some(AttributeValue::M(projected)) => projected,
        _ => Item::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::{
        expr::{ExpressionKind, Placeholders, parser::parse_condition, parser::parse_projection},
        value::item_from_json,
    };

    fn item() -> Item {
        item_from_json(&serde_json::json!({
            "id": { "S": "abc" },
            "n": { "N": "10" },
            "tags": { "SS": ["red", "blue"] },
            "m": { "M": { "x": { "N": "1" }, "y": { "L": [{ "S": "a" }, { "S": "b" }, { "S": "c" }] } } },
            "arr": { "L": [{ "N": "1" }, { "S": "two" }] },
        }))
        .unwrap()
    }

    fn holds(text: &str) -> bool {
        let mut placeholders = Placeholders::with(
            &[],
            &[
                (":five", AttributeValue::N("5".parse().unwrap())),
                (":ten", AttributeValue::N("10".parse().unwrap())),
                (":ab", AttributeValue::S("ab".into())),
                (":red", AttributeValue::S("red".into())),
                (":ss", AttributeValue::S("SS".into())),
                (":two", AttributeValue::S("two".into())),
            ],
        );
        let condition = parse_condition(ExpressionKind::Condition, text, &mut placeholders).unwrap();
        matches(&item(), &condition)
    }

    #[test]
    fn comparisons_follow_types() {
        assert!(holds("n > :five AND n <= :ten"));
        assert!(holds("n BETWEEN :five AND :ten"));
        assert!(holds("n IN (:five, :ten)"));
        assert!(!holds("id > :five"), "different types never compare");
        assert!(holds("absent <> :five"));
        assert!(!holds("absent = :five"));
    }

    #[test]
    fn functions() {
        assert!(holds("begins_with(id, :ab)"));
        assert!(holds("contains(tags, :red) AND contains(arr, :two)"));
        assert!(holds("attribute_type(tags, :ss)"));
        assert!(holds("attribute_exists(m.y[2]) AND attribute_not_exists(m.y[3])"));
        assert!(holds("size(m.y) = :five OR size(tags) < :five"));
        assert!(holds("NOT (n < :five)"));
    }

    #[test]
    fn projections_merge_paths_into_one_element() {
        let item = item_from_json(&serde_json::json!({
            "l": { "L": [{ "M": { "a": { "N": "1" }, "b": { "N": "2" }, "c": { "N": "3" } } }] }
        }))
        .unwrap();
        let mut placeholders = Placeholders::default();
        let paths = parse_projection("l[0].a, l[0].b", &mut placeholders).unwrap();
        assert_eq!(
            crate::dynamodb::value::item_to_json(&project(&item, &paths)),
            serde_json::json!({ "l": { "L": [{ "M": { "a": { "N": "1" }, "b": { "N": "2" } } }] } })
        );
    }

    #[test]
    fn projections_keep_structure() {
        let mut placeholders = Placeholders::default();
        let paths = parse_projection("id, m.y[2], m.y[0], arr[1]", &mut placeholders).unwrap();
        let projected = project(&item(), &paths);
        assert_eq!(
            crate::dynamodb::value::item_to_json(&projected),
            serde_json::json!({
                "id": { "S": "abc" },
                "m": { "M": { "y": { "L": [{ "S": "a" }, { "S": "c" }] } } },
                "arr": { "L": [{ "S": "two" }] },
            })
        );
    }
}
