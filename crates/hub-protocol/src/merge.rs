//! The per-field merge rule, shared by the sync server and the devices.
//!
//! Every field of every row converges to the value with the highest clock
//! (last writer wins, by hybrid logical clock), whatever order changes
//! arrive in. What the plain rule would lose silently is a *concurrent*
//! value: one its overwriter had never seen. Each version therefore carries
//! `base`, the clock of the version its writer had in front of them; a
//! version that loses without being an ancestor of the winner is reported as
//! lost, so the caller can keep it in `conflicts`.
//!
//! Ancestry is followed through `base` links: `base_of(clock)` answers the
//! base of a version the caller has stored. Where a link is unknown the rule
//! reports a loss: a spurious conflict can be dismissed, a lost edit cannot be
//! brought back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::change::FieldValue;
use crate::hlc::Hlc;

/// One value of one field, as written by one change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub value: FieldValue,
    pub clock: Hlc,
    /// The clock of the version the writer had seen; None for a first write.
    pub base: Option<Hlc>,
}

/// The current version of every field of one row: how the server stores a row (one
/// document per row, so a snapshot reads a row at once) and how a snapshot sends it.
///
/// As JSON, `clocks` may hold `"*"`: the clock of every field of `fields` that is not
/// listed. A row written at once (the usual case) then carries one clock instead of one
/// per field, which is most of its size. In memory every field has its own entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "RowVersionsIn")]
pub struct RowVersions {
    pub fields: BTreeMap<String, FieldValue>,
    pub clocks: BTreeMap<String, Hlc>,
    /// Base of each current version, where it had one.
    pub bases: BTreeMap<String, Hlc>,
}

/// The JSON form of [`RowVersions`], read.
#[derive(Deserialize)]
struct RowVersionsIn {
    fields: BTreeMap<String, FieldValue>,
    clocks: BTreeMap<String, Hlc>,
    #[serde(default)]
    bases: BTreeMap<String, Hlc>,
}

/// The JSON form of [`RowVersions`], written.
#[derive(Serialize)]
struct RowVersionsOut<'a> {
    fields: &'a BTreeMap<String, FieldValue>,
    clocks: BTreeMap<&'a str, Hlc>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    bases: &'a BTreeMap<String, Hlc>,
}

/// The key of the clock shared by every field a row's `clocks` does not list.
const EVERY_OTHER_FIELD: &str = "*";

impl From<RowVersionsIn> for RowVersions {
    fn from(doc: RowVersionsIn) -> Self {
        let mut clocks = doc.clocks;
        if let Some(shared) = clocks.remove(EVERY_OTHER_FIELD) {
            for field in doc.fields.keys() {
                clocks.entry(field.clone()).or_insert(shared);
            }
        }
        RowVersions {
            fields: doc.fields,
            clocks,
            bases: doc.bases,
        }
    }
}

impl Serialize for RowVersions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The most common clock becomes "*" when it saves space (two fields or more).
        let mut counts: BTreeMap<Hlc, usize> = BTreeMap::new();
        for clock in self.clocks.values() {
            *counts.entry(*clock).or_default() += 1;
        }
        let shared = counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .filter(|(_, n)| *n > 1)
            .map(|(c, _)| c);
        let mut clocks: BTreeMap<&str, Hlc> = self
            .clocks
            .iter()
            .filter(|(field, clock)| {
                Some(**clock) != shared || !self.fields.contains_key(field.as_str())
            })
            .map(|(field, clock)| (field.as_str(), *clock))
            .collect();
        if let Some(shared) = shared {
            clocks.insert(EVERY_OTHER_FIELD, shared);
        }
        RowVersionsOut {
            fields: &self.fields,
            clocks,
            bases: &self.bases,
        }
        .serialize(serializer)
    }
}

impl RowVersions {
    /// The current version of `field`, if the row has one.
    pub fn get(&self, field: &str) -> Option<Version> {
        Some(Version {
            value: self.fields.get(field)?.clone(),
            clock: *self.clocks.get(field)?,
            base: self.bases.get(field).copied(),
        })
    }

