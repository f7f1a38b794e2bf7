//! Acceptance 1 of the sync issue, on the whole system: 2–6 devices (real hub-core stores)
//! make random offline edits — the same field on several devices, deletes, edits of rows
//! another device deleted — and sync through a real hub-server in random order, with
//! faults: dropped requests, pushes committed but answered into the void, duplicated
//! pushes, lost pull pages, and wall clocks up to ±24 h wrong. After healing:
//! - every replica equals the server (every row, field, value and clock);
//! - every write is current (or its value is), kept in `conflicts`, or overwritten by a
//!   writer that had seen it — it is on the `base` chain, in the server's history, of a
//!   version that is itself current or kept;
//! - replaying any push or pull page changes nothing.
//!
//! The checker is tested too: the same history merged "last to arrive wins" fails it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use hub_core::contacts::{self, ContactInput};
use hub_core::sync::{self, HttpTransport, PushAnswer, SyncError, Transport};
use hub_core::Store;
use hub_e2e::{device_rows, spawn_server_with, TestServer};
use hub_protocol::wire::{ConflictRecord, PullResponse, SnapshotResponse, SyncedChange};
use hub_protocol::{Change, Hlc};
use hub_server::auth::Password;
use hub_server::{accounts, AppState, Database, DatabaseUrl, Passwords, Storage};
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

const PASSWORD: &str = "a long password";
const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    DropRequest,
    LoseResponse,
    DuplicatePush,
    LosePullPage,
}

#[derive(Debug, Clone)]
enum Step {
    Create {
        device: usize,
    },
    Edit {
        device: usize,
        contact: usize,
        field: &'static str,
        value: u8,
    },
    Delete {
        device: usize,
        contact: usize,
    },
    Sync {
        device: usize,
        fault: Fault,
    },
}

#[derive(Debug, Clone)]
struct Case {
    skews: Vec<i64>,
    steps: Vec<Step>,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::None),
        1 => Just(Fault::DropRequest),
        1 => Just(Fault::LoseResponse),
        1 => Just(Fault::DuplicatePush),
        1 => Just(Fault::LosePullPage),
    ]
}

