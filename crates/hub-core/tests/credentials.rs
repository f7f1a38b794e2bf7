//! Where a device's sync token is kept: memory, the 0600 file, HUB_TOKEN, and
//! the keyring probe (which must answer quickly on a machine without one).

use std::fs;
use std::time::{Duration, Instant};

use hub_core::credentials::{
    default_config_dir, find_token, keyring_available, token_from_env, CredentialError, TokenKey,
    TokenStore, TOKENS_FILE,
};
use uuid::Uuid;

fn key(server: &str) -> TokenKey {
    TokenKey::new(server, Uuid::now_v7())
}

#[test]
fn token_key_account_is_device_at_server() {
    let device = Uuid::now_v7();
    let k = TokenKey::new("https://sync.example.com", device);
    assert_eq!(k.account(), format!("{device}@https://sync.example.com"));
    assert_eq!(k.to_string(), k.account());
    // A trailing slash names the same token.
    let slash = TokenKey::new("https://sync.example.com/", device);
    assert_eq!(slash.account(), k.account());
}

#[test]
fn memory_store_round_trip() {
    let store = TokenStore::memory();
    assert_eq!(store.describe(), "memory");
    let a = key("https://a.example");
    let b = TokenKey::new("https://b.example", a.device);
    let c = key("https://a.example");

    assert_eq!(store.load(&a).unwrap(), None);
    store.save(&a, "token-a").unwrap();
    store.save(&b, "token-b").unwrap();
    store.save(&c, "token-c").unwrap();
    // Clones share the map.
    let clone = store.clone();
    assert_eq!(clone.load(&a).unwrap().as_deref(), Some("token-a"));
    assert_eq!(clone.load(&b).unwrap().as_deref(), Some("token-b"));
    assert_eq!(clone.load(&c).unwrap().as_deref(), Some("token-c"));

    store.save(&a, "token-a2").unwrap();
    assert_eq!(store.load(&a).unwrap().as_deref(), Some("token-a2"));

    assert!(store.delete(&a).unwrap());
    assert!(!store.delete(&a).unwrap());
    assert_eq!(store.load(&a).unwrap(), None);
    assert_eq!(store.load(&b).unwrap().as_deref(), Some("token-b"));
}

#[test]
fn debug_never_shows_a_token() {
    let store = TokenStore::memory();
    store
        .save(&key("https://a.example"), "s3cret-token")
        .unwrap();
    let shown = format!("{store:?} {store:#?}");
    assert!(!shown.contains("s3cret-token"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn file_store_persists_across_values_with_private_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config").join("customer-hub");
    let a = key("https://a.example");
    let b = key("https://b.example");

    let first = TokenStore::File(dir.clone());
    assert_eq!(first.describe(), "file (insecure)");
    assert_eq!(first.load(&a).unwrap(), None);
    assert!(!first.delete(&a).unwrap());
    assert!(!dir.exists(), "load and delete create nothing");

    first.save(&a, "token-a").unwrap();
    let path = dir.join(TOKENS_FILE);
    assert_eq!(first.file_path().as_deref(), Some(path.as_path()));
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }

    // A second store value on the same dir sees the token.
    let second = TokenStore::File(dir.clone());
    assert_eq!(second.load(&a).unwrap().as_deref(), Some("token-a"));

    // A second save keeps the first key's token.
    second.save(&b, "token-b").unwrap();
    assert_eq!(first.load(&a).unwrap().as_deref(), Some("token-a"));
    assert_eq!(first.load(&b).unwrap().as_deref(), Some("token-b"));
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600, "still 0600 after a rewrite");

    // No temp files are left behind.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![TOKENS_FILE.to_string()]);

    assert!(first.delete(&a).unwrap());
    assert!(!second.delete(&a).unwrap());
    assert_eq!(second.load(&a).unwrap(), None);
    assert_eq!(second.load(&b).unwrap().as_deref(), Some("token-b"));
}

#[cfg(unix)]
#[test]
fn file_store_tightens_a_loose_file_on_save() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(TOKENS_FILE);
    fs::write(&path, "{}").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let store = TokenStore::File(tmp.path().to_path_buf());
    store.save(&key("https://a.example"), "t").unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn corrupt_tokens_file_is_reported_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(TOKENS_FILE);
    let damaged = "{\"a@b\": \"tok\", oops";
    fs::write(&path, damaged).unwrap();
    let store = TokenStore::File(tmp.path().to_path_buf());
    let k = key("https://a.example");

    for result in [
        store.load(&k).map(|_| ()),
        store.save(&k, "new-token"),
        store.delete(&k).map(|_| ()),
    ] {
        match result {
            Err(e @ CredentialError::Corrupt { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(TOKENS_FILE), "{msg}");
                assert!(!msg.contains("tok\""), "no content in the message: {msg}");
                assert_eq!(e.code(), "corrupt");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), damaged);

    // Valid JSON of the wrong shape is damaged too.
    fs::write(&path, "[1, 2]").unwrap();
    assert!(matches!(
        store.load(&k),
        Err(CredentialError::Corrupt { .. })
    ));
    assert_eq!(fs::read_to_string(&path).unwrap(), "[1, 2]");
}

