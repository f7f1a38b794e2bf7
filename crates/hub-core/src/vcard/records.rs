//! Cards as records of the import pipeline ([`crate::import`]).

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::parse::{cards, Card, Cards};
use crate::import::{self, Record, RecordSource, RowError, Target};

/// Our kind of a card's email: `work`, `home` or `other` (untyped, or
/// Apple's "Other" label).
pub fn email_kind(types: &[String], label: Option<&str>) -> &'static str {
    let label = label.map(str::to_ascii_lowercase);
    let has = |t: &str| types.iter().any(|x| x == t) || label.as_deref() == Some(t);
    if has("work") {
        "work"
    } else if has("home") {
        "home"
    } else {
        "other"
    }
}

/// Our kind of a card's phone: `mobile` (cell, iPhone), `work`, `home`, or
/// `other` (fax, pager, untyped).
pub fn phone_kind(types: &[String], label: Option<&str>) -> &'static str {
    let label = label.map(str::to_ascii_lowercase);
    let has = |t: &str| types.iter().any(|x| x == t) || label.as_deref() == Some(t);
    if has("fax") || has("pager") {
        "other"
    } else if has("cell") || has("mobile") || has("iphone") {
        "mobile"
    } else if has("work") {
        "work"
    } else if has("home") {
        "home"
    } else {
        "other"
    }
}

/// Our kind of a card's address: `work`, `home` or `other`.
pub fn address_kind(types: &[String], label: Option<&str>) -> &'static str {
    email_kind(types, label)
}

/// A target by its text, when the import pipeline knows it (contact detail
/// targets arrive with migration 0014's fields).
fn target(text: &str) -> Option<Target> {
    Target::parse(text).ok()
}

/// A card as an import record. Fields the pipeline cannot take are listed in
/// the second value (they are reported, never silently dropped).
pub fn to_record(card: &Card) -> (Record, Vec<String>) {
    let mut r = Record::new(card.line as u64);
    let mut left_out = Vec::new();
    let mut push = |r: &mut Record, text: &str, value: &str| match target(text) {
        Some(t) => r.push(t, value.trim()),
        None => left_out.push(text.to_owned()),
    };
    let n = card.name.clone().unwrap_or_default();
    let given = [n.given.as_str(), n.additional.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if !given.is_empty() {
        push(&mut r, "first_name", &given);
    }
    if !n.family.is_empty() {
        push(&mut r, "last_name", &n.family);
    }
    let display = card
        .formatted_name
        .clone()
        .or_else(|| {
            let joined = [
                n.prefixes.as_str(),
                given.as_str(),
                n.family.as_str(),
                n.suffixes.as_str(),
            ]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
            (!joined.is_empty()).then_some(joined)
        })
        .or_else(|| card.nickname.clone())
        .or_else(|| card.company().map(str::to_owned))
        .or_else(|| card.emails.first().map(|e| e.value.clone()));
    if let Some(d) = &display {
        push(&mut r, "display_name", d);
    }
    if let Some(co) = card.company() {
        push(&mut r, "company", co);
    }
    if let Some(t) = &card.title {
        push(&mut r, "title", t);
    }
    for e in &card.emails {
        let kind = email_kind(&e.types, e.label.as_deref());
        push(&mut r, &format!("email:{kind}"), &e.value);
    }
    for p in &card.phones {
        let kind = phone_kind(&p.types, p.label.as_deref());
        // RFC 3966's `;ext=102` (a 4.0 tel: URI) as libphonenumber reads it.
        let number = p.value.replace(";ext=", " ext. ");
        push(&mut r, &format!("phone:{kind}"), &number);
    }
    if let Some(note) = &card.note {
        push(&mut r, "notes", note);
    }
    for c in &card.categories {
        // One tag per category. The pipeline splits tag values on , ; |
        // so those inside a category (an escaped `\,`) become spaces.
        let tag = c.replace(", ", " ").replace("; ", " ");
        push(&mut r, "tags", &tag.replace([',', ';', '|'], " "));
    }
    if let Some(b) = &card.birthday {
        push(&mut r, "birthday", &b.to_string());
    }
    if let Some(u) = card.urls.first() {
        push(&mut r, "website", &u.value);
    }
    if let Some(p) = &card.photo {
        push(&mut r, "photo", &p.to_uri());
    }
    let mut kinds_done = Vec::new();
    for a in &card.addresses {
        let kind = address_kind(&a.types, a.label.as_deref());
        // One address per kind: the first of each.
        if kinds_done.contains(&kind) {
            continue;
        }
        kinds_done.push(kind);
        let street = [a.po_box.as_str(), a.extended.as_str(), a.street.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        for (part, value) in [
            ("street", &street),
            ("city", &a.locality),
            ("region", &a.region),
            ("postal_code", &a.postal_code),
            ("country", &a.country),
        ] {
            if !value.is_empty() {
                push(&mut r, &format!("address:{kind}.{part}"), value);
            }
        }
    }
    left_out.sort();
    left_out.dedup();
    (r, left_out)
}

/// Counts the bytes read through it, for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.read.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt);
    }
}

