//! Who is working on this device: the name recorded as a deal's owner, a stage
//! move's author, a reminder's assignee, a notification's recipient.
//!
//! On a device signed in to a team's hub-server that is the account's email, so
//! two laptops of one person agree on it (a reminder is notified once per user).
//! Before sign-in it is the local name `me`; records made then keep that name.

use crate::Store;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_device_that_never_signed_in_is_the_local_user() {
        let store = Store::open_in_memory().await.unwrap();
        assert_eq!(current(&store).await.unwrap(), LOCAL_USER);
    }
}