    /// Makes `version` the current version of `field`.
    pub fn set(&mut self, field: &str, version: Version) {
        self.fields.insert(field.to_owned(), version.value);
        self.clocks.insert(field.to_owned(), version.clock);
        match version.base {
            Some(base) => self.bases.insert(field.to_owned(), base),
            None => self.bases.remove(field),
        };
    }

    /// Every field with its current version.
    pub fn versions(&self) -> impl Iterator<Item = (&str, Version)> + '_ {
        self.fields
            .keys()
            .filter_map(|f| self.get(f).map(|v| (f.as_str(), v)))
    }

    /// The highest clock of the row.
    pub fn newest(&self) -> Option<Hlc> {
        self.clocks.values().max().copied()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// This very version is already current.
    Duplicate,
    /// The incoming version becomes current. `lost`: the replaced version,
    /// when the incoming writer had not seen it (and it differs).
    Apply { lost: Option<Version> },
    /// The current version stays. `lost`: the incoming version, when the
    /// current writer had not seen it (and it differs).
    Keep { lost: Option<Version> },
}

/// Merge `incoming` into a field whose current version is `current`.
/// `base_of(c)` gives the base of a stored version with clock `c`
/// (`Some(None)` for a first write, `None` when the version is unknown).
pub fn merge_field(
    current: Option<&Version>,
    incoming: Version,
    base_of: impl Fn(Hlc) -> Option<Option<Hlc>>,
) -> Outcome {
    let Some(current) = current else {
        return Outcome::Apply { lost: None };
    };
    if incoming.clock == current.clock {
        return Outcome::Duplicate;
    }
    let differs = incoming.value != current.value;
    if incoming.clock > current.clock {
        let seen = descends_from(incoming.base, current.clock, &base_of);
        Outcome::Apply {
            lost: (!seen && differs).then(|| current.clone()),
        }
    } else {
        let seen = descends_from(current.base, incoming.clock, &base_of);
        Outcome::Keep {
            lost: (!seen && differs).then_some(incoming),
        }
    }
}

/// Whether the version with clock `ancestor` is on the chain of bases that
/// starts at `base`. Clocks fall along a chain (a writer's clock is above
/// everything it has seen), so the walk stops as soon as it passes below.
fn descends_from(
    mut base: Option<Hlc>,
    ancestor: Hlc,
    base_of: &impl Fn(Hlc) -> Option<Option<Hlc>>,
) -> bool {
    while let Some(b) = base {
        if b == ancestor {
            return true;
        }
        if b < ancestor {
            return false;
        }
        base = match base_of(b) {
            Some(next) => next,
            None => return false, // unknown link: assume unseen, keep the value
        };
    }
    false
}

