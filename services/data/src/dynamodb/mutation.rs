//! How a change to an item becomes engine writes: the item's row, its
//! entries in every secondary index, and its stream record, all in one
//! atomic engine write, so indexes and streams never disagree with the
//! table. Writes that depend on the current item read it and commit with
//! compare-and-set on its version, retrying when another writer got there
//! first.

use serde_json::json;

use super::{
    Dynamo,
    error::{DynamoError, Result},
    expr::ast::{Path, PathElement},
    expr::eval::project,
    keys,
    shards::Lineage,
    table::{Index, Projection, Table},
    value::{Item, item_size, item_to_json},
};
use crate::engine::{Change, EngineError, Expect, Key, Write, backoff::Backoff};

/// Compare-and-set attempts before a write gives up under contention.
const MAX_ATTEMPTS: usize = 10_000;

pub fn encode_item(item: &Item) -> Vec<u8> {
    super::item_codec::encode(item)
}

pub fn decode_item(bytes: &[u8]) -> Result<Item> {
    super::item_codec::decode(bytes)
}

/// The attributes an index entry keeps of an item.
pub fn project_for_index(table: &Table, index: &Index, item: &Item) -> Item {
    match &index.projection {
        Projection::All => item.clone(),
        projection => {
            let mut names: Vec<&str> = table.key_names();
            names.extend(index.key_names());
            if let Projection::Include(extra) = projection {
                names.extend(extra.iter().map(String::as_str));
            }
            let paths: Vec<Path> = names.into_iter().map(|name| vec![PathElement::Name(name.to_owned())]).collect();
            project(item, &paths)
        }
    }
}

/// Whether a table needs the current item before writing a new one.
pub fn needs_old_item(table: &Table) -> bool {
    !table.indexes.is_empty() || table.stream.is_some()
}

/// Who made a change; TTL deletions are the service's, shown in streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User,
    TimeToLive,
}

/// The engine writes that take an item from `old` to `new`.
pub fn item_writes(
    table: &Table,
    key: &Key,
    old: Option<&Item>,
    new: Option<&Item>,
    expect: Expect,
    actor: Actor,
) -> Result<Vec<Write>> {
    let mut writes = vec![match new {
        Some(item) => Write::put(&table.id, key.clone(), encode_item(item), expect),
        None => Write::delete(&table.id, key.clone(), expect),
    }];
    if let Some(item) = new {
        keys::check_index_keys(table, item, keys::Written::Item)?;
    }
    for index in &table.indexes {
        // An old item whose attributes cannot key the index has no entry.
        let old_entry = old.and_then(|item| keys::of_index_entry(table, index, item).ok().flatten());
        let new_entry = new.map(|item| keys::of_index_entry(table, index, item)).transpose()?.flatten();
        if let Some(old_entry) = &old_entry
            && new_entry.as_ref() != Some(old_entry)
        {
            writes.push(Write::delete(&index.id, old_entry.clone(), Expect::Anything));
        }
        if let (Some(entry), Some(item)) = (new_entry, new) {
            writes.push(Write::put(
                &index.id,
                entry,
                encode_item(&project_for_index(table, index, item)),
                Expect::Anything,
            ));
        }
    }
    if let Some(stream) = &table.stream
        && old != new
    {
        let event = match (old, new) {
            (None, Some(_)) => "INSERT",
            (Some(_), Some(_)) => "MODIFY",
            _ => "REMOVE",
        };
        let keys_item = keys::attributes_of(table, new.or(old).unwrap_or(&Item::new()));
        let mut record = json!({
            "eventName": event,
            "ApproximateCreationDateTime": chrono::Utc::now().timestamp(),
            "Keys": item_to_json(&keys_item),
            "SizeBytes": new.or(old).map(item_size).unwrap_or(0),
            "StreamViewType": stream.view_type,
        });
        if matches!(stream.view_type.as_str(), "NEW_IMAGE" | "NEW_AND_OLD_IMAGES")
            && let Some(new) = new
        {
            record["NewImage"] = item_to_json(new);
        }
        if matches!(stream.view_type.as_str(), "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")
            && let Some(old) = old
        {
            record["OldImage"] = item_to_json(old);
        }
        if actor == Actor::TimeToLive {
            record["userIdentity"] = json!({ "Type": "Service", "PrincipalId": "dynamodb.amazonaws.com" });
        }
        // The shard of this moment (see `shards`).
        let lineage = Lineage::of(stream);
        let shard = lineage.shard_id(lineage.generation_at(chrono::Utc::now().timestamp_millis()));
        writes.push(Write {
            table: table.stream_log(),
            key: Key { partition: shard.as_bytes().to_vec(), clustering: Vec::new() },
            change: Change::Append(record.to_string().into_bytes()),
            expect: Expect::Anything,
        });
        // Refused once the shard is sealed (see `Lineage::seal_partition`).
        writes.push(Write {
            table: table.stream_log(),
            key: Key { partition: Lineage::seal_partition(&shard), clustering: Vec::new() },
            change: Change::Check,
            expect: Expect::Version(0),
        });
    }
    Ok(writes)
}