/// Every test that changes environment variables is here: they are
/// process-global and tests run in parallel.
#[test]
fn environment_overrides() {
    std::env::remove_var("HUB_TOKEN");
    assert_eq!(token_from_env(), None);
    std::env::set_var("HUB_TOKEN", "");
    assert_eq!(token_from_env(), None);
    std::env::set_var("HUB_TOKEN", "   ");
    assert_eq!(token_from_env(), None);
    std::env::set_var("HUB_TOKEN", "from-env\n");
    assert_eq!(token_from_env().as_deref(), Some("from-env"));
    std::env::remove_var("HUB_TOKEN");
    assert_eq!(token_from_env(), None);

    let tmp = tempfile::tempdir().unwrap();
    std::env::set_var("HUB_CONFIG_DIR", tmp.path());
    assert_eq!(default_config_dir(), tmp.path());
    let store = TokenStore::default_file();
    assert_eq!(store.file_path(), Some(tmp.path().join(TOKENS_FILE)));
    let chosen = TokenStore::choose(true).unwrap();
    assert_eq!(chosen.describe(), "file (insecure)");
    find_token_order(&store);
    std::env::remove_var("HUB_CONFIG_DIR");
    assert!(default_config_dir().ends_with("customer-hub"));
}

/// `find_token`: HUB_TOKEN, then the default file store, then the keyring.
/// Called from `environment_overrides` with HUB_CONFIG_DIR set to a temp dir
/// and HUB_TOKEN unset.
fn find_token_order(file: &TokenStore) {
    let k = key("https://find-token.invalid");
    // A key in neither the file nor (a random one) the keyring.
    assert_eq!(find_token(&k).unwrap(), None);

    file.save(&k, "from-file").unwrap();
    assert_eq!(
        find_token(&k).unwrap(),
        Some(("from-file".to_owned(), "file (insecure)"))
    );
    // Another device's token in the same file is not this one's.
    let other = TokenKey::new(k.server.clone(), Uuid::now_v7());
    assert_eq!(find_token(&other).unwrap(), None);

    std::env::set_var("HUB_TOKEN", " from-env ");
    assert_eq!(
        find_token(&k).unwrap(),
        Some(("from-env".to_owned(), "HUB_TOKEN"))
    );
    assert_eq!(
        find_token(&other).unwrap(),
        Some(("from-env".to_owned(), "HUB_TOKEN"))
    );
    std::env::remove_var("HUB_TOKEN");

    assert!(file.delete(&k).unwrap());
    assert_eq!(find_token(&k).unwrap(), None);

    // A damaged file is reported, not skipped.
    let path = file.file_path().unwrap();
    fs::write(&path, "not json").unwrap();
    assert!(matches!(
        find_token(&k),
        Err(CredentialError::Corrupt { .. })
    ));
    fs::remove_file(&path).unwrap();
}

#[test]
fn unavailable_message_points_to_insecure_storage() {
    let e = CredentialError::Unavailable {
        reason: "no D-Bus session".into(),
    };
    let msg = e.to_string();
    assert!(msg.contains("no D-Bus session"), "{msg}");
    assert!(msg.contains("--insecure-storage"), "{msg}");
    assert_eq!(e.code(), "keyring_unavailable");
}

#[test]
fn keyring_probe_answers_quickly() {
    let started = Instant::now();
    let result = keyring_available();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "probe took {took:?}");
    match result {
        Ok(()) => {
            // A real keyring is here: the Keyring store must round-trip.
            let store = TokenStore::Keyring;
            assert_eq!(store.describe(), "OS keyring");
            let k = key("https://hub-core-tests.invalid");
            assert_eq!(store.load(&k).unwrap(), None);
            store.save(&k, "keyring-token").unwrap();
            assert_eq!(store.load(&k).unwrap().as_deref(), Some("keyring-token"));
            assert!(store.delete(&k).unwrap());
            assert!(!store.delete(&k).unwrap());
        }
        Err(e @ CredentialError::Unavailable { .. }) => {
            let msg = e.to_string();
            eprintln!("keyring unavailable here: {msg}");
            assert!(msg.contains("--insecure-storage"), "{msg}");
        }
        Err(other) => panic!("probe failed with an unexpected error: {other}"),
    }
}
