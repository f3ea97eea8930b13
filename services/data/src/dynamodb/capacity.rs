//! `ConsumedCapacity`, with DynamoDB's arithmetic ("Read/write capacity
//! mode" in its developer guide): a write costs one unit per 1 KB of the
//! larger of the item before and after, a read one unit per 4 KB (half for
//! an eventually consistent read), a read of a missing item still costs
//! its minimum, a transaction costs double, and every secondary index an
//! item's change writes to costs its own units for the projected entry.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    keys,
    mutation::project_for_index,
    table::{Index, Table},
    value::{Item, item_size},
};

/// What a request asked for (`ReturnConsumedCapacity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Total,
    Indexes,
}

impl Mode {
    pub fn of(requested: Option<&str>) -> Self {
        match requested {
            Some("TOTAL") => Mode::Total,
            Some("INDEXES") => Mode::Indexes,
            _ => Mode::None,
        }
    }

    pub fn wanted(self) -> bool {
        self != Mode::None
    }
}

/// Write units of an item of `bytes` (at least one).
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// Read units of `bytes` read (at least the minimum of one read).
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    bytes.div_ceil(4096).max(1) as f64 * if consistent { 1.0 } else { 0.5 }
}

#[derive(Debug, Default, Clone)]
struct Usage {
    read: f64,
    write: f64,
    table: f64,
    global: BTreeMap<String, f64>,
    local: BTreeMap<String, f64>,
}

impl Usage {
    fn total(&self) -> f64 {
        self.table + self.global.values().sum::<f64>() + self.local.values().sum::<f64>()
    }
}

/// The capacity one request consumed, per table and index.
#[derive(Debug, Default, Clone)]
pub struct Consumed {
    tables: BTreeMap<String, Usage>,
    /// Transactions report read and write units apart.
    split: bool,
}

impl Consumed {
    fn usage(&mut self, table: &Table) -> &mut Usage {
        self.tables.entry(table.name.clone()).or_default()
    }

    /// A read of `units` from the table, or from one of its indexes.
    pub fn read(&mut self, table: &Table, index: Option<&Index>, units: f64) {
        let usage = self.usage(table);
        usage.read += units;
        match index {
            None => usage.table += units,
            Some(index) if index.global => *usage.global.entry(index.name.clone()).or_default() += units,
            Some(index) => *usage.local.entry(index.name.clone()).or_default() += units,
        }
    }

    /// An item's change from `old` to `new`: the table's write, and each
    /// index's — one entry written or deleted, or both when its key moved.
    pub fn write(&mut self, table: &Table, old: Option<&Item>, new: Option<&Item>) {
        let largest = old.map_or(0, item_size).max(new.map_or(0, item_size));
        let units = write_units(largest);
        let usage = self.usage(table);
        usage.write += units;
        usage.table += units;
        for index in &table.indexes {
            let entry = |item: Option<&Item>| {
                let item = item?;
                let key = keys::of_index_entry(table, index, item).ok().flatten()?;
                Some((key, item_size(&project_for_index(table, index, item))))
            };
            let units = match (entry(old), entry(new)) {
                (None, None) => continue,
                (Some((_, size)), None) | (None, Some((_, size))) => write_units(size),
                (Some((old_key, old_size)), Some((new_key, new_size))) if old_key == new_key => {
                    if old == new {
                        continue;
                    }
                    write_units(old_size.max(new_size))
                }
                (Some((_, old_size)), Some((_, new_size))) => write_units(old_size) + write_units(new_size),
            };
            let usage = self.usage(table);
            usage.write += units;
            let slot = if index.global { &mut usage.global } else { &mut usage.local };
            *slot.entry(index.name.clone()).or_default() += units;
        }
    }

    /// Transactions cost twice the units of the same plain requests.
    pub fn doubled(mut self) -> Self {
        for usage in self.tables.values_mut() {
            usage.read *= 2.0;
            usage.write *= 2.0;
            usage.table *= 2.0;
            usage.global.values_mut().for_each(|units| *units *= 2.0);
            usage.local.values_mut().for_each(|units| *units *= 2.0);
        }
        self.split = true;
        self
    }

    fn render(&self, name: &str, usage: &Usage, mode: Mode) -> Value {
        let mut consumed = json!({ "TableName": name, "CapacityUnits": usage.total() });
        if self.split {
            consumed["ReadCapacityUnits"] = json!(usage.read);
            consumed["WriteCapacityUnits"] = json!(usage.write);
        }
        if mode == Mode::Indexes {
            consumed["Table"] = json!({ "CapacityUnits": usage.table });
            let indexes = |map: &BTreeMap<String, f64>| -> Value {
                map.iter().map(|(name, units)| (name.clone(), json!({ "CapacityUnits": units }))).collect()
            };
            if !usage.global.is_empty() {
                consumed["GlobalSecondaryIndexes"] = indexes(&usage.global);
            }
            if !usage.local.is_empty() {
                consumed["LocalSecondaryIndexes"] = indexes(&usage.local);
            }
        }
        consumed
    }

    /// The single `ConsumedCapacity` of a one-table request.
    pub fn one(&self, table: &Table, mode: Mode) -> Option<Value> {
        if !mode.wanted() {
            return None;
        }
        let usage = self.tables.get(&table.name).cloned().unwrap_or_default();
        Some(self.render(&table.name, &usage, mode))
    }

    /// The list of `ConsumedCapacity`, one per table (batches, transactions).
    pub fn list(&self, mode: Mode) -> Option<Value> {
        mode.wanted()
            .then(|| Value::Array(self.tables.iter().map(|(name, usage)| self.render(name, usage, mode)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up_per_kilobyte_and_per_four() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(0, true), 1.0, "a missing item still costs a read");
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
    }
}
