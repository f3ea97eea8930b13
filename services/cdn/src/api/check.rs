//! Reading a request's element tree as CloudFront reads it: required
//! members, booleans, integers in range, values from a set, and every
//! `Quantity` against its `Items` (`InconsistentQuantities`).

use nubo_host::front::AwsError;

use super::errors::{Result, bad, invalid_argument, malformed};
use crate::model::Node;

/// Every list in `node` (a member with a `Quantity`) holds as many
/// `Items` as it says; an empty `<Items/>` is taken for none.
pub fn quantities(node: &Node) -> Result<()> {
    if let Some(quantity) = node.child("Quantity") {
        let said: usize = quantity
            .text
            .trim()
            .parse()
            .map_err(|_| malformed(format!("Quantity of {} is not a number: '{}'", node.name, quantity.text)))?;
        let held = node.child("Items").map_or(0, |items| items.children.len());
        if said != held {
            return Err(bad("InconsistentQuantities", "The value of Quantity and the size of Items don't match."));
        }
    }
    node.children.iter().try_for_each(quantities)
}

/// The child `name`, which must be there.
pub fn required<'n>(node: &'n Node, name: &str) -> Result<&'n Node> {
    node.child(name).ok_or_else(|| missing(name))
}

pub fn missing(name: &str) -> AwsError {
    invalid_argument(format!("The parameter {name} is required."))
}

/// The text of the child `name`, which must be there (it may be empty).
pub fn required_text<'n>(node: &'n Node, name: &str) -> Result<&'n str> {
    Ok(required(node, name)?.text.as_str())
}

/// The child `name` as a boolean, if it is there.
pub fn flag(node: &Node, name: &str) -> Result<Option<bool>> {
    match node.text_of(name).map(str::trim) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(malformed(format!("{name} must be true or false, not '{other}'"))),
    }
}

pub fn required_flag(node: &Node, name: &str) -> Result<bool> {
    flag(node, name)?.ok_or_else(|| missing(name))
}

/// The child `name` as an integer, if it is there.
pub fn integer(node: &Node, name: &str) -> Result<Option<i64>> {
    match node.text_of(name).map(str::trim) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| malformed(format!("{name} must be an integer, not '{text}'"))),
    }
}

/// The child `name` as an integer within `range`, if it is there; out of
/// range is `code`.
pub fn integer_in(
    node: &Node,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    code: &'static str,
) -> Result<Option<i64>> {
    match integer(node, name)? {
        Some(value) if !range.contains(&value) => Err(bad(
            code,
            format!("The parameter {name} must be between {} and {}; {value} is not.", range.start(), range.end()),
        )),
        value => Ok(value),
    }
}

/// `value`, the text of member `name`, must be one of `allowed`.
pub fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid_argument(format!(
            "The value '{value}' of {name} is not valid; it must be one of {}.",
            allowed.join(", ")
        )))
    }
}

/// The texts of the `Items` of the list child `name`, trimmed.
pub fn texts(node: &Node, name: &str) -> Vec<String> {
    node.items(name).iter().map(|item| item.text.trim().to_owned()).collect()
}

/// Puts `node`'s children in `order` (CloudFront's member order), those
/// not named there after, as they came.
pub fn reorder(node: &mut Node, order: &[&str]) {
    let rank = |child: &Node| order.iter().position(|name| *name == child.name).unwrap_or(order.len());
    node.children.sort_by_key(rank);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::list_of;

    #[test]
    fn quantities_must_match_their_items() {
        let good = Node::new("X").with(list_of("Aliases", "CNAME", &["a", "b"])).with(list_of("Empty", "A", &[]));
        assert!(quantities(&good).is_ok());
        let mut bad_list = list_of("Aliases", "CNAME", &["a", "b"]);
        bad_list.set("Quantity", "3");
        let error = quantities(&Node::new("X").with(Node::new("Deep").with(bad_list))).unwrap_err();
        assert_eq!(error.code, "InconsistentQuantities");
        let said_none = Node::new("L").with(Node::leaf("Quantity", "1"));
        assert_eq!(quantities(&said_none).unwrap_err().code, "InconsistentQuantities");
        let empty_items = Node::new("L").with(Node::leaf("Quantity", "0")).with(Node::new("Items"));
        assert!(quantities(&empty_items).is_ok());
        let not_a_number = Node::new("L").with(Node::leaf("Quantity", "two"));
        assert_eq!(quantities(&not_a_number).unwrap_err().code, "MalformedInput");
    }

    #[test]
    fn members_are_read_strictly() {
        let node = Node::new("X")
            .with(Node::leaf("Enabled", "true"))
            .with(Node::leaf("Bad", "yes"))
            .with(Node::leaf("Port", "70000"));
        assert!(required_flag(&node, "Enabled").unwrap());
        assert_eq!(flag(&node, "Bad").unwrap_err().code, "MalformedInput");
        assert_eq!(required_flag(&node, "Missing").unwrap_err().code, "InvalidArgument");
        assert_eq!(integer_in(&node, "Port", 1..=65535, "InvalidArgument").unwrap_err().status, 400);
        assert!(one_of("Policy", "http-only", &["http-only", "https-only"]).is_ok());
        assert!(one_of("Policy", "ftp", &["http-only"]).is_err());
    }

    #[test]
    fn members_are_put_in_order() {
        let mut node = Node::new("X").with(Node::leaf("C", "")).with(Node::leaf("Z", "")).with(Node::leaf("A", ""));
        reorder(&mut node, &["A", "B", "C"]);
        let names: Vec<&str> = node.children.iter().map(|child| child.name.as_str()).collect();
        assert_eq!(names, ["A", "C", "Z"]);
    }
}
