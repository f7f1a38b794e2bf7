//! Who is working on this device: the name recorded as a deal's owner, a stage
//! move's author, a reminder's assignee, a notification's recipient.
//!
//! On a device signed in to a team's hub-server that is the account's email, so
//! two laptops of one person agree on it (a reminder is notified once per user).
//! Before sign-in it is the local name `me`; records made then keep that name.

use serde_json::json;
use uuid::Uuid;

use crate::entities::{self, EntityDef};
use crate::{Error, Store};

/// The name of the local user of a device that has never signed in.
pub const LOCAL_USER: &str = "me";

/// The current user's name: the signed-in account's email, else [`LOCAL_USER`].
pub async fn current(store: &Store) -> crate::Result<String> {
    Ok(crate::sync::account(store)
        .await?
        .map(|a| a.email)
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| LOCAL_USER.to_owned()))
}

/// Fields that name a user of this workspace: records made before sign-in
/// carry [`LOCAL_USER`] there.
pub static PERSON_FIELDS: &[(&EntityDef, &str)] = &[
    (&entities::REMINDER, "assignee"),
    (&entities::DEAL, "owner"),
    (&entities::DEAL_STAGE_CHANGE, "changed_by"),
    (&entities::ACTIVITY, "created_by"),
    (&entities::TICKET, "assignee"),
    (&entities::TICKET, "created_by"),
    (&entities::TICKET_COMMENT, "author"),
    (&entities::IMPORT, "created_by"),
    (&entities::IMPORT, "reverted_by"),
    (&entities::MERGE, "merged_by"),
    (&entities::MERGE, "undone_by"),
];

/// Gives the records made on this device before sign-in to the account:
/// every [`PERSON_FIELDS`] value `me` becomes `account`, as edits that sync.
/// Without it a reminder assigned to `me` would never ring for the signed-in
/// user, and a teammate would see deals owned by "me". Returns how many
/// fields changed.
pub async fn claim_local_records(store: &Store, account: &str) -> crate::Result<usize> {
    let account = account.trim();
    if account.is_empty() || account == LOCAL_USER {
        return Ok(0);
    }
    let mut tx = store.write().await?;
    let mut changed = 0;
    for (entity, field) in PERSON_FIELDS {
        debug_assert!(entity.has_field(field), "{}.{field}", entity.name);
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM {} WHERE {field} = ?",
            entity.table
        ))
        .bind(LOCAL_USER)
        .fetch_all(tx.conn())
        .await?;
        for id in ids {
            let id = Uuid::parse_str(&id).map_err(|_| Error::not_found(entity.name, &id))?;
            changed += tx
                .update(entity, id, vec![(*field, json!(account))])
                .await?;
        }
    }
    tx.commit().await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sign_in_gives_every_record_made_as_me_to_the_account() {
        let store = Store::open_in_memory().await.unwrap();
        let mut tx = store.write().await.unwrap();
        let mut rows = Vec::new();
        for (entity, field) in PERSON_FIELDS {
            let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
            tx.insert(entity, mine, vec![(*field, json!(LOCAL_USER))])
                .await
                .unwrap();
            tx.insert(entity, theirs, vec![(*field, json!("bo@example.com"))])
                .await
                .unwrap();
            rows.push((entity, field, mine, theirs));
        }
        tx.commit().await.unwrap();
        let logged = crate::changes::outbox(&store, u32::MAX)
            .await
            .unwrap()
            .len();

        let changed = claim_local_records(&store, "ada@example.com")
            .await
            .unwrap();
        assert_eq!(changed, PERSON_FIELDS.len());
        for (entity, field, mine, theirs) in rows {
            let value = |id: Uuid| {
                let sql = format!("SELECT {field} FROM {} WHERE id = ?", entity.table);
                let store = store.clone();
                async move {
                    sqlx::query_scalar::<_, String>(&sql)
                        .bind(id.to_string())
                        .fetch_one(store.pool())
                        .await
                        .unwrap()
                }
            };
            assert_eq!(
                value(mine).await,
                "ada@example.com",
                "{}.{field}",
                entity.name
            );
            assert_eq!(
                value(theirs).await,
                "bo@example.com",
                "{}.{field}",
                entity.name
            );
        }
        // Each claim is an edit that syncs; a second claim finds nothing.
        let outbox = crate::changes::outbox(&store, u32::MAX).await.unwrap();
        assert_eq!(outbox.len(), logged + PERSON_FIELDS.len());
        assert_eq!(
            claim_local_records(&store, "ada@example.com")
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn a_device_that_never_signed_in_is_the_local_user() {
        let store = Store::open_in_memory().await.unwrap();
        assert_eq!(current(&store).await.unwrap(), LOCAL_USER);
    }
}