fn step(devices: usize) -> impl Strategy<Value = Step> {
    let d = 0..devices;
    prop_oneof![
        1 => d.clone().prop_map(|device| Step::Create { device }),
        4 => (d.clone(), 0..4usize, prop_oneof![Just("title"), Just("notes")], 0..3u8)
            .prop_map(|(device, contact, field, value)| Step::Edit { device, contact, field, value }),
        1 => (d.clone(), 0..4usize).prop_map(|(device, contact)| Step::Delete { device, contact }),
        4 => (d, fault()).prop_map(|(device, fault)| Step::Sync { device, fault }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (2..=6usize).prop_flat_map(|n| {
        let skew = prop_oneof![
            2 => Just(0i64),
            1 => -DAY_MS..=DAY_MS,
            1 => prop_oneof![Just(DAY_MS), Just(-DAY_MS)],
        ];
        (
            proptest::collection::vec(skew, n),
            proptest::collection::vec(step(n), 1..40),
        )
            .prop_map(|(skews, steps)| Case { skews, steps })
    })
}

/// A transport that injects one fault into the next matching call, and records every
/// push it sent and every pull page it received (for the replay check).
struct Faulty {
    inner: HttpTransport,
    fault: RefCell<Fault>,
    pushes: RefCell<Vec<Vec<Change>>>,
    pages: RefCell<Vec<PullResponse>>,
}

impl Faulty {
    fn take(&self, wanted: &[Fault]) -> Fault {
        let f = *self.fault.borrow();
        if wanted.contains(&f) {
            *self.fault.borrow_mut() = Fault::None;
            f
        } else {
            Fault::None
        }
    }
}

impl Transport for Faulty {
    async fn push(&self, changes: &[Change]) -> Result<PushAnswer, SyncError> {
        self.pushes.borrow_mut().push(changes.to_vec());
        match self.take(&[
            Fault::DropRequest,
            Fault::LoseResponse,
            Fault::DuplicatePush,
        ]) {
            Fault::DropRequest => Err(SyncError::Offline("request dropped".into())),
            Fault::LoseResponse => {
                self.inner.push(changes).await?;
                Err(SyncError::Offline("response lost".into()))
            }
            Fault::DuplicatePush => {
                self.inner.push(changes).await?;
                self.inner.push(changes).await
            }
            _ => self.inner.push(changes).await,
        }
    }

    async fn pull(&self, cursor: i64, limit: i64) -> Result<PullResponse, SyncError> {
        let page = self.inner.pull(cursor, limit).await?;
        self.pages.borrow_mut().push(page.clone());
        match self.take(&[Fault::LosePullPage]) {
            Fault::LosePullPage => Err(SyncError::Offline("page lost".into())),
            _ => Ok(page),
        }
    }

    async fn snapshot(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<SnapshotResponse, SyncError> {
        match self.take(&[Fault::DropRequest]) {
            Fault::DropRequest => Err(SyncError::Offline("request dropped".into())),
            _ => self.inner.snapshot(after, limit).await,
        }
    }

    // Behavioural events: the same faults as changes (a push dropped or its answer
    // lost, a pull page lost); events are stored by message id, so a retry is harmless.
    async fn events_push(
        &self,
        events: &[hub_protocol::event::Event],
    ) -> Result<hub_protocol::event::EventPushResponse, SyncError> {
        match self.take(&[Fault::DropRequest, Fault::LoseResponse]) {
            Fault::DropRequest => Err(SyncError::Offline("request dropped".into())),
            Fault::LoseResponse => {
                self.inner.events_push(events).await?;
                Err(SyncError::Offline("response lost".into()))
            }
            _ => self.inner.events_push(events).await,
        }
    }

    async fn events_pull(
        &self,
        cursor: i64,
        limit: i64,
    ) -> Result<hub_protocol::event::EventPullResponse, SyncError> {
        let page = self.inner.events_pull(cursor, limit).await?;
        match self.take(&[Fault::LosePullPage]) {
            Fault::LosePullPage => Err(SyncError::Offline("page lost".into())),
            _ => Ok(page),
        }
    }
}

/// One local write of one field, as the test made it.
#[derive(Debug, Clone)]
struct Write {
    device: Uuid,
    entity: String,
    row_id: Uuid,
    field: String,
    value: Value,
}

type FieldKey = (String, Uuid, String);

/// What the checker sees of the server after healing.
struct ServerView {
    history: Vec<SyncedChange>,
    current: HashMap<FieldKey, (Value, Hlc)>,
    conflicts: Vec<ConflictRecord>,
}

/// The invariant: every write is current (or its value is), kept as a conflict, or
/// overwritten by a writer that had seen it where that overwrite is itself current or kept.
fn check(writes: &[Write], server: &ServerView) -> Result<(), String> {
    let base_of: HashMap<(FieldKey, Hlc), Option<Hlc>> = server
        .history
        .iter()
        .flat_map(|s| {
            let c = &s.change;
            c.fields.keys().map(move |f| {
                (
                    ((c.entity.clone(), c.row_id, f.clone()), c.hlc),
                    c.base.get(f).copied(),
                )
            })
        })
        .collect();
    let lost: HashSet<(FieldKey, Hlc)> = server
        .conflicts
        .iter()
        .map(|c| ((c.entity.clone(), c.row_id, c.field.clone()), c.lost_clock))
        .collect();
    for w in writes {
        let key = (w.entity.clone(), w.row_id, w.field.clone());
        let Some((current_value, current_clock)) = server.current.get(&key) else {
            return Err(format!("{w:?}: the server has no version of this field"));
        };
        if *current_value == w.value {
            continue;
        }
        // The server's copies of this write (a re-stamped write has a new clock).
        let clocks: Vec<Hlc> = server
            .history
            .iter()
            .map(|s| &s.change)
            .filter(|c| {
                c.device_id.0 == w.device
                    && c.entity == w.entity
                    && c.row_id == w.row_id
                    && c.fields.get(&w.field) == Some(&w.value)
            })
            .map(|c| c.hlc)
            .collect();
        if clocks.is_empty() {
            return Err(format!("{w:?} never reached the server"));
        }
        // What survives is the current version and every version kept as a conflict; a
        // write is safe when one of them is it or was written by someone who had seen it
        // (it is on that version's chain of `base` links). E.g. a value its own writer
        // replaced, whose replacement then lost a race and became a conflict.
        let kept_roots = std::iter::once(*current_clock).chain(
            lost.iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, clock)| *clock),
        );
        let mut ancestors = HashSet::new();
        for root in kept_roots {
            let mut at = Some(root);
            while let Some(clock) = at {
                if !ancestors.insert(clock) {
                    break;
                }
                at = base_of.get(&(key.clone(), clock)).copied().flatten();
            }
        }
        let kept = clocks.iter().any(|c| ancestors.contains(c));
        if !kept {
            return Err(format!(
                "{w:?} was silently lost: current is {current_value} at {current_clock}"
            ));
        }
    }
    Ok(())
}

async fn server_view(db: &Database, workspace: Uuid) -> ServerView {
    let mut history = Vec::new();
    let mut conflicts = Vec::new();
    let mut cursor = 0;
    loop {
        let page = db.pull_changes(workspace, cursor, 1000).await.unwrap();
        history.extend(page.changes);
        conflicts.extend(page.conflicts);
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    let mut current = HashMap::new();
    let mut after = None;
    loop {
        let page = db
            .snapshot_page(workspace, after.clone(), 1000)
            .await
            .unwrap();
        for row in &page.rows {
            let state: hub_protocol::RowVersions = serde_json::from_str(row.state.get()).unwrap();
            for (field, version) in state.versions() {
                current.insert(
                    (row.entity.clone(), row.row_id, field.to_owned()),
                    (version.value, version.clock),
                );
            }
        }
        if !page.has_more {
            break;
        }
        after = page.rows.last().map(|r| (r.entity.clone(), r.row_id));
    }
    ServerView {
        history,
        current,
        conflicts,
    }
}

/// The server's state in `device_rows`' shape.
fn as_rows(view: &ServerView) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = view
        .current
        .iter()
        .map(|((entity, row, field), (value, clock))| {
            (
                format!("{entity}/{row}"),
                field.clone(),
                value.to_string(),
                Value::String(clock.to_string()).to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

struct World {
    _server: TestServer,
    db: Database,
    workspace: Uuid,
    base: String,
    stores: Vec<Store>,
    transports: Vec<Faulty>,
    contacts: Vec<Uuid>,
    writes: Vec<Write>,
    seen_ops: Vec<HashSet<Uuid>>,
}

impl World {
    async fn new(skews: &[i64]) -> World {
        let db = Database::open(&DatabaseUrl::SqliteMemory).await.unwrap();
        let passwords = Passwords::cheap_for_tests();
        let workspace = accounts::create_workspace(
            &db,
            &passwords,
            "Acme",
            "owner@example.com",
            Some(Password::parse(PASSWORD.to_owned()).unwrap()),
        )
        .await
        .unwrap()
        .workspace_id;
        let server = spawn_server_with(AppState::with_passwords(db.clone(), passwords)).await;
        let base = server.base_url();
        let mut world = World {
            _server: server,
            db,
            workspace,
            base,
            stores: Vec::new(),
            transports: Vec::new(),
            contacts: Vec::new(),
            writes: Vec::new(),
            seen_ops: Vec::new(),
        };
        for (i, skew) in skews.iter().enumerate() {
            let store = Store::open_in_memory().await.unwrap();
            store.simulate_clock_skew(*skew);
            let signed = sync::sign_in(
                &store,
                &world.base,
                "owner@example.com",
                PASSWORD,
                &format!("device {i}"),
                None,
            )
            .await
            .unwrap();
            world.transports.push(Faulty {
                inner: HttpTransport::new(&world.base, &signed.token).unwrap(),
                fault: RefCell::new(Fault::None),
                pushes: RefCell::default(),
                pages: RefCell::default(),
            });
            world.stores.push(store);
            world.seen_ops.push(HashSet::new());
        }
        world
    }

    /// Remember the writes the last local edit of `device` logged.
    async fn note_writes(&mut self, device: usize) {
        let store = &self.stores[device];
        for change in hub_core::changes::outbox(store, 100_000).await.unwrap() {
            if self.seen_ops[device].insert(change.op_id) {
                for (field, value) in &change.fields {
                    self.writes.push(Write {
                        device: store.device_id().0,
                        entity: change.entity.clone(),
                        row_id: change.row_id,
                        field: field.clone(),
                        value: value.clone(),
                    });
                }
            }
        }
    }

    async fn run(&mut self, step: &Step) {
        match *step {
            Step::Create { device } => {
                let n = self.contacts.len();
                let c = contacts::create(
                    &self.stores[device],
                    ContactInput {
                        first_name: Some(format!("Person {n}")),
                        title: Some(format!("created on {device}")),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                self.contacts.push(c.id);
                self.note_writes(device).await;
            }
            Step::Edit {
                device,
                contact,
                field,
                value,
            } => {
                let Some(id) = self.pick(contact) else { return };
                let Ok(c) = contacts::get(&self.stores[device], id).await else {
                    return; // not on this device yet, or deleted here
                };
                let text = Some(format!("{field} {value} by {device}"));
                let mut input = ContactInput {
                    first_name: c.first_name.clone(),
                    last_name: c.last_name.clone(),
                    display_name: Some(c.display_name.clone()),
                    title: c.title.clone(),
                    notes: c.notes.clone(),
                    lifecycle_stage: c.lifecycle_stage,
                    source: c.source.clone(),
                    owner: c.owner.clone(),
                    ..Default::default()
                };
                match field {
                    "title" => input.title = text,
                    _ => input.notes = text,
                }
                if contacts::update(&self.stores[device], id, input)
                    .await
                    .is_ok()
                {
                    self.note_writes(device).await;
                }
            }
            Step::Delete { device, contact } => {
                let Some(id) = self.pick(contact) else { return };
                if contacts::delete(&self.stores[device], id).await.is_ok() {
                    self.note_writes(device).await;
                }
            }
            Step::Sync { device, fault } => {
                *self.transports[device].fault.borrow_mut() = fault;
                // A faulted round fails; that is the point. Anything else must not.
                if let Err(e) =
                    sync::sync_once(&self.stores[device], &self.transports[device], |_| {}).await
                {
                    assert!(e.is_transient(), "round failed for another reason: {e}");
                }
                *self.transports[device].fault.borrow_mut() = Fault::None;
            }
        }
    }

    fn pick(&self, i: usize) -> Option<Uuid> {
        (!self.contacts.is_empty()).then(|| self.contacts[i % self.contacts.len()])
    }

    /// Every device syncs without faults until nobody has anything left to send or get.
    async fn heal(&mut self) {
        for _ in 0..3 {
            for (store, t) in self.stores.iter().zip(&self.transports) {
                sync::sync_once(store, t, |_| {}).await.unwrap();
            }
        }
        for store in &self.stores {
            assert_eq!(sync::status(store).await.unwrap().pending, 0);
        }
    }
}

async fn run_case(case: Case, merge: fn(&ServerView) -> ServerView) -> Result<(), String> {
    let mut world = World::new(&case.skews).await;
    for step in &case.steps {
        world.run(step).await;
    }
    world.heal().await;

    let view = merge(&server_view(&world.db, world.workspace).await);
    let server_rows = as_rows(&view);
    for (i, store) in world.stores.iter().enumerate() {
        let mut rows = device_rows(store).await;
        rows.sort();
        if rows != server_rows {
            return Err(format!("device {i} differs from the server"));
        }
    }
    check(&world.writes, &view)?;

    // Replay every push and every pull page: nothing changes.
    let before_conflicts: BTreeMap<Uuid, Hlc> = view
        .conflicts
        .iter()
        .map(|c| (c.id, c.lost_clock))
        .collect();
    for t in &world.transports {
        let pushes = t.pushes.borrow().clone();
        for batch in &pushes {
            t.inner.push(batch).await.map_err(|e| e.to_string())?;
        }
    }
    let again = server_view(&world.db, world.workspace).await;
    if as_rows(&again) != server_rows {
        return Err("replaying pushes changed the server".into());
    }
    let after_conflicts: BTreeMap<Uuid, Hlc> = again
        .conflicts
        .iter()
        .map(|c| (c.id, c.lost_clock))
        .collect();
    if after_conflicts != before_conflicts {
        return Err("replaying pushes recorded new conflicts".into());
    }
    for (store, t) in world.stores.iter().zip(&world.transports) {
        let before = device_rows(store).await;
        let mut tx = store.write().await.unwrap();
        let pages = t.pages.borrow().clone();
        for page in &pages {
            for c in &page.changes {
                tx.apply_remote(&c.change).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        if device_rows(store).await != before {
            return Err("replaying pull pages changed a device".into());
        }
    }
    Ok(())
}

fn as_is(view: &ServerView) -> ServerView {
    ServerView {
        history: view.history.clone(),
        current: view.current.clone(),
        conflicts: view.conflicts.clone(),
    }
}

/// The broken rule: replay the server's history in arrival order, each write replacing
/// the last, nothing kept.
fn last_arrival_wins(view: &ServerView) -> ServerView {
    let mut current = HashMap::new();
    for s in &view.history {
        for (field, value) in &s.change.fields {
            current.insert(
                (s.change.entity.clone(), s.change.row_id, field.clone()),
                (value.clone(), s.change.hlc),
            );
        }
    }
    ServerView {
        history: view.history.clone(),
        current,
        conflicts: Vec::new(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn devices_converge_and_lose_nothing_under_faults(case in case()) {
        let result = runtime().block_on(run_case(case, as_is));
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

/// Two devices edit one title offline; the later edit reaches the server first. The real
/// server keeps the later edit and records the earlier as a conflict; a merge where the
/// last arrival wins would silently drop the later edit, and the checker must say so.
#[test]
fn the_checker_catches_a_last_arrival_wins_merge() {
    use Step::*;
    let case = Case {
        skews: vec![0, 0],
        steps: vec![
            Create { device: 0 },
            Sync {
                device: 0,
                fault: Fault::None,
            },
            Sync {
                device: 1,
                fault: Fault::None,
            },
            Edit {
                device: 1,
                contact: 0,
                field: "title",
                value: 1,
            },
            Edit {
                device: 0,
                contact: 0,
                field: "title",
                value: 2,
            },
            Sync {
                device: 0,
                fault: Fault::None,
            },
            Sync {
                device: 1,
                fault: Fault::None,
            },
        ],
    };
    runtime()
        .block_on(run_case(case.clone(), as_is))
        .expect("the real merge passes");
    let err = runtime()
        .block_on(run_case(case, last_arrival_wins))
        .expect_err("a last-arrival-wins merge must fail the check");
    assert!(
        err.contains("differs from the server") || err.contains("silently lost"),
        "{err}"
    );
}

/// The same with clocks: a device whose clock is a day fast gets `clock_ahead`, re-stamps
/// its offline edits and syncs; a device a day slow syncs as is. Nothing is lost.
#[test]
fn a_day_of_clock_skew_either_way_loses_nothing() {
    use Step::*;
    let case = Case {
        skews: vec![DAY_MS, -DAY_MS, 0],
        steps: vec![
            Create { device: 2 },
            Sync {
                device: 2,
                fault: Fault::None,
            },
            Sync {
                device: 0,
                fault: Fault::None,
            },
            Sync {
                device: 1,
                fault: Fault::None,
            },
            Edit {
                device: 0,
                contact: 0,
                field: "title",
                value: 1,
            },
            Edit {
                device: 1,
                contact: 0,
                field: "title",
                value: 2,
            },
            Edit {
                device: 0,
                contact: 0,
                field: "notes",
                value: 1,
            },
            Create { device: 0 },
            Sync {
                device: 1,
                fault: Fault::None,
            },
            Sync {
                device: 0,
                fault: Fault::LoseResponse,
            },
            Sync {
                device: 0,
                fault: Fault::None,
            },
        ],
    };
    runtime().block_on(run_case(case, as_is)).unwrap();
}

/// A case the property test found in CI (kept as a regression test).
#[test]
fn regression_title_edit_after_lost_responses() {
    use Fault::*;
    use Step::*;
    let t = |device, contact, field, value| Edit {
        device,
        contact,
        field,
        value,
    };
    let case = Case {
        skews: vec![60004, DAY_MS, 0],
        steps: vec![
            Sync {
                device: 0,
                fault: LoseResponse,
            },
            t(2, 2, "notes", 1),
            Create { device: 0 },
            Sync {
                device: 0,
                fault: DuplicatePush,
            },
            Sync {
                device: 2,
                fault: DuplicatePush,
            },
            Sync {
                device: 1,
                fault: LosePullPage,
            },
            t(1, 2, "title", 2),
            Sync {
                device: 0,
                fault: None,
            },
            t(2, 2, "title", 1),
            t(1, 2, "title", 1),
            Sync {
                device: 1,
                fault: DropRequest,
            },
            Delete {
                device: 2,
                contact: 1,
            },
            t(2, 1, "title", 2),
            Sync {
                device: 0,
                fault: None,
            },
            t(2, 0, "notes", 2),
            Sync {
                device: 1,
                fault: LoseResponse,
            },
            t(1, 0, "title", 1),
            t(2, 2, "title", 1),
            t(0, 2, "title", 0),
            t(0, 1, "title", 1),
            Sync {
                device: 1,
                fault: LoseResponse,
            },
        ],
    };
    runtime().block_on(run_case(case, as_is)).unwrap();
}