/// The id of the conflict that keeps `lost` for one field of one row: the
/// same on every replica that detects it, so conflicts deduplicate.
pub fn conflict_id(entity: &str, row: Uuid, field: &str, lost: Hlc) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x1c0e_5a7e_4f3b_4d21_a8c6_93f2_7b10_d5e8);
    Uuid::new_v5(
        &NAMESPACE,
        format!("{entity}/{row}/{field}/{lost}").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use serde_json::json;

    use super::*;
    use crate::hlc::DeviceId;

    fn clock(ms: u64, device: u8) -> Hlc {
        Hlc {
            ms,
            counter: 0,
            device: DeviceId(Uuid::from_bytes([device; 16])),
        }
    }

    fn version(value: serde_json::Value, clock: Hlc, base: Option<Hlc>) -> Version {
        Version { value, clock, base }
    }

    #[test]
    fn row_versions_share_one_clock_in_json_and_expand_when_read() {
        let (created, edited) = (clock(10, 1), clock(20, 2));
        let mut row = RowVersions::default();
        row.set("name", version(json!("Ada"), created, None));
        row.set("city", version(json!(null), created, None));
        row.set("deleted_at", version(json!(null), created, None));
        row.set("title", version(json!("Countess"), edited, Some(created)));
        let text = serde_json::to_string(&row).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            doc["clocks"],
            json!({"*": created.to_string(), "title": edited.to_string()})
        );
        assert_eq!(doc["bases"], json!({"title": created.to_string()}));
        let back: RowVersions = serde_json::from_str(&text).unwrap();
        assert_eq!(back, row);
        assert_eq!(back.get("city"), Some(version(json!(null), created, None)));

        // The long form (every field listed, no bases) reads the same.
        let long = json!({
            "fields": {"name": "Ada", "title": "Countess"},
            "clocks": {"name": created.to_string(), "title": edited.to_string()},
        });
        let read: RowVersions = serde_json::from_value(long).unwrap();
        assert_eq!(read.get("name"), Some(version(json!("Ada"), created, None)));
        assert_eq!(
            read.get("title"),
            Some(version(json!("Countess"), edited, None))
        );
        // Distinct clocks: nothing to share, nothing lost.
        let text = serde_json::to_string(&read).unwrap();
        assert!(!text.contains('*'), "{text}");
        assert_eq!(serde_json::from_str::<RowVersions>(&text).unwrap(), read);
    }

    fn v(value: &str, clock: Hlc, base: Option<Hlc>) -> Version {
        Version {
            value: json!(value),
            clock,
            base,
        }
    }

    #[test]
    fn an_informed_overwrite_loses_nothing() {
        let a = v("old", clock(1, 1), None);
        let b = v("new", clock(2, 2), Some(a.clock));
        assert_eq!(
            merge_field(Some(&a), b.clone(), |_| None),
            Outcome::Apply { lost: None }
        );
        // Arriving the other way round: the old one is an ancestor of the current.
        assert_eq!(
            merge_field(Some(&b), a, |_| None),
            Outcome::Keep { lost: None }
        );
    }

    #[test]
    fn concurrent_edits_converge_and_keep_the_loser_either_way() {
        let root = v("0", clock(1, 1), None);
        let a = v("A", clock(5, 1), Some(root.clock));
        let b = v("B", clock(6, 2), Some(root.clock));
        assert_eq!(
            merge_field(Some(&a), b.clone(), |_| None),
            Outcome::Apply {
                lost: Some(a.clone())
            }
        );
        assert_eq!(
            merge_field(Some(&b), a.clone(), |_| None),
            Outcome::Keep {
                lost: Some(a.clone())
            }
        );
        assert_eq!(
            merge_field(Some(&b), b.clone(), |_| None),
            Outcome::Duplicate
        );
    }

    #[test]
    fn a_late_concurrent_value_is_kept_even_behind_a_later_informed_edit() {
        // A and B both edit from root; C edits on top of B; A arrives last.
        let root = clock(1, 1);
        let a = v("A", clock(5, 1), Some(root));
        let b = v("B", clock(6, 2), Some(root));
        let c = v("C", clock(7, 3), Some(b.clock));
        let bases: BTreeMap<Hlc, Option<Hlc>> =
            [(root, None), (b.clock, b.base), (c.clock, c.base)].into();
        let outcome = merge_field(Some(&c), a.clone(), |h| bases.get(&h).copied());
        assert_eq!(outcome, Outcome::Keep { lost: Some(a) });
    }

    #[test]
    fn the_same_value_written_twice_is_no_conflict() {
        let a = v("same", clock(5, 1), None);
        let b = v("same", clock(6, 2), None);
        assert_eq!(
            merge_field(Some(&a), b, |_| None),
            Outcome::Apply { lost: None }
        );
    }

    #[test]
    fn conflict_ids_are_stable() {
        let row = Uuid::from_u128(7);
        assert_eq!(
            conflict_id("contact", row, "title", clock(5, 1)),
            conflict_id("contact", row, "title", clock(5, 1))
        );
        assert_ne!(
            conflict_id("contact", row, "title", clock(5, 1)),
            conflict_id("contact", row, "email", clock(5, 1))
        );
    }

    /// A field edited by several devices, each from whatever version it had
    /// received; the versions reach one replica in any order, some twice.
    #[derive(Debug, Clone)]
    struct Script {
        /// (device, how many delivered versions it had seen before writing)
        edits: Vec<(u8, usize)>,
        /// delivery order, as indexes into the versions (may repeat)
        order: Vec<prop::sample::Index>,
    }

    fn script() -> impl Strategy<Value = Script> {
        (
            prop::collection::vec((1u8..5, 0usize..8), 1..12),
            prop::collection::vec(any::<prop::sample::Index>(), 1..40),
        )
            .prop_map(|(edits, order)| Script { edits, order })
    }

    /// Build the versions: each edit's writer has seen some prefix of the
    /// earlier versions and bases its write on the highest of those.
    fn versions(script: &Script) -> Vec<Version> {
        let mut out: Vec<Version> = Vec::new();
        for (i, (device, seen)) in script.edits.iter().enumerate() {
            let known = &out[..(*seen).min(out.len())];
            let base = known.iter().map(|v| v.clock).max();
            let ms = base.map_or(1, |b| b.ms) + 1 + (i as u64 % 3);
            out.push(Version {
                value: json!(format!("v{i}")),
                clock: clock(ms + i as u64 * 10, *device),
                base,
            });
        }
        out
    }

    type Merger = fn(Option<&Version>, Version, &dyn Fn(Hlc) -> Option<Option<Hlc>>) -> Outcome;

    fn real(
        current: Option<&Version>,
        incoming: Version,
        base_of: &dyn Fn(Hlc) -> Option<Option<Hlc>>,
    ) -> Outcome {
        merge_field(current, incoming, base_of)
    }

    /// A broken rule: whatever arrives last wins, nothing is reported.
    fn last_arrival_wins(
        current: Option<&Version>,
        incoming: Version,
        _: &dyn Fn(Hlc) -> Option<Option<Hlc>>,
    ) -> Outcome {
        match current {
            Some(c) if c.clock == incoming.clock => Outcome::Duplicate,
            _ => Outcome::Apply { lost: None },
        }
    }

    /// Deliver every version (in the script's order, then any not yet
    /// delivered) and check: the field ends at the highest clock, and every
    /// other version was either seen by a later writer or reported lost.
    fn check(script: &Script, merge: Merger) -> Result<(), String> {
        let all = versions(script);
        let mut order: Vec<usize> = script.order.iter().map(|ix| ix.index(all.len())).collect();
        order.extend(0..all.len());
        let bases: BTreeMap<Hlc, Option<Hlc>> = all.iter().map(|v| (v.clock, v.base)).collect();
        let mut current: Option<Version> = None;
        let mut stored: BTreeMap<Hlc, Option<Hlc>> = BTreeMap::new();
        let mut lost: BTreeSet<Hlc> = BTreeSet::new();
        for i in order {
            let incoming = all[i].clone();
            stored.insert(incoming.clock, incoming.base);
            let lookup = |h: Hlc| stored.get(&h).copied();
            match merge(current.as_ref(), incoming.clone(), &lookup) {
                Outcome::Duplicate => {}
                Outcome::Apply { lost: l } => {
                    lost.extend(l.map(|v| v.clock));
                    current = Some(incoming);
                }
                Outcome::Keep { lost: l } => lost.extend(l.map(|v| v.clock)),
            }
        }
        let winner = all.iter().max_by_key(|v| v.clock).map(|v| v.clock);
        if current.as_ref().map(|v| v.clock) != winner {
            return Err(format!(
                "did not converge to the highest clock: {current:?}"
            ));
        }
        // Ancestors of any version were overwritten knowingly.
        let mut seen: BTreeSet<Hlc> = BTreeSet::new();
        for v in &all {
            let mut base = v.base;
            while let Some(b) = base {
                seen.insert(b);
                base = bases.get(&b).copied().flatten();
            }
        }
        for v in &all {
            let same_as_winner = current.as_ref().is_some_and(|c| c.value == v.value);
            if Some(v.clock) != winner
                && !seen.contains(&v.clock)
                && !same_as_winner
                && !lost.contains(&v.clock)
            {
                return Err(format!("{} was silently dropped", v.value));
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn every_order_converges_and_loses_nothing_silently(s in script()) {
            prop_assert_eq!(check(&s, real), Ok(()));
        }
    }

    #[test]
    fn the_checker_catches_a_last_arrival_wins_merge() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let caught = (0..256).any(|_| {
            let s = script().new_tree(&mut runner).unwrap().current();
            check(&s, last_arrival_wins).is_err()
        });
        assert!(caught, "a broken merge must make the property fail");
    }
}