/// What a conditional write changed: the item before and after.
pub struct Outcome {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// Reads the item at `key`, lets `decide` compute its next state, and
/// commits it if nobody wrote in between, else tries again.
pub async fn read_modify_write(
    dynamo: &Dynamo,
    table: &Table,
    key: &Key,
    actor: Actor,
    decide: impl Fn(Option<&Item>) -> Result<Option<Item>>,
) -> Result<Outcome> {
    let mut backoff = Backoff::new();
    for _ in 0..MAX_ATTEMPTS {
        let row = dynamo.engine.get(&table.id, key).await?;
        let old = row.as_ref().map(|row| decode_item(&row.value)).transpose()?;
        let new = decide(old.as_ref())?;
        let expect = Expect::Version(row.map_or(0, |row| row.version));
        let writes = item_writes(table, key, old.as_ref(), new.as_ref(), expect, actor)?;
        match dynamo.engine.write(writes).await {
            Ok(_) => return Ok(Outcome { old, new }),
            Err(EngineError::VersionMismatch { .. }) => backoff.wait().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(DynamoError::internal("The item was written concurrently too often; retry the request"))
}

/// What one item of a batch changed: its table, the item before, after.
pub type ItemChange = (Table, Option<Item>, Option<Item>);

/// Writes several items at once (BatchWriteItem): `None` deletes. Reads
/// the current items first only when indexes or streams need them, or
/// `read_old` asks (capacity is billed on the larger of old and new).
pub async fn write_items(
    dynamo: &Dynamo,
    changes: Vec<(Table, Key, Option<Item>)>,
    read_old: bool,
) -> Result<Vec<ItemChange>> {
    if !read_old && !changes.iter().any(|(table, _, _)| needs_old_item(table)) {
        let mut writes = Vec::new();
        for (table, key, new) in &changes {
            writes.extend(item_writes(table, key, None, new.as_ref(), Expect::Anything, Actor::User)?);
        }
        dynamo.engine.write(writes).await?;
        return Ok(changes.into_iter().map(|(table, _, new)| (table, None, new)).collect());
    }
    let mut backoff = Backoff::new();
    for _ in 0..MAX_ATTEMPTS {
        let rows = dynamo
            .engine
            .get_many(changes.iter().map(|(table, key, _)| (table.id.clone(), key.clone())).collect())
            .await?;
        let mut writes = Vec::new();
        let mut olds = Vec::with_capacity(changes.len());
        for ((table, key, new), row) in changes.iter().zip(rows) {
            let old = row.as_ref().map(|row| decode_item(&row.value)).transpose()?;
            let expect = Expect::Version(row.map_or(0, |row| row.version));
            writes.extend(item_writes(table, key, old.as_ref(), new.as_ref(), expect, Actor::User)?);
            olds.push(old);
        }
        match dynamo.engine.write(writes).await {
            Ok(_) => {
                return Ok(changes.into_iter().zip(olds).map(|((table, _, new), old)| (table, old, new)).collect());
            }
            Err(EngineError::VersionMismatch { .. }) => backoff.wait().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(DynamoError::internal("The items were written concurrently too often; retry the request"))
}
