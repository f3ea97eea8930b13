//! Any text as any kind of expression: the parser must answer with a
//! value or a ValidationException, never panic, and what parses must
//! evaluate and apply without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_data::dynamodb::{
    expr::{
        ExpressionKind, Placeholders,
        eval::{matches, project},
        parser::{parse_condition, parse_projection, parse_update},
        update::apply,
    },
    value::{AttributeValue, Item, item_from_json},
};

fn placeholders() -> Placeholders {
    Placeholders::with(
        &[("#a", "a"), ("#b", "b.c"), ("#l", "l")],
        &[
            (":n", AttributeValue::N("1".parse().expect("a number"))),
            (":s", AttributeValue::S("x".into())),
            (":l", AttributeValue::L(vec![AttributeValue::Null])),
            (":ss", AttributeValue::Ss(["x".to_string()].into())),
        ],
    )
}

fuzz_target!(|text: &str| {
    let item: Item = item_from_json(&serde_json::json!({
        "a": { "N": "5" }, "l": { "L": [{ "S": "x" }, { "M": { "k": { "BOOL": true } } }] }, "m": { "M": { "n": { "SS": ["x"] } } }
    }))
    .expect("a valid item");
    if let Ok(condition) = parse_condition(ExpressionKind::Condition, text, &mut placeholders()) {
        let _ = matches(&item, &condition);
    }
    if let Ok(update) = parse_update(text, &mut placeholders()) {
        let _ = apply(&item, &update, &["id"]);
    }
    if let Ok(paths) = parse_projection(text, &mut placeholders()) {
        let _ = project(&item, &paths);
    }
});