/// The cards of a vCard file as import records; a card that cannot be read
/// is a [`RowError`] at its `BEGIN:VCARD` line, and the others go on.
pub struct VcardRecords<R> {
    cards: Cards<Counting<R>>,
    read: Arc<AtomicU64>,
    total: Option<u64>,
}

/// Read `reader` (of `total` bytes, when known) as import records.
pub fn records<R: BufRead>(reader: R, total: Option<u64>) -> VcardRecords<R> {
    let read = Arc::new(AtomicU64::new(0));
    VcardRecords {
        cards: cards(Counting {
            inner: reader,
            read: read.clone(),
        }),
        read,
        total,
    }
}

impl<R: BufRead> Iterator for VcardRecords<R> {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.cards.next()? {
            Ok(card) => Ok(to_record(&card).0),
            Err(e) => Err(RowError::new(e.line as u64, e.message)),
        })
    }
}

impl<R: BufRead + Send> RecordSource for VcardRecords<R> {
    fn position(&self) -> (u64, Option<u64>) {
        (self.read.load(Ordering::Relaxed), self.total)
    }
}

/// The import options of a vCard file named `file_name`.
pub fn options(file_name: &str, dry_run: bool) -> import::ImportOptions {
    import::ImportOptions {
        file_name: file_name.to_owned(),
        format: import::Format::Vcard,
        mapping: Default::default(),
        dry_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactQuery};
    use crate::import::{import_records, CancelToken, ImportReport};
    use crate::store::Store;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/import/vcard")
            .join(name);
        std::fs::read(path).unwrap()
    }

    async fn import(store: &Store, name: &str) -> ImportReport {
        let bytes = fixture(name);
        let total = bytes.len() as u64;
        import_records(
            store,
            records(std::io::Cursor::new(bytes), Some(total)),
            &options(name, false),
            |_| {},
            &CancelToken::new(),
        )
        .await
        .unwrap()
    }

    async fn by_name(store: &Store, name: &str) -> crate::contacts::Contact {
        let page = contacts::list(
            store,
            &ContactQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let s = page
            .items
            .iter()
            .find(|c| c.display_name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", page.items));
        contacts::get(store, s.id).await.unwrap()
    }

    fn kinds<T: Clone>(list: &[(String, T)]) -> Vec<(String, T)> {
        list.to_vec()
    }

    #[test]
    fn kinds_follow_types_and_apple_labels() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(phone_kind(&t(&["work", "cell", "voice"]), None), "mobile");
        assert_eq!(phone_kind(&t(&["work", "fax"]), None), "other");
        assert_eq!(phone_kind(&t(&["voice"]), Some("Home")), "home");
        assert_eq!(email_kind(&t(&["internet"]), None), "other");
        assert_eq!(email_kind(&[], Some("Work")), "work");
    }

    #[tokio::test]
    async fn every_fixture_imports_and_reimport_creates_nothing() {
        for (name, cards) in [
            ("outlook-2.1.vcf", 2),
            ("apple-3.0.vcf", 2),
            ("google-3.0.vcf", 2),
            ("rfc6350-4.0.vcf", 2),
        ] {
            let store = Store::open_in_memory().await.unwrap();
            let first = import(&store, name).await;
            assert_eq!(first.errors, vec![], "{name}");
            assert_eq!((first.records, first.created), (cards, cards), "{name}");
            assert!(first.import_id.is_some());
            let again = import(&store, name).await;
            assert_eq!(again.errors, vec![], "{name}");
            assert_eq!(
                (again.created, again.updated, again.skipped),
                (0, 0, cards),
                "{name}: re-import"
            );
            assert_eq!(contacts::count(&store).await.unwrap(), cards);
        }
    }

    #[tokio::test]
    async fn outlook_values_land_in_the_right_fields() {
        let store = Store::open_in_memory().await.unwrap();
        import(&store, "outlook-2.1.vcf").await;
        let c = by_name(&store, "Jürgen Müller").await;
        assert_eq!(c.first_name.as_deref(), Some("Jürgen"));
        assert_eq!(c.last_name.as_deref(), Some("Müller"));
        assert_eq!(c.title.as_deref(), Some("Leiter Vertrieb"));
        assert_eq!(c.company.as_ref().unwrap().name, "Contoso GmbH");
        let emails: Vec<(String, String)> = c
            .emails
            .iter()
            .map(|e| (e.kind.clone(), e.address.clone()))
            .collect();
        assert_eq!(
            kinds(&emails),
            vec![
                ("other".into(), "juergen.mueller@contoso.example".into()),
                ("other".into(), "j.mueller@home.example".into())
            ]
        );
        let phones: Vec<(String, String)> = c
            .phones
            .iter()
            .map(|p| (p.kind.clone(), p.number.clone()))
            .collect();
        assert_eq!(
            phones,
            vec![
                ("work".into(), "+493012345678".into()),
                ("mobile".into(), "+436641234567".into()),
                ("other".into(), "+493012345679".into()),
            ]
        );
        assert_eq!(c.tags, vec!["Kunden", "Messe 2026"]);
        assert!(c.notes.unwrap().contains("Rückruf im März"));
        let d = crate::contact_details::get(&store, c.id).await.unwrap();
        assert_eq!(d.birthday.as_deref(), Some("1978-03-12"));
        assert_eq!(d.website.as_deref(), Some("http://www.contoso.example/"));
        assert!(d
            .photo
            .unwrap()
            .starts_with("data:image/jpeg;base64,AAECAwQF"));
        assert_eq!(d.addresses.len(), 1);
        let a = &d.addresses[0];
        assert_eq!(a.kind, "work");
        assert_eq!(a.street.as_deref(), Some("Friedrichstraße 123"));
        assert_eq!(
            (
                a.city.as_deref(),
                a.postal_code.as_deref(),
                a.country.as_deref()
            ),
            (Some("Berlin"), Some("10117"), Some("Deutschland"))
        );
    }

    #[tokio::test]
    async fn apple_google_and_rfc_values() {
        let store = Store::open_in_memory().await.unwrap();
        import(&store, "apple-3.0.vcf").await;
        import(&store, "google-3.0.vcf").await;
        import(&store, "rfc6350-4.0.vcf").await;
        let j = by_name(&store, "Johnny Appleseed").await;
        assert_eq!(j.company.as_ref().unwrap().name, "Apple Example Inc.");
        assert_eq!(
            j.emails.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            vec!["work", "home"]
        );
        assert_eq!(
            j.phones
                .iter()
                .map(|p| (p.kind.as_str(), p.number.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("mobile", "+16502530000"),
                ("work", "+14089961010"),
                ("other", "+16502530001")
            ]
        );
        // A company card: named after its organisation.
        let i = by_name(&store, "Initech").await;
        assert_eq!(i.emails[0].address, "info@initech.example");
        let g = by_name(&store, "Grace Hopper").await;
        assert_eq!(g.first_name.as_deref(), Some("Grace Brewster"));
        // Google's system group "myContacts" is not a tag (the pipeline drops it).
        assert_eq!(g.tags, vec!["Pioneers"]);
        assert_eq!(g.phones[0].kind, "mobile");
        // The domain is lower-cased (Email::parse), the local part kept.
        assert_eq!(g.emails[1].address, "Grace.Hopper@gmail.example");
        let s = by_name(&store, "Simon Perreault").await;
        assert_eq!(s.company.as_ref().unwrap().name, "Viagenie");
        assert_eq!(s.phones[0].number, "+14186569254");
        assert_eq!(s.phones[1].kind, "mobile");
        let details = |id| crate::contact_details::get(&store, id);
        let d = details(j.id).await.unwrap();
        assert_eq!(d.birthday.as_deref(), Some("--06-15"));
        assert_eq!(
            d.website.as_deref(),
            Some("https://www.apple.example/johnny")
        );
        assert_eq!(d.addresses[0].kind, "home");
        assert_eq!(d.addresses[0].city.as_deref(), Some("Cupertino"));
        assert!(d.photo.is_some());
        let d = details(g.id).await.unwrap();
        assert_eq!(d.birthday.as_deref(), Some("1906-12-09"));
        assert_eq!(d.website.as_deref(), Some("https://grace.example"));
        assert_eq!(d.addresses[0].kind, "work");
        let d = details(s.id).await.unwrap();
        assert_eq!(d.birthday.as_deref(), Some("--02-03"));
        assert_eq!(d.website.as_deref(), Some("http://nomis80.example"));
        assert_eq!(
            d.addresses[0].street.as_deref(),
            Some("Suite D2-630, 2875 Laurier")
        );
        let y = by_name(&store, "山田 太郎").await;
        assert_eq!(y.emails[0].address, "yamada@sample.example.jp");
        assert_eq!(y.title.as_deref(), Some("部長"));
        let d = details(y.id).await.unwrap();
        assert_eq!(d.birthday.as_deref(), Some("1980-01-01"));
        assert!(d.photo.unwrap().starts_with("data:image/png;base64,"));
    }

    #[tokio::test]
    async fn a_vcard_import_is_recorded_and_reverts_exactly() {
        let store = Store::open_in_memory().await.unwrap();
        import(&store, "google-3.0.vcf").await;
        let before = crate::export::json_string(&store).await.unwrap();
        // Apple's file adds contacts, and details to nobody existing.
        let report = import(&store, "apple-3.0.vcf").await;
        let id = report.import_id.unwrap();
        assert_ne!(crate::export::json_string(&store).await.unwrap(), before);
        crate::import::revert(&store, id).await.unwrap();
        let after = crate::export::json_string(&store).await.unwrap();
        // The import's own record stays (marked reverted); the data is back.
        let data = |text: &str| {
            let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
            for bookkeeping in ["import", "import_batch"] {
                v["entities"].as_object_mut().unwrap().remove(bookkeeping);
            }
            v
        };
        assert_eq!(data(&after), data(&before));
    }

    #[tokio::test]
    async fn malformed_cards_are_reported_and_the_good_ones_imported() {
        let store = Store::open_in_memory().await.unwrap();
        let report = import(&store, "malformed.vcf").await;
        assert_eq!(report.created, 3);
        assert_eq!(
            report.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![6, 15, 20, 24, 34]
        );
        assert!(report.errors[0].message.contains("END:VCARD"));
        assert_eq!(contacts::count(&store).await.unwrap(), 3);
    }
}
